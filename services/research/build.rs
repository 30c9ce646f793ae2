// sqlx's `migrate!` reads the migrations folder at compile time; a new file
// there must rebuild the crate, or the binary runs without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

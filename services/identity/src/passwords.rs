//! Passwords: argon2id hashes, checked off the async threads, and the same
//! cost for an unknown username as for a wrong password.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use masar_domain::Bilingual;
use masar_platform::grpc::{Problem, internal};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use tonic::{Code, Status};

/// Argon2id with its default cost, off the async threads: it is deliberately slow.
pub(crate) async fn hash_password(password: SecretString) -> Result<String, Status> {
    tokio::task::spawn_blocking(move || {
        let salt_bytes: [u8; 16] = rand::rng().random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(internal)?;
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(internal)
    })
    .await
    .map_err(internal)?
}

/// Checks a password against a stored hash; with no account, against a
/// stand-in hash, so an unknown username takes as long as a wrong password.
pub(crate) async fn password_matches(hash: Option<String>, password: SecretString) -> Result<bool, Status> {
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| STAND_IN_HASH.to_owned());
        let parsed = PasswordHash::new(&hash).map_err(internal)?;
        Ok(Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(internal)?
}

/// The argon2id hash of a random password nobody knows (same cost as real ones).
const STAND_IN_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3RhbmQtaW4tc2FsdA$Zp4qfQ3cG9VYQ5sC1v6dX2Q0u2kq8mQyq9xq3f2Jm1E";

pub(crate) fn wrong_credentials() -> Status {
    Problem::new(Bilingual::new("اسم المستخدم أو كلمة المرور غير صحيحة", "Wrong username or password"))
        .because("sign_in.wrong_credentials")
        .into_status(Code::Unauthenticated)
}

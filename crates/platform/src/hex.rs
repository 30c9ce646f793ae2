//! Keys in configuration are written as hex; one reader and writer for all of them.

use rand::Rng as _;
use secrecy::SecretString;
use std::fmt::Write as _;

/// Lower-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        write!(text, "{byte:02x}").expect("writing to a String cannot fail");
    }
    text
}

/// A new random 32-byte key, as the 64 hex characters configuration holds
/// (a sealing key, a token signing key).
pub fn random_key() -> SecretString {
    let bytes: [u8; 32] = rand::rng().random();
    SecretString::from(encode(&bytes))
}

/// Exactly 64 hex characters (surrounding white space ignored) as 32 bytes.
pub fn decode_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_round_trip_and_bad_text_is_refused() {
        let key = [0xab; 32];
        assert_eq!(super::decode_key(&super::encode(&key)), Some(key));
        assert_eq!(super::decode_key(&"ab".repeat(16)), None);
        assert_eq!(super::decode_key(&"zz".repeat(32)), None);
        assert_eq!(super::decode_key(&"+a".repeat(32)), None);
    }
}

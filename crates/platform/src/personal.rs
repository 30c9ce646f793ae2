//! Personal data at rest. National IDs, mobile numbers, names' match keys and
//! applicants' answers (Hayat's are health facts) are stored sealed, with a
//! key per association (XChaCha20-Poly1305, the association and the field as
//! associated data, so a value cannot be moved to another row's column of
//! another association or field unnoticed). Where a lookup needs equality,
//! a keyed blind index (HMAC-SHA256) stands beside the sealed value.
//!
//! Keys come in versions, newest first: new writes use the newest, every
//! version still listed opens and matches, and a background job re-seals
//! rows of older versions, so a rotation needs no downtime.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;

const NONCE_BYTES: usize = 24;
/// What every sealed value starts with: `pd:<version>:`.
const PREFIX: &str = "pd:";

/// A field of personal data, named in the sealed value's associated data and
/// in its blind index, so values of one field never match another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    NationalId,
    Mobile,
    NameKey,
    /// An applicant's answers to the policy's questions (JSON).
    Facts,
    /// An uploaded document's bytes (a medical report, an ID card).
    Document,
    /// Where an applicant lives (JSON: street, short national address, location).
    Address,
    /// Whom a researcher met at a visit (JSON: names, relations, telephone numbers).
    PeopleMet,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::NationalId => "national_id",
            Field::Mobile => "mobile",
            Field::NameKey => "name_key",
            Field::Facts => "facts",
            Field::Document => "document",
            Field::Address => "address",
            Field::PeopleMet => "people_met",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KeyError {
    #[error(
        "MASAR_DATA_KEYS lists versioned keys, newest first: '<version>:<64 hex characters>,…' (e.g. '2:…,1:…'); \
         `masar keys rotate` prints a new one"
    )]
    BadKeys,
    #[error("a sealed value is damaged, or was sealed with a key no longer listed")]
    CannotOpen,
    /// Sealed with a newer key than this process holds: a rotation reached
    /// the sealing service first, and this one's list follows.
    #[error("sealed with key version {0}, newer than any this process holds")]
    NotYetHeld(u32),
}

/// A message whose personal data needs a key this replica does not hold yet
/// waits for it; one that never opens is dead-lettered.
impl From<KeyError> for crate::messaging::HandlerError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::NotYetHeld(_) => Self::Retry(error.to_string()),
            KeyError::BadKeys | KeyError::CannotOpen => Self::Reject(error.to_string()),
        }
    }
}

/// A stored value that does not open is a value that does not decode.
impl From<KeyError> for crate::db::DbError {
    fn from(error: KeyError) -> Self {
        crate::db::DbError::Decode { column: "sealed value".into(), reason: error.to_string() }
    }
}

/// Where the keys come from: a KMS in production, or the local keys below.
/// Each association's keys are derived per version.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// The key versions that can open and match, newest (for new writes) first.
    fn versions(&self) -> Vec<u32>;
    /// The 256-bit key of `association` at `version` for `purpose` (`seal` or `index`).
    fn key(&self, association: &str, version: u32, purpose: &str) -> Option<[u8; 32]>;
}

/// Keys derived from versioned master keys (`MASAR_DATA_KEYS`): each
/// association's is HMAC-SHA256(master, purpose/association).
pub struct LocalKeys {
    masters: Vec<(u32, [u8; 32])>,
}

impl fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<_> = self.masters.iter().map(|(v, _)| v).collect();
        write!(f, "LocalKeys(versions {versions:?})")
    }
}

impl LocalKeys {
    /// `'<version>:<hex>,…'`, newest first.
    pub fn from_list(list: &SecretString) -> Result<Self, KeyError> {
        let mut masters = Vec::new();
        for entry in list.expose_secret().split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (version, key) = entry.split_once(':').ok_or(KeyError::BadKeys)?;
            let version: u32 = version.trim().parse().map_err(|_| KeyError::BadKeys)?;
            let key = crate::hex::decode_key(key.trim()).ok_or(KeyError::BadKeys)?;
            if masters.iter().any(|(v, _)| *v == version) {
                return Err(KeyError::BadKeys);
            }
            masters.push((version, key));
        }
        if masters.is_empty() { Err(KeyError::BadKeys) } else { Ok(Self { masters }) }
    }

    /// A new key of the next version, as the two lists a rotation goes
    /// through: first every replica learns to read it, then it becomes the newest.
    pub fn next(list: &SecretString) -> Result<NextKey, KeyError> {
        let keys = Self::from_list(list)?;
        let version = keys.masters.iter().map(|(v, _)| v).max().copied().unwrap_or(0) + 1;
        let fresh = format!("{version}:{}", crate::hex::random_key().expose_secret());
        let list = list.expose_secret().trim();
        Ok(NextKey {
            version,
            readable: SecretString::from(format!("{list},{fresh}")),
            current: SecretString::from(format!("{fresh},{list}")),
        })
    }

    /// A first list: version 1 alone.
    pub fn generate() -> SecretString {
        SecretString::from(format!("1:{}", crate::hex::random_key().expose_secret()))
    }
}

impl KeyStore for LocalKeys {
    fn versions(&self) -> Vec<u32> {
        self.masters.iter().map(|(v, _)| *v).collect()
    }

    fn key(&self, association: &str, version: u32, purpose: &str) -> Option<[u8; 32]> {
        let (_, master) = self.masters.iter().find(|(v, _)| *v == version)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes any key length");
        mac.update(format!("masar/{purpose}/{association}").as_bytes());
        Some(mac.finalize().into_bytes().into())
    }
}

/// A rotation's new key, in the two lists it is deployed with.
pub struct NextKey {
    pub version: u32,
    /// Step 1: the old newest key stays first (it still seals); the new one opens and matches.
    pub readable: SecretString,
    /// Step 2, once every replica runs step 1: the new key seals; the old still opens until re-sealed.
    pub current: SecretString,
}

/// Seals, opens and indexes personal data for every association.
#[derive(Clone, Debug)]
pub struct PersonalData {
    keys: Arc<dyn KeyStore>,
}

impl PersonalData {
    pub fn new(keys: Arc<dyn KeyStore>) -> Self {
        Self { keys }
    }

    /// Local keys from `MASAR_DATA_KEYS`' form of list.
    pub fn from_list(list: &SecretString) -> Result<Self, KeyError> {
        Ok(Self::new(Arc::new(LocalKeys::from_list(list)?)))
    }

    /// The version new writes use.
    pub fn current_version(&self) -> u32 {
        self.keys.versions().first().copied().unwrap_or_default()
    }

    fn cipher(&self, association: &str, version: u32) -> Option<XChaCha20Poly1305> {
        self.keys.key(association, version, "seal").map(|key| XChaCha20Poly1305::new(&key.into()))
    }

    fn aad(association: &str, field: Field) -> String {
        format!("{association}/{}", field.name())
    }

    /// `clear` sealed with the association's newest key: its version, and the nonce then the ciphertext.
    fn encrypt(&self, association: &str, field: Field, clear: &[u8]) -> (u32, Vec<u8>) {
        let version = self.current_version();
        let cipher = self.cipher(association, version).expect("the newest version has a key");
        let nonce: [u8; NONCE_BYTES] = rand::rng().random();
        let aad = Self::aad(association, field);
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: clear, aad: aad.as_bytes() })
            .expect("encrypting in memory cannot fail");
        (version, [nonce.as_slice(), &sealed].concat())
    }

    /// The clear bytes of a nonce and ciphertext sealed with `version`.
    fn decrypt(&self, association: &str, field: Field, version: u32, sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() <= NONCE_BYTES {
            return Err(KeyError::CannotOpen);
        }
        let cipher = match self.cipher(association, version) {
            Some(cipher) => cipher,
            None if version > self.current_version() => return Err(KeyError::NotYetHeld(version)),
            None => return Err(KeyError::CannotOpen),
        };
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let nonce = XNonce::from(<[u8; NONCE_BYTES]>::try_from(nonce).map_err(|_| KeyError::CannotOpen)?);
        let aad = Self::aad(association, field);
        cipher.decrypt(&nonce, Payload { msg: ciphertext, aad: aad.as_bytes() }).map_err(|_| KeyError::CannotOpen)
    }

    /// `clear`, sealed with the association's newest key: `pd:<version>:<base64>`.
    pub fn seal(&self, association: &str, field: Field, clear: &str) -> String {
        let (version, sealed) = self.encrypt(association, field, clear.as_bytes());
        format!("{PREFIX}{version}:{}", BASE64.encode(sealed))
    }

    /// Bytes sealed with the association's newest key: `pd:<version>:`, the nonce, the ciphertext.
    pub fn seal_bytes(&self, association: &str, field: Field, clear: &[u8]) -> Vec<u8> {
        let (version, sealed) = self.encrypt(association, field, clear);
        [format!("{PREFIX}{version}:").as_bytes(), &sealed].concat()
    }

    /// The clear bytes of `stored`; bytes stored before sealing began are returned as they are.
    pub fn open_bytes(&self, association: &str, field: Field, stored: &[u8]) -> Result<Vec<u8>, KeyError> {
        match split(stored) {
            Some((version, sealed)) => self.decrypt(association, field, version, sealed),
            None => Ok(stored.to_vec()),
        }
    }

    /// The clear value of `stored`; a value stored before sealing began (no
    /// `pd:` prefix) is returned as it is, until the re-seal job seals it.
    pub fn open(&self, association: &str, field: Field, stored: &str) -> Result<String, KeyError> {
        let Some((version, sealed)) = split(stored.as_bytes()) else {
            return Ok(stored.to_owned());
        };
        let bytes = BASE64.decode(sealed).map_err(|_| KeyError::CannotOpen)?;
        String::from_utf8(self.decrypt(association, field, version, &bytes)?).map_err(|_| KeyError::CannotOpen)
    }

    /// The SQL `LIKE` pattern of values sealed with the newest key: a re-seal
    /// job's `NOT LIKE` finds the rest (older keys, and values stored in clear).
    pub fn current_like_pattern(&self) -> String {
        format!("{PREFIX}{}:%", self.current_version())
    }

    /// True when `stored` is sealed with the newest key (nothing for the re-seal job to do).
    pub fn is_current(&self, stored: &str) -> bool {
        split(stored.as_bytes()).is_some_and(|(version, _)| version == self.current_version())
    }

    fn index_at(&self, association: &str, field: Field, normalized: &str, version: u32) -> Option<String> {
        let key = self.keys.key(association, version, "index")?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(field.name().as_bytes());
        mac.update(&[0]);
        mac.update(normalized.as_bytes());
        Some(format!("{version}.{}", crate::hex::encode(&mac.finalize().into_bytes()[..16])))
    }

    /// The blind index of a value (in its normalized form) under the newest key, to store.
    pub fn index(&self, association: &str, field: Field, normalized: &str) -> String {
        self.index_at(association, field, normalized, self.current_version()).expect("the newest version has a key")
    }

    /// The blind indexes a lookup matches: under the newest key and the one
    /// before it (rows the re-seal job has not reached yet). Two, always;
    /// the same twice with one key.
    pub fn lookup(&self, association: &str, field: Field, normalized: &str) -> [String; 2] {
        let versions = self.keys.versions();
        let current = self.index(association, field, normalized);
        let previous = versions
            .get(1)
            .and_then(|v| self.index_at(association, field, normalized, *v))
            .unwrap_or_else(|| current.clone());
        [current, previous]
    }
}

/// Runs a store's re-seal passes until one changes nothing, then looks again
/// every `every`; stops with `shutdown`. Each service holding personal data
/// runs one, so a rotation finishes without anyone starting it.
pub async fn keep_sealed<F, Fut>(
    reseal_batch: F,
    every: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<u64, crate::db::DbError>>,
{
    loop {
        match reseal_batch().await {
            Ok(0) => {}
            Ok(resealed) => {
                tracing::info!(resealed, "personal data re-sealed with the newest key");
                continue;
            }
            Err(error) => tracing::warn!(%error, "re-sealing personal data failed; trying again later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Rows of one table a re-seal pass changes, in one transaction.
pub const RESEAL_BATCH: i64 = 200;

/// How often a service looks for personal data sealed with an older key.
pub const RESEAL_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The version and the sealed part of a sealed value (text or bytes: the prefix is ASCII).
fn split(stored: &[u8]) -> Option<(u32, &[u8])> {
    let rest = stored.strip_prefix(PREFIX.as_bytes())?;
    let colon = rest.iter().position(|b| *b == b':')?;
    let version = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
    Some((version, &rest[colon + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &str) -> PersonalData {
        PersonalData::from_list(&SecretString::from(list.to_owned())).unwrap()
    }

    #[test]
    fn sealed_values_open_only_for_their_association_and_field() {
        let first = format!("1:{}", "ab".repeat(32));
        let personal = keys(&first);
        let sealed = personal.seal("hayat", Field::NationalId, "1000000149");
        assert!(sealed.starts_with("pd:1:") && !sealed.contains("1000000149"), "{sealed}");
        assert_ne!(sealed, personal.seal("hayat", Field::NationalId, "1000000149"), "a nonce per value");
        assert_eq!(personal.open("hayat", Field::NationalId, &sealed).unwrap(), "1000000149");
        assert_eq!(personal.open("nuzul", Field::NationalId, &sealed), Err(KeyError::CannotOpen));
        assert_eq!(personal.open("hayat", Field::Mobile, &sealed), Err(KeyError::CannotOpen));
        // Stored before sealing began: read as it is.
        assert_eq!(personal.open("hayat", Field::Mobile, "+966551234567").unwrap(), "+966551234567");
        assert!(!format!("{personal:?}").contains("abab"));
    }

    #[test]
    fn documents_are_sealed_as_bytes() {
        let personal = keys(&format!("1:{}", "ab".repeat(32)));
        let pdf = b"%PDF-1.7 a medical report";
        let sealed = personal.seal_bytes("hayat", Field::Document, pdf);
        assert!(sealed.starts_with(b"pd:1:") && !sealed.windows(14).any(|w| w == b"medical report"));
        assert_eq!(personal.open_bytes("hayat", Field::Document, &sealed).unwrap(), pdf);
        assert_eq!(personal.open_bytes("nuzul", Field::Document, &sealed), Err(KeyError::CannotOpen));
        assert_eq!(personal.open_bytes("hayat", Field::Document, pdf).unwrap(), pdf, "stored before sealing began");
    }

    #[test]
    fn blind_indexes_match_equal_values_per_association_and_field() {
        let personal = keys(&format!("1:{}", "ab".repeat(32)));
        let index = personal.index("hayat", Field::Mobile, "+966551234567");
        assert_eq!(index, personal.index("hayat", Field::Mobile, "+966551234567"));
        assert_ne!(index, personal.index("nuzul", Field::Mobile, "+966551234567"));
        assert_ne!(index, personal.index("hayat", Field::NationalId, "+966551234567"));
        assert!(!index.contains("551234567"));
        assert_eq!(personal.lookup("hayat", Field::Mobile, "+966551234567"), [index.clone(), index]);
    }

    #[test]
    fn a_rotation_seals_anew_while_the_previous_key_still_opens_and_matches() {
        let first = SecretString::from(format!("1:{}", "ab".repeat(32)));
        let before = PersonalData::from_list(&first).unwrap();
        let old_sealed = before.seal("nuzul", Field::Facts, "{\"x\":1}");
        let old_index = before.index("nuzul", Field::NationalId, "1000000149");
        let next = LocalKeys::next(&first).unwrap();
        // Step 1: every replica opens what the new key seals, while the old one still seals.
        let readable = PersonalData::from_list(&next.readable).unwrap();
        assert_eq!((next.version, readable.current_version()), (2, 1));
        let after = PersonalData::from_list(&next.current).unwrap();
        let sealed_after = after.seal("nuzul", Field::Facts, "{}");
        assert_eq!(readable.open("nuzul", Field::Facts, &sealed_after).unwrap(), "{}");
        assert!(readable.lookup("nuzul", Field::Mobile, "x").contains(&after.index("nuzul", Field::Mobile, "x")));
        assert_eq!(after.current_version(), 2);
        assert!(before.is_current(&old_sealed) && !after.is_current(&old_sealed));
        assert_eq!(after.open("nuzul", Field::Facts, &old_sealed).unwrap(), "{\"x\":1}");
        let new_sealed = after.seal("nuzul", Field::Facts, "{\"x\":1}");
        assert!(new_sealed.starts_with("pd:2:") && after.is_current(&new_sealed));
        assert_eq!(after.current_like_pattern(), "pd:2:%");
        let [current, previous] = after.lookup("nuzul", Field::NationalId, "1000000149");
        assert_eq!(previous, old_index);
        assert_ne!(current, old_index);
        // Once the old key is dropped, what it sealed no longer opens.
        let dropped = PersonalData::from_list(&SecretString::from(format!("2:{}", "cd".repeat(32)))).unwrap();
        assert_eq!(dropped.open("nuzul", Field::Facts, &old_sealed), Err(KeyError::CannotOpen));
        // A replica still on the old list waits for the new key rather than giving the value up.
        assert_eq!(before.open("nuzul", Field::Facts, &new_sealed), Err(KeyError::NotYetHeld(2)));
        assert!(matches!(
            crate::messaging::HandlerError::from(KeyError::NotYetHeld(2)),
            crate::messaging::HandlerError::Retry(_)
        ));
    }

    #[test]
    fn key_lists_are_versioned_hex_keys() {
        let key = "ab".repeat(32);
        let bad_lists = [String::new(), "ab".into(), "1:abc".into(), format!("x:{key}"), format!("1:{key},1:{key}")];
        for bad in bad_lists {
            assert_eq!(
                PersonalData::from_list(&SecretString::from(bad.clone())).unwrap_err(),
                KeyError::BadKeys,
                "{bad}"
            );
        }
        assert!(PersonalData::from_list(&LocalKeys::generate()).is_ok());
    }
}

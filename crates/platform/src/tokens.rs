//! Signed identities. Identity signs a short-lived access token (a JWT, EdDSA
//! over Ed25519) when someone signs in; the gateway forwards it in gRPC
//! metadata and every service verifies it with the public keys alone, so no
//! service trusts a caller because of where the call came from.
//!
//! Keys rotate without signing anyone out: the signer uses one key, and
//! verifiers accept every key listed, so the old key stays listed until the
//! tokens it signed have expired. Refresh tokens are not signed at all (they
//! are random and kept hashed by identity), so they outlive any rotation.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use masar_domain::ActorRole;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Who the token speaks for: what every service needs to check scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `staff:<username>` or `beneficiary:<username>`.
    pub sub: String,
    pub role: ActorRole,
    pub association: String,
    /// Set for branch-bound staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Set for beneficiaries: their entry in the association's registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary_id: Option<String>,
    /// Set for beneficiaries: the account signed in to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// For beneficiaries: the account's holder proved they are the person
    /// its national ID names; an unverified account sees only what it filed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub identity_verified: bool,
    /// The sign-in session the token was issued for.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    /// What a token will say of its subject; the signer sets its times, issuer and audience.
    pub fn of(
        sub: String,
        role: ActorRole,
        association: String,
        branch: Option<String>,
        beneficiary_id: Option<String>,
        sid: String,
    ) -> Self {
        Self {
            sub,
            role,
            association,
            branch,
            beneficiary_id,
            account_id: None,
            identity_verified: false,
            sid,
            iat: 0,
            exp: 0,
            iss: String::new(),
            aud: String::new(),
        }
    }

    /// The same claims, for a beneficiary's `account_id` and whether its holder is verified.
    pub fn for_account(self, account_id: String, identity_verified: bool) -> Self {
        Self { account_id: Some(account_id), identity_verified, ..self }
    }

    /// The username part of `sub`.
    pub fn username(&self) -> &str {
        self.sub.split_once(':').map_or(self.sub.as_str(), |(_, name)| name)
    }
}

const ISSUER: &str = "masar";
const AUDIENCE: &str = "masar-services";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("a token key is 64 hexadecimal characters (32 bytes); make a pair with `masar token-keys`")]
    BadKey,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not one Masar signed with a key it accepts")]
    Invalid,
    #[error("the token's session has ended")]
    Revoked,
}

/// Signs access tokens with one Ed25519 key. Only identity holds it.
#[derive(Clone)]
pub struct TokenSigner {
    key_id: String,
    key: Arc<EncodingKey>,
    public: [u8; 32],
    lifetime: Duration,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSigner({})", self.key_id)
    }
}

fn from_hex(text: &str) -> Result<[u8; 32], TokenError> {
    crate::hex::decode_key(text).ok_or(TokenError::BadKey)
}

/// A key's id in token headers: the start of its public key's SHA-256, so
/// the id cannot disagree with the key.
fn key_id(public: &[u8; 32]) -> String {
    crate::hex::encode(&Sha256::digest(public)[..8])
}

impl TokenSigner {
    /// A signing key written as 64 hex characters; tokens live `lifetime`.
    pub fn from_hex(secret: &SecretString, lifetime: Duration) -> Result<Self, TokenError> {
        let signing = SigningKey::from_bytes(&from_hex(secret.expose_secret())?);
        let der = signing.to_pkcs8_der().map_err(|_| TokenError::BadKey)?;
        let public = signing.verifying_key().to_bytes();
        Ok(Self { key_id: key_id(&public), key: Arc::new(EncodingKey::from_ed_der(der.as_bytes())), public, lifetime })
    }

    /// The public half, as 64 hex characters: what verifiers are given.
    pub fn verifying_key(&self) -> String {
        crate::hex::encode(&self.public)
    }

    /// Signs `claims` (their times and audience are set here); returns the
    /// token and when it expires.
    pub fn sign(&self, mut claims: Claims, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        let expires = now + self.lifetime;
        claims.iat = now.timestamp();
        claims.exp = expires.timestamp();
        claims.iss = ISSUER.to_owned();
        claims.aud = AUDIENCE.to_owned();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key_id.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key).expect("an Ed25519 key signs any claims");
        (token, expires)
    }
}

/// Checks access tokens against every accepted public key.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Arc<HashMap<String, DecodingKey>>,
    /// Built once: every RPC verifies a token.
    validation: Arc<Validation>,
    /// Sessions whose tokens are refused though signed and unexpired (a service's; the gateway has none).
    revocations: Option<crate::revocations::Revocations>,
    /// Tokens whose signature already verified: a front end sends the same token
    /// on every call for its lifetime, and checking an Ed25519 signature costs
    /// more than the rest of a call's routing.
    verified: Arc<VerifiedTokens>,
}

/// Claims of tokens seen valid, by the token's SHA-256. Expiry and revocation
/// are checked at every use; only the signature and the parse are remembered.
#[derive(Default)]
struct VerifiedTokens(std::sync::Mutex<HashMap<[u8; 32], Claims>>);

impl VerifiedTokens {
    /// Enough for every token live at once on a busy replica (tokens last minutes).
    const CAPACITY: usize = 10_000;

    fn get(&self, digest: &[u8; 32]) -> Option<Claims> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(digest).cloned()
    }

    fn remember(&self, digest: [u8; 32], claims: &Claims, now: i64) {
        let mut verified = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if verified.len() >= Self::CAPACITY {
            verified.retain(|_, claims| !expired(claims, now));
            if verified.len() >= Self::CAPACITY {
                verified.clear();
            }
        }
        verified.insert(digest, claims.clone());
    }
}

/// As `jsonwebtoken` judges `exp`, with the verifier's leeway.
fn expired(claims: &Claims, now: i64) -> bool {
    claims.exp.saturating_add(LEEWAY_SECONDS as i64) < now
}

/// Clock skew tolerated between identity and the verifiers.
const LEEWAY_SECONDS: u64 = 5;

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<_> = self.keys.keys().collect();
        ids.sort();
        write!(f, "TokenVerifier({ids:?})")
    }
}

impl TokenVerifier {
    /// Accepts tokens signed by any of `verifying_keys` (64 hex characters
    /// each, separated by commas or white space).
    pub fn from_hex_list(verifying_keys: &str) -> Result<Self, TokenError> {
        let mut keys = HashMap::new();
        for text in verifying_keys.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()) {
            let public = from_hex(text)?;
            ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| TokenError::BadKey)?;
            keys.insert(
                key_id(&public),
                DecodingKey::from_ed_components(&BASE64URL.encode(public)).map_err(|_| TokenError::BadKey)?,
            );
        }
        if keys.is_empty() {
            return Err(TokenError::BadKey);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Self { keys: Arc::new(keys), validation: Arc::new(validation), revocations: None, verified: Arc::default() })
    }

    /// This verifier, refusing also the tokens of sessions in `revocations`.
    pub fn with_revocations(self, revocations: crate::revocations::Revocations) -> Self {
        Self { revocations: Some(revocations), ..self }
    }

    /// The claims of a valid, unexpired token signed by an accepted key.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_at(token, Utc::now().timestamp())
    }

    /// As `verify`, judging a remembered token's expiry at `now` (seconds).
    fn verify_at(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let claims = match self.verified.get(&digest) {
            Some(claims) if expired(&claims, now) => return Err(TokenError::Expired),
            Some(claims) => claims,
            None => {
                let claims = self.verify_signed(token)?;
                self.verified.remember(digest, &claims, now);
                claims
            }
        };
        if self.revocations.as_ref().is_some_and(|revoked| revoked.is_revoked(&claims.sid)) {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }

    /// The claims of `token` once its signature, issuer, audience and expiry are checked.
    fn verify_signed(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let key = header.kid.as_deref().and_then(|kid| self.keys.get(kid)).ok_or(TokenError::Invalid)?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            }
        })
    }
}

/// What a process holds: the signer (a stand-in that nobody trusts, outside
/// identity) and the verifier.
#[derive(Clone, Debug)]
pub struct TokenKeys {
    pub signer: TokenSigner,
    pub verifier: TokenVerifier,
}

impl TokenKeys {
    /// Keys for a process that signs with `signing_key` and also accepts
    /// `other_verifying_keys` (the previous key, while rotating).
    pub fn signing(
        signing_key: &SecretString,
        other_verifying_keys: &str,
        lifetime: Duration,
    ) -> Result<Self, TokenError> {
        let signer = TokenSigner::from_hex(signing_key, lifetime)?;
        let verifier = TokenVerifier::from_hex_list(&format!("{},{other_verifying_keys}", signer.verifying_key()))?;
        Ok(Self { signer, verifier })
    }

    /// Keys for a process that only verifies: its signer is a random key no
    /// verifier lists, so nothing it could sign would be accepted.
    pub fn verifying(verifying_keys: &str) -> Result<Self, TokenError> {
        let signer = TokenSigner::from_hex(&crate::hex::random_key(), Duration::from_secs(60))?;
        Ok(Self { signer, verifier: TokenVerifier::from_hex_list(verifying_keys)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        let branch = Some("riyadh".into());
        Claims::of("staff:nuzul.pm".into(), ActorRole::ProjectManager, "nuzul".into(), branch, None, "s1".into())
    }

    fn signer() -> TokenSigner {
        TokenSigner::from_hex(&crate::hex::random_key(), Duration::from_secs(900)).unwrap()
    }

    #[test]
    fn a_signed_token_verifies_with_the_public_key_only() {
        let signer = signer();
        let verifier = TokenVerifier::from_hex_list(&signer.verifying_key()).unwrap();
        let (token, expires) = signer.sign(claims(), Utc::now());
        assert!(expires > Utc::now());
        let read = verifier.verify(&token).unwrap();
        assert_eq!(
            (read.username(), read.role, read.branch.as_deref()),
            ("nuzul.pm", ActorRole::ProjectManager, Some("riyadh"))
        );
    }

    #[test]
    fn other_keys_expired_and_altered_tokens_are_refused() {
        let signer = signer();
        let verifier = TokenVerifier::from_hex_list(&signer.verifying_key()).unwrap();
        let (foreign, _) = self::signer().sign(claims(), Utc::now());
        assert_eq!(verifier.verify(&foreign), Err(TokenError::Invalid));
        let (old, _) = signer.sign(claims(), Utc::now() - chrono::Duration::hours(1));
        assert_eq!(verifier.verify(&old), Err(TokenError::Expired));
        // Promote oneself to admin by editing the payload: the signature no longer matches.
        let (token, _) = signer.sign(claims(), Utc::now());
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: serde_json::Value = serde_json::from_slice(&BASE64URL.decode(parts[1]).unwrap()).unwrap();
        payload["role"] = "association_admin".into();
        let forged = format!("{}.{}.{}", parts[0], BASE64URL.encode(payload.to_string()), parts[2]);
        assert_eq!(verifier.verify(&forged), Err(TokenError::Invalid));
        assert_eq!(verifier.verify("not a token"), Err(TokenError::Invalid));
    }

    #[test]
    fn a_remembered_token_is_still_refused_once_expired_or_altered() {
        let signer = signer();
        let verifier = TokenVerifier::from_hex_list(&signer.verifying_key()).unwrap();
        let (token, _) = signer.sign(claims(), Utc::now());
        let read = verifier.verify(&token).unwrap();
        assert_eq!(verifier.verify(&token).unwrap(), read, "the second check reads what the first verified");
        let later = read.exp + LEEWAY_SECONDS as i64 + 1;
        assert_eq!(verifier.verify_at(&token, later), Err(TokenError::Expired));
        let mut altered = token.clone();
        altered.pop();
        assert_eq!(verifier.verify(&altered), Err(TokenError::Invalid));
    }

    #[test]
    fn during_a_rotation_both_keys_are_accepted() {
        let (old, new) = (signer(), signer());
        let verifier =
            TokenVerifier::from_hex_list(&format!("{}, {}", new.verifying_key(), old.verifying_key())).unwrap();
        assert!(verifier.verify(&old.sign(claims(), Utc::now()).0).is_ok());
        assert!(verifier.verify(&new.sign(claims(), Utc::now()).0).is_ok());
        let after = TokenVerifier::from_hex_list(&new.verifying_key()).unwrap();
        assert_eq!(after.verify(&old.sign(claims(), Utc::now()).0), Err(TokenError::Invalid));
    }

    #[test]
    fn keys_are_64_hex_characters() {
        assert_eq!(TokenVerifier::from_hex_list("abc").unwrap_err(), TokenError::BadKey);
        assert_eq!(TokenVerifier::from_hex_list("").unwrap_err(), TokenError::BadKey);
        assert!(TokenSigner::from_hex(&SecretString::from("zz".repeat(32)), Duration::from_secs(1)).is_err());
        let keys = TokenKeys::verifying(&signer().verifying_key()).unwrap();
        assert_eq!(keys.verifier.verify(&keys.signer.sign(claims(), Utc::now()).0), Err(TokenError::Invalid));
    }
}

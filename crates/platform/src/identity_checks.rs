//! External identity checks, Nafath-style: the provider asks the holder of a
//! national ID, in their national identity app, to confirm a request by
//! choosing the number Masar shows them. A confirmation proves the person
//! signed in to the account is the ID's holder.

use masar_domain::NationalId;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// An ask the provider has sent to the holder's app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// The provider's name for the ask, to poll it by.
    pub transaction: String,
    /// The number the holder must choose in the app (shown by Masar, never sent by SMS).
    pub number: u8,
}

/// Where an ask stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Waiting,
    /// The holder confirmed in the app.
    Confirmed,
    /// The holder turned it down (or chose another number).
    Refused,
    /// Nobody answered in time.
    Expired,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Waiting => "waiting",
            Answer::Confirmed => "confirmed",
            Answer::Refused => "refused",
            Answer::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Answer::Waiting, Answer::Confirmed, Answer::Refused, Answer::Expired].into_iter().find(|a| a.as_str() == text)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the identity provider failed: {0}")]
pub struct ProviderError(pub String);

/// An identity provider. A real one calls its API over HTTPS with the
/// association's credentials; the fake below stands in for it.
#[async_trait::async_trait]
pub trait IdentityProvider: Send + Sync + fmt::Debug {
    /// Asks the holder of `national_id` to confirm.
    async fn ask(&self, national_id: &NationalId) -> Result<Asked, ProviderError>;
    /// Where `asked` stands; the provider answers for the ID it was asked about.
    async fn answer(&self, asked: &Asked, national_id: &NationalId) -> Result<Answer, ProviderError>;
}

/// The identity provider a deployment uses, if any.
pub type Provider = Option<Arc<dyn IdentityProvider>>;

/// A stand-in for a real provider, for development and tests: every holder
/// confirms at once, except the national IDs it is told refuse. It keeps no
/// state, so any replica answers for an ask any other made.
#[derive(Debug, Default)]
pub struct FakeProvider {
    refusing: HashSet<String>,
}

impl FakeProvider {
    /// A fake whose holders of `refusing` (comma-separated national IDs) turn every ask down.
    pub fn refusing(refusing: &str) -> Self {
        Self { refusing: refusing.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect() }
    }
}

#[async_trait::async_trait]
impl IdentityProvider for FakeProvider {
    async fn ask(&self, _national_id: &NationalId) -> Result<Asked, ProviderError> {
        Ok(Asked { transaction: format!("fake-{}", uuid::Uuid::new_v4()), number: rand::random_range(10..100) })
    }

    async fn answer(&self, asked: &Asked, national_id: &NationalId) -> Result<Answer, ProviderError> {
        if !asked.transaction.starts_with("fake-") {
            return Err(ProviderError("not an ask of this provider".into()));
        }
        Ok(if self.refusing.contains(national_id.as_str()) { Answer::Refused } else { Answer::Confirmed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_fake_confirms_unless_told_the_holder_refuses() {
        let refusing = NationalId::parse("1000000149").unwrap();
        let confirming = NationalId::parse("1000000156").unwrap();
        let fake = FakeProvider::refusing(" 1000000149, ");
        let asked = fake.ask(&confirming).await.unwrap();
        assert!((10..100).contains(&asked.number));
        assert_eq!(fake.answer(&asked, &confirming).await.unwrap(), Answer::Confirmed);
        assert_eq!(fake.answer(&asked, &refusing).await.unwrap(), Answer::Refused);
        let foreign = Asked { transaction: "nafath-1".into(), number: 42 };
        assert!(fake.answer(&foreign, &confirming).await.is_err());
        assert_eq!(Answer::parse("expired"), Some(Answer::Expired));
    }
}

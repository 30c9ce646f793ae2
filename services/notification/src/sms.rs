//! SMS providers. Production adapters (Unifonic, Taqnyat, Msegat) implement
//! the same trait; the file provider is for development and the demo.

use masar_domain::SaudiMobile;
use std::io::Write;
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct SmsError {
    pub reason: String,
    /// A timeout or a 5xx is worth retrying; a rejected number is not.
    pub retryable: bool,
}

/// One message to hand to a provider.
#[derive(Debug, Clone, Copy)]
pub struct Sms<'a> {
    pub to: &'a SaudiMobile,
    pub text: &'a str,
    /// Masar's id of the message: the provider's idempotency key or client
    /// reference where it takes one, and what [`SmsProvider::lookup`] asks about.
    pub reference: Uuid,
}

/// What a provider knows of a message handed to it earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// It took the message; its own id for it.
    Accepted(String),
    /// It never took a message with this reference.
    NotFound,
    /// It cannot tell (no lookup by reference).
    Unknown,
}

#[async_trait::async_trait]
pub trait SmsProvider: Send + Sync + 'static {
    /// The provider's name in metrics and logs (`file`, `unifonic`, …).
    fn name(&self) -> &'static str;

    /// Sends the message; returns the provider's message id.
    async fn send(&self, sms: &Sms<'_>) -> Result<String, SmsError>;

    /// Whether the message with `reference` was taken already: asked before
    /// sending again after an attempt whose outcome was never recorded (a
    /// crash between the provider's answer and the commit), so that the
    /// beneficiary does not get it twice.
    async fn lookup(&self, reference: Uuid) -> Result<Lookup, SmsError> {
        let _ = reference;
        Ok(Lookup::Unknown)
    }
}

/// Appends each message to a file (one per line: time, reference, sender,
/// number, text) and logs it with the number masked.
pub struct FileSmsProvider {
    pub path: PathBuf,
    pub sender: String,
}

#[async_trait::async_trait]
impl SmsProvider for FileSmsProvider {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn send(&self, sms: &Sms<'_>) -> Result<String, SmsError> {
        let Sms { to, text, reference } = *sms;
        let id = reference.to_string();
        let line = format!(
            "{}\t{}\t{}\t{}\t{}\n",
            chrono::Utc::now().to_rfc3339(),
            id,
            self.sender,
            to.as_str(),
            text.replace('\n', " ")
        );
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::OpenOptions::new().create(true).append(true).open(&path)?.write_all(line.as_bytes())
        })
        .await
        .map_err(|e| SmsError { reason: e.to_string(), retryable: true })?
        .map_err(|e| SmsError { reason: format!("cannot write the SMS file: {e}"), retryable: true })?;
        // The text may carry a one-time password: the log says only that an SMS went.
        tracing::info!(to = %to.masked(), chars = text.chars().count(), "SMS written (dev file provider)");
        Ok(id)
    }

    async fn lookup(&self, reference: Uuid) -> Result<Lookup, SmsError> {
        let path = self.path.clone();
        let field = format!("\t{reference}\t");
        let found = tokio::task::spawn_blocking(move || match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text.lines().any(|line| line.contains(&field))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        })
        .await
        .map_err(|e| SmsError { reason: e.to_string(), retryable: true })?
        .map_err(|e| SmsError { reason: format!("cannot read the SMS file: {e}"), retryable: true })?;
        Ok(if found { Lookup::Accepted(reference.to_string()) } else { Lookup::NotFound })
    }
}

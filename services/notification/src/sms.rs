//! SMS providers. Production adapters (Unifonic, Taqnyat, Msegat) implement
//! the same trait; the file provider is for development and the demo.

use masar_domain::SaudiMobile;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct SmsError {
    pub reason: String,
    /// A timeout or a 5xx is worth retrying; a rejected number is not.
    pub retryable: bool,
}

#[async_trait::async_trait]
pub trait SmsProvider: Send + Sync + 'static {
    /// Sends `text` to `to`; returns the provider's message id.
    async fn send(&self, to: &SaudiMobile, text: &str) -> Result<String, SmsError>;
}

/// Appends each message to a file (one per line) and logs it with the number masked.
pub struct FileSmsProvider {
    pub path: PathBuf,
    pub sender: String,
}

#[async_trait::async_trait]
impl SmsProvider for FileSmsProvider {
    async fn send(&self, to: &SaudiMobile, text: &str) -> Result<String, SmsError> {
        let id = uuid::Uuid::new_v4().to_string();
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
}

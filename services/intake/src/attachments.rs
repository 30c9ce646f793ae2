//! Supporting documents: checked from their bytes, fingerprinted, kept in
//! object storage (a local folder embedded, an S3-compatible bucket in production).

use bytes::Bytes;
use masar_domain::Bilingual;
use object_store::ObjectStore;
use object_store::path::Path;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The largest document accepted (a phone photo or a scanned PDF fits).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// Types a supporting document may be, as the content says, not the name.
const ACCEPTED: &[(&str, &str)] =
    &[("application/pdf", "PDF"), ("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WebP")];

/// What the bytes turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub content_type: &'static str,
    pub sha256: String,
    pub size_bytes: u64,
}

/// Checks size and type from the content itself; an executable named ".pdf" is refused.
pub fn inspect(content: &[u8]) -> Result<Inspected, Bilingual> {
    if content.is_empty() {
        return Err(Bilingual::new("الملف فارغ", "The file is empty"));
    }
    if content.len() > MAX_DOCUMENT_BYTES {
        return Err(Bilingual::new(
            format!("حجم الملف أكبر من الحد المسموح ({} ميغابايت)", MAX_DOCUMENT_BYTES / (1024 * 1024)),
            format!("The file is larger than the limit ({} MB)", MAX_DOCUMENT_BYTES / (1024 * 1024)),
        ));
    }
    let detected = infer::get(content).map(|kind| kind.mime_type());
    let Some((content_type, _)) = ACCEPTED.iter().find(|(mime, _)| Some(*mime) == detected) else {
        let names: Vec<_> = ACCEPTED.iter().map(|(_, name)| *name).collect();
        return Err(Bilingual::new(
            format!("نوع الملف غير مقبول؛ المقبول: {}", names.join("، ")),
            format!("This kind of file is not accepted; send {}", names.join(", ")),
        ));
    };
    Ok(Inspected {
        content_type,
        sha256: masar_platform::hex::encode(&Sha256::digest(content)),
        size_bytes: content.len() as u64,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Files(#[from] object_store::Error),
    #[error(transparent)]
    Db(#[from] masar_platform::db::DbError),
}

/// Where document bytes live.
#[derive(Clone)]
pub struct DocumentStore {
    objects: Arc<dyn ObjectStore>,
}

impl DocumentStore {
    pub fn new(objects: Arc<dyn ObjectStore>) -> Self {
        Self { objects }
    }

    pub async fn put(&self, key: &str, content: Bytes) -> Result<(), object_store::Error> {
        self.objects.put(&Path::from(key), content.into()).await.map(|_| ())
    }

    /// Removes stored files that no document row names and that are older
    /// than `grace` (a crash between writing a file and committing its row;
    /// younger ones may be an upload in progress). Checks at most `batch`
    /// files a round; every replica may run it, a file removed twice is gone
    /// all the same. Returns how many were removed.
    pub async fn sweep_orphans(
        &self,
        store: &crate::store::IntakeStore,
        grace: std::time::Duration,
        batch: usize,
    ) -> Result<usize, SweepError> {
        use futures::TryStreamExt as _;
        let before = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        let mut listing = self.objects.list(None);
        let (mut checked, mut removed) = (0, 0);
        while checked < batch
            && let Some(object) = listing.try_next().await?
        {
            if object.last_modified >= before {
                continue;
            }
            checked += 1;
            if !store.names_document(object.location.as_ref()).await? {
                self.objects.delete(&object.location).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Best effort: used to undo a put whose database row was not stored.
    pub async fn delete(&self, key: &str) {
        if let Err(error) = self.objects.delete(&Path::from(key)).await {
            tracing::warn!(%error, "an unreferenced document could not be removed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R'];
    const ELF: &[u8] = &[0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3E, 0];
    const WINDOWS_EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00";

    #[test]
    fn accepts_documents_by_their_content() {
        let pdf = inspect(PDF).unwrap();
        assert_eq!(pdf.content_type, "application/pdf");
        assert_eq!(pdf.size_bytes, PDF.len() as u64);
        assert_eq!(pdf.sha256, format!("{:x}", Sha256::digest(PDF)));
        assert_eq!(inspect(PNG).unwrap().content_type, "image/png");
    }

    #[test]
    fn refuses_disguised_empty_and_oversize_files() {
        for executable in [ELF, WINDOWS_EXE] {
            let refused = inspect(executable).unwrap_err();
            assert!(refused.en.contains("not accepted") && refused.ar.contains("غير مقبول"), "{refused:?}");
        }
        assert!(inspect(b"just text, named scan.pdf").is_err());
        assert_eq!(inspect(b"").unwrap_err().en, "The file is empty");
        let mut big = PDF.to_vec();
        big.resize(MAX_DOCUMENT_BYTES + 1, b' ');
        assert!(inspect(&big).unwrap_err().en.contains("larger than the limit"));
    }
}

//! Supporting documents: checked from their bytes, fingerprinted, kept in
//! object storage (a local folder embedded, an S3-compatible bucket in production).

use bytes::Bytes;
use masar_domain::Bilingual;
use masar_platform::personal::{Field, PersonalData};
use object_store::ObjectStore;
use object_store::path::Path;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The largest document accepted (a phone photo or a scanned PDF fits).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

use masar_domain::input::DOCUMENT_TYPES as ACCEPTED;

/// What the bytes turned out to be, and the bytes to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    pub content_type: &'static str,
    pub sha256: String,
    pub size_bytes: u64,
    /// What is stored: the upload itself (a PDF), or the image decoded and
    /// encoded again, without its metadata (a phone's location) or anything
    /// hidden after its pixels.
    pub content: Bytes,
}

/// The most pixels an image may have once decoded (a 48-megapixel photo):
/// a small file that decodes to gigabytes is refused, not decoded.
const MAX_IMAGE_PIXELS: u64 = 48_000_000;

/// Names in a PDF that make it act when opened: scripts, launched programs, embedded files, forms that run.
const ACTIVE_PDF_CONTENT: &[&[u8]] =
    &[b"JS", b"JavaScript", b"Launch", b"EmbeddedFiles", b"EmbeddedFile", b"RichMedia", b"XFA"];

fn refused_as(kind: &str) -> Bilingual {
    Bilingual::new(format!("تعذرت قراءة الملف كـ {kind} صالح"), format!("The file cannot be read as a valid {kind}"))
}

/// Checks size and type from the content itself (an executable named ".pdf"
/// is refused), then the content's structure: a PDF must parse, end where it
/// says and hold nothing that acts when opened; an image must decode, and is
/// kept as encoded again.
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
    let Some((content_type, name)) = ACCEPTED.iter().find(|(mime, _)| Some(*mime) == detected) else {
        let names: Vec<_> = ACCEPTED.iter().map(|(_, name)| *name).collect();
        return Err(Bilingual::new(
            format!("نوع الملف غير مقبول؛ المقبول: {}", names.join("، ")),
            format!("This kind of file is not accepted; send {}", names.join(", ")),
        ));
    };
    let (content_type, kept) = match *content_type {
        "application/pdf" => (*content_type, checked_pdf(content)?),
        image => reencoded_image(content, image).ok_or_else(|| refused_as(name))?,
    };
    Ok(Inspected {
        content_type,
        sha256: masar_platform::hex::encode(&Sha256::digest(&kept)),
        size_bytes: kept.len() as u64,
        content: kept,
    })
}

/// A PDF that parses, with nothing after its end (an HTML page or a script
/// glued on) and nothing that acts when it is opened.
fn checked_pdf(content: &[u8]) -> Result<Bytes, Bilingual> {
    let end = content.windows(5).rposition(|w| w == b"%%EOF").ok_or_else(|| refused_as("PDF"))?;
    if content[end + 5..].iter().any(|b| !b.is_ascii_whitespace()) {
        return Err(Bilingual::new(
            "يحتوي الملف على بيانات بعد نهاية مستند PDF",
            "The file holds data after the end of the PDF document",
        ));
    }
    let document = lopdf::Document::load_mem(content).map_err(|_| refused_as("PDF"))?;
    document.catalog().map_err(|_| refused_as("PDF"))?;
    let acts = document.objects.values().any(|object| acts_when_opened(object, 0));
    if acts {
        return Err(Bilingual::new(
            "يحتوي ملف PDF على محتوى نشط (برامج نصية أو ملفات مضمّنة) غير مسموح",
            "The PDF holds active content (scripts or embedded files), which is not allowed",
        ));
    }
    Ok(Bytes::copy_from_slice(content))
}

/// Whether `object`, or anything nested in it, names active content.
fn acts_when_opened(object: &lopdf::Object, depth: usize) -> bool {
    use lopdf::Object;
    let active = |name: &[u8]| ACTIVE_PDF_CONTENT.contains(&name);
    // Deeper than any real document nests: refused rather than walked for ever.
    if depth > 32 {
        return true;
    }
    match object {
        Object::Name(name) => active(name),
        Object::Array(items) => items.iter().any(|item| acts_when_opened(item, depth + 1)),
        Object::Dictionary(dictionary) => {
            dictionary.iter().any(|(key, value)| active(key) || acts_when_opened(value, depth + 1))
        }
        Object::Stream(stream) => {
            stream.dict.iter().any(|(key, value)| active(key) || acts_when_opened(value, depth + 1))
        }
        _ => false,
    }
}

/// The image decoded and encoded again (PNG stays PNG, JPEG stays JPEG,
/// WebP becomes PNG); `None` when it does not decode within the bounds.
fn reencoded_image(content: &[u8], mime: &str) -> Option<(&'static str, Bytes)> {
    use image::ImageFormat;
    let format = match mime {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/webp" => ImageFormat::WebP,
        _ => return None,
    };
    // Decoding stops at the allocation bound: a small file that decodes to gigabytes fails here.
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(content), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 4);
    reader.limits(limits);
    let decoded = reader.decode().ok()?;
    let mut encoded = std::io::Cursor::new(Vec::new());
    let kept = match format {
        ImageFormat::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, 90);
            decoded.to_rgb8().write_with_encoder(encoder).ok()?;
            "image/jpeg"
        }
        _ => {
            decoded.write_to(&mut encoded, ImageFormat::Png).ok()?;
            "image/png"
        }
    };
    Some((kept, Bytes::from(encoded.into_inner())))
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Files(#[from] object_store::Error),
    #[error(transparent)]
    Db(#[from] masar_platform::db::DbError),
}

/// Where document bytes live: sealed with their association's key (a
/// medical report, an ID card), so the bucket or folder holds none in clear.
#[derive(Clone)]
pub struct DocumentStore {
    objects: Arc<dyn ObjectStore>,
    personal: PersonalData,
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Files(#[from] object_store::Error),
    #[error("a stored document does not open: {0}")]
    Sealing(#[from] masar_platform::personal::KeyError),
}

impl DocumentStore {
    pub fn new(objects: Arc<dyn ObjectStore>, personal: PersonalData) -> Self {
        Self { objects, personal }
    }

    pub async fn put(&self, association: &str, key: &str, content: &[u8]) -> Result<(), DocumentError> {
        let sealed = self.personal.seal_bytes(association, Field::Document, content);
        Ok(self.objects.put(&Path::from(key), Bytes::from(sealed).into()).await.map(|_| ())?)
    }

    /// A document's bytes, opened.
    pub async fn get(&self, association: &str, key: &str) -> Result<Vec<u8>, DocumentError> {
        let stored = self.objects.get(&Path::from(key)).await?.bytes().await?;
        Ok(self.personal.open_bytes(association, Field::Document, &stored)?)
    }

    /// Removes stored files that no document row names and that are older
    /// than `grace` (a crash between writing a file and committing its row;
    /// younger ones may be an upload in progress). Checks at most `batch`
    /// files a round; every replica may run it, a file removed twice is gone
    /// all the same. Returns how many were removed.
    pub async fn sweep_orphans(
        &self,
        store: &crate::requests::store::IntakeStore,
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

    const ELF: &[u8] = &[0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3E, 0];
    const WINDOWS_EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00";

    /// A one-page PDF, with `extra` in its catalog.
    fn pdf(extra: Option<(&str, lopdf::Object)>) -> Vec<u8> {
        use lopdf::{Document, Object, dictionary};
        let mut document = Document::with_version("1.7");
        let pages = document.new_object_id();
        let page = document.add_object(dictionary! { "Type" => "Page", "Parent" => pages, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()] });
        document.objects.insert(
            pages,
            Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 }),
        );
        let mut catalog = dictionary! { "Type" => "Catalog", "Pages" => pages };
        if let Some((key, value)) = extra {
            catalog.set(key, value);
        }
        let catalog = document.add_object(catalog);
        document.trailer.set("Root", catalog);
        let mut bytes = Vec::new();
        document.save_to(&mut bytes).unwrap();
        bytes
    }

    fn image(format: image::ImageFormat) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(4, 3, image::Rgb([200, 30, 30])).write_to(&mut bytes, format).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn accepts_documents_by_their_content_and_structure() {
        let bytes = pdf(None);
        let kept = inspect(&bytes).unwrap();
        assert_eq!((kept.content_type, kept.size_bytes), ("application/pdf", bytes.len() as u64));
        assert_eq!(kept.sha256, format!("{:x}", Sha256::digest(&bytes)));
        assert_eq!(kept.content, bytes, "a PDF is kept as sent");
        for format in [image::ImageFormat::Png, image::ImageFormat::Jpeg] {
            let kept = inspect(&image(format)).unwrap();
            assert_eq!(kept.content_type, format.to_mime_type());
            let decoded = image::load_from_memory(&kept.content).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (4, 3));
        }
    }

    #[test]
    fn images_are_kept_as_encoded_again_without_what_rode_along() {
        let mut png = image(image::ImageFormat::Png);
        png.extend_from_slice(b"<html><script>alert(1)</script></html>");
        let kept = inspect(&png).unwrap();
        assert!(!kept.content.windows(7).any(|w| w == b"<script"), "the tail is gone");
        let mut broken = image(image::ImageFormat::Png);
        broken.truncate(30);
        assert!(inspect(&broken).unwrap_err().en.contains("cannot be read as a valid PNG"));
    }

    #[test]
    fn refuses_pdfs_that_do_not_parse_carry_more_or_act() {
        let html = b"%PDF-1.7\n<html><body><script>fetch('/v1/requests')</script></body></html>\n%%EOF\n";
        assert!(inspect(html).unwrap_err().en.contains("cannot be read as a valid PDF"));
        let mut glued = pdf(None);
        glued.extend_from_slice(b"<html><script>alert(1)</script></html>");
        assert!(inspect(&glued).unwrap_err().en.contains("after the end"));
        let script = lopdf::Object::Dictionary(
            lopdf::dictionary! { "S" => "JavaScript", "JS" => lopdf::Object::string_literal("app.alert(1)") },
        );
        assert!(inspect(&pdf(Some(("OpenAction", script)))).unwrap_err().en.contains("active content"));
    }

    #[test]
    fn refuses_disguised_empty_and_oversize_files() {
        for executable in [ELF, WINDOWS_EXE] {
            let refused = inspect(executable).unwrap_err();
            assert!(refused.en.contains("not accepted") && refused.ar.contains("غير مقبول"), "{refused:?}");
        }
        assert!(inspect(b"just text, named scan.pdf").is_err());
        assert_eq!(inspect(b"").unwrap_err().en, "The file is empty");
        let mut big = pdf(None);
        big.resize(MAX_DOCUMENT_BYTES + 1, b' ');
        assert!(inspect(&big).unwrap_err().en.contains("larger than the limit"));
    }
}

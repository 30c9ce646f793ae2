//! `Accept-Language`: Arabic or English. Replies keep both languages where
//! they carry text for people; the chosen one also answers as
//! `Content-Language`, as every error's `text`, and as a new beneficiary's
//! SMS language when a form leaves it out.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use masar_domain::Language;

/// The first of Arabic or English the header ranks highest (Arabic when it names neither).
pub(crate) fn negotiated(accept_language: Option<&str>) -> Language {
    let mut ranges: Vec<(&str, f32)> = accept_language
        .unwrap_or_default()
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let tag = parts.next()?.trim();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((tag, quality))
        })
        .collect();
    // Stable: equal qualities keep the header's order.
    ranges.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranges
        .into_iter()
        .filter(|(_, quality)| *quality > 0.0)
        .find_map(|(tag, _)| {
            let primary = tag.split('-').next().unwrap_or_default().to_ascii_lowercase();
            matches!(primary.as_str(), "ar" | "en").then(|| Language::from_tag(&primary))
        })
        .unwrap_or_default()
}

/// Negotiates the language for the handlers (as a request extension) and
/// for the reply.
pub(crate) async fn speak(mut request: Request, next: Next) -> Response {
    let header = request.headers().get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let language = negotiated(header);
    request.extensions_mut().insert(language);
    let mut response = with_text(next.run(request).await, language).await;
    response.headers_mut().insert(http::header::CONTENT_LANGUAGE, http::HeaderValue::from_static(language.tag()));
    response
}

/// The largest error body the gateway reads back (errors are a few hundred bytes).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Adds `text` to an error body, whichever layer or service wrote it (or a replay of it).
async fn with_text(response: Response, language: Language) -> Response {
    if response.status().as_u16() < 400 || !crate::routes::is_json(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY_LIMIT).await else {
        tracing::warn!(status = %parts.status, "an error body too large to read back");
        parts.headers.remove(http::header::CONTENT_LENGTH);
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let mut error: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let text = error["message"][language.tag()].as_str().map(str::to_owned);
    let body = match (text, error.as_object_mut()) {
        (Some(text), Some(fields)) => {
            fields.insert("text".into(), text.into());
            parts.headers.remove(http::header::CONTENT_LENGTH);
            axum::body::Body::from(error.to_string())
        }
        _ => axum::body::Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_ranked_of_arabic_and_english_wins() {
        assert_eq!(negotiated(None), Language::Arabic);
        assert_eq!(negotiated(Some("en")), Language::English);
        assert_eq!(negotiated(Some("en-US,en;q=0.9")), Language::English);
        assert_eq!(negotiated(Some("fr-FR, en;q=0.8, ar;q=0.9")), Language::Arabic);
        assert_eq!(negotiated(Some("fr, en;q=0.5")), Language::English);
        assert_eq!(negotiated(Some("ar;q=0, en;q=0.1")), Language::English);
        assert_eq!(negotiated(Some("de, *")), Language::Arabic);
        assert_eq!(negotiated(Some("english")), Language::Arabic, "a tag, not a word");
    }
}

//! A version on staff updates, so two staff members cannot overwrite each
//! other. Every record a staff action changes (a case in verification, a
//! research assignment, an agenda item, an inquiry) carries a version that
//! each change raises. Answers send it as `ETag`, lists as each item's
//! `version`; an action sent with `If-Match` is refused with `412` when the
//! record has changed since. Without `If-Match` (or with `*`) the action is
//! unconditional, though the services still refuse a concurrent one.

use crate::ApiError;
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use http::header::{ETAG, IF_MATCH};
use masar_domain::Bilingual;
use serde::Serialize;

/// The version a staff action is conditioned on: `If-Match`'s entity tag,
/// or 0 (none, or `*`) for no condition.
pub(crate) struct IfMatch(pub u64);

/// An entity tag as the gateway writes it (`"7"`), weak or strong; `*` is 0.
fn version_in(value: &str) -> Option<u64> {
    let value = value.trim();
    if value == "*" {
        return Some(0);
    }
    let tag = value.strip_prefix("W/").unwrap_or(value);
    tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok().filter(|version| *version > 0)
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IF_MATCH) else {
            return Ok(IfMatch(0));
        };
        value.to_str().ok().and_then(version_in).map(IfMatch).ok_or_else(|| {
            ApiError::bad_request(Bilingual::new(
                "قيمة If-Match غير صحيحة؛ أرسل قيمة ETag كما وصلتك",
                "If-Match is not valid; send the ETag as you received it",
            ))
        })
    }
}

impl IfMatch {
    /// The service's answer about a versioned record; a refusal of an
    /// action made conditional answers `412` when the record changed since.
    #[allow(clippy::result_large_err)] // the stable error body, as every handler returns it
    pub(crate) fn versioned<T, J: From<T>>(
        &self,
        answer: Result<tonic::Response<T>, tonic::Status>,
        version: fn(&T) -> u64,
    ) -> VersionedReply<J> {
        match answer {
            Err(status) if self.0 != 0 => Err(ApiError::conditional(status)),
            answer => versioned(answer, version),
        }
    }
}

/// The service's answer about a versioned record, with its `version` as the `ETag`.
#[allow(clippy::result_large_err)] // the stable error body, as every handler returns it
pub(crate) fn versioned<T, J: From<T>>(
    answer: Result<tonic::Response<T>, tonic::Status>,
    version: fn(&T) -> u64,
) -> VersionedReply<J> {
    let record = answer?.into_inner();
    Ok(Versioned(version(&record), record.into()))
}

/// Documents the header on each operation whose handler reads it, so the
/// OpenAPI document cannot leave one out.
impl utoipa::IntoParams for IfMatch {
    fn into_params(
        _parameter_in: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![crate::docs::header(
            "If-Match",
            "The record's `ETag` (or list item's `version`) as you read it: if someone changed it since, \
             the action is refused with `412` instead of overwriting their change. The answer's `ETag` \
             is the new version.",
        )]
    }
}

/// A JSON answer about a versioned record, its version sent as `ETag`.
pub(crate) struct Versioned<T>(pub u64, pub T);

/// A versioned JSON answer, or the stable error body.
pub(crate) type VersionedReply<T> = Result<Versioned<T>, ApiError>;

impl<T: Serialize> IntoResponse for Versioned<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.1).into_response();
        if let Ok(tag) = HeaderValue::from_str(&format!("\"{}\"", self.0)) {
            response.headers_mut().insert(ETAG, tag);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tags_are_read_as_the_gateway_writes_them() {
        assert_eq!(version_in("\"7\""), Some(7));
        assert_eq!(version_in(" W/\"12\" "), Some(12));
        assert_eq!(version_in("*"), Some(0));
        for refused in ["7", "\"\"", "\"0\"", "\"seven\"", "\"1\", \"2\"", "W/7"] {
            assert_eq!(version_in(refused), None, "{refused}");
        }
    }
}

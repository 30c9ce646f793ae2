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
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http::header::{ETAG, IF_MATCH};
use masar_domain::Bilingual;
use serde::Serialize;
use tonic::Code;

/// The staff actions that take `If-Match` (for the OpenAPI document).
pub(crate) const CONDITIONAL: [&str; 10] = [
    "/v1/requests/{id}/verification/documents/{document}",
    "/v1/requests/{id}/verification/accept",
    "/v1/requests/{id}/verification/return",
    "/v1/requests/{id}/verification/ineligible",
    "/v1/requests/{id}/research/visits",
    "/v1/requests/{id}/research/recommendation",
    "/v1/requests/{id}/committee/votes",
    "/v1/requests/{id}/committee/decision",
    "/v1/inquiries/{id}/refer",
    "/v1/inquiries/{id}/answer",
];

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
    /// The service's answer about a versioned record, with its `version` as
    /// the `ETag`; or its refusal (see `refusal`).
    #[allow(clippy::result_large_err)] // the stable error body, as every handler returns it
    pub(crate) fn versioned<T, J: From<T>>(
        &self,
        answer: Result<tonic::Response<T>, tonic::Status>,
        version: fn(&T) -> u64,
    ) -> VersionedReply<J> {
        let record = answer.map_err(|status| self.refusal(status))?.into_inner();
        Ok(Versioned(version(&record), record.into()))
    }

    /// The service's refusal. A record changed since the caller's reading
    /// answers `412` when they sent `If-Match`, as HTTP has it.
    pub(crate) fn refusal(&self, status: tonic::Status) -> ApiError {
        let stale = self.0 != 0 && status.code() == Code::Aborted;
        let error = ApiError::from(status);
        if stale {
            ApiError { status: StatusCode::PRECONDITION_FAILED, code: "precondition_failed", ..error }
        } else {
            error
        }
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

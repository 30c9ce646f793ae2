//! The API's documentation: the OpenAPI 3.1 document at `/openapi.json`,
//! generated from the routes' own types, and Swagger UI at `/docs`, served
//! from assets compiled into the binary (nothing is fetched from elsewhere).

use crate::Services;
use crate::error::ApiError;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Masar",
        description = "The beneficiary journey of Saudi nonprofit associations: requests, documents, \
            verification, research, the committee's decision, delivery, the beneficiary's rating, inquiries and SMS.\n\n\
            Sign in with `POST /v1/sessions` and send the access token as `Authorization: Bearer …`. \
            Every error answers the same body: a stable `code`, a `message` in Arabic and English, \
            and `fields` naming what to correct. Every answer carries an `X-Request-Id` (the caller's own, \
            if it sent one), which the services' audit trails record.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "sessions", description = "Signing in and out, for beneficiaries and staff"),
        (name = "accounts", description = "Beneficiary accounts and the registry"),
        (name = "requests", description = "A request from draft to decision, on the beneficiary's side and at reception"),
        (name = "inquiries", description = "Questions from any channel, referred and answered"),
        (name = "verification", description = "The project manager's checks of documents and eligibility"),
        (name = "research", description = "Social researchers' visits and recommendations"),
        (name = "committee", description = "The research committee's meetings, votes, decisions and minutes"),
        (name = "satisfaction", description = "The service's delivery and the beneficiary's rating of it"),
        (name = "supervision", description = "Cases past their stage's target on the working calendar, and supervisors' alerts"),
        (name = "audit", description = "Who did what to a case, when and through which channel"),
    ),
    components(schemas(ApiError)),
)]
struct Described;

/// The document's fixed parts; the routes add their operations to it.
pub(crate) fn described() -> utoipa::openapi::OpenApi {
    let mut document = Described::openapi();
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("The access token from signing in"))
                .build(),
        ),
    );
    components.responses.insert(
        PROBLEM.into(),
        RefOr::T(
            ResponseBuilder::new()
                .description("Refused or failed: the stable error body")
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ApiError"))).build(),
                )
                .build(),
        ),
    );
    // Signed in, unless an operation is open to anonymous callers (`finish` marks those).
    document.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    document
}

const BEARER: &str = "bearer";
const PROBLEM: &str = "Problem";

/// What the gateway adds to every operation: the stable error body for any
/// 4xx or 5xx, `Accept-Language`, `Idempotency-Key` where calls are kept,
/// and a description of each success by its status where it has none.
/// (`If-Match` is documented by its extractor, `versions::IfMatch`.)
pub(crate) fn finish(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for (path, item) in document.paths.paths.iter_mut() {
        if let Some(post) = item.post.as_mut()
            && !crate::idempotency::NEVER_KEPT.contains(&path.as_str())
        {
            post.parameters.get_or_insert_with(Vec::new).push(RefOr::T(header(
                crate::idempotency::IDEMPOTENCY_KEY,
                "A key of your own (e.g. a UUID) for this call: a retry with the same key gets the first \
                 call's answer, marked `Idempotent-Replayed: true`, instead of acting twice. Kept 24 hours.",
            )));
        }
        let operations = [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
        ];
        for (method, operation) in operations.into_iter().filter_map(|(m, o)| Some((m, o.as_mut()?))) {
            if !crate::routes::needs_sign_in(method, path) {
                // Signed in or anonymous: the empty requirement is "none".
                operation.security =
                    Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new()), SecurityRequirement::default()]);
            }
            operation.parameters.get_or_insert_with(Vec::new).push(RefOr::T(header(
                "Accept-Language",
                "`ar` or `en`: the language of errors' `text` (Arabic by default).",
            )));
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    let reason = status.parse().ok().and_then(|code| http::StatusCode::from_u16(code).ok());
                    response.description = reason.and_then(|r| r.canonical_reason()).unwrap_or_default().to_owned();
                }
            }
            for class in ["4XX", "5XX"] {
                operation.responses.responses.insert(class.into(), RefOr::Ref(Ref::from_response_name(PROBLEM)));
            }
        }
    }
    document
}

pub(crate) fn header(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// `/openapi.json` and `/docs`.
pub(crate) fn routes(document: &utoipa::openapi::OpenApi) -> Router<Arc<Services>> {
    let json = axum::body::Bytes::from(document.to_json().expect("the OpenAPI document serializes"));
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let json = json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], json) }
            }),
        )
        .route("/docs", get(|| async { Redirect::permanent("/docs/") }))
        .route("/docs/", get(|| asset("text/html; charset=utf-8", include_str!("../assets/docs/index.html"))))
        .route("/docs/docs.js", get(|| asset("text/javascript", include_str!("../assets/docs/docs.js"))))
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| asset("text/javascript", include_str!("../assets/swagger-ui/swagger-ui-bundle.js"))),
        )
        .route("/docs/swagger-ui.css", get(|| asset("text/css", include_str!("../assets/swagger-ui/swagger-ui.css"))))
        .route(
            "/docs/favicon-32x32.png",
            get(|| async {
                ([(header::CONTENT_TYPE, "image/png")], include_bytes!("../assets/swagger-ui/favicon-32x32.png"))
            }),
        )
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
}

//! The HTTP API: one module per resource, merged here.

pub mod actions;
pub mod assignments;
pub mod audits;
pub mod auth;
pub mod catalog;
pub mod compliance;
pub mod ops;
pub mod photos;
pub mod regions;
pub mod stores;
pub mod sync;
pub mod users;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "storecheck",
        description = "Mystery-shopper audit programmes: checklists for auditor phones, offline sync, review and per-store compliance.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&BearerAuth),
    components(schemas(storecheck_shared::ErrorBody)),
    tags(
        (name = "auth", description = "Sign in, token refresh, sign out"),
        (name = "organisation", description = "Regions, stores and users (head office)"),
        (name = "catalog", description = "Dimensions, standards, checklist drafts and published versions"),
        (name = "sync", description = "Auditor phones: pull what changed, push audits made offline"),
        (name = "audits", description = "Audits as received, scored, with their history"),
        (name = "review", description = "Corrective actions opened by approved audits, followed until a later audit verifies them"),
        (name = "compliance", description = "Per-store, per-region and per-standard compliance from approved audits; the quarter's downloads; the settings behind them"),
        (name = "assignments", description = "Which auditor visits which store, with which checklist version, when"),
        (name = "operations", description = "Health, readiness, metrics, the API description"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The access_token from /api/v1/auth/login or /api/v1/auth/refresh",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every API route with its OpenAPI description.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(regions::router())
        .merge(stores::router())
        .merge(users::router())
        .merge(catalog::router())
        .merge(assignments::router())
        .merge(sync::router())
        .merge(photos::router())
        .merge(audits::router())
        .merge(actions::router())
        .merge(compliance::router())
        .merge(ops::router())
}

/// The OpenAPI description the server serves at `/openapi.yaml`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api().into_openapi();
    add_common_refusals(&mut doc);
    doc
}

/// The refusals every operation of a kind answers, written once here
/// instead of in each handler's list: a path id that is not a UUID (400),
/// and for JSON bodies an unreadable one (400), a wrong content type (415)
/// and one over the size limit (413).
fn add_common_refusals(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{RefOr, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "ErrorBody",
                        ))))
                        .build(),
                )
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            let has_path_id = op
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path));
            let json_body = op.request_body.as_ref().is_some_and(
                |b| matches!(b, RefOr::T(b) if b.content.contains_key("application/json")),
            );
            let responses = &mut op.responses.responses;
            if has_path_id {
                responses
                    .entry("400".into())
                    .or_insert_with(|| error("An id in the path is not a UUID"));
            }
            if json_body {
                responses
                    .entry("400".into())
                    .or_insert_with(|| error("The body is not readable JSON of the right shape"));
                responses
                    .entry("413".into())
                    .or_insert_with(|| error("The body is larger than the server accepts"));
                responses
                    .entry("415".into())
                    .or_insert_with(|| error("The body is not sent as application/json"));
            }
        }
    }
}

/// `openapi()` as YAML: exactly the checked-in `openapi.yaml`.
pub fn openapi_yaml() -> anyhow::Result<&'static str> {
    static YAML: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(y) = YAML.get() {
        return Ok(y);
    }
    let yaml = openapi()
        .to_yaml()
        .map_err(|e| anyhow::anyhow!("rendering OpenAPI as YAML: {e}"))?;
    Ok(YAML.get_or_init(|| yaml))
}

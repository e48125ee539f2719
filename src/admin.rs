//! The admin API under `/__admin/`. Spec routes never use this prefix: the
//! admin routes are matched first, everything else goes to the spec handler.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{json, Value};

use crate::app::App;
use crate::reload;
use sample::sample_request;

mod sample;

pub const PREFIX: &str = "/__admin";

/// Who may use the admin API (`--allowed-host`, `--admin-token`, `--cors`).
///
/// - Every admin request must name, in `Host`, an IP address, `localhost`
///   (or a `*.localhost` name) or a name given with `--allowed-host`: a
///   DNS-rebinding page reaches the mock under the attacker's own host
///   name, which is refused, so it cannot read the journal.
/// - A state-changing request (`POST`, `DELETE`, …) coming from a browser
///   page of another site (its `Origin` is not this server, nor a `--cors`
///   origin, or it says `Sec-Fetch-Site: cross-site`) is refused, so no
///   web page can reset or reload the mock.
/// - With a token, every admin request must carry `Authorization: Bearer TOKEN`.
#[derive(Clone, Default)]
pub struct AdminGuard {
    /// Host names admitted besides IP addresses and localhost, lower case.
    pub allowed_hosts: Vec<String>,
    pub token: Option<String>,
    /// `--cors` origins: trusted to change state too (not `*`).
    pub trusted_origins: Vec<String>,
}

impl std::fmt::Debug for AdminGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminGuard")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("trusted_origins", &self.trusted_origins)
            .finish()
    }
}

impl AdminGuard {
    /// Why `request` may not use the admin API, if it may not.
    pub fn refusal(&self, request: &Request) -> Option<(StatusCode, String)> {
        let headers = request.headers();
        let host = headers
            .get(http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()))
            .unwrap_or("");
        if !self.host_allowed(host) {
            return Some((
                StatusCode::FORBIDDEN,
                format!(
                    "the admin API answers only requests addressed to localhost, an IP address or a name given with --allowed-host; Host `{host}` is none of these (a guard against DNS rebinding)"
                ),
            ));
        }
        if let Some(token) = &self.token {
            let given = headers
                .get(http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(str::trim);
            if !given.is_some_and(|given| same(given.as_bytes(), token.as_bytes())) {
                return Some((
                    StatusCode::UNAUTHORIZED,
                    "the admin API needs `Authorization: Bearer <token>` with the --admin-token the server was started with".to_string(),
                ));
            }
        }
        let changes_state = !matches!(
            *request.method(),
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        );
        if changes_state {
            if let Some(origin) = headers.get(http::header::ORIGIN) {
                let origin = origin.to_str().unwrap_or("");
                if !self.origin_allowed(origin, host) {
                    return Some((
                        StatusCode::FORBIDDEN,
                        format!(
                            "a browser page from origin `{origin}` may not change the mock's state: the admin API takes state-changing requests only from its own origin or a --cors origin"
                        ),
                    ));
                }
            } else if headers
                .get("sec-fetch-site")
                .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"))
            {
                return Some((
                    StatusCode::FORBIDDEN,
                    "a cross-site browser request (Sec-Fetch-Site: cross-site) may not change the mock's state".to_string(),
                ));
            }
        }
        None
    }

    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        if name.is_empty() {
            return false;
        }
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.allowed_hosts.contains(&name)
    }

    fn origin_allowed(&self, origin: &str, host: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        let own = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|authority| authority.eq_ignore_ascii_case(host));
        own || self.trusted_origins.iter().any(|trusted| {
            trusted != "*" && trusted.trim_end_matches('/').eq_ignore_ascii_case(origin)
        })
    }
}

/// The host of a `Host` value, without its port (`[::1]:80` → `[::1]`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The admin API's guard, a layer on its routes (see [`AdminGuard`]).
pub async fn guard(State(guard): State<Arc<AdminGuard>>, request: Request, next: Next) -> Response {
    match guard.refusal(&request) {
        None => next.run(request).await,
        Some((status, message)) => {
            tracing::warn!(method = %request.method(), path = %request.uri().path(), "admin request refused ({}): {message}", status.as_u16());
            let mut response = (status, Json(json!({ "error": message }))).into_response();
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer realm=\"gpconnect-mock admin\""),
                );
            }
            response
        }
    }
}

#[cfg(test)]
mod guard_tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::builder()
            .method(method)
            .uri("/__admin/reset");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn hosts_are_ip_addresses_localhost_or_listed() {
        let guard = AdminGuard {
            allowed_hosts: vec!["mock".into()],
            ..AdminGuard::default()
        };
        for host in [
            "127.0.0.1:8080",
            "[::1]:9",
            "localhost",
            "10.1.2.3",
            "mock:8080",
            "app.localhost",
        ] {
            assert!(guard.host_allowed(host), "{host}");
        }
        for host in ["evil.example:8080", "", "mock.example"] {
            assert!(!guard.host_allowed(host), "{host}");
        }
    }

    #[test]
    fn state_changes_need_own_origin_and_token() {
        let guard = AdminGuard {
            token: Some("s3cret".into()),
            trusted_origins: vec!["http://app.test".into()],
            ..AdminGuard::default()
        };
        let host = ("host", "localhost:8080");
        let auth = ("authorization", "Bearer s3cret");
        assert!(guard.refusal(&request("POST", &[host, auth])).is_none());
        assert!(guard
            .refusal(&request(
                "POST",
                &[host, auth, ("origin", "http://localhost:8080")]
            ))
            .is_none());
        assert!(guard
            .refusal(&request(
                "POST",
                &[host, auth, ("origin", "http://app.test")]
            ))
            .is_none());
        let refused =
            |headers: &[(&str, &str)]| guard.refusal(&request("POST", headers)).map(|r| r.0);
        assert_eq!(refused(&[host]), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(
            refused(&[host, ("authorization", "Bearer nope")]),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            refused(&[host, auth, ("origin", "http://evil.example")]),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            refused(&[host, auth, ("sec-fetch-site", "cross-site")]),
            Some(StatusCode::FORBIDDEN)
        );
        assert!(guard
            .refusal(&request(
                "GET",
                &[host, auth, ("origin", "http://evil.example")]
            ))
            .is_none());
    }
}

pub fn router() -> Router<App> {
    Router::new()
        .route("/__admin/health", get(health))
        .route("/__admin/reload", post(force_reload))
        .route("/__admin/reset", post(reset))
        .route(
            "/__admin/requests",
            get(list_requests).delete(clear_requests),
        )
        .route("/__admin/requests/unmatched", get(unmatched_requests))
        .route("/__admin/requests/{id}", get(one_request))
        .route("/__admin/scenarios", get(scenarios))
        .route("/__admin/state/{collection}", get(collection))
        .route("/__admin/sample-request", get(sample_request))
        .route("/__admin/postman/collection", get(postman_collection))
        .route("/__admin/postman/environment", get(postman_environment))
}

/// The health document: what is loaded and whether the last reload worked.
pub fn health_json(app: &App) -> Value {
    let snapshot = app.snapshot();
    let status = app
        .shared
        .reload_status
        .lock()
        .map(|s| s.clone())
        .unwrap_or_else(|poisoned| poisoned.into_inner().clone());
    let last_error = status.last_error.as_ref().map(|error| {
        let mut message = error.message.clone();
        if status.error_count > 1 {
            message.push_str(&format!(" (and {} more)", status.error_count - 1));
        }
        json!({ "file": error.file, "line": error.line, "message": message })
    });
    let (operations, scenarios, templates) = snapshot.counts();
    let apis: Vec<Value> = snapshot
        .apis
        .iter()
        .map(|api| {
            let failure = status.failed.iter().find(|failure| failure.api == api.name);
            let error = failure.and_then(|failure| failure.errors.first()).map(
                |error| json!({ "file": error.file, "line": error.line, "message": error.message }),
            );
            json!({
                "name": api.name,
                "status": if failure.is_some() { "degraded" } else { "ok" },
                "generation": api.generation,
                "last_reload_error": error,
                "base_path": api.base_path,
                "spec": api.model.source,
                "era": api.era.map(|era| era.label()),
                "asid": api.contract.asid(),
                "ods_code": api.ods_code,
            })
        })
        .collect();
    let shadowed: Vec<Value> = snapshot
        .apis
        .iter()
        .flat_map(|api| api.scenarios.shadowed())
        .map(shadowed_json)
        .collect();
    json!({
        "status": if last_error.is_some() { "degraded" } else { "ok" },
        "generation": snapshot.generation,
        "loaded_at": snapshot.loaded_at.to_rfc3339(),
        "last_reload_error": last_error,
        "counts": {
            "operations": operations,
            "scenarios": scenarios,
            "templates": templates,
        },
        "apis": apis,
        "spec": app.shared.sources.spec_label(),
        "shadowed_scenarios": shadowed,
    })
}

/// A shadowed scenario, for health, the scenario list and sample requests.
fn shadowed_json(shadowed: &crate::scenario::Shadowed) -> Value {
    json!({
        "operation": shadowed.operation,
        "scenario": shadowed.scenario,
        "file": shadowed.file,
        "line": shadowed.line,
        "shadowed_by": { "scenario": shadowed.by, "file": shadowed.by_file, "line": shadowed.by_line },
        "message": shadowed.to_string(),
    })
}

async fn health(State(app): State<App>) -> Json<Value> {
    Json(health_json(&app))
}

/// Reloads now; 200 with the health document, or 422 with it when the
/// reload failed (the previous generation still serves).
async fn force_reload(State(app): State<App>) -> Response {
    let result = reload::reload_now(&app, &[]).await;
    let status = if result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(health_json(&app))).into_response()
}

/// Puts state back to the seeds of the current snapshot.
async fn reset(State(app): State<App>) -> Json<Value> {
    let snapshot = app.snapshot();
    snapshot.reset_stores(&app.shared.stores);
    let apis: serde_json::Map<String, Value> = app
        .shared
        .stores
        .iter()
        .map(|(api, store)| {
            let data = store.read();
            let collections: serde_json::Map<String, Value> = data
                .collections
                .iter()
                .map(|(name, documents)| (name.clone(), json!(documents.len())))
                .collect();
            (api.to_string(), json!({ "collections": collections }))
        })
        .collect();
    Json(json!({ "reset": true, "apis": apis }))
}

#[derive(Debug, serde::Deserialize)]
struct RequestFilter {
    api: Option<String>,
    operation: Option<String>,
    status: Option<u16>,
    limit: Option<usize>,
}

/// The journal, newest first, filtered by API, operation and status.
async fn list_requests(State(app): State<App>, Query(filter): Query<RequestFilter>) -> Json<Value> {
    let limit = filter.limit.unwrap_or(100);
    let entries: Vec<Value> = app
        .shared
        .journal
        .snapshot()
        .iter()
        .filter(|e| {
            filter
                .operation
                .as_deref()
                .is_none_or(|op| e.operation() == Some(op))
        })
        .filter(|e| filter.status.is_none_or(|status| e.status == status))
        .filter(|e| filter.api.as_deref().is_none_or(|api| e.api() == Some(api)))
        .take(limit)
        .map(|e| e.summary())
        .collect();
    Json(json!({ "count": entries.len(), "requests": entries }))
}

async fn one_request(State(app): State<App>, Path(id): Path<String>) -> Response {
    match id.parse::<u64>().ok().and_then(|id| app.shared.journal.get(id)) {
        Some(entry) => Json(entry.detail()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no journalled request with id {id}; GET /__admin/requests lists them") })),
        )
            .into_response(),
    }
}

async fn clear_requests(State(app): State<App>) -> StatusCode {
    app.shared.journal.clear();
    StatusCode::NO_CONTENT
}

/// Requests no scenario matched, with the closest scenario and the
/// condition that failed.
async fn unmatched_requests(State(app): State<App>) -> Json<Value> {
    let entries: Vec<Value> = app
        .shared
        .journal
        .snapshot()
        .iter()
        .filter(|e| e.operation.is_some() && !e.matched())
        .map(|e| {
            let mut summary = e.summary();
            let trace = e.trace.as_deref();
            summary["closest"] =
                crate::journal::near_miss_json(trace.and_then(|t| t.near_miss.as_ref()));
            summary["contract_findings"] =
                json!(trace.map(|t| t.violations.clone()).unwrap_or_default());
            summary
        })
        .collect();
    Json(json!({ "count": entries.len(), "requests": entries }))
}

/// Operations and their scenarios, with hit counts since the last load and
/// the current named states.
async fn scenarios(State(app): State<App>) -> Json<Value> {
    let snapshot = app.snapshot();
    let hits = app.shared.hits.load();
    let mut operations = Vec::new();
    for (api_index, api) in snapshot.apis.iter().enumerate() {
        for (index, operation) in api.model.operations.iter().enumerate() {
            let scenarios: Vec<Value> = api
                .scenarios
                .for_operation(index)
                .iter()
                .enumerate()
                .map(|(position, scenario)| {
                    json!({
                        "name": scenario.name,
                        "file": scenario.file,
                        "line": scenario.line,
                        "status": scenario.then.status.as_u16(),
                        "hits": hits.get(api_index, index, position),
                        "state_machine": scenario.machine,
                        "requires_state": scenario.state_when.requires_state,
                        "sets_state": scenario.state_then.sets_state,
                        "priority": scenario.priority,
                        "shadowed_by": api
                            .scenarios
                            .shadowing(&operation.key, &scenario.name)
                            .map(|shadowed| shadowed.by.clone()),
                    })
                })
                .collect();
            operations.push(json!({
                "api": api.name,
                "operation": operation.key,
                "method": operation.method.as_str(),
                "path": operation.full_path,
                "stateful": api.scenarios.is_stateful(index),
                "scenarios": scenarios,
            }));
        }
    }
    // Per API, and all together (an API mounted earlier wins a name two
    // share) for the common case of one.
    let mut states = serde_json::Map::new();
    let mut collections: Vec<String> = Vec::new();
    let mut apis = serde_json::Map::new();
    for api in &snapshot.apis {
        let data = app.shared.stores.of(&api.name).read();
        let machines: serde_json::Map<String, Value> = data
            .machines
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        for (machine, state) in &machines {
            states
                .entry(machine.clone())
                .or_insert_with(|| state.clone());
        }
        for name in data.collections.keys() {
            if !collections.contains(name) {
                collections.push(name.clone());
            }
        }
        apis.insert(
            api.name.clone(),
            json!({ "states": machines, "collections": data.collections.keys().collect::<Vec<_>>() }),
        );
    }
    Json(json!({
        "generation": snapshot.generation,
        "operations": operations,
        "states": states,
        "collections": collections,
        "apis": apis,
    }))
}

/// `?api=NAME`: whose collection; without it, the first API in the mount
/// order that has one of that name.
#[derive(Debug, serde::Deserialize)]
struct StateQuery {
    api: Option<String>,
}

async fn collection(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(query): Query<StateQuery>,
) -> Response {
    let snapshot = app.snapshot();
    let apis: Vec<&str> = match &query.api {
        Some(api) if snapshot.api(api).is_none() => {
            let names: Vec<&str> = snapshot.apis.iter().map(|a| a.name.as_str()).collect();
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": format!("no API `{api}`"), "apis": names })),
            )
                .into_response();
        }
        Some(api) => vec![api.as_str()],
        None => snapshot.apis.iter().map(|a| a.name.as_str()).collect(),
    };
    let mut known = Vec::new();
    for api in apis {
        let data = app.shared.stores.of(api).read();
        if let Some(documents) = data.collections.get(&name) {
            return Json(json!({
                "api": api,
                "collection": name,
                "count": documents.len(),
                "documents": documents.values().collect::<Vec<_>>(),
            }))
            .into_response();
        }
        known.extend(data.collections.keys().map(|k| format!("{api}: {k}")));
    }
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "error": format!("no collection `{name}`"),
            "collections": known,
        })),
    )
        .into_response()
}

/// `GET /__admin/postman/collection`: built once per loaded generation.
async fn postman_collection(State(app): State<App>) -> Response {
    crate::postman::collection_response(&app.shared.postman, app.snapshot()).await
}

/// `GET /__admin/postman/environment`: `baseUrl` is this server.
async fn postman_environment(State(app): State<App>, headers: http::HeaderMap) -> Response {
    crate::postman::environment_response(&app.snapshot(), &headers)
}

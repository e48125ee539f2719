//! The `/__admin/postman/*` endpoints: the export of a running server's
//! current files, from a scratch snapshot so that exporting leaves the
//! booking state alone.

use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use http::header::HOST;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::{environment, export, DEFAULT_BASE_URL};
use crate::app::App;
use crate::error::LoadErrors;
use crate::snapshot::Snapshot;

/// `http://{host}` from a request's `Host` header, when it is a plain
/// authority; else `serve`'s default address.
pub fn base_url_from_host(host: Option<&str>) -> String {
    host.and_then(|host| host.parse::<http::uri::Authority>().ok())
        .filter(|authority| !authority.as_str().contains('@'))
        .map(|authority| format!("http://{authority}"))
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
}

/// The server's current definition and pack, loaded afresh with a booking state of
/// their own: exporting answers every scenario once, and must not book
/// slots in the state the server answers from.
pub fn scratch_snapshot(app: &App) -> Result<Snapshot, LoadErrors> {
    Snapshot::load(
        &app.shared.sources,
        &app.shared.settings,
        app.snapshot().generation,
    )
}

/// `GET /__admin/postman/collection`: built from the current files (hot
/// reloads included); `{{baseUrl}}` is this server, as `Host` names it.
pub async fn collection_handler(State(app): State<App>, headers: HeaderMap) -> Response {
    let base_url = base_url_from_host(header_text(&headers, HOST));
    // Loading and rendering every scenario is CPU work: off the async workers.
    let built = tokio::task::spawn_blocking(move || {
        scratch_snapshot(&app).map(|snapshot| export(&snapshot, &base_url).collection)
    })
    .await;
    match built {
        Ok(Ok(collection)) => json_response(serde_json::to_value(collection)),
        Ok(Err(errors)) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the definition or scenario pack does not load, so no collection: {errors}"),
        ),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the export failed: {error}"),
        ),
    }
}

/// `GET /__admin/postman/environment`: from the current snapshot;
/// `baseUrl` is this server, as `Host` names it.
pub async fn environment_handler(State(app): State<App>, headers: HeaderMap) -> Response {
    let snapshot = app.snapshot();
    let base_url = base_url_from_host(header_text(&headers, HOST));
    json_response(serde_json::to_value(environment(
        &snapshot.apis[0],
        &base_url,
    )))
}

fn header_text(headers: &HeaderMap, name: http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn json_response(value: Result<Value, serde_json::Error>) -> Response {
    match value {
        Ok(value) => Json(value).into_response(),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot serialise the export: {error}"),
        ),
    }
}

fn error_response(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

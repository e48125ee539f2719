//! The `/__admin/postman/*` endpoints: the export of a running server's
//! current snapshot, on a booking state of its own so that exporting
//! leaves the server's alone.
//!
//! The collection is built once per loaded generation and shared
//! ([`ExportCache`]): the first call builds it on a blocking thread while
//! later ones wait for it under an async lock, so 200 concurrent calls
//! build it once. It does not depend on the base URL (requests name
//! `{{baseUrl}}`); the environment does, and is small, so it is built per call.

use std::sync::Arc;

use axum::response::{IntoResponse as _, Response};
use axum::Json;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::{environment, export, DEFAULT_BASE_URL};
use crate::snapshot::Snapshot;

/// `http://{host}` from a request's `Host` header, when it is a plain
/// authority; else `serve`'s default address.
pub fn base_url_from_host(host: Option<&str>) -> String {
    host.and_then(|host| host.parse::<http::uri::Authority>().ok())
        .filter(|authority| !authority.as_str().contains('@'))
        .map(|authority| format!("http://{authority}"))
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
}

/// The collection of the generation in force, serialised once: `Ok` the
/// JSON bytes, `Err` why it could not be built.
type BuiltCollection = Arc<Result<bytes::Bytes, String>>;

/// The Postman collection of the last generation asked for. Held by
/// the application (`app::Shared`); an async lock, held across the build's
/// `.await` (the build itself runs on a blocking thread).
#[derive(Debug, Default)]
pub struct ExportCache {
    collection: tokio::sync::Mutex<Option<(u64, BuiltCollection)>>,
}

impl ExportCache {
    /// The collection of `snapshot`'s generation: the cached one, or built
    /// now (once, however many callers wait).
    pub async fn collection(&self, snapshot: Arc<Snapshot>) -> BuiltCollection {
        let mut cached = self.collection.lock().await;
        if let Some((generation, built)) = cached.as_ref() {
            if *generation == snapshot.generation {
                return built.clone();
            }
        }
        let generation = snapshot.generation;
        // Answering every scenario is CPU work: off the async workers.
        let built = tokio::task::spawn_blocking(move || {
            serde_json::to_vec(&export(&snapshot, DEFAULT_BASE_URL).collection)
                .map(bytes::Bytes::from)
                .map_err(|error| format!("cannot serialise the export: {error}"))
        })
        .await
        .unwrap_or_else(|error| Err(format!("the export failed: {error}")));
        let built = Arc::new(built);
        *cached = Some((generation, built.clone()));
        built
    }
}

/// `GET /__admin/postman/collection` (routed by `admin`): the export of the
/// snapshot in force (hot reloads included), built once per generation.
pub async fn collection_response(cache: &ExportCache, snapshot: Arc<Snapshot>) -> Response {
    let built = cache.collection(snapshot).await;
    match built.as_ref() {
        Ok(bytes) => (
            [(
                CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            )],
            bytes.clone(),
        )
            .into_response(),
        Err(message) => error_response(StatusCode::INTERNAL_SERVER_ERROR, message.clone()),
    }
}

/// `GET /__admin/postman/environment` (routed by `admin`): from the
/// current snapshot; `baseUrl` is this server, as `Host` names it.
///
/// A request that carries the admin token (`--admin-token`: the guard has
/// let it through) gets it back as the environment's `adminToken`, so the
/// exported environment can call the admin API too.
pub fn environment_response(snapshot: &Snapshot, headers: &HeaderMap) -> Response {
    let base_url = base_url_from_host(header_text(headers, HOST));
    let mut environment = environment(snapshot, &base_url);
    let token = header_text(headers, http::header::AUTHORIZATION)
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty());
    if let Some(token) = token {
        environment.values.push(super::model::EnvironmentValue {
            key: "adminToken".to_string(),
            value: token.to_string(),
            kind: "secret".to_string(),
            enabled: true,
        });
    }
    json_response(serde_json::to_value(environment))
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

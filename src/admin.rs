//! The admin API under `/__admin/`. Spec routes never use this prefix: the
//! admin routes are matched first, everything else goes to the spec handler.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{json, Value};

use crate::reload;
use crate::server::AppState;

pub const PREFIX: &str = "/__admin";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/__admin/health", get(health))
        .route("/__admin/reload", post(force_reload))
}

/// The health document: what is loaded and whether the last reload worked.
pub fn health_json(state: &AppState) -> Value {
    let snapshot = state.snapshot();
    let status = state
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
    json!({
        "status": if last_error.is_some() { "degraded" } else { "ok" },
        "generation": snapshot.generation,
        "loaded_at": snapshot.loaded_at.to_rfc3339(),
        "last_reload_error": last_error,
        "counts": {
            "operations": snapshot.model.operations.len(),
            "scenarios": snapshot.scenarios.count(),
            "templates": snapshot.templates.file_count(),
        },
        "spec": state.shared.sources.spec_label(),
    })
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(health_json(&state))
}

/// Reloads now; 200 with the health document, or 422 with it when the
/// reload failed (the previous generation still serves).
async fn force_reload(State(state): State<AppState>) -> Response {
    let result = reload::reload_now(&state, &[]).await;
    let status = if result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(health_json(&state))).into_response()
}

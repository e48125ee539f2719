//! The HTTP server: the axum app (admin routes under `/__admin/`, every
//! other request to [`handle`], which runs the request path), and `run`.

use std::future::Future;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::StatusCode;
use tokio::net::TcpListener;

use crate::answer::Answer;
use crate::app::App;
use crate::fhir::{Outcome, SpineCode};
use crate::journal::{self, Entry};
use crate::pipeline::{self, Served};
use crate::request::MockRequest;

/// Request bodies above this size are refused (413) rather than buffered.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The application: admin API first, then every other path to the spec.
pub fn router(app: App) -> Router {
    crate::admin::router().fallback(handle).with_state(app)
}

/// Every request that is not for the admin API: the body read, the
/// request path run ([`pipeline::serve`]), the result journalled and
/// counted, the answer written.
async fn handle(State(app): State<App>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let snapshot = app.snapshot();
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let outcome = Outcome::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                SpineCode::BAD_REQUEST,
                format!("request body larger than {MAX_BODY_BYTES} bytes, or unreadable"),
            );
            let served = pipeline::refuse(&snapshot, parts.uri.path(), &outcome);
            return into_response(served.answer);
        }
    };
    let request = MockRequest::new(parts.method, path_and_query, parts.headers, body);
    let shared = &app.shared;
    let mut served = pipeline::serve(&snapshot, &shared.store, &request, &shared.ids);
    shared.hits.load().count(&snapshot, &served);
    record(&app, &request, path_and_query, &mut served, started);
    let answer = served.answer;
    drop(snapshot);
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    into_response(answer)
}

/// Journals one served request (when the journal is on).
fn record(
    app: &App,
    request: &MockRequest,
    path_and_query: &str,
    served: &mut Served<'_>,
    started: std::time::Instant,
) {
    let journal = &app.shared.journal;
    if !journal.is_enabled() {
        return;
    }
    let api = served.api;
    let operation = served
        .operation
        .and_then(|index| api.operation_headers.get(index))
        .cloned();
    let scenario = match (served.scenario, served.operation) {
        (Some(scenario), Some(index)) => api
            .runtime(index, scenario)
            .and_then(|runtime| runtime.name_header.clone()),
        _ => None,
    };
    let source = match served.source {
        pipeline::Source::Spec(source) => Some(source.label()),
        _ => None,
    };
    journal.record(Entry {
        id: journal.next_id(),
        time: chrono::Utc::now(),
        head: journal::RequestHead::new(path_and_query, &request.headers),
        body: journal::capped(&request.body),
        body_len: request.body.len(),
        status: served.answer.status.as_u16(),
        duration_us: started.elapsed().as_micros() as u64,
        operation,
        scenario,
        source,
        trace: served.trace.take(),
        method: request.method.clone(),
    });
}

pub fn into_response(answer: Answer) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    response.into_response()
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

//! The HTTP server: shared state, the axum app (admin routes under
//! `/__admin/`, every other request to the spec-driven handler), and `run`.

use std::future::Future;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::StatusCode;
use tokio::net::TcpListener;

use crate::answer::{Answer, OPERATION_HEADER, SCENARIO_HEADER, SOURCE_HEADER};
use crate::fhir::{Outcome, SpineCode};
use crate::handler::{respond, RequestIds};
use crate::journal::{self, Entry, Journal};
use crate::reload::ReloadStatus;
use crate::request::MockRequest;
use crate::snapshot::{Settings, Snapshot, Sources};

/// Request bodies above this size are refused (413) rather than buffered.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// State shared by every request: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub shared: Arc<Shared>,
}

pub struct Shared {
    /// The snapshot in force. Requests `load_full` it once and keep that
    /// `Arc` to the end, so a reload never changes a request midway; the
    /// swap itself is a single atomic store.
    pub snapshot: ArcSwap<Snapshot>,
    pub ids: RequestIds,
    pub sources: Sources,
    pub settings: Settings,
    /// Serialises reloads (watcher and `/__admin/reload`); never taken by requests.
    pub reload_lock: tokio::sync::Mutex<()>,
    pub reload_status: std::sync::Mutex<ReloadStatus>,
    pub journal: Journal,
}

impl AppState {
    pub fn new(snapshot: Snapshot, sources: Sources, settings: Settings) -> Self {
        let journal = Journal::new(settings.journal_size);
        Self {
            shared: Arc::new(Shared {
                snapshot: ArcSwap::from_pointee(snapshot),
                ids: RequestIds::default(),
                sources,
                settings,
                reload_lock: tokio::sync::Mutex::new(()),
                reload_status: std::sync::Mutex::new(ReloadStatus::default()),
                journal,
            }),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }
}

/// The application: admin API first, then every other path to the spec.
pub fn app(state: AppState) -> Router {
    crate::admin::router().fallback(handle).with_state(state)
}

async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let snapshot = state.snapshot();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            let outcome = Outcome::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                SpineCode::BAD_REQUEST,
                format!("request body larger than {MAX_BODY_BYTES} bytes, or unreadable"),
            );
            let mut answer = Answer::error(&outcome, snapshot.error_style);
            if snapshot.contract.no_store() {
                answer.headers.insert(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-store"),
                );
            }
            return into_response(answer);
        }
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let request = MockRequest::new(parts.method, path_and_query, parts.headers, body);
    let mut answer = respond(&snapshot, &request, &state.shared.ids);
    drop(snapshot);
    let journal = &state.shared.journal;
    if journal.is_enabled() {
        let header = |name: &http::HeaderName| answer.headers.get(name).cloned();
        let entry = Entry {
            id: journal.next_id(),
            time: chrono::Utc::now(),
            head: journal::RequestHead::new(path_and_query, &request.headers),
            body: journal::capped(&request.body),
            body_len: request.body.len(),
            status: answer.status.as_u16(),
            duration_us: started.elapsed().as_micros() as u64,
            operation: header(&OPERATION_HEADER),
            scenario: header(&SCENARIO_HEADER),
            source: header(&SOURCE_HEADER),
            trace: answer.trace.take(),
            method: request.method,
        };
        journal.record(entry);
    }
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    into_response(answer)
}

pub fn into_response(answer: Answer) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    response.into_response()
}

/// Serves `state` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

//! The HTTP server: the axum app (admin routes under `/__admin/`, every
//! other request to [`handle`], which runs the request path), and `run`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST};
use http::{HeaderName, HeaderValue, Method, StatusCode, Version};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tokio::net::TcpListener;
use tower_http::compression::predicate::{DefaultPredicate, Predicate as _, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::decompression::RequestDecompressionLayer;

use crate::admin::AdminGuard;
use crate::answer::Answer;
use crate::app::App;
use crate::encoding::{DecodeError, COMPRESS_ABOVE_BYTES};
use crate::fhir::{Outcome, SpineCode};
use crate::journal::{self, Entry};
use crate::listen::Limits;
use crate::pipeline::{self, Served};
use crate::request::MockRequest;

/// Request bodies above this size (after any `Content-Encoding` is
/// undone) are refused (413) rather than buffered.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// GP Connect headers that carry one value: a second copy is refused
/// rather than one of the two silently winning.
pub const SINGLE_VALUED: [&str; 5] = [
    "ssp-traceid",
    "ssp-from",
    "ssp-to",
    "ssp-interactionid",
    "authorization",
];

/// Headers a browser client may read from a cross-origin answer.
const EXPOSED: [&str; 5] = [
    "etag",
    "location",
    "x-mock-scenario",
    "x-mock-operation",
    "x-contract-violation",
];

/// What the HTTP edge enforces, from `serve`'s flags.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    pub limits: Limits,
    /// `--cors`: origins allowed to call from a browser (`*`: any); none
    /// turns CORS off.
    pub cors: Vec<String>,
    pub admin: AdminGuard,
}

/// The application: admin API first (behind its guard), then every other
/// path to the spec; around both CORS. The protocol checks come before
/// the router, in [`gate`].
pub fn router(app: App, edge: &Edge) -> Router {
    let body_timeout = edge.limits.body_read_timeout;
    let guard = Arc::new(edge.admin.clone());
    // The admin API's few, large answers go through tower-http's coding
    // layers; the API's through `encoding`, in `handle` (see its figures).
    let admin = crate::admin::router()
        .route_layer(middleware::from_fn_with_state(guard, crate::admin::guard))
        .layer(RequestDecompressionLayer::new())
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        );
    let mut router = Router::new()
        .merge(admin)
        .fallback(move |State(app): State<App>, request: Request| {
            handle(app, request, body_timeout)
        })
        .with_state(app);
    if let Some(cors) = cors_layer(&edge.cors) {
        router = router.layer(cors);
    }
    router
}

/// The protocol checks of every request, admin ones too, run by the
/// listener before the router ([`crate::listen::Gate`]).
///
/// A plain call, not an `axum::middleware::from_fn` layer: the layer
/// boxed each request's future and cloned a boxed service for it. With
/// `handle`'s own trims (no timer for a body already read, header names
/// built once, no copies of the path) and the journal's one look at each
/// header name, a metadata request went from 42.0 k to 37.7 k user-space
/// instructions (callgrind, 10 connections, counted after a warm-up).
pub fn gate(app: App, edge: &Edge) -> crate::listen::Gate {
    let checks = Checks {
        app,
        max_header_bytes: edge.limits.max_header_bytes,
    };
    Arc::new(move |request: &http::Request<hyper::body::Incoming>| {
        protocol_checks(&checks, request)
    })
}

/// `--cors`: preflights answered, the mock's headers exposed.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let exposed: Vec<HeaderName> = EXPOSED
        .iter()
        .map(|name| HeaderName::from_static(name))
        .collect();
    let layer = CorsLayer::new()
        .allow_methods(tower_http::cors::AllowMethods::mirror_request())
        .allow_headers(tower_http::cors::AllowHeaders::mirror_request())
        .expose_headers(exposed)
        .max_age(Duration::from_secs(600));
    let layer = if origins.iter().any(|origin| origin == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok())
            .collect();
        layer
            .allow_origin(AllowOrigin::list(list))
            .vary([http::header::ORIGIN])
    };
    Some(layer)
}

struct Checks {
    app: App,
    max_header_bytes: usize,
}

/// Checks every request (admin ones too) before anything reads it: one
/// `Host` (HTTP/1.1 requires it; two are ambiguous), and the head within
/// `--max-header-bytes`. `Some` is the refusal.
fn protocol_checks<B>(checks: &Checks, request: &http::Request<B>) -> Option<Response> {
    let hosts = request.headers().get_all(HOST).iter().count();
    let problem = match (request.version(), hosts) {
        (_, 2..) => Some(format!(
            "the request has {hosts} Host headers; it must have exactly one"
        )),
        (Version::HTTP_11, 0) => {
            Some("an HTTP/1.1 request must have a Host header; this one has none".to_string())
        }
        _ => None,
    };
    if let Some(problem) = problem {
        return Some(refusal(
            &checks.app,
            request.uri().path(),
            StatusCode::BAD_REQUEST,
            problem,
            true,
        ));
    }
    let head_bytes = request.method().as_str().len()
        + request
            .uri()
            .path_and_query()
            .map_or(1, |target| target.as_str().len())
        + 12
        + request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if head_bytes > checks.max_header_bytes {
        tracing::warn!(
            peer = %peer(request.extensions()),
            "refused a request: its head is {head_bytes} bytes, above --max-header-bytes {}",
            checks.max_header_bytes
        );
        return Some(refusal(
            &checks.app,
            request.uri().path(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "the request line and headers are {head_bytes} bytes; at most {} are accepted",
                checks.max_header_bytes
            ),
            true,
        ));
    }
    None
}

/// The client's address, when the listener recorded it.
fn peer(extensions: &http::Extensions) -> String {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |info| info.0.to_string())
}

/// 413, whether told by `Content-Length` or found while reading; the
/// unread rest of the body ends the connection.
fn too_large(app: &App, path: &str) -> Response {
    refusal(
        app,
        path,
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        true,
    )
}

/// A protocol-level refusal: the mock's error in the API's style, with the
/// fixed headers; `close` adds `Connection: close`.
fn refusal(app: &App, path: &str, status: StatusCode, message: String, close: bool) -> Response {
    let snapshot = app.snapshot();
    let outcome = Outcome::new(status, SpineCode::BAD_REQUEST, message);
    let mut answer = pipeline::refuse(&snapshot, path, &outcome).answer;
    if close {
        answer
            .headers
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    into_response(answer)
}

/// Every request that is not for the admin API: the body read, the
/// request path run ([`pipeline::serve`]), the result journalled and
/// counted, the answer written. `HEAD` is answered as `GET` without the body.
async fn handle(app: App, request: Request, body_timeout: Duration) -> Response {
    let started = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    let http::request::Parts {
        mut method,
        uri,
        mut headers,
        extensions,
        ..
    } = parts;
    let path = uri.path();
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    // `keys_len` counts names, `len` values: equal, and no name came twice,
    // so the five lookups below are skipped on nearly every request.
    let repeated = headers.keys_len() != headers.len();
    for (name, shown) in SINGLE_VALUED_NAMES.iter().filter(|_| repeated) {
        let mut values = headers.get_all(name).iter();
        if values.next().is_some() && values.next().is_some() {
            let count = 2 + values.count();
            return refusal(
                &app,
                path,
                StatusCode::BAD_REQUEST,
                format!("the request has {count} {shown} headers; {shown} must be sent once"),
                false,
            );
        }
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        // Decided before reading: no `100 Continue`, and the unread body
        // ends the connection.
        tracing::warn!(peer = %peer(&extensions), "refused a request: Content-Length above {MAX_BODY_BYTES} bytes");
        return too_large(&app, path);
    }
    let body = match read_body(body, body_timeout).await {
        Ok(Ok(collected)) => collected,
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            tracing::warn!(peer = %peer(&extensions), "refused a request: body above {MAX_BODY_BYTES} bytes");
            return too_large(&app, path);
        }
        Ok(Err(error)) => {
            tracing::warn!(peer = %peer(&extensions), "refused a request: unreadable body: {error}");
            return refusal(
                &app,
                path,
                StatusCode::BAD_REQUEST,
                format!("the request body cannot be read: {error}"),
                true,
            );
        }
        Err(_) => {
            tracing::warn!(
                peer = %peer(&extensions),
                "closed a connection: the request body did not arrive within {} s",
                body_timeout.as_secs_f64()
            );
            return refusal(
                &app,
                path,
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    body_timeout.as_secs_f64()
                ),
                true,
            );
        }
    };
    let body = match crate::encoding::decode_request(&mut headers, body, MAX_BODY_BYTES) {
        Ok(body) => body,
        Err(error @ DecodeError::TooLarge(_)) => {
            tracing::warn!(peer = %peer(&extensions), "refused a request: {error}");
            return too_large(&app, path);
        }
        Err(error) => {
            let status = match error {
                DecodeError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                _ => StatusCode::BAD_REQUEST,
            };
            tracing::warn!(peer = %peer(&extensions), "refused a request: {error}");
            return refusal(&app, path, status, error.to_string(), false);
        }
    };
    let head = method == Method::HEAD;
    if head {
        method = Method::GET;
    }
    // Borrowed, not counted: `load_full` bumped the snapshot's one shared
    // reference count, from both worker threads, on every request. The
    // guard is let go before anything is awaited.
    let snapshot = app.shared.snapshot.load();
    let mut request = MockRequest::new(method, path_and_query, headers, body);
    let shared = &app.shared;
    let mut served = pipeline::serve(&snapshot, &shared.stores, &request, &shared.ids);
    shared.hits.load().count(&snapshot, &served);
    if head {
        request.method = Method::HEAD;
    }
    record(&app, &request, path_and_query, &mut served, started);
    let mut answer = served.answer;
    drop(snapshot);
    crate::encoding::encode_answer(&request.headers, &mut answer.headers, &mut answer.body);
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    if head {
        let length = answer.body.len();
        let mut response = into_response(Answer {
            body: bytes::Bytes::new(),
            ..answer
        });
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
        return response;
    }
    into_response(answer)
}

/// The body, read within `MAX_BODY_BYTES` and `timeout` (`Err`: the
/// timeout). A body already complete (none, or all of it in the head's
/// read) is taken as it is, without starting the timer.
async fn read_body(
    body: Body,
    timeout: Duration,
) -> Result<Result<bytes::Bytes, axum::BoxError>, tokio::time::error::Elapsed> {
    use http_body::Body as _;
    if body.is_end_stream() {
        return Ok(Ok(bytes::Bytes::new()));
    }
    let mut collect = std::pin::pin!(Limited::new(body, MAX_BODY_BYTES).collect());
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(collect.as_mut().poll(cx))).await;
    let collected = match first {
        std::task::Poll::Ready(collected) => collected,
        std::task::Poll::Pending => tokio::time::timeout(timeout, collect).await?,
    };
    Ok(collected.map(http_body_util::Collected::to_bytes))
}

/// [`SINGLE_VALUED`] as header names, with the names GP Connect spells.
const SINGLE_VALUED_NAMES: [(HeaderName, &str); 5] = [
    (HeaderName::from_static("ssp-traceid"), "Ssp-TraceID"),
    (HeaderName::from_static("ssp-from"), "Ssp-From"),
    (HeaderName::from_static("ssp-to"), "Ssp-To"),
    (
        HeaderName::from_static("ssp-interactionid"),
        "Ssp-InteractionID",
    ),
    (http::header::AUTHORIZATION, "Authorization"),
];

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
        pipeline::Source::Spine(part) => Some(part.label()),
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
        api: Some(api.name_header.clone()),
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

/// Serves `app` on `listener` with `edge`'s limits until `shutdown`
/// completes, then lets requests in flight finish (see [`crate::listen`]);
/// with `tls`, over TLS.
pub async fn run(
    listener: TcpListener,
    app: App,
    edge: Edge,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let gate = gate(app.clone(), &edge);
    let router = router(app, &edge);
    crate::listen::serve(listener, router, gate, edge.limits, tls, shutdown).await
}

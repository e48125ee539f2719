//! The baseline of `benches/load.sh`: a bare axum server that answers fixed
//! bytes (status, headers, body) looked up by method and path, with
//! nothing else on the request path. Bench-only: built with
//! `cargo build --release --features bench-bare --bin bare-server`.
//!
//! Usage: `bare-server --port PORT --dir DIR`, where `DIR/manifest.tsv`
//! holds one answer per line, tab-separated:
//! `METHOD  PATH_AND_QUERY  STATUS  CONTENT_TYPE  BODY_FILE  [HEAD_FILE]`
//! (files relative to `DIR`). `HEAD_FILE` is a response head as `curl -D`
//! writes it: its headers are sent too (all but those hyper writes itself:
//! `Content-Length`, `Date`, `Transfer-Encoding`, `Connection`), so both
//! servers put the same bytes on the wire. A request is looked up by method and path with its
//! query, then by method and path alone; anything else answers 404.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

/// A fixed answer.
struct Fixed {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

type Table = Arc<HashMap<(Method, String), Fixed>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port: u16 = 8081;
    let mut dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a value")?.parse()?,
            "--dir" => dir = Some(args.next().ok_or("--dir needs a value")?.into()),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let dir = dir.ok_or("--dir DIR is required")?;
    let table = load(&dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let app = Router::new().fallback(answer).with_state(table);
        axum::serve(listener, app).await
    })?;
    Ok(())
}

fn load(dir: &std::path::Path) -> Result<Table, Box<dyn std::error::Error>> {
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv"))?;
    let mut table = HashMap::new();
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (method, path, status, content_type, body_file, head_file) = match fields[..] {
            [method, path, status, content_type, body_file] => {
                (method, path, status, content_type, body_file, None)
            }
            [method, path, status, content_type, body_file, head_file] => (
                method,
                path,
                status,
                content_type,
                body_file,
                Some(head_file),
            ),
            _ => {
                return Err(
                    format!("manifest line needs 5 or 6 tab-separated fields: {line}").into(),
                )
            }
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type)?);
        if let Some(head_file) = head_file {
            let head = std::fs::read_to_string(dir.join(head_file))?;
            for header in head.lines().skip(1) {
                let Some((name, value)) = header.split_once(':') else {
                    continue;
                };
                let name = HeaderName::from_bytes(name.trim().as_bytes())?;
                if [
                    CONTENT_TYPE,
                    CONTENT_LENGTH,
                    DATE,
                    TRANSFER_ENCODING,
                    CONNECTION,
                ]
                .contains(&name)
                {
                    continue;
                }
                headers.append(name, HeaderValue::from_str(value.trim())?);
            }
        }
        table.insert(
            (Method::from_bytes(method.as_bytes())?, path.to_string()),
            Fixed {
                status: StatusCode::from_u16(status.parse()?)?,
                headers,
                body: Bytes::from(std::fs::read(dir.join(body_file))?),
            },
        );
    }
    Ok(Arc::new(table))
}

async fn answer(State(table): State<Table>, request: Request) -> Response {
    let uri = request.uri();
    let key_full = (
        request.method().clone(),
        uri.path_and_query()
            .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string()),
    );
    let fixed = table
        .get(&key_full)
        .or_else(|| table.get(&(request.method().clone(), uri.path().to_string())));
    match fixed {
        Some(fixed) => {
            let mut response = Response::new(Body::from(fixed.body.clone()));
            *response.status_mut() = fixed.status;
            *response.headers_mut() = fixed.headers.clone();
            response
        }
        None => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

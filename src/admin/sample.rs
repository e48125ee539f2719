//! `GET /__admin/sample-request`: a ready-to-send request for an operation
//! of one mounted API (or for one of its scenarios).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde_json::{json, Value};

use super::shadowed_json;
use crate::app::App;
use crate::snapshot::{Api, Snapshot};

#[derive(Debug, serde::Deserialize)]
pub(super) struct SampleQuery {
    /// The API to look in; needed only when several have the operation.
    api: Option<String>,
    operation: String,
    scenario: Option<String>,
    /// `json` (default), `curl`, or `headers` (a curl config file: `curl -K`).
    format: Option<String>,
    /// `first` (default: the seeds, as a fresh server has them) or `latest`:
    /// which stored document an id names when several fit (`latest`: the
    /// appointment booked last).
    document: Option<String>,
}

/// A ready-to-send request for an operation (or for one of its scenarios):
/// the one `check` builds, with fresh SSP headers and JWT. `format=curl`
/// gives a shell command line, `format=headers` only the headers (for
/// `curl -K`); `document=latest` fits ids to the latest stored documents.
pub(super) async fn sample_request(
    State(app): State<App>,
    headers: http::HeaderMap,
    Query(query): Query<SampleQuery>,
) -> Response {
    let snapshot = app.snapshot();
    let (api, index) = match sample_operation(&snapshot, query.api.as_deref(), &query.operation) {
        Ok(found) => found,
        Err((status, body)) => return (status, Json(body)).into_response(),
    };
    let scenarios = api.scenarios.for_operation(index);
    let scenario = match &query.scenario {
        Some(name) => match scenarios.iter().find(|s| &s.name == name) {
            Some(scenario) => Some(scenario),
            None => {
                let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
                return (StatusCode::NOT_FOUND, Json(json!({ "error": format!("operation {} has no scenario `{name}`", query.operation), "scenarios": names }))).into_response();
            }
        },
        None => None,
    };
    // A request built for a shadowed scenario would be answered by another:
    // say so instead of handing out a request that misleads.
    if let Some(shadowed) =
        scenario.and_then(|s| api.scenarios.shadowing(&query.operation, &s.name))
    {
        return (
            StatusCode::CONFLICT,
            Json(json!({
                "error": shadowed.to_string(),
                "shadowed_by": shadowed.by,
                "shadowed": shadowed_json(shadowed),
            })),
        )
            .into_response();
    }
    let pick = match query.document.as_deref() {
        None => crate::sample::Pick::First,
        Some(text) => match crate::sample::Pick::parse(text) {
            Some(pick) => pick,
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "error": format!("document must be `first` or `latest`, not `{text}`") })),
                )
                    .into_response()
            }
        },
    };
    let request = crate::sample::request_for_picking(
        api,
        index,
        scenario,
        &app.shared.stores.of(&api.name).read(),
        pick,
    );
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let url = format!("http://{host}{}", request.path_and_query());
    if query.format.as_deref() == Some("headers") {
        return (
            [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            curl_config_headers(&request.headers),
        )
            .into_response();
    }
    if query.format.as_deref() == Some("curl") {
        let quote = |text: &str| format!("'{}'", text.replace('\'', "'\\''"));
        let mut line = format!("curl -sS -X {} {}", request.method, quote(&url));
        for (name, value) in &request.headers {
            line.push_str(&format!(" \\\n  -H {}", quote(&format!("{name}: {value}"))));
        }
        if let Some(body) = &request.body {
            line.push_str(&format!(" \\\n  --data {}", quote(&body.to_string())));
        }
        line.push('\n');
        return (
            [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            line,
        )
            .into_response();
    }
    let header_map: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), json!(v)))
        .collect();
    Json(json!({ "api": api.name, "method": request.method.as_str(), "url": url, "headers": header_map, "body": request.body })).into_response()
}

/// The API and operation a sample request is for: `api` names the API
/// (needed only when several have the operation); else the one that has it.
fn sample_operation<'s>(
    snapshot: &'s Snapshot,
    api: Option<&str>,
    operation: &str,
) -> Result<(&'s Api, usize), (StatusCode, Value)> {
    let names = |apis: Vec<&Api>| -> Vec<String> { apis.iter().map(|a| a.name.clone()).collect() };
    if let Some(name) = api.filter(|name| snapshot.api(name).is_none()) {
        let known = names(snapshot.apis.iter().map(|a| &**a).collect());
        let error = format!("no API `{name}`: the APIs are `{}`", known.join("`, `"));
        return Err((
            StatusCode::BAD_REQUEST,
            json!({ "error": error, "apis": known }),
        ));
    }
    let searched: Vec<&Api> = snapshot
        .apis
        .iter()
        .map(|a| &**a)
        .filter(|candidate| api.is_none_or(|name| candidate.name == name))
        .collect();
    let found: Vec<(&Api, usize)> = searched
        .iter()
        .filter_map(|api| {
            let index = api.model.operation_index(operation)?;
            Some((*api, index))
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => {
            let keys: Vec<&str> = searched
                .iter()
                .flat_map(|api| api.model.operations.iter().map(|op| op.key.as_str()))
                .collect();
            let error = format!("no operation `{operation}`");
            Err((
                StatusCode::NOT_FOUND,
                json!({ "error": error, "operations": keys }),
            ))
        }
        several => {
            let apis = names(several.iter().map(|(api, _)| *api).collect());
            let error = format!(
                "APIs `{}` all have operation `{operation}`: choose one with api=NAME",
                apis.join("`, `")
            );
            Err((
                StatusCode::BAD_REQUEST,
                json!({ "error": error, "apis": apis }),
            ))
        }
    }
}

/// Headers as a curl config file (`curl -K FILE`): one `header = "…"` line
/// each, with `\\` and `"` escaped as curl reads them.
fn curl_config_headers(headers: &[(String, String)]) -> String {
    let mut config = String::new();
    for (name, value) in headers {
        let line = format!("{name}: {value}")
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        config.push_str(&format!("header = \"{line}\"\n"));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::curl_config_headers;

    #[test]
    fn headers_are_written_as_curl_reads_its_config() {
        let config = curl_config_headers(&[
            ("Ssp-To".to_string(), "918999198993".to_string()),
            ("X-Odd".to_string(), r#"a "quoted" \ value"#.to_string()),
        ]);
        assert_eq!(
            config,
            "header = \"Ssp-To: 918999198993\"\nheader = \"X-Odd: a \\\"quoted\\\" \\\\ value\"\n"
        );
    }
}

//! What a metadata answer advertises, against what the API serves.

use crate::snapshot::Api;

/// What a Conformance / CapabilityStatement answer claims that the API does
/// not serve: each `rest.resource` interaction must have its route, each
/// `rest.operation` an operation path, each `format` be JSON or XML.
/// (pointer, message) pairs; empty for any other answer.
pub(super) fn unserved_capabilities(api: &Api, body: &serde_json::Value) -> Vec<(String, String)> {
    use http::Method;
    let mut out = Vec::new();
    let kind = body.get("resourceType").and_then(|v| v.as_str());
    if !matches!(kind, Some("Conformance" | "CapabilityStatement")) {
        return out;
    }
    let base = api.base_path.trim_end_matches('/');
    // Routed as the request path routes it: a `vread` is served by the
    // read of its resource (`versions::lookup`).
    let served = |method: Method, path: String| {
        matches!(
            crate::versions::lookup(&api.routes, &method, &path).0,
            crate::routes::Lookup::Found { .. }
        )
    };
    for (index, format) in body
        .get("format")
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let text = format.as_str().unwrap_or_default();
        if !(text.contains("json") || text.contains("xml")) {
            out.push((
                format!("/format/{index}"),
                format!("advertises format {text:?}, which is not served (JSON and XML are)"),
            ));
        }
    }
    let rests = body
        .get("rest")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten();
    for (r, rest) in rests.enumerate() {
        let resources = rest
            .get("resource")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten();
        for (i, resource) in resources.enumerate() {
            let Some(kind) = resource.get("type").and_then(|t| t.as_str()) else {
                continue;
            };
            let interactions = resource
                .get("interaction")
                .and_then(|i| i.as_array())
                .into_iter()
                .flatten();
            for (j, interaction) in interactions.enumerate() {
                let code = interaction
                    .get("code")
                    .and_then(|c| c.as_str())
                    .unwrap_or_default();
                let (method, path) = match code {
                    "read" => (Method::GET, format!("{base}/{kind}/1")),
                    "vread" => (Method::GET, format!("{base}/{kind}/1/_history/1")),
                    "update" => (Method::PUT, format!("{base}/{kind}/1")),
                    "patch" => (Method::PATCH, format!("{base}/{kind}/1")),
                    "delete" => (Method::DELETE, format!("{base}/{kind}/1")),
                    "history-instance" => (Method::GET, format!("{base}/{kind}/1/_history")),
                    "create" => (Method::POST, format!("{base}/{kind}")),
                    "search-type" => (Method::GET, format!("{base}/{kind}")),
                    "history-type" => (Method::GET, format!("{base}/{kind}/_history")),
                    _ => continue,
                };
                // A type search may be served as a search of the Patient
                // compartment only (Access Document's DocumentReference:
                // `GET Patient/{id}/DocumentReference`).
                let compartment = code == "search-type"
                    && served(Method::GET, format!("{base}/Patient/1/{kind}"));
                if !compartment && !served(method.clone(), path.clone()) {
                    out.push((
                        format!("/rest/{r}/resource/{i}/interaction/{j}/code"),
                        format!("advertises {kind} `{code}` ({method} {path}), which the definition does not serve"),
                    ));
                }
            }
        }
        let operations = rest
            .get("operation")
            .and_then(|o| o.as_array())
            .into_iter()
            .flatten();
        for (i, operation) in operations.enumerate() {
            let name = operation
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default();
            let wanted = format!("${}", name.trim_start_matches('$'));
            let found = api
                .model
                .operations
                .iter()
                .any(|op| op.full_path.rsplit('/').next() == Some(wanted.as_str()));
            if !found {
                out.push((
                    format!("/rest/{r}/operation/{i}/name"),
                    format!("advertises operation `{wanted}`, which the definition does not serve"),
                ));
            }
        }
    }
    out
}

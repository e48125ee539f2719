//! The Spine Secure Proxy's checks of a request in its form
//! `/{provider endpoint URL}/{FHIR request}` (DOMAIN-STU3 §4), in the
//! proxy's order, each refusal in the proxy's own OperationOutcome shape
//! (not profiled, with an `id`; coding system
//! `http://fhir.nhs.net/ValueSet/gpconnect-schedule-response-code-1-0`,
//! code = the HTTP status, display = diagnostics):
//!
//! 1. `Content-Type`, when given, is a FHIR (or plain JSON/XML) media
//!    type — else 415 `Unsupported_Media_Type`;
//! 2. `Ssp-From` is a known consumer — else 403
//!    `ASID_CHECK_FAILED_MESSAGESENDER_<asid>`;
//! 3. the consumer may call `Ssp-InteractionID`, and the directory holds
//!    an endpoint of provider `Ssp-To` for it — else 403
//!    `PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_<asid>`;
//! 4. the target URL starts with exactly that endpoint (no `:443`, no IP
//!    for a name) — else 400
//!    `ENDPOINT_<sds url>_CPAID_<id>_VARIES_FROM_TARGETURL_<url>`;
//! 5. a mounted API serves the endpoint — else 502
//!    `ERROR_COMMUNICATING_TO_ENDPOINT_URL_<url>`.
//!
//! A request that passes is handed on unchanged but for its path: the
//! serving API's base path and the rest of the target URL.

use http::StatusCode;
use serde_json::json;

use super::{Entry, Spine};
use crate::answer::Answer;
use crate::media::media_essence;
use crate::request::MockRequest;

/// The proxy's coding system.
pub const SSP_CODE_SYSTEM: &str =
    "http://fhir.nhs.net/ValueSet/gpconnect-schedule-response-code-1-0";

/// Media types the proxy passes on.
const MEDIA_TYPES: [&str; 6] = [
    "application/fhir+json",
    "application/fhir+xml",
    "application/json+fhir",
    "application/xml+fhir",
    "application/json",
    "application/xml",
];

/// The target URL of a path in the proxy's form, its scheme's `//`
/// restored when something on the way collapsed it (`/https:/host/…`).
pub fn target_url(path: &str) -> Option<String> {
    for scheme in ["https:", "http:"] {
        if let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(scheme)) {
            let rest = rest.trim_start_matches('/');
            if rest.is_empty() || rest.starts_with('/') {
                return None;
            }
            return Some(format!("{scheme}//{rest}"));
        }
    }
    None
}

/// The proxy's checks (see the module documentation): the request as the
/// provider receives it, or the proxy's refusal.
pub fn check(
    spine: &Spine,
    request: &MockRequest,
    target: &str,
) -> Result<MockRequest, Box<Answer>> {
    if let Some(content_type) = request.header("content-type") {
        let essence = media_essence(content_type);
        if !MEDIA_TYPES.contains(&essence.as_str()) {
            return Err(Box::new(refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not-supported",
                "Unsupported_Media_Type".to_string(),
            )));
        }
    }
    let header = |name: &str| request.header(name).map(str::trim).unwrap_or("");
    let from = header("ssp-from");
    let to = header("ssp-to");
    let interaction = header("ssp-interactionid");
    let Some(consumer) = spine.consumer(from) else {
        tracing::info!(ssp_from = from, "proxy: Ssp-From is no known consumer ASID");
        return Err(Box::new(forbidden(format!(
            "ASID_CHECK_FAILED_MESSAGESENDER_{from}"
        ))));
    };
    let receiver = || {
        forbidden(format!(
            "PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_{to}"
        ))
    };
    if !consumer.allows(interaction) {
        tracing::info!(
            ssp_from = from,
            interaction,
            "proxy: the consumer may not call this interaction"
        );
        return Err(Box::new(receiver()));
    }
    let entries: Vec<&Entry> = spine.lookup(to, interaction).collect();
    let matched = entries
        .iter()
        .find_map(|entry| rest_after(target, &entry.endpoint).map(|rest| (*entry, rest)));
    let (entry, rest) = match (matched, entries.first()) {
        (Some(found), _) => found,
        (None, Some(entry)) => {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!(
                    "ENDPOINT_{}_CPAID_{}_VARIES_FROM_TARGETURL_{target}",
                    entry.endpoint,
                    entry.cpa_id(interaction)
                ),
            )));
        }
        (None, None) => {
            tracing::info!(
                ssp_to = to,
                interaction,
                "proxy: the directory holds no endpoint of Ssp-To for this interaction"
            );
            return Err(Box::new(receiver()));
        }
    };
    if entry.api.is_none() {
        return Err(Box::new(refusal(
            StatusCode::BAD_GATEWAY,
            "transient",
            format!("ERROR_COMMUNICATING_TO_ENDPOINT_URL_{}", entry.endpoint),
        )));
    }
    let path = format!(
        "{}{}",
        entry.base_path,
        if rest.is_empty() { "/" } else { rest }
    );
    Ok(request.with_path(&path))
}

/// What follows `endpoint` in `target`, when `target` starts with it on a
/// segment boundary.
fn rest_after<'t>(target: &'t str, endpoint: &str) -> Option<&'t str> {
    target
        .strip_prefix(endpoint)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn forbidden(display: String) -> Answer {
    refusal(StatusCode::FORBIDDEN, "forbidden", display)
}

/// The proxy's OperationOutcome.
pub fn refusal(status: StatusCode, issue: &str, display: String) -> Answer {
    let body = json!({
        "resourceType": "OperationOutcome",
        "id": uuid::Uuid::new_v4().to_string(),
        "issue": [{
            "severity": "error",
            "code": issue,
            "details": { "coding": [{
                "system": SSP_CODE_SYSTEM,
                "code": status.as_u16().to_string(),
                "display": display,
            }]},
            "diagnostics": display,
        }]
    });
    super::fhir_json(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spine::{Allowed, Consumer};
    use bytes::Bytes;
    use http::{HeaderMap, Method};

    fn spine() -> Spine {
        let entry = |asid: &str, endpoint: &str, api: Option<&str>| Entry {
            asid: asid.into(),
            ods_code: Some("B82617".into()),
            party_key: "B82617-1234567".into(),
            endpoint: endpoint.into(),
            interactions: vec!["urn:read".into(), "urn:write".into()],
            api: api.map(str::to_string),
            base_path: "/B82617/fhir".into(),
        };
        Spine {
            entries: vec![
                entry("1", "https://p.example/B82617/fhir", Some("api")),
                entry("2", "https://gone.example/x", None),
            ],
            consumers: vec![Consumer {
                asid: "9".into(),
                interactions: Allowed::Only(vec!["urn:read".into()]),
            }],
            apikey: None,
        }
    }

    fn request(path: &str, headers: &[(&str, &str)]) -> MockRequest {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        MockRequest::new(Method::GET, path, map, Bytes::new())
    }

    fn display(answer: &Answer) -> String {
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        body["issue"][0]["details"]["coding"][0]["display"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn target_urls_are_read_with_collapsed_slashes_too() {
        assert_eq!(
            target_url("/https://p.example/a").as_deref(),
            Some("https://p.example/a")
        );
        assert_eq!(
            target_url("/https:/p.example/a").as_deref(),
            Some("https://p.example/a")
        );
        assert_eq!(target_url("/fhir/metadata"), None);
        assert_eq!(target_url("/https:/"), None);
    }

    #[test]
    fn each_check_refuses_in_the_proxys_words() {
        let spine = spine();
        let ok = [
            ("ssp-from", "9"),
            ("ssp-to", "1"),
            ("ssp-interactionid", "urn:read"),
        ];
        let path = "/https://p.example/B82617/fhir/metadata?x=1";
        let forwarded = check(
            &spine,
            &request(path, &ok),
            "https://p.example/B82617/fhir/metadata",
        )
        .unwrap();
        assert_eq!(forwarded.path, "/B82617/fhir/metadata");
        assert_eq!(forwarded.raw_query, "x=1");

        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, u16, &'a str);
        let cases: [Case; 5] = [
            (
                &[
                    ("ssp-from", "8"),
                    ("ssp-to", "1"),
                    ("ssp-interactionid", "urn:read"),
                ],
                "https://p.example/B82617/fhir/metadata",
                403,
                "ASID_CHECK_FAILED_MESSAGESENDER_8",
            ),
            (
                &[
                    ("ssp-from", "9"),
                    ("ssp-to", "1"),
                    ("ssp-interactionid", "urn:write"),
                ],
                "https://p.example/B82617/fhir/metadata",
                403,
                "PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_1",
            ),
            (
                &[
                    ("ssp-from", "9"),
                    ("ssp-to", "7"),
                    ("ssp-interactionid", "urn:read"),
                ],
                "https://p.example/B82617/fhir/metadata",
                403,
                "PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_7",
            ),
            (
                &ok,
                "https://p.example:443/B82617/fhir/metadata",
                400,
                "ENDPOINT_https://p.example/B82617/fhir_CPAID_",
            ),
            (
                &[
                    ("ssp-from", "9"),
                    ("ssp-to", "2"),
                    ("ssp-interactionid", "urn:read"),
                ],
                "https://gone.example/x/metadata",
                502,
                "ERROR_COMMUNICATING_TO_ENDPOINT_URL_https://gone.example/x",
            ),
        ];
        for (headers, target, status, needle) in cases {
            let answer = check(&spine, &request(path, headers), target).unwrap_err();
            assert_eq!(answer.status.as_u16(), status, "{needle}");
            assert!(display(&answer).starts_with(needle), "{}", display(&answer));
        }
        let mut with_type = ok.to_vec();
        with_type.push(("content-type", "text/plain"));
        let answer = check(
            &spine,
            &request(path, &with_type),
            "https://p.example/B82617/fhir",
        )
        .unwrap_err();
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(display(&answer), "Unsupported_Media_Type");
    }
}

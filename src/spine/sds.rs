//! The Spine Directory Service's FHIR R4 API (DOMAIN-STU3 §4), served at
//! [`super::DIRECTORY_BASE`] from the snapshot's directory ([`Spine`]):
//!
//! - `GET /Device?organization=https://fhir.nhs.uk/Id/ods-organization-code|ODS
//!   &identifier=https://fhir.nhs.uk/Id/nhsServiceInteractionId|ID
//!   [&identifier=https://fhir.nhs.uk/Id/nhsMhsPartyKey|KEY][&manufacturing-organization=…|ODS]`:
//!   the provider systems (ASID, party key, interactions);
//! - `GET /Endpoint` with organization + interaction [+ party key],
//!   organization + party key, or interaction + party key: one Endpoint
//!   per matching endpoint and interaction (address = the endpoint URL).
//!
//! Answers are searchset Bundles (`total`, `search.mode` match; no match:
//! 200 and an empty Bundle). The `apikey` header is required (401 when
//! missing or empty, 403 when it is not `--sds-apikey`); bad or missing
//! parameters are 400 BAD_REQUEST; another path 404; another method 405
//! with `Allow: GET`. The manufacturing organisation of a device is its
//! own ODS code (the mock makes its providers' systems itself).

use http::{HeaderValue, Method, StatusCode};
use serde_json::{json, Value};

use super::{Entry, Spine, DIRECTORY_BASE};
use crate::answer::Answer;
use crate::request::MockRequest;

const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const INTERACTION: &str = "https://fhir.nhs.uk/Id/nhsServiceInteractionId";
const PARTY_KEY: &str = "https://fhir.nhs.uk/Id/nhsMhsPartyKey";
const ASID: &str = "https://fhir.nhs.uk/Id/nhsSpineASID";
const FQDN: &str = "https://fhir.nhs.uk/Id/nhsMhsFQDN";
const CPA_ID: &str = "https://fhir.nhs.uk/Id/nhsMhsCPAId";
const EXT_MANUFACTURER: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-SDS-ManufacturingOrganisation";
const EXT_INTERACTION: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-SDS-NhsServiceInteractionId";
const ERROR_SYSTEM: &str = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode";

/// Whether `path` is the directory's.
pub fn serves(path: &str) -> bool {
    path.strip_prefix(DIRECTORY_BASE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The parameters of a search, read.
#[derive(Debug, Default, PartialEq, Eq)]
struct Query {
    organization: Option<String>,
    interaction: Option<String>,
    party_key: Option<String>,
    manufacturer: Option<String>,
}

/// The directory's answer to a request for its path.
pub fn answer(spine: &Spine, request: &MockRequest) -> Answer {
    match request.header("apikey").map(str::trim) {
        None | Some("") => {
            return error(
                StatusCode::UNAUTHORIZED,
                "forbidden",
                "ACCESS_DENIED",
                "the apikey header is required",
            )
        }
        Some(key) if spine.apikey.as_deref().is_some_and(|wanted| wanted != key) => {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "ACCESS_DENIED",
                "the apikey header is not the key this directory accepts",
            )
        }
        Some(_) => {}
    }
    let resource = request.path[DIRECTORY_BASE.len()..].trim_end_matches('/');
    if !matches!(resource, "/Device" | "/Endpoint") {
        return error(
            StatusCode::NOT_FOUND,
            "not-found",
            "NOT_FOUND",
            &format!(
                "{} is not a resource of this API: search /Device or /Endpoint",
                request.path
            ),
        );
    }
    if request.method != Method::GET {
        let mut answer = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "not-supported",
            "METHOD_NOT_ALLOWED",
            &format!("method {} is not allowed: only GET", request.method),
        );
        answer
            .headers
            .insert(http::header::ALLOW, HeaderValue::from_static("GET"));
        return answer;
    }
    let query = match read_query(request) {
        Ok(query) => query,
        Err(message) => return bad_request(&message),
    };
    let resources = if resource == "/Device" {
        if query.organization.is_none() || query.interaction.is_none() {
            return bad_request("a Device search needs organization and an identifier with the nhsServiceInteractionId system");
        }
        devices(spine, &query)
    } else {
        let combination = (
            query.organization.is_some(),
            query.interaction.is_some(),
            query.party_key.is_some(),
        );
        if !matches!(
            combination,
            (true, true, _) | (true, _, true) | (_, true, true)
        ) {
            return bad_request("an Endpoint search needs two of organization, an nhsServiceInteractionId identifier and an nhsMhsPartyKey identifier");
        }
        if query.manufacturer.is_some() {
            return bad_request("manufacturing-organization is a parameter of Device searches");
        }
        endpoints(spine, &query)
    };
    let bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "searchset",
        "total": resources.len(),
        "entry": resources.into_iter().map(|(url, resource)| json!({
            "fullUrl": url,
            "resource": resource,
            "search": { "mode": "match" },
        })).collect::<Vec<_>>(),
    });
    super::fhir_json(StatusCode::OK, &bundle)
}

fn read_query(request: &MockRequest) -> Result<Query, String> {
    let mut query = Query::default();
    let set = |slot: &mut Option<String>, name: &str, value: &str| {
        if slot.is_some() {
            return Err(format!("{name} is given twice"));
        }
        *slot = Some(value.to_string());
        Ok(())
    };
    for (name, value) in &request.query {
        let (system, code) = value
            .split_once('|')
            .filter(|(_, code)| !code.trim().is_empty())
            .ok_or_else(|| format!("{name}={value}: give system|value"))?;
        match (name.as_str(), system) {
            ("organization", ODS) => set(&mut query.organization, "organization", code)?,
            ("manufacturing-organization", ODS) => {
                set(&mut query.manufacturer, "manufacturing-organization", code)?;
            }
            ("identifier", INTERACTION) => {
                set(&mut query.interaction, "the interaction identifier", code)?;
            }
            ("identifier", PARTY_KEY) => {
                set(&mut query.party_key, "the party key identifier", code)?
            }
            ("organization" | "manufacturing-organization", _) => {
                return Err(format!("{name}: the system must be {ODS}, was {system}"));
            }
            ("identifier", _) => {
                return Err(format!(
                    "identifier: the system must be {INTERACTION} or {PARTY_KEY}, was {system}"
                ));
            }
            _ => return Err(format!("{name} is not a parameter of this search")),
        }
    }
    Ok(query)
}

fn matches(entry: &Entry, query: &Query, interaction_needed: bool) -> bool {
    let ods = entry.ods_code.as_deref();
    query
        .organization
        .as_deref()
        .is_none_or(|org| ods == Some(org))
        && query
            .manufacturer
            .as_deref()
            .is_none_or(|org| ods == Some(org))
        && query
            .party_key
            .as_deref()
            .is_none_or(|key| key == entry.party_key)
        && (!interaction_needed
            || query
                .interaction
                .as_deref()
                .is_none_or(|id| entry.interactions.iter().any(|i| i == id)))
}

/// One Device per provider system (ASID and party key) with an endpoint
/// that matches; its interactions those of all its endpoints.
fn devices(spine: &Spine, query: &Query) -> Vec<(String, Value)> {
    let same = |a: &Entry, b: &Entry| a.asid == b.asid && a.party_key == b.party_key;
    let mut systems: Vec<(&Entry, Vec<&str>)> = Vec::new();
    for entry in spine
        .entries
        .iter()
        .filter(|entry| matches(entry, query, true))
    {
        if systems.iter().any(|(seen, _)| same(seen, entry)) {
            continue;
        }
        let mut interactions: Vec<&str> = Vec::new();
        for id in spine
            .entries
            .iter()
            .filter(|other| same(other, entry))
            .flat_map(|other| other.interactions.iter())
        {
            if !interactions.contains(&id.as_str()) {
                interactions.push(id);
            }
        }
        systems.push((entry, interactions));
    }
    systems
        .into_iter()
        .map(|(entry, interactions)| {
            let ods = entry.ods_code.as_deref().unwrap_or("");
            let id = format!("device-{}", entry.asid);
            let mut extension = vec![json!({
                "url": EXT_MANUFACTURER,
                "valueReference": { "identifier": { "system": ODS, "value": ods } },
            })];
            extension.extend(interactions.iter().map(|interaction| {
                json!({
                    "url": EXT_INTERACTION,
                    "valueReference": { "identifier": { "system": INTERACTION, "value": interaction } },
                })
            }));
            let device = json!({
                "resourceType": "Device",
                "id": id,
                "extension": extension,
                "identifier": [
                    { "system": ASID, "value": entry.asid },
                    { "system": PARTY_KEY, "value": entry.party_key },
                ],
                "owner": { "identifier": { "system": ODS, "value": ods } },
            });
            (format!("{DIRECTORY_BASE}/Device/{id}"), device)
        })
        .collect()
}

/// One Endpoint per matching entry and interaction.
fn endpoints(spine: &Spine, query: &Query) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in spine
        .entries
        .iter()
        .filter(|entry| matches(entry, query, true))
    {
        let ods = entry.ods_code.as_deref().unwrap_or("");
        for interaction in entry.interactions.iter().filter(|id| {
            query
                .interaction
                .as_deref()
                .is_none_or(|wanted| wanted == id.as_str())
        }) {
            let cpa_id = entry.cpa_id(interaction);
            let endpoint = json!({
                "resourceType": "Endpoint",
                "id": cpa_id,
                "status": "active",
                "connectionType": {
                    "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                    "code": "hl7-fhir-rest",
                    "display": "HL7 FHIR",
                },
                "payloadType": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type",
                    "code": "any",
                    "display": "Any",
                }]}],
                "address": entry.endpoint,
                "managingOrganization": { "identifier": { "system": ODS, "value": ods } },
                "identifier": [
                    { "system": FQDN, "value": entry.fqdn() },
                    { "system": PARTY_KEY, "value": entry.party_key },
                    { "system": CPA_ID, "value": cpa_id },
                ],
                "extension": [{
                    "url": EXT_INTERACTION,
                    "valueReference": { "identifier": { "system": INTERACTION, "value": interaction } },
                }],
            });
            out.push((format!("{DIRECTORY_BASE}/Endpoint/{cpa_id}"), endpoint));
        }
    }
    out
}

fn bad_request(diagnostics: &str) -> Answer {
    error(
        StatusCode::BAD_REQUEST,
        "invalid",
        "BAD_REQUEST",
        diagnostics,
    )
}

/// The directory's OperationOutcome.
fn error(status: StatusCode, issue: &str, code: &str, diagnostics: &str) -> Answer {
    let body = json!({
        "resourceType": "OperationOutcome",
        "id": uuid::Uuid::new_v4().to_string(),
        "issue": [{
            "severity": "error",
            "code": issue,
            "details": { "coding": [{
                "system": ERROR_SYSTEM,
                "version": "1",
                "code": code,
                "display": display(status),
            }]},
            "diagnostics": diagnostics,
        }]
    });
    super::fhir_json(status, &body)
}

fn display(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "400: The Server was unable to process the request.",
        401 => "401: Access denied: no apikey.",
        403 => "403: Access denied.",
        404 => "404: Resource not found.",
        405 => "405: Method not allowed.",
        _ => "The request failed.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spine::{Allowed, Consumer};
    use bytes::Bytes;
    use http::HeaderMap;

    fn spine() -> Spine {
        let entry = |asid: &str, ods: &str, endpoint: &str, ids: &[&str]| Entry {
            asid: asid.into(),
            ods_code: Some(ods.into()),
            party_key: format!("{ods}-{asid}"),
            endpoint: endpoint.into(),
            interactions: ids.iter().map(|id| id.to_string()).collect(),
            api: Some("api".into()),
            base_path: String::new(),
        };
        Spine {
            entries: vec![
                entry("1", "B82617", "https://p.example/a", &["urn:a", "urn:b"]),
                entry("1", "B82617", "https://p.example/c", &["urn:c"]),
                entry("2", "A11111", "https://q.example/a", &["urn:a"]),
            ],
            consumers: vec![Consumer {
                asid: "9".into(),
                interactions: Allowed::Any,
            }],
            apikey: Some("secret".into()),
        }
    }

    fn get(spine: &Spine, target: &str, key: Option<&str>) -> (u16, Value) {
        let mut headers = HeaderMap::new();
        if let Some(key) = key {
            headers.insert("apikey", key.parse().unwrap());
        }
        let request = MockRequest::new(
            Method::GET,
            &format!("{DIRECTORY_BASE}{target}"),
            headers,
            Bytes::new(),
        );
        let answer = answer(spine, &request);
        (
            answer.status.as_u16(),
            serde_json::from_slice(&answer.body).unwrap(),
        )
    }

    #[test]
    fn devices_and_endpoints_are_found_by_the_documented_parameters() {
        let spine = spine();
        let org = "organization=https://fhir.nhs.uk/Id/ods-organization-code|B82617";
        let id = |i: &str| format!("identifier=https://fhir.nhs.uk/Id/nhsServiceInteractionId|{i}");
        let key = |k: &str| format!("identifier=https://fhir.nhs.uk/Id/nhsMhsPartyKey|{k}");
        let (status, body) = get(
            &spine,
            &format!("/Device?{org}&{}", id("urn:c")),
            Some("secret"),
        );
        assert_eq!(status, 200);
        assert_eq!(body["total"], 1);
        let device = &body["entry"][0]["resource"];
        assert_eq!(device["identifier"][0]["value"], "1");
        // The system's interactions from both endpoints: manufacturer + 3.
        assert_eq!(device["extension"].as_array().unwrap().len(), 4);

        let (_, body) = get(
            &spine,
            &format!("/Endpoint?{org}&{}", id("urn:b")),
            Some("secret"),
        );
        assert_eq!(body["total"], 1);
        assert_eq!(
            body["entry"][0]["resource"]["address"],
            "https://p.example/a"
        );
        let (_, body) = get(
            &spine,
            &format!("/Endpoint?{org}&{}", key("B82617-1")),
            Some("secret"),
        );
        assert_eq!(body["total"], 3);
        let (_, body) = get(
            &spine,
            &format!("/Endpoint?{}&{}", id("urn:a"), key("A11111-2")),
            Some("secret"),
        );
        assert_eq!(body["total"], 1);
        assert_eq!(
            body["entry"][0]["resource"]["address"],
            "https://q.example/a"
        );
        let (status, body) = get(
            &spine,
            &format!("/Device?{org}&{}", id("urn:zzz")),
            Some("secret"),
        );
        assert_eq!((status, body["total"].as_u64()), (200, Some(0)));
    }

    #[test]
    fn refusals() {
        let spine = spine();
        let org = "organization=https://fhir.nhs.uk/Id/ods-organization-code|B82617";
        let cases = [
            ("/Device?".to_string() + org, None, 401),
            ("/Device?".to_string() + org, Some("wrong"), 403),
            ("/Device?".to_string() + org, Some("secret"), 400),
            ("/Endpoint?".to_string() + org, Some("secret"), 400),
            (
                "/Device?organization=B82617".to_string(),
                Some("secret"),
                400,
            ),
            (format!("/Device?{org}&colour=red"), Some("secret"), 400),
            ("/Patient".to_string(), Some("secret"), 404),
        ];
        for (target, key, status) in cases {
            let (got, body) = get(&spine, &target, key);
            assert_eq!(got, status, "{target}: {body}");
            assert_eq!(body["resourceType"], "OperationOutcome");
        }
    }
}

//! Valid GP Connect (DSTU2) requests for the default definition: the five
//! SSP headers and a fresh unsigned JWT per call, with the claims of
//! DOMAIN.md §4 for the operation's scope.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

pub const PROVIDER_ASID: &str = "918999198993";
pub const CONSUMER_ASID: &str = "200000000359";
pub const FHIR_JSON: &str = "application/json+fhir";
const URN: &str = "urn:nhs:names:services:gpconnect:fhir:";

/// (operation key, interaction id suffix, patient-centred?, write?)
const OPERATIONS: &[(&str, &str, bool, bool)] = &[
    ("Metadata_Metadata", "rest:read:metadata", false, false),
    (
        "PatientIdentifier_SearchByIdentifier",
        "rest:search:patient",
        true,
        false,
    ),
    ("Patient_Read", "rest:read:patient", true, false),
    (
        "PatientCompartment_Appointment",
        "rest:search:patient_appointments",
        true,
        false,
    ),
    (
        "PatientOperation_GetCareRecord",
        "operation:gpc.getcarerecord",
        true,
        false,
    ),
    (
        "PractitionerIdentifier_SearchByIdentifier",
        "rest:search:practitioner",
        false,
        false,
    ),
    ("Practitioner_Read", "rest:read:practitioner", false, false),
    (
        "OrganizationIdentifier_SearchByIdentifier",
        "rest:search:organization",
        false,
        false,
    ),
    ("Organization_Read", "rest:read:organization", false, false),
    (
        "OrganizationOperation_GetSchedule",
        "operation:gpc.getschedule",
        false,
        false,
    ),
    (
        "OrganizationOperation_GetScheduleInstance",
        "operation:gpc.getschedule",
        false,
        false,
    ),
    ("Location_Read", "rest:read:location", false, false),
    ("Appointment_Create", "rest:create:appointment", true, true),
    ("Appointment_Read", "rest:read:appointment", true, false),
    ("Appointment_Update", "rest:update:appointment", true, true),
    ("Order_Create", "rest:create:order", true, true),
];

/// The interaction id of an operation of the default definition.
pub fn interaction_id(operation: &str) -> String {
    let (_, suffix, _, _) = lookup(operation);
    format!("{URN}{suffix}")
}

fn lookup(operation: &str) -> (&'static str, &'static str, bool, bool) {
    *OPERATIONS
        .iter()
        .find(|(key, ..)| *key == operation)
        .unwrap_or_else(|| panic!("unknown operation {operation}"))
}

/// The JWT claims a valid request of `operation` carries (DSTU2).
pub fn claims(operation: &str, nhs_number: &str) -> Value {
    let (_, _, patient, write) = lookup(operation);
    let now = chrono::Utc::now().timestamp();
    let scope = format!(
        "{}/*.{}",
        if patient { "patient" } else { "organization" },
        if write { "write" } else { "read" }
    );
    let record = if patient {
        json!({"resourceType": "Patient", "identifier": [{"system": "http://fhir.nhs.net/Id/nhs-number", "value": nhs_number}]})
    } else {
        json!({"resourceType": "Organization", "identifier": [{"system": "http://fhir.nhs.net/Id/ods-organization-code", "value": "A20047"}]})
    };
    json!({
        "iss": "http://gpconnect-consumer.example.org",
        "sub": "1",
        "aud": "https://authorize.fhir.nhs.net/token",
        "exp": now + 300,
        "iat": now,
        "reason_for_request": "directcare",
        "requested_scope": scope,
        "requested_record": record,
        "requesting_device": {
            "resourceType": "Device", "id": "1",
            "identifier": [{"system": "GPConnectTestSystem", "value": "Client"}],
            "model": "gpconnect-mock tests", "version": "1.0"
        },
        "requesting_organization": {
            "resourceType": "Organization", "id": "1",
            "identifier": [{"system": "http://fhir.nhs.net/Id/ods-organization-code", "value": "GPCA0001"}],
            "name": "GP Connect Assurance"
        },
        "requesting_practitioner": {
            "resourceType": "Practitioner", "id": "1",
            "name": {"family": ["Assurance"], "given": ["GP Connect"], "prefix": ["Mr"]},
            "identifier": [
                {"system": "http://fhir.nhs.net/sds-user-id", "value": "GCASDS0001"},
                {"system": "LocalIdentifierSystem", "value": "1"}
            ],
            "practitionerRole": [{"role": {"coding": [{"system": "http://fhir.nhs.net/ValueSet/sds-job-role-name-1", "code": "AssuranceJobRole"}]}}]
        }
    })
}

/// An unsigned JWT (`alg: none`, empty signature) carrying `claims`.
pub fn jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// The five GP Connect headers for `operation`, with a JWT for `nhs_number`.
pub fn headers(operation: &str, nhs_number: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Ssp-TraceID", uuid::Uuid::new_v4().to_string()),
        ("Ssp-From", CONSUMER_ASID.to_string()),
        ("Ssp-To", PROVIDER_ASID.to_string()),
        ("Ssp-InteractionID", interaction_id(operation)),
        (
            "Authorization",
            format!("Bearer {}", jwt(&claims(operation, nhs_number))),
        ),
        ("Accept", FHIR_JSON.to_string()),
    ]
}

/// A request builder carrying valid GP Connect headers for `operation`
/// (patient 9658218873 in the JWT; use `request_for` for another).
pub fn request(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    operation: &str,
) -> RequestBuilder {
    request_for(client, method, url, operation, "9658218873")
}

pub fn request_for(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    operation: &str,
    nhs_number: &str,
) -> RequestBuilder {
    let mut builder = client.request(method, url);
    for (name, value) in headers(operation, nhs_number) {
        builder = builder.header(name, value);
    }
    builder
}

/// A FHIR Parameters body for `$gpc.getcarerecord`.
/// A valid booking of `slot` (a Slot resource) for Patient/2 at Location/1.
pub fn booking(slot: &Value) -> Value {
    json!({
        "resourceType": "Appointment",
        "status": "booked",
        "description": "Sore throat",
        "start": slot["start"],
        "end": slot["end"],
        "slot": [{"reference": format!("Slot/{}", slot["id"].as_str().unwrap_or(""))}],
        "participant": [
            {"actor": {"reference": "Patient/2"}, "status": "accepted"},
            {"actor": {"reference": "Practitioner/1"}, "status": "accepted"},
            {"actor": {"reference": "Location/1"}, "status": "accepted"}
        ]
    })
}

/// A valid DSTU2 Order (Task Management) dated today: a GP Connect profile,
/// a subject, and a detail naming its contained task.
pub fn order() -> Value {
    json!({
        "resourceType": "Order",
        "meta": {"profile": ["http://fhir.nhs.net/StructureDefinition/gpconnect-task-order-1"]},
        "contained": [{"resourceType": "Basic", "id": "1", "code": {"text": "Call the patient"}}],
        "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        "subject": {"reference": "Patient/2"},
        "source": {"reference": "Organization/1"},
        "target": {"reference": "Organization/7"},
        "reasonCodeableConcept": {"text": "Please call the patient"},
        "detail": [{"reference": "#1"}]
    })
}

/// The extension a DSTU2 cancel must carry (rule appointment-cancel-reason).
pub fn cancellation_reason(reason: &str) -> Value {
    json!([{
        "url": "http://fhir.nhs.net/StructureDefinition/extension-gpconnect-appointment-cancellation-reason-1",
        "valueString": reason
    }])
}

pub fn care_record_parameters(nhs_number: &str, section: &str) -> Value {
    json!({
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patientNHSNumber", "valueIdentifier": {"system": "http://fhir.nhs.net/Id/nhs-number", "value": nhs_number}},
            {"name": "recordSection", "valueCodeableConcept": {"coding": [{"system": "http://fhir.nhs.net/ValueSet/gpconnect-record-section-1", "code": section}]}}
        ]
    })
}

/// A FHIR Parameters body for `$gpc.getschedule` over the next `days` days.
pub fn schedule_parameters(ods_code: &str, days: i64) -> Value {
    let start = chrono::Utc::now();
    let end = start + chrono::Duration::days(days);
    json!({
        "resourceType": "Parameters",
        "parameter": [
            {"name": "odsCode", "valueIdentifier": {"system": "http://fhir.nhs.net/Id/ods-organization-code", "value": ods_code}},
            {"name": "timePeriod", "valuePeriod": {"start": start.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(), "end": end.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()}}
        ]
    })
}

/// The Spine code of an OperationOutcome answer ("" when there is none).
pub fn spine_code(body: &Value) -> &str {
    body["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or("")
}

/// The resources of a Bundle's entries of type `resource_type`.
pub fn entries_of<'a>(body: &'a Value, resource_type: &str) -> Vec<&'a Value> {
    body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| &entry["resource"])
        .filter(|resource| resource["resourceType"] == resource_type)
        .collect()
}

/// A GP Connect answer: status, headers, and the body as JSON.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads `response`; panics, naming `what` was asked, unless the body
    /// is JSON.
    pub async fn read(response: reqwest::Response, what: &str) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {text}"));
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// Sends a valid GP Connect request of `operation` (JWT for `nhs`), with
/// an optional FHIR JSON body; panics unless the answer is JSON.
pub async fn send(
    server: &crate::common::Server,
    method: Method,
    path: &str,
    operation: &str,
    nhs: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = request_for(
        &crate::common::client(),
        method,
        &server.url(path),
        operation,
        nhs,
    );
    if let Some(body) = body {
        request = request
            .header("Content-Type", FHIR_JSON)
            .body(body.to_string());
    }
    let response = request.send().await.expect("request");
    Reply::read(response, path).await
}

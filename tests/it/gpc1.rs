//! Valid GP Connect 1.x (STU3) requests for the default Foundations +
//! Appointment Management API at `/B82617/STU3/1/gpconnect/fhir` (practice
//! B82617, provider ASID 918999198738): the five SSP headers with the `-1`
//! interaction ids and a fresh unsigned JWT per call with the 1.x claims of
//! DOMAIN.md §4 (no `requested_record`). The Access Document API at
//! [`DOCUMENTS_BASE`] has operations of its own ([`DOCUMENT_OPERATIONS`]):
//! send them with [`send_to`].

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

pub use crate::gpc::{entries_of, jwt, spine_code, Reply, CONSUMER_ASID};

/// The 1.x Foundations + Appointments base path of the default mount.
pub const BASE: &str = "/B82617/STU3/1/gpconnect/fhir";
/// The Access Document base path of the default mount.
pub const DOCUMENTS_BASE: &str = "/B82617/STU3/1/gpconnect/documents/fhir";
/// The Access Record Structured base path of the default mount.
pub const STRUCTURED_BASE: &str = "/B82617/STU3/1/gpconnect/structured/fhir";
pub const PROVIDER_ASID: &str = "918999198738";
pub const ODS_CODE: &str = "B82617";
pub const FHIR_JSON: &str = "application/fhir+json";
const URN: &str = "urn:nhs:names:services:gpconnect:fhir:";
const DOCUMENTS_URN: &str = "urn:nhs:names:services:gpconnect:documents:fhir:";

/// (operation, interaction id suffix, patient-centred?, write?). The
/// operation names are the definition's `operationId`s, except amend and
/// cancel: one operation (`Appointment_Update`), two interactions.
const OPERATIONS: &[(&str, &str, bool, bool)] = &[
    ("Metadata_Read", "rest:read:metadata-1", false, false),
    ("Patient_Search", "rest:search:patient-1", true, false),
    ("Patient_Read", "rest:read:patient-1", true, false),
    (
        "Patient_Register",
        "operation:gpc.registerpatient-1",
        true,
        true,
    ),
    (
        "Patient_Appointments",
        "rest:search:patient_appointments-1",
        true,
        false,
    ),
    (
        "Practitioner_Search",
        "rest:search:practitioner-1",
        false,
        false,
    ),
    (
        "Practitioner_Read",
        "rest:read:practitioner-1",
        false,
        false,
    ),
    (
        "Organization_Search",
        "rest:search:organization-1",
        false,
        false,
    ),
    (
        "Organization_Read",
        "rest:read:organization-1",
        false,
        false,
    ),
    ("Location_Read", "rest:read:location-1", false, false),
    (
        "HealthcareService_Search",
        "rest:search:healthcareservice-1",
        false,
        false,
    ),
    (
        "HealthcareService_Read",
        "rest:read:healthcareservice-1",
        false,
        false,
    ),
    ("Slot_Search", "rest:search:slot-1", false, false),
    (
        "Appointment_Create",
        "rest:create:appointment-1",
        true,
        true,
    ),
    ("Appointment_Read", "rest:read:appointment-1", true, false),
    ("Appointment_Amend", "rest:update:appointment-1", true, true),
    (
        "Appointment_Cancel",
        "rest:cancel:appointment-1",
        true,
        true,
    ),
];

/// The Access Document operations, as [`OPERATIONS`]: the keys are the
/// documents definition's `operationId`s with a `Documents_` prefix (both
/// definitions have a `Metadata_Read` and a `Patient_Search`), except
/// retrieve and migrate: one operation (`Binary_Read`), two interactions.
pub const DOCUMENT_OPERATIONS: &[(&str, &str, bool, bool)] = &[
    (
        "Documents_Metadata_Read",
        "rest:read:metadata-1",
        false,
        false,
    ),
    (
        "Documents_Patient_Search",
        "rest:search:patient-1",
        true,
        false,
    ),
    (
        "Documents_DocumentReference_Search",
        "rest:search:documentreference-1",
        true,
        false,
    ),
    ("Documents_Binary_Read", "rest:read:binary-1", true, false),
    (
        "Documents_Binary_Migrate",
        "rest:migrate:binary-1",
        true,
        false,
    ),
];

/// The Access Record Structured operations, as [`OPERATIONS`]: keys with a
/// `Structured_` prefix; the suffixes follow `urn:nhs:names:services:gpconnect:`.
pub const STRUCTURED_OPERATIONS: &[(&str, &str, bool, bool)] = &[
    (
        "Structured_Metadata_Read",
        "structured:fhir:rest:read:metadata-1",
        false,
        false,
    ),
    (
        "Structured_GetStructuredRecord",
        "fhir:operation:gpc.getstructuredrecord-1",
        true,
        false,
    ),
    (
        "Structured_MigrateStructuredRecord",
        "fhir:operation:gpc.migratestructuredrecord-1",
        true,
        false,
    ),
];

fn lookup(operation: &str) -> (&'static str, &'static str, bool, bool) {
    *OPERATIONS
        .iter()
        .chain(DOCUMENT_OPERATIONS)
        .chain(STRUCTURED_OPERATIONS)
        .find(|(key, ..)| *key == operation)
        .unwrap_or_else(|| panic!("unknown 1.x operation {operation}"))
}

/// The `-1` interaction id of a 1.x operation.
pub fn interaction_id(operation: &str) -> String {
    let (_, suffix, _, _) = lookup(operation);
    if operation.starts_with("Documents_") {
        format!("{DOCUMENTS_URN}{suffix}")
    } else if operation.starts_with("Structured_") {
        format!("urn:nhs:names:services:gpconnect:{suffix}")
    } else {
        format!("{URN}{suffix}")
    }
}

/// The 1.x JWT claims of a valid request of `operation`.
pub fn claims(operation: &str) -> Value {
    let (_, _, patient, write) = lookup(operation);
    let now = chrono::Utc::now().timestamp();
    let migrate = matches!(
        operation,
        "Structured_MigrateStructuredRecord" | "Documents_Binary_Migrate"
    );
    let scope = if migrate {
        "patient/*.read conf/N".to_string()
    } else {
        format!(
            "{}/*.{}",
            if patient { "patient" } else { "organization" },
            if write { "write" } else { "read" }
        )
    };
    json!({
        "iss": "https://consumer.example.org/",
        "sub": "1",
        "aud": "https://authorize.fhir.nhs.net/token",
        "exp": now + 300,
        "iat": now,
        "reason_for_request": if migrate { "migration" } else { "directcare" },
        "requested_scope": scope,
        "requesting_device": {
            "resourceType": "Device",
            "identifier": [{"system": "https://consumer.example.org/Id/local-system-instance-id", "value": "gpcm-tests"}],
            "model": "gpconnect-mock tests",
            "version": "1.0"
        },
        "requesting_organization": {
            "resourceType": "Organization",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A11111"}],
            "name": "Consumer organisation name"
        },
        "requesting_practitioner": {
            "resourceType": "Practitioner",
            "id": "1",
            "identifier": [
                {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "111111111111"},
                {"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "22222222222222"}
            ],
            "name": [{"family": "Assurance", "given": ["GP Connect"], "prefix": ["Dr"]}]
        }
    })
}

/// The five SSP headers (and `Accept`) of a valid 1.x `operation`.
pub fn headers(operation: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Ssp-TraceID", uuid::Uuid::new_v4().to_string()),
        ("Ssp-From", CONSUMER_ASID.to_string()),
        ("Ssp-To", PROVIDER_ASID.to_string()),
        ("Ssp-InteractionID", interaction_id(operation)),
        (
            "Authorization",
            format!("Bearer {}", jwt(&claims(operation))),
        ),
        ("Accept", FHIR_JSON.to_string()),
    ]
}

/// A request builder to `BASE` + `path` with valid 1.x headers.
pub fn request(
    client: &reqwest::Client,
    method: Method,
    server: &crate::common::Server,
    path: &str,
    operation: &str,
) -> RequestBuilder {
    request_to(client, method, server, BASE, path, operation)
}

/// A request builder to `base` + `path` with valid 1.x headers.
pub fn request_to(
    client: &reqwest::Client,
    method: Method,
    server: &crate::common::Server,
    base: &str,
    path: &str,
    operation: &str,
) -> RequestBuilder {
    let mut builder = client.request(method, server.url(&format!("{base}{path}")));
    for (name, value) in headers(operation) {
        builder = builder.header(name, value);
    }
    builder
}

/// Sends a valid 1.x request of `operation` to `BASE` + `path`, with an
/// optional FHIR JSON body; panics unless the answer is JSON.
pub async fn send(
    server: &crate::common::Server,
    method: Method,
    path: &str,
    operation: &str,
    body: Option<Value>,
) -> Reply {
    send_to(server, BASE, method, path, operation, body).await
}

/// [`send`] to another 1.x root: `base` + `path`.
pub async fn send_to(
    server: &crate::common::Server,
    base: &str,
    method: Method,
    path: &str,
    operation: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = request_to(
        &crate::common::client(),
        method,
        server,
        base,
        path,
        operation,
    );
    if let Some(body) = body {
        request = request
            .header("Content-Type", FHIR_JSON)
            .body(body.to_string());
    }
    let response = request.send().await.expect("request");
    Reply::read(response, path).await
}

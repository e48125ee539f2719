//! Issue: contract checks on every request. One table, one row per rule:
//! a valid GP Connect request (tests/it/gpc.rs) with one thing broken, and
//! the status, Spine code and diagnostics the mock must answer with.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{client, fixture, Server};
use crate::gpc;

const NHS: &str = "9658218873";
const NHS_SYSTEM: &str = "http://fhir.nhs.net/Id/nhs-number";
const SECTION_SYSTEM: &str = "http://fhir.nhs.net/ValueSet/gpconnect-record-section-1";
const CANCELLATION_REASON: &str =
    "http://fhir.nhs.net/StructureDefinition/extension-gpconnect-appointment-cancellation-reason-1";

/// A request under construction: the GP Connect headers and the JWT claims
/// stay editable until it is sent, when a fresh JWT is encoded.
#[derive(Clone)]
struct Req {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    /// Encoded into `Authorization: Bearer <JWT>` unless `authorization` is set.
    claims: Option<Value>,
    /// A raw `Authorization` value, replacing the JWT.
    authorization: Option<String>,
    body: Option<String>,
}

impl Req {
    /// A valid request for `operation` of the default definition.
    fn valid(operation: &str) -> Req {
        let (method, path, body) = match operation {
            "Metadata_Metadata" => (Method::GET, "/fhir/metadata".to_string(), None),
            "PatientIdentifier_SearchByIdentifier" => (
                Method::GET,
                format!("/fhir/Patient?identifier={NHS_SYSTEM}%7C{NHS}"),
                None,
            ),
            "Patient_Read" => (Method::GET, "/fhir/Patient/2".to_string(), None),
            "PractitionerIdentifier_SearchByIdentifier" => (
                Method::GET,
                "/fhir/Practitioner?identifier=http://fhir.nhs.net/Id/sds-user-id%7CG13579135"
                    .to_string(),
                None,
            ),
            "OrganizationIdentifier_SearchByIdentifier" => (
                Method::GET,
                "/fhir/Organization?identifier=http://fhir.nhs.net/Id/ods-organization-code%7CA20047"
                    .to_string(),
                None,
            ),
            "PatientOperation_GetCareRecord" => (
                Method::POST,
                "/fhir/Patient/$gpc.getcarerecord".to_string(),
                Some(gpc::care_record_parameters(NHS, "SUM")),
            ),
            "Appointment_Create" => (
                Method::POST,
                "/fhir/Appointment".to_string(),
                Some(json!({
                    "resourceType": "Appointment",
                    "status": "booked",
                    "start": "2030-01-07T09:00:00+00:00",
                    "end": "2030-01-07T09:10:00+00:00",
                    "slot": [{"reference": "Slot/3"}],
                    "participant": [
                        {"actor": {"reference": "Patient/2"}, "status": "accepted"},
                        {"actor": {"reference": "Practitioner/1"}, "status": "accepted"},
                        {"actor": {"reference": "Location/1"}, "status": "accepted"}
                    ]
                })),
            ),
            // Rejected before any state is read, so any stored id will do.
            "Appointment_Update" => (
                Method::PUT,
                "/fhir/Appointment/1".to_string(),
                Some(json!({
                    "resourceType": "Appointment",
                    "id": "1",
                    "status": "cancelled",
                    "start": "2030-01-07T09:00:00+00:00",
                    "end": "2030-01-07T09:10:00+00:00",
                    "slot": [{"reference": "Slot/1"}],
                    "participant": [{"actor": {"reference": "Patient/2"}, "status": "accepted"}],
                    "extension": [{"url": CANCELLATION_REASON, "valueString": "Patient is better"}]
                })),
            ),
            "Order_Create" => (
                Method::POST,
                "/fhir/Order".to_string(),
                Some(json!({
                    "resourceType": "Order",
                    "meta": {"profile": ["http://fhir.nhs.net/StructureDefinition/gpconnect-task-order-1"]},
                    "contained": [{"resourceType": "Basic", "id": "task1", "code": {"text": "Review medication"}}],
                    "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
                    "subject": {"reference": "Patient/2"},
                    "target": {"reference": "Organization/7"},
                    "detail": [{"reference": "#task1"}]
                })),
            ),
            "OrganizationOperation_GetSchedule" => (
                Method::POST,
                "/fhir/Organization/$gpc.getschedule".to_string(),
                Some(gpc::schedule_parameters("A20047", 7)),
            ),
            "PatientCompartment_Appointment" => (
                Method::GET,
                "/fhir/Patient/2/Appointment?start=ge2016-02-16".to_string(),
                None,
            ),
            other => panic!("no valid request for {other} in this table"),
        };
        let mut headers: Vec<(String, String)> = gpc::headers(operation, NHS)
            .into_iter()
            .filter(|(name, _)| *name != "Authorization")
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        if body.is_some() {
            headers.push(("Content-Type".into(), gpc::FHIR_JSON.into()));
        }
        Req {
            method,
            path,
            headers,
            claims: Some(gpc::claims(operation, NHS)),
            authorization: None,
            body: body.map(|b| b.to_string()),
        }
    }

    fn set(mut self, name: &str, value: &str) -> Req {
        if name.eq_ignore_ascii_case("Authorization") {
            self.authorization = Some(value.to_string());
            return self;
        }
        self = self.remove(name);
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn remove(mut self, name: &str) -> Req {
        if name.eq_ignore_ascii_case("Authorization") {
            self.claims = None;
            self.authorization = None;
        }
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    fn path(mut self, path: &str) -> Req {
        self.path = path.to_string();
        self
    }

    fn body(mut self, body: &str) -> Req {
        self.body = Some(body.to_string());
        self
    }

    /// The body (JSON) changed by `edit`.
    fn edit(mut self, edit: impl Fn(&mut Value)) -> Req {
        let mut value: Value =
            serde_json::from_str(self.body.as_deref().unwrap_or("null")).unwrap_or(Value::Null);
        edit(&mut value);
        self.body = Some(value.to_string());
        self
    }

    fn no_body(mut self) -> Req {
        self.body = None;
        self
    }

    /// Edits the JWT claims (a pointer such as `/requesting_practitioner/id`).
    fn claim(mut self, pointer: &str, value: Value) -> Req {
        if let Some(claims) = self.claims.as_mut() {
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            if let Some(Value::Object(map)) = claims.pointer_mut(parent) {
                map.insert(key.to_string(), value);
            }
        }
        self
    }

    fn drop_claim(mut self, pointer: &str) -> Req {
        if let Some(claims) = self.claims.as_mut() {
            let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
            if let Some(Value::Object(map)) = claims.pointer_mut(parent) {
                map.remove(key);
            }
        }
        self
    }

    /// Replaces the token with `header.payload.signature` built from raw parts.
    fn token(self, header: &str, payload: &str, signature: &str) -> Req {
        let value = format!("Bearer {header}.{payload}.{signature}");
        self.set("Authorization", &value)
    }

    fn claims_segment(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.claims.clone().unwrap_or_default().to_string())
    }

    async fn send(&self, server: &Server, http: &reqwest::Client) -> Reply {
        let mut builder = http.request(self.method.clone(), server.url(&self.path));
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        match (&self.authorization, &self.claims) {
            (Some(raw), _) => builder = builder.header("Authorization", raw),
            (None, Some(claims)) => {
                builder = builder.header("Authorization", format!("Bearer {}", gpc::jwt(claims)))
            }
            (None, None) => {}
        }
        if let Some(body) = &self.body {
            builder = builder.body(body.clone());
        }
        let response = builder.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn code(&self) -> &str {
        self.body["issue"][0]["details"]["coding"][0]["code"]
            .as_str()
            .unwrap_or("")
    }

    fn diagnostics(&self) -> &str {
        self.body["issue"][0]["diagnostics"].as_str().unwrap_or("")
    }
}

const HEADER: &str = r#"{"alg":"none","typ":"JWT"}"#;

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// (case, rule name, request, status, Spine code, diagnostics substring).
/// A `200`/`201` row is a tolerance: the request must be served. A row with
/// a rule must be answered with diagnostics ending `(rule <name>)`.
type Row = (
    &'static str,
    &'static str,
    Req,
    u16,
    &'static str,
    &'static str,
);

#[rustfmt::skip]
fn table() -> Vec<Row> {
    let metadata = || Req::valid("Metadata_Metadata");
    let patient = || Req::valid("Patient_Read");
    let search = || Req::valid("PatientIdentifier_SearchByIdentifier");
    let record = || Req::valid("PatientOperation_GetCareRecord");
    let book = || Req::valid("Appointment_Create");
    let update = || Req::valid("Appointment_Update");
    let order = || Req::valid("Order_Create");
    let schedule = || Req::valid("OrganizationOperation_GetSchedule");
    let appointments = || Req::valid("PatientCompartment_Appointment");
    let section = |system: &str, code: &str| json!({"name": "recordSection", "valueCodeableConcept": {"coding": [{"system": system, "code": code}]}});
    let nhs = |value: Value| json!({"name": "patientNHSNumber", "valueIdentifier": value});
    let period = |start: &str, end: &str| json!({"name": "timePeriod", "valuePeriod": {"start": start, "end": end}});
    let parameters = |list: Vec<Value>| json!({"resourceType": "Parameters", "parameter": list}).to_string();
    let good_nhs = || nhs(json!({"system": NHS_SYSTEM, "value": NHS}));
    let good_section = || section(SECTION_SYSTEM, "SUM");
    let day = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).format("%Y-%m-%d").to_string();
    let good = metadata();
    let payload = good.claims_segment();
    let t = now();
    vec![
        // The valid baselines.
        ("valid metadata", "", metadata(), 200, "", ""),
        ("valid patient read", "", patient(), 200, "", ""),
        ("valid patient search", "", search(), 200, "", ""),
        ("valid care record", "", record(), 200, "", ""),
        ("valid booking", "", book(), 201, "", ""),
        ("valid practitioner search", "", Req::valid("PractitionerIdentifier_SearchByIdentifier"), 200, "", ""),
        ("valid organisation search", "", Req::valid("OrganizationIdentifier_SearchByIdentifier"), 200, "", ""),
        ("valid order", "", order(), 201, "", ""),
        ("valid schedule", "", schedule(), 200, "", ""),
        ("valid patient appointments", "", appointments(), 200, "", ""),
        ("valid care record over a period of dates", "", record().body(&parameters(vec![good_nhs(), section(SECTION_SYSTEM, "MED"), period("2016", "2017-02-24T00:00:00+00:00")])), 200, "", ""),
        // §3 SSP headers.
        ("Ssp-TraceID missing", "ssp-header", metadata().remove("Ssp-TraceID"), 400, "BAD_REQUEST", "header Ssp-TraceID is required"),
        ("Ssp-TraceID blank", "ssp-header", metadata().set("Ssp-TraceID", " "), 400, "BAD_REQUEST", "header Ssp-TraceID must not be blank"),
        ("Ssp-From missing", "ssp-header", metadata().remove("Ssp-From"), 400, "BAD_REQUEST", "header Ssp-From is required"),
        ("Ssp-To missing", "ssp-header", metadata().remove("Ssp-To"), 400, "BAD_REQUEST", "header Ssp-To is required"),
        ("Ssp-To not this provider", "ssp-to", metadata().set("Ssp-To", "918999198738"), 400, "BAD_REQUEST", "header Ssp-To must be this provider's ASID 918999198993, was \"918999198738\""),
        ("Ssp-InteractionID missing", "ssp-header", metadata().remove("Ssp-InteractionID"), 400, "BAD_REQUEST", "header Ssp-InteractionID is required"),
        ("interaction of another operation", "interaction-id", metadata().set("Ssp-InteractionID", &gpc::interaction_id("Patient_Read")), 400, "BAD_REQUEST", "(the interaction of another operation)"),
        ("unknown interaction", "interaction-id", metadata().set("Ssp-InteractionID", "urn:nhs:names:services:gpconnect:fhir:rest:read:everything"), 400, "BAD_REQUEST", "(not a known interaction)"),
        ("STU3 interaction on DSTU2", "interaction-id", metadata().set("Ssp-InteractionID", "urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1"), 400, "BAD_REQUEST", "must be urn:nhs:names:services:gpconnect:fhir:rest:read:metadata for GET /fhir/metadata"),
        ("header names are case-insensitive", "", metadata().remove("Ssp-To").set("ssp-to", gpc::PROVIDER_ASID), 200, "", ""),
        ("unknown headers and parameters ignored", "", metadata().set("X-Extra", "1").path("/fhir/metadata?foo=bar"), 200, "", ""),
        // §4 Authorization and the JWT's form.
        ("Authorization missing", "ssp-header", metadata().remove("Authorization"), 400, "BAD_REQUEST", "header Authorization is required"),
        ("Authorization not Bearer", "authorization-bearer", metadata().set("Authorization", "Basic dXNlcjpwYXNz"), 400, "BAD_REQUEST", "must be `Bearer <JWT>`, was \"Basic\""),
        ("JWT with two segments", "jwt-malformed", metadata().set("Authorization", &format!("Bearer {}.{payload}", b64(HEADER))), 400, "BAD_REQUEST", "must have 3 dot-separated segments"),
        ("JWT signed", "jwt-malformed", metadata().token(&b64(HEADER), &payload, "c2lnbmF0dXJl"), 400, "BAD_REQUEST", "must have an empty signature"),
        ("JWT padded", "jwt-malformed", metadata().token(&format!("{}==", b64(HEADER)), &payload, ""), 400, "BAD_REQUEST", "without padding, found `=`"),
        ("JWT in the standard alphabet", "jwt-malformed", metadata().token(&b64(HEADER), &format!("+{payload}"), ""), 400, "BAD_REQUEST", "found `+`"),
        ("JWT payload not JSON", "jwt-malformed", metadata().token(&b64(HEADER), &b64("not json"), ""), 400, "BAD_REQUEST", "payload segment is not a JSON object"),
        ("JWT alg not none", "jwt-malformed", metadata().token(&b64(r#"{"alg":"HS256","typ":"JWT"}"#), &payload, ""), 400, "BAD_REQUEST", "alg must be none"),
        ("JWT typ not JWT", "jwt-malformed", metadata().token(&b64(r#"{"alg":"none","typ":"JOSE"}"#), &payload, ""), 400, "BAD_REQUEST", "typ must be JWT"),
        ("JWT header extra key", "jwt-malformed", metadata().token(&b64(r#"{"alg":"none","typ":"JWT","kid":"k"}"#), &payload, ""), 400, "BAD_REQUEST", "unexpected key kid"),
        // §4 claims.
        ("claim missing", "jwt-claim-required", metadata().drop_claim("/iss"), 400, "BAD_REQUEST", "JWT claim iss is required"),
        ("claim null", "jwt-claim-required", metadata().claim("/requesting_device", Value::Null), 400, "BAD_REQUEST", "JWT claim requesting_device must not be null"),
        ("DSTU2 requested_record missing", "jwt-claim-required", metadata().drop_claim("/requested_record"), 400, "BAD_REQUEST", "JWT claim requested_record is required"),
        ("exp - iat 600", "jwt-time", metadata().claim("/iat", json!(t)).claim("/exp", json!(t + 600)), 400, "BAD_REQUEST", "JWT claim exp - iat must be 300, was 600"),
        ("exp - iat 299", "jwt-time", metadata().claim("/iat", json!(t)).claim("/exp", json!(t + 299)), 400, "BAD_REQUEST", "JWT claim exp - iat must be 300, was 299"),
        ("exp - iat -1", "jwt-time", metadata().claim("/iat", json!(t)).claim("/exp", json!(t - 1)), 400, "BAD_REQUEST", "JWT claim exp - iat must be 300, was -1"),
        ("expired", "jwt-time", metadata().claim("/iat", json!(t - 400)).claim("/exp", json!(t - 100)), 400, "BAD_REQUEST", "JWT claim exp must not be in the past"),
        ("exp not an integer", "jwt-time", metadata().claim("/exp", json!("soon")), 400, "BAD_REQUEST", "JWT claim exp must be an integer UNIX time"),
        ("future iat tolerated", "", metadata().claim("/iat", json!(t + 200)).claim("/exp", json!(t + 500)), 200, "", ""),
        ("reason not directcare", "jwt-reason", metadata().claim("/reason_for_request", json!("secondaryuses")), 400, "BAD_REQUEST", "JWT claim reason_for_request must be directcare, was \"secondaryuses\""),
        ("scope not a scope", "jwt-scope", metadata().claim("/requested_scope", json!("badScope")), 400, "BAD_REQUEST", "JWT claim requested_scope must be one of"),
        ("read scope on a write operation", "jwt-scope", book().claim("/requested_scope", json!("patient/*.read")), 400, "BAD_REQUEST", "JWT claim requested_scope must be patient/*.write for this operation"),
        ("write scope on a read operation", "jwt-scope", patient().claim("/requested_scope", json!("patient/*.write")), 400, "BAD_REQUEST", "must be patient/*.read for this operation, was patient/*.write"),
        ("organisation scope on a patient operation", "jwt-scope", patient().claim("/requested_scope", json!("organization/*.read")), 400, "BAD_REQUEST", "must be patient/*.read for this operation"),
        ("scope not matching requested_record", "jwt-scope", metadata().claim("/requested_record", json!({"resourceType": "Patient", "identifier": [{"system": NHS_SYSTEM, "value": NHS}]})), 400, "BAD_REQUEST", "must start with patient/ since requested_record is a Patient, was organization/*.read"),
        ("DSTU2 aud not the fixed audience", "jwt-audience", metadata().claim("/aud", json!("https://provider.example/fhir")), 400, "BAD_REQUEST", "JWT claim aud must be https://authorize.fhir.nhs.net/token"),
        ("sub not the practitioner", "jwt-subject", metadata().claim("/sub", json!("2")), 400, "BAD_REQUEST", "JWT claim sub must equal requesting_practitioner.id \"1\", was \"2\""),
        ("device not a Device", "jwt-claim-resource-type", metadata().claim("/requesting_device/resourceType", json!("Patient")), 400, "BAD_REQUEST", "JWT claim requesting_device.resourceType must be Device, was \"Patient\""),
        ("organisation not a resource", "jwt-claim-resource-type", metadata().claim("/requesting_organization", json!("GPCA0001")), 400, "BAD_REQUEST", "JWT claim requesting_organization.resourceType must be Organization: the claim is not a FHIR resource"),
        ("practitioner not a Practitioner", "jwt-claim-resource-type", metadata().claim("/requesting_practitioner/resourceType", json!("Person")), 400, "BAD_REQUEST", "JWT claim requesting_practitioner.resourceType must be Practitioner"),
        ("requested_record not Patient/Organization", "jwt-claim-resource-type", metadata().claim("/requested_record/resourceType", json!("Location")), 400, "BAD_REQUEST", "JWT claim requested_record.resourceType must be Patient or Organization"),
        ("device with an element Device lacks", "jwt-claim-resource-element", metadata().claim("/requesting_device/colour", json!("red")), 422, "INVALID_RESOURCE", "JWT claim requesting_device /colour is not an element of the resource type"),
        ("practitioner with a list of names", "jwt-claim-resource-element", metadata().claim("/requesting_practitioner/name", json!([{"family": ["A"]}])), 422, "INVALID_RESOURCE", "JWT claim requesting_practitioner /name must be one value"),
        ("organisation without identifier", "jwt-organization-identifier", metadata().drop_claim("/requesting_organization/identifier"), 400, "BAD_REQUEST", "JWT claim requesting_organization.identifier must hold an ODS code"),
        ("organisation identifier not an ODS code", "jwt-organization-identifier", metadata().claim("/requesting_organization/identifier/0/system", json!("http://example.org/org")), 400, "BAD_REQUEST", "must hold an ODS code"),
        ("practitioner without identifier", "jwt-practitioner-identifier", metadata().drop_claim("/requesting_practitioner/identifier"), 400, "BAD_REQUEST", "JWT claim requesting_practitioner.identifier must hold an SDS user id"),
        ("practitioner without an SDS user id", "jwt-practitioner-identifier", metadata().claim("/requesting_practitioner/identifier", json!([{"system": "LocalIdentifierSystem", "value": "1"}])), 400, "BAD_REQUEST", "must hold an SDS user id"),
        ("practitioner name without family or given", "jwt-practitioner-name", metadata().claim("/requesting_practitioner/name", json!({"prefix": ["Mr"]})), 400, "BAD_REQUEST", "JWT claim requesting_practitioner.name must have a family or a given name"),
        ("UNK SDS id and no local id tolerated", "", metadata().claim("/requesting_practitioner/identifier", json!([{"system": "http://fhir.nhs.net/sds-user-id", "value": "UNK"}])), 200, "", ""),
        // §6 media types.
        ("Accept XML served (as XML)", "", metadata().set("Accept", "application/xml+fhir"), 200, "", ""),
        ("Accept STU3 JSON on DSTU2 served", "", metadata().set("Accept", "application/fhir+json"), 200, "", ""),
        ("Accept neither JSON nor XML", "media-type", metadata().set("Accept", "text/html"), 415, "BAD_REQUEST", "header Accept must allow application/json+fhir or application/xml+fhir"),
        ("Accept */* served", "", metadata().set("Accept", "*/*"), 200, "", ""),
        ("Accept application/json served", "", metadata().set("Accept", "application/json; charset=utf-8"), 200, "", ""),
        ("Accept list with JSON served", "", metadata().set("Accept", "application/xml+fhir, application/json+fhir;q=0.5"), 200, "", ""),
        ("_format XML served", "", metadata().path("/fhir/metadata?_format=application/xml%2Bfhir"), 200, "", ""),
        ("_format unknown", "media-type", metadata().path("/fhir/metadata?_format=text/html"), 415, "BAD_REQUEST", "query parameter _format must name a format this server answers"),
        ("_format JSON beats Accept XML", "", metadata().set("Accept", "application/xml+fhir").path("/fhir/metadata?_format=application/json%2Bfhir"), 200, "", ""),
        // (reqwest sends `Accept: */*` unless told otherwise: an empty one counts as none.)
        ("request Content-Type decides without Accept", "media-type", metadata().set("Accept", "").set("Content-Type", "text/plain"), 415, "BAD_REQUEST", "header Content-Type asks for an answer in \"text/plain\""),
        ("no Accept means JSON", "", metadata().set("Accept", ""), 200, "", ""),
        ("body Content-Type XML, body JSON", "body-malformed", record().set("Content-Type", "application/xml+fhir"), 400, "BAD_REQUEST", "request body must be valid FHIR XML (application/xml+fhir): malformed XML at line 1 column 1"),
        ("body Content-Type neither", "media-type", record().set("Content-Type", "text/plain"), 415, "BAD_REQUEST", "header Content-Type must be one of application/json+fhir"),
        ("body without Content-Type", "media-type", record().remove("Content-Type"), 415, "BAD_REQUEST", "header Content-Type is required with a body"),
        ("Content-Type with parameters", "", record().set("Content-Type", "Application/JSON+FHIR; charset=utf-8"), 200, "", ""),
        // The spec's own rules: parameters and bodies.
        ("path id breaks its pattern", "unknown-id", patient().path("/fhir/Patient/a_b"), 404, "PATIENT_NOT_FOUND", "path parameter id names no Patient: is invalid: \"a_b\" does not match"),
        ("patient id 1@", "unknown-id", patient().path("/fhir/Patient/1@"), 404, "PATIENT_NOT_FOUND", "names no Patient"),
        ("patient id ##", "unknown-id", patient().path("/fhir/Patient/%23%23"), 404, "PATIENT_NOT_FOUND", "names no Patient"),
        ("patient id **", "unknown-id", patient().path("/fhir/Patient/**"), 404, "PATIENT_NOT_FOUND", "names no Patient"),
        ("empty patient id", "unknown-id", patient().path("/fhir/Patient/"), 404, "PATIENT_NOT_FOUND", "path id is empty: /fhir/Patient/ names no Patient"),
        ("empty appointment id", "unknown-id", Req { method: Method::GET, ..patient() }.set("Ssp-InteractionID", &gpc::interaction_id("Appointment_Read")).path("/fhir/Appointment/"), 404, "NO_RECORD_FOUND", "names no Appointment"),
        ("path id too long", "unknown-id", patient().path(&format!("/fhir/Patient/{}", "1".repeat(65))), 404, "PATIENT_NOT_FOUND", "path parameter id names no Patient"),
        ("body missing", "body-required", record().no_body(), 400, "BAD_REQUEST", "request body is required (application/json+fhir)"),
        ("body not JSON", "body-malformed", record().body("{\"resourceType\": "), 400, "BAD_REQUEST", "request body must be valid JSON"),
        ("body not Parameters", "body-parameters-invalid", record().body(r#"{"resourceType": "Parameters", "parameter": "x"}"#), 422, "INVALID_PARAMETER", "body /parameter is invalid"),
        ("resource body without status", "appointment-profile", book().edit(|b| { b.as_object_mut().map(|o| o.remove("status")); }), 422, "INVALID_RESOURCE", "body /status is required"),
        ("resource body with a wrong enum", "body-resource-invalid", book().edit(|b| b["status"] = json!("maybe")), 422, "INVALID_RESOURCE", "body /status is invalid"),
        // §7 identifier searches.
        ("identifier missing", "identifier-param", search().path("/fhir/Patient"), 400, "BAD_REQUEST", "query parameter identifier is required"),
        ("identifier twice", "identifier-param", search().path(&format!("/fhir/Patient?identifier={NHS_SYSTEM}%7C{NHS}&identifier={NHS_SYSTEM}%7C9658218865")), 400, "BAD_REQUEST", "query parameter identifier must be given exactly once"),
        ("Identifier mis-cased", "identifier-param", search().path(&format!("/fhir/Patient?Identifier={NHS_SYSTEM}%7C{NHS}")), 400, "BAD_REQUEST", "query parameter Identifier has the wrong case"),
        ("identifier value empty", "identifier-syntax", search().path(&format!("/fhir/Patient?identifier={NHS_SYSTEM}%7C")), 422, "INVALID_PARAMETER", "must have both a system and a value"),
        ("identifier system empty", "identifier-syntax", search().path(&format!("/fhir/Patient?identifier=%7C{NHS}")), 422, "INVALID_PARAMETER", "must have both a system and a value"),
        ("identifier without a system", "identifier-syntax", search().path(&format!("/fhir/Patient?identifier={NHS}")), 422, "INVALID_PARAMETER", "must be <system>|<value>"),
        ("identifier system unknown", "identifier-system", search().path(&format!("/fhir/Patient?identifier=http://example.org/id%7C{NHS}")), 400, "INVALID_IDENTIFIER_SYSTEM", "system must be http://fhir.nhs.net/Id/nhs-number for a Patient search"),
        ("STU3 system on DSTU2", "identifier-system", search().path(&format!("/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number%7C{NHS}")), 400, "INVALID_IDENTIFIER_SYSTEM", "was \"https://fhir.nhs.uk/Id/nhs-number\""),
        ("NHS number check digit", "identifier-nhs-number", search().path(&format!("/fhir/Patient?identifier={NHS_SYSTEM}%7C9658218872")), 400, "INVALID_NHS_NUMBER", "NHS number \"9658218872\" has check digit 2, expected 3"),
        ("NHS number length", "identifier-nhs-number", search().path(&format!("/fhir/Patient?identifier={NHS_SYSTEM}%7C965821887")), 400, "INVALID_NHS_NUMBER", "must be 10 digits"),
        ("practitioner system unknown", "identifier-system", Req::valid("PractitionerIdentifier_SearchByIdentifier").path("/fhir/Practitioner?identifier=http://fhir.nhs.net/Id/nhs-number%7CG13579135"), 400, "INVALID_IDENTIFIER_SYSTEM", "for a Practitioner search"),
        ("organisation by site code", "", Req::valid("OrganizationIdentifier_SearchByIdentifier").path("/fhir/Organization?identifier=http://fhir.nhs.net/Id/ods-site-code%7CZ26556"), 200, "", ""),
        ("identifier search with another parameter", "identifier-search-extra-parameter", search().path(&format!("/fhir/Patient?identifier={NHS_SYSTEM}%7C{NHS}&gender=male")), 400, "BAD_REQUEST", "query parameter gender is not allowed"),
        ("identifier search with _format", "", search().path(&format!("/fhir/Patient?identifier={NHS_SYSTEM}%7C{NHS}&_format=application/json%2Bfhir")), 200, "", ""),
        ("organisation search with a stray parameter", "identifier-search-extra-parameter", Req::valid("OrganizationIdentifier_SearchByIdentifier").path("/fhir/Organization?identifier=http://fhir.nhs.net/Id/ods-organization-code%7CA20047&name=x"), 400, "BAD_REQUEST", "query parameter name is not allowed"),
        ("patient search for another patient than the JWT's", "jwt-requested-record-patient", search().path(&format!("/fhir/Patient?identifier={NHS_SYSTEM}%7C9658218865")), 400, "BAD_REQUEST", "must search for the JWT requested_record's patient \"9658218873\", was \"9658218865\""),
        // DSTU2 $gpc.getcarerecord.
        ("care record parameter in another case", "care-record-parameter-name", record().body(&parameters(vec![nhs(json!({"system": NHS_SYSTEM, "value": NHS})), good_section()]).replace("patientNHSNumber", "patientnhsnumber")), 422, "INVALID_PARAMETER", "body /parameter/0/name must be patientNHSNumber, recordSection or timePeriod, was \"patientnhsnumber\""),
        ("care record NHS number missing", "care-record-nhs-number", record().body(&parameters(vec![good_section()])), 400, "INVALID_NHS_NUMBER", "body /parameter must hold one patientNHSNumber"),
        ("care record NHS number twice", "care-record-nhs-number", record().body(&parameters(vec![good_nhs(), good_nhs(), good_section()])), 400, "INVALID_NHS_NUMBER", "must hold patientNHSNumber once"),
        ("care record NHS number as a string", "care-record-nhs-number", record().body(&parameters(vec![json!({"name": "patientNHSNumber", "valueString": NHS}), good_section()])), 400, "INVALID_NHS_NUMBER", "body /parameter/0/valueIdentifier is required"),
        ("care record NHS number system wrong", "care-record-nhs-number", record().body(&parameters(vec![nhs(json!({"system": "http://example.org", "value": NHS})), good_section()])), 400, "INVALID_NHS_NUMBER", "valueIdentifier/system must be http://fhir.nhs.net/Id/nhs-number"),
        ("care record NHS number failing modulus 11", "care-record-nhs-number", record().body(&parameters(vec![nhs(json!({"system": NHS_SYSTEM, "value": "9658218872"})), good_section()])), 400, "INVALID_NHS_NUMBER", "has check digit 2, expected 3"),
        ("care record section missing", "care-record-section", record().body(&parameters(vec![good_nhs()])), 400, "BAD_REQUEST", "must hold one recordSection"),
        ("care record section twice", "care-record-section", record().body(&parameters(vec![good_nhs(), good_section(), section(SECTION_SYSTEM, "ALL")])), 400, "BAD_REQUEST", "must hold recordSection once"),
        ("care record section not a CodeableConcept", "care-record-section", record().body(&parameters(vec![good_nhs(), json!({"name": "recordSection", "valueString": "SUM"})])), 400, "BAD_REQUEST", "must be a CodeableConcept with exactly one coding"),
        ("care record section system wrong", "care-record-section", record().body(&parameters(vec![good_nhs(), section("http://example.org", "SUM")])), 400, "BAD_REQUEST", "coding/0/system must be http://fhir.nhs.net/ValueSet/gpconnect-record-section-1"),
        ("care record section system empty", "care-record-section-system-empty", record().body(&parameters(vec![good_nhs(), section("", "SUM")])), 422, "INVALID_PARAMETER", "was empty"),
        ("care record period without zone", "care-record-time-period", record().body(&parameters(vec![good_nhs(), section(SECTION_SYSTEM, "MED"), period("2016-02-16T10:00:00", "2017-02-24")])), 422, "INVALID_PARAMETER", "valuePeriod/start must be a FHIR date or a dateTime with seconds and a zone"),
        ("care record period in text", "care-record-time-period", record().body(&parameters(vec![good_nhs(), section(SECTION_SYSTEM, "MED"), period("2016-02-16", "last week")])), 422, "INVALID_PARAMETER", "valuePeriod/end must be a FHIR date"),
        ("care record period reversed", "care-record-time-period", record().body(&parameters(vec![good_nhs(), section(SECTION_SYSTEM, "MED"), period("2017-02-24", "2016-02-16")])), 422, "INVALID_PARAMETER", "start must not be after end"),
        // DSTU2 $gpc.getschedule.
        ("schedule without timePeriod", "schedule-parameter", schedule().body(&parameters(vec![])), 400, "BAD_REQUEST", "body /parameter must hold one timePeriod"),
        ("schedule with two timePeriods", "schedule-parameter", schedule().body(&parameters(vec![period(&day(0), &day(3)), period(&day(0), &day(3))])), 400, "BAD_REQUEST", "must hold timePeriod once"),
        ("schedule with a stray parameter", "schedule-parameter", schedule().body(&parameters(vec![period(&day(0), &day(3)), json!({"name": "colour", "valueString": "red"})])), 400, "BAD_REQUEST", "body /parameter/1/name must be timePeriod or odsCode, was \"colour\""),
        ("schedule period without end", "schedule-time-period", schedule().body(&parameters(vec![json!({"name": "timePeriod", "valuePeriod": {"start": day(0)}})])), 422, "INVALID_PARAMETER", "valuePeriod/end is required"),
        ("schedule period of a year", "schedule-time-period", schedule().body(&parameters(vec![period("2030", &day(3))])), 422, "INVALID_PARAMETER", "must be a full date (yyyy-MM-dd)"),
        ("schedule period of 15 days", "schedule-time-period", schedule().body(&parameters(vec![period(&day(0), &day(15))])), 422, "INVALID_PARAMETER", "must span at most 14 days, spans 15"),
        ("schedule period of 14 days", "", schedule().body(&parameters(vec![period(&day(0), &day(14))])), 200, "", ""),
        // DSTU2 patient appointments.
        ("appointments start in another date format", "appointments-start", appointments().path("/fhir/Patient/2/Appointment?start=16-02-2016"), 422, "INVALID_PARAMETER", "query parameter start must be a FHIR date or dateTime"),
        ("appointments start with an unknown prefix", "appointments-start", appointments().path("/fhir/Patient/2/Appointment?start=xx2016-02-16"), 422, "INVALID_PARAMETER", "was \"xx2016-02-16\""),
        // DSTU2 booking, amend and cancel.
        ("booking a Patient", "appointment-body-type", book().body(r#"{"resourceType": "Patient"}"#), 400, "BAD_REQUEST", "body /resourceType must be Appointment, was \"Patient\""),
        ("booking with an id", "appointment-create-id", book().edit(|b| b["id"] = json!("9")), 422, "INVALID_RESOURCE", "body /id must be absent"),
        ("booking without start", "appointment-profile", book().edit(|b| { b.as_object_mut().map(|o| o.remove("start")); }), 422, "INVALID_RESOURCE", "body /start is required"),
        ("booking without slot", "appointment-profile", book().edit(|b| b["slot"] = json!([])), 422, "INVALID_RESOURCE", "body /slot is required"),
        ("booking with an undefined element", "appointment-profile", book().edit(|b| b["colour"] = json!("red")), 422, "INVALID_RESOURCE", "body /colour is not an element of the resource type"),
        ("booking with an identifier without value", "appointment-profile", book().edit(|b| b["identifier"] = json!([{"system": "http://example.org/ids"}])), 422, "INVALID_RESOURCE", "body /identifier/0 must have a value"),
        ("booking with an unknown extension", "appointment-extension", book().edit(|b| b["extension"] = json!([{"url": "http://example.org/colour", "valueString": "red"}])), 422, "INVALID_RESOURCE", "body /extension/0 has url"),
        ("booking with an extension without value", "appointment-extension", book().edit(|b| b["extension"] = json!([{"url": CANCELLATION_REASON}])), 422, "INVALID_RESOURCE", "must have a value[x]"),
        ("booking without a practitioner", "appointment-participants", book().edit(|b| { b["participant"].as_array_mut().map(|p| p.remove(1)); }), 422, "INVALID_RESOURCE", "body /participant must include a Practitioner actor"),
        ("amending with a Bundle", "appointment-body-type", update().body(r#"{"resourceType": "Bundle"}"#), 400, "BAD_REQUEST", "must be Appointment, was \"Bundle\""),
        ("amending another appointment's id", "appointment-update-invalid", update().edit(|b| b["id"] = json!("2")), 400, "BAD_REQUEST", "body /id must be the id in the path \"1\", was \"2\""),
        ("amending with an undefined element", "appointment-update-invalid", update().edit(|b| b["colour"] = json!("red")), 400, "BAD_REQUEST", "body /colour is not an element"),
        ("cancelling without a reason", "appointment-cancel-reason", update().edit(|b| { b.as_object_mut().map(|o| o.remove("extension")); }), 422, "INVALID_PARAMETER", "a cancel must carry the cancellation-reason extension"),
        // DOMAIN §3: If-Match on an update of a stored appointment (nothing changes).
        ("If-Match stale", "if-match-stale", update().set("If-Match", "W/\"99\""), 409, "FHIR_CONSTRAINT_VIOLATION", "header If-Match W/\"99\" is stale: Appointment/1 is at version"),
        ("If-Match not an entity tag", "if-match-malformed", update().set("If-Match", "99"), 400, "BAD_REQUEST", "header If-Match is \"99\", which is not a list of entity tags"),
        ("cancelling with an empty reason", "appointment-cancel-reason", update().edit(|b| b["extension"][0]["valueString"] = json!(" ")), 422, "INVALID_PARAMETER", "must have a non-empty valueString"),
        // DSTU2 Order.
        ("order without subject", "order-profile", order().edit(|b| { b.as_object_mut().map(|o| o.remove("subject")); }), 422, "INVALID_RESOURCE", "body /subject is required"),
        ("order without a GP Connect profile", "order-profile", order().edit(|b| { b.as_object_mut().map(|o| o.remove("meta")); }), 422, "INVALID_RESOURCE", "body /meta/profile must name a GP Connect profile"),
        ("order that is an Appointment", "order-profile", order().body(r#"{"resourceType": "Appointment"}"#), 422, "INVALID_RESOURCE", "body /resourceType must be Order"),
        ("order naming no contained task", "order-reference", order().edit(|b| b["detail"][0]["reference"] = json!("#task2")), 422, "INVALID_RESOURCE", "body /detail/0/reference \"#task2\" does not resolve"),
        ("order with an absolute reference", "order-reference", order().edit(|b| b["subject"]["reference"] = json!("https://elsewhere.example/fhir/Patient/2")), 422, "INVALID_RESOURCE", "body /subject/reference"),
        ("order dated another day", "order-date", order().edit(|b| b["date"] = json!("2017-02-24T13:51:00+00:00")), 422, "INVALID_RESOURCE", "body /date must be today"),
        ("care record NHS number not the JWT's", "care-record-requested-record", record().body(&gpc::care_record_parameters("9658218865", "SUM").to_string()), 400, "INVALID_NHS_NUMBER", "must equal the JWT requested_record NHS number \"9658218873\", was \"9658218865\""),
        // §10.15 and §1: routing and the SSP proxy form.
        ("wrong case path", "", metadata().path("/fhir/Metadata"), 404, "NO_RECORD_FOUND", "no operation of the definition serves GET /fhir/Metadata"),
        ("wrong verb", "", Req { method: Method::DELETE, ..metadata() }, 405, "BAD_REQUEST", "method DELETE is not allowed"),
        // Through the Spine proxy form (the directory's endpoint exactly: see tests/it/spine.rs).
        ("SSP proxy URL form", "", metadata().path("/https://provider.example/fhir/metadata"), 200, "", ""),
        ("SSP proxy URL form, checks still apply", "ssp-header", metadata().path("/https://provider.example/fhir/metadata").remove("Ssp-TraceID"), 400, "BAD_REQUEST", "header Ssp-TraceID is required"),
    ]
}

/// The table is the catalogue's test: every rule that applies to the DSTU2
/// default definition has at least one row that breaks it. (The STU3-only
/// rules are rows of tests/it/contract1.rs, whose own test checks them, and
/// of `stu3_rules_on_the_1_5_0_definition`.)
#[test]
fn every_dstu2_rule_of_the_catalogue_has_a_row() {
    use gpconnect_mock::contract::catalogue::{Eras, RULES};
    // The definition's own parameter rules, which the DSTU2 definition
    // gives no query or header parameter to break, are rows of
    // `profile_none_answers_problem_json`.
    const ELSEWHERE: [&str; 3] = [
        "param-required",
        "query-param-invalid",
        "header-param-invalid",
    ];
    let rows = table();
    let missing: Vec<&str> = RULES
        .iter()
        .filter(|rule| matches!(rule.eras, Eras::Any | Eras::GpConnect | Eras::Dstu2))
        .map(|rule| rule.name)
        .filter(|name| !ELSEWHERE.contains(name) && !rows.iter().any(|row| row.1 == *name))
        .collect();
    assert!(missing.is_empty(), "rules without a row: {missing:?}");
}

#[tokio::test]
async fn every_rule_answers_with_its_status_code_and_diagnostics() {
    let server = Server::start(&[]);
    let http = client();
    let rows = table();
    assert!(rows.len() >= 40, "{} rows", rows.len());
    let mut failures = Vec::new();
    for (rule, name, request, status, code, needle) in &rows {
        let reply = request.send(&server, &http).await;
        let ok = if *status < 300 {
            reply.status == *status
        } else {
            reply.status == *status
                && reply.code() == *code
                && reply.diagnostics().contains(needle)
                && (name.is_empty() || reply.diagnostics().ends_with(&format!("(rule {name})")))
                && reply.body["resourceType"] == "OperationOutcome"
        };
        if !ok {
            failures.push(format!(
                "{rule}: expected {status} {code} {needle:?}, got {} {}",
                reply.status, reply.body
            ));
        }
        // Every GP Connect answer, rejections included.
        if reply
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            != Some("no-store")
        {
            failures.push(format!("{rule}: no Cache-Control: no-store"));
        }
        if !matches!(reply.status, 404 | 405) && reply.headers.get("x-mock-operation").is_none() {
            failures.push(format!("{rule}: no X-Mock-Operation"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn warn_mode_serves_and_lists_violations() {
    let server = Server::start(&["--contract", "warn"]);
    let http = client();
    let request = Req::valid("Metadata_Metadata")
        .remove("Ssp-To")
        .claim("/reason_for_request", json!("secondaryuses"));
    let reply = request.send(&server, &http).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["resourceType"], "Conformance");
    let violations: Vec<&str> = reply
        .headers
        .get_all("x-contract-violation")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(
        violations,
        vec![
            "header Ssp-To: is required (rule ssp-header)",
            "JWT claim reason_for_request: must be directcare, was \"secondaryuses\" (rule jwt-reason)"
        ]
    );
    let valid = Req::valid("Metadata_Metadata").send(&server, &http).await;
    assert!(valid.headers.get("x-contract-violation").is_none());
    // Logged too.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.logged("contract violation") && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        server.logged("header Ssp-To is required"),
        "{}",
        server.logs()
    );
}

#[tokio::test]
async fn off_mode_skips_checks_but_keeps_gp_connect_headers() {
    let server = Server::start(&["--contract", "off"]);
    let reply = client()
        .get(server.url("/fhir/metadata"))
        .send()
        .await
        .expect("answered");
    assert_eq!(reply.status(), 200);
    assert!(reply.headers().get("x-contract-violation").is_none());
    assert_eq!(reply.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn a_scenario_may_skip_checks() {
    let pack = fixture("packs/skip-checks/scenarios").display().to_string();
    let empty = fixture("empty").display().to_string();
    let server = Server::start(&[
        "--api",
        "gpconnect-dstu2",
        "--scenarios",
        &pack,
        "--templates",
        &empty,
    ]);
    let http = client();
    // Malformed, and the scenario opting out answers it itself.
    let reply = http
        .get(server.url("/fhir/metadata"))
        .header("X-Demo", "malformed")
        .send()
        .await
        .expect("answered");
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.expect("json");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "the provider answered this itself"
    );
    // Malformed, and the chosen scenario does not opt out: the contract answers.
    let reply = http
        .get(server.url("/fhir/metadata"))
        .send()
        .await
        .expect("answered");
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.expect("json");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "header Ssp-TraceID is required (rule ssp-header)"
    );
    let reply = Req::valid("Metadata_Metadata").send(&server, &http).await;
    assert_eq!(
        (reply.status, &reply.body["resourceType"]),
        (200, &json!("Conformance"))
    );
    // `skip_rules`: the named rule is waived (and reported), no other.
    let lenient = Req::valid("Metadata_Metadata")
        .set("X-Demo", "any-ssp-to")
        .set("Ssp-To", "200000000359");
    let reply = lenient.send(&server, &http).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["publisher"], "lenient");
    assert!(reply.headers["x-contract-violation"]
        .to_str()
        .is_ok_and(|v| v.ends_with("(rule ssp-to)")));
    let reply = lenient.remove("Ssp-From").send(&server, &http).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.diagnostics().ends_with("(rule ssp-header)"));
}

#[tokio::test]
async fn profile_none_answers_problem_json() {
    let spec = fixture("specs/clinic-openapi3.yaml").display().to_string();
    let server = Server::start(&["--spec", &spec]);
    let http = client();
    let problem = |status: u16, needle: &'static str| {
        move |response: (u16, String, Value)| {
            let (got, content_type, body) = response;
            assert_eq!(got, status, "{body}");
            assert_eq!(content_type, "application/problem+json");
            assert_eq!(body["status"], status);
            assert!(body.get("code").is_none(), "no Spine code: {body}");
            let detail = body["detail"].as_str().unwrap_or("");
            assert!(detail.contains(needle), "{needle:?} not in {detail:?}");
        }
    };
    let send = |builder: reqwest::RequestBuilder| async move {
        let response = builder.send().await.expect("answered");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(response.headers().get("cache-control").is_none());
        (
            status,
            content_type,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let bookings = server.url("/api/v1/clinics/c01/rooms/r2/bookings");
    let booking = json!({"id": "0d9e1f8a-9b1c-4a4e-8f57-3c2a1f6b7d10", "start": "2030-01-07T09:00:00Z", "status": "booked"});
    // Valid: served.
    let response = http
        .post(&bookings)
        .json(&booking)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 201);
    // Body schema, through allOf and $ref.
    let mut bad = booking.clone();
    bad["status"] = json!("maybe");
    problem(422, "body /status is invalid")(send(http.post(&bookings).json(&bad)).await);
    problem(400, "request body is required")(send(http.post(&bookings)).await);
    problem(415, "header Content-Type must be one of application/json")(
        send(
            http.post(&bookings)
                .header("Content-Type", "text/plain")
                .body("x"),
        )
        .await,
    );
    // Parameters: int32 path id, minLength, Accept.
    problem(
        400,
        "path parameter id must be an integer, was \"abc\" (rule path-param-invalid)",
    )(send(http.get(server.url("/api/v1/Patient/abc"))).await);
    problem(400, "path parameter id must be a 32-bit integer")(
        send(http.get(server.url("/api/v1/Patient/99999999999"))).await,
    );
    problem(400, "path parameter clinicId is invalid")(
        send(http.get(server.url("/api/v1/clinics/c1/rooms/r2/bookings"))).await,
    );
    problem(415, "header Accept must allow application/json")(
        send(
            http.get(server.url("/api/v1/Patient/2"))
                .header("Accept", "text/html"),
        )
        .await,
    );
    // Query and header parameters.
    let health = server.url("/api/v1/health");
    problem(
        400,
        "query parameter depth is required (rule param-required)",
    )(send(http.get(&health)).await);
    problem(422, "(rule query-param-invalid)")(send(http.get(format!("{health}?depth=9"))).await);
    problem(400, "(rule header-param-invalid)")(
        send(
            http.get(format!("{health}?depth=1"))
                .header("X-Probe", "ABC"),
        )
        .await,
    );
    assert_eq!(
        send(
            http.get(format!("{health}?depth=1"))
                .header("X-Probe", "abc")
        )
        .await
        .0,
        204
    );
    // No GP Connect rules: no SSP headers needed.
    let response = http
        .get(server.url("/api/v1/Patient/2"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
}

/// The STU3 rules on GP Connect 1.5.0's own definition: `-1` interaction
/// ids, no `requested_record`, STU3 identifier systems, amend or cancel.
#[tokio::test]
#[cfg_attr(
    not(has_shared_specs),
    ignore = "needs ../shared/specs/ beside the checkout (the published GP Connect definitions)"
)]
async fn stu3_rules_on_the_1_5_0_definition() {
    let spec = crate::common::shared_spec("gpconnect-1.5.0-appointments.yaml");
    let spec = spec.display().to_string();
    let server = Server::start(&["--spec", &spec]);
    let http = client();
    const BASE: &str = "/B82617/STU3/1/gpconnect/fhir";
    const URN: &str = "urn:nhs:names:services:gpconnect:fhir:";
    let stu3 = |operation: &str, path: &str, interaction: &str| {
        Req::valid(operation)
            .path(&format!("{BASE}{path}"))
            .set("Ssp-InteractionID", &format!("{URN}{interaction}"))
            .set("Accept", "application/fhir+json")
            .drop_claim("/requested_record")
    };
    let metadata = || stu3("Metadata_Metadata", "/metadata", "rest:read:metadata-1");
    let reply = metadata().send(&server, &http).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let reply = metadata()
        .claim(
            "/aud",
            json!("https://provider.example/B82617/STU3/1/gpconnect/fhir"),
        )
        .send(&server, &http)
        .await;
    assert_eq!(reply.status, 200, "any STU3 aud: {}", reply.body);
    let rejected = [
        (
            metadata().claim("/requested_record", json!({"resourceType": "Patient"})),
            "JWT claim requested_record must be absent in GP Connect 1.x (STU3) (rule jwt-requested-record-absent)",
            "BAD_REQUEST",
        ),
        (
            metadata().claim("/requesting_device/resourceType", json!("Patient")),
            "must be Device, was \"Patient\" (rule jwt-claim-resource-invalid)",
            "INVALID_RESOURCE (422)",
        ),
        (
            metadata().set("Ssp-InteractionID", &format!("{URN}rest:read:metadata")),
            "must be urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1",
            "BAD_REQUEST",
        ),
        (
            metadata().set("Accept", "text/html"),
            "header Accept must allow application/fhir+json or application/fhir+xml",
            "BAD_REQUEST (415)",
        ),
        (
            stu3(
                "PatientIdentifier_SearchByIdentifier",
                &format!("/Patient?identifier={NHS_SYSTEM}%7C{NHS}"),
                "rest:search:patient-1",
            ),
            "system must be https://fhir.nhs.uk/Id/nhs-number",
            "INVALID_IDENTIFIER_SYSTEM",
        ),
    ];
    for (request, needle, code) in rejected {
        let reply = request.send(&server, &http).await;
        let (status, code) = match code.split_once(" (") {
            Some((code, status)) => (status.trim_end_matches(')').parse().unwrap_or(0), code),
            None => (400, code),
        };
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{needle}: {}",
            reply.body
        );
        assert!(reply.diagnostics().contains(needle), "{}", reply.body);
        assert_eq!(
            reply.body["meta"]["profile"][0],
            "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"
        );
    }
    let reply = stu3(
        "PatientIdentifier_SearchByIdentifier",
        &format!("/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number%7C{NHS}"),
        "rest:search:patient-1",
    )
    .send(&server, &http)
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Amend and cancel share PUT /Appointment/{id}; the swagger names only update.
    for interaction in ["rest:update:appointment-1", "rest:cancel:appointment-1"] {
        let reply = stu3("Appointment_Create", "/Appointment/1", interaction)
            .set("Content-Type", "application/fhir+json");
        let reply = Req {
            method: Method::PUT,
            ..reply
        }
        .send(&server, &http)
        .await;
        assert!(
            !reply.diagnostics().contains("Ssp-InteractionID"),
            "{interaction}: {}",
            reply.body
        );
        assert!(
            !reply.diagnostics().contains("JWT"),
            "{interaction}: {}",
            reply.body
        );
    }
}

/// The valid journey — search, record, schedule, book, read, amend, cancel,
/// order — breaks no rule: served in `warn` mode, no step reports a
/// violation, and every step succeeds.
#[tokio::test]
async fn the_valid_journey_breaks_no_rule() {
    let server = Server::start(&["--contract", "warn"]);
    let mut steps: Vec<(&str, gpc::Reply)> = Vec::new();
    let step = |method: Method, path: String, operation: &'static str, body: Option<Value>| {
        let server = &server;
        async move { gpc::send(server, method, &path, operation, NHS, body).await }
    };
    let search = format!("/fhir/Patient?identifier={NHS_SYSTEM}%7C{NHS}");
    steps.push((
        "search",
        step(
            Method::GET,
            search,
            "PatientIdentifier_SearchByIdentifier",
            None,
        )
        .await,
    ));
    let record = gpc::care_record_parameters(NHS, "SUM");
    steps.push((
        "record",
        step(
            Method::POST,
            "/fhir/Patient/$gpc.getcarerecord".into(),
            "PatientOperation_GetCareRecord",
            Some(record),
        )
        .await,
    ));
    let schedule = step(
        Method::POST,
        "/fhir/Organization/$gpc.getschedule".into(),
        "OrganizationOperation_GetSchedule",
        Some(gpc::schedule_parameters("A20047", 7)),
    )
    .await;
    let slot = schedule.body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .find(|r| r["resourceType"] == "Slot" && r["freeBusyType"] == "free")
        .expect("a free slot");
    steps.push(("schedule", schedule));
    let booked = step(
        Method::POST,
        "/fhir/Appointment".into(),
        "Appointment_Create",
        Some(gpc::booking(&slot)),
    )
    .await;
    let id = booked.body["id"].as_str().unwrap_or("").to_string();
    steps.push(("book", booked));
    let path = format!("/fhir/Appointment/{id}");
    let read = step(Method::GET, path.clone(), "Appointment_Read", None).await;
    let mut amend = read.body.clone();
    steps.push(("read", read));
    amend["description"] = json!("Review of the sore throat");
    let amended = step(
        Method::PUT,
        path.clone(),
        "Appointment_Update",
        Some(amend.clone()),
    )
    .await;
    steps.push(("amend", amended));
    let mut cancel = amend;
    cancel["status"] = json!("cancelled");
    cancel["extension"] = gpc::cancellation_reason("Patient no longer needs it");
    steps.push((
        "cancel",
        step(Method::PUT, path, "Appointment_Update", Some(cancel)).await,
    ));
    let order = gpc::order();
    steps.push((
        "order",
        step(
            Method::POST,
            "/fhir/Order".into(),
            "Order_Create",
            Some(order),
        )
        .await,
    ));
    assert_eq!(steps.len(), 8);
    for (name, reply) in &steps {
        assert!(
            (200..300).contains(&reply.status),
            "{name}: {} {}",
            reply.status,
            reply.body
        );
        let violations: Vec<&str> = reply
            .headers
            .get_all("x-contract-violation")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(violations.is_empty(), "{name}: {violations:?}");
    }
}

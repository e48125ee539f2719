//! The 1.x (STU3) contract rules on the default Foundations + Appointment
//! Management API (`/B82617/STU3/1/gpconnect/fhir`): one table, a valid
//! 1.x request (tests/it/gpc1.rs) with one thing changed per row, and the
//! status, Spine code and rule the mock must answer with. Only the
//! data-independent request checks are here: what depends on the stored
//! slots, appointments and patients is the scenarios' tests.

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{client, Server};
use crate::gpc1::{self, BASE, FHIR_JSON};

const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const PATIENT_PROFILE: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1";
const APPOINTMENT_PROFILE: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Appointment-1";
const BOOKING_ORGANISATION: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-BookingOrganisation-1";
const CANCELLATION_REASON: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-AppointmentCancellationReason-1";
const NHS_COMMUNICATION: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-NHSCommunication-1";

/// Appends `item` to the array `array`.
fn push(array: &mut Value, item: Value) {
    if let Some(items) = array.as_array_mut() {
        items.push(item);
    }
}

/// `yyyy-MM-dd`, `days` from today (UTC).
fn day(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// The Patient a valid registration sends (DOMAIN-STU3.md §3).
pub fn register_patient() -> Value {
    json!({
        "resourceType": "Patient",
        "meta": {"profile": [PATIENT_PROFILE]},
        "identifier": [{"system": NHS_SYSTEM, "value": "9000000009"}],
        "name": [{"use": "official", "family": "Jackson", "given": ["Jane"], "prefix": ["Miss"]}],
        "gender": "female",
        "birthDate": "1990-01-01",
        "telecom": [
            {"system": "phone", "use": "home", "value": "01132587418"},
            {"system": "email", "use": "home", "value": "jane.jackson@example.org"}
        ],
        "address": [{"use": "temp", "type": "physical", "line": ["1 Withings Lane"], "city": "Leeds", "postalCode": "LS18 1AE"}]
    })
}

/// A valid booking (GPConnect-Appointment-1) of Slot/1 for Patient/1.
pub fn booking() -> Value {
    json!({
        "resourceType": "Appointment",
        "meta": {"profile": [APPOINTMENT_PROFILE]},
        "contained": [{
            "resourceType": "Organization",
            "id": "1",
            "meta": {"profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Organization-1"]},
            "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A11111"}],
            "name": "Consumer organisation name",
            "telecom": [{"system": "phone", "use": "temp", "value": "01823938938"}]
        }],
        "extension": [{"url": BOOKING_ORGANISATION, "valueReference": {"reference": "#1"}}],
        "status": "booked",
        "description": "Review of blood pressure",
        "start": format!("{}T09:00:00+00:00", day(2)),
        "end": format!("{}T09:10:00+00:00", day(2)),
        "slot": [{"reference": "Slot/1"}],
        "created": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        "participant": [
            {"actor": {"reference": "Patient/1"}, "status": "accepted"},
            {"actor": {"reference": "Location/1"}, "status": "accepted"}
        ]
    })
}

/// A request under construction for a 1.x operation.
#[derive(Clone)]
struct Req {
    method: Method,
    /// The 1.x root: Foundations' `BASE`, or Access Document's.
    base: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

impl Req {
    fn valid(operation: &'static str) -> Req {
        let get = |path: String| (Method::GET, path, None);
        let amend = || {
            let mut body = booking();
            body["id"] = json!("1");
            body
        };
        let (method, path, body) = match operation {
            "Metadata_Read" => get("/metadata".into()),
            "Patient_Search" => get(format!("/Patient?identifier={NHS_SYSTEM}%7C9690937278")),
            "Patient_Read" => get("/Patient/1".into()),
            "Practitioner_Search" => get(
                "/Practitioner?identifier=https://fhir.nhs.uk/Id/sds-user-id%7CG13579135".into(),
            ),
            "Practitioner_Read" => get("/Practitioner/1".into()),
            "Organization_Search" => get(
                "/Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code%7CB82617"
                    .into(),
            ),
            "Organization_Read" => get("/Organization/1".into()),
            "Location_Read" => get("/Location/1".into()),
            "HealthcareService_Search" => get(
                "/HealthcareService?identifier=https://fhir.nhs.uk/Id/uec-dos-service-id%7C9999999998"
                    .into(),
            ),
            "HealthcareService_Read" => get("/HealthcareService/1".into()),
            "Patient_Appointments" => get(format!(
                "/Patient/1/Appointment?start=ge{}&start=le{}",
                day(0),
                day(14)
            )),
            "Slot_Search" => get(format!(
                "/Slot?start=ge{}&end=le{}&status=free&_include=Slot:schedule",
                day(0),
                day(7)
            )),
            "Appointment_Read" => get("/Appointment/1".into()),
            "Documents_DocumentReference_Search" => get(format!(
                "/Patient/2/DocumentReference?{DOCUMENT_INCLUDES}"
            )),
            "Patient_Register" => (
                Method::POST,
                "/Patient/$gpc.registerpatient".into(),
                Some(json!({"resourceType": "Parameters", "parameter": [
                    {"name": "registerPatient", "resource": register_patient()}
                ]})),
            ),
            "Appointment_Create" => (Method::POST, "/Appointment".into(), Some(booking())),
            "Appointment_Amend" => (Method::PUT, "/Appointment/1".into(), Some(amend())),
            "Appointment_Cancel" => {
                let mut body = amend();
                body["status"] = json!("cancelled");
                body["extension"]
                    .as_array_mut()
                    .expect("extensions")
                    .push(json!({"url": CANCELLATION_REASON, "valueString": "Double booked"}));
                (Method::PUT, "/Appointment/1".into(), Some(body))
            }
            other => panic!("no valid 1.x request for {other}"),
        };
        let mut headers: Vec<(String, String)> = gpc1::headers(operation)
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        if body.is_some() {
            headers.push(("Content-Type".into(), FHIR_JSON.into()));
        }
        Req {
            method,
            base: if operation.starts_with("Documents_") {
                gpc1::DOCUMENTS_BASE
            } else {
                BASE
            },
            path: path.to_string(),
            headers,
            body,
        }
    }

    fn path(mut self, path: &str) -> Req {
        self.path = path.to_string();
        self
    }

    fn set(mut self, name: &str, value: &str) -> Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The body changed by `edit`.
    fn edit(mut self, edit: impl Fn(&mut Value)) -> Req {
        if let Some(body) = self.body.as_mut() {
            edit(body);
        }
        self
    }

    /// The registered Patient changed by `edit`.
    fn patient(self, edit: impl Fn(&mut Value)) -> Req {
        self.edit(|body| edit(&mut body["parameter"][0]["resource"]))
    }

    async fn send(&self, server: &Server, http: &reqwest::Client) -> Reply {
        let mut builder = http.request(
            self.method.clone(),
            server.url(&format!("{}{}", self.base, self.path)),
        );
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &self.body {
            builder = builder.body(body.to_string());
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

/// (case, operation, rule, request, status, Spine code, diagnostics
/// substring). A row with status 0 is a tolerance: no contract rule may
/// reject the request (what the scenarios answer is theirs).
type Row = (
    &'static str,
    &'static str,
    Req,
    u16,
    &'static str,
    &'static str,
);

#[rustfmt::skip]
/// The includes every document search needs.
const DOCUMENT_INCLUDES: &str = "_include=DocumentReference:subject:Patient\
    &_include=DocumentReference:custodian:Organization\
    &_include=DocumentReference:author:Organization\
    &_include=DocumentReference:author:Practitioner\
    &_revinclude:recurse=PractitionerRole:practitioner";

/// A document search for Patient/2 with `query` after the includes.
fn documents(query: &str) -> Req {
    Req::valid("Documents_DocumentReference_Search").path(&format!(
        "/Patient/2/DocumentReference?{DOCUMENT_INCLUDES}{query}"
    ))
}

fn table() -> Vec<Row> {
    let slots = || Req::valid("Slot_Search");
    let slot_query = |query: String| slots().path(&format!("/Slot?{query}"));
    let slot_dates = |start: &str, end: &str| {
        slot_query(format!(
            "start={start}&end={end}&status=free&_include=Slot:schedule"
        ))
    };
    let appointments = |query: String| {
        Req::valid("Patient_Appointments").path(&format!("/Patient/1/Appointment?{query}"))
    };
    let register = || Req::valid("Patient_Register");
    let book = || Req::valid("Appointment_Create");
    let amend = || Req::valid("Appointment_Amend");
    let cancel = || Req::valid("Appointment_Cancel");
    let remove = |key: &'static str| {
        move |v: &mut Value| {
            v.as_object_mut().map(|o| o.remove(key));
        }
    };
    let structured_metadata =
        "urn:nhs:names:services:gpconnect:structured:fhir:rest:read:metadata-1";
    vec![
        // Valid requests and tolerances: no rule rejects them.
        ("slot search by dates", "", slots(), 0, "", ""),
        ("slot search by dateTimes with offsets", "", slot_dates(&format!("ge{}T09:00:00%2B00:00", day(0)), &format!("le{}T17:00:00Z", day(3))), 0, "", ""),
        ("slot search of 14 days", "", slot_dates(&format!("ge{}", day(0)), &format!("le{}", day(14))), 0, "", ""),
        ("slot search of one day", "", slot_dates(&format!("ge{}", day(0)), &format!("le{}", day(0))), 0, "", ""),
        ("slot search with includes and filters, unknown ones ignored", "", slot_query(format!("start=ge{}&end=le{}&status=free&_include=Slot:schedule&_include:recurse=Schedule:actor:Practitioner&_include:recurse=Schedule:actor:HealthcareService&_include:recurse=Whatever:else&searchFilter=https://fhir.nhs.uk/Id/ods-organization-code%7CA20047&searchFilter=urn:example%7Cx", day(0), day(3))), 0, "", ""),
        ("patient appointments from today", "", Req::valid("Patient_Appointments"), 0, "", ""),
        ("patient appointments le first, with _sort", "", appointments(format!("start=le{}&start=ge{}&_sort=date", day(3), day(1))), 0, "", ""),
        ("registration without gender, with a nickname and another identifier", "", register().patient(|p| { p.as_object_mut().map(|o| o.remove("gender")); push(&mut p["name"], json!({"use": "nickname", "family": "J", "given": ["J"]})); push(&mut p["identifier"], json!({"system": "GenericIdentifierSystem", "value": "x"})); }), 0, "", ""),
        ("registration with nhsCommunication and phone + email of one use", "", register().patient(|p| { p["extension"] = json!([{"url": NHS_COMMUNICATION, "extension": [{"url": "language", "valueCodeableConcept": {"coding": [{"code": "de"}]}}]}]); p["telecom"] = json!([{"system": "phone", "use": "temp", "value": "1"}, {"system": "email", "use": "temp", "value": "a@b.c"}]); }), 0, "", ""),
        ("booking without a practitioner, with serviceType and channel", "", book().edit(|b| { b["serviceType"] = json!([{"text": "Consultation"}]); push(&mut b["extension"], json!({"url": "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-DeliveryChannel-2", "valueCode": "In-person"})); }), 0, "", ""),
        ("amend", "", amend(), 0, "", ""),
        ("cancel", "", cancel(), 0, "", ""),
        // Another 1.x capability's interaction on the Foundations root.
        ("structured metadata id on the Foundations root", "interaction-id", Req::valid("Metadata_Read").set("Ssp-InteractionID", structured_metadata), 400, "BAD_REQUEST", "must be urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1"),
        ("documents patient search id on the Foundations root", "interaction-id", Req::valid("Patient_Search").set("Ssp-InteractionID", "urn:nhs:names:services:gpconnect:documents:fhir:rest:search:patient-1"), 400, "BAD_REQUEST", "for GET /B82617/STU3/1/gpconnect/fhir/Patient"),
        // Identifier searches, STU3 systems.
        ("patient searched by the DSTU2 system", "identifier-system", Req::valid("Patient_Search").path("/Patient?identifier=http://fhir.nhs.net/Id/nhs-number%7C9690937278"), 400, "INVALID_IDENTIFIER_SYSTEM", "system must be https://fhir.nhs.uk/Id/nhs-number"),
        ("patient searched by a bad NHS number", "identifier-nhs-number", Req::valid("Patient_Search").path(&format!("/Patient?identifier={NHS_SYSTEM}%7C9690937279")), 400, "INVALID_NHS_NUMBER", "check digit"),
        ("patient searched without a system", "identifier-syntax", Req::valid("Patient_Search").path("/Patient?identifier=9690937278"), 422, "INVALID_PARAMETER", "must be <system>|<value>"),
        ("practitioner searched by an empty value", "identifier-syntax", Req::valid("Practitioner_Search").path("/Practitioner?identifier=https://fhir.nhs.uk/Id/sds-user-id%7C"), 422, "INVALID_PARAMETER", "both a system and a value"),
        ("service searched by another system: no DOS id token", "identifier-syntax", Req::valid("HealthcareService_Search").path("/HealthcareService?identifier=https://fhir.nhs.uk/Id/ods-organization-code%7CB82617"), 422, "INVALID_PARAMETER", "system must be https://fhir.nhs.uk/Id/uec-dos-service-id for a HealthcareService search"),
        ("services listed without identifier", "", Req::valid("HealthcareService_Search").path("/HealthcareService"), 0, "", ""),
        ("service searched by a token without value", "identifier-syntax", Req::valid("HealthcareService_Search").path("/HealthcareService?identifier=https://fhir.nhs.uk/Id/uec-dos-service-id%7C"), 422, "INVALID_PARAMETER", "both a system and a value"),
        ("organisation identifier twice", "identifier-param", Req::valid("Organization_Search").path("/Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code%7CB82617&identifier=https://fhir.nhs.uk/Id/ods-organization-code%7CB82617"), 400, "BAD_REQUEST", "exactly once"),
        // Search for free slots.
        ("slot search without status (the definition requires it)", "param-required", slot_query(format!("start=ge{}&end=le{}&_include=Slot:schedule", day(0), day(3))), 400, "BAD_REQUEST", "query parameter status is required"),
        ("slot search including no Slot:schedule", "slot-search-parameter-missing", slot_query(format!("start=ge{}&end=le{}&status=free&_include=Slot:other", day(0), day(3))), 400, "BAD_REQUEST", "query parameter _include must include Slot:schedule"),
        ("slot search start with lt", "slot-search-date", slot_dates(&format!("lt{}", day(0)), &format!("le{}", day(3))), 422, "INVALID_PARAMETER", "must have the prefix ge"),
        ("slot search end with ne", "slot-search-date", slot_dates(&format!("ge{}", day(0)), &format!("ne{}", day(3))), 422, "INVALID_PARAMETER", "must have the prefix le"),
        ("slot search by year", "slot-search-date", slot_dates("ge2030", "le2030-01-03"), 422, "INVALID_PARAMETER", "a full date (yyyy-MM-dd)"),
        ("slot search dateTime without offset", "slot-search-date", slot_dates(&format!("ge{}T09:00:00", day(0)), &format!("le{}", day(3))), 422, "INVALID_PARAMETER", "a dateTime with seconds and an offset"),
        ("slot search start not a date", "slot-search-date", slot_dates("invalidStartDate", &format!("le{}", day(3))), 422, "INVALID_PARAMETER", "invalidStartDate"),
        ("slot search start empty", "slot-search-date", slot_dates("", &format!("le{}", day(3))), 422, "INVALID_PARAMETER", "query parameter start"),
        ("slot search start twice", "slot-search-date", slot_query(format!("start=ge{0}&start=ge{0}&end=le{1}&status=free&_include=Slot:schedule", day(0), day(3))), 422, "INVALID_PARAMETER", "must be given once"),
        ("slot search of 15 days", "slot-search-window", slot_dates(&format!("ge{}", day(0)), &format!("le{}", day(15))), 422, "INVALID_PARAMETER", "must span at most 14 days, span 15"),
        ("slot search ending before it starts", "slot-search-window", slot_dates(&format!("ge{}", day(0)), &format!("le{}", day(-1))), 422, "INVALID_PARAMETER", "start must not be after end"),
        // Access Document's document search (its own root).
        ("document search with its includes", "", documents(""), 0, "", ""),
        ("document search without includes", "document-search-include", Req::valid("Documents_DocumentReference_Search").path("/Patient/2/DocumentReference"), 422, "INVALID_PARAMETER", "query parameter _include must include DocumentReference:subject:Patient"),
        ("document search without the revinclude", "document-search-include", Req::valid("Documents_DocumentReference_Search").path(&format!("/Patient/2/DocumentReference?{}", DOCUMENT_INCLUDES.replace("&_revinclude:recurse=PractitionerRole:practitioner", ""))), 422, "INVALID_PARAMETER", "query parameter _revinclude:recurse must be PractitionerRole:practitioner, was absent"),
        ("document search by an SDS author", "document-search-author", documents("&author=https://fhir.nhs.uk/Id/sds-user-id%7CG13579135"), 422, "INVALID_PARAMETER", "query parameter author must be https://fhir.nhs.uk/Id/ods-organization-code|<ODS code>"),
        ("document search created without prefix", "document-search-created", documents("&created=2020-01-01"), 422, "INVALID_PARAMETER", "query parameter created must be ge<date> or le<date>"),
        ("document search created ge after le", "document-search-created", documents("&created=ge2022&created=le2020"), 422, "INVALID_PARAMETER", "the ge date 2022-01-01 is after the le date 2020-01-01"),
        ("slot search of busy slots", "slot-search-status", slot_query(format!("start=ge{}&end=le{}&status=busy&_include=Slot:schedule", day(0), day(3))), 422, "INVALID_PARAMETER", "query parameter status must be free, was \"busy\""),
        // A patient's appointments.
        ("appointments with one start", "appointments-start-range", appointments(format!("start=ge{}", day(1))), 422, "INVALID_PARAMETER", "must be given twice"),
        ("appointments with two ge", "appointments-start-range", appointments(format!("start=ge{}&start=ge{}", day(1), day(2))), 422, "INVALID_PARAMETER", "both were ge"),
        ("appointments with a time", "appointments-start-range", appointments(format!("start=ge{}T10:00:00%2B00:00&start=le{}", day(1), day(2))), 422, "INVALID_PARAMETER", "a date (yyyy-MM-dd) with no time"),
        ("appointments by year", "appointments-start-range", appointments(format!("start=ge{}&start=le2031", day(1))), 422, "INVALID_PARAMETER", "with no time"),
        ("appointments with prefix eqs", "appointments-start-range", appointments(format!("start=eqs{}&start=le{}", day(1), day(2))), 422, "INVALID_PARAMETER", "must have the prefix ge or le"),
        ("appointments reversed", "appointments-start-range", appointments(format!("start=ge{}&start=le{}", day(5), day(2))), 422, "INVALID_PARAMETER", "must not be after"),
        ("appointments in the past", "appointments-start-past", appointments(format!("start=ge2010-03-03&start=le{}", day(2))), 422, "INVALID_PARAMETER", "is before today"),
        // $gpc.registerpatient.
        ("registration not a Parameters", "register-patient-body", register().edit(|b| b["resourceType"] = json!("InvalidResourceType")), 422, "INVALID_RESOURCE", "body /resourceType must be Parameters"),
        ("registration of another resource type", "register-patient-body", register().patient(|p| p["resourceType"] = json!("InvalidResourceType")), 422, "INVALID_RESOURCE", "resource/resourceType must be Patient"),
        ("registration without registerPatient", "register-patient-body", register().edit(|b| b["parameter"][0]["name"] = json!("patient")), 422, "INVALID_RESOURCE", "must be registerPatient"),
        ("registration twice over", "register-patient-duplicate", register().edit(|b| { let first = b["parameter"][0].clone(); push(&mut b["parameter"], first); }), 400, "BAD_REQUEST", "must hold registerPatient once"),
        ("registration with active", "register-patient-profile", register().patient(|p| p["active"] = json!(true)), 422, "INVALID_RESOURCE", "/active must not be sent"),
        ("registration with multipleBirth", "register-patient-profile", register().patient(|p| p["multipleBirthBoolean"] = json!(true)), 422, "INVALID_RESOURCE", "/multipleBirthBoolean must not be sent"),
        ("registration with a marital status", "register-patient-profile", register().patient(|p| p["maritalStatus"] = json!({"coding": [{"code": "M"}]})), 422, "INVALID_RESOURCE", "/maritalStatus must not be sent"),
        ("registration with an invalid field", "register-patient-profile", register().patient(|p| p["invalidField"] = json!("Assurance Testing")), 422, "INVALID_RESOURCE", "/invalidField is not an element"),
        ("registration with two temp addresses", "register-patient-profile", register().patient(|p| p["address"] = json!([{"use": "temp", "city": "Leeds"}, {"use": "temp", "city": "York"}])), 422, "INVALID_RESOURCE", "at most one temp address"),
        ("registration with two nhsCommunications", "register-patient-profile", register().patient(|p| p["extension"] = json!([{"url": NHS_COMMUNICATION, "extension": [{"url": "language", "valueCodeableConcept": {"text": "de"}}]}, {"url": NHS_COMMUNICATION, "extension": [{"url": "language", "valueCodeableConcept": {"text": "fr"}}]}])), 422, "INVALID_RESOURCE", "nhsCommunication at most once"),
        ("registration without meta.profile", "register-patient-profile", register().patient(remove("meta")), 422, "INVALID_RESOURCE", "/meta/profile must include"),
        ("registration without a birth date", "register-patient-demographics", register().patient(remove("birthDate")), 400, "BAD_REQUEST", "/birthDate is required"),
        ("registration without an official name", "register-patient-demographics", register().patient(|p| p["name"][0]["use"] = json!("anonymous")), 400, "BAD_REQUEST", "exactly one name with use official"),
        ("registration without a family name", "register-patient-demographics", register().patient(|p| { p["name"][0].as_object_mut().map(|n| n.remove("family")); }), 400, "BAD_REQUEST", "/name/0/family is required"),
        ("registration with an identifier without system", "register-patient-demographics", register().patient(|p| push(&mut p["identifier"], json!({"value": "NewIdentifierNoSystem"}))), 400, "BAD_REQUEST", "/identifier/1/system is required"),
        ("registration with two home phones", "register-patient-demographics", register().patient(|p| p["telecom"] = json!([{"system": "phone", "use": "home", "value": "1"}, {"system": "phone", "use": "home", "value": "2"}])), 400, "BAD_REQUEST", "a second phone home"),
        ("registration without identifiers", "register-patient-nhs-number", register().patient(remove("identifier")), 400, "INVALID_NHS_NUMBER", "must hold the patient's NHS number"),
        ("registration of NHS number hello", "register-patient-nhs-number", register().patient(|p| p["identifier"][0]["value"] = json!("hello")), 400, "INVALID_NHS_NUMBER", "NHS number \"hello\""),
        ("registration of a bad check digit", "register-patient-nhs-number", register().patient(|p| p["identifier"][0]["value"] = json!("9000000008")), 400, "INVALID_NHS_NUMBER", "check digit"),
        // Booking.
        ("booking a Bundle", "booking-profile", book().edit(|b| b["resourceType"] = json!("Bundle")), 422, "INVALID_RESOURCE", "body /resourceType must be Appointment"),
        ("booking an empty Appointment", "booking-profile", book().edit(|b| *b = json!({"resourceType": "Appointment"})), 422, "INVALID_RESOURCE", "is required"),
        ("booking with a reason", "booking-profile", book().edit(|b| b["reason"] = json!([{"coding": [{"system": "http://snomed.info/sct", "code": "17436001"}]}])), 422, "INVALID_RESOURCE", "body /reason must not be sent"),
        ("booking with a specialty", "booking-profile", book().edit(|b| b["specialty"] = json!([{"coding": [{"code": "394802001"}]}])), 422, "INVALID_RESOURCE", "body /specialty must not be sent"),
        ("booking without start", "booking-profile", book().edit(remove("start")), 422, "INVALID_RESOURCE", "body /start is required"),
        ("booking without created", "booking-profile", book().edit(remove("created")), 422, "INVALID_RESOURCE", "body /created is required"),
        ("booking with an invalid field", "booking-profile", book().edit(|b| b["invalidField"] = json!("Assurance Testing")), 422, "INVALID_RESOURCE", "body /invalidField is not an element"),
        ("booking participants without status", "booking-profile", book().edit(|b| { b["participant"][0].as_object_mut().map(|p| p.remove("status")); }), 422, "INVALID_RESOURCE", "body /participant/0/status is required"),
        ("booking pending", "booking-profile", book().edit(|b| b["status"] = json!("pending")), 422, "INVALID_RESOURCE", "body /status must be booked"),
        ("booking without meta.profile", "booking-profile", book().edit(remove("meta")), 422, "INVALID_RESOURCE", "body /meta/profile must include"),
        ("booking without a location", "booking-participants", book().edit(|b| { b["participant"].as_array_mut().map(|p| p.pop()); }), 422, "INVALID_RESOURCE", "must include a Location actor"),
        ("booking without a patient", "booking-participants", book().edit(|b| { b["participant"].as_array_mut().map(|p| p.remove(0)); }), 422, "INVALID_RESOURCE", "must include a Patient actor"),
        ("booking organisation by absolute reference", "booking-organisation", book().edit(|b| b["extension"][0]["valueReference"]["reference"] = json!("https://test1.supplier.example/A11111/STU3/1/GPConnect/#1")), 422, "INVALID_RESOURCE", "must be #<id> of a contained Organization"),
        ("booking organisation without a name", "booking-organisation", book().edit(|b| { b["contained"][0].as_object_mut().map(|o| o.remove("name")); }), 422, "INVALID_RESOURCE", "body /contained/0/name is required"),
        ("booking organisation without telecom", "booking-organisation", book().edit(|b| { b["contained"][0].as_object_mut().map(|o| o.remove("telecom")); }), 422, "INVALID_RESOURCE", "body /contained/0/telecom is required"),
        ("booking without a booking organisation", "booking-organisation", book().edit(|b| b["extension"] = json!([])), 422, "INVALID_RESOURCE", "must hold the booking-organisation extension"),
        ("booking with an unknown extension", "appointment-extension-1x", book().edit(|b| push(&mut b["extension"], json!({"url": "http://example.org/colour", "valueString": "red"}))), 422, "INVALID_RESOURCE", "no Appointment extension this provider knows"),
        ("booking with a cancellation reason", "appointment-extension-1x", book().edit(|b| push(&mut b["extension"], json!({"url": CANCELLATION_REASON, "valueString": "x"}))), 422, "INVALID_RESOURCE", "a booking must not carry"),
        ("booking slot Slot/45555555##", "appointment-reference", book().edit(|b| b["slot"][0]["reference"] = json!("Slot/45555555##")), 422, "INVALID_RESOURCE", "must be Slot/<id>"),
        ("booking slot by absolute URL", "appointment-reference", book().edit(|b| b["slot"][0]["reference"] = json!("https://test1.supplier.example/A11111/STU3/1/GPConnect/Slot/#12345")), 422, "INVALID_RESOURCE", "must be Slot/<id>"),
        ("booking description of 101 characters", "appointment-text-length", book().edit(|b| b["description"] = json!("d".repeat(101))), 422, "INVALID_RESOURCE", "body /description must be at most 100 characters, is 101"),
        ("booking comment of 501 characters", "appointment-text-length", book().edit(|b| b["comment"] = json!("c".repeat(501))), 422, "INVALID_RESOURCE", "body /comment must be at most 500 characters, is 501"),
        // Amend and cancel.
        ("amending with a Bundle", "appointment-update-profile", amend().edit(|b| b["resourceType"] = json!("Bundle")), 422, "INVALID_RESOURCE", "body /resourceType must be Appointment"),
        ("amending an empty Appointment", "appointment-update-profile", amend().edit(|b| *b = json!({"resourceType": "Appointment", "id": "1"})), 422, "INVALID_RESOURCE", "is required"),
        ("amending another appointment's id", "appointment-update-profile", amend().edit(|b| b["id"] = json!("2")), 422, "INVALID_RESOURCE", "body /id must be the id in the path \"1\""),
        ("amending without id", "appointment-update-profile", amend().edit(remove("id")), 422, "INVALID_RESOURCE", "body /id is required"),
        ("amending with a cancellation reason", "appointment-extension-1x", amend().edit(|b| push(&mut b["extension"], json!({"url": CANCELLATION_REASON, "valueString": "double booked"}))), 422, "INVALID_RESOURCE", "only a cancel"),
        ("amending a description of 101 characters", "appointment-text-length", amend().edit(|b| b["description"] = json!("d".repeat(101))), 422, "INVALID_RESOURCE", "at most 100 characters"),
        ("cancelling with absolute participants", "appointment-reference", cancel().edit(|b| push(&mut b["participant"], json!({"actor": {"reference": "https://test1.supplier.example/A11111/STU3/1/GPConnect/Practitioner/2"}, "status": "declined"}))), 422, "INVALID_RESOURCE", "must be a relative reference"),
        ("cancelling with an absolute booking organisation", "appointment-reference", cancel().edit(|b| b["extension"][0]["valueReference"]["reference"] = json!("https://test1.supplier.example/A11111/STU3/1/GPConnect/#1")), 422, "INVALID_RESOURCE", "must be #<id> of a contained Organization"),
        ("cancelling without a reason", "appointment-cancel-reason-missing", cancel().edit(|b| { b["extension"].as_array_mut().map(|e| e.pop()); }), 422, "INVALID_RESOURCE", "must carry the cancellation-reason extension"),
        ("cancelling with a misspelt reason url", "appointment-extension-1x", cancel().edit(|b| b["extension"][1]["url"] = json!("http://fhir.nhs.uk/StructuraeDefinition/extension-gpconnect-appointment-cancellation-reason-1-010")), 422, "INVALID_RESOURCE", "no Appointment extension this provider knows"),
        ("cancelling with an empty reason", "appointment-cancel-reason-empty", cancel().edit(|b| b["extension"][1]["valueString"] = json!("")), 422, "INVALID_PARAMETER", "must be a non-empty cancellation reason"),
        ("cancelling with a reason without value", "appointment-cancel-reason-empty", cancel().edit(|b| { b["extension"][1].as_object_mut().map(|e| e.remove("valueString")); }), 422, "INVALID_PARAMETER", "must be a non-empty cancellation reason"),
    ]
}

/// Every STU3-only rule of the catalogue has a row (the If-Match rules
/// need a stored appointment: `src/versions.rs`'s tests and
/// tests/it/versions.rs).
#[test]
fn every_stu3_rule_of_the_catalogue_has_a_row() {
    use gpconnect_mock::contract::catalogue::{Eras, RULES};
    // Rows of tests/it/contract.rs (`stu3_rules_on_the_1_5_0_definition`),
    // and of tests/it/structured.rs
    // (`each_structured_rule_answers_as_the_catalogue_says`: Access Record
    // Structured's root).
    const ELSEWHERE: [&str; 10] = [
        "jwt-requested-record-absent",
        "jwt-claim-resource-invalid",
        "structured-parameters-resource",
        "structured-nhs-number",
        "structured-identifier-system",
        "structured-parameter",
        "structured-recent-with-period",
        "structured-combination",
        "migrate-parameter",
        "migrate-sensitive-scope",
    ];
    let rows = table();
    let missing: Vec<&str> = RULES
        .iter()
        .filter(|rule| rule.eras == Eras::Stu3)
        .map(|rule| rule.name)
        .filter(|name| !ELSEWHERE.contains(name) && !rows.iter().any(|row| row.1 == *name))
        .collect();
    assert!(missing.is_empty(), "STU3 rules without a row: {missing:?}");
}

#[tokio::test]
async fn every_stu3_rule_answers_with_its_status_code_and_diagnostics() {
    let server = Server::start(&[]);
    let http = client();
    let rows = table();
    let mut failures = Vec::new();
    for (case, name, request, status, code, needle) in &rows {
        let reply = request.send(&server, &http).await;
        let ok = if *status == 0 {
            !reply.diagnostics().contains("(rule ")
        } else {
            reply.status == *status
                && reply.code() == *code
                && reply.diagnostics().contains(needle)
                && reply.diagnostics().ends_with(&format!("(rule {name})"))
                && reply.body["resourceType"] == "OperationOutcome"
                && reply.body["meta"]["profile"][0]
                    == "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"
        };
        if !ok {
            failures.push(format!(
                "{case}: expected {status} {code} {needle:?} (rule {name}), got {} {}",
                reply.status, reply.body
            ));
        }
        if reply
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            != Some("no-store")
        {
            failures.push(format!("{case}: no Cache-Control: no-store"));
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

/// A valid 1.x request of every operation breaks no rule: served in `warn`
/// mode, none reports a violation (whatever its scenarios answer).
#[tokio::test]
async fn the_valid_1x_requests_break_no_rule() {
    let server = Server::start(&["--contract", "warn"]);
    let http = client();
    let operations = [
        "Metadata_Read",
        "Patient_Search",
        "Patient_Read",
        "Patient_Register",
        "Patient_Appointments",
        "Practitioner_Search",
        "Practitioner_Read",
        "Organization_Search",
        "Organization_Read",
        "Location_Read",
        "HealthcareService_Search",
        "HealthcareService_Read",
        "Slot_Search",
        "Appointment_Create",
        "Appointment_Read",
        "Appointment_Amend",
        "Appointment_Cancel",
    ];
    let mut failures = Vec::new();
    for operation in operations {
        let reply = Req::valid(operation).send(&server, &http).await;
        let violations: Vec<&str> = reply
            .headers
            .get_all("x-contract-violation")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !violations.is_empty() || reply.diagnostics().contains("(rule ") {
            failures.push(format!(
                "{operation}: {violations:?} {} {}",
                reply.status, reply.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Issue #17 item 5: versions and ETags — `meta.versionId` and `ETag` on
//! resource answers, `Location` of creates, version reads (`_history`),
//! `If-Match`, `If-None-Match` and `Prefer`, in JSON and XML.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::Server;
use crate::gpc;

/// An answer whatever its body: status, headers, text.
struct Raw {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Raw {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    fn spine_code(&self) -> String {
        self.json()["issue"][0]["details"]["coding"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// A valid GP Connect request of `operation` with extra headers.
async fn exchange(
    server: &Server,
    method: Method,
    path: &str,
    operation: &str,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> Raw {
    let mut request = gpc::request(
        &crate::common::client(),
        method,
        &server.url(path),
        operation,
    );
    if let Some(body) = body {
        request = request
            .header("Content-Type", gpc::FHIR_JSON)
            .body(body.to_string());
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("answered");
    Raw {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

async fn get(server: &Server, path: &str, operation: &str, extra: &[(&str, &str)]) -> Raw {
    exchange(server, Method::GET, path, operation, None, extra).await
}

/// Books the first free slot: the 201 answer.
async fn book(server: &Server, extra: &[(&str, &str)]) -> Raw {
    let schedule = exchange(
        server,
        Method::POST,
        "/fhir/Organization/$gpc.getschedule",
        "OrganizationOperation_GetSchedule",
        Some(&gpc::schedule_parameters("A20047", 7)),
        &[],
    )
    .await;
    assert_eq!(schedule.status, 200, "{}", schedule.text);
    let slot = schedule.json()["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .find(|r| r["resourceType"] == "Slot" && r["freeBusyType"] == "free")
        .expect("a free slot");
    let booking = gpc::booking(&slot);
    exchange(
        server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        Some(&booking),
        extra,
    )
    .await
}

/// An amend of `appointment` (its read body) with a new comment.
async fn amend(server: &Server, appointment: &Value, comment: &str, extra: &[(&str, &str)]) -> Raw {
    let mut body = appointment.clone();
    body["comment"] = json!(comment);
    let id = appointment["id"].as_str().expect("id");
    exchange(
        server,
        Method::PUT,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Update",
        Some(&body),
        extra,
    )
    .await
}

#[tokio::test]
async fn resource_reads_carry_their_version_as_etag() {
    let server = Server::start(&[]);
    for (path, operation, kind) in [
        ("/fhir/Patient/2", "Patient_Read", "Patient"),
        ("/fhir/Practitioner/1", "Practitioner_Read", "Practitioner"),
        ("/fhir/Appointment/1", "Appointment_Read", "Appointment"),
        ("/fhir/Location/1", "Location_Read", "Location"),
    ] {
        let r = get(&server, path, operation, &[]).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        let body = r.json();
        assert_eq!(body["resourceType"], kind);
        let version = body["meta"]["versionId"].as_str().expect("meta.versionId");
        assert_eq!(r.header("etag"), format!("W/\"{version}\""), "{path}");
    }
    // Searches (Bundles) and errors (OperationOutcomes) carry none.
    let search = get(
        &server,
        "/fhir/Patient?identifier=http://fhir.nhs.net/Id/nhs-number%7C9658218873",
        "PatientIdentifier_SearchByIdentifier",
        &[],
    )
    .await;
    assert_eq!((search.status, search.header("etag")), (200, ""));
    let missing = get(&server, "/fhir/Patient/404", "Patient_Read", &[]).await;
    assert_eq!((missing.status, missing.header("etag")), (404, ""));
}

#[tokio::test]
async fn book_amend_and_read_versions() {
    let server = Server::start(&[]);
    let booked = book(&server, &[]).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    let appointment = booked.json();
    let id = appointment["id"].as_str().expect("id").to_string();
    assert_eq!(appointment["meta"]["versionId"], "1");
    assert_eq!(booked.header("etag"), "W/\"1\"");
    assert_eq!(
        booked.header("location"),
        format!("/fhir/Appointment/{id}/_history/1")
    );

    let amended = amend(&server, &appointment, "Second version", &[]).await;
    assert_eq!(amended.status, 200, "{}", amended.text);
    assert_eq!(amended.header("etag"), "W/\"2\"");
    assert_eq!(amended.json()["meta"]["versionId"], "2");
    let read = get(
        &server,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Read",
        &[],
    )
    .await;
    assert_eq!(read.header("etag"), "W/\"2\"");
    assert_eq!(read.json()["comment"], "Second version");

    // vread: both versions, each with its own body and ETag.
    let first = get(
        &server,
        &format!("/fhir/Appointment/{id}/_history/1"),
        "Appointment_Read",
        &[],
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.header("etag"), "W/\"1\"");
    assert_eq!(first.json()["meta"]["versionId"], "1");
    assert_eq!(
        first.json()["comment"],
        Value::Null,
        "version 1 had no comment"
    );
    assert_eq!(first.json()["description"], "Sore throat");
    let second = get(
        &server,
        &format!("/fhir/Appointment/{id}/_history/2"),
        "Appointment_Read",
        &[],
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.header("etag"), "W/\"2\"");
    assert_eq!(
        second.json(),
        read.json(),
        "the current version is the read"
    );
    let unknown = get(
        &server,
        &format!("/fhir/Appointment/{id}/_history/9"),
        "Appointment_Read",
        &[],
    )
    .await;
    assert_eq!(
        (
            unknown.status,
            unknown.spine_code().as_str(),
            unknown.header("etag")
        ),
        (404, "NO_RECORD_FOUND", "")
    );
    assert!(
        unknown.json()["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or("")
            .contains("has no version 9: its current version is 2"),
        "{}",
        unknown.text
    );
    // A vread goes through the read's checks: the read's interaction id.
    let vread_of_unknown = get(
        &server,
        "/fhir/Appointment/999999/_history/1",
        "Appointment_Read",
        &[],
    )
    .await;
    assert_eq!(vread_of_unknown.status, 404, "{}", vread_of_unknown.text);
    let wrong_interaction = get(
        &server,
        &format!("/fhir/Appointment/{id}/_history/1"),
        "Appointment_Update",
        &[],
    )
    .await;
    assert_eq!(
        (
            wrong_interaction.status,
            wrong_interaction.spine_code().as_str()
        ),
        (400, "BAD_REQUEST"),
        "{}",
        wrong_interaction.text
    );
    // Static reads: version 1 is the read, any other is unknown.
    let patient = get(&server, "/fhir/Patient/2/_history/1", "Patient_Read", &[]).await;
    assert_eq!((patient.status, patient.header("etag")), (200, "W/\"1\""));
    assert_eq!(patient.json()["id"], "2");
    let patient = get(&server, "/fhir/Patient/2/_history/2", "Patient_Read", &[]).await;
    assert_eq!(patient.status, 404, "{}", patient.text);
}

#[tokio::test]
async fn if_match_guards_updates() {
    let server = Server::start(&[]);
    let booked = book(&server, &[]).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    let appointment = booked.json();
    let id = appointment["id"].as_str().expect("id").to_string();
    let path = format!("/fhir/Appointment/{id}");

    // Matching: 200, version 2.
    let r = amend(&server, &appointment, "matched", &[("If-Match", "W/\"1\"")]).await;
    assert_eq!((r.status, r.header("etag")), (200, "W/\"2\""), "{}", r.text);

    // Stale: 409 FHIR_CONSTRAINT_VIOLATION, and nothing changed.
    let r = amend(&server, &appointment, "stale", &[("If-Match", "W/\"1\"")]).await;
    assert_eq!(
        (r.status, r.spine_code().as_str()),
        (409, "FHIR_CONSTRAINT_VIOLATION"),
        "{}",
        r.text
    );
    assert_eq!(r.json()["issue"][0]["code"], "conflict");
    let read = get(&server, &path, "Appointment_Read", &[]).await;
    assert_eq!(read.header("etag"), "W/\"2\"");
    assert_eq!(
        read.json()["comment"],
        "matched",
        "the stale amend changed nothing"
    );

    // A stale cancel frees no slot and cancels nothing either.
    let mut cancel = read.json();
    cancel["status"] = json!("cancelled");
    cancel["extension"] = gpc::cancellation_reason("Patient no longer needs it");
    let r = exchange(
        &server,
        Method::PUT,
        &path,
        "Appointment_Update",
        Some(&cancel),
        &[("If-Match", "W/\"1\"")],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let read = get(&server, &path, "Appointment_Read", &[]).await;
    assert_eq!(read.json()["status"], "booked");

    // Malformed: 400. Absent (DSTU2 tolerates it): 200, version 3.
    let r = amend(&server, &appointment, "bare", &[("If-Match", "2")]).await;
    assert_eq!(
        (r.status, r.spine_code().as_str()),
        (400, "BAD_REQUEST"),
        "{}",
        r.text
    );
    let r = amend(&server, &appointment, "no If-Match", &[]).await;
    assert_eq!((r.status, r.header("etag")), (200, "W/\"3\""), "{}", r.text);
}

#[tokio::test]
async fn if_none_match_answers_304_for_the_current_version() {
    let server = Server::start(&[]);
    for tag in ["W/\"1\"", "\"1\"", "*"] {
        let r = get(
            &server,
            "/fhir/Patient/2",
            "Patient_Read",
            &[("If-None-Match", tag)],
        )
        .await;
        assert_eq!(r.status, 304, "{tag}");
        assert_eq!(r.text, "", "{tag}: no body");
        assert_eq!(r.header("etag"), "W/\"1\"", "{tag}");
    }
    let r = get(
        &server,
        "/fhir/Patient/2",
        "Patient_Read",
        &[("If-None-Match", "W/\"0\"")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], "2");

    // After an amend the old tag is stale and the new one current.
    let booked = book(&server, &[]).await;
    let appointment = booked.json();
    let id = appointment["id"].as_str().expect("id").to_string();
    let path = format!("/fhir/Appointment/{id}");
    assert_eq!(amend(&server, &appointment, "v2", &[]).await.status, 200);
    let stale = get(
        &server,
        &path,
        "Appointment_Read",
        &[("If-None-Match", "W/\"1\"")],
    )
    .await;
    assert_eq!((stale.status, stale.header("etag")), (200, "W/\"2\""));
    let current = get(
        &server,
        &path,
        "Appointment_Read",
        &[("If-None-Match", "W/\"2\"")],
    )
    .await;
    assert_eq!((current.status, current.text.as_str()), (304, ""));
}

#[tokio::test]
async fn prefer_shapes_what_writes_return() {
    let server = Server::start(&[]);
    let minimal = book(&server, &[("Prefer", "return=minimal")]).await;
    assert_eq!(minimal.status, 201);
    assert_eq!(minimal.text, "", "no body");
    assert_eq!(minimal.header("content-type"), "");
    assert_eq!(minimal.header("etag"), "W/\"1\"");
    let location = minimal.header("location").to_string();
    assert!(
        location.starts_with("/fhir/Appointment/") && location.ends_with("/_history/1"),
        "{location}"
    );
    // The booking was made: the Location's vread serves it.
    let stored = get(&server, &location, "Appointment_Read", &[]).await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    let appointment = stored.json();
    assert_eq!(appointment["status"], "booked");

    let r = amend(
        &server,
        &appointment,
        "quiet",
        &[("Prefer", "return=minimal")],
    )
    .await;
    assert_eq!(
        (r.status, r.text.as_str(), r.header("etag")),
        (200, "", "W/\"2\"")
    );

    let r = amend(
        &server,
        &appointment,
        "told",
        &[("Prefer", "return=OperationOutcome")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), "W/\"3\"");
    let outcome = r.json();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["severity"], "information");
    let id = appointment["id"].as_str().unwrap_or("");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("Appointment/{id} (version 3)")),
        "{outcome}"
    );

    let r = amend(
        &server,
        &appointment,
        "shown",
        &[("Prefer", "return=representation")],
    )
    .await;
    assert_eq!(r.json()["comment"], "shown");
    // The minimal and OperationOutcome answers changed the state all the same.
    let read = get(
        &server,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Read",
        &[],
    )
    .await;
    assert_eq!(read.header("etag"), "W/\"4\"");
}

#[tokio::test]
async fn xml_answers_carry_the_same_etag() {
    let server = Server::start(&[]);
    let json = get(&server, "/fhir/Practitioner/1", "Practitioner_Read", &[]).await;
    let xml = get(
        &server,
        "/fhir/Practitioner/1?_format=xml",
        "Practitioner_Read",
        &[],
    )
    .await;
    assert_eq!(xml.status, 200, "{}", xml.text);
    assert!(xml
        .header("content-type")
        .starts_with("application/xml+fhir"));
    assert!(
        xml.text.contains("<versionId value=\"1\"/>"),
        "{}",
        xml.text
    );
    assert_eq!(xml.header("etag"), json.header("etag"));
    assert_eq!(xml.header("etag"), "W/\"1\"");

    let booked = book(&server, &[]).await;
    let appointment = booked.json();
    let id = appointment["id"].as_str().expect("id").to_string();
    assert_eq!(
        amend(&server, &appointment, "in XML", &[]).await.status,
        200
    );
    let vread = get(
        &server,
        &format!("/fhir/Appointment/{id}/_history/1?_format=xml"),
        "Appointment_Read",
        &[],
    )
    .await;
    assert_eq!(vread.status, 200, "{}", vread.text);
    assert_eq!(vread.header("etag"), "W/\"1\"");
    assert!(vread.text.starts_with("<?xml") && vread.text.contains("<versionId value=\"1\"/>"));
    let not_modified = get(
        &server,
        &format!("/fhir/Appointment/{id}?_format=xml"),
        "Appointment_Read",
        &[("If-None-Match", "W/\"2\"")],
    )
    .await;
    assert_eq!((not_modified.status, not_modified.text.as_str()), (304, ""));
}

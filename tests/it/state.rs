//! Issue: stateful flows (the appointment journey) and the admin API
//! (request journal, near misses, scenarios, state, reset).

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{client, Server};

async fn send(
    server: &Server,
    method: Method,
    path: &str,
    operation: &str,
    body: Option<Value>,
) -> Reply {
    gpc::send(server, method, path, operation, "9658218873", body).await
}
use crate::gpc::{self, spine_code, Reply};

async fn admin(server: &Server, method: Method, path: &str) -> Value {
    client()
        .request(method, server.url(path))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .unwrap_or(Value::Null)
}

async fn free_slots(server: &Server) -> Vec<Value> {
    let r = send(
        server,
        Method::POST,
        "/fhir/Organization/$gpc.getschedule",
        "OrganizationOperation_GetSchedule",
        Some(gpc::schedule_parameters("A20047", 7)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .filter(|r| r["resourceType"] == "Slot" && r["freeBusyType"] == "free")
        .collect()
}

#[tokio::test]
async fn the_whole_appointment_journey() {
    let server = Server::start(&[]);
    let slots = free_slots(&server).await;
    assert!(slots.len() >= 10, "{} free slots", slots.len());
    let slot = slots[3].clone();
    let slot_ref = format!("Slot/{}", slot["id"].as_str().unwrap_or(""));

    // Book: 201, Location, the slot is no longer free.
    let r = send(
        &server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        Some(gpc::booking(&slot)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert!(r.headers["location"]
        .to_str()
        .unwrap_or("")
        .contains(&format!("/Appointment/{id}")));
    assert_eq!(r.headers["etag"], "W/\"1\"");
    assert!(
        !free_slots(&server)
            .await
            .iter()
            .any(|s| s["id"] == slot["id"]),
        "the booked slot disappears from getschedule"
    );

    // Book it again: 409 DUPLICATE_REJECTED.
    let r = send(
        &server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        Some(gpc::booking(&slot)),
    )
    .await;
    assert_eq!(
        (r.status, spine_code(&r.body)),
        (409, "DUPLICATE_REJECTED"),
        "{}",
        r.body
    );

    // An unknown slot: 422 REFERENCE_NOT_FOUND.
    let mut unknown = gpc::booking(&slot);
    unknown["slot"] = json!([{"reference": "Slot/9999"}]);
    let r = send(
        &server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        Some(unknown),
    )
    .await;
    assert_eq!(
        (r.status, spine_code(&r.body)),
        (422, "REFERENCE_NOT_FOUND"),
        "{}",
        r.body
    );

    // Read it back; the patient's list has it.
    let r = send(
        &server,
        Method::GET,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Read",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["slot"][0]["reference"], slot_ref.as_str());
    let r = send(
        &server,
        Method::GET,
        "/fhir/Patient/2/Appointment",
        "PatientCompartment_Appointment",
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let listed: Vec<&str> = r.body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["resource"]["id"].as_str())
        .collect();
    assert!(
        listed.contains(&id.as_str()) && listed.contains(&"1"),
        "{listed:?}"
    );

    // Cancel with an empty reason: 422; with a reason: 200, the slot is free again.
    let reason_url = "http://fhir.nhs.net/StructureDefinition/extension-gpconnect-appointment-cancellation-reason-1";
    let mut cancel = send(
        &server,
        Method::GET,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Read",
        None,
    )
    .await
    .body;
    cancel["status"] = json!("cancelled");
    cancel["extension"] = gpc::cancellation_reason("Patient no longer needs it");
    cancel["extension"] = json!([{"url": reason_url, "valueString": ""}]);
    let r = send(
        &server,
        Method::PUT,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Update",
        Some(cancel.clone()),
    )
    .await;
    assert_eq!(
        (r.status, spine_code(&r.body)),
        (422, "INVALID_PARAMETER"),
        "{}",
        r.body
    );
    cancel["extension"] = json!([{"url": reason_url, "valueString": "Patient recovered"}]);
    let r = send(
        &server,
        Method::PUT,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Update",
        Some(cancel.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.headers["etag"], "W/\"2\"");
    assert!(
        free_slots(&server)
            .await
            .iter()
            .any(|s| s["id"] == slot["id"]),
        "cancelling frees the slot"
    );
    let r = send(
        &server,
        Method::GET,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Read",
        None,
    )
    .await;
    assert_eq!(
        r.body["status"], "cancelled",
        "the stored appointment is cancelled"
    );
    let r = send(
        &server,
        Method::PUT,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Update",
        Some(cancel),
    )
    .await;
    assert_eq!(
        (r.status, spine_code(&r.body)),
        (422, "INVALID_RESOURCE"),
        "already cancelled: {}",
        r.body
    );

    // Unknown appointment: 404.
    let r = send(
        &server,
        Method::GET,
        "/fhir/Appointment/424242",
        "Appointment_Read",
        None,
    )
    .await;
    assert_eq!((r.status, spine_code(&r.body)), (404, "NO_RECORD_FOUND"));

    // Reset: back to the seeds.
    admin(&server, Method::POST, "/__admin/reset").await;
    let r = send(
        &server,
        Method::GET,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Read",
        None,
    )
    .await;
    assert_eq!(r.status, 404, "reset forgets bookings");
    let state = admin(&server, Method::GET, "/__admin/state/appointments").await;
    assert_eq!(state["count"], 1);
}

/// 20 simultaneous bookings of one slot: exactly one 201, the rest 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bookings_of_one_slot_book_it_once() {
    let server = std::sync::Arc::new(Server::start(&[]));
    let slot = free_slots(&server).await[0].clone();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (server, body) = (server.clone(), gpc::booking(&slot));
        tasks.push(tokio::spawn(async move {
            send(
                &server,
                Method::POST,
                "/fhir/Appointment",
                "Appointment_Create",
                Some(body),
            )
            .await
            .status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn state_survives_a_reload() {
    let pack = crate::reload::PackCopy::new();
    let server = pack.start(&[]);
    let slot = free_slots(&server).await[0].clone();
    let r = send(
        &server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        Some(gpc::booking(&slot)),
    )
    .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_str().expect("id").to_string();
    let reloaded = client()
        .post(server.url("/__admin/reload"))
        .send()
        .await
        .expect("reload");
    assert_eq!(reloaded.status(), 200);
    let r = send(
        &server,
        Method::GET,
        &format!("/fhir/Appointment/{id}"),
        "Appointment_Read",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "the booking outlives the reload");
}

#[tokio::test]
async fn journal_records_orders_caps_and_explains() {
    let server = Server::start(&["--journal-size", "5"]);
    // A matched request, a rejected one, an unmatched one (patient search falls
    // to its catch-all, so use a forced unknown scenario for "none").
    send(
        &server,
        Method::GET,
        "/fhir/Patient/2",
        "Patient_Read",
        None,
    )
    .await;
    let rejected = client()
        .get(server.url("/fhir/Patient/2"))
        .send()
        .await
        .expect("request");
    assert_eq!(rejected.status(), 400);
    let list = admin(&server, Method::GET, "/__admin/requests").await;
    let requests = list["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["status"], 400, "newest first");
    assert_eq!(requests[1]["scenario"], "patient-meakin");
    assert_eq!(requests[1]["operation"], "Patient_Read");

    // Detail: headers with the Authorization cut short, contract findings.
    let id = requests[1]["id"].as_u64().expect("id");
    let detail = admin(&server, Method::GET, &format!("/__admin/requests/{id}")).await;
    let authorization = detail["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .find(|h| h[0] == "authorization")
        .and_then(|h| h[1].as_str())
        .expect("authorization recorded");
    assert!(
        authorization.starts_with("Bearer ")
            && authorization.contains("chars)")
            && authorization.len() < 60,
        "{authorization}"
    );
    let rejected_id = requests[0]["id"].as_u64().expect("id");
    let detail = admin(
        &server,
        Method::GET,
        &format!("/__admin/requests/{rejected_id}"),
    )
    .await;
    assert!(
        !detail["contract_findings"]
            .as_array()
            .expect("findings")
            .is_empty(),
        "{detail}"
    );

    // Filters.
    let only = admin(&server, Method::GET, "/__admin/requests?status=400").await;
    assert_eq!(only["count"], 1);
    let only = admin(
        &server,
        Method::GET,
        "/__admin/requests?operation=Patient_Read&status=200&limit=1",
    )
    .await;
    assert_eq!(only["count"], 1);

    // The cap: 5 entries at most.
    for _ in 0..6 {
        send(
            &server,
            Method::GET,
            "/fhir/Location/1",
            "Location_Read",
            None,
        )
        .await;
    }
    let list = admin(&server, Method::GET, "/__admin/requests").await;
    assert_eq!(list["count"], 5);
    assert!(list["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .all(|r| r["operation"] == "Location_Read"));

    // Delete.
    let response = client()
        .delete(server.url("/__admin/requests"))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), 204);
    assert_eq!(
        admin(&server, Method::GET, "/__admin/requests").await["count"],
        0
    );
}

#[tokio::test]
async fn near_miss_names_the_closest_scenario_and_failed_condition() {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::create_dir_all(dir.path().join("scenarios")).expect("mkdir");
    std::fs::write(
        dir.path().join("scenarios/read.yaml"),
        "operation: Patient_Read\nscenarios:\n  - name: only-patient-2\n    when:\n      path: { id: \"2\" }\n      headers: { Ssp-From: \"200000000359\" }\n    then:\n      status: 200\n      body: '{\"resourceType\": \"Patient\", \"id\": \"2\"}'\n",
    )
    .expect("write");
    let scenarios = dir.path().join("scenarios").display().to_string();
    let server = Server::start(&["--api", "gpconnect-dstu2", "--scenarios", &scenarios]);
    let r = send(
        &server,
        Method::GET,
        "/fhir/Patient/3",
        "Patient_Read",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "the spec answers");
    let unmatched = admin(&server, Method::GET, "/__admin/requests/unmatched").await;
    let first = &unmatched["requests"][0];
    assert_eq!(
        first["closest"]["scenario"], "only-patient-2",
        "{unmatched}"
    );
    assert_eq!(
        first["closest"]["failed_condition"],
        "path parameter `id` is not equal to \"2\""
    );
    assert_eq!(first["closest"]["line"], 3);

    let scenarios = admin(&server, Method::GET, "/__admin/scenarios").await;
    let read = scenarios["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .find(|o| o["operation"] == "Patient_Read")
        .cloned()
        .expect("Patient_Read");
    assert_eq!(read["scenarios"][0]["hits"], 0);
    send(
        &server,
        Method::GET,
        "/fhir/Patient/2",
        "Patient_Read",
        None,
    )
    .await;
    let scenarios = admin(&server, Method::GET, "/__admin/scenarios").await;
    let read = scenarios["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .find(|o| o["operation"] == "Patient_Read")
        .cloned()
        .expect("Patient_Read");
    assert_eq!(read["scenarios"][0]["hits"], 1);
}

/// WireMock-style named states: requires_state / sets_state.
#[tokio::test]
async fn named_scenario_states_sequence_answers() {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::create_dir_all(dir.path().join("scenarios")).expect("mkdir");
    std::fs::write(
        dir.path().join("scenarios/read.yaml"),
        r#"operation: Location_Read
scenarios:
  - name: first-visit
    state_machine: visits
    when: { requires_state: Started }
    then:
      sets_state: seen
      body: '{"resourceType": "Location", "id": "1", "name": "first"}'
  - name: later-visits
    state_machine: visits
    when: { requires_state: seen }
    then:
      body: '{"resourceType": "Location", "id": "1", "name": "again"}'
"#,
    )
    .expect("write");
    let scenarios = dir.path().join("scenarios").display().to_string();
    let server = Server::start(&["--api", "gpconnect-dstu2", "--scenarios", &scenarios]);
    let name = |r: Reply| r.body["name"].as_str().unwrap_or("").to_string();
    assert_eq!(
        name(
            send(
                &server,
                Method::GET,
                "/fhir/Location/1",
                "Location_Read",
                None
            )
            .await
        ),
        "first"
    );
    assert_eq!(
        name(
            send(
                &server,
                Method::GET,
                "/fhir/Location/1",
                "Location_Read",
                None
            )
            .await
        ),
        "again"
    );
    assert_eq!(
        admin(&server, Method::GET, "/__admin/scenarios").await["states"]["visits"],
        "seen"
    );
    admin(&server, Method::POST, "/__admin/reset").await;
    assert_eq!(
        name(
            send(
                &server,
                Method::GET,
                "/fhir/Location/1",
                "Location_Read",
                None
            )
            .await
        ),
        "first"
    );
}

/// A state action whose template fails to render answers 500 naming the
/// scenario, the action and the failure, and changes nothing (it used to
/// write an empty string and answer 200).
#[tokio::test]
async fn a_failing_state_action_template_is_a_500_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp");
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(&scenarios).expect("mkdir");
    std::fs::write(
        scenarios.join("notes.yaml"),
        "collection: notes\ndocuments:\n  - { id: \"1\", seen: never }\n",
    )
    .expect("write seed");
    std::fs::write(
        scenarios.join("read.yaml"),
        "operation: Patient_Read\nscenarios:\n  - name: marks-a-note\n    then:\n      status: 200\n      body: '{\"resourceType\": \"Patient\", \"id\": \"2\"}'\n      state:\n        - update: { collection: notes, id: \"1\", set: { seen: '{{date_add \"2020-01-01\" \"soon\"}}' } }\n",
    )
    .expect("write scenario");
    let scenarios = scenarios.display().to_string();
    let server = Server::start(&["--api", "gpconnect-dstu2", "--scenarios", &scenarios]);
    let r = send(
        &server,
        Method::GET,
        "/fhir/Patient/2",
        "Patient_Read",
        None,
    )
    .await;
    assert_eq!(r.status, 500, "{}", r.body);
    let diagnostics = r.body["issue"][0]["diagnostics"]
        .as_str()
        .unwrap_or_default();
    for part in [
        "marks-a-note",
        "state action `update` on collection `notes`",
        "set `seen`",
        "unchanged",
    ] {
        assert!(diagnostics.contains(part), "{part:?} in {diagnostics}");
    }
    let notes = admin(&server, Method::GET, "/__admin/state/notes").await;
    assert_eq!(notes["documents"][0]["seen"], "never", "{notes}");
}

//! GP Connect 1.x (STU3) Appointment Management on the default server's
//! Foundations API (`/B82617/STU3/1/gpconnect/fhir`, practice B82617): the
//! slot search, booking one or more slots, reading, amending and cancelling
//! an appointment, and a patient's appointments, each checked with the
//! state it leaves (scenarios/foundations/{slot,appointment}/,
//! scenarios/foundations/state/{schedules,slots,appointments}.yaml).
//!
//! The seeded slots (slots.yaml): day d = 1..8 from today has, with
//! n = 4 * (d - 1), Slot/n+1 09:00-09:10 and Slot/n+2 09:10-09:20 on
//! Schedule/1 (in person), Slot/n+3 09:20-09:30 on Schedule/2 (telephone),
//! Slot/n+4 14:00-14:15 on Schedule/3 (video); Slot/33 and /34 are busy
//! (Patient/2's Appointment/1 and /2), Slot/35 is free (Appointment/3 was
//! cancelled), Slot/36 two days ago is busy (Appointment/4, in the past).
//! Each test starts its own server, so each starts from the seeds.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{client, Server};
use crate::gpc1::{self, entries_of, spine_code, Reply, BASE};

const CANCELLATION_REASON: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-AppointmentCancellationReason-1";
const BOOKING_ORGANISATION: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-BookingOrganisation-1";
const DOS: &str = "https://fhir.nhs.uk/Id/uec-dos-service-id";

/// `yyyy-MM-dd` of today plus `days` (UTC, as the seeds are rendered).
fn day(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// `GET /Slot` for the days `from..=to` (from today), plus `extra` query.
async fn search(server: &Server, from: i64, to: i64, extra: &str) -> Reply {
    let path = format!(
        "/Slot?start=ge{}&end=le{}&status=free&_include=Slot:schedule{extra}",
        day(from),
        day(to)
    );
    gpc1::send(server, Method::GET, &path, "Slot_Search", None).await
}

/// The ids of a Bundle's resources of `resource_type`, in order.
fn ids_of(body: &Value, resource_type: &str) -> Vec<String> {
    entries_of(body, resource_type)
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

/// The ids of the free slots over the next 14 days.
async fn free_slots(server: &Server) -> Vec<String> {
    let found = search(server, 0, 13, "").await;
    assert_eq!(found.status, 200, "{}", found.body);
    ids_of(&found.body, "Slot")
}

/// The stored documents of one of the 1.x API's collections, through the
/// admin API.
async fn documents(server: &Server, collection: &str) -> Vec<Value> {
    let body: Value = client()
        .get(server.url(&format!(
            "/__admin/state/{collection}?api=gpconnect-foundations"
        )))
        .send()
        .await
        .expect("admin state")
        .json()
        .await
        .expect("JSON");
    body["documents"].as_array().cloned().unwrap_or_default()
}

fn slot_ids(appointment: &Value) -> Vec<String> {
    appointment["slot"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["reference"].as_str())
        .map(|r| r.trim_start_matches("Slot/").to_string())
        .collect()
}

/// Every slot is held by at most one appointment that is not cancelled,
/// and is busy exactly when it is held; the server logged no broken rule.
async fn assert_one_booking_per_slot(server: &Server) {
    let appointments = documents(server, "appointments").await;
    for slot in documents(server, "slots").await {
        let id = slot["id"].as_str().unwrap_or("").to_string();
        let holders: Vec<&Value> = appointments
            .iter()
            .filter(|a| a["status"] != "cancelled" && slot_ids(a).contains(&id))
            .map(|a| &a["id"])
            .collect();
        assert!(holders.len() <= 1, "Slot/{id} is held by {holders:?}");
        assert_eq!(
            slot["status"] == "busy",
            holders.len() == 1,
            "Slot/{id} is {} and held by {holders:?}",
            slot["status"]
        );
    }
    assert!(
        !server.logs().contains("state integrity"),
        "the server found a broken invariant: {}",
        server.logs()
    );
}

/// A booking of `slots` for `patient`, as a consumer sends it: the times
/// of its first and last slot, the booking organisation contained.
async fn booking(server: &Server, slots: &[&str], patient: &str) -> Value {
    let all = documents(server, "slots").await;
    let time = |id: &str, field: &str| {
        all.iter()
            .find(|s| s["id"] == id)
            .map(|s| s[field].clone())
            .unwrap_or_else(|| json!(format!("{}T09:00:00+00:00", day(1))))
    };
    json!({
        "resourceType": "Appointment",
        "meta": {"profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Appointment-1"]},
        "contained": [{
            "resourceType": "Organization",
            "id": "1",
            "meta": {"profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Organization-1"]},
            "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A11111"}],
            "name": "Consumer organisation name",
            "telecom": [{"system": "phone", "value": "01234 567890"}]
        }],
        "extension": [{"url": BOOKING_ORGANISATION, "valueReference": {"reference": "#1"}}],
        "status": "booked",
        "description": "Review of blood pressure",
        "start": time(slots[0], "start"),
        "end": time(slots[slots.len() - 1], "end"),
        "slot": slots.iter().map(|s| json!({"reference": format!("Slot/{s}")})).collect::<Vec<_>>(),
        "created": format!("{}T10:00:00+00:00", day(0)),
        "participant": [
            {"actor": {"reference": format!("Patient/{patient}")}, "status": "accepted"},
            {"actor": {"reference": "Location/1"}, "status": "accepted"}
        ]
    })
}

async fn book(server: &Server, slots: &[&str], patient: &str) -> Reply {
    let body = booking(server, slots, patient).await;
    gpc1::send(
        server,
        Method::POST,
        "/Appointment",
        "Appointment_Create",
        Some(body),
    )
    .await
}

async fn read(server: &Server, id: &str) -> Reply {
    gpc1::send(
        server,
        Method::GET,
        &format!("/Appointment/{id}"),
        "Appointment_Read",
        None,
    )
    .await
}

/// `PUT /Appointment/{id}` as `operation` (Appointment_Amend or
/// Appointment_Cancel), with `If-Match` naming `version`.
async fn put(server: &Server, id: &str, operation: &str, version: &str, body: Value) -> Reply {
    let response = gpc1::request(
        &client(),
        Method::PUT,
        server,
        &format!("/Appointment/{id}"),
        operation,
    )
    .header("Content-Type", gpc1::FHIR_JSON)
    .header("If-Match", format!("W/\"{version}\""))
    .body(body.to_string())
    .send()
    .await
    .expect("request");
    Reply::read(response, "PUT /Appointment").await
}

/// The stored appointment with a new description and comment.
fn amended(stored: &Value, description: &str) -> Value {
    let mut body = stored.clone();
    body["description"] = json!(description);
    body["comment"] = json!("Patient would like a call beforehand");
    body
}

/// The stored appointment, cancelled with a reason.
fn cancelled(stored: &Value) -> Value {
    let mut body = stored.clone();
    body["status"] = json!("cancelled");
    body["extension"]
        .as_array_mut()
        .expect("the booking's extensions")
        .push(json!({"url": CANCELLATION_REASON, "valueString": "Patient no longer needs it"}));
    body
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn slot_search_gives_free_slots_in_range_and_what_it_asks_for() {
    let server = Server::start(&[]);

    // Tomorrow: its four slots, their three schedules, the practice; no
    // practitioner or location unless asked.
    let found = search(&server, 1, 1, "").await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["type"], "searchset");
    assert_eq!(ids_of(&found.body, "Slot"), ["1", "2", "3", "4"]);
    assert_eq!(ids_of(&found.body, "Schedule"), ["1", "2", "3"]);
    assert_eq!(ids_of(&found.body, "Organization"), ["7"]);
    assert!(ids_of(&found.body, "Practitioner").is_empty());
    assert!(ids_of(&found.body, "Location").is_empty());
    let slot = entries_of(&found.body, "Slot")[0];
    assert_eq!(
        slot["meta"]["profile"][0],
        "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Slot-1"
    );
    assert_eq!(slot["status"], "free");
    assert_eq!(slot["schedule"]["reference"], "Schedule/1");
    assert_eq!(slot["serviceType"][0]["text"], "General GP appointment");
    assert_eq!(
        slot["extension"][0]["url"],
        "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-DeliveryChannel-2"
    );
    let channels: Vec<&Value> = entries_of(&found.body, "Slot")
        .iter()
        .map(|s| &s["extension"][0]["valueCode"])
        .collect();
    assert_eq!(
        channels,
        [
            &json!("In-person"),
            &json!("In-person"),
            &json!("Telephone"),
            &json!("Video")
        ]
    );
    assert!(slot["start"].as_str().unwrap_or("").starts_with(&day(1)));
    let schedule = entries_of(&found.body, "Schedule")[0];
    assert_eq!(
        schedule["meta"]["profile"][0],
        "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Schedule-1"
    );
    assert_eq!(
        schedule["extension"][0]["url"],
        "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-PractitionerRole-1"
    );
    assert!(schedule["serviceCategory"]["text"].is_string());
    assert_eq!(
        schedule["actor"],
        json!([{"reference": "Location/1"}, {"reference": "Practitioner/1"}]),
        "no HealthcareService while service filtering is off"
    );
    let organization = entries_of(&found.body, "Organization")[0];
    assert_eq!(organization["identifier"][0]["value"], "B82617");

    // Slots wholly inside the range: two days give eight; the busy Slot/33
    // (day 3) never shows, the free Slot/35 (day 4, its appointment
    // cancelled) does.
    let two_days = search(&server, 1, 2, "").await;
    assert_eq!(ids_of(&two_days.body, "Slot").len(), 8);
    let all = free_slots(&server).await;
    assert_eq!(all.len(), 33, "{all:?}");
    assert!(!all.contains(&"33".to_string()) && !all.contains(&"34".to_string()));
    assert!(all.contains(&"35".to_string()));
    // A window with no slot: no entry at all, not even the Organization.
    let none = search(&server, 20, 22, "").await;
    assert_eq!(none.status, 200);
    assert_eq!(none.body["entry"], json!([]));

    // _include:recurse adds each only when asked.
    let practitioners = search(
        &server,
        1,
        1,
        "&_include:recurse=Schedule:actor:Practitioner",
    )
    .await;
    assert_eq!(ids_of(&practitioners.body, "Practitioner"), ["1", "2", "3"]);
    assert!(ids_of(&practitioners.body, "Location").is_empty());
    let locations = search(&server, 1, 1, "&_include:recurse=Schedule:actor:Location").await;
    assert_eq!(ids_of(&locations.body, "Location"), ["1", "8", "3"]);
    assert!(ids_of(&locations.body, "Practitioner").is_empty());
    assert_eq!(ids_of(&locations.body, "Organization"), ["7"]);
    let everything = search(
        &server,
        1,
        1,
        "&_include:recurse=Schedule:actor:Practitioner&_include:recurse=Schedule:actor:Location&_include:recurse=Location:managingOrganization",
    )
    .await;
    assert_eq!(ids_of(&everything.body, "Practitioner").len(), 3);
    assert_eq!(ids_of(&everything.body, "Location").len(), 3);
    let mut organizations = ids_of(&everything.body, "Organization");
    organizations.sort();
    assert_eq!(
        organizations,
        ["1", "2", "3", "7"],
        "each location's, then the practice"
    );
    for location in entries_of(&everything.body, "Location") {
        let managing = location["managingOrganization"]["reference"]
            .as_str()
            .unwrap_or("");
        assert!(
            organizations
                .iter()
                .any(|o| format!("Organization/{o}") == managing),
            "{managing}"
        );
    }

    // searchFilter (another ODS code, an organisation type) never empties it.
    for filter in [
        "https://fhir.nhs.uk/Id/ods-organization-code|A20047",
        "https://fhir.nhs.uk/Id/ods-organization-code|RNR01",
        "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-OrganisationType-1|urgent-care",
        "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-OrganisationType-1|gp-practice",
    ] {
        let filtered = search(&server, 1, 1, &format!("&searchFilter={filter}")).await;
        assert_eq!(filtered.status, 200, "{filter}: {}", filtered.body);
        assert_eq!(
            ids_of(&filtered.body, "Slot"),
            ["1", "2", "3", "4"],
            "{filter}"
        );
    }

    // Service filtering is off (the default): service.identifier filters
    // nothing, the answer says so, and no HealthcareService is included.
    let service = search(
        &server,
        1,
        1,
        &format!("&service.identifier={DOS}|9999999998&_include:recurse=Schedule:actor:HealthcareService"),
    )
    .await;
    assert_eq!(service.status, 200, "{}", service.body);
    assert_eq!(ids_of(&service.body, "Slot"), ["1", "2", "3", "4"]);
    assert!(ids_of(&service.body, "HealthcareService").is_empty());
    assert_eq!(
        service.body["meta"]["extension"][0],
        json!({
            "url": "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-ServiceFilteringStatus-1",
            "valueCode": "supplier-disabled"
        })
    );
    let unknown = search(&server, 1, 1, &format!("&service.identifier={DOS}|1234")).await;
    assert_eq!(unknown.status, 200, "ignored while off: {}", unknown.body);
}

/// Copies the project's downloads/, scenarios/ and templates/ into a
/// temporary directory with the practice's service filtering `enabled`.
fn pack_with_service_filtering() -> tempfile::TempDir {
    crate::common::checkout_with(
        "scenarios/foundations/state/practice.yaml",
        "serviceFiltering: supplier-disabled",
        "serviceFiltering: enabled",
    )
}

#[tokio::test]
async fn service_filtering_when_enabled_keeps_the_services_slots() {
    let pack = pack_with_service_filtering();
    let server = Server::start_in(pack.path(), &[]);
    // HealthcareService/1 (DOS 9999999998) is Schedule/1's: its two slots a day.
    let service = search(
        &server,
        1,
        1,
        &format!("&service.identifier={DOS}|9999999998&_include:recurse=Schedule:actor:HealthcareService"),
    )
    .await;
    assert_eq!(service.status, 200, "{}", service.body);
    assert_eq!(ids_of(&service.body, "Slot"), ["1", "2"]);
    assert_eq!(ids_of(&service.body, "Schedule"), ["1"]);
    assert_eq!(ids_of(&service.body, "HealthcareService"), ["1"]);
    assert_eq!(service.body["meta"]["extension"][0]["valueCode"], "enabled");
    assert_eq!(
        entries_of(&service.body, "Schedule")[0]["actor"][2],
        json!({"reference": "HealthcareService/1"})
    );
    // Schedule/2 offers the other service; an unknown one is 404.
    let other = search(
        &server,
        1,
        1,
        &format!("&service.identifier={DOS}|9999999999"),
    )
    .await;
    assert_eq!(ids_of(&other.body, "Slot"), ["3"]);
    let unknown = search(&server, 1, 1, &format!("&service.identifier={DOS}|1234")).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(spine_code(&unknown.body), "NO_RECORD_FOUND");
    // Without a service, every free slot, and no status extension.
    let all = search(&server, 1, 1, "").await;
    assert_eq!(ids_of(&all.body, "Slot"), ["1", "2", "3", "4"]);
    assert!(all.body["meta"]["extension"].is_null());
    // A booking of Schedule/1's slot has its service as a participant;
    // one of Schedule/3's (no service) has none.
    let booked = book(&server, &["1"], "2").await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    let participants = booked.body["participant"].as_array().expect("participants");
    assert_eq!(participants.len(), 3, "{participants:?}");
    assert_eq!(participants[2]["actor"]["reference"], "HealthcareService/1");
    let video = book(&server, &["4"], "2").await;
    assert_eq!(video.status, 201, "{}", video.body);
    assert_eq!(video.body["participant"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn booking_a_slot_makes_it_busy_once() {
    let server = Server::start(&[]);
    let booked = book(&server, &["1"], "2").await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    let id = booked.body["id"].as_str().expect("an id").to_string();
    assert_eq!(
        header(&booked, "location"),
        format!("{BASE}/Appointment/{id}/_history/1")
    );
    assert_eq!(header(&booked, "etag"), "W/\"1\"");
    let appointment = &booked.body;
    assert_eq!(appointment["resourceType"], "Appointment");
    assert_eq!(appointment["meta"]["versionId"], "1");
    assert_eq!(
        appointment["meta"]["profile"][0],
        "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Appointment-1"
    );
    assert_eq!(appointment["status"], "booked");
    assert_eq!(appointment["start"], format!("{}T09:00:00+00:00", day(1)));
    assert_eq!(appointment["end"], format!("{}T09:10:00+00:00", day(1)));
    assert_eq!(appointment["slot"], json!([{"reference": "Slot/1"}]));
    assert!(appointment["created"].is_string());
    assert_eq!(
        appointment["contained"][0]["identifier"][0]["value"],
        "A11111"
    );
    assert_eq!(appointment["extension"][0]["url"], BOOKING_ORGANISATION);
    assert_eq!(
        appointment["participant"],
        json!([
            {"actor": {"reference": "Patient/2"}, "status": "accepted"},
            {"actor": {"reference": "Location/1"}, "status": "accepted"}
        ]),
        "no HealthcareService while service filtering is off"
    );

    // The slot is busy: gone from the search; booking it again is 409.
    assert!(!free_slots(&server).await.contains(&"1".to_string()));
    let again = book(&server, &["1"], "20").await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(spine_code(&again.body), "DUPLICATE_REJECTED");
    assert_eq!(again.body["issue"][0]["code"], "duplicate");
    // A slot the practice does not have.
    let unknown = book(&server, &["999"], "2").await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert_eq!(spine_code(&unknown.body), "REFERENCE_NOT_FOUND");

    // Read: the stored appointment; an unknown id is 404 NO_RECORD_FOUND.
    let stored = read(&server, &id).await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    assert_eq!(&stored.body, appointment);
    assert_eq!(header(&stored, "etag"), "W/\"1\"");
    let seeded = read(&server, "3").await;
    assert_eq!(seeded.body["status"], "cancelled");
    let missing = read(&server, "424242").await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(spine_code(&missing.body), "NO_RECORD_FOUND");

    let held: Vec<Value> = documents(&server, "appointments")
        .await
        .into_iter()
        .filter(|a| slot_ids(a) == ["1"])
        .collect();
    assert_eq!(held.len(), 1, "one appointment holds Slot/1: {held:?}");
    assert_one_booking_per_slot(&server).await;
}

#[tokio::test]
async fn several_slots_book_together_only_when_they_follow_on() {
    let server = Server::start(&[]);
    // Slot/5 and /6: day 2, 09:00-09:10 and 09:10-09:20, Schedule/1.
    let booked = book(&server, &["5", "6"], "2").await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    assert_eq!(booked.body["start"], format!("{}T09:00:00+00:00", day(2)));
    assert_eq!(booked.body["end"], format!("{}T09:20:00+00:00", day(2)));
    assert_eq!(
        booked.body["slot"],
        json!([{"reference": "Slot/5"}, {"reference": "Slot/6"}])
    );
    let free = free_slots(&server).await;
    assert!(!free.contains(&"5".to_string()) && !free.contains(&"6".to_string()));

    // Slot/10 then /11 follow on in time, but /11 is Schedule/2's.
    let other_schedule = book(&server, &["10", "11"], "2").await;
    assert_eq!(other_schedule.status, 422, "{}", other_schedule.body);
    assert_eq!(spine_code(&other_schedule.body), "INVALID_RESOURCE");
    // Slot/9 (09:00) and /12 (14:00) do not follow on; nor do /10, /9 (reversed).
    for slots in [["9", "12"], ["10", "9"], ["9", "9"]] {
        let apart = book(&server, &slots, "2").await;
        assert_eq!(apart.status, 422, "{slots:?}: {}", apart.body);
        assert_eq!(spine_code(&apart.body), "INVALID_RESOURCE", "{slots:?}");
    }
    // One slot taken: 409, and the other stays free.
    let single = book(&server, &["14"], "2").await;
    assert_eq!(single.status, 201, "{}", single.body);
    let partly_taken = book(&server, &["13", "14"], "2").await;
    assert_eq!(partly_taken.status, 409, "{}", partly_taken.body);
    assert_eq!(spine_code(&partly_taken.body), "DUPLICATE_REJECTED");
    // One slot unknown: 422 REFERENCE_NOT_FOUND, and nothing booked.
    let partly_unknown = book(&server, &["13", "999"], "2").await;
    assert_eq!(partly_unknown.status, 422, "{}", partly_unknown.body);
    assert_eq!(spine_code(&partly_unknown.body), "REFERENCE_NOT_FOUND");
    let free = free_slots(&server).await;
    for slot in ["9", "10", "11", "12", "13"] {
        assert!(
            free.contains(&slot.to_string()),
            "Slot/{slot} is still free"
        );
    }
    assert_one_booking_per_slot(&server).await;
}

#[tokio::test]
async fn amend_changes_only_description_and_comment_and_cancel_frees_the_slots() {
    let server = Server::start(&[]);
    let booked = book(&server, &["17", "18"], "2").await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    let id = booked.body["id"].as_str().expect("id").to_string();

    // Amend: description and comment; version 2.
    let amend = put(
        &server,
        &id,
        "Appointment_Amend",
        "1",
        amended(&booked.body, "Changed"),
    )
    .await;
    assert_eq!(amend.status, 200, "{}", amend.body);
    assert_eq!(amend.body["description"], "Changed");
    assert_eq!(
        amend.body["comment"],
        "Patient would like a call beforehand"
    );
    assert_eq!(amend.body["status"], "booked");
    assert_eq!(amend.body["meta"]["versionId"], "2");
    assert_eq!(header(&amend, "etag"), "W/\"2\"");
    let stored = read(&server, &id).await;
    assert_eq!(stored.body["description"], "Changed");
    assert_eq!(stored.body["meta"]["versionId"], "2");
    assert_eq!(stored.body["slot"], booked.body["slot"]);

    // An amend that changes anything else is refused, and changes nothing.
    let mut moved = amended(&stored.body, "Moved");
    moved["slot"] = json!([{"reference": "Slot/19"}]);
    let mut retimed = amended(&stored.body, "Retimed");
    retimed["start"] = json!(format!("{}T09:05:00+00:00", day(5)));
    let mut other_patient = amended(&stored.body, "Other patient");
    other_patient["participant"][0]["actor"]["reference"] = json!("Patient/20");
    let mut dropped = amended(&stored.body, "Dropped");
    dropped.as_object_mut().expect("object").remove("contained");
    let mut reasoned = amended(&stored.body, "Arrived");
    reasoned["status"] = json!("arrived");
    for (what, body) in [
        ("slot", moved),
        ("start", retimed),
        ("participant", other_patient),
        ("contained", dropped),
        ("status", reasoned),
    ] {
        let refused = put(&server, &id, "Appointment_Amend", "2", body).await;
        assert_eq!(refused.status, 422, "{what}: {}", refused.body);
        assert_eq!(spine_code(&refused.body), "INVALID_RESOURCE", "{what}");
    }
    let unchanged = read(&server, &id).await;
    assert_eq!(unchanged.body, stored.body);
    assert!(free_slots(&server).await.contains(&"19".to_string()));

    // A cancel that also changes something else is refused too.
    let mut cancel_and_move = cancelled(&stored.body);
    cancel_and_move["description"] = json!("Cancelled and changed");
    let refused = put(&server, &id, "Appointment_Cancel", "2", cancel_and_move).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(spine_code(&refused.body), "INVALID_RESOURCE");

    // Cancel: status and reason; version 3; both slots free again.
    let cancel = put(
        &server,
        &id,
        "Appointment_Cancel",
        "2",
        cancelled(&stored.body),
    )
    .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(cancel.body["status"], "cancelled");
    assert_eq!(cancel.body["meta"]["versionId"], "3");
    assert_eq!(cancel.body["description"], "Changed");
    assert!(cancel.body["extension"]
        .as_array()
        .expect("extensions")
        .iter()
        .any(
            |e| e["url"] == CANCELLATION_REASON && e["valueString"] == "Patient no longer needs it"
        ));
    assert_eq!(cancel.body["slot"], booked.body["slot"]);
    let free = free_slots(&server).await;
    assert!(free.contains(&"17".to_string()) && free.contains(&"18".to_string()));
    let stored = read(&server, &id).await;
    assert_eq!(stored.body["status"], "cancelled");
    assert_eq!(stored.body["meta"]["versionId"], "3");

    // Cancelled: another cancel or an amend is 422 INVALID_RESOURCE.
    let again = put(
        &server,
        &id,
        "Appointment_Cancel",
        "3",
        cancelled(&stored.body),
    )
    .await;
    assert_eq!(again.status, 422, "{}", again.body);
    assert_eq!(spine_code(&again.body), "INVALID_RESOURCE");
    let mut revive = stored.body.clone();
    revive["status"] = json!("booked");
    let amend_cancelled = put(&server, &id, "Appointment_Amend", "3", revive).await;
    assert_eq!(amend_cancelled.status, 422, "{}", amend_cancelled.body);
    assert_eq!(spine_code(&amend_cancelled.body), "INVALID_RESOURCE");
    // The seeded Appointment/3 was cancelled already.
    let seeded = read(&server, "3").await;
    let version = header(&seeded, "etag")
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string();
    let seeded_again = put(
        &server,
        "3",
        "Appointment_Cancel",
        &version,
        seeded.body.clone(),
    )
    .await;
    assert_eq!(seeded_again.status, 422, "{}", seeded_again.body);

    // The seeded Appointment/4 is in the past: neither amended nor cancelled.
    let past = read(&server, "4").await;
    assert_eq!(past.status, 200, "{}", past.body);
    let amend_past = put(
        &server,
        "4",
        "Appointment_Amend",
        "1",
        amended(&past.body, "Late"),
    )
    .await;
    assert_eq!(amend_past.status, 422, "{}", amend_past.body);
    assert_eq!(spine_code(&amend_past.body), "INVALID_RESOURCE");
    let cancel_past = put(
        &server,
        "4",
        "Appointment_Cancel",
        "1",
        cancelled(&past.body),
    )
    .await;
    assert_eq!(cancel_past.status, 422, "{}", cancel_past.body);
    assert_eq!(read(&server, "4").await.body, past.body);

    // An unknown appointment is 404.
    let mut body = booked.body.clone();
    body["id"] = json!("424242");
    let unknown = put(&server, "424242", "Appointment_Amend", "1", body).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(spine_code(&unknown.body), "NO_RECORD_FOUND");
    assert_one_booking_per_slot(&server).await;
}

#[tokio::test]
async fn book_amend_cancel_book_again_holds_each_slot_once() {
    let server = Server::start(&[]);
    let first = book(&server, &["21", "22"], "2").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.body["id"].as_str().expect("id").to_string();
    let amend = put(
        &server,
        &id,
        "Appointment_Amend",
        "1",
        amended(&first.body, "Amended"),
    )
    .await;
    assert_eq!(amend.status, 200, "{}", amend.body);
    // An amend can never move it: the same slots stay held.
    assert_eq!(book(&server, &["21"], "20").await.status, 409);
    assert_eq!(book(&server, &["22"], "20").await.status, 409);
    let cancel = put(
        &server,
        &id,
        "Appointment_Cancel",
        "2",
        cancelled(&amend.body),
    )
    .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_one_booking_per_slot(&server).await;

    // Booked again (by another patient): exactly one booked appointment per slot.
    let second = book(&server, &["21", "22"], "20").await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_ne!(second.body["id"], first.body["id"]);
    let third = book(&server, &["22"], "2").await;
    assert_eq!(third.status, 409, "{}", third.body);
    let appointments = documents(&server, "appointments").await;
    for slot in ["21", "22"] {
        let booked: Vec<&Value> = appointments
            .iter()
            .filter(|a| a["status"] == "booked" && slot_ids(a).contains(&slot.to_string()))
            .collect();
        assert_eq!(booked.len(), 1, "Slot/{slot}: {booked:?}");
        assert_eq!(booked[0]["id"], second.body["id"]);
    }
    // The cancelled one still names them, and stays cancelled.
    assert_eq!(read(&server, &id).await.body["status"], "cancelled");
    assert_one_booking_per_slot(&server).await;
}

#[tokio::test]
async fn a_patients_appointments_in_range_include_cancelled_ones() {
    let server = Server::start(&[]);
    let list = |patient: &'static str, from: i64, to: i64| {
        let server = &server;
        async move {
            gpc1::send(
                server,
                Method::GET,
                &format!(
                    "/Patient/{patient}/Appointment?start=ge{}&start=le{}",
                    day(from),
                    day(to)
                ),
                "Patient_Appointments",
                None,
            )
            .await
        }
    };
    // Patient/2 (9690937286): booked on days 3 and 6, cancelled on day 4.
    let all = list("2", 0, 13).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body["type"], "searchset");
    assert_eq!(ids_of(&all.body, "Appointment"), ["1", "2", "3"]);
    assert_eq!(
        entries_of(&all.body, "Appointment")[2]["status"],
        "cancelled"
    );
    // The range: days 3..4 (the whole `le` day) has 1 and 3; day 5 none.
    assert_eq!(
        ids_of(&list("2", 3, 4).await.body, "Appointment"),
        ["1", "3"]
    );
    assert_eq!(
        ids_of(&list("2", 5, 5).await.body, "Appointment"),
        Vec::<String>::new()
    );
    // The bounds in either order.
    let reversed = gpc1::send(
        &server,
        Method::GET,
        &format!(
            "/Patient/2/Appointment?start=le{}&start=ge{}",
            day(4),
            day(0)
        ),
        "Patient_Appointments",
        None,
    )
    .await;
    assert_eq!(ids_of(&reversed.body, "Appointment"), ["1", "3"]);
    // Patient/20 (patientNoAppointments, 9690938134): none, until booked.
    let none = list("20", 0, 13).await;
    assert_eq!(none.status, 200, "{}", none.body);
    assert_eq!(none.body["entry"], json!([]));
    let booked = book(&server, &["25"], "20").await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    assert_eq!(
        ids_of(&list("20", 0, 13).await.body, "Appointment"),
        [booked.body["id"].as_str().expect("id")]
    );
    // A patient the practice does not serve (sensitive Patient/9): 404.
    let hidden = list("9", 0, 13).await;
    assert_eq!(hidden.status, 404, "{}", hidden.body);
    assert_eq!(spine_code(&hidden.body), "PATIENT_NOT_FOUND");
}

/// The whole 1.x journey a consumer runs, on the default server next to a
/// DSTU2 request: find a patient, register one from the PDS pool, find free
/// slots, book one for the new patient, read, amend and cancel it (without
/// `If-Match`, as the 1.x test pack does), and list the patient's
/// appointments; the DSTU2 API answers its own scenario meanwhile.
#[tokio::test]
async fn the_whole_1x_journey_beside_the_dstu2_api() {
    let server = Server::start(&[]);
    // Find a patient.
    let found = gpc1::send(
        &server,
        Method::GET,
        "/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number%7C9690937286",
        "Patient_Search",
        None,
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(ids_of(&found.body, "Patient"), vec!["2".to_string()]);
    // Register one from the PDS pool: a temporary registration.
    let registration = json!({
        "resourceType": "Parameters",
        "parameter": [{"name": "registerPatient", "resource": {
            "resourceType": "Patient",
            "meta": {"profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1"]},
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9651258500"}],
            "name": [{"use": "official", "family": "REA", "given": ["Clive"]}],
            "gender": "male",
            "birthDate": "1951-03-10"
        }}]
    });
    let registered = gpc1::send(
        &server,
        Method::POST,
        "/Patient/$gpc.registerpatient",
        "Patient_Register",
        Some(registration),
    )
    .await;
    assert_eq!(registered.status, 200, "{}", registered.body);
    let patients = entries_of(&registered.body, "Patient");
    let patient = patients[0]["id"]
        .as_str()
        .expect("the new patient's id")
        .to_string();
    // Find free slots and book the first for the new patient.
    let free = free_slots(&server).await;
    let slot = free.first().expect("a free slot").clone();
    let booked = book(&server, &[slot.as_str()], &patient).await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    assert_eq!(header(&booked, "etag"), "W/\"1\"");
    let id = booked.body["id"]
        .as_str()
        .expect("the appointment's id")
        .to_string();
    assert!(
        !free_slots(&server).await.contains(&slot),
        "Slot/{slot} is busy"
    );
    // Read, amend and cancel it, without If-Match.
    let read_back = read(&server, &id).await;
    assert_eq!(read_back.status, 200, "{}", read_back.body);
    let without_if_match = |operation: &'static str, body: Value| {
        let id = id.clone();
        let server = &server;
        async move {
            gpc1::send(
                server,
                Method::PUT,
                &format!("/Appointment/{id}"),
                operation,
                Some(body),
            )
            .await
        }
    };
    let amend = without_if_match(
        "Appointment_Amend",
        amended(&read_back.body, "Follow-up of the new registration"),
    )
    .await;
    assert_eq!(amend.status, 200, "{}", amend.body);
    assert_eq!(
        amend.body["description"],
        "Follow-up of the new registration"
    );
    assert_eq!(header(&amend, "etag"), "W/\"2\"");
    let cancel = without_if_match("Appointment_Cancel", cancelled(&amend.body)).await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(cancel.body["status"], "cancelled");
    assert!(
        free_slots(&server).await.contains(&slot),
        "the cancel freed Slot/{slot}"
    );
    // The patient's appointments list the cancelled one.
    let listed = gpc1::send(
        &server,
        Method::GET,
        &format!(
            "/Patient/{patient}/Appointment?start=ge{}&start=le{}",
            day(0),
            day(13)
        ),
        "Patient_Appointments",
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(ids_of(&listed.body, "Appointment"), vec![id]);
    assert_one_booking_per_slot(&server).await;
    // The DSTU2 API answers its own scenario beside it.
    let dstu2 = crate::gpc::send(
        &server,
        Method::GET,
        "/fhir/Patient/2",
        "Patient_Read",
        "9658218873",
        None,
    )
    .await;
    assert_eq!(dstu2.status, 200, "{}", dstu2.body);
    assert_eq!(dstu2.body["name"][0]["family"][0], "MEAKIN");
}

//! Issue #18: the shapes of the default pack's DSTU2 answers, as the 0.x
//! provider test packs check them (DOMAIN.md §11): the Organization's site
//! codes and type, the Practitioner's elements, the instance form of
//! `$gpc.getschedule`, the Order's business identifier, and the care
//! record's HTML views.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::Server;
use crate::gpc::{self, Reply};

const PRACTICE: &str = "Organization/7";
const SITE_CODE_SYSTEM: &str = "http://fhir.nhs.net/Id/ods-site-code";
const GETSCHEDULE_BUNDLE: &str =
    "http://fhir.nhs.net/StructureDefinition/gpconnect-getschedule-bundle-1";

async fn send(
    server: &Server,
    method: Method,
    path: &str,
    operation: &str,
    body: Option<Value>,
) -> Reply {
    gpc::send(server, method, path, operation, "9658218873", body).await
}

fn spine_code(body: &Value) -> &str {
    body["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or("")
}

/// The resources of a Bundle's entries of type `resource_type`.
fn resources<'a>(bundle: &'a Value, resource_type: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| &entry["resource"])
        .filter(|resource| resource["resourceType"] == resource_type)
        .collect()
}

/// The values of a resource's identifiers of `system`.
fn identifiers<'a>(resource: &'a Value, system: &str) -> Vec<&'a str> {
    resource["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|identifier| identifier["system"] == system)
        .filter_map(|identifier| identifier["value"].as_str())
        .collect()
}

#[tokio::test]
async fn the_practice_carries_its_site_codes_and_a_site_code_finds_it() {
    let server = Server::start(&[]);
    let read = send(
        &server,
        Method::GET,
        "/fhir/Organization/7",
        "Organization_Read",
        None,
    )
    .await;
    assert_eq!(read.status, 200, "{}", read.body);
    let sites = identifiers(&read.body, SITE_CODE_SYSTEM);
    assert_eq!(sites, ["Z26556"], "{}", read.body);
    assert_eq!(
        identifiers(&read.body, "http://fhir.nhs.net/Id/ods-organization-code"),
        ["A20047"]
    );
    let coding = &read.body["type"]["coding"][0];
    assert_eq!(
        coding["system"],
        "http://fhir.nhs.net/ValueSet/organisation-type-1"
    );
    assert!(coding["code"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(coding["display"].as_str().is_some_and(|d| !d.is_empty()));

    // The site's Location names the same code and is the practice's.
    let location = send(
        &server,
        Method::GET,
        "/fhir/Location/1",
        "Location_Read",
        None,
    )
    .await;
    assert_eq!(identifiers(&location.body, SITE_CODE_SYSTEM), sites);
    assert_eq!(location.body["managingOrganization"]["reference"], PRACTICE);

    let search = |identifier: String| {
        let server = &server;
        async move {
            send(
                server,
                Method::GET,
                &format!("/fhir/Organization?identifier={identifier}"),
                "OrganizationIdentifier_SearchByIdentifier",
                None,
            )
            .await
        }
    };
    let found = search(format!("{SITE_CODE_SYSTEM}|Z26556")).await;
    assert_eq!(found.status, 200, "{}", found.body);
    let organizations = resources(&found.body, "Organization");
    assert_eq!(organizations.len(), 1, "{}", found.body);
    assert_eq!(organizations[0]["id"], "7");
    assert_eq!(identifiers(organizations[0], SITE_CODE_SYSTEM), ["Z26556"]);

    let other_site = search(format!("{SITE_CODE_SYSTEM}|Z99899")).await;
    assert_eq!(other_site.status, 200, "{}", other_site.body);
    assert!(
        resources(&other_site.body, "Organization").is_empty(),
        "{}",
        other_site.body
    );
}

#[tokio::test]
async fn practitioners_carry_no_photo_qualification_or_role_location() {
    let server = Server::start(&[]);
    let read = send(
        &server,
        Method::GET,
        "/fhir/Practitioner/1",
        "Practitioner_Read",
        None,
    )
    .await;
    let search = send(
        &server,
        Method::GET,
        "/fhir/Practitioner?identifier=http://fhir.nhs.net/Id/sds-user-id|G13579135",
        "PractitionerIdentifier_SearchByIdentifier",
        None,
    )
    .await;
    let schedule = send(
        &server,
        Method::POST,
        "/fhir/Organization/$gpc.getschedule",
        "OrganizationOperation_GetSchedule",
        Some(gpc::schedule_parameters("A20047", 7)),
    )
    .await;
    let mut practitioners = vec![&read.body];
    practitioners.extend(resources(&search.body, "Practitioner"));
    practitioners.extend(resources(&schedule.body, "Practitioner"));
    assert_eq!(practitioners.len(), 3);
    for practitioner in practitioners {
        assert_eq!(practitioner["resourceType"], "Practitioner");
        assert!(practitioner.get("photo").is_none(), "{practitioner}");
        assert!(
            practitioner.get("qualification").is_none(),
            "{practitioner}"
        );
        let roles = practitioner["practitionerRole"].as_array().expect("roles");
        assert!(!roles.is_empty());
        for role in roles {
            assert!(role.get("location").is_none(), "{practitioner}");
        }
    }
}

/// A getschedule body with only a `timePeriod` of the next `days` days.
fn time_period_only(days: i64) -> Value {
    let mut body = gpc::schedule_parameters("A20047", days);
    if let Some(parameters) = body["parameter"].as_array_mut() {
        parameters.retain(|p| p["name"] == "timePeriod");
    }
    body
}

#[tokio::test]
async fn getschedule_is_served_on_the_instance_path_too() {
    let server = Server::start(&[]);
    let instance = send(
        &server,
        Method::POST,
        "/fhir/Organization/7/$gpc.getschedule",
        "OrganizationOperation_GetScheduleInstance",
        Some(time_period_only(7)),
    )
    .await;
    assert_eq!(instance.status, 200, "{}", instance.body);
    assert_eq!(
        instance.headers["x-mock-operation"],
        "OrganizationOperation_GetScheduleInstance"
    );
    assert_eq!(instance.body["type"], "searchset");
    assert_eq!(instance.body["meta"]["profile"][0], GETSCHEDULE_BUNDLE);
    assert_eq!(resources(&instance.body, "Organization")[0]["id"], "7");
    let slots = resources(&instance.body, "Slot");
    assert!(slots.len() >= 10, "{} free slots", slots.len());

    let type_level = send(
        &server,
        Method::POST,
        "/fhir/Organization/$gpc.getschedule",
        "OrganizationOperation_GetSchedule",
        Some(time_period_only(7)),
    )
    .await;
    assert_eq!(type_level.status, 200, "{}", type_level.body);
    assert_eq!(type_level.body["meta"]["profile"][0], GETSCHEDULE_BUNDLE);
    assert_eq!(resources(&type_level.body, "Slot").len(), slots.len());

    for unknown in ["8", "A20047", "thisIsUnknown"] {
        let missing = send(
            &server,
            Method::POST,
            &format!("/fhir/Organization/{unknown}/$gpc.getschedule"),
            "OrganizationOperation_GetScheduleInstance",
            Some(time_period_only(7)),
        )
        .await;
        assert_eq!(missing.status, 404, "{unknown}: {}", missing.body);
        assert_eq!(missing.body["resourceType"], "OperationOutcome");
        assert_eq!(spine_code(&missing.body), "ORGANISATION_NOT_FOUND");
    }
}

#[tokio::test]
async fn each_order_gets_a_business_identifier_of_its_own() {
    let server = Server::start(&[]);
    let order = json!({
        "resourceType": "Order",
        "date": "2030-01-01T10:00:00+00:00",
        "subject": {"reference": "Patient/2"},
        "source": {"reference": "Organization/1"},
        "target": {"reference": "Organization/7"},
        "reason": {"text": "Please call the patient"},
        "detail": [{"reference": "#1"}]
    });
    let mut generated = Vec::new();
    let mut system = String::new();
    for _ in 0..2 {
        let created = send(
            &server,
            Method::POST,
            "/fhir/Order",
            "Order_Create",
            Some(order.clone()),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let meta = &created.body["meta"];
        assert_eq!(meta["versionId"], "1");
        assert_eq!(
            meta["profile"][0],
            "http://fhir.nhs.net/StructureDefinition/gpconnect-task-order-1"
        );
        let identifier = &created.body["identifier"][0];
        assert!(
            identifier["system"]
                .as_str()
                .is_some_and(|s| s.starts_with("https://")),
            "{}",
            created.body
        );
        system = identifier["system"].as_str().unwrap_or("").to_string();
        let value = identifier["value"].as_str().unwrap_or("").to_string();
        assert!(!value.is_empty(), "{}", created.body);
        generated.push(value);
    }
    assert_ne!(generated[0], generated[1]);

    // A consumer's own identifiers are kept, the practice's comes after them.
    let mut with_own = order.clone();
    with_own["identifier"] =
        json!([{"system": "https://consumer.example.org/Id/task", "value": "T1"}]);
    let created = send(
        &server,
        Method::POST,
        "/fhir/Order",
        "Order_Create",
        Some(with_own),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let all = created.body["identifier"].as_array().expect("identifiers");
    assert_eq!(all.len(), 2, "{}", created.body);
    assert_eq!(all[0]["value"], "T1");
    assert_eq!(all[1]["system"], system.as_str());
    assert!(!generated.contains(&all[1]["value"].as_str().unwrap_or("").to_string()));
}

//! The GP Connect Access Record Structured 1.6 pack (`scenarios/structured`,
//! `templates/structured`) on the default server, at its own root: the
//! CapabilityStatement; the structured record assembled from each
//! patient's record data by area, with its filters, Lists, warnings and
//! empty reasons; the patients it does not serve; the parameter rules
//! (DOMAIN-STU3 §1.2–§1.5, §6.2–§6.13); and migrate. Every Bundle
//! answered is checked to hold each resource once and to resolve every
//! reference inside itself.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{client, Server};
use crate::gpc1::{self, entries_of, spine_code, Reply, FHIR_JSON, STRUCTURED_BASE};

const GET: &str = "Structured_GetStructuredRecord";
const MIGRATE: &str = "Structured_MigrateStructuredRecord";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

const SKELLY: &str = "9690937286";
const SAMUAL: &str = "9690937278";
const CRANK: &str = "9690937308";
const LOBB: &str = "9690937375";
const DOULBY: &str = "9690937383";
const LEARY: &str = "9690938614";
const BESTON: &str = "9690938096";
const CRAINE: &str = "9690938118";
const BOURKE: &str = "9690938126";
const CAVE: &str = "9690938088";

/// Today moved by `days`, `yyyy-MM-dd`.
fn day(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string()
}

fn parameters(nhs: &str, params: &[Value]) -> Value {
    let mut all = vec![json!({
        "name": "patientNHSNumber",
        "valueIdentifier": {"system": NHS_SYSTEM, "value": nhs}
    })];
    all.extend(params.iter().cloned());
    json!({"resourceType": "Parameters", "parameter": all})
}

/// A parameter with parts `(name, value[x] key, value)`.
fn param(name: &str, parts: &[(&str, &str, Value)]) -> Value {
    if parts.is_empty() {
        return json!({"name": name});
    }
    let parts: Vec<Value> = parts
        .iter()
        .map(|(part, key, value)| json!({"name": part, *key: value}))
        .collect();
    json!({"name": name, "part": parts})
}

fn allergies(resolved: bool) -> Value {
    param(
        "includeAllergies",
        &[("includeResolvedAllergies", "valueBoolean", json!(resolved))],
    )
}

fn period(parameter: &str, part: &str, start: &str, end: &str) -> Value {
    param(
        parameter,
        &[(part, "valuePeriod", json!({"start": start, "end": end}))],
    )
}

/// Every area, no filter (what the bench asks too).
fn every_area() -> Vec<Value> {
    vec![
        allergies(true),
        param("includeMedication", &[]),
        param("includeConsultations", &[]),
        param("includeProblems", &[]),
        param("includeImmunisations", &[]),
        param("includeUncategorisedData", &[]),
        param("includeInvestigations", &[]),
        param("includeReferrals", &[]),
        param("includeDiaryEntries", &[]),
    ]
}

/// The trace id [`send`] sends.
const TRACE_ID: &str = "3b8b6b2e-4a57-4c3c-9c8a-0e1f2a3b4c5d";

/// POSTs `body` as `operation`, with the claims changed by `claims`.
async fn send(
    server: &Server,
    operation: &str,
    body: &Value,
    claims: impl FnOnce(&mut Value),
) -> Reply {
    let response = request(server, operation, body, claims, TRACE_ID, FHIR_JSON)
        .await
        .send()
        .await
        .expect("request");
    let reply = Reply::read(response, operation).await;
    if reply.status == 200 {
        assert_bundle_is_whole(&reply.body);
    }
    reply
}

/// The request [`send`] sends, with its trace id and `Accept`.
async fn request(
    server: &Server,
    operation: &str,
    body: &Value,
    claims: impl FnOnce(&mut Value),
    trace_id: &str,
    accept: &str,
) -> reqwest::RequestBuilder {
    let mut builder = client().request(
        Method::POST,
        server.url(&format!(
            "{STRUCTURED_BASE}/Patient/$gpc.{}",
            if operation == MIGRATE {
                "migratestructuredrecord"
            } else {
                "getstructuredrecord"
            }
        )),
    );
    let mut token = gpc1::claims(operation);
    claims(&mut token);
    for (name, value) in gpc1::headers(operation) {
        let value = if name == "Authorization" {
            format!("Bearer {}", gpc1::jwt(&token))
        } else if name == "Ssp-TraceID" {
            trace_id.to_string()
        } else if name == "Accept" {
            accept.to_string()
        } else {
            value
        };
        builder = builder.header(name, value);
    }
    builder
        .header("Content-Type", FHIR_JSON)
        .body(body.to_string())
}

async fn record(server: &Server, nhs: &str, params: &[Value]) -> Reply {
    send(server, GET, &parameters(nhs, params), |_| {}).await
}

/// Each resource once, every `reference` resolving to an entry
/// (`Type/id`) or a resource contained in the same entry (`#id`), and no
/// `fullUrl`.
fn assert_bundle_is_whole(bundle: &Value) {
    let entries = bundle["entry"].as_array().expect("entries");
    let mut keys = HashSet::new();
    for entry in entries {
        assert!(entry.get("fullUrl").is_none(), "{entry}");
        let resource = &entry["resource"];
        if let Some(id) = resource["id"].as_str() {
            let key = format!("{}/{id}", resource["resourceType"].as_str().unwrap_or(""));
            assert!(keys.insert(key.clone()), "{key} is in the Bundle twice");
        }
    }
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("reference", Value::String(text)) => out.push(text.clone()),
                        _ => walk(inner, out),
                    }
                }
            }
            Value::Array(list) => list.iter().for_each(|inner| walk(inner, out)),
            _ => {}
        }
    }
    for entry in entries {
        let resource = &entry["resource"];
        let contained: HashSet<String> = resource["contained"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_str().map(|id| format!("#{id}")))
            .collect();
        let mut references = Vec::new();
        walk(resource, &mut references);
        for reference in references {
            assert!(
                keys.contains(&reference) || contained.contains(&reference),
                "{reference} (in {}/{}) resolves to nothing in the Bundle",
                resource["resourceType"],
                resource["id"]
            );
        }
    }
}

/// The query Lists (no id) of a Bundle.
fn lists(bundle: &Value) -> Vec<&Value> {
    entries_of(bundle, "List")
        .into_iter()
        .filter(|list| list.get("id").is_none())
        .collect()
}

fn list<'a>(bundle: &'a Value, title: &str) -> &'a Value {
    lists(bundle)
        .into_iter()
        .find(|l| l["title"] == title)
        .unwrap_or_else(|| panic!("no List {title:?} in {bundle}"))
}

/// The ids a List's entries name (`Type/id` → `id`, `#id` → `id`).
fn listed(list: &Value) -> Vec<String> {
    list["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["item"]["reference"].as_str())
        .map(|r| r.rsplit(['/', '#']).next().unwrap_or(r).to_string())
        .collect()
}

fn warnings(list: &Value) -> Vec<&str> {
    list["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["url"]
                == "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ListWarningCode-1"
        })
        .filter_map(|e| e["valueCode"].as_str())
        .collect()
}

fn note(list: &Value) -> &str {
    list["note"][0]["text"].as_str().unwrap_or("")
}

fn ids(bundle: &Value, resource_type: &str) -> Vec<String> {
    entries_of(bundle, resource_type)
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

fn assert_empty(list: &Value) {
    assert!(list.get("entry").is_none(), "{list}");
    assert_eq!(
        list["emptyReason"]["coding"][0]["code"],
        "no-content-recorded"
    );
    assert!(
        note(list).starts_with("Information not available"),
        "{list}"
    );
}

fn assert_rejected(reply: &Reply, status: u16, code: &str, names: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(spine_code(&reply.body), code, "{}", reply.body);
    let diagnostics = reply.body["issue"][0]["diagnostics"].as_str().unwrap_or("");
    assert!(diagnostics.contains(names), "{diagnostics} names {names}");
}

/// (parameter, List title, SNOMED code) of each area.
const AREAS: &[(&str, &str, &str)] = &[
    (
        "includeMedication",
        "Medications and medical devices",
        "933361000000108",
    ),
    (
        "includeConsultations",
        "List of consultations",
        "1149501000000101",
    ),
    ("includeProblems", "Problems", "717711000000103"),
    ("includeImmunisations", "Immunisations", "1102181000000102"),
    (
        "includeUncategorisedData",
        "Uncategorised data",
        "826501000000100",
    ),
    (
        "includeInvestigations",
        "Investigations and results",
        "887191000000108",
    ),
    ("includeReferrals", "Outbound referral", "792931000000107"),
    (
        "includeDiaryEntries",
        "Patient recall administration",
        "714311000000108",
    ),
];

#[tokio::test]
async fn metadata_is_the_structured_capability_statement() {
    let server = Server::start(&[]);
    let reply = gpc1::send_to(
        &server,
        STRUCTURED_BASE,
        Method::GET,
        "/metadata",
        "Structured_Metadata_Read",
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["version"], "1.6.0");
    let operations: Vec<&str> = reply.body["rest"][0]["operation"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(
        operations,
        ["gpc.getstructuredrecord", "gpc.migratestructuredrecord"]
    );
}

#[tokio::test]
async fn a_record_is_a_collection_with_the_patient_practice_and_usual_gp() {
    let server = Server::start(&[]);
    let reply = record(&server, SKELLY, &[param("includeProblems", &[])]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["type"], "collection");
    assert_eq!(body["id"], TRACE_ID);
    assert_eq!(
        body["meta"]["profile"][0],
        "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-StructuredRecord-Bundle-1"
    );
    assert!(body["meta"].get("versionId").is_none());
    assert_eq!(ids(body, "Patient"), ["2"]);
    assert!(ids(body, "Organization").contains(&"7".to_string()));
    assert_eq!(ids(body, "Practitioner"), ["1"]);
    assert_eq!(ids(body, "PractitionerRole"), ["1"]);
    assert_eq!(lists(body).len(), 1, "only the area asked for");
}

/// The record is kept for identical requests (`src/repeat.rs`), but each
/// answer, JSON or XML, carries its own request's trace id as its id.
#[tokio::test]
async fn identical_requests_get_each_its_own_trace_id_as_the_bundle_id() {
    let server = Server::start(&[]);
    let body = parameters(SKELLY, &every_area());
    let mut kept = None;
    for (round, accept) in [FHIR_JSON, FHIR_JSON, "application/fhir+xml", FHIR_JSON]
        .into_iter()
        .enumerate()
    {
        let trace_id = format!("0c5e2f4a-1b2c-4d3e-8f40-00000000000{round}");
        let response = request(&server, GET, &body, |_| {}, &trace_id, accept)
            .await
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let text = response.text().await.expect("body");
        assert!(!text.contains("5e471ee1"), "a sentinel leaked: {text:.300}");
        if accept == FHIR_JSON {
            let mut bundle: Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(bundle["id"], trace_id.as_str());
            // Apart from the id, the same record each time.
            bundle["id"] = Value::Null;
            let mut entries = bundle["entry"].take();
            // A List's date is the minute of the answer, which may turn.
            for entry in entries.as_array_mut().into_iter().flatten() {
                if entry["resource"]["resourceType"] == "List" {
                    entry["resource"]["date"] = Value::Null;
                }
            }
            match &kept {
                None => kept = Some(entries),
                Some(first) => {
                    let differ = first
                        .as_array()
                        .into_iter()
                        .flatten()
                        .zip(entries.as_array().into_iter().flatten())
                        .find(|(a, b)| a != b);
                    assert!(differ.is_none(), "round {round}: {differ:?}");
                    assert_eq!(first, &entries);
                }
            }
        } else {
            let head = text.find("<entry>").map_or(text.as_str(), |at| &text[..at]);
            assert!(
                head.contains(&format!("<id value=\"{trace_id}\"/>")),
                "{head}"
            );
        }
    }
}

#[tokio::test]
async fn each_area_alone_has_its_list_with_title_and_code() {
    let server = Server::start(&[]);
    for (parameter, title, code) in AREAS {
        let reply = record(&server, SKELLY, &[param(parameter, &[])]).await;
        assert_eq!(reply.status, 200, "{parameter}: {}", reply.body);
        let found = lists(&reply.body);
        assert_eq!(found.len(), 1, "{parameter}");
        assert_eq!(found[0]["title"], *title);
        assert_eq!(found[0]["code"]["coding"][0]["code"], *code);
        assert_eq!(
            found[0]["code"]["coding"][0]["system"],
            "http://snomed.info/sct"
        );
        assert_eq!(found[0]["subject"]["reference"], "Patient/2");
        assert_eq!(
            found[0]["meta"]["profile"][0],
            "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-List-1"
        );
        assert!(!listed(found[0]).is_empty(), "{parameter}: {}", found[0]);
    }
    let reply = record(&server, SKELLY, &[allergies(false)]).await;
    let allergy_list = list(&reply.body, "Allergies and adverse reactions");
    assert_eq!(allergy_list["code"]["coding"][0]["code"], "886921000000105");
    assert_eq!(listed(allergy_list), ["allergy-penicillin"]);
    assert_eq!(lists(&reply.body).len(), 1);
}

#[tokio::test]
async fn an_area_without_data_has_an_empty_list_with_its_reason() {
    let server = Server::start(&[]);
    // SAMUAL has no record at all; CRANK has an allergy and nothing else.
    for nhs in [SAMUAL, CRANK] {
        let reply = record(&server, nhs, &every_area()).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        for (_, title, _) in AREAS {
            assert_empty(list(&reply.body, title));
        }
    }
    let reply = record(&server, SAMUAL, &[allergies(false)]).await;
    assert_empty(list(&reply.body, "Allergies and adverse reactions"));
    assert!(entries_of(&reply.body, "AllergyIntolerance").is_empty());
    // LOBB has no known allergies, coded: one AllergyIntolerance.
    let reply = record(&server, LOBB, &[allergies(false)]).await;
    let nka = entries_of(&reply.body, "AllergyIntolerance");
    assert_eq!(nka.len(), 1);
    assert_eq!(nka[0]["code"]["coding"][0]["code"], "716186003");
}

#[tokio::test]
async fn resolved_allergies_come_only_when_asked_in_the_ended_list() {
    let server = Server::start(&[]);
    let reply = record(&server, DOULBY, &[allergies(false)]).await;
    assert_eq!(
        listed(list(&reply.body, "Allergies and adverse reactions")),
        ["allergy-peanut"]
    );
    assert_eq!(lists(&reply.body).len(), 1);
    assert_eq!(ids(&reply.body, "AllergyIntolerance"), ["allergy-peanut"]);

    let reply = record(&server, DOULBY, &[allergies(true)]).await;
    let ended = list(&reply.body, "Ended allergies");
    assert_eq!(ended["code"]["coding"][0]["code"], "1103671000000101");
    assert_eq!(ended["entry"][0]["item"]["reference"], "#allergy-egg");
    let contained = &ended["contained"][0];
    assert_eq!(contained["clinicalStatus"], "resolved");
    let end = &contained["extension"][0];
    assert!(end["url"]
        .as_str()
        .unwrap()
        .ends_with("AllergyIntoleranceEnd-1"));
    assert_eq!(end["extension"][1]["valueString"], "Grew out of it");
    // Contained, not an entry of its own.
    assert_eq!(ids(&reply.body, "AllergyIntolerance"), ["allergy-peanut"]);

    // CRAINE's ended allergies have no reason recorded.
    let reply = record(&server, CRAINE, &[allergies(true)]).await;
    let ended = list(&reply.body, "Ended allergies");
    assert_eq!(listed(ended).len(), 2);
    for allergy in ended["contained"].as_array().unwrap() {
        assert_eq!(
            allergy["extension"][0]["extension"][1]["url"],
            "reasonEnded"
        );
        assert_eq!(
            allergy["extension"][0]["extension"][1]["valueString"],
            "No information available"
        );
    }
}

#[tokio::test]
async fn prescription_issues_only_when_asked_and_statements_have_their_plans() {
    let server = Server::start(&[]);
    let orders = |body: &Value| {
        entries_of(body, "MedicationRequest")
            .iter()
            .filter(|r| r["intent"] == "order")
            .count()
    };
    let without = record(
        &server,
        SKELLY,
        &[param(
            "includeMedication",
            &[("includePrescriptionIssues", "valueBoolean", json!(false))],
        )],
    )
    .await;
    assert_eq!(without.status, 200, "{}", without.body);
    assert_eq!(orders(&without.body), 0);
    let plans: HashSet<String> = entries_of(&without.body, "MedicationRequest")
        .iter()
        .map(|r| format!("MedicationRequest/{}", r["id"].as_str().unwrap()))
        .collect();
    let statements = entries_of(&without.body, "MedicationStatement");
    assert_eq!(statements.len(), 5, "the confidential one left out");
    for statement in &statements {
        let plan = statement["basedOn"][0]["reference"].as_str().unwrap();
        assert!(plans.contains(plan), "{plan}");
        let medication = statement["medicationReference"]["reference"]
            .as_str()
            .unwrap();
        assert!(
            ids(&without.body, "Medication").contains(&medication[11..].to_string()),
            "{medication}"
        );
    }
    let with = record(&server, SKELLY, &[param("includeMedication", &[])]).await;
    assert_eq!(orders(&with.body), 8);
    for order in entries_of(&with.body, "MedicationRequest")
        .iter()
        .filter(|r| r["intent"] == "order")
    {
        assert_eq!(order["status"], "completed");
        assert!(order["basedOn"][0]["reference"]
            .as_str()
            .unwrap()
            .starts_with("MedicationRequest/plan-"));
    }
}

#[tokio::test]
async fn medications_are_filtered_by_their_active_dates() {
    let server = Server::start(&[]);
    let from = |date: String| {
        [param(
            "includeMedication",
            &[("medicationSearchFromDate", "valueDate", json!(date))],
        )]
    };
    let reply = record(&server, SKELLY, &from(day(-365))).await;
    let mut found = listed(list(&reply.body, "Medications and medical devices"));
    found.sort();
    // Repeats still running, the acute of 200 days ago; not the course
    // that ended 400 days ago nor the acute of 1000 days ago.
    assert_eq!(
        found,
        [
            "statement-amlodipine",
            "statement-atorvastatin",
            "statement-paracetamol"
        ]
    );
    // Prescribed elsewhere: listed whatever the date.
    let reply = record(&server, LEARY, &from(day(-30))).await;
    assert_eq!(
        listed(list(&reply.body, "Medications and medical devices")),
        ["statement-atorvastatin-hospital"]
    );
    let reply = record(&server, LEARY, &[param("includeMedication", &[])]).await;
    assert_eq!(
        listed(list(&reply.body, "Medications and medical devices")).len(),
        2
    );
}

#[tokio::test]
async fn consultations_by_period_and_most_recent() {
    let server = Server::start(&[]);
    let reply = record(
        &server,
        SKELLY,
        &[period(
            "includeConsultations",
            "consultationSearchPeriod",
            &day(-150),
            &day(-10),
        )],
    )
    .await;
    let mut found = listed(list(&reply.body, "List of consultations"));
    found.sort();
    assert_eq!(found, ["consultation-2", "consultation-3"]);
    // The consultation's structure Lists and what they list come along.
    let structure = ids(&reply.body, "List");
    assert!(structure.contains(&"consultation-2-topic".to_string()));
    assert!(!structure.contains(&"consultation-1-topic".to_string()));
    assert!(ids(&reply.body, "Observation").contains(&"observation-smoking".to_string()));

    let newest = record(
        &server,
        SKELLY,
        &[param(
            "includeConsultations",
            &[("includeNumberOfMostRecent", "valuePositiveInt", json!(1))],
        )],
    )
    .await;
    assert_eq!(
        listed(list(&newest.body, "List of consultations")),
        ["consultation-3"]
    );
    let all = record(&server, SKELLY, &[param("includeConsultations", &[])]).await;
    assert_eq!(listed(list(&all.body, "List of consultations")).len(), 3);
}

#[tokio::test]
async fn problems_by_status_with_their_linked_items() {
    let server = Server::start(&[]);
    let status = |code: &str| {
        [param(
            "includeProblems",
            &[("filterStatus", "valueCode", json!(code))],
        )]
    };
    let reply = record(&server, SKELLY, &status("inactive")).await;
    assert_eq!(
        listed(list(&reply.body, "Problems")),
        ["problem-bronchitis"]
    );
    let reply = record(&server, SKELLY, &status("active")).await;
    let active = listed(list(&reply.body, "Problems"));
    assert_eq!(active.len(), 4);
    assert!(!active.contains(&"problem-bronchitis".to_string()));
    // Linked items, and what they reference, come with their problems.
    assert!(ids(&reply.body, "MedicationStatement").contains(&"statement-amlodipine".to_string()));
    assert!(ids(&reply.body, "Medication").contains(&"medication-amlo".to_string()));
    assert!(ids(&reply.body, "DiagnosticReport").contains(&"investigation-1".to_string()));
    assert!(ids(&reply.body, "ReferralRequest").contains(&"referral-orthopaedics".to_string()));
    // …but no List of their own areas.
    assert_eq!(lists(&reply.body).len(), 1);
    // HESLBY's problems link to nothing.
    let reply = record(&server, "9690937294", &[param("includeProblems", &[])]).await;
    assert_eq!(entries_of(&reply.body, "MedicationStatement").len(), 0);
    assert_eq!(listed(list(&reply.body, "Problems")).len(), 2);
}

#[tokio::test]
async fn immunisations_not_given_only_when_asked() {
    let server = Server::start(&[]);
    let reply = record(&server, SKELLY, &[param("includeImmunisations", &[])]).await;
    assert_eq!(listed(list(&reply.body, "Immunisations")).len(), 2);
    let reply = record(
        &server,
        SKELLY,
        &[param(
            "includeImmunisations",
            &[("includeNotGiven", "valueBoolean", json!(true))],
        )],
    )
    .await;
    let found = listed(list(&reply.body, "Immunisations"));
    assert_eq!(found.len(), 3);
    assert!(found.contains(&"immunisation-flu-declined".to_string()));
}

#[tokio::test]
async fn dated_areas_are_filtered_and_undated_items_kept() {
    let server = Server::start(&[]);
    let cases = [
        (
            "includeUncategorisedData",
            "uncategorisedDataSearchPeriod",
            "Uncategorised data",
            day(-30),
            day(0),
            vec!["observation-smoking", "observation-weight"],
        ),
        (
            "includeUncategorisedData",
            "uncategorisedDataSearchPeriod",
            "Uncategorised data",
            "2012-01-01".to_string(),
            "2012-12-31".to_string(),
            vec!["observation-bp-2012", "observation-smoking"],
        ),
        (
            "includeInvestigations",
            "investigationSearchPeriod",
            "Investigations and results",
            day(-100),
            day(0),
            vec!["investigation-1"],
        ),
        (
            "includeReferrals",
            "referralSearchPeriod",
            "Outbound referral",
            "2016-01-01".to_string(),
            "2016-12-31".to_string(),
            vec!["referral-cardiology"],
        ),
    ];
    for (parameter, part, title, start, end, expected) in cases {
        let reply = record(&server, SKELLY, &[period(parameter, part, &start, &end)]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let mut found = listed(list(&reply.body, title));
        found.sort();
        assert_eq!(found, expected, "{parameter} {start}..{end}");
    }
    // The investigation comes with its specimen, results and request.
    let reply = record(
        &server,
        SKELLY,
        &[period(
            "includeInvestigations",
            "investigationSearchPeriod",
            &day(-100),
            &day(0),
        )],
    )
    .await;
    assert_eq!(ids(&reply.body, "Specimen"), ["investigation-1-specimen"]);
    assert_eq!(entries_of(&reply.body, "Observation").len(), 2);
    assert_eq!(
        ids(&reply.body, "ProcedureRequest"),
        ["investigation-1-request"]
    );
    // Diary entries due on or before the date.
    let reply = record(
        &server,
        SKELLY,
        &[param(
            "includeDiaryEntries",
            &[("diaryEntriesSearchDate", "valueDate", json!(day(100)))],
        )],
    )
    .await;
    assert_eq!(
        listed(list(&reply.body, "Patient recall administration")),
        ["diary-bp-check"]
    );
}

#[tokio::test]
async fn bad_dates_are_invalid_parameters_naming_the_parameter() {
    let server = Server::start(&[]);
    let cases = [
        param(
            "includeMedication",
            &[("medicationSearchFromDate", "valueDate", json!(day(1)))],
        ),
        param(
            "includeMedication",
            &[("medicationSearchFromDate", "valueDate", json!("2020-01"))],
        ),
        param(
            "includeMedication",
            &[(
                "medicationSearchFromDate",
                "valueDate",
                json!("2020-01-01T10:00:00+00:00"),
            )],
        ),
        period(
            "includeReferrals",
            "referralSearchPeriod",
            &day(-5),
            &day(-10),
        ),
        period(
            "includeInvestigations",
            "investigationSearchPeriod",
            &day(-5),
            &day(3),
        ),
        param(
            "includeDiaryEntries",
            &[("diaryEntriesSearchDate", "valueDate", json!(day(-1)))],
        ),
    ];
    for case in cases {
        let name = case["part"][0]["name"].as_str().unwrap().to_string();
        let reply = record(&server, SKELLY, &[case]).await;
        assert_rejected(&reply, 422, "INVALID_PARAMETER", &name);
    }
}

#[tokio::test]
async fn a_period_with_most_recent_is_an_invalid_resource() {
    let server = Server::start(&[]);
    let reply = record(
        &server,
        SKELLY,
        &[param(
            "includeConsultations",
            &[
                (
                    "consultationSearchPeriod",
                    "valuePeriod",
                    json!({"start": day(-100)}),
                ),
                ("includeNumberOfMostRecent", "valuePositiveInt", json!(2)),
            ],
        )],
    )
    .await;
    assert_rejected(&reply, 422, "INVALID_RESOURCE", "includeConsultations");
}

#[tokio::test]
async fn forbidden_combinations_and_missing_parameters_are_422_and_predefined_searches_200() {
    let server = Server::start(&[]);
    let from = |days: i64| {
        param(
            "includeMedication",
            &[("medicationSearchFromDate", "valueDate", json!(day(days)))],
        )
    };
    let recent = param(
        "includeConsultations",
        &[("includeNumberOfMostRecent", "valuePositiveInt", json!(3))],
    );
    let reply = record(&server, SKELLY, &[recent.clone(), from(-30)]).await;
    assert_rejected(&reply, 422, "INVALID_PARAMETER", "medicationSearchFromDate");
    let reply = record(
        &server,
        SKELLY,
        &[
            param("includeProblems", &[]),
            param(
                "includeDiaryEntries",
                &[("diaryEntriesSearchDate", "valueDate", json!(day(5)))],
            ),
        ],
    )
    .await;
    assert_rejected(&reply, 422, "INVALID_PARAMETER", "diaryEntriesSearchDate");
    // The two predefined searches.
    let first = vec![
        recent.clone(),
        param("includeProblems", &[]),
        allergies(true),
        from(-365),
    ];
    let reply = record(&server, SKELLY, &first).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(lists(&reply.body).len(), 5);
    let mut second = first.clone();
    second.extend([
        param("includeImmunisations", &[]),
        param("includeUncategorisedData", &[]),
    ]);
    let reply = record(&server, SKELLY, &second).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(lists(&reply.body).len(), 7);
    // Missing or valueless.
    let reply = record(&server, SKELLY, &[param("includeAllergies", &[])]).await;
    assert_rejected(&reply, 422, "INVALID_PARAMETER", "includeResolvedAllergies");
    let reply = record(&server, SKELLY, &[]).await;
    assert_rejected(&reply, 422, "INVALID_PARAMETER", "clinical area");
    let reply = record(
        &server,
        SKELLY,
        &[json!({"name": "includeMedication", "part": [{"name": "includePrescriptionIssues"}]})],
    )
    .await;
    assert_rejected(
        &reply,
        422,
        "INVALID_PARAMETER",
        "includePrescriptionIssues",
    );
    let body = json!({"resourceType": "Parameters", "parameter": [param("includeProblems", &[])]});
    let reply = send(&server, GET, &body, |_| {}).await;
    assert_rejected(&reply, 422, "INVALID_PARAMETER", "patientNHSNumber");
    let reply = record(&server, "9690937287", &[param("includeProblems", &[])]).await;
    assert_rejected(&reply, 400, "INVALID_NHS_NUMBER", "patientNHSNumber");
}

#[tokio::test]
async fn unknown_parameters_and_parts_are_answered_with_a_warning() {
    let server = Server::start(&[]);
    let reply = record(
        &server,
        SKELLY,
        &[
            param(
                "includeProblems",
                &[("filterSignificance", "valueCode", json!("major"))],
            ),
            param("includeEverything", &[]),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let outcomes = entries_of(&reply.body, "OperationOutcome");
    assert_eq!(outcomes.len(), 1);
    let issues = outcomes[0]["issue"].as_array().unwrap();
    let named: Vec<&str> = issues
        .iter()
        .filter_map(|i| i["diagnostics"].as_str())
        .collect();
    assert_eq!(
        named,
        ["includeProblems.filterSignificance", "includeEverything"]
    );
    for issue in issues {
        assert_eq!(issue["severity"], "warning");
        assert_eq!(issue["code"], "not-supported");
        assert_eq!(issue["details"]["coding"][0]["code"], "NOT_IMPLEMENTED");
        assert!(issue["details"]["text"]
            .as_str()
            .unwrap()
            .ends_with(" is an unrecognised parameter"));
    }
    assert_eq!(lists(&reply.body).len(), 1);
    let clean = record(&server, SKELLY, &[param("includeProblems", &[])]).await;
    assert!(entries_of(&clean.body, "OperationOutcome").is_empty());
}

#[tokio::test]
async fn patients_not_served_are_not_found_and_dissent_is_forbidden() {
    let server = Server::start(&[]);
    // Sensitive, deceased, inactive, temporary, unknown.
    for nhs in [
        "9690938533",
        "9690938681",
        "9690938142",
        "9651258500",
        "9999999999",
    ] {
        let reply = record(&server, nhs, &[param("includeProblems", &[])]).await;
        assert_rejected(&reply, 404, "PATIENT_NOT_FOUND", nhs);
    }
    let reply = record(&server, "9690938576", &[param("includeProblems", &[])]).await;
    assert_rejected(&reply, 403, "NO_PATIENT_CONSENT", "9690938576");
}

#[tokio::test]
async fn lists_carry_their_warnings() {
    let server = Server::start(&[]);
    // In transit: every List, with the date in the note.
    let reply = record(
        &server,
        BESTON,
        &[allergies(false), param("includeMedication", &[])],
    )
    .await;
    let since = chrono::Utc::now().date_naive() - chrono::Duration::days(7);
    for found in lists(&reply.body) {
        assert_eq!(warnings(found), ["data-in-transit"]);
        assert!(
            note(found).contains(&format!(
                "before {} may be missing",
                since.format("%d-%b-%Y")
            )),
            "{found}"
        );
    }
    assert!(note(list(&reply.body, "Medications and medical devices"))
        .starts_with("Information not available "));
    // Confidential items: left out, the List says so.
    let reply = record(
        &server,
        SKELLY,
        &[
            param("includeMedication", &[]),
            param("includeProblems", &[]),
        ],
    )
    .await;
    let medication = list(&reply.body, "Medications and medical devices");
    assert_eq!(warnings(medication), ["confidential-items"]);
    assert_eq!(
        note(medication),
        "Items excluded due to confidentiality and/or patient preferences."
    );
    assert!(!ids(&reply.body, "MedicationStatement").contains(&"statement-diazepam".to_string()));
    assert!(warnings(list(&reply.body, "Problems")).is_empty());
    let reply = record(&server, CRAINE, &[allergies(true)]).await;
    let active = list(&reply.body, "Allergies and adverse reactions");
    assert_eq!(warnings(active), ["confidential-items", "data-in-transit"]);
    assert_empty(active);
    assert_eq!(
        warnings(list(&reply.body, "Ended allergies")),
        ["data-in-transit"]
    );
    let reply = record(&server, BOURKE, &[allergies(true)]).await;
    assert_eq!(
        warnings(list(&reply.body, "Allergies and adverse reactions")),
        ["confidential-items"]
    );
    // Awaiting filing.
    let reply = record(&server, CAVE, &[param("includeUncategorisedData", &[])]).await;
    let uncategorised = list(&reply.body, "Uncategorised data");
    assert_eq!(warnings(uncategorised), ["data-awaiting-filing"]);
    assert_eq!(listed(uncategorised), ["observation-bp"]);
}

fn migrate_body(nhs: &str, sensitive: bool) -> Value {
    parameters(
        nhs,
        &[param(
            "includeFullRecord",
            &[(
                "includeSensitiveInformation",
                "valueBoolean",
                json!(sensitive),
            )],
        )],
    )
}

#[tokio::test]
async fn migrate_gives_the_whole_record() {
    let server = Server::start(&[]);
    let reply = send(&server, MIGRATE, &migrate_body(SKELLY, false), |_| {}).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        lists(&reply.body).len(),
        10,
        "every area and the ended allergies"
    );
    // The 1.x provider test pack (DOMAIN-STU3 §7.6): one confidential-items
    // warning each on the medications and uncategorised data Lists.
    let medication = list(&reply.body, "Medications and medical devices");
    assert_eq!(warnings(medication), ["confidential-items"]);
    assert_eq!(listed(medication).len(), 5);
    let uncategorised = list(&reply.body, "Uncategorised data");
    assert_eq!(warnings(uncategorised), ["confidential-items"]);
    assert!(!listed(uncategorised).contains(&"observation-bmi".to_string()));
    assert!(entries_of(&reply.body, "MedicationRequest")
        .iter()
        .any(|r| r["intent"] == "order"));
    assert_eq!(listed(list(&reply.body, "Immunisations")).len(), 3);
    // Sensitive information with conf/R: the confidential medication too;
    // no requesting_practitioner is needed.
    let reply = send(&server, MIGRATE, &migrate_body(SKELLY, true), |claims| {
        claims["requested_scope"] = json!("patient/*.read conf/R");
        claims
            .as_object_mut()
            .unwrap()
            .remove("requesting_practitioner");
        claims["sub"] = json!("1");
    })
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let medication = list(&reply.body, "Medications and medical devices");
    assert!(warnings(medication).is_empty());
    assert!(listed(medication).contains(&"statement-diazepam".to_string()));
    assert!(
        listed(list(&reply.body, "Uncategorised data")).contains(&"observation-bmi".to_string())
    );
    // Migrate serves an inactive patient, to the practice PDS now
    // registers them with (A11111, the tests' consumer) and no other.
    let reply = send(&server, MIGRATE, &migrate_body("9690938142", false), |_| {}).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = send(
        &server,
        MIGRATE,
        &migrate_body("9690938142", false),
        |claims| {
            claims["requesting_organization"]["identifier"][0]["value"] = json!("B99999");
        },
    )
    .await;
    assert_rejected(&reply, 403, "NO_RELATIONSHIP", "9690938142");
}

#[tokio::test]
async fn migrate_rules() {
    let server = Server::start(&[]);
    let reply = send(&server, MIGRATE, &migrate_body(SKELLY, true), |_| {}).await;
    assert_rejected(&reply, 400, "CONFLICTING_VALUES", "includeFullRecord");
    let reply = send(&server, MIGRATE, &migrate_body(SKELLY, false), |claims| {
        claims["reason_for_request"] = json!("directcare");
    })
    .await;
    assert_rejected(&reply, 400, "BAD_REQUEST", "reason_for_request");
    let reply = send(&server, MIGRATE, &migrate_body(SKELLY, false), |claims| {
        claims["requested_scope"] = json!("patient/*.read");
    })
    .await;
    assert_rejected(&reply, 400, "BAD_REQUEST", "requested_scope");
    let mut body = migrate_body(SKELLY, false);
    body["parameter"]
        .as_array_mut()
        .unwrap()
        .push(param("includeAllergies", &[]));
    let reply = send(&server, MIGRATE, &body, |_| {}).await;
    assert_rejected(&reply, 422, "INVALID_PARAMETER", "includeAllergies");
    let reply = send(&server, MIGRATE, &migrate_body("9690938533", false), |_| {}).await;
    assert_rejected(&reply, 404, "PATIENT_NOT_FOUND", "9690938533");
    // getstructuredrecord takes conf/N but never conf/R.
    let reply = send(
        &server,
        GET,
        &parameters(SKELLY, &[param("includeProblems", &[])]),
        |claims| {
            claims["requested_scope"] = json!("patient/*.read conf/N");
        },
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = send(
        &server,
        GET,
        &parameters(SKELLY, &[param("includeProblems", &[])]),
        |claims| {
            claims["requested_scope"] = json!("patient/*.read conf/R");
        },
    )
    .await;
    assert_rejected(&reply, 400, "BAD_REQUEST", "requested_scope");
}

#[tokio::test]
async fn the_full_record_of_the_rich_patient_resolves_every_reference() {
    let server = Server::start(&[]);
    let reply = record(&server, SKELLY, &every_area()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(lists(&reply.body).len(), 10);
    for (_, title, _) in AREAS {
        assert!(!listed(list(&reply.body, title)).is_empty(), "{title}");
    }
    // Medications and practitioners once each, however often referenced.
    assert_eq!(ids(&reply.body, "Medication").len(), 4);
    assert_eq!(ids(&reply.body, "Organization"), ["2", "7", "8"]);
}

/// One row per request rule of Access Record Structured, in the style of
/// tests/it/contract1.rs: a valid request with one thing changed, and the
/// status, Spine code and rule the answer must name.
#[tokio::test]
async fn each_structured_rule_answers_as_the_catalogue_says() {
    let server = Server::start(&[]);
    let problems = || param("includeProblems", &[]);
    let rows: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            GET,
            json!({"resourceType": "Patient"}),
            422,
            "INVALID_RESOURCE",
            "structured-parameters-resource",
        ),
        (
            GET,
            parameters(SKELLY, &[problems(), problems()]),
            422,
            "INVALID_RESOURCE",
            "structured-parameters-resource",
        ),
        (
            GET,
            parameters("9690937280", &[problems()]),
            400,
            "INVALID_NHS_NUMBER",
            "structured-nhs-number",
        ),
        (
            GET,
            json!({"resourceType": "Parameters", "parameter": [
                {"name": "patientNHSNumber", "valueIdentifier": {"system": "https://example.org/nhs", "value": SKELLY}},
                {"name": "includeProblems"}]}),
            400,
            "INVALID_IDENTIFIER_SYSTEM",
            "structured-identifier-system",
        ),
        (
            GET,
            parameters(
                SKELLY,
                &[param(
                    "includeProblems",
                    &[("filterStatus", "valueCode", json!("resolved"))],
                )],
            ),
            422,
            "INVALID_PARAMETER",
            "structured-parameter",
        ),
        (
            GET,
            parameters(
                SKELLY,
                &[param(
                    "includeConsultations",
                    &[
                        (
                            "consultationSearchPeriod",
                            "valuePeriod",
                            json!({"end": day(0)}),
                        ),
                        ("includeNumberOfMostRecent", "valuePositiveInt", json!(1)),
                    ],
                )],
            ),
            422,
            "INVALID_RESOURCE",
            "structured-recent-with-period",
        ),
        (
            GET,
            parameters(
                SKELLY,
                &[
                    param("includeConsultations", &[]),
                    period(
                        "includeUncategorisedData",
                        "uncategorisedDataSearchPeriod",
                        &day(-9),
                        &day(0),
                    ),
                ],
            ),
            422,
            "INVALID_PARAMETER",
            "structured-combination",
        ),
        (
            MIGRATE,
            parameters(SKELLY, &[problems()]),
            422,
            "INVALID_PARAMETER",
            "migrate-parameter",
        ),
        (
            MIGRATE,
            migrate_body(SKELLY, true),
            400,
            "CONFLICTING_VALUES",
            "migrate-sensitive-scope",
        ),
    ];
    for (operation, body, status, code, rule) in rows {
        let reply = send(&server, operation, &body, |_| {}).await;
        assert_rejected(&reply, status, code, &format!("(rule {rule})"));
    }
}

/// The switch of `scenarios/structured/state/practice.yaml`, as it
/// documents it: with `access: disabled`, a structured record request is
/// 403 ACCESS DENIED, and a migration is answered despite it.
#[tokio::test]
async fn a_practice_with_structured_switched_off_answers_access_denied() {
    let checkout = crate::common::checkout_with(
        "scenarios/structured/state/practice.yaml",
        "access: enabled",
        "access: disabled",
    );
    let server = Server::start_in(checkout.path(), &[]);
    let allergies = json!({"name": "includeAllergies", "part": [
        {"name": "includeResolvedAllergies", "valueBoolean": false}
    ]});
    let denied = record(&server, SKELLY, &[allergies]).await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert_eq!(spine_code(&denied.body), "ACCESS DENIED");
    assert_eq!(denied.body["issue"][0]["code"], "forbidden");
    let migrated = send(&server, MIGRATE, &migrate_body(SKELLY, false), |_| {}).await;
    assert_eq!(
        migrated.status, 200,
        "migration despite the switch: {}",
        migrated.body
    );
}

/// An area the practice has switched off (`disabled: true` on its
/// parameter in `state/parameters.yaml`) is answered 200 without its List,
/// with `includeX has been disabled` in the Bundle's one warning
/// OperationOutcome beside an unknown parameter's issue (DOMAIN-STU3 §1.5);
/// the other areas asked for are answered as usual.
#[tokio::test]
async fn a_disabled_area_is_left_out_with_a_warning() {
    let checkout = crate::common::checkout_with(
        "scenarios/structured/state/parameters.yaml",
        "  - { id: includeImmunisations }\n",
        "  - { id: includeImmunisations, disabled: true }\n",
    );
    let server = Server::start_in(checkout.path(), &[]);
    let reply = record(
        &server,
        SKELLY,
        &[
            json!({"name": "includeImmunisations"}),
            json!({"name": "includeProblems"}),
            json!({"name": "includeSomethingElse"}),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let titles: Vec<&str> = entries_of(&reply.body, "List")
        .iter()
        .filter_map(|list| list["title"].as_str())
        .collect();
    assert!(titles.contains(&"Problems"), "{titles:?}");
    assert!(!titles.contains(&"Immunisations"), "{titles:?}");
    let outcomes = entries_of(&reply.body, "OperationOutcome");
    assert_eq!(outcomes.len(), 1, "one warning OperationOutcome");
    let texts: Vec<&str> = outcomes[0]["issue"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|issue| issue["details"]["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "includeSomethingElse is an unrecognised parameter",
            "includeImmunisations has been disabled"
        ]
    );
}

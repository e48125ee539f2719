//! Issue #18: the shapes of the default pack's DSTU2 answers, as the 0.x
//! provider test packs check them (DOMAIN.md §11): the Organization's site
//! codes and type, the Practitioner's elements, the instance form of
//! `$gpc.getschedule`, the Order's business identifier, and the care
//! record's HTML views.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::Server;
use crate::gpc::{self, entries_of, spine_code, Reply};

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
    let organizations = entries_of(&found.body, "Organization");
    assert_eq!(organizations.len(), 1, "{}", found.body);
    assert_eq!(organizations[0]["id"], "7");
    assert_eq!(identifiers(organizations[0], SITE_CODE_SYSTEM), ["Z26556"]);

    let other_site = search(format!("{SITE_CODE_SYSTEM}|Z99899")).await;
    assert_eq!(other_site.status, 200, "{}", other_site.body);
    assert!(
        entries_of(&other_site.body, "Organization").is_empty(),
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
    practitioners.extend(entries_of(&search.body, "Practitioner"));
    practitioners.extend(entries_of(&schedule.body, "Practitioner"));
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
    assert_eq!(entries_of(&instance.body, "Organization")[0]["id"], "7");
    let slots = entries_of(&instance.body, "Slot");
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
    assert_eq!(entries_of(&type_level.body, "Slot").len(), slots.len());

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
    let order = gpc::order();
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

/// A table of a view: its `<h2>` heading and its column headings.
type Table = (&'static str, &'static [&'static str]);

/// The 0.5.0 spec's views: each section's code, title and tables.
const VIEWS: &[(&str, &str, &[Table])] = &[
    (
        "ADM",
        "Administrative Items",
        &[("Administrative Items", &["Date", "Entry", "Details"])],
    ),
    (
        "ALL",
        "Allergies and Adverse Reactions",
        &[
            (
                "Current Allergies and Adverse Reactions",
                &["Start Date", "Details"],
            ),
            (
                "Historical Allergies and Adverse Reactions",
                &["Start Date", "End Date", "Details"],
            ),
        ],
    ),
    (
        "CLI",
        "Clinical Items",
        &[("Clinical Items", &["Date", "Entry", "Details"])],
    ),
    (
        "ENC",
        "Encounters",
        &[("Encounters", &["Date", "Title", "Details"])],
    ),
    (
        "IMM",
        "Immunisations",
        &[(
            "Immunisations",
            &["Date", "Vaccination", "Part", "Contents", "Details"],
        )],
    ),
    (
        "MED",
        "Medications",
        &[
            ("Current Medication Issues", CURRENT_MEDICATION_ISSUES),
            ("Current Repeat Medications", CURRENT_REPEAT_MEDICATIONS),
            (
                "Past Medications",
                &[
                    "Start Date",
                    "Medication Item",
                    "Type",
                    "Last Issued",
                    "Review Date",
                    "Number Issued",
                    "Max Issues",
                    "Details",
                ],
            ),
        ],
    ),
    (
        "OBS",
        "Observations",
        &[("Observations", &["Date", "Entry", "Value", "Details"])],
    ),
    (
        "PRB",
        "Problems and Issues",
        &[
            ("Active Problems and Issues", ACTIVE_PROBLEMS),
            (
                "Inactive Problems and Issues",
                &["Start Date", "End Date", "Entry", "Significance", "Details"],
            ),
        ],
    ),
    (
        "REF",
        "Referrals",
        &[("Referrals", &["Date", "From", "To", "Priority", "Details"])],
    ),
    (
        "SUM",
        "Summary",
        &[
            ("Active Problems and Issues", ACTIVE_PROBLEMS),
            ("Current Medication Issues", CURRENT_MEDICATION_ISSUES),
            ("Current Repeat Medications", CURRENT_REPEAT_MEDICATIONS),
            (
                "Current Allergies and Adverse Reactions",
                &["Start Date", "Details"],
            ),
            ("Encounters", &["Date", "Title", "Details"]),
        ],
    ),
];

const ACTIVE_PROBLEMS: &[&str] = &["Start Date", "Entry", "Significance", "Details"];
const CURRENT_MEDICATION_ISSUES: &[&str] = &[
    "Start Date",
    "Medication Item",
    "Type",
    "Scheduled End",
    "Days Duration",
    "Details",
];
const CURRENT_REPEAT_MEDICATIONS: &[&str] = &[
    "Last Issued",
    "Medication Item",
    "Start Date",
    "Review Date",
    "Number Issued",
    "Max Issues",
    "Details",
];

const ALL_ITEMS: &str = "All relevant items subject to patient preferences and/or RCGP exclusions";
const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// A care record section's `text.div`, read as XML.
#[derive(Debug, Default)]
struct View {
    /// The paragraphs before the first table group.
    banner: Vec<String>,
    groups: Vec<Group>,
}

/// One `<h2>` and what follows it up to the next.
#[derive(Debug, Default)]
struct Group {
    name: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    paragraphs: Vec<String>,
}

/// Reads `div` as XML, asserting what every view must be: well-formed, one
/// root `div` whose only attribute is the XHTML `xmlns`, no attribute on any
/// other element, no `<h3>`, no line breaks or tabs.
fn read_view(div: &str) -> View {
    use quick_xml::events::Event;
    assert!(!div.contains(['\n', '\r', '\t']), "{div}");
    let mut reader = quick_xml::Reader::from_str(div);
    let mut view = View::default();
    let mut open: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut row: Vec<String> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not XML ({e}): {div}"));
        match event {
            Event::Start(element) => {
                let name = String::from_utf8_lossy(element.name().as_ref()).into_owned();
                let attributes: Vec<(String, String)> = element
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        (
                            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                            String::from_utf8_lossy(&a.value).into_owned(),
                        )
                    })
                    .collect();
                if open.is_empty() {
                    assert_eq!(name, "div", "{div}");
                    assert_eq!(attributes, [("xmlns".to_string(), XHTML.to_string())]);
                } else {
                    assert!(attributes.is_empty(), "<{name}> has {attributes:?}: {div}");
                }
                assert_ne!(name, "h3", "{div}");
                if name == "tr" {
                    row.clear();
                }
                open.push(name);
                text.clear();
            }
            Event::Empty(element) => panic!(
                "empty element <{}>: {div}",
                String::from_utf8_lossy(element.name().as_ref())
            ),
            Event::Text(t) => text.push_str(&t.decode().expect("text")),
            Event::GeneralRef(r) => panic!("entity &{}; in {div}", String::from_utf8_lossy(&r)),
            Event::End(_) => {
                let name = open.pop().expect("balanced");
                let content = std::mem::take(&mut text);
                match name.as_str() {
                    "h2" => view.groups.push(Group {
                        name: content,
                        ..Group::default()
                    }),
                    "p" => match view.groups.last_mut() {
                        Some(group) => group.paragraphs.push(content),
                        None => view.banner.push(content),
                    },
                    "th" => view
                        .groups
                        .last_mut()
                        .expect("a group")
                        .columns
                        .push(content),
                    "td" => row.push(content),
                    "tr" if open.last().is_some_and(|parent| parent == "tbody") => view
                        .groups
                        .last_mut()
                        .expect("a group")
                        .rows
                        .push(std::mem::take(&mut row)),
                    _ => {}
                }
            }
            Event::Eof => break,
            other => panic!("unexpected {other:?} in {div}"),
        }
    }
    assert!(open.is_empty(), "{div}");
    view
}

/// The getcarerecord body for `nhs` and `section`, with `period` as its
/// timePeriod when given.
fn care_record_body(nhs: &str, section: &str, period: Option<(&str, &str)>) -> Value {
    let mut body = gpc::care_record_parameters(nhs, section);
    if let Some((start, end)) = period {
        if let Some(parameters) = body["parameter"].as_array_mut() {
            parameters
                .push(json!({"name": "timePeriod", "valuePeriod": {"start": start, "end": end}}));
        }
    }
    body
}

/// Asks for a section of `nhs`'s record: (the section, its view).
async fn care_record(
    server: &Server,
    nhs: &str,
    section: &str,
    period: Option<(&str, &str)>,
) -> (Value, View) {
    let reply = gpc::send(
        server,
        Method::POST,
        "/fhir/Patient/$gpc.getcarerecord",
        "PatientOperation_GetCareRecord",
        nhs,
        Some(care_record_body(nhs, section, period)),
    )
    .await;
    assert_eq!(reply.status, 200, "{nhs} {section}: {}", reply.body);
    let compositions = entries_of(&reply.body, "Composition");
    assert_eq!(compositions.len(), 1, "{}", reply.body);
    let sections = compositions[0]["section"].as_array().expect("sections");
    assert_eq!(sections.len(), 1);
    let found = sections[0].clone();
    assert_eq!(found["code"]["coding"][0]["code"], section);
    let view = read_view(found["text"]["div"].as_str().expect("a div"));
    (found, view)
}

fn no_data(group: &str) -> String {
    format!("No '{group}' data is recorded for this patient.")
}

#[tokio::test]
async fn every_care_record_section_is_its_0_5_0_view() {
    let server = Server::start(&[]);
    for (code, title, tables) in VIEWS {
        let (section, view) = care_record(&server, "9658218873", code, None).await;
        assert_eq!(section["title"], *title, "{code}");
        assert_eq!(section["code"]["coding"][0]["display"], *title, "{code}");
        assert_eq!(view.banner, [ALL_ITEMS], "{code}");
        let names: Vec<&str> = view.groups.iter().map(|g| g.name.as_str()).collect();
        let expected: Vec<&str> = tables.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, expected, "{code}");
        for (group, (name, columns)) in view.groups.iter().zip(tables.iter()) {
            assert_eq!(group.columns, *columns, "{code} {name}");
            assert!(!group.rows.is_empty(), "{code} {name}: MEAKIN has entries");
            assert!(group.paragraphs.is_empty(), "{code} {name}: {group:?}");
            for row in &group.rows {
                assert_eq!(row.len(), columns.len(), "{code} {name}: {row:?}");
                let date = &row[0];
                assert!(
                    chrono::NaiveDate::parse_from_str(date, "%d-%b-%Y").is_ok(),
                    "{code} {name}: first column {date:?} is not dd-MMM-yyyy"
                );
            }
        }
        if *code == "SUM" {
            let encounters = view.groups.last().expect("encounters");
            assert_eq!(encounters.rows.len(), 3, "the last 3 encounters");
        }
    }
}

#[tokio::test]
async fn a_time_period_is_stated_and_selects_the_dated_tables() {
    let server = Server::start(&[]);

    // Inactive problems are selected by the period; active ones never are.
    let (_, all) = care_record(&server, "9658218873", "PRB", None).await;
    let (_, view) = care_record(
        &server,
        "9658218873",
        "PRB",
        Some(("2014-02-03", "2016-01-24")),
    )
    .await;
    assert_eq!(
        view.banner,
        ["For the period '03-Feb-2014' to '24-Jan-2016'"],
        "{view:?}"
    );
    assert_eq!(view.groups[0].rows, all.groups[0].rows);
    let inactive = &view.groups[1];
    assert_eq!(inactive.name, "Inactive Problems and Issues");
    assert!(!all.groups[1].rows.is_empty());
    assert!(
        inactive.rows.is_empty() && inactive.columns.is_empty(),
        "{inactive:?}"
    );
    assert_eq!(
        inactive.paragraphs,
        [no_data("Inactive Problems and Issues")]
    );

    // Partial dates cover their whole month; a dateTime is its own day.
    let (_, view) = care_record(&server, "9658218873", "ENC", Some(("2016-06", "2016-11"))).await;
    assert_eq!(
        view.banner,
        ["For the period '01-Jun-2016' to '30-Nov-2016'"]
    );
    let dates: Vec<&str> = view.groups[0].rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(dates, ["15-Nov-2016", "03-Oct-2016", "21-Jun-2016"]);
    let (_, view) = care_record(
        &server,
        "9658218873",
        "REF",
        Some(("2016-11-15T00:00:00+00:00", "2017-03-22T23:59:59+00:00")),
    )
    .await;
    assert_eq!(
        view.banner,
        ["For the period '15-Nov-2016' to '22-Mar-2017'"]
    );
    assert_eq!(view.groups[0].rows.len(), 2, "{view:?}");

    // A period with nothing in it.
    let (_, view) = care_record(
        &server,
        "9658218873",
        "ADM",
        Some(("2014-05-03", "2015-04-30")),
    )
    .await;
    assert_eq!(
        view.banner,
        ["For the period '03-May-2014' to '30-Apr-2015'"]
    );
    assert_eq!(view.groups.len(), 1);
    assert_eq!(view.groups[0].paragraphs, [no_data("Administrative Items")]);
}

#[tokio::test]
async fn a_record_without_entries_says_so_in_every_table() {
    let server = Server::start(&[]);
    for nhs in ["9658218865", "9658218881"] {
        for (code, title, tables) in VIEWS {
            let (section, view) = care_record(&server, nhs, code, None).await;
            assert_eq!(section["title"], *title);
            assert_eq!(view.banner, [ALL_ITEMS], "{nhs} {code}");
            assert_eq!(view.groups.len(), tables.len(), "{nhs} {code}");
            for (group, (name, _)) in view.groups.iter().zip(tables.iter()) {
                assert_eq!(group.name, *name);
                assert!(
                    group.rows.is_empty() && group.columns.is_empty(),
                    "{group:?}"
                );
                assert_eq!(group.paragraphs, [no_data(name)], "{nhs} {code}");
            }
        }
    }
}

#[tokio::test]
async fn the_care_record_bundle_carries_the_patient_it_is_for() {
    let server = Server::start(&[]);
    for (nhs, id) in [
        ("9658218873", "2"),
        ("9658218865", "1"),
        ("9658218881", "3"),
    ] {
        let reply = gpc::send(
            &server,
            Method::POST,
            "/fhir/Patient/$gpc.getcarerecord",
            "PatientOperation_GetCareRecord",
            nhs,
            Some(care_record_body(nhs, "SUM", None)),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let composition = entries_of(&reply.body, "Composition")[0];
        assert_eq!(composition["subject"]["reference"], format!("Patient/{id}"));
        let patients = entries_of(&reply.body, "Patient");
        assert_eq!(patients.len(), 1, "{}", reply.body);
        assert_eq!(patients[0]["id"], id);
        assert_eq!(
            identifiers(patients[0], "http://fhir.nhs.net/Id/nhs-number"),
            [nhs]
        );
        assert_eq!(entries_of(&reply.body, "Practitioner").len(), 1);
        assert_eq!(entries_of(&reply.body, "Organization")[0]["id"], "7");
    }
}

/// The care record's answers are kept for identical requests (the repeat
/// cache): an identical request gets the same record, with its own ids.
#[tokio::test]
async fn identical_care_record_requests_get_the_same_record_with_their_own_ids() {
    let server = Server::start(&[]);
    let ask = || {
        gpc::send(
            &server,
            Method::POST,
            "/fhir/Patient/$gpc.getcarerecord",
            "PatientOperation_GetCareRecord",
            "9658218873",
            Some(care_record_body("9658218873", "MED", None)),
        )
    };
    let first = ask().await;
    let second = ask().await;
    assert_eq!((first.status, second.status), (200, 200));
    let id = |reply: &Reply| entries_of(&reply.body, "Composition")[0]["id"].clone();
    assert_ne!(id(&first), id(&second), "each answer has its own id");
    assert!(id(&first).as_str().is_some_and(|id| id
        .parse::<u64>()
        .is_ok_and(|n| (1000..1_000_000).contains(&n))));
    let without_ids = |reply: &Reply| {
        let mut body = reply.body.clone();
        body["entry"][0]["fullUrl"] = Value::Null;
        body["entry"][0]["resource"]["id"] = Value::Null;
        body["entry"][0]["resource"]["date"] = Value::Null;
        body
    };
    assert_eq!(without_ids(&first), without_ids(&second));
    // As XML too: each answer carries its own Composition id.
    let client = crate::common::client();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let xml = gpc::request(
            &client,
            Method::POST,
            &server.url("/fhir/Patient/$gpc.getcarerecord?_format=xml"),
            "PatientOperation_GetCareRecord",
        )
        .header("Content-Type", gpc::FHIR_JSON)
        .body(care_record_body("9658218873", "MED", None).to_string())
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("text");
        let at = xml.find("<Composition").expect("a Composition");
        let id = xml[at..]
            .split("<id value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("")
            .to_string();
        assert!(id.parse::<u64>().is_ok_and(|n| n < 1_000_000), "{id}");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
}

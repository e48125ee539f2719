//! Issue: scenario files and Handlebars templates — one test per row of the
//! default pack's table, escaping, load errors and render errors.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{client, fixture, run_cli, Server};
use crate::gpc::{self, entries_of, send, spine_code, Reply};

async fn get(server: &Server, path: &str, operation: &str) -> Reply {
    send(server, Method::GET, path, operation, "9658218873", None).await
}

#[tokio::test]
async fn default_pack_answers_every_row_of_the_table() {
    let server = Server::start(&[]);

    // GET /fhir/metadata
    let r = get(&server, "/fhir/metadata", "Metadata_Metadata").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["resourceType"], "Conformance");
    let served: Vec<&str> = r.body["rest"][0]["resource"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|x| x["type"].as_str())
        .collect();
    for resource in [
        "Patient",
        "Practitioner",
        "Organization",
        "Location",
        "Appointment",
        "Order",
    ] {
        assert!(
            served.contains(&resource),
            "metadata lists {resource}: {served:?}"
        );
    }
    let operations = r.body["rest"][0]["operation"].to_string();
    assert!(
        operations.contains("gpc.getcarerecord") && operations.contains("gpc.getschedule"),
        "{operations}"
    );

    // Patient search
    let r = get(
        &server,
        "/fhir/Patient?identifier=http://fhir.nhs.net/Id/nhs-number%7C9658218873",
        "PatientIdentifier_SearchByIdentifier",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["type"], "searchset");
    let patients = entries_of(&r.body, "Patient");
    assert_eq!(patients.len(), 1);
    assert_eq!(patients[0]["name"][0]["family"][0], "MEAKIN");
    assert_eq!(patients[0]["identifier"][0]["value"], "9658218873");
    for hidden in ["9999999999", "9658220142", "9658220290"] {
        let path = format!("/fhir/Patient?identifier=http://fhir.nhs.net/Id/nhs-number%7C{hidden}");
        // The JWT names the patient searched for (rule jwt-requested-record-patient).
        let r = send(
            &server,
            Method::GET,
            &path,
            "PatientIdentifier_SearchByIdentifier",
            hidden,
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{hidden}");
        assert_eq!(r.body["resourceType"], "Bundle");
        assert_eq!(
            r.body["entry"].as_array().map(Vec::len).unwrap_or(0),
            0,
            "{hidden}"
        );
    }

    // Patient read
    let r = get(&server, "/fhir/Patient/2", "Patient_Read").await;
    assert_eq!(
        (r.status, r.body["resourceType"].as_str()),
        (200, Some("Patient"))
    );
    assert_eq!(r.headers["etag"], "W/\"1\"");
    let r = get(&server, "/fhir/Patient/999", "Patient_Read").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["resourceType"], "OperationOutcome");
    assert_eq!(spine_code(&r.body), "PATIENT_NOT_FOUND");

    // Care record, every section
    for section in [
        "ADM", "ALL", "CLI", "ENC", "IMM", "MED", "OBS", "PRB", "REF", "SUM",
    ] {
        let body = gpc::care_record_parameters("9658218873", section);
        let r = send(
            &server,
            Method::POST,
            "/fhir/Patient/$gpc.getcarerecord",
            "PatientOperation_GetCareRecord",
            "9658218873",
            Some(body),
        )
        .await;
        assert_eq!(r.status, 200, "{section}: {}", r.body);
        assert_eq!(
            r.headers["x-mock-scenario"],
            format!("care-record-{section}").as_str()
        );
        let compositions = entries_of(&r.body, "Composition");
        assert_eq!(compositions.len(), 1, "{section}");
        let sections = compositions[0]["section"].as_array().expect("sections");
        assert_eq!(sections.len(), 1, "{section}");
        assert_eq!(sections[0]["code"]["coding"][0]["code"], section);
        let div = sections[0]["text"]["div"].as_str().unwrap_or("");
        assert!(
            div.starts_with("<div") && div.contains("<table"),
            "{section}: {div}"
        );
        for resource in ["Patient", "Practitioner", "Organization"] {
            assert_eq!(
                entries_of(&r.body, resource).len(),
                1,
                "{section}: one {resource}"
            );
        }
    }
    for (nhs, section, status, code) in [
        ("9658218873", "XYZ", 422, "INVALID_PARAMETER"),
        ("9658218873", "med", 422, "INVALID_PARAMETER"),
        ("9658220169", "SUM", 403, "NO_PATIENT_CONSENT"),
        ("9999999999", "SUM", 404, "PATIENT_NOT_FOUND"),
    ] {
        let body = gpc::care_record_parameters(nhs, section);
        let r = send(
            &server,
            Method::POST,
            "/fhir/Patient/$gpc.getcarerecord",
            "PatientOperation_GetCareRecord",
            nhs,
            Some(body),
        )
        .await;
        assert_eq!(
            (r.status, spine_code(&r.body)),
            (status, code),
            "{nhs} {section}: {}",
            r.body
        );
    }

    // Practitioner, Organization, Location
    let r = get(
        &server,
        "/fhir/Practitioner?identifier=http://fhir.nhs.net/Id/sds-user-id%7CG13579135",
        "PractitionerIdentifier_SearchByIdentifier",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(entries_of(&r.body, "Practitioner").len(), 1);
    for (path, operation, resource_type) in [
        ("/fhir/Practitioner/1", "Practitioner_Read", "Practitioner"),
        ("/fhir/Organization/7", "Organization_Read", "Organization"),
        ("/fhir/Location/1", "Location_Read", "Location"),
    ] {
        let r = get(&server, path, operation).await;
        assert_eq!(
            (r.status, r.body["resourceType"].as_str()),
            (200, Some(resource_type)),
            "{path}"
        );
    }
    let r = get(
        &server,
        "/fhir/Organization?identifier=http://fhir.nhs.net/Id/ods-organization-code%7CA20047",
        "OrganizationIdentifier_SearchByIdentifier",
    )
    .await;
    assert_eq!(r.status, 200);
    let organizations = entries_of(&r.body, "Organization");
    assert_eq!(organizations.len(), 1);
    assert_eq!(organizations[0]["id"], "7");

    // getschedule: at least 10 free slots inside the period
    let parameters = gpc::schedule_parameters("A20047", 7);
    let period_start = parameters["parameter"][1]["valuePeriod"]["start"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let period_end = parameters["parameter"][1]["valuePeriod"]["end"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let r = send(
        &server,
        Method::POST,
        "/fhir/Organization/$gpc.getschedule",
        "OrganizationOperation_GetSchedule",
        "",
        Some(parameters),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for resource in ["Organization", "Location", "Schedule"] {
        assert!(
            !entries_of(&r.body, resource).is_empty(),
            "getschedule has a {resource}"
        );
    }
    let slots = entries_of(&r.body, "Slot");
    let free: Vec<_> = slots
        .iter()
        .filter(|slot| slot["freeBusyType"] == "free")
        .filter(|slot| {
            let start = slot["start"].as_str().unwrap_or("");
            let end = slot["end"].as_str().unwrap_or("");
            start >= period_start.as_str() && end <= period_end.as_str()
        })
        .collect();
    assert!(
        free.len() >= 10,
        "{} free slots inside {period_start}..{period_end}",
        free.len()
    );

    // Appointments
    let r = get(
        &server,
        "/fhir/Patient/2/Appointment",
        "PatientCompartment_Appointment",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(!entries_of(&r.body, "Appointment").is_empty());
    let appointment = json!({
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
    });
    let r = send(
        &server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        "9658218873",
        Some(appointment.clone()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["resourceType"], "Appointment");
    for field in ["slot", "start", "end", "participant"] {
        assert_eq!(r.body[field], appointment[field], "{field} echoed");
    }
    let id = r.body["id"].as_str().expect("new id").to_string();
    assert!(!id.is_empty() && id != "1");
    let location = r.headers["location"].to_str().unwrap_or("");
    assert!(
        location.contains(&format!("/Appointment/{id}")),
        "{location}"
    );

    let r = get(&server, "/fhir/Appointment/1", "Appointment_Read").await;
    assert_eq!(
        (r.status, r.body["resourceType"].as_str()),
        (200, Some("Appointment"))
    );
    let mut cancelled = r.body.clone();
    cancelled["status"] = json!("cancelled");
    cancelled["extension"] = gpc::cancellation_reason("Patient no longer needs it");
    let r = send(
        &server,
        Method::PUT,
        "/fhir/Appointment/1",
        "Appointment_Update",
        "9658218873",
        Some(cancelled),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled");

    let order = gpc::order();
    let r = send(
        &server,
        Method::POST,
        "/fhir/Order",
        "Order_Create",
        "9658218873",
        Some(order),
    )
    .await;
    assert_eq!(
        (r.status, r.body["resourceType"].as_str()),
        (201, Some("Order")),
        "{}",
        r.body
    );
}

/// Echoed request input with JSON and HTML metacharacters and non-ASCII
/// still gives valid JSON carrying exactly those characters.
#[tokio::test]
async fn echoed_values_are_escaped_for_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("scenarios")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("templates")).expect("mkdir");
    std::fs::write(
        dir.path().join("scenarios/echo.yaml"),
        "operation: getReport\nscenarios:\n  - name: echo\n    then:\n      template: echo.json.hbs\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("templates/echo.json.hbs"),
        r#"{"name": "{{request.path_params.name}}", "q": "{{request.query.q}}", "all": {{json request.query_all.q}}}"#,
    )
    .expect("write");
    let spec = fixture("specs/clinic-openapi3.yaml").display().to_string();
    let scenarios = dir.path().join("scenarios").display().to_string();
    let templates = dir.path().join("templates").display().to_string();
    let server = Server::start(&[
        "--spec",
        &spec,
        "--scenarios",
        &scenarios,
        "--templates",
        &templates,
    ]);
    let nasty = "a\"b\\c\nd<e>&f é 🙂";
    let response = client()
        .get(server.url("/api/v1/reports/x%22y.json"))
        .query(&[("q", nasty), ("q", "second")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("valid JSON");
    assert_eq!(body["q"], nasty);
    assert_eq!(body["name"], "x\"y");
    assert_eq!(body["all"], json!([nasty, "second"]));
}

fn pack_dir(name: &str) -> String {
    fixture(&format!("packs/{name}")).display().to_string()
}

/// Each load error is reported with file and line, all together, exit 2.
#[test]
fn load_errors_name_file_and_line() {
    let (code, _, stderr) = run_cli(&[
        "serve",
        "--port",
        "0",
        "--api",
        "gpconnect-dstu2",
        "--scenarios",
        &format!("{}/scenarios", pack_dir("load-errors")),
        "--templates",
        &format!("{}/templates", pack_dir("load-errors")),
    ]);
    assert_eq!(code, 2, "{stderr}");
    let expected = [
        (
            "bad-regex.yaml:6:",
            "bad regex \"read:(patient\": unclosed group",
        ),
        ("bad-jsonpath.yaml:7:", "is not a valid JSONPath"),
        (
            "bad-condition.yaml:6:",
            "scenario `operators`: query `_format`: unknown condition operator `like`; expected a string, or one of {equals: X}",
        ),
        (
            "bad-condition.yaml:9:",
            "scenario `operators`: path `id`: expected a string, or one of",
        ),
        ("duplicate.yaml:8:", "duplicate scenario name `twice`"),
        (
            "missing-template.yaml:6:",
            "template `nowhere.json.hbs` not found",
        ),
        (
            "unknown-field.yaml:5:",
            "scenarios[0].then.statuss: unknown field `statuss`, expected one of status, headers",
        ),
        (
            "unknown-operation.yaml:2:",
            "unknown operation `Patient_Reed`; the nearest operation keys are: Patient_Read",
        ),
        ("syntax.json.hbs:3:", "template syntax error"),
        ("inline-syntax.yaml:7:", "template syntax error"),
    ];
    for (location, message) in expected {
        let line = stderr
            .lines()
            .find(|line| line.contains(location))
            .unwrap_or_else(|| panic!("no error at {location}:\n{stderr}"));
        assert!(
            line.contains(message),
            "{location}: expected {message:?} in {line:?}"
        );
    }
}

/// Render errors and invalid JSON become a 500 OperationOutcome naming the
/// template and position; broken JSON is never sent.
#[tokio::test]
async fn render_errors_answer_500_with_template_and_position() {
    let server = Server::start(&[
        "--api",
        "gpconnect-dstu2",
        "--scenarios",
        &format!("{}/scenarios", pack_dir("render-errors")),
        "--templates",
        &format!("{}/templates", pack_dir("render-errors")),
    ]);
    for (id, needles) in [
        (
            "1",
            vec!["missing-var.json.hbs", "line 3", "request.body.nothing"],
        ),
        ("2", vec!["bad-json.json.hbs", "invalid JSON at line 2"]),
        (
            "3",
            vec!["bad-helper.json.hbs", "line 1", "invalid date format"],
        ),
    ] {
        let r = get(&server, &format!("/fhir/Patient/{id}"), "Patient_Read").await;
        assert_eq!(r.status, 500, "{id}: {}", r.body);
        assert_eq!(r.body["resourceType"], "OperationOutcome");
        assert_eq!(spine_code(&r.body), "INTERNAL_SERVER_ERROR");
        let diagnostics = r.body["issue"][0]["diagnostics"].as_str().unwrap_or("");
        for needle in needles {
            assert!(
                diagnostics.contains(needle),
                "{id}: {needle:?} not in {diagnostics:?}"
            );
        }
    }
    assert!(
        server.logged("missing-var.json.hbs"),
        "render errors are logged"
    );
}

#[tokio::test]
async fn forced_scenario_and_unknown_forced_scenario() {
    let server = Server::start(&[]);
    let response = gpc::request(
        &client(),
        Method::GET,
        &server.url("/fhir/Patient/2"),
        "Patient_Read",
    )
    .header("X-Mock-Scenario", "patient-not-found")
    .send()
    .await
    .expect("request");
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-mock-scenario"], "patient-not-found");
    let response = gpc::request(
        &client(),
        Method::GET,
        &server.url("/fhir/Patient/2"),
        "Patient_Read",
    )
    .header("X-Mock-Scenario", "no-such-scenario")
    .send()
    .await
    .expect("request");
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("json");
    assert!(body["issue"][0]["diagnostics"]
        .as_str()
        .unwrap_or("")
        .contains("no scenario named `no-such-scenario`"));
}

/// Driven from the scenario files themselves: every scenario they name is
/// selected by some request (the one `check` builds from its `when`).
#[test]
fn every_scenario_of_the_pack_is_reachable() {
    use gpconnect_mock::snapshot::{Settings, Snapshot, Sources};
    let mut named = Vec::new();
    let mut dirs = vec![crate::common::project_dir().join("scenarios")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("scenarios dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            if !text.lines().any(|l| l.starts_with("operation:")) {
                continue; // a seed file
            }
            let file: Value = serde_saphyr::from_str(&text).expect("scenario file parses");
            for scenario in file["scenarios"].as_array().into_iter().flatten() {
                named.push((
                    file["operation"].as_str().unwrap_or("").to_string(),
                    scenario["name"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    assert!(named.len() >= 40, "{} scenarios in the pack", named.len());
    let snapshot = Snapshot::load(&Sources::default_pack(), &Settings::default(), 1)
        .expect("default pack loads");
    let report = gpconnect_mock::check::run(&snapshot);
    for (operation, name) in &named {
        let problems: Vec<&String> = report
            .findings
            .iter()
            .filter(|f| f.operation == *operation && f.scenario.as_deref() == Some(name.as_str()))
            .map(|f| &f.message)
            .collect();
        assert!(problems.is_empty(), "{operation} / {name}: {problems:?}");
    }
    assert_eq!(report.scenarios, named.len());
}

/// `/__admin/sample-request` hands out a request that selects the scenario.
#[tokio::test]
async fn sample_request_selects_its_scenario() {
    let server = Server::start(&[]);
    let sample: Value = client()
        .get(server.url("/__admin/sample-request?operation=PatientOperation_GetCareRecord&scenario=care-record-MED"))
        .send()
        .await
        .expect("sample")
        .json()
        .await
        .expect("json");
    let mut request = client().request(Method::POST, sample["url"].as_str().expect("url"));
    for (name, value) in sample["headers"].as_object().expect("headers") {
        request = request.header(name.as_str(), value.as_str().unwrap_or(""));
    }
    let response = request
        .body(sample["body"].to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mock-scenario"], "care-record-MED");
    let curl =
        client()
            .get(server.url(
                "/__admin/sample-request?operation=Patient_Read&format=curl&api=gpconnect-dstu2",
            ))
            .send()
            .await
            .expect("curl")
            .text()
            .await
            .expect("text");
    assert!(
        curl.starts_with("curl -sS -X GET 'http://") && curl.contains("-H 'Authorization: Bearer "),
        "{curl}"
    );
    let missing = client()
        .get(server.url("/__admin/sample-request?operation=Nope"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
}

//! A newcomer's first hour (#16): paths that cannot be meant are refused,
//! the embedded pack serves from any directory, a new file's specific
//! scenario is not hidden by another file's catch-all, and the tour's
//! sample requests follow the state (book, then read, amend and cancel that
//! booking). `.ci/readme_tour.sh` runs the README's own commands.

use reqwest::Method;

use crate::common::{client, project_dir, run_cli, Server};
use crate::gpc::request;

/// `--scenarios`, `--templates` and `--spec` naming nothing: exit 2, naming
/// the flag and the path, for every command that loads a pack.
#[test]
fn paths_that_do_not_exist_are_refused_naming_them() {
    for command in ["serve", "check", "postman"] {
        for (flag, path) in [
            ("--scenarios", "scenarioz"),
            ("--templates", "no/such/templates"),
            ("--spec", "downloads/swagger/swager.json"),
        ] {
            let (code, _, stderr) = run_cli(
                &[command, flag, path, "--port", "0"][..if command == "serve" { 5 } else { 3 }],
            );
            assert_eq!(code, 2, "{command} {flag} {path}: {stderr}");
            assert!(
                stderr.contains(&format!("{flag} {path}")),
                "{command}: {stderr}"
            );
        }
    }
    let (code, _, stderr) = run_cli(&["routes", "--spec", "nope.yaml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--spec nope.yaml: no such file"),
        "{stderr}"
    );
}

/// Outside a checkout, `serve` with no flags answers from the pack built
/// into the binary, and says so.
#[tokio::test]
async fn the_embedded_pack_serves_from_any_directory() {
    let elsewhere = tempfile::tempdir().expect("temp");
    let server = Server::start_in(elsewhere.path(), &[]);
    assert!(
        server.banner().contains("built into the binary"),
        "{}",
        server.banner()
    );
    assert!(
        server.banner().contains("gpconnect-mock init DIR"),
        "{}",
        server.banner()
    );
    let http = client();
    let response = request(
        &http,
        Method::GET,
        &server.url("/fhir/Patient/2"),
        "Patient_Read",
    )
    .send()
    .await
    .expect("send");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-mock-scenario"));
}

/// In a checkout, the checkout's files are served, and the line says so.
#[test]
fn a_checkout_serves_its_own_files() {
    let server = Server::start_in(&project_dir(), &[]);
    assert!(
        server.banner().contains("the checkout in"),
        "{}",
        server.banner()
    );
}

/// Copies `tests/fixtures/check/shadowed` (one scenario shadowing another)
/// into a temporary directory the test may edit.
fn shadowed_pack() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp");
    for part in ["scenarios", "templates"] {
        let from = crate::common::fixture("check/shadowed").join(part);
        std::fs::create_dir_all(dir.path().join(part)).expect("dir");
        for entry in std::fs::read_dir(&from).expect("fixture") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dir.path().join(part).join(entry.file_name()))
                .expect("copy");
        }
    }
    dir
}

/// A scenario no request can reach is reported at load, in health, in the
/// scenario list and by sample-request (409, naming the one that answers
/// instead), and again after a reload that adds another.
#[tokio::test]
async fn shadowed_scenarios_are_reported_everywhere() {
    let pack = shadowed_pack();
    let scenarios = pack.path().join("scenarios");
    let templates = pack.path().join("templates");
    let server = Server::start(&[
        "--api",
        "gpconnect-dstu2",
        "--scenarios",
        &scenarios.display().to_string(),
        "--templates",
        &templates.display().to_string(),
    ]);
    assert!(
        server.logged("scenario `location-one` of Location_Read is shadowed by `any-location`"),
        "{}",
        server.logs()
    );
    let http = client();
    let health: serde_json::Value = http
        .get(server.url("/__admin/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    let shadowed = health["shadowed_scenarios"].as_array().expect("list");
    assert_eq!(shadowed.len(), 1, "{health}");
    assert_eq!(shadowed[0]["scenario"], "location-one");
    assert_eq!(shadowed[0]["shadowed_by"]["scenario"], "any-location");

    let list: serde_json::Value = http
        .get(server.url("/__admin/scenarios"))
        .send()
        .await
        .expect("scenarios")
        .json()
        .await
        .expect("json");
    let location = list["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .find(|op| op["operation"] == "Location_Read")
        .expect("Location_Read");
    let one = location["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .find(|s| s["name"] == "location-one")
        .expect("location-one");
    assert_eq!(one["shadowed_by"], "any-location");

    let sample = http
        .get(server.url("/__admin/sample-request?operation=Location_Read&scenario=location-one"))
        .send()
        .await
        .expect("sample");
    assert_eq!(sample.status(), 409);
    let body: serde_json::Value = sample.json().await.expect("json");
    assert_eq!(body["shadowed_by"], "any-location", "{body}");

    // A reload that adds a second shadowed scenario reports it too.
    std::fs::write(
        scenarios.join("z-more.yaml"),
        "operation: Location_Read\nscenarios:\n  - name: location-two\n    when:\n      path: { id: \"2\" }\n    then:\n      status: 200\n      template: location.json.hbs\n",
    )
    .expect("write");
    assert!(
        server.logged("scenario `location-two` of Location_Read is shadowed by `any-location`"),
        "{}",
        server.logs()
    );
}

/// `init DIR` writes the embedded pack out; `serve` there serves the copy
/// (and says so); a second `init` overwrites nothing.
#[tokio::test]
async fn init_writes_the_pack_out_for_editing() {
    let dir = tempfile::tempdir().expect("temp");
    let target = dir.path().join("my-pack");
    let target_text = target.display().to_string();
    let (code, stdout, stderr) = run_cli(&["init", &target_text]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("swagger.json"), "{stdout}");
    assert!(target.join("scenarios/dstu2/patient").is_dir());
    assert!(target.join("templates").is_dir());
    assert_eq!(
        std::fs::read_to_string(target.join("downloads/apis.yaml")).expect("the mount file"),
        include_str!("../../downloads/apis.yaml")
    );
    let (code, _, stderr) = run_cli(&["init", &target_text]);
    assert_eq!(code, 2);
    assert!(stderr.contains("never overwrites"), "{stderr}");

    let server = Server::start_in(&target, &[]);
    assert!(
        server.banner().contains("the checkout in"),
        "{}",
        server.banner()
    );
    let (code, stdout, stderr) = {
        let output = std::process::Command::new(crate::common::binary())
            .current_dir(&target)
            .arg("check")
            .output()
            .expect("check runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("0 errors"), "{stdout}");
    drop(server);
}

/// Sends the request `/__admin/sample-request?{query}` hands out (JSON
/// form), as written; returns the status, the `Location` and the body.
async fn send_sample(server: &Server, query: &str) -> (u16, String, serde_json::Value) {
    let http = client();
    let sample: serde_json::Value = http
        .get(server.url(&format!(
            "/__admin/sample-request?{query}&api=gpconnect-dstu2"
        )))
        .send()
        .await
        .expect("sample")
        .json()
        .await
        .expect("json");
    let method =
        Method::from_bytes(sample["method"].as_str().unwrap_or("").as_bytes()).expect("a method");
    let mut request = http.request(method, sample["url"].as_str().expect("url"));
    for (name, value) in sample["headers"].as_object().expect("headers") {
        request = request.header(name.as_str(), value.as_str().unwrap_or(""));
    }
    if !sample["body"].is_null() {
        request = request.body(sample["body"].to_string());
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, location, body)
}

/// The tour's step 3: book with a sample request, then read, amend and
/// cancel with `document=latest`; each targets the appointment just booked
/// and is answered 200; the booking carries its slot's times, and the slot
/// is free again after the cancel.
#[tokio::test]
async fn sample_requests_read_amend_and_cancel_the_appointment_just_booked() {
    let server = Server::start(&[]);
    let (status, location, booked) = send_sample(
        &server,
        "operation=Appointment_Create&scenario=appointment-booked",
    )
    .await;
    assert_eq!(status, 201, "{booked}");
    let id = booked["id"].as_str().expect("an id").to_string();
    assert!(
        location.contains(&format!("/Appointment/{id}")),
        "{location}"
    );
    let slot_id = booked["slot"][0]["reference"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .expect("a slot")
        .to_string();
    let slot: serde_json::Value = client()
        .get(server.url("/__admin/state/slots"))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let slot = slot["documents"]
        .as_array()
        .and_then(|slots| slots.iter().find(|s| s["id"] == slot_id.as_str()))
        .cloned()
        .expect("the booked slot is in state");
    assert_eq!(booked["start"], slot["start"], "the slot's start");
    assert_eq!(booked["end"], slot["end"], "the slot's end");

    let (status, _, read) = send_sample(
        &server,
        "operation=Appointment_Read&scenario=appointment-found&document=latest",
    )
    .await;
    assert_eq!((status, read["id"].as_str()), (200, Some(id.as_str())));

    let (status, _, amended) = send_sample(
        &server,
        "operation=Appointment_Update&scenario=appointment-amended&document=latest",
    )
    .await;
    assert_eq!(status, 200, "{amended}");
    assert_eq!(amended["id"].as_str(), Some(id.as_str()));
    assert_eq!(amended["status"], "booked");
    assert!(
        amended["description"]
            .as_str()
            .is_some_and(|d| d.ends_with("(amended)")),
        "{amended}"
    );

    let (status, _, cancelled) = send_sample(
        &server,
        "operation=Appointment_Update&scenario=appointment-cancelled&document=latest",
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["id"].as_str(), Some(id.as_str()));
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["description"], amended["description"]);

    let (status, _, schedule) = send_sample(
        &server,
        "operation=OrganizationOperation_GetSchedule&scenario=free-slots-a20047",
    )
    .await;
    assert_eq!(status, 200, "{schedule}");
    let offered = schedule.to_string();
    assert!(
        offered.contains(&format!("\"Slot/{slot_id}\""))
            || offered.contains(&format!("\"id\":\"{slot_id}\"")),
        "Slot/{slot_id} is offered again: {offered}"
    );

    let bad = client()
        .get(server.url(
            "/__admin/sample-request?operation=Appointment_Read&scenario=appointment-found&document=newest",
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
}

/// What the README shows exists in the repository: every `docs/examples/`
/// file it names, and no file outside the checkout.
#[test]
fn the_readme_names_only_files_in_the_repository() {
    let dir = project_dir();
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README.md");
    for outside in ["../shared", "DOMAIN.md"] {
        assert!(!readme.contains(outside), "README.md names {outside}");
    }
    let mut named = 0;
    for (at, _) in readme.match_indices("docs/examples/") {
        let name: String = readme[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(*c))
            .collect();
        let name = name.trim_end_matches('.');
        if name.ends_with('/') {
            continue;
        }
        assert!(dir.join(name).is_file(), "README.md names {name}");
        named += 1;
    }
    assert!(named >= 4, "the journey's files are named: {named}");
}

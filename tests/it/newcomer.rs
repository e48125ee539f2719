//! A newcomer's first hour (#16): paths that cannot be meant are refused,
//! the embedded pack serves from any directory, and a new file's specific
//! scenario is not hidden by another file's catch-all.

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
    assert!(target.join("scenarios/patient").is_dir());
    assert!(target.join("templates").is_dir());
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

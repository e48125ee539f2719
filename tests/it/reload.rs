//! Issue: hot reload of spec, scenarios and templates with zero dropped requests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::common::{checkout_copy, client, copy_tree, project_dir, Server};
use crate::gpc;

/// A temporary copy of the default definition and pack.
pub struct PackCopy {
    pub dir: tempfile::TempDir,
}

impl PackCopy {
    pub fn new() -> PackCopy {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = project_dir();
        copy_tree(&root.join("scenarios/dstu2"), &dir.path().join("scenarios"));
        copy_tree(&root.join("templates/dstu2"), &dir.path().join("templates"));
        std::fs::create_dir_all(dir.path().join("spec")).expect("spec dir");
        std::fs::copy(
            root.join("downloads/swagger/swagger.json"),
            dir.path().join("spec/swagger.json"),
        )
        .expect("spec copied");
        PackCopy { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn start(&self, extra: &[&str]) -> Server {
        let spec = self.path("spec/swagger.json").display().to_string();
        let scenarios = self.path("scenarios").display().to_string();
        let templates = self.path("templates").display().to_string();
        let mut args = vec![
            "--spec",
            spec.as_str(),
            "--scenarios",
            scenarios.as_str(),
            "--templates",
            templates.as_str(),
        ];
        args.extend_from_slice(extra);
        Server::start(&args)
    }
}

/// Writes by rename, as vim, VS Code and JetBrains save.
fn atomic_write(path: &Path, text: &str) {
    let temp = path.with_extension("tmp~");
    std::fs::write(&temp, text).expect("write temp");
    std::fs::rename(&temp, path).expect("rename over");
}

async fn get_patient(server: &Server, id: &str) -> (u16, String, Value) {
    let response = gpc::request(
        &client(),
        Method::GET,
        &server.url(&format!("/fhir/Patient/{id}")),
        "Patient_Read",
    )
    .send()
    .await
    .expect("request");
    let status = response.status().as_u16();
    let scenario = response
        .headers()
        .get("x-mock-scenario")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, scenario, body)
}

async fn health(server: &Server) -> Value {
    client()
        .get(server.url("/__admin/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json")
}

/// Polls `check` until it holds or 10 s pass.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    // Generous: on a debug build, with the suite running many servers at
    // once, a reload of the default mount's four APIs can take seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn meakin_template(pack: &PackCopy) -> PathBuf {
    pack.path("templates/patient/read-meakin.json.hbs")
}

#[tokio::test]
async fn template_edit_in_place_and_by_rename_is_served() {
    let pack = PackCopy::new();
    let server = pack.start(&[]);
    let before = health(&server).await;
    assert_eq!(before["status"], "ok");
    let generation = before["generation"].as_u64().expect("generation");

    std::fs::write(
        meakin_template(&pack),
        r#"{"resourceType": "Patient", "id": "2", "note": "edited in place"}"#,
    )
    .expect("write");
    eventually("the in-place edit is served", || async {
        get_patient(&server, "2").await.2["note"] == "edited in place"
    })
    .await;

    atomic_write(
        &meakin_template(&pack),
        r#"{"resourceType": "Patient", "id": "2", "note": "saved by rename"}"#,
    );
    eventually("the renamed file is served", || async {
        get_patient(&server, "2").await.2["note"] == "saved by rename"
    })
    .await;
    let after = health(&server).await;
    assert!(
        after["generation"].as_u64().expect("generation") >= generation + 2,
        "{after}"
    );
    assert!(server.logged("reloaded generation"), "{}", server.logs());
}

#[tokio::test]
async fn broken_scenario_keeps_old_behaviour_until_fixed() {
    let pack = PackCopy::new();
    let server = pack.start(&[]);
    let file = pack.path("scenarios/patient/read.yaml");
    let original = std::fs::read_to_string(&file).expect("read");

    // A YAML error on line 3 of the file.
    std::fs::write(
        &file,
        "operation: Patient_Read\nscenarios:\n  - name: [broken\n",
    )
    .expect("write");
    eventually("health reports the error", || async {
        health(&server).await["status"] == "degraded"
    })
    .await;
    let report = health(&server).await;
    let error = &report["last_reload_error"];
    assert!(
        error["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("scenarios/patient/read.yaml"),
        "{report}"
    );
    assert!(error["line"].as_u64().is_some(), "{report}");
    assert!(!error["message"].as_str().unwrap_or("").is_empty());
    assert!(
        server.logged("reload failed, still serving generation"),
        "{}",
        server.logs()
    );
    let (status, scenario, _) = get_patient(&server, "2").await;
    assert_eq!(
        (status, scenario.as_str()),
        (200, "patient-meakin"),
        "the old snapshot still serves"
    );

    // Fixed, with a change: patient 2 now answers 404.
    let fixed = original.replace("path: { id: \"2\" }", "path: { id: \"22\" }");
    std::fs::write(&file, fixed).expect("write");
    eventually("the fixed file loads", || async {
        health(&server).await["status"] == "ok"
    })
    .await;
    assert_eq!(get_patient(&server, "2").await.0, 404);
    assert_eq!(get_patient(&server, "22").await.1, "patient-meakin");
}

#[tokio::test]
async fn deleted_scenario_file_and_new_subdirectory_are_picked_up() {
    let pack = PackCopy::new();
    let server = pack.start(&[]);
    std::fs::remove_file(pack.path("scenarios/patient/read.yaml")).expect("delete");
    eventually("patient read falls back to the spec", || async {
        let response = gpc::request(
            &client(),
            Method::GET,
            &server.url("/fhir/Patient/2"),
            "Patient_Read",
        )
        .send()
        .await
        .expect("request");
        response.headers().get("x-mock-scenario").is_none()
            && response.headers().get("x-mock-source").is_some()
    })
    .await;

    std::fs::create_dir_all(pack.path("scenarios/extra/deeper")).expect("mkdir");
    std::fs::write(
        pack.path("scenarios/extra/deeper/read.yaml"),
        "operation: Patient_Read\nscenarios:\n  - name: from-new-dir\n    then:\n      status: 200\n      body: '{\"resourceType\": \"Patient\", \"id\": \"{{request.path_params.id}}\"}'\n",
    )
    .expect("write");
    eventually("a file in a new subdirectory loads", || async {
        get_patient(&server, "7").await.1 == "from-new-dir"
    })
    .await;
}

#[tokio::test]
async fn spec_replaced_by_rename_and_directory_recreated() {
    let pack = PackCopy::new();
    let server = pack.start(&[]);
    let spec = pack.path("spec/swagger.json");
    let text = std::fs::read_to_string(&spec).expect("read");
    let edited = text.replacen("\"/fhir/metadata\"", "\"/fhir/metadata2\"", 1);
    let staged = pack.path("spec/incoming.json");
    std::fs::write(&staged, edited).expect("write");
    std::fs::rename(&staged, &spec).expect("move onto the spec");
    eventually("the moved-in spec serves /fhir/metadata2", || async {
        let response = client()
            .get(server.url("/fhir/metadata2"))
            .send()
            .await
            .expect("request");
        response.headers().get("x-mock-operation").is_some()
    })
    .await;

    // Templates directory removed and recreated (e.g. `git checkout` of another branch).
    let templates = pack.path("templates");
    let saved = pack.path("templates-saved");
    std::fs::rename(&templates, &saved).expect("move away");
    eventually("the missing templates are reported", || async {
        health(&server).await["status"] == "degraded"
    })
    .await;
    std::fs::rename(&saved, &templates).expect("move back");
    eventually("the recreated directory loads", || async {
        health(&server).await["status"] == "ok"
    })
    .await;
    std::fs::write(
        meakin_template(&pack),
        r#"{"resourceType": "Patient", "id": "2", "note": "after recreate"}"#,
    )
    .expect("write");
    eventually("edits inside the recreated directory are seen", || async {
        get_patient(&server, "2").await.2["note"] == "after recreate"
    })
    .await;
}

#[tokio::test]
async fn forced_reload_and_no_watch() {
    let pack = PackCopy::new();
    let server = pack.start(&["--no-watch"]);
    std::fs::write(
        meakin_template(&pack),
        r#"{"resourceType": "Patient", "id": "2", "note": "forced"}"#,
    )
    .expect("write");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_ne!(
        get_patient(&server, "2").await.2["note"],
        "forced",
        "--no-watch does not reload by itself"
    );
    let response = client()
        .post(server.url("/__admin/reload"))
        .send()
        .await
        .expect("reload");
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.expect("json");
    assert_eq!(report["generation"], 2);
    assert_eq!(report["counts"]["operations"], 16);
    assert_eq!(get_patient(&server, "2").await.2["note"], "forced");

    std::fs::write(meakin_template(&pack), "{{#if}}").expect("write");
    let response = client()
        .post(server.url("/__admin/reload"))
        .send()
        .await
        .expect("reload");
    assert_eq!(response.status(), 422);
    let report: Value = response.json().await.expect("json");
    assert_eq!(report["status"], "degraded");
    assert_eq!(report["generation"], 2);
    assert!(
        report["last_reload_error"]["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("read-meakin.json.hbs"),
        "{report}"
    );
}

/// 8 clients hammer the server during 50 reloads: no failed request, and
/// every body is wholly the old or wholly the new version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_dropped_or_mixed_responses_during_50_reloads() {
    let pack = PackCopy::new();
    let server = Arc::new(pack.start(&[]));
    let version = |n: usize| {
        format!(
            r#"{{"resourceType": "Patient", "id": "2", "a": "v{n}", "padding": "{}", "b": "v{n}"}}"#,
            "x".repeat(2000)
        )
    };
    std::fs::write(meakin_template(&pack), version(0)).expect("write");
    eventually("version 0 served", || async {
        get_patient(&server, "2").await.2["a"] == "v0"
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (server, stop, served) = (server.clone(), stop.clone(), served.clone());
        clients.push(tokio::spawn(async move {
            let http = client();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match gpc::request(
                    &http,
                    Method::GET,
                    &server.url("/fhir/Patient/2"),
                    "Patient_Read",
                )
                .send()
                .await
                {
                    Ok(response) if response.status() == 200 => {
                        let text = response.text().await.unwrap_or_default();
                        match serde_json::from_str::<Value>(&text) {
                            Ok(body) if body["a"] == body["b"] && body["a"].is_string() => {
                                served.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(body) => {
                                failures.push(format!("mixed body a={} b={}", body["a"], body["b"]))
                            }
                            Err(error) => failures.push(format!(
                                "body {error}: {:?}",
                                text.chars().take(120).collect::<String>()
                            )),
                        }
                    }
                    Ok(response) => failures.push(format!("status {}", response.status())),
                    Err(error) => failures.push(format!("request: {error}")),
                }
            }
            failures
        }));
    }
    for n in 1..=50 {
        if n % 2 == 0 {
            atomic_write(&meakin_template(&pack), &version(n));
        } else {
            std::fs::write(meakin_template(&pack), version(n)).expect("write");
        }
        let expected = format!("v{n}");
        eventually("the new version is served", || async {
            get_patient(&server, "2").await.2["a"] == expected.as_str()
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for handle in clients {
        failures.extend(handle.await.expect("client task"));
    }
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(
        served.load(Ordering::Relaxed) > 100,
        "too few requests served: {}",
        served.load(Ordering::Relaxed)
    );
    let generation = health(&server).await["generation"].as_u64().unwrap_or(0);
    assert!(
        generation >= 51,
        "50 reloads happened: generation {generation}"
    );
}

/// A broken file in the 1.x pack degrades the 1.x API only: the DSTU2 API
/// keeps answering its own scenarios and takes an edit of its own pack;
/// health names the degraded API and its error; fixing the file brings the
/// 1.x API back.
#[tokio::test]
async fn a_broken_1x_pack_degrades_only_its_api() {
    // Arrange
    let checkout = checkout_copy();
    let server = Server::start_in(checkout.path(), &[]);
    let broken = checkout.path().join("scenarios/foundations/zz-broken.yaml");
    // Act: a YAML error in the 1.x pack, then an edit of the DSTU2 pack.
    std::fs::write(
        &broken,
        "operation: Patient_Read\nscenarios:\n  - name: [broken\n",
    )
    .expect("write");
    eventually("health reports the 1.x API degraded", || async {
        health(&server).await["status"] == "degraded"
    })
    .await;
    let dstu2_read = checkout.path().join("scenarios/dstu2/patient/read.yaml");
    let text = std::fs::read_to_string(&dstu2_read).expect("read");
    atomic_write(&dstu2_read, &text.replace("id: \"2\"", "id: \"22\""));
    eventually("the DSTU2 edit is served", || async {
        get_patient(&server, "22").await.1 == "patient-meakin"
    })
    .await;
    // Assert
    let report = health(&server).await;
    let apis = report["apis"].as_array().expect("apis");
    let status_of = |name: &str| {
        apis.iter()
            .find(|api| api["name"] == name)
            .map(|api| api["status"].clone())
    };
    assert_eq!(
        status_of("gpconnect-dstu2"),
        Some(Value::from("ok")),
        "{report}"
    );
    assert_eq!(
        status_of("gpconnect-foundations"),
        Some(Value::from("degraded")),
        "{report}"
    );
    assert!(
        report["last_reload_error"]["file"]
            .as_str()
            .is_some_and(|file| file.ends_with("scenarios/foundations/zz-broken.yaml")),
        "{report}"
    );
    assert!(
        server.logged("reload of API `gpconnect-foundations` failed"),
        "{}",
        server.logs()
    );
    let metadata =
        crate::gpc1::send(&server, Method::GET, "/metadata", "Metadata_Read", None).await;
    assert_eq!(
        metadata.status, 200,
        "the 1.x API serves its last good version"
    );
    // Fixing the file brings it back.
    std::fs::remove_file(&broken).expect("remove");
    eventually("health is ok again", || async {
        health(&server).await["status"] == "ok"
    })
    .await;
}

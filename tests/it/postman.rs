//! Issue: the Postman export — the `postman` subcommand and the
//! `/__admin/postman/*` endpoints of a running server.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::common::{client, run_cli, Server};
use crate::gpc;
use crate::reload::PackCopy;

const COLLECTION: &str = "gpconnect-mock.postman_collection.json";
const ENVIRONMENT: &str = "gpconnect-mock.postman_environment.json";

/// The collection's requests, in folders of any depth (a folder per API
/// when several are mounted, then per tag).
fn items(collection: &Value) -> Vec<Value> {
    fn leaves(folder: &Value, out: &mut Vec<Value>) {
        for item in folder["item"].as_array().into_iter().flatten() {
            if item.get("request").is_some() {
                out.push(item.clone());
            } else {
                leaves(item, out);
            }
        }
    }
    assert!(collection["item"].is_array(), "folders");
    let mut out = Vec::new();
    leaves(collection, &mut out);
    out
}

fn environment_values(environment: &Value) -> HashMap<String, String> {
    environment["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| {
            (
                v["key"].as_str().unwrap_or("").to_string(),
                v["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn get_json(server: &Server, path: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(path))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[test]
fn the_cli_writes_the_collection_and_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unrelated = dir.path().join("notes.json");
    std::fs::write(&unrelated, "mine").expect("write");
    let out = dir.path().display().to_string();
    let (code, stdout, stderr) = run_cli(&[
        "postman",
        "--api",
        "gpconnect-dstu2",
        "--out",
        &out,
        "--base-url",
        "http://127.0.0.1:1234",
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let collection_path = dir.path().join(COLLECTION);
    let environment_path = dir.path().join(ENVIRONMENT);
    assert!(
        stdout.contains(&format!("wrote {}", collection_path.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("wrote {}", environment_path.display())),
        "{stdout}"
    );
    let collection: Value =
        serde_json::from_str(&std::fs::read_to_string(&collection_path).expect("collection"))
            .expect("collection JSON");
    let environment: Value =
        serde_json::from_str(&std::fs::read_to_string(&environment_path).expect("environment"))
            .expect("environment JSON");
    assert_eq!(
        collection["info"]["schema"],
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    );
    let count = items(&collection).len();
    assert!(count > 40, "{count} requests");
    assert!(
        stdout.contains(&format!("postman: {count} requests in ")),
        "{stdout}"
    );
    // Every skipped scenario is named, with its file and line.
    let skipped = stdout
        .lines()
        .filter(|l| l.starts_with("skipped: "))
        .count();
    assert!(
        stdout.contains(&format!("{skipped} scenarios skipped")),
        "{stdout}"
    );
    let values = environment_values(&environment);
    assert_eq!(values["baseUrl"], "http://127.0.0.1:1234");
    assert_eq!(values["sspTo"], gpc::PROVIDER_ASID);
    assert_eq!(values["sspFrom"], gpc::CONSUMER_ASID);
    assert_eq!(std::fs::read_to_string(&unrelated).expect("kept"), "mine");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 3);

    // --out naming a file is refused, and the file is kept.
    let (code, _, stderr) = run_cli(&["postman", "--out", &unrelated.display().to_string()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("not a directory"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&unrelated).expect("kept"), "mine");
}

#[tokio::test]
async fn the_server_serves_the_export_of_its_current_files() {
    let pack = PackCopy::new();
    let server = pack.start(&[]);
    let (status, environment) = get_json(&server, "/__admin/postman/environment").await;
    assert_eq!(status, 200, "{environment}");
    assert_eq!(environment["_postman_variable_scope"], "environment");
    // baseUrl is this server, as the request's Host names it.
    assert_eq!(environment_values(&environment)["baseUrl"], server.base);

    let (status, collection) = get_json(&server, "/__admin/postman/collection").await;
    assert_eq!(status, 200, "{collection}");
    let names: Vec<String> = items(&collection)
        .iter()
        .filter_map(|i| i["name"].as_str().map(str::to_string))
        .collect();
    assert!(names.contains(&"Metadata_Metadata — conformance".to_string()));
    assert_eq!(
        items(&collection)[0]["request"]["url"]["host"][0],
        "{{baseUrl}}"
    );

    // A hot reload shows in the next export.
    let file = pack.path("scenarios/metadata/metadata.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace("- name: conformance", "- name: conformance-renamed"),
    )
    .expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, collection) = get_json(&server, "/__admin/postman/collection").await;
        let names: Vec<String> = items(&collection)
            .iter()
            .filter_map(|i| i["name"].as_str().map(str::to_string))
            .collect();
        if names.contains(&"Metadata_Metadata — conformance-renamed".to_string()) {
            assert!(!names.contains(&"Metadata_Metadata — conformance".to_string()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the export never showed the renamed scenario: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Exporting answers every scenario once, bookings included, but on a
/// state of its own: the server can still book the slot afterwards.
#[tokio::test]
async fn exporting_leaves_the_servers_state_alone() {
    let server = Server::start(&[]);
    let (status, collection) = get_json(&server, "/__admin/postman/collection").await;
    assert_eq!(status, 200);
    let (status, _) = get_json(&server, "/__admin/postman/collection").await;
    assert_eq!(status, 200);
    let booking = items(&collection)
        .into_iter()
        .find(|i| i["name"] == "Appointment_Create — appointment-booked")
        .expect("the booking request");
    let body = booking["request"]["body"]["raw"]
        .as_str()
        .expect("a body")
        .to_string();
    let response = gpc::request(
        &client(),
        Method::POST,
        &server.url("/fhir/Appointment"),
        "Appointment_Create",
    )
    .header("Content-Type", gpc::FHIR_JSON)
    .body(body)
    .send()
    .await
    .expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, 201, "{text}");
}

/// The collection's JWT script, run by node with a stand-in for Postman's
/// `pm`, makes a token the server accepts.
#[tokio::test]
#[cfg_attr(
    not(has_node),
    ignore = "needs node on PATH to run the collection's script"
)]
async fn a_token_from_the_collection_script_is_accepted() {
    // One API: the collection-level script and one set of variables.
    let server = Server::start(&["--api", "gpconnect-dstu2"]);
    let (_, collection) = get_json(&server, "/__admin/postman/collection").await;
    let (_, environment) = get_json(&server, "/__admin/postman/environment").await;
    let item = items(&collection)
        .into_iter()
        .find(|i| {
            i["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Patient_Read — "))
        })
        .expect("a Patient_Read request");
    let harness = r#"
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const vars = new Map(Object.entries(input.env));
const pm = { variables: { get: (k) => vars.get(k), set: (k, v) => { vars.set(k, String(v)); } } };
new Function('pm', input.collection.join('\n'))(pm);
new Function('pm', input.request.join('\n'))(pm);
process.stdout.write(vars.get('gpcJwt'));
"#;
    let input = serde_json::json!({
        "env": environment_values(&environment),
        "collection": collection["event"][0]["script"]["exec"],
        "request": item["event"][0]["script"]["exec"],
    });
    let mut child = Command::new("node")
        .arg("-e")
        .arg(harness)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("input");
    let output = child.wait_with_output().expect("node ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).expect("UTF-8 token");
    let path: Vec<&str> = item["request"]["url"]["path"]
        .as_array()
        .expect("path")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut request = client().get(server.url(&format!("/{}", path.join("/"))));
    for header in item["request"]["header"].as_array().expect("headers") {
        let key = header["key"].as_str().unwrap_or("");
        let value = match header["value"].as_str().unwrap_or("") {
            "Bearer {{gpcJwt}}" => format!("Bearer {token}"),
            "{{$guid}}" => uuid::Uuid::new_v4().to_string(),
            "{{sspFrom}}" => gpc::CONSUMER_ASID.to_string(),
            "{{sspTo}}" => gpc::PROVIDER_ASID.to_string(),
            other => other.to_string(),
        };
        request = request.header(key, value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(body["resourceType"], "Patient");
}

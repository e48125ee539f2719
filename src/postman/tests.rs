//! The export's tests: the collection and environment follow Postman's
//! formats, every selectable scenario appears once, the files are written
//! safely. (The script's tests, run by node, are in `script.rs`.)

use std::collections::{BTreeSet, HashMap};

use ::http::Method;
use serde::Serialize;
use serde_json::Value;

use super::items::url;
use super::*;
use crate::pack::PackDir;
use crate::sample::SyntheticRequest;
use crate::snapshot::{ApiSource, Origin, Settings, Sources};

/// The default definition and pack, with a state of its own.
pub(super) fn default_pack() -> Snapshot {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sources = Sources {
        apis: vec![ApiSource {
            name: "gpconnect-dstu2".into(),
            spec: crate::snapshot::Definition::default(),
            scenarios: Some(PackDir::Disk(root.join("scenarios/dstu2"))),
            templates: Some(PackDir::Disk(root.join("templates/dstu2"))),
            ..ApiSource::default()
        }],
        spine: Default::default(),
        origin: Origin::Given,
    };
    Snapshot::load(&sources, &Settings::default(), 1).expect("the default pack loads")
}

pub(super) fn as_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialises")
}

pub(super) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_else(|| panic!("not a string: {v}")))
        .map(str::to_string)
        .collect()
}

fn assert_event(event: &Value, listens: &[&str]) {
    let keys: BTreeSet<&str> = event
        .as_object()
        .expect("event object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["listen", "script"]), "{event}");
    let listen = event["listen"].as_str().expect("listen");
    assert!(listens.contains(&listen), "listen {listen}");
    assert_eq!(event["script"]["type"], "text/javascript");
    assert!(!strings(&event["script"]["exec"]).is_empty());
}

pub(super) fn all_items(collection: &Value) -> Vec<Value> {
    collection["item"]
        .as_array()
        .expect("folders")
        .iter()
        .flat_map(|folder| folder["item"].as_array().expect("items").clone())
        .collect()
}

#[test]
fn the_collection_follows_postman_collection_v2_1() {
    let snapshot = default_pack();
    let export = export(&snapshot, "http://127.0.0.1:8080");
    let collection = as_json(&export.collection);
    let top: BTreeSet<&str> = collection
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, BTreeSet::from(["info", "item", "event"]));
    assert_eq!(
        collection["info"]["schema"],
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    );
    assert_eq!(
        collection["info"]["name"],
        format!("{} (mock)", snapshot.apis[0].model.title)
    );
    assert!(collection["info"]["description"].is_string());
    let events = collection["event"].as_array().expect("collection events");
    assert_eq!(events.len(), 1);
    assert_event(&events[0], &["prerequest"]);

    let folders = collection["item"].as_array().expect("folders");
    // Folders come in the definition's order: metadata first, so the
    // first request reads nothing that a booking changes.
    assert_eq!(folders[0]["name"], "Metadata");
    assert_eq!(
        folders[0]["description"],
        "The provider's DSTU2 Conformance statement."
    );
    let names: Vec<&str> = folders.iter().filter_map(|f| f["name"].as_str()).collect();
    let unique: BTreeSet<&&str> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "one folder per tag: {names:?}");
    for folder in folders {
        assert!(folder["name"].is_string());
        assert!(!folder["item"].as_array().expect("items").is_empty());
        assert!(folder.get("request").is_none(), "a folder has no request");
    }
    let items = all_items(&collection);
    assert_eq!(items.len(), export.requests);
    for item in &items {
        let name = item["name"].as_str().expect("name");
        assert!(name.contains(" — "), "{name}");
        let request = &item["request"];
        let method = request["method"].as_str().expect("method");
        assert!(["GET", "POST", "PUT"].contains(&method), "{method}");
        assert!(request["description"].is_string());
        // Headers: key, value, type.
        let headers = request["header"].as_array().expect("header array");
        let header = |key: &str| -> Option<String> {
            headers
                .iter()
                .find(|h| {
                    h["key"]
                        .as_str()
                        .is_some_and(|k| k.eq_ignore_ascii_case(key))
                })
                .map(|h| h["value"].as_str().expect("value").to_string())
        };
        for h in headers {
            assert!(h["key"].is_string() && h["value"].is_string(), "{h}");
            assert_eq!(h["type"], "text");
        }
        assert_eq!(
            header("Ssp-TraceID").as_deref(),
            Some("{{$guid}}"),
            "{name}"
        );
        assert_eq!(header("Ssp-From").as_deref(), Some("{{sspFrom}}"));
        assert_eq!(header("Ssp-To").as_deref(), Some("{{sspTo}}"));
        assert_eq!(
            header("Authorization").as_deref(),
            Some("Bearer {{gpcJwt}}")
        );
        assert!(header("Ssp-InteractionID")
            .is_some_and(|id| id.starts_with("urn:nhs:names:services:gpconnect:fhir:")));
        assert_eq!(header("Accept").as_deref(), Some("application/json+fhir"));
        // URL: raw, host, path, query.
        let url = &request["url"];
        assert_eq!(strings(&url["host"]), vec!["{{baseUrl}}".to_string()]);
        let path = strings(&url["path"]);
        assert_eq!(path[0], "fhir", "{name}");
        let mut raw = format!("{{{{baseUrl}}}}/{}", path.join("/"));
        if let Some(query) = url.get("query") {
            let pairs: Vec<String> = query
                .as_array()
                .expect("query array")
                .iter()
                .map(|q| {
                    let keys: BTreeSet<&str> = q
                        .as_object()
                        .expect("param")
                        .keys()
                        .map(String::as_str)
                        .collect();
                    assert_eq!(keys, BTreeSet::from(["key", "value"]));
                    format!(
                        "{}={}",
                        q["key"].as_str().expect("key"),
                        q["value"].as_str().expect("value")
                    )
                })
                .collect();
            raw = format!("{raw}?{}", pairs.join("&"));
        }
        assert_eq!(url["raw"], raw.as_str());
        // Body: raw JSON, for the writes only.
        match request.get("body") {
            Some(body) => {
                assert_ne!(method, "GET");
                assert_eq!(body["mode"], "raw");
                assert_eq!(body["options"]["raw"]["language"], "json");
                let text = body["raw"].as_str().expect("raw text");
                serde_json::from_str::<Value>(text).expect("the raw body is JSON");
                assert!(header("Content-Type").is_some(), "{name}");
            }
            None => assert_eq!(method, "GET", "{name}"),
        }
        // Events: the scope, then the tests.
        let events = item["event"].as_array().expect("events");
        assert_eq!(events.len(), 2, "{name}");
        assert_event(&events[0], &["prerequest"]);
        assert_event(&events[1], &["test"]);
        let pre = strings(&events[0]["script"]["exec"]).join("\n");
        assert!(pre.contains("pm.variables.set('gpcScope', "), "{pre}");
        assert!(pre.contains("gpcMock.setJwt(pm);"), "{pre}");
        let tests = strings(&events[1]["script"]["exec"]).join("\n");
        assert!(tests.contains("pm.response.to.have.status("), "{tests}");
        assert!(tests.contains("pm.response.headers.get('X-Mock-Scenario')"));
    }
}

#[test]
fn every_selectable_scenario_appears_once() {
    let snapshot = default_pack();
    let export = export(&snapshot, DEFAULT_BASE_URL);
    let collection = as_json(&export.collection);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in all_items(&collection) {
        *seen
            .entry(item["name"].as_str().expect("name").to_string())
            .or_default() += 1;
    }
    for (index, operation) in snapshot.apis[0].model.operations.iter().enumerate() {
        for scenario in snapshot.apis[0].scenarios.for_operation(index) {
            let name = format!("{} — {}", operation.key, scenario.name);
            let skipped = export
                .skipped
                .iter()
                .filter(|s| s.operation == operation.key && s.scenario == scenario.name)
                .count();
            let listed = seen.get(&name).copied().unwrap_or(0);
            assert_eq!(
                listed + skipped,
                1,
                "{name}: {listed} requests, {skipped} skips"
            );
            // Only scenarios that depend on state can be out of reach
            // of a request built from `when`.
            if !snapshot.apis[0].scenarios.is_stateful(index) {
                assert_eq!(listed, 1, "{name} was skipped: {:?}", export.skipped);
            }
        }
    }
    assert_eq!(seen.len(), export.requests);
    assert_eq!(
        export.requests + export.skipped.len(),
        snapshot.apis[0].scenarios.count()
    );
    // The metadata request needs no state: it is first.
    let first = &all_items(&collection)[0];
    assert_eq!(first["name"], "Metadata_Metadata — conformance");
}

#[test]
fn tests_assert_status_scenario_and_resource_type() {
    let snapshot = default_pack();
    let export = export(&snapshot, DEFAULT_BASE_URL);
    let collection = as_json(&export.collection);
    let item = all_items(&collection)
        .into_iter()
        .find(|i| i["name"] == "Patient_Read — patient-meakin")
        .or_else(|| {
            all_items(&collection).into_iter().find(|i| {
                i["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("Patient_Read — "))
            })
        })
        .expect("a Patient_Read request");
    let tests = strings(&item["event"][1]["script"]["exec"]).join("\n");
    assert!(
        tests.contains("pm.response.to.have.status(200);"),
        "{tests}"
    );
    assert!(tests.contains(".to.eql(\"Patient\")"), "{tests}");
    let pre = strings(&item["event"][0]["script"]["exec"]).join("\n");
    assert!(
        pre.contains("pm.variables.set('gpcScope', \"patient/*.read\");"),
        "{pre}"
    );
    assert!(pre.contains("pm.variables.set('gpcNhsNumber', "), "{pre}");
    // Organisation-level DSTU2 calls send no NHS number.
    let metadata = &all_items(&collection)[0];
    let pre = strings(&metadata["event"][0]["script"]["exec"]).join("\n");
    assert!(pre.contains("\"organization/*.read\""), "{pre}");
    assert!(!pre.contains("gpcNhsNumber"), "{pre}");
}

#[test]
fn the_environment_follows_the_postman_format() {
    let snapshot = default_pack();
    let environment = as_json(&environment(&snapshot, "http://localhost:9000/"));
    let keys: BTreeSet<&str> = environment
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["id", "name", "values", "_postman_variable_scope"])
    );
    assert_eq!(environment["_postman_variable_scope"], "environment");
    assert!(environment["name"]
        .as_str()
        .is_some_and(|name| name.ends_with(" (mock)") && !name.starts_with("gpconnect-mock")));
    let values = environment["values"].as_array().expect("values");
    let mut map = HashMap::new();
    for value in values {
        assert_eq!(value["type"], "default");
        assert_eq!(value["enabled"], true);
        map.insert(
            value["key"].as_str().expect("key").to_string(),
            value["value"].as_str().expect("value").to_string(),
        );
    }
    assert_eq!(map["baseUrl"], "http://localhost:9000");
    assert_eq!(map["sspFrom"], "200000000359");
    assert_eq!(map["sspTo"], "918999198993");
    assert_eq!(map["gpcPractitionerId"], "1");
    assert_eq!(map["gpcOrganizationOdsCode"], "GPCA0001");
    assert_eq!(map["gpcRecordOdsCode"], "A20047");
    assert_eq!(map["gpcDeviceValue"], "gpconnect-mock");
}

#[test]
fn a_definition_without_a_profile_has_no_jwt_script() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sources = Sources {
        apis: vec![ApiSource {
            name: "clinic".into(),
            spec: crate::snapshot::Definition::Disk(
                root.join("tests/fixtures/specs/clinic-openapi3.yaml"),
            ),
            ..ApiSource::default()
        }],
        spine: Default::default(),
        origin: Origin::Given,
    };
    let snapshot = Snapshot::load(&sources, &Settings::default(), 1).expect("loads");
    let export = export(&snapshot, DEFAULT_BASE_URL);
    let collection = as_json(&export.collection);
    assert!(collection.get("event").is_none());
    assert_eq!(export.requests, 0);
    let environment = as_json(&export.environment);
    assert_eq!(environment["values"].as_array().map(Vec::len), Some(1));
}

#[test]
fn query_values_are_encoded_for_postman() {
    let request = SyntheticRequest {
        method: Method::GET,
        path: "/fhir/:x/Patient".into(),
        query: vec![
            ("identifier".into(), "http://x/nhs-number|9658218873".into()),
            ("q".into(), "a b&c+d{{e}}%".into()),
        ],
        headers: Vec::new(),
        body: None,
        content_type: None,
    };
    let url = url(&request, &super::items::Target::single());
    assert_eq!(url.path, vec!["fhir", "%3Ax", "Patient"]);
    assert_eq!(url.query[0].value, "http://x/nhs-number|9658218873");
    assert_eq!(url.query[1].value, "a%20b%26c%2Bd%7B%7Be%7D%7D%25");
    assert_eq!(
        url.raw,
        "{{baseUrl}}/fhir/%3Ax/Patient?identifier=http://x/nhs-number|9658218873&q=a%20b%26c%2Bd%7B%7Be%7D%7D%25"
    );
}

#[test]
fn base_url_comes_from_a_plain_host() {
    assert_eq!(
        base_url_from_host(Some("127.0.0.1:4000")),
        "http://127.0.0.1:4000"
    );
    assert_eq!(base_url_from_host(Some("mock.local")), "http://mock.local");
    assert_eq!(base_url_from_host(None), DEFAULT_BASE_URL);
    assert_eq!(base_url_from_host(Some("a b")), DEFAULT_BASE_URL);
    assert_eq!(base_url_from_host(Some("x/y")), DEFAULT_BASE_URL);
    assert_eq!(base_url_from_host(Some("user@evil")), DEFAULT_BASE_URL);
}

#[test]
fn write_puts_two_files_and_refuses_odd_targets() {
    let snapshot = default_pack();
    let export = export(&snapshot, DEFAULT_BASE_URL);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("new/sub");
    let [collection, environment] = write(&export, &out).expect("writes");
    assert_eq!(collection, out.join(COLLECTION_FILE));
    assert_eq!(environment, out.join(ENVIRONMENT_FILE));
    let text = std::fs::read_to_string(&collection).expect("collection written");
    let parsed: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(parsed["info"]["schema"], SCHEMA_URL);
    let files: Vec<_> = std::fs::read_dir(&out).expect("dir").collect();
    assert_eq!(files.len(), 2, "only the two files");

    let file = dir.path().join("a-file");
    std::fs::write(&file, "keep").expect("file");
    assert!(matches!(
        write(&export, &file),
        Err(PostmanError::NotADirectory { .. })
    ));
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), "keep");
    let blocked = dir.path().join("blocked");
    std::fs::create_dir_all(blocked.join(COLLECTION_FILE)).expect("dir in the way");
    assert!(matches!(
        write(&export, &blocked),
        Err(PostmanError::TargetIsDirectory { .. })
    ));
}

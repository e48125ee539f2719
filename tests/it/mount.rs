//! Several APIs in one server, from a mount file (`--mount`, `--api`):
//! each answers under its base path with its own provider ASID; a mount
//! file that cannot be meant is refused, naming the file, line and field.

use reqwest::Method;
use serde_json::Value;

use crate::common::{client, fixture, run_cli, Server};
use crate::gpc::{self, PROVIDER_ASID};

fn mount(name: &str) -> String {
    fixture(&format!("mount/{name}")).display().to_string()
}

/// Writes `text` as `apis.yaml` in a fresh directory, beside a copy of the
/// clinic definition (`clinic.yaml`).
fn mount_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::copy(
        fixture("specs/clinic-openapi3.yaml"),
        dir.path().join("clinic.yaml"),
    )
    .expect("copy");
    let path = dir.path().join("apis.yaml");
    std::fs::write(&path, text).expect("write");
    let path = path.display().to_string();
    (dir, path)
}

async fn metadata(server: &Server, base: &str, ssp_to: &str) -> (u16, String) {
    let mut request = client().request(Method::GET, server.url(&format!("{base}/metadata")));
    for (name, value) in gpc::headers("Metadata_Metadata", "9658218873") {
        let value = if name == "Ssp-To" {
            ssp_to.to_string()
        } else {
            value
        };
        request = request.header(name, value);
    }
    let response = request.send().await.expect("metadata");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn should_answer_each_api_under_its_base_path() {
    // Arrange
    let server = Server::start(&["--no-watch", "--mount", &mount("apis.yaml")]);
    // Act
    let (dstu2, _) = metadata(&server, "/fhir", PROVIDER_ASID).await;
    let clinic = client()
        .get(server.url("/clinic/health?depth=1"))
        .send()
        .await
        .expect("clinic");
    let moved = client()
        .get(server.url("/api/v1/health?depth=1"))
        .send()
        .await
        .expect("old path");
    let health: Value = client()
        .get(server.url("/__admin/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    // Assert
    assert!(
        server.banner().contains("the mount file"),
        "{}",
        server.banner()
    );
    assert_eq!(dstu2, 200);
    assert_eq!(
        clinic.status().as_u16(),
        204,
        "the clinic, at its base_path"
    );
    assert_eq!(
        moved.status().as_u16(),
        404,
        "the definition's own server path is replaced"
    );
    let apis = health["apis"].as_array().expect("apis");
    let named: Vec<(&str, &str)> = apis
        .iter()
        .map(|api| {
            (
                api["name"].as_str().unwrap_or(""),
                api["base_path"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(named, [("gpconnect-dstu2", "/fhir"), ("clinic", "/clinic")]);
    assert_eq!(apis[1]["ods_code"], "A20047");
}

#[tokio::test]
async fn should_serve_only_the_apis_named_by_api() {
    // Arrange
    let server = Server::start(&[
        "--no-watch",
        "--mount",
        &mount("apis.yaml"),
        "--api",
        "clinic",
    ]);
    // Act
    let clinic = client()
        .get(server.url("/clinic/health?depth=1"))
        .send()
        .await
        .expect("clinic");
    let (dstu2, _) = metadata(&server, "/fhir", PROVIDER_ASID).await;
    // Assert
    assert_eq!(clinic.status().as_u16(), 204);
    assert_eq!(dstu2, 404, "the DSTU2 API is not mounted");
}

#[test]
fn should_refuse_an_unknown_api_naming_the_known_ones() {
    let (code, _, stderr) = run_cli(&[
        "serve",
        "--port",
        "0",
        "--mount",
        &mount("apis.yaml"),
        "--api",
        "nope",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr
            .contains("--api nope: no such API; the mount file names `gpconnect-dstu2`, `clinic`"),
        "{stderr}"
    );
}

#[test]
fn should_refuse_overlapping_base_paths_naming_both() {
    let (_dir, path) = mount_file(
        "apis:\n  - name: first\n    spec: clinic.yaml\n  - name: second\n    spec: clinic.yaml\n    base_path: /api/v1/\n",
    );
    let (code, _, stderr) = run_cli(&["serve", "--port", "0", "--mount", &path]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("API `second` is mounted at `/api/v1`, which API `first`"),
        "{stderr}"
    );
}

#[test]
fn should_name_file_line_and_field_of_a_bad_mount_file() {
    let (_dir, path) = mount_file("apis:\n  - name: clinic\n    spec: clinic.yaml\n    era: r4\n");
    let (code, _, stderr) = run_cli(&["serve", "--port", "0", "--mount", &path]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("{path}:4:")), "{stderr}");
    assert!(stderr.contains("era"), "{stderr}");

    let (_dir, path) = mount_file("apis:\n  - name: clinic\n    spec: nowhere.yaml\n");
    let (code, _, stderr) = run_cli(&["check", "--mount", &path]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("{path}:3: apis[0].spec: ")) && stderr.contains("no such file"),
        "{stderr}"
    );
}

#[tokio::test]
async fn should_check_ssp_to_against_each_apis_own_asid() {
    // Arrange
    let server = Server::start(&["--no-watch", "--mount", &mount("practices.yaml")]);
    // Act
    let (one, _) = metadata(&server, "/fhir", PROVIDER_ASID).await;
    let (two_default, refusal) = metadata(&server, "/practice2/fhir", PROVIDER_ASID).await;
    let (two_own, _) = metadata(&server, "/practice2/fhir", "918999198738").await;
    let (one_other, _) = metadata(&server, "/fhir", "918999198738").await;
    // Assert
    assert_eq!(one, 200, "practice one keeps the --asid default");
    assert_ne!(two_default, 200, "practice two has an ASID of its own");
    assert!(refusal.contains("918999198738"), "{refusal}");
    assert_eq!(two_own, 200);
    assert_ne!(one_other, 200);
}

#[test]
fn should_group_routes_by_api() {
    let (code, stdout, stderr) = run_cli(&["routes", "--mount", &mount("apis.yaml")]);
    assert_eq!(code, 0, "{stderr}");
    let headers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(headers.len(), 2, "{stdout}");
    assert!(
        headers[0].starts_with("# gpconnect-dstu2 at /fhir ("),
        "{stdout}"
    );
    assert!(
        headers[1].starts_with("# clinic at /clinic (") && headers[1].ends_with(", ODS A20047)"),
        "{stdout}"
    );
    assert!(stdout.contains("GET     /clinic/health"), "{stdout}");
}

async fn sample(server: &Server, query: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(&format!("/__admin/sample-request?{query}")))
        .send()
        .await
        .expect("sample");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn should_build_sample_requests_for_the_api_named() {
    // Arrange
    let server = Server::start(&["--no-watch", "--mount", &mount("practices.yaml")]);
    // Act
    let (ambiguous, ambiguous_body) = sample(&server, "operation=Metadata_Metadata").await;
    let (unknown, unknown_body) = sample(&server, "api=nope&operation=Metadata_Metadata").await;
    let (status, two) = sample(&server, "api=practice-two&operation=Metadata_Metadata").await;
    // Assert
    assert_eq!(ambiguous, 400, "{ambiguous_body}");
    assert_eq!(
        ambiguous_body["apis"],
        serde_json::json!(["practice-one", "practice-two"])
    );
    assert_eq!(unknown, 400, "{unknown_body}");
    assert!(
        unknown_body["error"]
            .as_str()
            .is_some_and(|e| e.contains("`nope`") && e.contains("`practice-one`, `practice-two`")),
        "{unknown_body}"
    );
    assert_eq!(status, 200, "{two}");
    assert_eq!(two["api"], "practice-two");
    assert!(
        two["url"]
            .as_str()
            .is_some_and(|url| url.ends_with("/practice2/fhir/metadata")),
        "{two}"
    );
    assert_eq!(two["headers"]["Ssp-To"], "918999198738");
    // The request handed out is answered.
    let mut request = client().get(two["url"].as_str().unwrap_or_default());
    for (name, value) in two["headers"].as_object().expect("headers") {
        request = request.header(name.as_str(), value.as_str().unwrap_or(""));
    }
    let answered = request.send().await.expect("send");
    assert_eq!(answered.status().as_u16(), 200);
}

#[tokio::test]
async fn should_journal_which_api_answered() {
    // Arrange
    let server = Server::start(&["--no-watch", "--mount", &mount("apis.yaml")]);
    metadata(&server, "/fhir", PROVIDER_ASID).await;
    client()
        .get(server.url("/clinic/health?depth=1"))
        .send()
        .await
        .expect("clinic");
    // Act
    let all: Value = client()
        .get(server.url("/__admin/requests"))
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("json");
    let clinic: Value = client()
        .get(server.url("/__admin/requests?api=clinic"))
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("json");
    // Assert
    let apis: Vec<&str> = all["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter_map(|entry| entry["api"].as_str())
        .collect();
    assert_eq!(apis, ["clinic", "gpconnect-dstu2"], "newest first: {all}");
    assert_eq!(clinic["count"], 1, "{clinic}");
    assert_eq!(clinic["requests"][0]["path"], "/clinic/health?depth=1");
}

#[test]
fn should_check_each_api_or_the_one_named() {
    let (code, all, stderr) = run_cli(&["check", "--mount", &mount("apis.yaml")]);
    assert_eq!(code, 0, "{all}{stderr}");
    assert!(
        all.contains("check gpconnect-dstu2 at /fhir: 16 operations, ")
            && all.contains(
                "check clinic at /clinic: 6 operations, 1 scenarios: 0 errors, 5 warnings"
            ),
        "a summary line per API: {all}"
    );
    let (code, one, stderr) =
        run_cli(&["check", "--mount", &mount("apis.yaml"), "--api", "clinic"]);
    assert_eq!(code, 0, "{one}{stderr}");
    assert!(
        one.contains("check: 6 operations, 1 scenarios: 0 errors"),
        "{one}"
    );
    assert!(!one.contains("Order_Create"), "only the clinic: {one}");
}

#[test]
fn should_export_a_postman_folder_and_base_url_per_api() {
    let out = tempfile::tempdir().expect("temp");
    let out_text = out.path().display().to_string();
    let (code, stdout, stderr) = run_cli(&[
        "postman",
        "--mount",
        &mount("apis.yaml"),
        "--out",
        &out_text,
        "--base-url",
        "http://mock:9000",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let read = |file: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(out.path().join(file)).expect("written"))
            .expect("json")
    };
    let collection = read("gpconnect-mock.postman_collection.json");
    let environment = read("gpconnect-mock.postman_environment.json");
    let folders: Vec<&str> = collection["item"]
        .as_array()
        .expect("folders")
        .iter()
        .filter_map(|folder| folder["name"].as_str())
        .collect();
    assert_eq!(folders, ["gpconnect-dstu2", "clinic"]);
    let clinic_request = &collection["item"][1]["item"][0]["item"][0]["request"];
    assert_eq!(
        clinic_request["url"]["raw"], "{{baseUrl_clinic}}/health?depth=0",
        "{clinic_request}"
    );
    let dstu2 = &collection["item"][0];
    assert!(
        dstu2["event"][0]["listen"] == "prerequest",
        "the API's folder builds its JWT: {dstu2}"
    );
    let variables: std::collections::HashMap<&str, &str> = environment["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|v| Some((v["key"].as_str()?, v["value"].as_str()?)))
        .collect();
    assert_eq!(variables["baseUrl"], "http://mock:9000");
    assert_eq!(
        variables["baseUrl_gpconnect-dstu2"],
        "http://mock:9000/fhir"
    );
    assert_eq!(variables["baseUrl_clinic"], "http://mock:9000/clinic");
    assert_eq!(variables["sspTo_gpconnect-dstu2"], PROVIDER_ASID);
    assert!(
        !variables.contains_key("sspTo_clinic"),
        "not a GP Connect API"
    );
}

/// The published 1.x definition mounts beside the DSTU2 one, at its own
/// base path, with the ASID its mount entry gives.
#[tokio::test]
#[cfg_attr(
    not(has_shared_specs),
    ignore = "needs ../shared/specs/ beside the checkout (the published GP Connect definitions)"
)]
async fn should_mount_the_published_1_5_0_definition_beside_the_dstu2_one() {
    // Arrange
    let project = crate::common::project_dir();
    let published = crate::common::shared_spec("gpconnect-1.5.0-appointments.yaml");
    let (_dir, path) = mount_file(&format!(
        "apis:\n  - name: gpconnect-dstu2\n    spec: {}\n    scenarios: {}\n    templates: {}\n  - name: appointments-1.5.0\n    spec: {}\n    asid: \"918999198738\"\n    ods_code: B82617\n",
        project.join("downloads/swagger/swagger.json").display(),
        project.join("scenarios/dstu2").display(),
        project.join("templates/dstu2").display(),
        published.display(),
    ));
    let (code, routes, stderr) = run_cli(&["routes", "--mount", &path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        routes.contains("# appointments-1.5.0 at /B82617/STU3/1/gpconnect/fhir ("),
        "{routes}"
    );
    let server = Server::start(&["--no-watch", "--mount", &path]);
    // Act
    let (dstu2, _) = metadata(&server, "/fhir", PROVIDER_ASID).await;
    let (status, sample) =
        sample(&server, "api=appointments-1.5.0&operation=GET%20/metadata").await;
    assert_eq!(status, 200, "{sample}");
    let mut request = client().get(sample["url"].as_str().unwrap_or_default());
    for (name, value) in sample["headers"].as_object().expect("headers") {
        request = request.header(name.as_str(), value.as_str().unwrap_or(""));
    }
    let stu3 = request.send().await.expect("send");
    // Assert
    assert_eq!(dstu2, 200);
    assert_eq!(sample["headers"]["Ssp-To"], "918999198738");
    assert!(
        sample["url"]
            .as_str()
            .is_some_and(|url| url.ends_with("/B82617/STU3/1/gpconnect/fhir/metadata")),
        "{sample}"
    );
    assert_eq!(stu3.status().as_u16(), 200);
}

/// Sends the sample request `query` names; its status.
async fn send_sample(server: &Server, query: &str) -> u16 {
    let (status, sample) = sample(server, query).await;
    assert_eq!(status, 200, "{sample}");
    let method =
        Method::from_bytes(sample["method"].as_str().unwrap_or("GET").as_bytes()).expect("method");
    let mut request = client().request(method, sample["url"].as_str().unwrap_or_default());
    for (name, value) in sample["headers"].as_object().expect("headers") {
        request = request.header(name.as_str(), value.as_str().unwrap_or(""));
    }
    if let Some(body) = sample.get("body").filter(|body| !body.is_null()) {
        let text = body
            .as_str()
            .map_or_else(|| body.to_string(), str::to_string);
        request = request.body(text);
    }
    request.send().await.expect("send").status().as_u16()
}

async fn appointments(server: &Server, api: &str) -> usize {
    let state: Value = client()
        .get(server.url(&format!("/__admin/state/appointments?api={api}")))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert_eq!(state["api"], api, "{state}");
    state["count"].as_u64().expect("count") as usize
}

/// Two APIs that name the same collections keep them apart: a booking at
/// one practice is not seen by the other, and reset puts both back.
#[tokio::test]
async fn should_keep_a_booking_state_per_api() {
    // Arrange
    let server = Server::start(&["--no-watch", "--mount", &mount("twins.yaml")]);
    let before = appointments(&server, "practice-two").await;
    assert_eq!(appointments(&server, "practice-one").await, before);
    // Act
    let booked = send_sample(
        &server,
        "api=practice-one&operation=Appointment_Create&scenario=appointment-booked",
    )
    .await;
    // Assert
    assert_eq!(booked, 201);
    assert_eq!(appointments(&server, "practice-one").await, before + 1);
    assert_eq!(
        appointments(&server, "practice-two").await,
        before,
        "practice two's state is its own"
    );
    let reset: Value = client()
        .post(server.url("/__admin/reset"))
        .send()
        .await
        .expect("reset")
        .json()
        .await
        .expect("json");
    assert_eq!(
        reset["apis"]["practice-one"]["collections"]["appointments"],
        before
    );
    assert_eq!(appointments(&server, "practice-one").await, before);
}

/// Definitions in the shape of the published Access Record Structured and
/// Access Document Swaggers (Swagger 2.0 YAML, no operationIds, untyped
/// bodies; fixtures written for this project) load and mount beside the
/// project's own Foundations API: they answer from the definition, and the
/// 1.x contract checks their requests, the structured record's parameter
/// rules included.
#[tokio::test]
async fn published_structured_and_documents_definitions_mount_and_are_checked() {
    use crate::gpc1::{self, DOCUMENTS_BASE, STRUCTURED_BASE};
    let server = Server::start(&["--no-watch", "--mount", &mount("published.yaml")]);
    let client = client();
    let body = serde_json::json!({"resourceType": "Parameters", "parameter": [
        {"name": "patientNHSNumber", "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9690937286"}},
        {"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueBoolean": false}]}
    ]});
    let path = "/Patient/$gpc.getstructuredrecord";
    let post = |body: Value, operation: &str| {
        gpc1::request_to(
            &client,
            Method::POST,
            &server,
            STRUCTURED_BASE,
            path,
            operation,
        )
        .header("Content-Type", "application/fhir+json")
        .body(body.to_string())
        .send()
    };
    // The definition has no example or schema for its 200: an empty body.
    let ok = post(body.clone(), "Structured_GetStructuredRecord")
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-mock-source"], "empty");
    // The structured record's rules: no includeResolvedAllergies is 422.
    let mut broken = body.clone();
    broken["parameter"][1] = serde_json::json!({"name": "includeAllergies"});
    let refused = post(broken, "Structured_GetStructuredRecord")
        .await
        .expect("send");
    assert_eq!(refused.status(), 422);
    let refused: Value = refused.json().await.expect("json");
    assert_eq!(gpc1::spine_code(&refused), "INVALID_PARAMETER", "{refused}");
    // An interaction of another capability is refused on this root.
    let wrong = post(body, "Documents_Binary_Read").await.expect("send");
    assert_eq!(wrong.status(), 400);
    let binary = gpc1::request_to(
        &client,
        Method::GET,
        &server,
        DOCUMENTS_BASE,
        "/Binary/1",
        "Documents_Binary_Read",
    )
    .send()
    .await
    .expect("send");
    assert_eq!(binary.status(), 200);
    // The project's own Foundations API beside them answers from its pack.
    let patient = gpc1::send(&server, Method::GET, "/Patient/2", "Patient_Read", None).await;
    assert_eq!(patient.status, 200, "{}", patient.body);
    assert_eq!(patient.body["resourceType"], "Patient");
}

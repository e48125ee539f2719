//! Issue: load any definition and serve a route for every operation.

use crate::common::{client, concrete_path, fixture, run_cli, shared_spec, Server};
use gpconnect_mock::spec;
use serde_json::Value;

/// Every operation of the definition answers a request built from its path,
/// naming itself in `X-Mock-Operation`.
async fn every_operation_answers(spec_path: Option<&std::path::Path>, expected_count: usize) {
    let model = match spec_path {
        Some(path) => spec::load_file(path).expect("spec loads"),
        None => spec::load_str(gpconnect_mock::snapshot::EMBEDDED_SPEC, "embedded")
            .expect("embedded spec loads"),
    };
    assert_eq!(model.operations.len(), expected_count);
    let path_arg = spec_path.map(|p| p.display().to_string());
    // Routing only: these requests carry no GP Connect headers.
    let args: Vec<&str> = match &path_arg {
        Some(p) => vec!["--spec", p.as_str(), "--contract", "off"],
        None => vec![
            "--api",
            "gpconnect-dstu2",
            "--scenarios",
            "tests/fixtures/empty",
            "--templates",
            "tests/fixtures/empty",
            "--contract",
            "off",
        ],
    };
    let server = Server::start(&args);
    let http = client();
    for op in &model.operations {
        let url = server.url(&concrete_path(&op.full_path));
        let response = http
            .request(op.method.clone(), &url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {url}: {e}", op.method));
        assert_eq!(
            response
                .headers()
                .get("x-mock-operation")
                .and_then(|v| v.to_str().ok()),
            Some(op.key.as_str()),
            "{} {url} answered {}",
            op.method,
            response.status()
        );
        assert!(
            response.status().is_success(),
            "{} {url}: {}",
            op.method,
            response.status()
        );
    }
}

#[tokio::test]
async fn default_definition_serves_all_16_operations() {
    every_operation_answers(None, 16).await;
}

#[tokio::test]
#[cfg_attr(
    not(has_shared_specs),
    ignore = "needs ../shared/specs/ beside the checkout (the published GP Connect definitions)"
)]
async fn published_gp_connect_definition_serves_all_15_operations() {
    let path = shared_spec("gpconnect-swagger.json");
    every_operation_answers(Some(&path), 15).await;
}

#[tokio::test]
#[cfg_attr(
    not(has_shared_specs),
    ignore = "needs ../shared/specs/ beside the checkout (the published GP Connect definitions)"
)]
async fn appointments_1_5_0_definition_serves_14_operations_under_its_base_path() {
    let path = shared_spec("gpconnect-1.5.0-appointments.yaml");
    let model = spec::load_file(&path).expect("loads");
    assert!(model
        .operations
        .iter()
        .all(|op| op.full_path.starts_with("/B82617/STU3/1/gpconnect/fhir/")));
    every_operation_answers(Some(&path), 14).await;
}

#[tokio::test]
async fn routing_cases_of_openapi3_and_swagger2_fixtures() {
    for (file, prefix) in [
        ("specs/clinic-openapi3.yaml", "/api/v1"),
        ("specs/clinic-swagger2.json", "/api/v2"),
    ] {
        let spec_path = fixture(file).display().to_string();
        let server = Server::start(&["--spec", &spec_path]);
        let http = client();
        let get = |path: String| {
            let http = http.clone();
            let url = server.url(&path);
            async move { http.get(url).send().await.expect("request") }
        };
        let op = |r: &reqwest::Response| {
            r.headers()
                .get("x-mock-operation")
                .map(|v| v.to_str().unwrap_or("").to_string())
        };

        // Deep path parameters, percent-decoding, trailing slash.
        let r = get(format!("{prefix}/clinics/c%2001/rooms/r2/bookings/")).await;
        assert_eq!(op(&r).as_deref(), Some("listBookings"), "{file}");
        // The literal `$gpc.getcarerecord` beats `{id}` at the same depth.
        let r = client()
            .post(server.url(&format!("{prefix}/Patient/$gpc.getcarerecord")))
            .send()
            .await
            .expect("post");
        assert_eq!(op(&r).as_deref(), Some("getCareRecord"), "{file}");
        assert_eq!(r.headers()["x-mock-source"], "example");
        let r = get(format!("{prefix}/Patient/2")).await;
        assert_eq!(op(&r).as_deref(), Some("readPatient"), "{file}");
        // A parameter with a literal suffix in one segment.
        let r = get(format!("{prefix}/reports/jan.json")).await;
        assert_eq!(op(&r).as_deref(), Some("getReport"), "{file}");
        assert_eq!(r.headers()["x-mock-source"], "schema");
        let r = get(format!("{prefix}/reports/jan.xml")).await;
        assert_eq!(r.status(), 404, "{file}");
        // Unknown path: 404 naming the nearest path (problem+json: not FHIR).
        let r = get(format!("{prefix}/clinic")).await;
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body: Value = r.json().await.expect("json");
        let diagnostics = body["detail"].as_str().unwrap_or("");
        assert!(diagnostics.contains("nearest path"), "{diagnostics}");
        // Wrong method: 405 with Allow.
        let r = client()
            .delete(server.url(&format!("{prefix}/clinics/abc/rooms/1/bookings")))
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), 405);
        let allow = r.headers()["allow"].to_str().unwrap_or("").to_string();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["status"], 405);
        // Without the prefix, nothing is served.
        assert_eq!(
            get("/clinics/c1/rooms/r2/bookings".into()).await.status(),
            404
        );
    }
}

#[test]
fn swagger2_conversion_keeps_refs_bodies_forms_and_path_parameters() {
    let model = spec::load_file(&fixture("specs/clinic-swagger2.json")).expect("loads");
    let create = model.operation("createBooking").expect("createBooking");
    let body = create
        .request_body
        .as_ref()
        .expect("body param became a requestBody");
    assert!(body.required);
    assert_eq!(body.content[0].media_type, "application/json");
    let list = model.operation("listBookings").expect("listBookings");
    let names: Vec<&str> = list.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["status", "clinicId", "roomId"],
        "path-level parameters are inherited"
    );
    assert!(list.params[0].explode, "collectionFormat multi explodes");
    assert_eq!(
        list.params[1].schema["minLength"], 3,
        "the $ref'd parameter is resolved"
    );
    let not_found = list.response_for(404).expect("404 from #/responses");
    assert_eq!(
        not_found.content[0].schema.as_ref().expect("schema")["$ref"],
        "#/components/schemas/Problem"
    );
    let upload = model
        .operation("POST /upload")
        .expect("key falls back to METHOD /path");
    let form = upload
        .request_body
        .as_ref()
        .expect("formData became a requestBody");
    assert_eq!(form.content[0].media_type, "multipart/form-data");
    let patient = model.operation("readPatient").expect("readPatient");
    assert_eq!(patient.params[0].schema["format"], "int32");
}

/// Generated bodies validate against their own schema.
#[test]
fn generated_bodies_validate_against_their_schema() {
    for file in ["specs/clinic-openapi3.yaml", "specs/clinic-swagger2.json"] {
        let model = spec::load_file(&fixture(file)).expect("loads");
        let mut checked = 0;
        for op in &model.operations {
            let Some(media) = op
                .responses
                .iter()
                .find(|r| r.status.is_success())
                .and_then(|r| r.content.first())
            else {
                continue;
            };
            let Some(schema) = &media.schema else {
                continue;
            };
            if media.example.is_some() {
                continue;
            }
            let instance = spec::schema::minimal_instance(schema, &model.schema_root);
            let mut root = (*model.schema_root).clone();
            root["allOf"] = serde_json::json!([schema]);
            let validator = jsonschema::draft4::new(&root).expect("schema compiles");
            let errors: Vec<String> = validator
                .iter_errors(&instance)
                .map(|e| format!("{}: {e}", e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "{file} {}: {instance} → {errors:?}",
                op.key
            );
            checked += 1;
        }
        assert!(
            checked >= 3,
            "{file}: only {checked} generated bodies checked"
        );
    }
}

#[test]
fn broken_definitions_are_reported_one_by_one_with_exit_2() {
    let cases: &[(&str, &[&str])] = &[
        ("json-syntax.json", &["json-syntax.json:4:", "JSON syntax error at column"]),
        ("yaml-syntax.yaml", &["yaml-syntax.yaml:", "YAML syntax error"]),
        ("not-a-spec.json", &["not an API definition", "no `swagger` or `openapi` version field"]),
        ("openapi-31.yaml", &["unsupported OpenAPI version `3.1.0`"]),
        (
            "refs-and-duplicates.yaml",
            &[
                "4 errors",
                "$ref `#/components/schemas/Missing` (used by operation sameId) points nowhere",
                "$ref `#/components/parameters/Nowhere` (used by operation sameId) points nowhere",
                "$ref `#/components/schemas/AlsoMissing` (used by components.schemas.Thing) points nowhere",
                "duplicate operationId `sameId`: used by GET /a and GET /b",
            ],
        ),
        ("does-not-exist.json", &["no such file"]),
    ];
    for (file, expected) in cases {
        let path = fixture(&format!("specs/broken/{file}"))
            .display()
            .to_string();
        for command in ["routes", "serve"] {
            let (code, _, stderr) = run_cli(
                &[command, "--spec", &path, "--port", "0"]
                    [..if command == "routes" { 3 } else { 5 }],
            );
            assert_eq!(code, 2, "{command} {file}: {stderr}");
            for needle in *expected {
                assert!(
                    stderr.contains(needle),
                    "{command} {file}: expected {needle:?} in:\n{stderr}"
                );
            }
        }
    }
}

#[test]
fn routes_prints_method_full_path_key_and_codes() {
    let (code, stdout, stderr) = run_cli(&["routes", "--api", "gpconnect-dstu2"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        17,
        "a header line and 16 operations"
    );
    assert!(
        stdout.starts_with("# gpconnect-dstu2 at /fhir ("),
        "the API's header line: {stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("PatientOperation_GetCareRecord"))
        .expect("getcarerecord listed");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &fields[..3],
        &[
            "POST",
            "/fhir/Patient/$gpc.getcarerecord",
            "PatientOperation_GetCareRecord"
        ]
    );
    assert!(
        fields[3..].contains(&"200") && fields[3..].contains(&"422"),
        "{line}"
    );
}

#[test]
#[cfg_attr(
    not(has_shared_specs),
    ignore = "needs ../shared/specs/ beside the checkout (the published GP Connect definitions)"
)]
fn routes_lists_the_1_5_0_definition_under_its_base_path() {
    let path = shared_spec("gpconnect-1.5.0-appointments.yaml");
    let (code, stdout, _) = run_cli(&["routes", "--spec", &path.display().to_string()]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("GET     /B82617/STU3/1/gpconnect/fhir/metadata"),
        "{stdout}"
    );
}

/// The threads of a process named like tokio's workers (Linux only).
fn worker_threads_of(pid: u32) -> Option<usize> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    Some(
        tasks
            .filter_map(Result::ok)
            .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
            // "tokio-rt-worker" now, "tokio-runtime-worker" before 1.44.
            .filter(|name| {
                name.starts_with("tokio-rt-worker") || name.starts_with("tokio-runtime-w")
            })
            .count(),
    )
}

#[tokio::test]
async fn workers_flag_sets_the_threads_answering_requests() {
    let server = Server::start(&["--no-watch", "--workers", "3"]);
    assert!(
        server.banner().contains("; 3 worker threads)"),
        "{}",
        server.banner()
    );
    let response = client()
        .get(server.url("/__admin/health"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    match worker_threads_of(server.pid()) {
        Some(count) => assert_eq!(count, 3),
        None => println!("skipped the thread count: no /proc here"),
    }
    let default = Server::start(&["--no-watch"]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let expected = (cores / 2).max(1);
    assert!(
        default
            .banner()
            .contains(&format!("; {expected} worker thread")),
        "{cores} cores: {}",
        default.banner()
    );
}

#[test]
fn zero_workers_is_refused_naming_the_flag() {
    let (code, _, stderr) = run_cli(&["serve", "--workers", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--workers"), "{stderr}");
}

/// `routes | head -1`: a reader that goes away ends the command quietly,
/// with no panic on the broken pipe. The read end closes before the command
/// has loaded anything, so its first write meets the closed pipe.
#[test]
fn a_closed_pipe_ends_routes_quietly() {
    let mut child = std::process::Command::new(crate::common::binary())
        .arg("routes")
        .current_dir(crate::common::project_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("exit");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
}

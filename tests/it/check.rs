//! Issue: `gpconnect-mock check` proves a scenario pack against the spec.

use serde_json::Value;

use crate::common::{fixture, run_cli};

fn check_pack(pack: &str, format: &str) -> (i32, String, String) {
    let dir = fixture(&format!("check/{pack}"));
    let scenarios = dir.join("scenarios").display().to_string();
    let templates = dir.join("templates").display().to_string();
    run_cli(&[
        "check",
        "--api",
        "gpconnect-dstu2",
        "--scenarios",
        &scenarios,
        "--templates",
        &templates,
        "--format",
        format,
    ])
}

fn findings(pack: &str) -> Vec<Value> {
    let (code, stdout, stderr) = check_pack(pack, "json");
    assert!(code == 0 || code == 1, "{pack}: exit {code}: {stderr}");
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{pack}: not JSON ({e}): {stdout}"));
    report["findings"].as_array().cloned().unwrap_or_default()
}

/// One broken pack per kind of finding: severity, file, line, scenario,
/// pointer and message.
#[test]
fn each_kind_of_finding_names_file_line_and_pointer() {
    let cases: &[(&str, &str, u64, &str, &str, &str)] = &[
        (
            "undeclared-status",
            "scenarios/read.yaml",
            4,
            "teapot",
            "",
            "status 418 is not declared for Patient_Read; declared: 200, 400, 403, 404, 415, 500",
        ),
        (
            "invalid-json",
            "scenarios/read.yaml",
            3,
            "broken-json",
            "",
            "answers 500 instead of 200: scenario `broken-json`",
        ),
        (
            "schema-violation",
            "scenarios/read.yaml",
            3,
            "family-not-array",
            "/name/0/family",
            "does not match the response schema: \"MEAKIN\" is not of type \"array\"",
        ),
        (
            "content-type",
            "scenarios/read.yaml",
            3,
            "wrong-media-type",
            "",
            "Content-Type `application/json` is not among the declared application/json+fhir",
        ),
        (
            "missing-resource-type",
            "scenarios/read.yaml",
            3,
            "no-resource-type",
            "/resourceType",
            "a FHIR body has a `resourceType`",
        ),
        (
            "bundle-entry",
            "scenarios/search.yaml",
            3,
            "entry-without-resource-type",
            "/entry/1/resource",
            "each Bundle entry has a resource with a `resourceType`",
        ),
        (
            "error-not-outcome",
            "scenarios/read.yaml",
            3,
            "not-found-as-practitioner",
            "/resourceType",
            "a 404 answer is an OperationOutcome, not Practitioner",
        ),
        (
            "wrong-resource-type",
            "scenarios/read.yaml",
            3,
            "answers-a-location",
            "/resourceType",
            "Organization_Read answers Organization, not Location",
        ),
        (
            "primitive-types",
            "scenarios/read.yaml",
            3,
            "birth-date-as-written-on-a-form",
            "/birthDate",
            "Patient.birthDate is a FHIR date: expected YYYY, YYYY-MM or YYYY-MM-DD, found \"12/03/1950\"",
        ),
        (
            "shadowed",
            "scenarios/read.yaml",
            11,
            "location-one",
            "",
            "shadowed by `any-location`",
        ),
        (
            "rejected-by-checks",
            "scenarios/search.yaml",
            4,
            "bad-check-digit",
            "",
            "is rejected by the request checks (400 Bad Request)",
        ),
    ];
    for (pack, file, line, scenario, pointer, message) in cases {
        let all = findings(pack);
        let found = all.iter().find(|f| {
            f["severity"] == "error" && f["message"].as_str().unwrap_or("").contains(message)
        });
        let Some(found) = found else {
            panic!("{pack}: no error containing {message:?} in {all:#?}");
        };
        assert!(
            found["file"]
                .as_str()
                .unwrap_or("")
                .ends_with(&format!("check/{pack}/{file}")),
            "{pack}: {found}"
        );
        assert_eq!(found["line"], *line, "{pack}: {found}");
        assert_eq!(found["scenario"], *scenario, "{pack}: {found}");
        if !pointer.is_empty() {
            assert_eq!(found["pointer"], *pointer, "{pack}: {found}");
        }
        let (code, stdout, _) = check_pack(pack, "human");
        assert_eq!(code, 1, "{pack}: errors exit 1");
        assert!(
            stdout.contains(&format!("{file}:{line}: ")),
            "{pack}: human report names file:line:\n{stdout}"
        );
    }
}

#[test]
fn coverage_warnings_for_missing_scenarios_and_unproduced_statuses() {
    let all = findings("coverage");
    let warning = |needle: &str| {
        all.iter().any(|f| {
            f["severity"] == "warning" && f["message"].as_str().unwrap_or("").contains(needle)
        })
    };
    assert!(
        warning("no scenario: this operation answers from the spec only"),
        "{all:#?}"
    );
    let unproduced = all
        .iter()
        .find(|f| {
            f["operation"] == "Patient_Read"
                && f["message"] == "declared response 404 is produced by no scenario"
        })
        .unwrap_or_else(|| panic!("{all:#?}"));
    assert!(unproduced["file"]
        .as_str()
        .unwrap_or("")
        .ends_with("check/coverage/scenarios/read.yaml"));
    let (code, _, _) = check_pack("coverage", "human");
    assert_eq!(code, 0, "warnings alone exit 0");
}

#[test]
fn default_pack_has_no_errors_and_load_failures_exit_2() {
    let (code, stdout, stderr) = run_cli(&["check"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains(": 0 errors"), "{stdout}");
    let (code, stdout, _) = run_cli(&["check", "--format", "json"]);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&stdout).expect("json report");
    assert_eq!(report["errors"], 0);
    assert!(report["scenarios"].as_u64().unwrap_or(0) >= 40);
    let (code, _, stderr) = run_cli(&[
        "check",
        "--api",
        "gpconnect-dstu2",
        "--scenarios",
        &fixture("packs/load-errors/scenarios").display().to_string(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot load"), "{stderr}");
}

/// `serve --validate-responses` checks live answers and says what is wrong.
#[tokio::test]
async fn live_response_validation_adds_violation_headers() {
    let dir = fixture("check/schema-violation");
    let scenarios = dir.join("scenarios").display().to_string();
    let templates = dir.join("templates").display().to_string();
    for validate in [true, false] {
        let mut args = vec![
            "--api",
            "gpconnect-dstu2",
            "--scenarios",
            scenarios.as_str(),
            "--templates",
            templates.as_str(),
        ];
        if validate {
            args.push("--validate-responses");
        }
        let server = crate::common::Server::start(&args);
        let response = crate::gpc::request(
            &crate::common::client(),
            reqwest::Method::GET,
            &server.url("/fhir/Patient/2"),
            "Patient_Read",
        )
        .send()
        .await
        .expect("request");
        assert_eq!(response.status(), 200, "the answer is still served");
        let violations: Vec<String> = response
            .headers()
            .get_all("x-contract-violation")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        if validate {
            assert!(
                violations
                    .iter()
                    .any(|v| v.starts_with("/name/0/family: does not match the response schema")),
                "{violations:?}"
            );
            assert!(server.logged("response violates the definition"), "logged");
        } else {
            assert!(violations.is_empty(), "{violations:?}");
        }
    }
}

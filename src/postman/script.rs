//! The collection's pre-request script and the environment it reads.
//!
//! The script (`collection.js`, DOMAIN.md §4) builds the GP Connect JWT at
//! send time from the environment's identity variables; the era's values
//! are filled into its marked placeholders at export. The environment
//! holds `baseUrl`, the SSP ASIDs and those identity variables, with the
//! same defaults as the sample requests' JWTs ([`JwtIdentity`]).

use serde_json::{json, Value};

use super::items::{js_string, Target};
use super::model::{Environment, EnvironmentValue};
use super::{CONSUMER_ASID, ENVIRONMENT_ID};
use crate::contract::Profile;
use crate::fhir::Era;
use crate::sample::{self, JwtIdentity};
use crate::snapshot::Snapshot;

/// The identity variables of the environment and their values: what the
/// JWT claims (the same defaults as the sample requests' JWTs).
pub fn identity_values(era: Era) -> Vec<(&'static str, String)> {
    let id = JwtIdentity::default();
    let mut values = vec![
        ("gpcIss", id.iss),
        ("gpcAud", id.aud),
        ("gpcPractitionerId", id.practitioner_id),
        ("gpcPractitionerSdsUserId", id.practitioner_sds_user_id),
        ("gpcPractitionerFamily", id.practitioner_family),
        ("gpcPractitionerGiven", id.practitioner_given),
        ("gpcPractitionerPrefix", id.practitioner_prefix),
        ("gpcOrganizationOdsCode", id.organization_ods_code),
        ("gpcOrganizationName", id.organization_name),
        ("gpcDeviceId", id.device_id),
        ("gpcDeviceSystem", id.device_system),
        ("gpcDeviceValue", id.device_value),
        ("gpcDeviceModel", id.device_model),
        ("gpcDeviceVersion", id.device_version),
    ];
    if era == Era::Dstu2 {
        values.push(("gpcPractitionerJobRole", id.practitioner_job_role));
        values.push(("gpcRecordOdsCode", sample::RECORD_ODS_CODE.to_string()));
        values.push(("gpcNhsNumber", "9658218873".to_string()));
    }
    values
}

/// The environment of `snapshot`'s collection: `baseUrl`, the server;
/// for GP Connect APIs `sspFrom`, `sspTo` and the JWT's identity
/// variables. With several APIs, each has `baseUrl_<name>` (the server and
/// its base path) and, for GP Connect, `sspTo_<name>` (its ASID).
pub fn environment(snapshot: &Snapshot, base_url: &str) -> Environment {
    let value = |key: &str, value: String| EnvironmentValue {
        key: key.to_string(),
        value,
        kind: "default".to_string(),
        enabled: true,
    };
    let base_url = base_url.trim_end_matches('/');
    let mut values = vec![value("baseUrl", base_url.to_string())];
    let mut identity: Vec<(&str, String)> = Vec::new();
    for api in &snapshot.apis {
        let target = Target::of(snapshot, api);
        if target.base_url != "baseUrl" {
            values.push(value(
                &target.base_url,
                format!("{base_url}{}", api.base_path),
            ));
        }
        if let Profile::GpConnect(era) = api.contract.profile() {
            if !values.iter().any(|v| v.key == "sspFrom") {
                values.push(value("sspFrom", CONSUMER_ASID.to_string()));
            }
            values.push(value(&target.ssp_to, api.contract.asid().to_string()));
            for (key, default) in identity_values(era) {
                if !identity.iter().any(|(known, _)| *known == key) {
                    identity.push((key, default));
                }
            }
        }
    }
    values.extend(
        identity
            .into_iter()
            .map(|(key, default)| value(key, default)),
    );
    Environment {
        id: ENVIRONMENT_ID.to_string(),
        name: super::export_name(&snapshot.apis[0].model.title),
        values,
        scope: "environment".to_string(),
    }
}

/// The collection-level pre-request script for `era`: defines the global
/// `gpcMock` (base64url, claims, jwt, setJwt) and builds a first token.
/// It is `collection.js` with its placeholders filled in (JSON literals).
pub fn collection_script(era: Era) -> String {
    let (nhs, ods, sds) = sample::jwt_systems(era);
    let systems = json!({"nhs": nhs, "ods": ods, "sds": sds});
    let defaults: serde_json::Map<String, Value> = identity_values(era)
        .into_iter()
        .map(|(key, value)| (key.to_string(), Value::String(value)))
        .collect();
    let era_name = match era {
        Era::Dstu2 => "DSTU2",
        Era::Stu3 => "STU3",
    };
    fill(&[
        (ERA, js_string(era_name)),
        (SYSTEMS, systems.to_string()),
        (DEFAULTS, Value::Object(defaults).to_string()),
    ])
}

/// The GP Connect JWT builder (DOMAIN.md §4). Runs in Postman's sandbox:
/// plain ES5, no `btoa`, so it carries its own UTF-8 and base64url. Valid
/// JavaScript as it stands (`node --check`): each placeholder is an
/// identifier, replaced at export by a JSON literal.
const COLLECTION_SCRIPT: &str = include_str!("collection.js");

/// The placeholders of `collection.js`.
/// The era's name, `"DSTU2"` or `"STU3"`.
const ERA: &str = "__GPCMOCK_ERA__";
/// The identifier systems of the era's claims: `{"nhs", "ods", "sds"}`.
const SYSTEMS: &str = "__GPCMOCK_SYSTEMS__";
/// The environment's identity variables and their defaults.
const DEFAULTS: &str = "__GPCMOCK_DEFAULTS__";

/// `collection.js` with each placeholder replaced by its value.
fn fill(values: &[(&str, String)]) -> String {
    let mut script = COLLECTION_SCRIPT.to_string();
    for (placeholder, value) in values {
        debug_assert!(
            script.contains(placeholder),
            "{placeholder} is in collection.js"
        );
        script = script.replace(placeholder, value);
    }
    script
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use bytes::Bytes;
    use http::{HeaderName, HeaderValue, Method};
    use regex::Regex;

    use super::*;
    use crate::contract::jwt::{self, Expectation, RecordKind};
    use crate::pipeline::{self, SCENARIO_HEADER};
    use crate::postman::export;
    use crate::postman::tests::{all_items, as_json, default_pack, strings};
    use crate::request::MockRequest;
    use crate::request::RequestIds;

    /// `node --check` on `path`: it parses as JavaScript.
    fn node_check(path: &std::path::Path) {
        let output = Command::new("node")
            .arg("--check")
            .arg(path)
            .output()
            .expect("node starts");
        assert!(
            output.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    #[cfg_attr(
        not(has_node),
        ignore = "needs node on PATH to run the collection's script"
    )]
    fn the_script_file_is_javascript() {
        node_check(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/postman/collection.js"),
        );
    }

    #[test]
    #[cfg_attr(
        not(has_node),
        ignore = "needs node on PATH to run the collection's script"
    )]
    fn the_filled_script_is_javascript() {
        let dir = tempfile::tempdir().expect("temp dir");
        for era in [Era::Dstu2, Era::Stu3] {
            let path = dir.path().join(format!("{era:?}.js"));
            std::fs::write(&path, collection_script(era)).expect("written");
            node_check(&path);
        }
    }

    #[test]
    fn every_placeholder_is_marked_and_filled() {
        for placeholder in [ERA, SYSTEMS, DEFAULTS] {
            assert!(placeholder.starts_with("__GPCMOCK_") && placeholder.ends_with("__"));
            assert_eq!(
                COLLECTION_SCRIPT.matches(placeholder).count(),
                1,
                "{placeholder}"
            );
        }
        assert_eq!(COLLECTION_SCRIPT.matches("__GPCMOCK_").count(), 3);
        for era in [Era::Dstu2, Era::Stu3] {
            let script = collection_script(era);
            assert!(!script.contains("__GPCMOCK_"), "{era:?}");
            let name = if era == Era::Dstu2 {
                "\"DSTU2\""
            } else {
                "\"STU3\""
            };
            assert!(script.contains(&format!("var era = {name};")), "{era:?}");
            let (nhs, _, _) = sample::jwt_systems(era);
            assert!(script.contains(nhs), "{era:?}");
        }
    }

    /// Runs `input` through a stand-in for Postman's sandbox: `pm.variables`
    /// over one map (environment first, then what scripts set), the
    /// collection's pre-request script before each request's own.
    const HARNESS: &str = r#"
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const vars = new Map(Object.entries(input.env));
const pm = { variables: {
    get: (k) => vars.get(k),
    set: (k, v) => { vars.set(k, String(v)); },
} };
const run = (lines) => new Function('pm', lines.join('\n'))(pm);
const out = { tokens: [], claims: [], base64: [] };
for (const item of input.items) {
    run(input.collection);
    run(item);
    out.tokens.push(vars.get('gpcJwt'));
}
run(input.collection);
for (const c of input.claims) {
    out.claims.push(gpcMock.claims(pm, c.scope, c.nhs, c.now));
}
for (const t of input.texts) {
    out.base64.push(gpcMock.base64url(t));
}
console.log(JSON.stringify(out));
"#;

    fn run_harness(input: &Value) -> Value {
        let mut child = Command::new("node")
            .arg("-e")
            .arg(HARNESS)
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
            .expect("input written");
        let output = child.wait_with_output().expect("node ends");
        assert!(
            output.status.success(),
            "node failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the harness prints JSON")
    }

    fn env_map(environment: &Environment) -> serde_json::Map<String, Value> {
        environment
            .values
            .iter()
            .map(|v| (v.key.clone(), Value::String(v.value.clone())))
            .collect()
    }

    #[test]
    #[cfg_attr(
        not(has_node),
        ignore = "needs node on PATH to run the collection's script"
    )]
    fn the_jwt_script_builds_the_claims_check_builds() {
        for era in [Era::Dstu2, Era::Stu3] {
            let env: serde_json::Map<String, Value> = identity_values(era)
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::String(v)))
                .collect();
            let cases = [
                ("patient", false, "9658218873"),
                ("patient", true, "9658218865"),
                ("organization", false, ""),
                ("organization", true, ""),
            ];
            let claims: Vec<Value> = cases
                .iter()
                .map(|(kind, write, nhs)| {
                    json!({
                        "scope": format!("{kind}/*.{}", if *write { "write" } else { "read" }),
                        "nhs": nhs,
                        "now": 1_700_000_000,
                    })
                })
                .collect();
            let texts = [
                "",
                "a",
                "ab",
                "abc",
                "é€😀",
                "{\"alg\":\"none\",\"typ\":\"JWT\"}",
            ];
            let input = json!({
                "env": env,
                "collection": collection_script(era).lines().collect::<Vec<_>>(),
                "items": [],
                "claims": claims,
                "texts": texts,
            });
            let out = run_harness(&input);
            for ((kind, write, nhs), produced) in
                cases.iter().zip(out["claims"].as_array().expect("claims"))
            {
                let expected = sample::jwt_claims(&sample::JwtRequest {
                    era,
                    record_kind: kind,
                    write: *write,
                    nhs_number: nhs,
                    ods_code: sample::RECORD_ODS_CODE,
                    now: 1_700_000_000,
                });
                assert_eq!(produced, &expected, "{era:?} {kind} write={write}");
            }
            for (text, encoded) in texts.iter().zip(out["base64"].as_array().expect("base64")) {
                assert_eq!(encoded, &json!(URL_SAFE_NO_PAD.encode(text)), "{text}");
            }
        }
    }

    /// Replaces `{{name}}` by its value; `{{$guid}}` by a fresh UUID.
    fn resolve(text: &str, vars: &HashMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}").map(|c| open + c) else {
                break;
            };
            out.push_str(&rest[..open]);
            let name = &rest[open + 2..close];
            match name {
                "$guid" => out.push_str(&uuid::Uuid::new_v4().to_string()),
                _ => out.push_str(
                    vars.get(name)
                        .unwrap_or_else(|| panic!("variable {name} is not defined")),
                ),
            }
            rest = &rest[close + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The whole collection, as Postman would send it (the JWTs from the
    /// script, run by node), answered in-process by a fresh server: every
    /// request passes its own tests.
    #[test]
    #[cfg_attr(
        not(has_node),
        ignore = "needs node on PATH to run the collection's script"
    )]
    fn the_collection_passes_its_tests_against_a_fresh_server() {
        let export = export(&default_pack(), "");
        let collection = as_json(&export.collection);
        let items = all_items(&collection);
        let input = json!({
            "env": env_map(&export.environment),
            "collection": collection["event"][0]["script"]["exec"],
            "items": items.iter().map(|i| i["event"][0]["script"]["exec"].clone()).collect::<Vec<_>>(),
            "claims": [],
            "texts": [],
        });
        let out = run_harness(&input);
        let tokens = strings(&out["tokens"]);
        assert_eq!(tokens.len(), items.len());
        let fresh = default_pack();
        let stores = fresh.fresh_stores();
        let ids = RequestIds::default();
        let expected_of =
            Regex::new(r#"\.to\.(?:have\.status\((\d+)\)|eql\((".*")\))"#).expect("regex");
        for (item, token) in items.iter().zip(tokens) {
            let name = item["name"].as_str().expect("name");
            let mut vars: HashMap<String, String> = export
                .environment
                .values
                .iter()
                .map(|v| (v.key.clone(), v.value.clone()))
                .collect();
            vars.insert("gpcJwt".into(), token.clone());
            let request = &item["request"];
            let mut headers = http::HeaderMap::new();
            for h in request["header"].as_array().expect("headers") {
                let value = resolve(h["value"].as_str().expect("value"), &vars);
                headers.append(
                    HeaderName::from_bytes(h["key"].as_str().expect("key").as_bytes())
                        .expect("header name"),
                    HeaderValue::from_str(&value).expect("header value"),
                );
            }
            let target = resolve(request["url"]["raw"].as_str().expect("raw"), &vars);
            let body = request["body"]["raw"].as_str().unwrap_or("").to_string();
            let method = Method::from_bytes(request["method"].as_str().expect("method").as_bytes())
                .expect("method");
            let mock = MockRequest::new(method, &target, headers, Bytes::from(body));
            let answer = pipeline::serve(&fresh, &stores, &mock, &ids).answer;
            let tests = strings(&item["event"][1]["script"]["exec"]).join("\n");
            let mut expected = expected_of.captures_iter(&tests);
            let status: u16 = expected
                .next()
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse().ok())
                .expect("a status test");
            let scenario: String = expected
                .next()
                .and_then(|c| c.get(2))
                .and_then(|m| serde_json::from_str(m.as_str()).ok())
                .expect("an X-Mock-Scenario test");
            let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
            assert_eq!(
                answer.status.as_u16(),
                status,
                "{name}: {}",
                String::from_utf8_lossy(&answer.body)
            );
            assert_eq!(
                answer
                    .headers
                    .get(SCENARIO_HEADER)
                    .and_then(|v| v.to_str().ok()),
                Some(scenario.as_str()),
                "{name}"
            );
            if let Some(resource_type) = expected
                .next()
                .and_then(|c| c.get(2))
                .and_then(|m| serde_json::from_str::<String>(m.as_str()).ok())
            {
                assert_eq!(body["resourceType"], resource_type.as_str(), "{name}");
            }
            // And the token itself is one the request checks accept.
            let decoded = jwt::decode(&token).expect("the token decodes");
            let scope = decoded.claims["requested_scope"].as_str().unwrap_or("");
            let mut violations = Vec::new();
            jwt::check_claims(
                &decoded.claims,
                &Expectation {
                    era: Era::Dstu2,
                    kind: Some(if scope.starts_with("patient/") {
                        RecordKind::Patient
                    } else {
                        RecordKind::Organization
                    }),
                    write: scope.ends_with(".write"),
                    migrate: false,
                    now: chrono::Utc::now().timestamp(),
                },
                &mut violations,
            );
            assert!(violations.is_empty(), "{name}: {violations:?}");
        }
    }

    #[test]
    #[cfg_attr(
        not(has_node),
        ignore = "needs node on PATH to run the collection's script"
    )]
    fn stu3_tokens_pass_the_stu3_checks() {
        let env: serde_json::Map<String, Value> = identity_values(Era::Stu3)
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
        let items: Vec<Vec<String>> = ["patient/*.read", "patient/*.write", "organization/*.read"]
            .iter()
            .map(|scope| {
                vec![
                    format!("pm.variables.set('gpcScope', '{scope}');"),
                    "gpcMock.setJwt(pm);".to_string(),
                ]
            })
            .collect();
        let input = json!({
            "env": env,
            "collection": collection_script(Era::Stu3).lines().collect::<Vec<_>>(),
            "items": items,
            "claims": [],
            "texts": [],
        });
        let out = run_harness(&input);
        for (token, (kind, write)) in strings(&out["tokens"]).iter().zip([
            (RecordKind::Patient, false),
            (RecordKind::Patient, true),
            (RecordKind::Organization, false),
        ]) {
            let decoded = jwt::decode(token).expect("decodes");
            assert!(!decoded.claims.contains_key("requested_record"));
            let mut violations = Vec::new();
            jwt::check_claims(
                &decoded.claims,
                &Expectation {
                    era: Era::Stu3,
                    kind: Some(kind),
                    write,
                    migrate: false,
                    now: chrono::Utc::now().timestamp(),
                },
                &mut violations,
            );
            assert!(violations.is_empty(), "{violations:?}");
            let lifetime = decoded.claims["exp"].as_i64().unwrap_or(0)
                - decoded.claims["iat"].as_i64().unwrap_or(0);
            assert_eq!(lifetime, 300);
        }
    }
}

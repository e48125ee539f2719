//! `gpconnect-mock postman`: the loaded definition and scenarios as a
//! Postman Collection v2.1 and an environment, ready to import and run.
//!
//! One folder per spec tag (an operation's first tag; untagged operations
//! go to a folder named after their path's first segment), one request per
//! scenario a request can select, carrying the path, query, headers and
//! body that `check` derives for it ([`check::request_for`]). Scenarios no
//! request selects are skipped and listed in [`Export::skipped`].
//!
//! GP Connect requests take the SSP headers from environment variables and
//! `Authorization: Bearer {{gpcJwt}}`. The token is built at send time by
//! the collection's pre-request script ([`collection_script`]), so `iat` and
//! `exp` are always fresh. Postman runs the collection's pre-request script
//! before the request's own, so the script defines a global `gpcMock`; each
//! request's pre-request script sets its scope (and, for patient-centred
//! DSTU2 calls, the NHS number) and calls `gpcMock.setJwt(pm)`.
//!
//! Each request's tests assert the scenario's status, `X-Mock-Scenario`
//! and, when the scenario answers JSON with one, the `resourceType` (read
//! from the answer rendered in-process).

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use http::header::HOST;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use crate::answer::SCENARIO_HEADER;
use crate::sample;
use crate::contract::Profile;
use crate::error::LoadErrors;
use crate::fhir::Era;
use crate::handler::{respond, RequestIds};
use crate::scenario::Scenario;
use crate::server::AppState;
use crate::snapshot::{Settings, Snapshot};
use crate::spec::Operation;
use crate::state::StateStore;
use crate::sample::{self as synth, JwtIdentity, SyntheticRequest};

/// The schema every exported collection names.
pub const SCHEMA_URL: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";
pub const COLLECTION_FILE: &str = "gpconnect-mock.postman_collection.json";
pub const ENVIRONMENT_FILE: &str = "gpconnect-mock.postman_environment.json";
/// `serve`'s default address.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";
/// The consumer ASID the environment sends as `Ssp-From`.
pub const CONSUMER_ASID: &str = "200000000359";
/// Fixed, so that exporting twice gives the same files.
const ENVIRONMENT_ID: &str = "5f0c8f2e-3b7a-4d8e-9a51-6c1e2b9d4a70";

#[derive(Debug, thiserror::Error)]
pub enum PostmanError {
    #[error("{}: exists and is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("cannot create the directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: is a directory, cannot write the export there", path.display())]
    TargetIsDirectory { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serialise the {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

// ---- Postman Collection v2.1 --------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Collection {
    pub info: Info,
    pub item: Vec<Folder>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event: Vec<Event>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub name: String,
    pub description: String,
    pub schema: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Folder {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub item: Vec<Item>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub name: String,
    pub event: Vec<Event>,
    pub request: Request,
}

#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub method: String,
    pub header: Vec<Header>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    pub url: Url,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub key: String,
    pub value: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Body {
    pub mode: String,
    pub raw: String,
    pub options: BodyOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct BodyOptions {
    pub raw: RawOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct RawOptions {
    pub language: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Url {
    pub raw: String,
    pub host: Vec<String>,
    pub path: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<QueryParam>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryParam {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub listen: String,
    pub script: Script,
}

#[derive(Debug, Clone, Serialize)]
pub struct Script {
    #[serde(rename = "type")]
    pub kind: String,
    pub exec: Vec<String>,
}

impl Event {
    fn new(listen: &str, source: &str) -> Event {
        Event {
            listen: listen.to_string(),
            script: Script {
                kind: "text/javascript".to_string(),
                exec: source.lines().map(str::to_string).collect(),
            },
        }
    }
}

// ---- Postman environment -------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub values: Vec<EnvironmentValue>,
    #[serde(rename = "_postman_variable_scope")]
    pub scope: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentValue {
    pub key: String,
    pub value: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub enabled: bool,
}

// ---- the export -------------------------------------------------------------

/// A scenario left out: no request built from its `when` selects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: String,
    pub line: usize,
    pub operation: String,
    pub scenario: String,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} / {}: {}",
            self.file, self.line, self.operation, self.scenario, self.reason
        )
    }
}

#[derive(Debug, Clone)]
pub struct Export {
    pub collection: Collection,
    pub environment: Environment,
    /// How many requests the collection holds.
    pub requests: usize,
    pub skipped: Vec<Skipped>,
}

/// Builds the collection and environment of `snapshot`, for a server at
/// `base_url`. Every scenario's request is answered once, in-process and in
/// the collection's order, to prove that it selects the scenario and to
/// learn the answer's `resourceType`: on a fresh state, as a run of the
/// collection against a fresh server sees it. Stateful scenarios change
/// `snapshot`'s state, so a running server exports from a scratch snapshot
/// ([`scratch_snapshot`]).
pub fn export(snapshot: &Snapshot, base_url: &str) -> Export {
    let era = snapshot.contract.profile().era();
    let ids = RequestIds::default();
    let store = snapshot.templates.state().clone();
    // Folders in the order their first operation comes in the definition
    // (so the collection starts where the definition does, not with the
    // alphabetically first tag); operations keep their order inside.
    let mut order: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, operation) in snapshot.model.operations.iter().enumerate() {
        let name = folder_name(operation);
        match order.iter_mut().find(|(folder, _)| *folder == name) {
            Some((_, indices)) => indices.push(index),
            None => order.push((name, vec![index])),
        }
    }
    let mut folders: Vec<Folder> = Vec::new();
    let mut skipped = Vec::new();
    let mut requests = 0;
    for (name, indices) in order {
        let mut items = Vec::new();
        for index in indices {
            let operation = &snapshot.model.operations[index];
            for scenario in snapshot.scenarios.for_operation(index) {
                let request = sample::request_for(snapshot, index, Some(scenario));
                let before = store.read();
                let answer = respond(snapshot, &request.to_mock_request(), &ids);
                let selected = answer
                    .headers
                    .get(SCENARIO_HEADER)
                    .and_then(|v| v.to_str().ok());
                if selected != Some(scenario.name.as_str()) {
                    // Not in the collection, so not in a run of it: undo
                    // what it did to the state.
                    store.replace((*before).clone());
                    skipped.push(Skipped {
                        file: scenario.file.clone(),
                        line: scenario.line,
                        operation: operation.key.clone(),
                        scenario: scenario.name.clone(),
                        reason: match selected {
                            Some(winner) => format!(
                                "the request built from its `when` selects `{winner}` instead"
                            ),
                            None => format!(
                                "no request built from its `when` selects it (answered {})",
                                answer.status.as_u16()
                            ),
                        },
                    });
                    continue;
                }
                let resource_type = serde_json::from_slice::<Value>(&answer.body)
                    .ok()
                    .and_then(|body| body.get("resourceType")?.as_str().map(str::to_string));
                items.push(item(
                    operation,
                    scenario,
                    &request,
                    era,
                    resource_type.as_deref(),
                ));
            }
        }
        if items.is_empty() {
            continue;
        }
        requests += items.len();
        folders.push(Folder {
            description: snapshot
                .model
                .tags
                .iter()
                .find(|t| t.name == name)
                .and_then(|t| t.description.clone()),
            name,
            item: items,
        });
    }
    let model = &snapshot.model;
    let collection = Collection {
        info: Info {
            name: format!("gpconnect-mock: {}", model.title),
            description: format!(
                "Exported by gpconnect-mock {} from {} (version {}): one request per scenario, \
                 with tests for its status, X-Mock-Scenario and resourceType. Use it with the \
                 environment gpconnect-mock.postman_environment.json; {{{{baseUrl}}}} is the \
                 mock's address.{}",
                env!("CARGO_PKG_VERSION"),
                model.source,
                model.version,
                if era.is_some() {
                    " The collection's pre-request script builds the GP Connect JWT at send \
                     time; each request's own pre-request script sets its scope."
                } else {
                    ""
                }
            ),
            schema: SCHEMA_URL.to_string(),
        },
        item: folders,
        event: match era {
            Some(era) => vec![Event::new("prerequest", &collection_script(era))],
            None => Vec::new(),
        },
    };
    Export {
        collection,
        environment: environment(snapshot, base_url),
        requests,
        skipped,
    }
}

/// The operation's first tag, else its path's first segment.
fn folder_name(operation: &Operation) -> String {
    if let Some(tag) = operation.tags.first() {
        return tag.clone();
    }
    operation
        .path
        .split('/')
        .find(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| "/".to_string())
}

fn item(
    operation: &Operation,
    scenario: &Scenario,
    request: &SyntheticRequest,
    era: Option<Era>,
    resource_type: Option<&str>,
) -> Item {
    let constrained = |name: &str| {
        scenario
            .when
            .headers
            .iter()
            .any(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
    };
    let header = |key: &str, value: String| Header {
        key: key.to_string(),
        value,
        kind: "text".to_string(),
    };
    let mut headers = Vec::new();
    for (name, value) in &request.headers {
        let value = match era {
            Some(_) if name.eq_ignore_ascii_case("Authorization") => "Bearer {{gpcJwt}}".into(),
            Some(_) if name.eq_ignore_ascii_case("Ssp-TraceID") && !constrained(name) => {
                "{{$guid}}".into()
            }
            Some(_) if name.eq_ignore_ascii_case("Ssp-From") && !constrained(name) => {
                "{{sspFrom}}".into()
            }
            Some(_) if name.eq_ignore_ascii_case("Ssp-To") => "{{sspTo}}".into(),
            _ => value.clone(),
        };
        headers.push(header(name, value));
    }
    let mut events = Vec::new();
    if let Some(era) = era {
        let (kind, write) = sample::gpconnect_scope(operation, era);
        let scope = format!("{kind}/*.{}", if write { "write" } else { "read" });
        let mut script = String::from(
            "// This request's JWT claims; gpcMock comes from the collection's pre-request script.\n",
        );
        script.push_str(&format!(
            "pm.variables.set('gpcScope', {});\n",
            js_string(&scope)
        ));
        if era == Era::Dstu2 && kind == "patient" {
            script.push_str(&format!(
                "pm.variables.set('gpcNhsNumber', {});\n",
                js_string(&synth::patient_nhs_number(request))
            ));
        }
        script.push_str("gpcMock.setJwt(pm);\n");
        events.push(Event::new("prerequest", &script));
    }
    events.push(Event::new(
        "test",
        &test_script(scenario.then.status.as_u16(), &scenario.name, resource_type),
    ));
    let body = request.body.as_ref().map(|body| Body {
        mode: "raw".to_string(),
        raw: serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string()),
        options: BodyOptions {
            raw: RawOptions {
                language: "json".to_string(),
            },
        },
    });
    Item {
        name: format!("{} — {}", operation.key, scenario.name),
        event: events,
        request: Request {
            method: request.method.as_str().to_string(),
            header: headers,
            body,
            url: url(request),
            description: format!(
                "Scenario `{}` of {} ({}:{}): answers {}.",
                scenario.name,
                operation.key,
                scenario.file,
                scenario.line,
                scenario.then.status.as_u16()
            ),
        },
    }
}

/// A JavaScript string literal (JSON's is one).
fn js_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

fn test_script(status: u16, scenario: &str, resource_type: Option<&str>) -> String {
    let mut script = format!(
        "pm.test({}, function () {{\n    pm.response.to.have.status({status});\n}});\n",
        js_string(&format!("status is {status}"))
    );
    script.push_str(&format!(
        "pm.test({}, function () {{\n    pm.expect(pm.response.headers.get('X-Mock-Scenario')).to.eql({});\n}});\n",
        js_string(&format!("X-Mock-Scenario is {scenario}")),
        js_string(scenario)
    ));
    if let Some(resource_type) = resource_type {
        script.push_str(&format!(
            "pm.test({}, function () {{\n    pm.expect(pm.response.json().resourceType).to.eql({});\n}});\n",
            js_string(&format!("resourceType is {resource_type}")),
            js_string(resource_type)
        ));
    }
    script
}

/// What Postman must not read as its own syntax, or a query must not hold raw:
/// `{`/`}` (variables), `%`, `&`, `+`, `#`, quotes, spaces and controls.
const QUERY_PART: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'\'')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn url(request: &SyntheticRequest) -> Url {
    let path: Vec<String> = request
        .path
        .split('/')
        .skip(1)
        .map(|segment| {
            // A leading `:` would be a Postman path variable.
            match segment.strip_prefix(':') {
                Some(rest) => format!("%3A{rest}"),
                None => segment.to_string(),
            }
        })
        .collect();
    let query: Vec<QueryParam> = request
        .query
        .iter()
        .map(|(key, value)| QueryParam {
            key: percent_encoding::utf8_percent_encode(key, QUERY_PART).to_string(),
            value: percent_encoding::utf8_percent_encode(value, QUERY_PART).to_string(),
        })
        .collect();
    let mut raw = format!("{{{{baseUrl}}}}/{}", path.join("/"));
    if !query.is_empty() {
        let pairs: Vec<String> = query
            .iter()
            .map(|q| format!("{}={}", q.key, q.value))
            .collect();
        raw.push('?');
        raw.push_str(&pairs.join("&"));
    }
    Url {
        raw,
        host: vec!["{{baseUrl}}".to_string()],
        path,
        query,
    }
}

/// The identity variables of the environment and their values: what the
/// JWT claims (the same defaults as `check`'s synthetic requests).
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
        values.push(("gpcRecordOdsCode", synth::RECORD_ODS_CODE.to_string()));
        values.push(("gpcNhsNumber", "9658218873".to_string()));
    }
    values
}

pub fn environment(snapshot: &Snapshot, base_url: &str) -> Environment {
    let value = |key: &str, value: String| EnvironmentValue {
        key: key.to_string(),
        value,
        kind: "default".to_string(),
        enabled: true,
    };
    let mut values = vec![value("baseUrl", base_url.trim_end_matches('/').to_string())];
    if let Profile::GpConnect(era) = snapshot.contract.profile() {
        values.push(value("sspFrom", CONSUMER_ASID.to_string()));
        values.push(value("sspTo", snapshot.contract.asid().to_string()));
        for (key, default) in identity_values(era) {
            values.push(value(key, default));
        }
    }
    Environment {
        id: ENVIRONMENT_ID.to_string(),
        name: "gpconnect-mock".to_string(),
        values,
        scope: "environment".to_string(),
    }
}

/// The collection-level pre-request script for `era`: defines the global
/// `gpcMock` (base64url, claims, jwt, setJwt) and builds a first token.
pub fn collection_script(era: Era) -> String {
    let (nhs, ods, sds) = synth::jwt_systems(era);
    let systems = json!({"nhs": nhs, "ods": ods, "sds": sds});
    let defaults: serde_json::Map<String, Value> = identity_values(era)
        .into_iter()
        .map(|(key, value)| (key.to_string(), Value::String(value)))
        .collect();
    let era_name = match era {
        Era::Dstu2 => "DSTU2",
        Era::Stu3 => "STU3",
    };
    COLLECTION_SCRIPT
        .replace("__ERA__", &js_string(era_name))
        .replace("__SYSTEMS__", &systems.to_string())
        .replace("__DEFAULTS__", &Value::Object(defaults).to_string())
}

/// The GP Connect JWT builder (DOMAIN.md §4). Runs in Postman's sandbox:
/// plain ES5, no `btoa`, so it carries its own UTF-8 and base64url.
const COLLECTION_SCRIPT: &str = r#"// gpconnect-mock: builds the GP Connect JWT at send time (unsigned, alg none;
// iat = now, exp = iat + 300), so it never goes stale.
// Postman runs this script before each request's own pre-request script. A
// request's script sets gpcScope (and, for patient-centred DSTU2 calls,
// gpcNhsNumber), then calls gpcMock.setJwt(), which puts the token in
// {{gpcJwt}}. The practitioner, organisation and device come from the
// environment (gpcPractitionerId, gpcOrganizationOdsCode, gpcDeviceValue, ...).
// gpcMock is global on purpose (no var/let/const): request scripts call it,
// passing their own pm (this script's pm sees the variables as they were
// before the request's script ran).
gpcMock = (function () {
    var era = __ERA__;
    var systems = __SYSTEMS__;
    var defaults = __DEFAULTS__;
    var alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

    function utf8(text) {
        var bytes = [];
        for (var i = 0; i < text.length; i++) {
            var code = text.charCodeAt(i);
            if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
                var low = text.charCodeAt(i + 1);
                if (low >= 0xdc00 && low < 0xe000) {
                    code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                    i++;
                }
            }
            if (code >= 0xd800 && code < 0xe000) {
                code = 0xfffd; // a lone surrogate
            }
            if (code < 0x80) {
                bytes.push(code);
            } else if (code < 0x800) {
                bytes.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
            } else if (code < 0x10000) {
                bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
            } else {
                bytes.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 0x3f),
                    0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
            }
        }
        return bytes;
    }

    // base64url without padding, of the UTF-8 bytes of text.
    function base64url(text) {
        var bytes = utf8(text);
        var out = '';
        for (var i = 0; i < bytes.length; i += 3) {
            var n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8)
                | (i + 2 < bytes.length ? bytes[i + 2] : 0);
            out += alphabet.charAt((n >> 18) & 63) + alphabet.charAt((n >> 12) & 63);
            if (i + 1 < bytes.length) {
                out += alphabet.charAt((n >> 6) & 63);
            }
            if (i + 2 < bytes.length) {
                out += alphabet.charAt(n & 63);
            }
        }
        return out;
    }

    // A variable (request, environment, collection or global), else its default.
    function setting(pm, name) {
        var value = pm.variables.get(name);
        if (value === undefined || value === null || value === '') {
            return defaults[name];
        }
        return String(value);
    }

    function claims(pm, scope, nhsNumber, now) {
        var practitionerId = setting(pm, 'gpcPractitionerId');
        var out = {
            iss: setting(pm, 'gpcIss'),
            sub: practitionerId,
            aud: setting(pm, 'gpcAud'),
            exp: now + 300,
            iat: now,
            reason_for_request: 'directcare',
            requested_scope: scope,
            requesting_device: {
                resourceType: 'Device',
                id: setting(pm, 'gpcDeviceId'),
                identifier: [{ system: setting(pm, 'gpcDeviceSystem'), value: setting(pm, 'gpcDeviceValue') }],
                model: setting(pm, 'gpcDeviceModel'),
                version: setting(pm, 'gpcDeviceVersion')
            },
            requesting_organization: {
                resourceType: 'Organization',
                id: '1',
                identifier: [{ system: systems.ods, value: setting(pm, 'gpcOrganizationOdsCode') }],
                name: setting(pm, 'gpcOrganizationName')
            }
        };
        if (era === 'DSTU2') {
            out.requesting_practitioner = {
                resourceType: 'Practitioner',
                id: practitionerId,
                name: {
                    family: [setting(pm, 'gpcPractitionerFamily')],
                    given: [setting(pm, 'gpcPractitionerGiven')],
                    prefix: [setting(pm, 'gpcPractitionerPrefix')]
                },
                identifier: [{ system: systems.sds, value: setting(pm, 'gpcPractitionerSdsUserId') }],
                practitionerRole: [{ role: { coding: [{
                    system: 'http://fhir.nhs.net/ValueSet/sds-job-role-name-1',
                    code: setting(pm, 'gpcPractitionerJobRole')
                }] } }]
            };
            out.requested_record = scope.indexOf('patient/') === 0
                ? { resourceType: 'Patient', identifier: [{ system: systems.nhs, value: nhsNumber }] }
                : { resourceType: 'Organization', identifier: [{ system: systems.ods, value: setting(pm, 'gpcRecordOdsCode') }] };
        } else {
            out.requesting_practitioner = {
                resourceType: 'Practitioner',
                id: practitionerId,
                name: [{
                    family: setting(pm, 'gpcPractitionerFamily'),
                    given: [setting(pm, 'gpcPractitionerGiven')],
                    prefix: [setting(pm, 'gpcPractitionerPrefix')]
                }],
                identifier: [{ system: systems.sds, value: setting(pm, 'gpcPractitionerSdsUserId') }]
            };
        }
        return out;
    }

    function jwt(pm, scope, nhsNumber, now) {
        return base64url(JSON.stringify({ alg: 'none', typ: 'JWT' })) + '.'
            + base64url(JSON.stringify(claims(pm, scope, nhsNumber, now))) + '.';
    }

    // Builds {{gpcJwt}} from gpcScope and gpcNhsNumber, now.
    function setJwt(pm) {
        var scope = setting(pm, 'gpcScope') || 'organization/*.read';
        var nhsNumber = setting(pm, 'gpcNhsNumber') || '';
        var token = jwt(pm, scope, nhsNumber, Math.floor(Date.now() / 1000));
        pm.variables.set('gpcJwt', token);
        return token;
    }

    return { base64url: base64url, claims: claims, jwt: jwt, setJwt: setJwt };
})();
gpcMock.setJwt(pm);
"#;

/// Writes the collection and the environment into `dir` (created if
/// missing) under their fixed names; returns the two paths. Only these two
/// files are ever written.
pub fn write(export: &Export, dir: &Path) -> Result<[PathBuf; 2], PostmanError> {
    if dir.exists() && !dir.is_dir() {
        return Err(PostmanError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| PostmanError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let collection =
        serde_json::to_string_pretty(&export.collection).map_err(|source| PostmanError::Json {
            what: "collection",
            source,
        })?;
    let environment =
        serde_json::to_string_pretty(&export.environment).map_err(|source| PostmanError::Json {
            what: "environment",
            source,
        })?;
    // Both names are checked before either file is written.
    for name in [COLLECTION_FILE, ENVIRONMENT_FILE] {
        let path = dir.join(name);
        if path.is_dir() {
            return Err(PostmanError::TargetIsDirectory { path });
        }
    }
    let write_one = |name: &str, text: String| -> Result<PathBuf, PostmanError> {
        let path = dir.join(name);
        std::fs::write(&path, text + "\n").map_err(|source| PostmanError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    Ok([
        write_one(COLLECTION_FILE, collection)?,
        write_one(ENVIRONMENT_FILE, environment)?,
    ])
}

/// `http://{host}` from a request's `Host` header, when it is a plain
/// authority; else `serve`'s default address.
pub fn base_url_from_host(host: Option<&str>) -> String {
    host.and_then(|host| host.parse::<http::uri::Authority>().ok())
        .filter(|authority| !authority.as_str().contains('@'))
        .map(|authority| format!("http://{authority}"))
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
}

// ---- the admin endpoints ------------------------------------------------------

/// The server's current definition and pack, loaded afresh with a state of
/// their own: exporting answers every scenario once, and must not book
/// slots in the state the server answers from.
pub fn scratch_snapshot(state: &AppState) -> Result<Snapshot, LoadErrors> {
    let settings = Settings {
        state: StateStore::new(),
        ..state.shared.settings.clone()
    };
    Snapshot::load(
        &state.shared.sources,
        &settings,
        state.snapshot().generation,
    )
}

/// `GET /__admin/postman/collection`: built from the current files (hot
/// reloads included); `{{baseUrl}}` is this server, as `Host` names it.
pub async fn collection_handler(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base_url = base_url_from_host(header_text(&headers, HOST));
    // Loading and rendering every scenario is CPU work: off the async workers.
    let built = tokio::task::spawn_blocking(move || {
        scratch_snapshot(&state).map(|snapshot| export(&snapshot, &base_url).collection)
    })
    .await;
    match built {
        Ok(Ok(collection)) => json_response(serde_json::to_value(collection)),
        Ok(Err(errors)) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the definition or scenario pack does not load, so no collection: {errors}"),
        ),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the export failed: {error}"),
        ),
    }
}

/// `GET /__admin/postman/environment`: from the current snapshot;
/// `baseUrl` is this server, as `Host` names it.
pub async fn environment_handler(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let snapshot = state.snapshot();
    let base_url = base_url_from_host(header_text(&headers, HOST));
    json_response(serde_json::to_value(environment(&snapshot, &base_url)))
}

fn header_text(headers: &HeaderMap, name: http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn json_response(value: Result<Value, serde_json::Error>) -> Response {
    match value {
        Ok(value) => Json(value).into_response(),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot serialise the export: {error}"),
        ),
    }
}

fn error_response(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use bytes::Bytes;
    use http::{HeaderName, HeaderValue, Method};
    use regex::Regex;

    use super::*;
    use crate::contract::jwt::{self, Expectation, RecordKind};
    use crate::request::MockRequest;
    use crate::snapshot::Sources;

    /// The default definition and pack, with a state of its own.
    fn default_pack() -> Snapshot {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let sources = Sources {
            spec: None,
            scenarios: Some(root.join("scenarios")),
            templates: Some(root.join("templates")),
        };
        Snapshot::load(&sources, &Settings::default(), 1).expect("the default pack loads")
    }

    fn as_json<T: Serialize>(value: &T) -> Value {
        serde_json::to_value(value).expect("serialises")
    }

    fn strings(value: &Value) -> Vec<String> {
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

    fn all_items(collection: &Value) -> Vec<Value> {
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
        assert!(collection["info"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("gpconnect-mock")));
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
        for (index, operation) in snapshot.model.operations.iter().enumerate() {
            for scenario in snapshot.scenarios.for_operation(index) {
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
                if !snapshot.scenarios.is_stateful(index) {
                    assert_eq!(listed, 1, "{name} was skipped: {:?}", export.skipped);
                }
            }
        }
        assert_eq!(seen.len(), export.requests);
        assert_eq!(
            export.requests + export.skipped.len(),
            snapshot.scenarios.count()
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
        assert_eq!(environment["name"], "gpconnect-mock");
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
            spec: Some(root.join("tests/fixtures/specs/clinic-openapi3.yaml")),
            scenarios: None,
            templates: None,
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
        let url = url(&request);
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

    // ---- the JWT script, run by node -------------------------------------

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

    /// `node`, or `None` with the reason printed.
    fn node() -> Option<&'static str> {
        match Command::new("node").arg("--version").output() {
            Ok(output) if output.status.success() => Some("node"),
            _ => {
                eprintln!(
                    "skipped: node is not on PATH, so the collection's JWT script cannot run here"
                );
                None
            }
        }
    }

    fn run_harness(node: &str, input: &Value) -> Value {
        let mut child = Command::new(node)
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
    fn the_jwt_script_builds_the_claims_check_builds() {
        let Some(node) = node() else { return };
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
            let out = run_harness(node, &input);
            for ((kind, write, nhs), produced) in
                cases.iter().zip(out["claims"].as_array().expect("claims"))
            {
                let expected = synth::jwt_claims(&synth::JwtRequest {
                    era,
                    record_kind: kind,
                    write: *write,
                    nhs_number: nhs,
                    ods_code: synth::RECORD_ODS_CODE,
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
    fn the_collection_passes_its_tests_against_a_fresh_server() {
        let Some(node) = node() else { return };
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
        let out = run_harness(node, &input);
        let tokens = strings(&out["tokens"]);
        assert_eq!(tokens.len(), items.len());
        let fresh = default_pack();
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
            let answer = respond(&fresh, &mock, &ids);
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
                    now: chrono::Utc::now().timestamp(),
                },
                &mut violations,
            );
            assert!(violations.is_empty(), "{name}: {violations:?}");
        }
    }

    #[test]
    fn stu3_tokens_pass_the_stu3_checks() {
        let Some(node) = node() else { return };
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
        let out = run_harness(node, &input);
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

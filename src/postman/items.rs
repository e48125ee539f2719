//! The collection's folders and items, built from sample requests: one
//! folder per tag, one item per scenario a sample request selects (proved
//! by answering it in-process), each with its JWT scope script and the
//! tests of its status, `X-Mock-Scenario` and `resourceType`.

use serde_json::Value;

use super::model::{
    Body, BodyOptions, Event, Folder, Header, Item, Node, QueryParam, RawOptions, Request, Url,
};
use super::Skipped;
use crate::fhir::Era;
use crate::pipeline;
use crate::request::RequestIds;
use crate::sample::{self, SyntheticRequest};
use crate::scenario::Scenario;
use crate::snapshot::{Api, Snapshot};
use crate::spec::Operation;
use crate::state::Stores;

/// Where one API's requests go: the environment variables holding its
/// base URL and its provider ASID, and the part of the path the base URL
/// stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target<'a> {
    pub base_url: String,
    pub ssp_to: String,
    pub base_path: &'a str,
}

impl<'a> Target<'a> {
    /// One API: `{{baseUrl}}` is the server and the path is written whole,
    /// `{{sspTo}}` its ASID.
    pub(super) fn single() -> Target<'static> {
        Target {
            base_url: "baseUrl".into(),
            ssp_to: "sspTo".into(),
            base_path: "",
        }
    }

    /// `api`'s, among the APIs of `snapshot`: with several, each has a
    /// `baseUrl_<name>` (the server and its base path) and `sspTo_<name>`.
    pub(super) fn of(snapshot: &Snapshot, api: &'a Api) -> Target<'a> {
        if snapshot.apis.len() == 1 {
            return Target::single();
        }
        Target {
            base_url: format!("baseUrl_{}", api.name),
            ssp_to: format!("sspTo_{}", api.name),
            base_path: &api.base_path,
        }
    }
}

/// The folders of one mounted API of `snapshot`, in the order their first
/// operation comes in the definition, with one item per scenario a sample
/// request selects; how many items; and the scenarios left out. Requests
/// are answered in-process from `store`, in the collection's order.
pub(super) fn folders(
    snapshot: &Snapshot,
    api: &Api,
    stores: &Stores,
    era: Option<Era>,
) -> (Vec<Folder>, usize, Vec<Skipped>) {
    let store = stores.of(&api.name);
    let ids = RequestIds::default();
    let target = Target::of(snapshot, api);
    // Folders in the order their first operation comes in the definition
    // (so the collection starts where the definition does, not with the
    // alphabetically first tag); operations keep their order inside.
    let mut order: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, operation) in api.model.operations.iter().enumerate() {
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
            let operation = &api.model.operations[index];
            for scenario in api.scenarios.for_operation(index) {
                let before = store.read();
                let request = sample::request_for(api, index, Some(scenario), &before);
                let served = pipeline::serve(snapshot, stores, &request.to_mock_request(), &ids);
                let selected = served.scenario_name();
                let answer = &served.answer;
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
                items.push(Node::Item(Box::new(item(
                    operation,
                    scenario,
                    &request,
                    era,
                    resource_type.as_deref(),
                    &target,
                ))));
            }
        }
        if items.is_empty() {
            continue;
        }
        requests += items.len();
        folders.push(Folder {
            description: api
                .model
                .tags
                .iter()
                .find(|t| t.name == name)
                .and_then(|t| t.description.clone()),
            name,
            item: items,
            event: Vec::new(),
        });
    }
    (folders, requests, skipped)
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
    target: &Target<'_>,
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
            Some(_) if name.eq_ignore_ascii_case("Ssp-To") => format!("{{{{{}}}}}", target.ssp_to),
            _ => value.clone(),
        };
        headers.push(header(name, value));
    }
    let mut events = Vec::new();
    if let Some(era) = era {
        let (kind, write) = sample::gpconnect_scope(operation, era);
        // Access Record Structured's migrate: reason `migration`, a
        // confidentiality in the scope (DOMAIN-STU3.md §1.1).
        let migrate =
            crate::contract::gpconnect::OperationRules::compile(operation, era).is_migrate();
        let scope = if migrate {
            "patient/*.read conf/N".to_string()
        } else {
            format!("{kind}/*.{}", if write { "write" } else { "read" })
        };
        let mut script = String::from(
            "// This request's JWT claims; gpcMock comes from the collection's pre-request script.\n",
        );
        script.push_str(&format!(
            "pm.variables.set('gpcScope', {});\n",
            js_string(&scope)
        ));
        script.push_str(&format!(
            "pm.variables.set('gpcReason', {});\n",
            js_string(if migrate { "migration" } else { "directcare" })
        ));
        if era == Era::Dstu2 && kind == "patient" {
            script.push_str(&format!(
                "pm.variables.set('gpcNhsNumber', {});\n",
                js_string(&sample::patient_nhs_number(request))
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
            url: url(request, target),
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
pub(super) fn js_string(text: &str) -> String {
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

pub(super) fn url(request: &SyntheticRequest, target: &Target<'_>) -> Url {
    let path: Vec<String> = request
        .path
        .strip_prefix(target.base_path)
        .unwrap_or(&request.path)
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
    let host = format!("{{{{{}}}}}", target.base_url);
    let mut raw = format!("{host}/{}", path.join("/"));
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
        host: vec![host],
        path,
        query,
    }
}

//! Fitting a sample request to its scenario's place among the others: a
//! value the target scenario leaves open is changed until no earlier
//! scenario's `when` holds ([`selecting`]), and the ids that state
//! conditions read are made to name documents that do (or do not) exist
//! ([`fit_state`]).

use serde_json::{json, Value};

use super::for_scenario;
use super::{body, scalar_text, utf8_percent_encode_segment, SyntheticRequest};
use crate::request::MockRequest;
use crate::scenario::body_path::BodyPath;
use crate::scenario::conditions::Condition;
use crate::scenario::stateful::StateCondition;
use crate::scenario::Scenario;
use crate::spec::{schema, ApiModel, Operation};
use crate::state::StateData;

/// Where a condition looks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Path(String),
    Query(String),
    Header(String),
    Body(String),
}

fn keys_of(when: &crate::scenario::conditions::When) -> Vec<(Key, &Condition)> {
    let mut keys: Vec<(Key, &Condition)> = Vec::new();
    keys.extend(when.path.iter().map(|(n, c)| (Key::Path(n.clone()), c)));
    keys.extend(when.query.iter().map(|(n, c)| (Key::Query(n.clone()), c)));
    keys.extend(
        when.headers
            .iter()
            .map(|(n, c)| (Key::Header(n.as_str().to_string()), c)),
    );
    keys.extend(
        when.body
            .iter()
            .map(|b| (Key::Body(b.expression.clone()), &b.condition)),
    );
    keys
}

/// Builds a request that selects `scenarios[target]`: it satisfies the
/// target's `when`, then, while an earlier scenario still wins, changes a
/// value the target does not constrain so that the earlier one no longer
/// holds (using values the other scenarios mention, or plain unknowns).
/// Returns the request and whether the target is selected by it.
pub fn selecting(
    model: &ApiModel,
    operation: &Operation,
    scenarios: &[Scenario],
    target: usize,
) -> (SyntheticRequest, bool) {
    let scenario = &scenarios[target];
    let mut request = for_scenario(model, operation, Some(scenario));
    let own_keys: Vec<Key> = keys_of(&scenario.when)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut candidates: Vec<(Key, String)> = Vec::new();
    for other in scenarios {
        for (key, condition) in keys_of(&other.when) {
            let values = match condition {
                Condition::OneOf(options) => options.clone(),
                other => other.example().into_iter().collect(),
            };
            candidates.extend(values.into_iter().map(|v| (key.clone(), v)));
        }
    }
    for _attempt in 0..(4 * scenarios.len() + 4) {
        let mock = request.to_mock_request();
        let params = path_params(operation, &request.path);
        let winner = request_winner(scenarios, scenario, &mock, &params);
        match winner {
            Some(index) if index == target => return (request, true),
            Some(index) if index < target => {
                // Try every one-value change that breaks the winner; keep the
                // one whose new winner comes latest (ideally the target).
                let mut best: Option<(usize, SyntheticRequest)> = None;
                for (key, condition) in keys_of(&scenarios[index].when) {
                    if own_keys.contains(&key) {
                        continue;
                    }
                    let mut options: Vec<Option<String>> = Vec::new();
                    if matches!(condition, Condition::Present(true)) {
                        options.push(None);
                    }
                    let current = current_value(&request, operation, &key);
                    let allowed = enum_values(model, operation, &key);
                    for option in candidates
                        .iter()
                        .filter(|(k, _)| *k == key)
                        .map(|(_, v)| v.clone())
                        .chain(allowed)
                        .chain(look_alikes(current.as_deref()))
                    {
                        if !condition
                            .holds(std::iter::once(std::borrow::Cow::Borrowed(option.as_str())))
                            && !options.contains(&Some(option.clone()))
                        {
                            options.push(Some(option));
                        }
                    }
                    for option in options {
                        let mut trial = request.clone();
                        set_key(&mut trial, operation, &key, option);
                        let mock = trial.to_mock_request();
                        let params = path_params(operation, &trial.path);
                        let rank = request_winner(scenarios, scenario, &mock, &params).unwrap_or(0);
                        if rank > index
                            && best.as_ref().is_none_or(|(r, _)| rank > *r && *r != target)
                        {
                            let reached = rank == target;
                            best = Some((rank, trial));
                            if reached {
                                break;
                            }
                        }
                    }
                    if best.as_ref().is_some_and(|(r, _)| *r == target) {
                        break;
                    }
                }
                match best {
                    Some((_, better)) => request = better,
                    None => return (request, false),
                }
            }
            _ => return (request, false),
        }
    }
    (request, false)
}

/// The values the request schema allows for a top-level body field
/// (`$.status` → the `enum` of `status`), so a change stays valid.
fn enum_values(model: &ApiModel, operation: &Operation, key: &Key) -> Vec<String> {
    let Key::Body(expression) = key else {
        return Vec::new();
    };
    let Some(field) = expression
        .strip_prefix("$.")
        .filter(|f| !f.contains(['.', '[', '*']))
    else {
        return Vec::new();
    };
    let Some(mut schema) = operation
        .request_body
        .as_ref()
        .and_then(|b| b.content.first())
        .and_then(|m| m.schema.as_ref())
    else {
        return Vec::new();
    };
    for _ in 0..8 {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| schema::resolve_pointer(&model.schema_root, r))
        {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
        .pointer(&format!("/properties/{field}/enum"))
        .and_then(Value::as_array)
        .map(|values| values.iter().map(scalar_text).collect())
        .unwrap_or_default()
}

/// Values shaped like `current` but unlikely to be known: the same
/// `system|` with an unknown value, digits kept digits, then plain unknowns.
fn look_alikes(current: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(current) = current {
        if let Some((system, _)) = current.split_once('|') {
            out.push(format!("{system}|9999999999"));
            out.push(format!("{system}|UNKNOWN1"));
        }
    }
    out.extend(["9999999999", "999", "unknown"].map(String::from));
    out
}

fn current_value(request: &SyntheticRequest, operation: &Operation, key: &Key) -> Option<String> {
    match key {
        Key::Path(name) => path_params(operation, &request.path)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v),
        Key::Query(name) => request
            .query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone()),
        Key::Header(name) => request.header(name).map(str::to_string),
        Key::Body(expression) => {
            let path = BodyPath::parse(expression).ok()?;
            let body = request.body.as_ref()?;
            path.select(body).first().map(|value| scalar_text(value))
        }
    }
}

/// Fits the request to state, where state conditions read simple request
/// values (`{{request.path_params.X}}`, `{{request.query.X}}`, or
/// `{{ref_id (jsonpath request.body "PATH")}}`): earlier scenarios' state
/// conditions are made to fail, then the target's to hold. An id that must
/// be absent becomes an unknown one; one that must exist (with fields)
/// becomes the id of a document of `data` that fits.
pub fn fit_state(
    request: &mut SyntheticRequest,
    operation: &Operation,
    scenarios: &[Scenario],
    target: usize,
    data: &StateData,
) {
    let own: Vec<Key> = scenarios[target]
        .state_when
        .conditions
        .iter()
        .filter_map(|c| id_key(&c.id_source).map(|(key, _)| key))
        .collect();
    for earlier in &scenarios[..target] {
        for condition in &earlier.state_when.conditions {
            if id_key(&condition.id_source).is_some_and(|(key, _)| !own.contains(&key)) {
                fit_condition(request, operation, condition, data, false);
            }
        }
    }
    for condition in &scenarios[target].state_when.conditions {
        fit_condition(request, operation, condition, data, true);
    }
    align_body(request, operation, scenarios, target, data);
}

/// A request whose path id names an existing document (an update: amend
/// or cancel) and whose body is of the same `resourceType` gets the stored
/// document's references (`slot`, `participant`, …) in place of the
/// example's, unless a body condition of the scenarios up to the target
/// reads that field: a sample amend or cancel then names what the
/// appointment it changes really holds.
fn align_body(
    request: &mut SyntheticRequest,
    operation: &Operation,
    scenarios: &[Scenario],
    target: usize,
    data: &StateData,
) {
    let considered = &scenarios[..=target];
    let constrained: Vec<&str> = considered
        .iter()
        .flat_map(|s| s.when.body.iter())
        .map(|b| top_field(&b.expression))
        .collect();
    for condition in considered.iter().flat_map(|s| &s.state_when.conditions) {
        let Some((key @ Key::Path(_), false)) = id_key(&condition.id_source) else {
            continue;
        };
        let Some(id) = current_value(request, operation, &key) else {
            continue;
        };
        let Some(Value::Object(stored)) = data.get(&condition.collection, &id) else {
            continue;
        };
        let Some(Value::Object(body)) = request.body.as_mut() else {
            return;
        };
        if body.get("resourceType") != stored.get("resourceType") {
            continue;
        }
        for (field, value) in stored {
            if body.contains_key(field)
                && !constrained.contains(&field.as_str())
                && holds_reference(value)
            {
                body.insert(field.clone(), value.clone());
            }
        }
        return;
    }
}

/// `$.slot[0].reference` → `slot`; `$['a b']` → `a b`.
fn top_field(expression: &str) -> &str {
    let rest = expression.trim_start_matches('$').trim_start_matches('.');
    let rest = rest.trim_start_matches("['").trim_start_matches("[\"");
    let end = rest.find(['.', '[', '\'', '"']).unwrap_or(rest.len());
    &rest[..end]
}

/// Whether a value is or contains a FHIR reference (`{"reference": …}`).
fn holds_reference(value: &Value) -> bool {
    match value {
        Value::Object(fields) => {
            fields.get("reference").is_some_and(Value::is_string)
                || fields.values().any(holds_reference)
        }
        Value::Array(items) => items.iter().any(holds_reference),
        _ => false,
    }
}

fn fit_condition(
    request: &mut SyntheticRequest,
    operation: &Operation,
    condition: &StateCondition,
    data: &StateData,
    hold: bool,
) {
    let Some((key, reference)) = id_key(&condition.id_source) else {
        return;
    };
    let documents = data.collections.get(&condition.collection);
    let wants_document = condition.exists || !condition.fields.is_empty();
    let fits = |document: &Value| {
        condition.fields.iter().all(|(_, path, field_condition)| {
            field_condition.holds(
                path.query(document)
                    .all()
                    .into_iter()
                    .map(|v| std::borrow::Cow::Owned(scalar_text(v))),
            )
        })
    };
    let unknown = || {
        let mut candidate = 9999u64;
        while documents.is_some_and(|docs| docs.contains_key(&candidate.to_string())) {
            candidate += 1;
        }
        candidate.to_string()
    };
    let existing = |wanted: &dyn Fn(&Value) -> bool| {
        documents
            .and_then(|docs| docs.iter().find(|(_, doc)| wanted(doc)))
            .map(|(id, _)| id.clone())
    };
    let id = match (hold, wants_document) {
        (true, true) => match existing(&fits) {
            Some(id) => id,
            None => return,
        },
        (true, false) => unknown(),
        // To fail, an existing document that does not fit, else none at all.
        (false, true) if !condition.fields.is_empty() => {
            existing(&|doc| !fits(doc)).unwrap_or_else(unknown)
        }
        (false, true) => unknown(),
        (false, false) => match existing(&|_| true) {
            Some(id) => id,
            None => return,
        },
    };
    let value = if reference {
        // Keep the reference's resource type: `Slot/1` → `Slot/13`.
        let current = current_value(request, operation, &key).unwrap_or_default();
        match current.rsplit_once('/') {
            Some((prefix, _)) => format!("{prefix}/{id}"),
            None => format!("{}/{id}", condition.collection),
        }
    } else {
        id
    };
    set_key(request, operation, &key, Some(value));
}

/// The request value an id template reads, and whether it is a reference.
fn id_key(source: &str) -> Option<(Key, bool)> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    if let Some(name) = inner.strip_prefix("request.path_params.") {
        return Some((Key::Path(name.to_string()), false));
    }
    if let Some(name) = inner.strip_prefix("request.query.") {
        return Some((Key::Query(name.to_string()), false));
    }
    let path = inner
        .strip_prefix("ref_id (jsonpath request.body \"")?
        .strip_suffix("\")")?;
    Some((Key::Body(path.to_string()), true))
}

/// The body path an id template reads with `ref_id (jsonpath request.body …)`.
#[cfg(test)]
pub(super) fn body_id_path(source: &str) -> Option<String> {
    match id_key(source)? {
        (Key::Body(expression), _) => Some(expression),
        _ => None,
    }
}

/// The first scenario whose request conditions hold. Stateful scenarios
/// other than the target are left out: `check` reaches them by arranging
/// state, not by changing the request.
fn request_winner(
    scenarios: &[Scenario],
    target: &Scenario,
    request: &MockRequest,
    params: &[(String, String)],
) -> Option<usize> {
    scenarios.iter().position(|s| {
        (s.state_when.is_empty() || std::ptr::eq(s, target))
            && s.when.check(request, params).is_ok()
    })
}

/// The path parameters of a concrete path of `operation`.
pub fn path_params(operation: &Operation, path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (pattern, actual) in operation.full_path.split('/').zip(path.split('/')) {
        if let (Some(open), Some(close)) = (pattern.find('{'), pattern.rfind('}')) {
            let prefix = &pattern[..open];
            let suffix = &pattern[close + 1..];
            if let Some(value) = actual
                .strip_prefix(prefix)
                .and_then(|v| v.strip_suffix(suffix))
            {
                let decoded = percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned();
                out.push((pattern[open + 1..close].to_string(), decoded));
            }
        }
    }
    out
}

fn set_key(
    request: &mut SyntheticRequest,
    operation: &Operation,
    key: &Key,
    value: Option<String>,
) {
    match key {
        Key::Path(name) => {
            let value = value.unwrap_or_else(|| "unknown".to_string());
            let mut segments: Vec<String> = request.path.split('/').map(str::to_string).collect();
            for (index, pattern) in operation.full_path.split('/').enumerate() {
                if let (Some(open), Some(close)) = (pattern.find('{'), pattern.rfind('}')) {
                    if &pattern[open + 1..close] == name && index < segments.len() {
                        segments[index] = format!(
                            "{}{}{}",
                            &pattern[..open],
                            utf8_percent_encode_segment(&value),
                            &pattern[close + 1..]
                        );
                    }
                }
            }
            request.path = segments.join("/");
        }
        Key::Query(name) => {
            request.query.retain(|(n, _)| n != name);
            if let Some(value) = value {
                request.query.push((name.clone(), value));
            }
        }
        Key::Header(name) => match value {
            Some(value) => request.set_header(name, value),
            None => request
                .headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case(name)),
        },
        Key::Body(expression) => {
            let Ok(path) = BodyPath::parse(expression) else {
                return;
            };
            let body = request.body.get_or_insert_with(|| json!({}));
            let condition = match value {
                Some(value) => Condition::Equals(value),
                None => Condition::Present(false),
            };
            body::satisfy(body, &path, &condition);
        }
    }
}

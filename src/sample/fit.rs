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
use crate::scenario::stateful::{Lookup, StateAction, StateCondition};
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

/// Which document an id names when several in a collection fit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pick {
    /// The first in the collection's order (seeds first): what a fresh
    /// server holds, for `check` and the Postman export.
    #[default]
    First,
    /// The most recently stored one (the last booking, say), falling back
    /// to earlier ones, then the seeds: `sample-request?…&document=latest`.
    Latest,
}

impl Pick {
    /// `first` or `latest`, as `sample-request` takes it.
    pub fn parse(text: &str) -> Option<Pick> {
        match text {
            "first" => Some(Pick::First),
            "latest" => Some(Pick::Latest),
            _ => None,
        }
    }
}

/// Fits the request to state, where state conditions read simple request
/// values (`{{request.path_params.X}}`, `{{request.query.X}}`, or
/// `{{ref_id (jsonpath request.body "PATH")}}`): earlier scenarios' state
/// conditions are made to fail, then the target's to hold. An id that must
/// be absent becomes an unknown one; one that must exist (with fields)
/// becomes the id of a document of `data` that fits (the first or the
/// latest, as `pick` says). Then the body is aligned with the documents it
/// names ([`align_body`], [`align_times`]).
pub fn fit_state(
    request: &mut SyntheticRequest,
    operation: &Operation,
    scenarios: &[Scenario],
    target: usize,
    data: &StateData,
    pick: Pick,
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
                fit_condition(request, operation, condition, data, false, pick);
            }
        }
    }
    for condition in &scenarios[target].state_when.conditions {
        fit_condition(request, operation, condition, data, true, pick);
    }
    align_body(request, operation, scenarios, target, data);
    align_times(request, operation, scenarios, target, data);
}

/// A request whose path id names an existing document (an update: amend
/// or cancel) and whose body is of the same `resourceType` is made to name
/// what that document really holds.
///
/// When the target scenario's `then.state` updates that collection with
/// `fields: [...]` (the fields a request may change), the body becomes the
/// stored document with those fields (but `meta`) taken from the sample;
/// the other fields stay as stored unless a body condition needs the fitted
/// value for the same scenario to win: an amend is the stored appointment
/// with a new `description` and `comment` (a text equal to the stored one
/// gets ` (amended)`, so the change shows), a cancel the stored appointment
/// with `status` cancelled and the cancellation reason. The body is kept
/// only if the same scenario wins with it.
///
/// Otherwise the stored document's references (`slot`, `participant`, …)
/// replace the example's, unless a body condition reads that field.
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
        let Some(Value::Object(body)) = request.body.as_ref() else {
            return;
        };
        if body.get("resourceType") != stored.get("resourceType") {
            continue;
        }
        if let Some(changeable) = changeable_fields(&scenarios[target], &condition.collection) {
            let wanted = winner(scenarios, target, operation, request);
            let mut aligned = stored.clone();
            for field in changeable.iter().filter(|f| f.as_str() != "meta") {
                if let Some(value) = body.get(field) {
                    let value = match (value, stored.get(field)) {
                        (Value::String(new), Some(Value::String(old)))
                            if new == old && !constrained.contains(&field.as_str()) =>
                        {
                            Value::String(format!("{new} (amended)"))
                        }
                        _ => value.clone(),
                    };
                    aligned.insert(field.clone(), value);
                }
            }
            // Fields the request may not change stay as stored, unless a
            // body condition needs the fitted value for the target to win
            // (a cancel's `status`).
            let mut trial = request.clone();
            trial.body = Some(Value::Object(aligned.clone()));
            for field in &constrained {
                if winner(scenarios, target, operation, &trial) == wanted {
                    break;
                }
                match body.get(*field) {
                    Some(value) => {
                        aligned.insert((*field).to_string(), value.clone());
                    }
                    None => {
                        aligned.shift_remove(*field);
                    }
                }
                trial.body = Some(Value::Object(aligned.clone()));
            }
            if winner(scenarios, target, operation, &trial) == wanted {
                *request = trial;
                return;
            }
        }
        let Some(Value::Object(body)) = request.body.as_mut() else {
            return;
        };
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

/// The top-level fields `scenario`'s `then.state` copies into a document
/// of `collection` from the response or the body (`update` with `from` and
/// `fields`): what a request may change in it.
fn changeable_fields<'s>(scenario: &'s Scenario, collection: &str) -> Option<&'s [String]> {
    scenario
        .state_then
        .actions
        .iter()
        .find_map(|action| match action {
            StateAction::Update {
                collection: updated,
                from: Some(_),
                fields: Some(fields),
                ..
            } if updated == collection => Some(fields.as_slice()),
            _ => None,
        })
}

/// Which scenario (by the request conditions alone) a request selects.
fn winner(
    scenarios: &[Scenario],
    target: usize,
    operation: &Operation,
    request: &SyntheticRequest,
) -> Option<usize> {
    let mock = request.to_mock_request();
    let params = path_params(operation, &request.path);
    request_winner(scenarios, &scenarios[target], &mock, &params)
}

/// A body whose reference (read by a state condition, `$.slot[0].reference`)
/// names a stored document takes that document's date-times for the
/// top-level fields both carry: a booking of Slot/3 has Slot/3's `start`
/// and `end`, not the example's.
fn align_times(
    request: &mut SyntheticRequest,
    operation: &Operation,
    scenarios: &[Scenario],
    target: usize,
    data: &StateData,
) {
    for condition in scenarios[..=target]
        .iter()
        .flat_map(|s| &s.state_when.conditions)
    {
        let Some((key @ Key::Body(_), true)) = id_key(&condition.id_source) else {
            continue;
        };
        let Some(reference) = current_value(request, operation, &key) else {
            continue;
        };
        let id = crate::state::reference_id(&reference);
        let Some(Value::Object(document)) = data.get(&condition.collection, id) else {
            continue;
        };
        let Some(Value::Object(body)) = request.body.as_mut() else {
            return;
        };
        for (field, value) in document {
            let (Some(Value::String(ours)), Value::String(theirs)) = (body.get(field), value)
            else {
                continue;
            };
            if super::dates::is_date_time(ours) && super::dates::is_date_time(theirs) {
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
    pick: Pick,
) {
    // The request value names the document by its id, or (a lookup) by
    // the value of one of its fields.
    let (key, reference, field) = match id_key(&condition.id_source) {
        Some((key, reference)) => (key, reference, None),
        None => match lookup_key(&condition.id_source) {
            Some((key, collection, path)) if collection == condition.collection => {
                match serde_json_path::JsonPath::parse(&path) {
                    Ok(path) => (key, false, Some(path)),
                    Err(_) => return,
                }
            }
            _ => return,
        },
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
        let docs = documents?;
        let found = match pick {
            Pick::First => docs.iter().find(|(_, doc)| wanted(doc)),
            Pick::Latest => docs.iter().rev().find(|(_, doc)| wanted(doc)),
        };
        found.map(|(id, _)| id.clone())
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
    let id = match (&field, documents.and_then(|docs| docs.get(&id))) {
        // The request names the document by its field's value.
        (Some(path), Some(document)) => match path.query(document).first() {
            Some(value) => scalar_text(value),
            None => return,
        },
        _ => id,
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
/// An `ids` template over a list of the body,
/// `{{#each request.body.slot}}{{ref_id reference}} {{/each}}`, reads its
/// first item's reference (`$.slot[0].reference`): a sample names one.
fn id_key(source: &str) -> Option<(Key, bool)> {
    if let Some(list) = each_reference(source) {
        return Some((Key::Body(format!("$.{list}[0].reference")), true));
    }
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

/// The request value, collection and JSONPath of a lookup id template
/// ([`Lookup`]).
fn lookup_key(source: &str) -> Option<(Key, String, String)> {
    let lookup = Lookup::parse(source)?;
    let key = match id_key(&lookup.value)? {
        (key @ (Key::Path(_) | Key::Query(_)), false) => key,
        _ => return None,
    };
    Some((key, lookup.collection, lookup.path))
}

/// `slot` of `{{#each request.body.slot}}{{ref_id reference}} {{/each}}`
/// (a separator of spaces or a comma after the id, or none).
fn each_reference(source: &str) -> Option<&str> {
    let rest = source.trim().strip_prefix("{{#each request.body.")?;
    let (list, rest) = rest.split_once("}}")?;
    let rest = rest.strip_prefix("{{ref_id reference}}")?;
    let rest = rest.trim_start_matches([' ', ',']);
    (rest == "{{/each}}"
        && !list.is_empty()
        && list.chars().all(|c| c.is_alphanumeric() || c == '_'))
    .then_some(list)
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

#[cfg(test)]
mod tests {
    use super::Pick;
    use crate::sample::request_for_picking;
    use crate::snapshot::{Api, Settings, Snapshot, Sources};
    use crate::state::StateData;
    use serde_json::{json, Value};

    fn default_snapshot() -> Snapshot {
        Snapshot::load(&Sources::default_pack(), &Settings::default(), 1)
            .expect("the default pack loads")
    }

    /// The seeds, and Appointment/1000 booked on Slot/4 after them.
    fn booked(api: &Api) -> StateData {
        let mut data = StateData::default();
        for seed in api.scenarios.seeds() {
            data.collections
                .insert(seed.collection.clone(), seed.documents.clone());
        }
        let slot = data.get("slots", "4").cloned().expect("Slot/4 is seeded");
        let appointments = data.collections.entry("appointments".into()).or_default();
        appointments.insert(
            "1000".into(),
            json!({"resourceType": "Appointment", "id": "1000", "meta": {"versionId": "1"},
                "status": "booked", "description": "Review of blood pressure",
                "comment": "Patient prefers a morning appointment",
                "start": slot["start"], "end": slot["end"], "slot": [{"reference": "Slot/4"}],
                "participant": [{"actor": {"reference": "Patient/2"}, "status": "accepted"}]}),
        );
        if let Some(Value::Object(slot)) = data
            .collections
            .get_mut("slots")
            .and_then(|slots| slots.get_mut("4"))
        {
            slot.insert("freeBusyType".into(), json!("busy"));
        }
        data
    }

    fn sample(
        api: &Api,
        operation: &str,
        scenario: &str,
        data: &StateData,
        pick: Pick,
    ) -> crate::sample::SyntheticRequest {
        let index = api
            .model
            .operation_index(operation)
            .expect("the operation is in the pack");
        let chosen = api
            .scenarios
            .for_operation(index)
            .iter()
            .find(|s| s.name == scenario);
        assert!(chosen.is_some(), "{operation} has {scenario}");
        request_for_picking(api, index, chosen, data, pick)
    }

    #[test]
    fn latest_names_the_appointment_booked_last_and_first_the_seed() {
        let snapshot = default_snapshot();
        let api = &snapshot.apis[0];
        let data = booked(api);
        for (operation, scenario) in [
            ("Appointment_Read", "appointment-found"),
            ("Appointment_Update", "appointment-amended"),
            ("Appointment_Update", "appointment-cancelled"),
        ] {
            let latest = sample(api, operation, scenario, &data, Pick::Latest);
            assert_eq!(latest.path, "/fhir/Appointment/1000", "{scenario}");
            let first = sample(api, operation, scenario, &data, Pick::First);
            assert_eq!(first.path, "/fhir/Appointment/1", "{scenario}");
        }
    }

    #[test]
    fn an_amend_is_the_stored_appointment_with_a_new_description_and_comment() {
        let snapshot = default_snapshot();
        let api = &snapshot.apis[0];
        let data = booked(api);
        let stored = data.get("appointments", "1000").expect("booked");
        let amend = sample(
            api,
            "Appointment_Update",
            "appointment-amended",
            &data,
            Pick::Latest,
        );
        let body = amend.body.expect("a body");
        assert_eq!(body["status"], "booked", "the status stays as stored");
        assert_eq!(body["description"], "Review of blood pressure (amended)");
        assert_eq!(
            body["comment"],
            "Patient prefers a morning appointment (amended)"
        );
        for field in ["id", "meta", "start", "end", "slot", "participant"] {
            assert_eq!(body[field], stored[field], "{field} as stored");
        }
        assert!(body.get("extension").is_none(), "{body}");
    }

    #[test]
    fn a_cancel_is_the_stored_appointment_cancelled_with_a_reason() {
        let snapshot = default_snapshot();
        let api = &snapshot.apis[0];
        let data = booked(api);
        let stored = data.get("appointments", "1000").expect("booked");
        let cancel = sample(
            api,
            "Appointment_Update",
            "appointment-cancelled",
            &data,
            Pick::Latest,
        );
        let body = cancel.body.expect("a body");
        assert_eq!(body["status"], "cancelled");
        let reason = body["extension"][0]["valueString"].as_str().unwrap_or("");
        assert!(!reason.is_empty(), "a cancellation reason: {body}");
        for field in [
            "id",
            "description",
            "comment",
            "start",
            "end",
            "slot",
            "participant",
        ] {
            assert_eq!(body[field], stored[field], "{field} as stored");
        }
    }

    #[test]
    fn a_booking_names_a_free_slot_and_its_times() {
        let snapshot = default_snapshot();
        let api = &snapshot.apis[0];
        let data = booked(api);
        let booking = sample(
            api,
            "Appointment_Create",
            "appointment-booked",
            &data,
            Pick::First,
        );
        let body = booking.body.expect("a body");
        let reference = body["slot"][0]["reference"].as_str().unwrap_or("");
        let slot = data
            .get("slots", crate::state::reference_id(reference))
            .expect("a seeded slot");
        assert_eq!(slot["freeBusyType"], "free", "{reference}");
        assert_eq!(body["start"], slot["start"]);
        assert_eq!(body["end"], slot["end"]);
    }

    #[test]
    fn the_getschedule_period_starts_today_and_covers_the_slots() {
        let snapshot = default_snapshot();
        let api = &snapshot.apis[0];
        let data = booked(api);
        let schedule = sample(
            api,
            "OrganizationOperation_GetSchedule",
            "free-slots-a20047",
            &data,
            Pick::First,
        );
        let body = schedule.body.expect("a body");
        let period = body["parameter"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "timePeriod"))
            .map(|p| p["valuePeriod"].clone())
            .expect("a timePeriod");
        let day = |value: &Value| {
            chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap_or(""))
                .map(|d| d.date_naive())
                .expect("a date-time")
        };
        let today = chrono::Utc::now().date_naive();
        assert_eq!(day(&period["start"]), today);
        for slot in data.collections["slots"].values() {
            assert!(day(&slot["start"]) >= day(&period["start"]));
            assert!(day(&slot["end"]) <= day(&period["end"]), "{slot}");
        }
    }

    /// An `ids` condition over the booking's slots is fitted by its first
    /// slot: the 1.x booking sample names a free slot, the taken-slot
    /// sample a busy one, the unknown-slot sample none of the practice's.
    #[test]
    fn ids_over_the_body_slots_are_fitted_by_the_first() {
        assert_eq!(
            super::body_id_path("{{#each request.body.slot}}{{ref_id reference}} {{/each}}"),
            Some("$.slot[0].reference".to_string())
        );
        assert_eq!(
            super::body_id_path("{{#each request.body.slot}}{{ref_id reference}}{{/each}}"),
            Some("$.slot[0].reference".to_string())
        );
        assert_eq!(
            super::body_id_path("{{#each request.body.slot}}{{id}}{{/each}}"),
            None
        );
        let snapshot = default_snapshot();
        let api = snapshot
            .api("gpconnect-foundations")
            .expect("the Foundations API is mounted");
        let mut data = StateData::default();
        for seed in api.scenarios.seeds() {
            data.collections
                .insert(seed.collection.clone(), seed.documents.clone());
        }
        let slot_of = |scenario: &str| {
            let request = sample(api, "Appointment_Create", scenario, &data, Pick::First);
            let body = request.body.expect("a booking body");
            body["slot"][0]["reference"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        let status = |reference: &str| {
            data.get("slots", reference.trim_start_matches("Slot/"))
                .map(|slot| slot["status"].clone())
        };
        assert_eq!(status(&slot_of("appointment-booked")), Some(json!("free")));
        assert_eq!(status(&slot_of("slot-already-booked")), Some(json!("busy")));
        assert_eq!(status(&slot_of("slot-not-found")), None);
    }

    #[test]
    fn a_lookup_id_template_names_the_request_value_and_the_field() {
        assert_eq!(
            super::lookup_key(
                "{{#each (state_list \"patients\" \"$.logicalId\" request.path_params.id)}}{{id}}{{/each}}"
            ),
            Some((
                super::Key::Path("id".into()),
                "patients".into(),
                "$.logicalId".into()
            ))
        );
        assert_eq!(
            super::lookup_key(
                "{{#each (state_list \"p\" \"$.a\" request.query.x)}}{{id}}{{/each}}"
            ),
            Some((super::Key::Query("x".into()), "p".into(), "$.a".into()))
        );
        assert_eq!(
            super::lookup_key(
                "{{#each (state_list \"p\" \"$.a\" request.query.x)}}{{name}}{{/each}}"
            ),
            None
        );
    }
}

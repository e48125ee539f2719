//! Synthetic requests: for a scenario, a request that satisfies its `when`,
//! with everything else filled from the spec (examples, defaults, minimal
//! instances) and, for GP Connect, valid SSP headers and a fresh JWT.
//!
//! `check` uses them to prove each scenario reachable and to render it;
//! the Postman export turns them into collection items.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{json, Map, Value};

use crate::fhir::Era;
use crate::request::MockRequest;
use crate::scenario::matchers::Condition;
use crate::scenario::stateful::StateCondition;
use crate::scenario::Scenario;
use crate::spec::{schema, ApiModel, Operation, ParamLocation};
use crate::state::StateData;
use crate::template::fhir_param_value;

/// A request built for a scenario, in parts a collection exporter can use.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticRequest {
    pub method: Method,
    /// The concrete path, path parameters filled, percent-encoded.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers in order (names as the spec or scenario spells them).
    pub headers: Vec<(String, String)>,
    /// The JSON body, if the operation takes one.
    pub body: Option<Value>,
    pub content_type: Option<String>,
}

impl SyntheticRequest {
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.query.iter())
            .finish();
        format!("{}?{query}", self.path)
    }

    pub fn to_mock_request(&self) -> MockRequest {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        let body = match &self.body {
            Some(body) => Bytes::from(body.to_string()),
            None => Bytes::new(),
        };
        MockRequest::new(self.method.clone(), &self.path_and_query(), headers, body)
    }

    pub fn set_header(&mut self, name: &str, value: String) {
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name.to_string(), value)),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Builds the request that should select `scenario` of `operation`.
pub fn for_scenario(
    model: &ApiModel,
    operation: &Operation,
    scenario: Option<&Scenario>,
) -> SyntheticRequest {
    let when = scenario.map(|s| &s.when);
    // Path: the scenario's conditions first, then the spec's examples.
    let mut path = String::new();
    for segment in operation.full_path.split('/').skip(1) {
        path.push('/');
        let mut rest = segment;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            path.push_str(&rest[..open]);
            let name = &rest[open + 1..close];
            let from_when = when
                .and_then(|w| w.path.iter().find(|(n, _)| n == name))
                .and_then(|(_, c)| c.example());
            let value = from_when.unwrap_or_else(|| {
                param_example(operation, ParamLocation::Path, name)
                    .unwrap_or_else(|| "1".to_string())
            });
            path.push_str(&utf8_percent_encode_segment(&value));
            rest = &rest[close + 1..];
        }
        path.push_str(rest);
    }

    let mut query: Vec<(String, String)> = Vec::new();
    if let Some(when) = when {
        for (name, condition) in &when.query {
            if let Some(value) = condition.example() {
                query.push((name.clone(), value));
            }
        }
    }
    for param in operation
        .params
        .iter()
        .filter(|p| p.location == ParamLocation::Query && p.required)
    {
        let constrained = when.is_some_and(|w| w.query.iter().any(|(n, _)| n == &param.name));
        if !constrained {
            if let Some(value) = param_example(operation, ParamLocation::Query, &param.name) {
                query.push((param.name.clone(), value));
            }
        }
    }

    let mut headers: Vec<(String, String)> = Vec::new();
    for param in operation
        .params
        .iter()
        .filter(|p| p.location == ParamLocation::Header && p.required)
    {
        if let Some(value) = param_example(operation, ParamLocation::Header, &param.name) {
            headers.push((param.name.clone(), value));
        }
    }
    let mut request = SyntheticRequest {
        method: operation.method.clone(),
        path,
        query,
        headers,
        body: None,
        content_type: None,
    };
    if let Some(when) = when {
        for (name, condition) in &when.headers {
            match condition.example() {
                Some(value) => request.set_header(name.as_str(), value),
                None => request
                    .headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_str())),
            }
        }
    }

    if let Some(body_spec) = &operation.request_body {
        let media = body_spec
            .content
            .iter()
            .find(|m| crate::media::is_json_media(&m.media_type))
            .or_else(|| body_spec.content.first());
        if let Some(media) = media {
            let mut body = media
                .example
                .clone()
                .or_else(|| {
                    media
                        .schema
                        .as_ref()
                        .map(|s| schema::minimal_instance(s, &model.schema_root))
                })
                .unwrap_or_else(|| json!({}));
            if let Some(when) = when {
                for condition in &when.body {
                    satisfy(
                        &mut body,
                        &condition.expression,
                        condition.path.json_path(),
                        &condition.condition,
                    );
                }
            }
            request.body = Some(body);
            request.content_type = Some(media.media_type.clone());
        }
    }
    if let Some(content_type) = request.content_type.clone() {
        if request.header("Content-Type").is_none() {
            request
                .headers
                .push(("Content-Type".to_string(), content_type));
        }
    }
    request
}

/// Where a condition looks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Path(String),
    Query(String),
    Header(String),
    Body(String),
}

fn keys_of(when: &crate::scenario::matchers::When) -> Vec<(Key, &Condition)> {
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
            let path = serde_json_path::JsonPath::parse(expression).ok()?;
            let body = request.body.as_ref()?;
            path.query(body).first().map(scalar_text)
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
            let Ok(path) = serde_json_path::JsonPath::parse(expression) else {
                return;
            };
            let body = request.body.get_or_insert_with(|| json!({}));
            let condition = match value {
                Some(value) => Condition::Equals(value),
                None => Condition::Present(false),
            };
            satisfy(body, expression, &path, &condition);
        }
    }
}

fn utf8_percent_encode_segment(value: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'?')
        .add(b'<')
        .add(b'>')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

/// A value for a parameter: its example, default, first enum value, or a
/// minimal instance of its schema.
fn param_example(operation: &Operation, location: ParamLocation, name: &str) -> Option<String> {
    let param = operation
        .params
        .iter()
        .find(|p| p.location == location && p.name == name)?;
    let value = param
        .example
        .clone()
        .or_else(|| param.schema.get("default").cloned())
        .or_else(|| param.schema.get("enum").and_then(|e| e.get(0)).cloned())
        .unwrap_or_else(|| {
            let generated = schema::minimal_instance(&param.schema, &Value::Null);
            match (location, &generated) {
                // "string" is a poor id; ids are usually small numbers.
                (ParamLocation::Path, Value::String(s)) if s == "string" => json!("1"),
                _ => generated,
            }
        });
    Some(match value {
        Value::String(s) => s,
        Value::Array(items) => items.first().map(scalar_text).unwrap_or_default(),
        other => scalar_text(&other),
    })
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One step of a simple JSONPath, enough to build what a condition selects.
#[derive(Debug, PartialEq)]
enum Step {
    Name(String),
    Index(usize),
    Wildcard,
    /// `[?(@.key=='value')]`
    Filter(String, String),
}

fn parse_steps(expression: &str) -> Option<Vec<Step>> {
    let mut rest = expression.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            if let Some(after_star) = after.strip_prefix('*') {
                steps.push(Step::Wildcard);
                rest = after_star;
                continue;
            }
            let end = after.find(['.', '[']).unwrap_or(after.len());
            steps.push(Step::Name(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let inner = after[..close].trim();
            rest = &after[close + 1..];
            if inner == "*" {
                steps.push(Step::Wildcard);
            } else if let Ok(index) = inner.parse::<usize>() {
                steps.push(Step::Index(index));
            } else if let Some(quoted) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\''))
            {
                steps.push(Step::Name(quoted.to_string()));
            } else if let Some(filter) = inner.strip_prefix('?') {
                let filter = filter.trim().trim_start_matches('(').trim_end_matches(')');
                let (key, value) = filter.split_once("==")?;
                let key = key.trim().strip_prefix("@.")?.to_string();
                let value = value
                    .trim()
                    .trim_matches('\'')
                    .trim_matches('"')
                    .to_string();
                steps.push(Step::Filter(key, value));
            } else {
                return None;
            }
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Makes `body` satisfy `condition` at `expression`: replace what the path
/// selects, or build the path when it selects nothing.
fn satisfy(
    body: &mut Value,
    expression: &str,
    path: &serde_json_path::JsonPath,
    condition: &Condition,
) {
    let pointers: Vec<String> = path
        .query_located(body)
        .locations()
        .map(|l| l.to_json_pointer())
        .collect();
    if let Condition::Present(false) = condition {
        for pointer in pointers.iter().rev() {
            remove_pointer(body, pointer);
        }
        return;
    }
    let present = matches!(condition, Condition::Present(true));
    if !pointers.is_empty() {
        if present {
            return;
        }
        let Some(text) = condition.example() else {
            return;
        };
        for pointer in &pointers {
            if let Some(slot) = body.pointer_mut(pointer) {
                *slot = typed_like(slot, &text);
            }
        }
        return;
    }
    let Some(steps) = parse_steps(expression) else {
        return;
    };
    let leaf = if present {
        json!({})
    } else {
        condition
            .example()
            .map(Value::String)
            .unwrap_or(Value::Null)
    };
    build_path(body, &steps, leaf);
}

fn typed_like(existing: &Value, text: &str) -> Value {
    match existing {
        Value::Number(_) => text
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or_else(|_| json!(text)),
        Value::Bool(_) => text
            .parse::<bool>()
            .map(Value::Bool)
            .unwrap_or_else(|_| json!(text)),
        _ => Value::String(text.to_string()),
    }
}

fn build_path(target: &mut Value, steps: &[Step], leaf: Value) {
    let Some((step, rest)) = steps.split_first() else {
        if !leaf.is_object() || !target.is_object() {
            *target = leaf;
        }
        return;
    };
    let next_is_array = matches!(
        rest.first(),
        Some(Step::Index(_) | Step::Wildcard | Step::Filter(..))
    );
    let empty = || if next_is_array { json!([]) } else { json!({}) };
    match step {
        Step::Name(name) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Some(map) = target.as_object_mut() {
                let child = map.entry(name.clone()).or_insert_with(empty);
                build_path(child, rest, leaf);
            }
        }
        Step::Index(index) => {
            let array = ensure_array(target);
            while array.len() <= *index {
                array.push(empty());
            }
            build_path(&mut array[*index], rest, leaf);
        }
        Step::Wildcard => {
            let array = ensure_array(target);
            array.push(empty());
            if let Some(last) = array.last_mut() {
                build_path(last, rest, leaf);
            }
        }
        Step::Filter(key, value) => {
            let array = ensure_array(target);
            let position = array
                .iter()
                .position(|item| item.get(key).and_then(Value::as_str) == Some(value.as_str()));
            let index = match position {
                Some(index) => index,
                None => {
                    let mut item = Map::new();
                    item.insert(key.clone(), json!(value));
                    array.push(Value::Object(item));
                    array.len() - 1
                }
            };
            build_path(&mut array[index], rest, leaf);
        }
    }
}

fn ensure_array(target: &mut Value) -> &mut Vec<Value> {
    if !target.is_array() {
        *target = json!([]);
    }
    match target {
        Value::Array(array) => array,
        _ => unreachable!("just made an array"),
    }
}

fn remove_pointer(body: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match body.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&key);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = key.parse::<usize>() {
                if index < items.len() {
                    items.remove(index);
                }
            }
        }
        _ => {}
    }
}

/// The patient a GP Connect request is about: the body's `patientNHSNumber`,
/// else an NHS-number identifier in the query, else patient 2 (MEAKIN).
pub fn patient_nhs_number(request: &SyntheticRequest) -> String {
    if let Some(value) = request
        .body
        .as_ref()
        .and_then(|body| fhir_param_value(body, "patientNHSNumber"))
        .and_then(|identifier| identifier.get("value"))
        .and_then(Value::as_str)
    {
        return value.to_string();
    }
    for (name, value) in &request.query {
        if name == "identifier" && value.contains("nhs-number|") {
            if let Some((_, number)) = value.split_once('|') {
                return number.to_string();
            }
        }
    }
    "9658218873".to_string()
}

/// The practice a DSTU2 organisation-level JWT's `requested_record` names.
pub const RECORD_ODS_CODE: &str = "A20047";

/// The identity a generated GP Connect JWT claims.
#[derive(Debug, Clone, Copy)]
pub struct JwtRequest<'a> {
    pub era: Era,
    /// `patient` or `organization`.
    pub record_kind: &'a str,
    pub write: bool,
    pub nhs_number: &'a str,
    pub ods_code: &'a str,
    /// UNIX seconds.
    pub now: i64,
}

/// Who a generated GP Connect JWT says is asking: the consumer's values.
/// The Postman export puts the same values in its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIdentity {
    pub iss: String,
    pub aud: String,
    /// `requesting_practitioner.id`, and so `sub`.
    pub practitioner_id: String,
    pub practitioner_sds_user_id: String,
    pub practitioner_family: String,
    pub practitioner_given: String,
    pub practitioner_prefix: String,
    /// DSTU2's `practitionerRole` job role code.
    pub practitioner_job_role: String,
    pub organization_ods_code: String,
    pub organization_name: String,
    pub device_id: String,
    pub device_system: String,
    pub device_value: String,
    pub device_model: String,
    pub device_version: String,
}

impl Default for JwtIdentity {
    fn default() -> Self {
        Self {
            iss: "https://consumer.example.org".into(),
            aud: "https://authorize.fhir.nhs.net/token".into(),
            practitioner_id: "1".into(),
            practitioner_sds_user_id: "G13579135".into(),
            practitioner_family: "Consumer".into(),
            practitioner_given: "Test".into(),
            practitioner_prefix: "Dr".into(),
            practitioner_job_role: "R0260".into(),
            organization_ods_code: "GPCA0001".into(),
            organization_name: "Consumer Organisation".into(),
            device_id: "1".into(),
            device_system: "https://consumer.example.org/device".into(),
            device_value: "gpconnect-mock".into(),
            device_model: "gpconnect-mock".into(),
            device_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The claims of DOMAIN.md §4 for the era, with the default identity.
pub fn jwt_claims(request: &JwtRequest<'_>) -> Value {
    jwt_claims_as(request, &JwtIdentity::default())
}

/// The claims of DOMAIN.md §4 for the era, claiming `identity`.
pub fn jwt_claims_as(request: &JwtRequest<'_>, identity: &JwtIdentity) -> Value {
    let scope = format!(
        "{}/*.{}",
        request.record_kind,
        if request.write { "write" } else { "read" }
    );
    let (nhs_system, ods_system, sds_system) = jwt_systems(request.era);
    let mut claims = json!({
        "iss": identity.iss,
        "sub": identity.practitioner_id,
        "aud": identity.aud,
        "exp": request.now + 300,
        "iat": request.now,
        "reason_for_request": "directcare",
        "requested_scope": scope,
        "requesting_device": {
            "resourceType": "Device", "id": identity.device_id,
            "identifier": [{"system": identity.device_system, "value": identity.device_value}],
            "model": identity.device_model, "version": identity.device_version
        },
        "requesting_organization": {
            "resourceType": "Organization", "id": "1",
            "identifier": [{"system": ods_system, "value": identity.organization_ods_code}],
            "name": identity.organization_name
        },
    });
    let practitioner = match request.era {
        Era::Dstu2 => json!({
            "resourceType": "Practitioner", "id": identity.practitioner_id,
            "name": {
                "family": [identity.practitioner_family],
                "given": [identity.practitioner_given],
                "prefix": [identity.practitioner_prefix]
            },
            "identifier": [{"system": sds_system, "value": identity.practitioner_sds_user_id}],
            "practitionerRole": [{"role": {"coding": [{"system": "http://fhir.nhs.net/ValueSet/sds-job-role-name-1", "code": identity.practitioner_job_role}]}}]
        }),
        Era::Stu3 => json!({
            "resourceType": "Practitioner", "id": identity.practitioner_id,
            "name": [{
                "family": identity.practitioner_family,
                "given": [identity.practitioner_given],
                "prefix": [identity.practitioner_prefix]
            }],
            "identifier": [{"system": sds_system, "value": identity.practitioner_sds_user_id}]
        }),
    };
    claims["requesting_practitioner"] = practitioner;
    if request.era == Era::Dstu2 {
        claims["requested_record"] = if request.record_kind == "patient" {
            json!({"resourceType": "Patient", "identifier": [{"system": nhs_system, "value": request.nhs_number}]})
        } else {
            json!({"resourceType": "Organization", "identifier": [{"system": ods_system, "value": request.ods_code}]})
        };
    }
    claims
}

/// The (NHS number, ODS code, SDS user id) identifier systems of the JWT's
/// claims in `era` (DSTU2's SDS system lacks `/Id/`, as GP Connect 0.x has it).
pub fn jwt_systems(era: Era) -> (&'static str, &'static str, &'static str) {
    match era {
        Era::Dstu2 => (
            "http://fhir.nhs.net/Id/nhs-number",
            "http://fhir.nhs.net/Id/ods-organization-code",
            "http://fhir.nhs.net/sds-user-id",
        ),
        Era::Stu3 => (
            "https://fhir.nhs.uk/Id/nhs-number",
            "https://fhir.nhs.uk/Id/ods-organization-code",
            "https://fhir.nhs.uk/Id/sds-user-id",
        ),
    }
}

/// An unsigned JWT: `{"alg":"none","typ":"JWT"}`, the claims, an empty signature.
pub fn unsigned_jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn satisfied(body: Value, expression: &str, condition: Condition) -> Value {
        let mut body = body;
        let path = serde_json_path::JsonPath::parse(expression).expect("path");
        satisfy(&mut body, expression, &path, &condition);
        body
    }

    #[test]
    fn replaces_selected_values_and_builds_filtered_paths() {
        let expression =
            "$.parameter[?(@.name=='recordSection')].valueCodeableConcept.coding[0].code";
        let existing = json!({"parameter": [{"name": "recordSection", "valueCodeableConcept": {"coding": [{"code": "SUM"}]}}]});
        let body = satisfied(existing, expression, Condition::Equals("MED".into()));
        assert_eq!(
            body["parameter"][0]["valueCodeableConcept"]["coding"][0]["code"],
            "MED"
        );
        let body = satisfied(json!({}), expression, Condition::Equals("ALL".into()));
        assert_eq!(
            body,
            json!({"parameter": [{"name": "recordSection", "valueCodeableConcept": {"coding": [{"code": "ALL"}]}}]})
        );
        let body = satisfied(
            json!({"a": 1}),
            "$.parameter[?(@.name=='timePeriod')]",
            Condition::Present(true),
        );
        assert_eq!(body["parameter"][0]["name"], "timePeriod");
        let body = satisfied(
            body,
            "$.parameter[?(@.name=='timePeriod')]",
            Condition::Present(false),
        );
        assert_eq!(body["parameter"], json!([]));
    }

    #[test]
    fn jwt_is_unsigned_with_300_second_lifetime() {
        let claims = jwt_claims(&JwtRequest {
            era: Era::Dstu2,
            record_kind: "patient",
            write: false,
            nhs_number: "9658218873",
            ods_code: "A20047",
            now: 1000,
        });
        assert_eq!(claims["exp"], 1300);
        assert_eq!(
            claims["requested_record"]["identifier"][0]["value"],
            "9658218873"
        );
        let token = unsigned_jwt(&claims);
        assert!(token.ends_with('.') && token.matches('.').count() == 2);
        assert!(!token.contains('='));
    }
}

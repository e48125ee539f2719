//! Scenario files: which answer an operation gives to which request.
//!
//! Every `*.yaml`/`*.yml` under the scenarios directory, recursively, names
//! one operation and lists scenarios, each a `when` (conditions that must all
//! hold) and a `then` (status, headers, body template, delay). Selection
//! takes the operation's scenarios in file order (files sorted by path) and
//! the first whose `when` holds wins; the header `X-Mock-Scenario` forces one
//! by name.

pub mod body_path;
pub mod matchers;
pub mod stateful;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};
use indexmap::IndexMap;
use regex::Regex;
use serde::Deserialize;
use serde_json_path::JsonPath;

use crate::error::{line_of, LoadError};
use crate::request::MockRequest;
use crate::spec::{ApiModel, Operation};
use crate::template::Templates;
use body_path::BodyPath;
use matchers::{BodyCondition, Condition, Miss, When};
use stateful::{
    ActionDef, StateAction, StateCondition, StateConditionDef, StateThen, StateView, StateWhen,
};

use crate::state::Seed;

/// The header a client sends to force a scenario by name.
pub const FORCE_HEADER: &str = "x-mock-scenario";

/// A header value of `then.headers`: fixed, or a template rendered per request.
#[derive(Debug, Clone)]
pub enum HeaderSource {
    Fixed(HeaderValue),
    Template(String),
}

/// The `then` of a scenario, resolved.
#[derive(Debug, Clone)]
pub struct Then {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderSource)>,
    /// Name of the body template in the registry; `None` is an empty body.
    pub body_template: Option<String>,
    pub delay: Duration,
    /// Serve this scenario even when the request breaks the contract.
    pub skip_checks: bool,
    /// The `Content-Type` of its answers: the operation's declared media
    /// type for `status`, worked out once.
    pub content_type: Option<HeaderValue>,
    /// Whether that media type is JSON, so its bodies must parse.
    pub json_body: bool,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// The scenario file, as labelled in errors (`scenarios/patient/read.yaml`).
    pub file: String,
    /// The line of its `name:`.
    pub line: usize,
    pub when: When,
    pub then: Then,
    /// The named state machine `requires_state`/`sets_state` speak of.
    pub machine: String,
    pub state_when: StateWhen,
    pub state_then: StateThen,
}

impl Scenario {
    pub fn is_stateful(&self) -> bool {
        !self.state_when.is_empty() || !self.state_then.is_empty()
    }
}

/// All scenarios of a snapshot, grouped by operation index.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSet {
    by_operation: Vec<Vec<Scenario>>,
    /// Per operation: does any scenario read or change state?
    stateful: Vec<bool>,
    seeds: Vec<Seed>,
    files: Vec<String>,
}

/// The choice made for a request.
#[derive(Debug)]
pub enum Selection<'a> {
    Scenario(&'a Scenario),
    /// `X-Mock-Scenario` named a scenario the operation does not have.
    UnknownForced(String),
    /// No scenario matched; the nearest miss, if the operation has scenarios.
    None(Option<(&'a Scenario, Miss)>),
}

impl ScenarioSet {
    pub fn for_operation(&self, operation: usize) -> &[Scenario] {
        self.by_operation
            .get(operation)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Requests to a stateful operation take the state writer lock.
    pub fn is_stateful(&self, operation: usize) -> bool {
        self.stateful.get(operation).copied().unwrap_or(false)
    }

    pub fn seeds(&self) -> &[Seed] {
        &self.seeds
    }

    pub fn count(&self) -> usize {
        self.by_operation.iter().map(Vec::len).sum()
    }

    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Picks the scenario for a request; `state` is needed by stateful
    /// scenarios (without it their state conditions do not hold).
    pub fn select<'a>(
        &'a self,
        operation: usize,
        request: &MockRequest,
        path_params: &[(String, String)],
        state: Option<&StateView<'_>>,
    ) -> Selection<'a> {
        let scenarios = self.for_operation(operation);
        if let Some(forced) = request.header(FORCE_HEADER) {
            return match scenarios.iter().find(|s| s.name == forced) {
                Some(scenario) => Selection::Scenario(scenario),
                None => Selection::UnknownForced(forced.to_string()),
            };
        }
        // The first miss is described (which allocates) only when no
        // scenario matches: a request that matches never pays for it.
        let mut first_miss: Option<(&Scenario, Option<Miss>)> = None;
        for scenario in scenarios {
            if !scenario.when.holds(request, path_params) {
                first_miss.get_or_insert((scenario, None));
                continue;
            }
            match scenario.state_when.check(&scenario.machine, state) {
                Ok(()) => return Selection::Scenario(scenario),
                Err(miss) => {
                    first_miss.get_or_insert((scenario, Some(miss)));
                }
            }
        }
        Selection::None(first_miss.and_then(|(scenario, miss)| {
            let miss = miss.or_else(|| scenario.when.check(request, path_params).err())?;
            Some((scenario, miss))
        }))
    }
}

// ---- the file format -------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    /// The operation key: operationId, or `METHOD /path`.
    operation: String,
    #[serde(default)]
    scenarios: Vec<ScenarioDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioDef {
    /// Unique within the operation.
    name: String,
    #[serde(default)]
    when: WhenDef,
    then: ThenDef,
    /// The state machine of `requires_state`/`sets_state` (default `default`).
    state_machine: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhenDef {
    #[serde(default)]
    path: IndexMap<String, serde_yaml::Value>,
    #[serde(default)]
    query: IndexMap<String, serde_yaml::Value>,
    #[serde(default)]
    headers: IndexMap<String, serde_yaml::Value>,
    #[serde(default)]
    body: IndexMap<String, serde_yaml::Value>,
    /// Conditions on state documents.
    #[serde(default)]
    state: Vec<StateConditionDef>,
    /// The scenario's state machine must be in this state.
    requires_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThenDef {
    #[serde(default = "default_status")]
    status: u16,
    #[serde(default)]
    headers: IndexMap<String, serde_yaml::Value>,
    template: Option<String>,
    body: Option<String>,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    skip_checks: bool,
    /// Actions on state documents, applied after the answer renders.
    #[serde(default)]
    state: Vec<ActionDef>,
    /// Moves the scenario's state machine to this state.
    sets_state: Option<String>,
}

fn default_status() -> u16 {
    200
}

/// Loads every scenario file under `dir`. Inline bodies and templated header
/// values are registered into `templates`. `label` names the directory in
/// errors. All problems are reported together.
pub fn load_dir(
    dir: &Path,
    label: &str,
    model: &ApiModel,
    templates: &mut Templates,
) -> Result<ScenarioSet, Vec<LoadError>> {
    let mut set = ScenarioSet {
        by_operation: vec![Vec::new(); model.operations.len()],
        stateful: vec![false; model.operations.len()],
        seeds: Vec::new(),
        files: Vec::new(),
    };
    let mut errors = Vec::new();
    let mut files = Vec::new();
    if dir.exists() {
        if let Err(error) = collect_yaml(dir, &mut files) {
            return Err(vec![LoadError::new(
                label,
                None,
                format!("cannot read the scenarios directory: {error}"),
            )]);
        }
    }
    files.sort();
    let keys: HashMap<&str, usize> = model
        .operations
        .iter()
        .enumerate()
        .map(|(index, op)| (op.key.as_str(), index))
        .collect();
    for path in files {
        let relative = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let file = format!("{}/{}", label.trim_end_matches('/'), relative);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                errors.push(LoadError::new(&file, None, format!("cannot read: {error}")));
                continue;
            }
        };
        set.files.push(file.clone());
        if is_seed_file(&text) {
            match load_seed(&text, &file, templates) {
                Ok(seed) => {
                    if set
                        .seeds
                        .iter()
                        .any(|other| other.collection == seed.collection)
                    {
                        errors.push(LoadError::new(
                            &file,
                            line_of(&text, "collection:", 1),
                            format!("collection `{}` is seeded twice", seed.collection),
                        ));
                    } else {
                        set.seeds.push(seed);
                    }
                }
                Err(error) => errors.push(error),
            }
            continue;
        }
        load_file(&text, &file, model, &keys, templates, &mut set, &mut errors);
    }
    for (operation, scenarios) in set.by_operation.iter().enumerate() {
        set.stateful[operation] = scenarios.iter().any(Scenario::is_stateful);
    }
    number_body_slots(&mut set);
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors)
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect_yaml(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn load_file(
    text: &str,
    file: &str,
    model: &ApiModel,
    keys: &HashMap<&str, usize>,
    templates: &mut Templates,
    set: &mut ScenarioSet,
    errors: &mut Vec<LoadError>,
) {
    let parsed: ScenarioFile = match serde_yaml::from_str(text) {
        Ok(parsed) => parsed,
        Err(error) => {
            let line = error.location().map(|l| l.line());
            errors.push(LoadError::new(file, line, yaml_message(&error)));
            return;
        }
    };
    let Some(&operation_index) = keys.get(parsed.operation.as_str()) else {
        let mut nearest: Vec<(usize, &str)> = keys
            .keys()
            .map(|key| (strsim::levenshtein(key, &parsed.operation), *key))
            .collect();
        nearest.sort();
        let suggestions: Vec<&str> = nearest.iter().take(3).map(|(_, key)| *key).collect();
        errors.push(LoadError::new(
            file,
            line_of(text, "operation:", 1),
            format!(
                "unknown operation `{}`; the nearest operation keys are: {}",
                parsed.operation,
                suggestions.join(", ")
            ),
        ));
        return;
    };
    let mut search_from = 1;
    for def in parsed.scenarios {
        let line = line_of(text, &def.name, search_from).unwrap_or(1);
        search_from = line + 1;
        let existing = &set.by_operation[operation_index];
        if let Some(other) = existing.iter().find(|s| s.name == def.name) {
            errors.push(LoadError::new(
                file,
                Some(line),
                format!(
                    "duplicate scenario name `{}` for operation {} (first defined at {}:{})",
                    def.name, model.operations[operation_index].key, other.file, other.line
                ),
            ));
            continue;
        }
        let operation = &model.operations[operation_index];
        match compile_scenario(def, operation, file, line, text, templates) {
            Ok(scenario) => set.by_operation[operation_index].push(scenario),
            Err(mut scenario_errors) => errors.append(&mut scenario_errors),
        }
    }
}

/// Gives each distinct body expression of the set one slot, shared by the
/// conditions that use it, whatever their operation: a request's cached
/// selections can never be read for another expression.
fn number_body_slots(set: &mut ScenarioSet) {
    let mut slots: HashMap<String, usize> = HashMap::new();
    let conditions = set
        .by_operation
        .iter_mut()
        .flatten()
        .flat_map(|scenario| scenario.when.body.iter_mut());
    for condition in conditions {
        let next = slots.len();
        condition.slot = *slots.entry(condition.expression.clone()).or_insert(next);
    }
}

/// serde_yaml's message already carries "at line N column M"; keep it, and
/// say which fields exist when a field is unknown.
fn yaml_message(error: &serde_yaml::Error) -> String {
    let message = error.to_string();
    if message.contains("unknown field") {
        format!("{message} (a scenario file has `operation` and `scenarios`; a scenario has `name`, `when`, `then`)")
    } else {
        message
    }
}

fn compile_scenario(
    def: ScenarioDef,
    operation: &Operation,
    file: &str,
    line: usize,
    text: &str,
    templates: &mut Templates,
) -> Result<Scenario, Vec<LoadError>> {
    let mut errors = Vec::new();
    let locate = |needle: &str| line_of(text, needle, line).or(Some(line));
    // A header name, in conditions or in the answer, or an error at its line.
    let checked_header = |name: &str, errors: &mut Vec<LoadError>| match header_name(name) {
        Ok(header) => Some(header),
        Err(message) => {
            errors.push(LoadError::new(
                file,
                locate(name),
                format!("scenario `{}`: {message}", def.name),
            ));
            None
        }
    };
    let mut when = When::default();
    // Compiles one `when` section, reporting each bad condition with its line.
    let conditions = |section: &IndexMap<String, serde_yaml::Value>,
                      place: &str,
                      errors: &mut Vec<LoadError>| {
        let mut out = Vec::new();
        for (name, raw) in section {
            match compile_condition(raw) {
                Ok(condition) => out.push((name.clone(), condition)),
                Err(message) => errors.push(LoadError::new(
                    file,
                    locate(name),
                    format!("scenario `{}`: {place} `{name}`: {message}", def.name),
                )),
            }
        }
        out
    };
    when.path = conditions(&def.when.path, "path", &mut errors);
    when.query = conditions(&def.when.query, "query", &mut errors);
    for (name, raw) in &def.when.headers {
        let Some(header) = checked_header(name, &mut errors) else {
            continue;
        };
        match compile_condition(raw) {
            Ok(condition) => when.headers.push((header, condition)),
            Err(message) => errors.push(LoadError::new(
                file,
                locate(name),
                format!("scenario `{}`: header `{name}`: {message}", def.name),
            )),
        }
    }
    for (expression, raw) in &def.when.body {
        let path = match BodyPath::parse(expression) {
            Ok(path) => path,
            Err(error) => {
                errors.push(LoadError::new(
                    file,
                    locate(expression),
                    format!(
                        "scenario `{}`: body key `{expression}` is not a valid JSONPath: {error}",
                        def.name
                    ),
                ));
                continue;
            }
        };
        match compile_condition(raw) {
            Ok(condition) => when.body.push(BodyCondition {
                expression: expression.clone(),
                path,
                condition,
                // Numbered once the whole set is loaded.
                slot: 0,
            }),
            Err(message) => errors.push(LoadError::new(
                file,
                locate(expression),
                format!("scenario `{}`: body `{expression}`: {message}", def.name),
            )),
        }
    }

    let then_line = line_of(text, "then:", line).unwrap_or(line);
    let status = match StatusCode::from_u16(def.then.status) {
        Ok(status) => status,
        Err(_) => {
            errors.push(LoadError::new(
                file,
                locate("status:"),
                format!(
                    "scenario `{}`: status {} is not an HTTP status (100-999)",
                    def.name, def.then.status
                ),
            ));
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let media = crate::media::content_type_for(operation, status.as_u16());
    let json_body = crate::media::is_json_media(&media);
    // A media type that is no header value is not sent (as before).
    let content_type = HeaderValue::from_str(&media).ok();
    let body_template = match (&def.then.template, &def.then.body) {
        (Some(_), Some(_)) => {
            errors.push(LoadError::new(
                file,
                Some(then_line),
                format!(
                    "scenario `{}`: give `template` or `body`, not both",
                    def.name
                ),
            ));
            None
        }
        (Some(template), None) => {
            if !templates.has(template) {
                errors.push(LoadError::new(
                    file,
                    locate("template:"),
                    format!("scenario `{}`: template `{template}` not found under the templates directory", def.name),
                ));
            }
            Some(template.clone())
        }
        (None, Some(body)) => {
            let name = format!("{file}#{}", def.name);
            let body_line = line_of(text, "body:", then_line).unwrap_or(then_line);
            match templates.register(&name, body, file, body_line) {
                Ok(()) => Some(name),
                Err(error) => {
                    errors.push(error);
                    None
                }
            }
        }
        (None, None) => None,
    };
    let mut headers = Vec::new();
    for (name, raw) in &def.then.headers {
        let value = match scalar_text(raw) {
            Some(value) => value,
            None => {
                errors.push(LoadError::new(
                    file,
                    locate(name),
                    format!(
                        "scenario `{}`: header `{name}` must have a text value",
                        def.name
                    ),
                ));
                continue;
            }
        };
        let Some(header) = checked_header(name, &mut errors) else {
            continue;
        };
        if value.contains("{{") {
            let template_name = format!("{file}#{}#header:{name}", def.name);
            match templates.register(&template_name, &value, file, locate(name).unwrap_or(line)) {
                Ok(()) => headers.push((header, HeaderSource::Template(template_name))),
                Err(error) => errors.push(error),
            }
        } else {
            match HeaderValue::from_str(&value) {
                Ok(fixed) => headers.push((header, HeaderSource::Fixed(fixed))),
                Err(_) => errors.push(LoadError::new(
                    file,
                    locate(name),
                    format!(
                        "scenario `{}`: header `{name}` value is not valid in HTTP",
                        def.name
                    ),
                )),
            }
        }
    }
    let machine = def
        .state_machine
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let mut template_index = 0;
    let mut id_template = |template: &str, what: &str, errors: &mut Vec<LoadError>| -> String {
        template_index += 1;
        let name = format!("{file}#{}#state-{template_index}", def.name);
        if let Err(error) = templates.register(&name, template, file, locate(what).unwrap_or(line))
        {
            errors.push(error);
        }
        name
    };
    let mut state_when = StateWhen {
        conditions: Vec::new(),
        requires_state: def.when.requires_state.clone(),
    };
    for condition in &def.when.state {
        let id = id_template(&condition.id, "id:", &mut errors);
        let mut fields = Vec::new();
        for (expression, raw) in &condition.fields {
            match (JsonPath::parse(expression), compile_condition(raw)) {
                (Ok(path), Ok(compiled)) => fields.push((expression.clone(), path, compiled)),
                (Err(error), _) => errors.push(LoadError::new(file, locate(expression), format!("scenario `{}`: state field `{expression}` is not a valid JSONPath: {error}", def.name))),
                (_, Err(message)) => errors.push(LoadError::new(file, locate(expression), format!("scenario `{}`: state field `{expression}`: {message}", def.name))),
            }
        }
        state_when.conditions.push(StateCondition {
            collection: condition.collection.clone(),
            id_template: id,
            id_source: condition.id.clone(),
            exists: condition.exists,
            fields,
        });
    }
    let mut state_then = StateThen {
        actions: Vec::new(),
        sets_state: def.then.sets_state.clone(),
    };
    for action in &def.then.state {
        let compiled = match (&action.store, &action.update, &action.remove) {
            (Some(store), None, None) => StateAction::Store {
                collection: store.collection.clone(),
                id_template: store
                    .id
                    .as_ref()
                    .map(|id| id_template(id, "store:", &mut errors)),
                from: store.from,
            },
            (None, Some(update), None) => StateAction::Update {
                collection: update.collection.clone(),
                id_template: id_template(&update.id, "update:", &mut errors),
                from: update.from,
                set: update
                    .set
                    .iter()
                    .map(|(field, value)| (field.clone(), id_template(value, field, &mut errors)))
                    .collect(),
            },
            (None, None, Some(remove)) => StateAction::Remove {
                collection: remove.collection.clone(),
                id_template: id_template(&remove.id, "remove:", &mut errors),
            },
            _ => {
                errors.push(LoadError::new(file, locate("state:"), format!("scenario `{}`: each `then.state` entry is exactly one of `store`, `update`, `remove`", def.name)));
                continue;
            }
        };
        state_then.actions.push(compiled);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Scenario {
        name: def.name,
        file: file.to_string(),
        line,
        machine,
        state_when,
        state_then,
        when,
        then: Then {
            status,
            headers,
            body_template,
            delay: Duration::from_millis(def.then.delay_ms),
            skip_checks: def.then.skip_checks,
            content_type,
            json_body,
        },
    })
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))
}

/// A seed file names a `collection` instead of an `operation`.
fn is_seed_file(text: &str) -> bool {
    text.lines().any(|line| line.starts_with("collection:"))
        && !text.lines().any(|line| line.starts_with("operation:"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    collection: String,
    #[serde(default)]
    documents: Vec<serde_json::Value>,
}

/// Seed files are Handlebars templates (so dates can be relative to now),
/// rendered once per load, then read as YAML.
fn load_seed(text: &str, file: &str, templates: &mut Templates) -> Result<Seed, LoadError> {
    let name = format!("{file}#seed");
    templates.register(&name, text, file, 1)?;
    let rendered = templates
        .render(&name, &handlebars::Context::null(), &Default::default())
        .map_err(|failure| {
            LoadError::new(file, failure.line, format!("seed template: {failure}"))
        })?;
    let parsed: SeedFile = serde_yaml::from_str(&rendered)
        .map_err(|error| LoadError::new(file, error.location().map(|l| l.line()), format!("seed file (after rendering): {error} (a seed file has `collection` and `documents`)")))?;
    let mut documents = IndexMap::new();
    for (index, document) in parsed.documents.into_iter().enumerate() {
        let id = match document.get("id") {
            Some(serde_json::Value::String(id)) => id.clone(),
            Some(serde_json::Value::Number(id)) => id.to_string(),
            _ => {
                return Err(LoadError::new(
                    file,
                    None,
                    format!(
                        "documents[{index}] of collection `{}` has no text or number `id`",
                        parsed.collection
                    ),
                ));
            }
        };
        if documents.insert(id.clone(), document).is_some() {
            return Err(LoadError::new(
                file,
                None,
                format!(
                    "collection `{}` has two documents with id `{id}`",
                    parsed.collection
                ),
            ));
        }
    }
    Ok(Seed {
        collection: parsed.collection,
        documents,
        file: file.to_string(),
    })
}

fn scalar_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

const CONDITION_FORMS: &str =
    "expected a string, or one of {equals: X}, {matches: REGEX}, {contains: X}, {present: true|false}, {one_of: [A, B]}";

fn compile_condition(raw: &serde_yaml::Value) -> Result<Condition, String> {
    if let Some(text) = scalar_text(raw) {
        return Ok(Condition::Equals(text));
    }
    let serde_yaml::Value::Mapping(map) = raw else {
        return Err(CONDITION_FORMS.to_string());
    };
    if map.len() != 1 {
        return Err(format!(
            "a condition has exactly one operator; {CONDITION_FORMS}"
        ));
    }
    let Some((key, value)) = map.iter().next() else {
        return Err(CONDITION_FORMS.to_string());
    };
    let operator = key.as_str().unwrap_or("");
    let need_text = |value: &serde_yaml::Value| {
        scalar_text(value).ok_or_else(|| format!("`{operator}` takes a text value"))
    };
    match operator {
        "equals" => Ok(Condition::Equals(need_text(value)?)),
        "contains" => Ok(Condition::Contains(need_text(value)?)),
        "matches" => {
            let pattern = need_text(value)?;
            Regex::new(&pattern)
                .map(Condition::Matches)
                .map_err(|error| {
                    // The regex crate draws a caret diagram over several lines; keep the last.
                    let text = error.to_string();
                    let reason = text
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim_start_matches("error: ")
                        .to_string();
                    format!("bad regex {pattern:?}: {reason}")
                })
        }
        "present" => match value {
            serde_yaml::Value::Bool(b) => Ok(Condition::Present(*b)),
            _ => Err("`present` takes true or false".to_string()),
        },
        "one_of" => match value {
            serde_yaml::Value::Sequence(items) => items
                .iter()
                .map(|item| {
                    scalar_text(item)
                        .ok_or_else(|| "`one_of` takes a list of text values".to_string())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Condition::OneOf),
            _ => Err("`one_of` takes a list".to_string()),
        },
        other => Err(format!(
            "unknown condition operator `{other}`; {CONDITION_FORMS}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_compile_with_clear_errors() {
        let parse = |s: &str| compile_condition(&serde_yaml::from_str(s).unwrap());
        assert!(matches!(parse("\"2\""), Ok(Condition::Equals(v)) if v == "2"));
        assert!(matches!(parse("2"), Ok(Condition::Equals(v)) if v == "2"));
        assert!(matches!(
            parse("{present: false}"),
            Ok(Condition::Present(false))
        ));
        assert!(parse("{matches: '('}").unwrap_err().contains("bad regex"));
        assert!(parse("{like: x}")
            .unwrap_err()
            .contains("unknown condition operator `like`"));
    }

    fn default_set() -> ScenarioSet {
        let sources = crate::snapshot::Sources::resolve(None, None, None);
        crate::snapshot::Snapshot::load(&sources, &crate::snapshot::Settings::default(), 1)
            .expect("the default pack loads")
            .apis
            .remove(0)
            .scenarios
    }

    #[test]
    fn default_body_paths_are_walked_and_share_slots_by_expression() {
        let set = default_set();
        let body: Vec<&BodyCondition> = set
            .by_operation
            .iter()
            .flatten()
            .flat_map(|s| s.when.body.iter())
            .collect();
        for condition in &body {
            assert!(
                condition.path.is_walked(),
                "{} is not walked",
                condition.expression
            );
            for other in &body {
                assert_eq!(
                    condition.slot == other.slot,
                    condition.expression == other.expression
                );
            }
        }
        assert!(body.len() >= 20, "only {} body conditions", body.len());
    }

    #[test]
    fn care_record_scenarios_are_chosen_by_their_body_paths() {
        let set = default_set();
        let index = set
            .by_operation
            .iter()
            .position(|s| s.iter().any(|s| s.name == "care-record-SUM"))
            .expect("the care record operation");
        let request = |section: &str, nhs_number: &str| {
            let body = format!(
                r#"{{"resourceType":"Parameters","parameter":[{{"name":"patientNHSNumber","valueIdentifier":{{"value":"{nhs_number}"}}}},{{"name":"recordSection","valueCodeableConcept":{{"coding":[{{"code":"{section}"}}]}}}}]}}"#
            );
            MockRequest::new(
                http::Method::POST,
                "/fhir/Patient/$gpc.getcarerecord",
                http::HeaderMap::new(),
                bytes::Bytes::from(body),
            )
        };
        let chosen = |section: &str, nhs_number: &str| match set.select(
            index,
            &request(section, nhs_number),
            &[],
            None,
        ) {
            Selection::Scenario(scenario) => scenario.name.clone(),
            other => panic!("no scenario: {other:?}"),
        };
        assert_eq!(chosen("SUM", "9658218873"), "care-record-SUM");
        assert_eq!(chosen("MED", "9658218873"), "care-record-MED");
        assert_eq!(chosen("SUM", "9658218865"), "care-record-no-clinical-data");
        assert_eq!(chosen("SUM", "9000000009"), "patient-not-found");
        assert_eq!(chosen("sum", "9658218873"), "invalid-record-section");
    }
}

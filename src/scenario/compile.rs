//! Compiling scenario files: from the YAML as written ([`super::format`]) to
//! the [`Scenario`]s requests are matched against.
//!
//! [`load_dir`] walks the scenarios directory, [`load_file`] reads one file
//! and names its operation, and each scenario is compiled section by
//! section: its `when` ([`compile_when`]), its answer ([`compile_then`]),
//! the answer's headers ([`compile_headers`]) and its state parts
//! ([`compile_state`]). Every problem is reported with the file and the
//! line it is on, and all of them together, not just the first.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use http::{HeaderName, StatusCode};
use indexmap::IndexMap;
use serde_json_path::JsonPath;

use super::body_path::BodyPath;
use super::conditions::{compile_condition, BodyCondition, When};
use super::format::{self, ConditionDef, ScalarDef, ScenarioDef, ScenarioFile, ThenDef};
use super::select::{find_shadowed, number_body_slots, order_for_selection, ScenarioSet};
use super::stateful::{IdsMatch, Lookup, StateAction, StateCondition, StateThen, StateWhen};
use super::{seed, HeaderSource, Scenario, Then};
use crate::contract::{catalogue, Waiver};
use crate::error::{line_of, LoadError};
use crate::pack::{PackDir, PackFile};
use crate::spec::{ApiModel, Operation};
use crate::template::Templates;

/// Loads every scenario file under `dir`; `label` names the directory in
/// errors. See [`load`].
pub fn load_dir(
    dir: &Path,
    label: &str,
    model: &ApiModel,
    templates: &mut Templates,
) -> Result<ScenarioSet, Vec<LoadError>> {
    load_with_label(&PackDir::Disk(dir.to_path_buf()), label, model, templates)
}

/// Loads every scenario and seed file (`*.yaml`, `*.yml`) of `pack`, on
/// disk or embedded. Inline bodies and templated header values are
/// registered into `templates`. All problems are reported together.
pub fn load(
    pack: &PackDir,
    model: &ApiModel,
    templates: &mut Templates,
) -> Result<ScenarioSet, Vec<LoadError>> {
    load_with_label(pack, &pack.label(), model, templates)
}

fn load_with_label(
    pack: &PackDir,
    label: &str,
    model: &ApiModel,
    templates: &mut Templates,
) -> Result<ScenarioSet, Vec<LoadError>> {
    let mut set = ScenarioSet {
        by_operation: vec![Vec::new(); model.operations.len()],
        stateful: vec![false; model.operations.len()],
        writing: vec![false; model.operations.len()],
        ..ScenarioSet::default()
    };
    let mut errors = Vec::new();
    let files: Vec<PackFile> = match pack.files() {
        Ok(files) => files
            .into_iter()
            .filter(|file| file.relative.ends_with(".yaml") || file.relative.ends_with(".yml"))
            .collect(),
        Err(error) => {
            return Err(vec![LoadError::new(
                label,
                None,
                format!("cannot read the scenarios directory: {error}"),
            )])
        }
    };
    let keys: HashMap<&str, usize> = model
        .operations
        .iter()
        .enumerate()
        .map(|(index, op)| (op.key.as_str(), index))
        .collect();
    for pack_file in files {
        let file = format!("{}/{}", label.trim_end_matches('/'), pack_file.relative);
        let text = match pack_file.text {
            Ok(text) => text,
            Err(message) => {
                errors.push(LoadError::new(&file, None, message));
                continue;
            }
        };
        set.files.push(file.clone());
        if seed::is_seed_file(&text) {
            match seed::load_seed(&text, &file, templates) {
                Ok(seed) if set.seeds.iter().any(|s| s.collection == seed.collection) => {
                    errors.push(LoadError::new(
                        &file,
                        line_of(&text, "collection:", 1),
                        format!("collection `{}` is seeded twice", seed.collection),
                    ));
                }
                Ok(seed) => set.seeds.push(seed),
                Err(error) => errors.push(error),
            }
            continue;
        }
        load_file(&text, &file, model, &keys, templates, &mut set, &mut errors);
    }
    for (operation, scenarios) in set.by_operation.iter_mut().enumerate() {
        order_for_selection(scenarios);
        set.stateful[operation] = scenarios.iter().any(Scenario::is_stateful);
        set.writing[operation] = scenarios.iter().any(Scenario::writes_state);
    }
    set.body_slots = number_body_slots(&mut set.by_operation);
    set.shadowed = find_shadowed(&set.by_operation, model);
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors)
    }
}

/// Reads one scenario file into `set`: its operation must exist, its
/// scenario names must be unique within the operation.
fn load_file(
    text: &str,
    file: &str,
    model: &ApiModel,
    keys: &HashMap<&str, usize>,
    templates: &mut Templates,
    set: &mut ScenarioSet,
    errors: &mut Vec<LoadError>,
) {
    let parsed: ScenarioFile = match format::parse(text) {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(LoadError::new(
                file,
                error.line,
                yaml_message(error.message),
            ));
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
    let operation = &model.operations[operation_index];
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
                    def.name, operation.key, other.file, other.line
                ),
            ));
            continue;
        }
        let mut at = Place {
            scenario: &def.name,
            file,
            line,
            text,
            errors,
        };
        if let Some(scenario) = compile_scenario(&def, operation, templates, &mut at) {
            set.by_operation[operation_index].push(scenario);
        }
    }
}

/// The parser's message carries the position; an unknown field already
/// lists the fields its section has, and the hint names the top levels.
fn yaml_message(message: String) -> String {
    if message.contains("unknown field") {
        format!("{message} (a scenario file has `operation` and `scenarios`; a scenario has `name`, `when`, `then`, `state_machine`)")
    } else {
        message
    }
}

/// Where a scenario is, for its errors.
struct Place<'p> {
    scenario: &'p str,
    file: &'p str,
    /// The line of the scenario's `name:`.
    line: usize,
    text: &'p str,
    errors: &'p mut Vec<LoadError>,
}

impl Place<'_> {
    /// The first line from the scenario's on containing `needle`, or the
    /// scenario's own line.
    fn locate(&self, needle: &str) -> usize {
        line_of(self.text, needle, self.line).unwrap_or(self.line)
    }

    /// Reports `message` about this scenario at the line of `needle`.
    fn error(&mut self, needle: &str, message: impl std::fmt::Display) {
        let line = self.locate(needle);
        self.error_at(line, message);
    }

    fn error_at(&mut self, line: usize, message: impl std::fmt::Display) {
        let message = format!("scenario `{}`: {message}", self.scenario);
        self.errors
            .push(LoadError::new(self.file, Some(line), message));
    }

    /// A header name, in conditions or in the answer, or an error at its line.
    fn header(&mut self, name: &str) -> Option<HeaderName> {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(header) => Some(header),
            Err(_) => {
                self.error(name, format!("`{name}` is not a valid header name"));
                None
            }
        }
    }

    /// Registers a template made from a scenario's text, or reports why not.
    fn register(
        &mut self,
        templates: &mut Templates,
        name: &str,
        source: &str,
        line: usize,
    ) -> bool {
        match templates.register(name, source, self.file, line) {
            Ok(()) => true,
            Err(error) => {
                self.errors.push(error);
                false
            }
        }
    }
}

/// Compiles one scenario; `None` when it has errors (reported into `at`).
fn compile_scenario(
    def: &ScenarioDef,
    operation: &Operation,
    templates: &mut Templates,
    at: &mut Place<'_>,
) -> Option<Scenario> {
    let before = at.errors.len();
    let when = compile_when(def, at);
    let then = compile_then(def, operation, templates, at);
    let machine = def
        .state_machine
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let (state_when, state_then) = compile_state(def, templates, at);
    if at.errors.len() > before {
        return None;
    }
    Some(Scenario {
        name: def.name.clone(),
        file: at.file.to_string(),
        line: at.line,
        when,
        then,
        machine,
        state_when,
        state_then,
        priority: def.priority,
    })
}

/// The `when` section: each bad condition is reported with its line.
fn compile_when(def: &ScenarioDef, at: &mut Place<'_>) -> When {
    let mut when = When::default();
    let conditions = |section: &IndexMap<String, ConditionDef>, place: &str, at: &mut Place<'_>| {
        let mut out = Vec::new();
        for (name, raw) in section {
            match compile_condition(raw) {
                Ok(condition) => out.push((name.clone(), condition)),
                Err(message) => at.error(name, format!("{place} `{name}`: {message}")),
            }
        }
        out
    };
    when.path = conditions(&def.when.path, "path", at);
    when.query = conditions(&def.when.query, "query", at);
    for (name, raw) in &def.when.headers {
        let Some(header) = at.header(name) else {
            continue;
        };
        match compile_condition(raw) {
            Ok(condition) => when.headers.push((header, condition)),
            Err(message) => at.error(name, format!("header `{name}`: {message}")),
        }
    }
    for (expression, raw) in &def.when.body {
        let path = match BodyPath::parse(expression) {
            Ok(path) => path,
            Err(error) => {
                at.error(
                    expression,
                    format!("body key `{expression}` is not a valid JSONPath: {error}"),
                );
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
            Err(message) => at.error(expression, format!("body `{expression}`: {message}")),
        }
    }
    when
}

/// The answer: status, content type, body template, headers, delay.
fn compile_then(
    def: &ScenarioDef,
    operation: &Operation,
    templates: &mut Templates,
    at: &mut Place<'_>,
) -> Then {
    let then: &ThenDef = &def.then;
    let then_line = line_of(at.text, "then:", at.line).unwrap_or(at.line);
    let status = match StatusCode::from_u16(then.status) {
        Ok(status) => status,
        Err(_) => {
            at.error(
                "status:",
                format!("status {} is not an HTTP status (100-999)", then.status),
            );
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let media = crate::media::content_type_for(operation, status.as_u16());
    let json_body = crate::media::is_json_media(&media);
    // A media type that is no header value is not sent (as before).
    let content_type = crate::kept::header_value(&media);
    let body_template = match (&then.template, &then.body) {
        (Some(_), Some(_)) => {
            at.error_at(then_line, "give `template` or `body`, not both");
            None
        }
        (Some(template), None) => {
            if !templates.has(template) {
                at.error(
                    "template:",
                    format!("template `{template}` not found under the templates directory"),
                );
            }
            Some(template.clone())
        }
        (None, Some(body)) => {
            let name = format!("{}#{}", at.file, def.name);
            let body_line = line_of(at.text, "body:", then_line).unwrap_or(then_line);
            at.register(templates, &name, body, body_line)
                .then_some(name)
        }
        (None, None) => None,
    };
    let headers = compile_headers(def, &then.headers, templates, at);
    Then {
        status,
        headers,
        body_template,
        delay: Duration::from_millis(then.delay_ms),
        waiver: compile_waiver(then, at),
        content_type,
        json_body,
    }
}

/// `skip_checks` and `skip_rules`; every rule named must be in the catalogue.
fn compile_waiver(then: &ThenDef, at: &mut Place<'_>) -> Waiver {
    if then.skip_checks {
        return Waiver::All;
    }
    let mut rules = Vec::new();
    for name in &then.skip_rules {
        match catalogue::find(name) {
            Some(rule) => rules.push(rule.id),
            None => at.error(
                name,
                format!(
                    "`skip_rules` names `{name}`, which is no rule of the contract (`gpconnect-mock rules` lists them)"
                ),
            ),
        }
    }
    if rules.is_empty() {
        Waiver::None
    } else {
        Waiver::Rules(rules)
    }
}

/// `then.headers`: fixed values, or templates when they contain `{{`.
fn compile_headers(
    def: &ScenarioDef,
    headers: &IndexMap<String, ScalarDef>,
    templates: &mut Templates,
    at: &mut Place<'_>,
) -> Vec<(HeaderName, HeaderSource)> {
    let mut out = Vec::new();
    for (name, raw) in headers {
        let Some(value) = raw.text() else {
            at.error(name, format!("header `{name}` must have a text value"));
            continue;
        };
        let Some(header) = at.header(name) else {
            continue;
        };
        if value.contains("{{") {
            let template_name = format!("{}#{}#header:{name}", at.file, def.name);
            let line = at.locate(name);
            if at.register(templates, &template_name, &value, line) {
                out.push((header, HeaderSource::Template(template_name)));
            }
        } else {
            match crate::kept::header_value(&value) {
                Some(fixed) => out.push((header, HeaderSource::Fixed(fixed))),
                None => at.error(name, format!("header `{name}` value is not valid in HTTP")),
            }
        }
    }
    out
}

/// `when.state`/`requires_state` and `then.state`/`sets_state`. Document
/// ids (and `update.set` values) are registered as templates.
fn compile_state(
    def: &ScenarioDef,
    templates: &mut Templates,
    at: &mut Place<'_>,
) -> (StateWhen, StateThen) {
    let mut template_index = 0;
    let mut id_template = |template: &str, what: &str, at: &mut Place<'_>| -> String {
        template_index += 1;
        let name = format!("{}#{}#state-{template_index}", at.file, def.name);
        let line = at.locate(what);
        at.register(templates, &name, template, line);
        name
    };
    let mut state_when = StateWhen {
        conditions: Vec::new(),
        requires_state: def.when.requires_state.clone(),
    };
    for condition in &def.when.state {
        let (source, many) = match (&condition.id, &condition.ids, condition.matching) {
            (Some(id), None, None) => (id, None),
            (None, Some(ids), Some(matching)) => (ids, Some(matching)),
            (None, Some(ids), None) => {
                at.error(
                    "ids:",
                    "`ids` names several documents: add `match: any` or `match: every`",
                );
                (ids, Some(IdsMatch::Any))
            }
            (Some(id), None, Some(_)) => {
                at.error("match:", "`match` goes with `ids` (several ids), not `id`");
                (id, None)
            }
            _ => {
                at.error(
                    "collection:",
                    "each `when.state` entry names its documents with exactly one of `id`, `ids`",
                );
                continue;
            }
        };
        let lookup = Lookup::parse(source);
        let registered = lookup.as_ref().map_or(source, |lookup| &lookup.value);
        let id = id_template(registered, if many.is_some() { "ids:" } else { "id:" }, at);
        let mut fields = Vec::new();
        for (expression, raw) in &condition.fields {
            match (JsonPath::parse(expression), compile_condition(raw)) {
                (Ok(path), Ok(compiled)) => fields.push((expression.clone(), path, compiled)),
                (Err(error), _) => at.error(
                    expression,
                    format!("state field `{expression}` is not a valid JSONPath: {error}"),
                ),
                (_, Err(message)) => {
                    at.error(expression, format!("state field `{expression}`: {message}"))
                }
            }
        }
        state_when.conditions.push(StateCondition {
            collection: condition.collection.clone(),
            id_template: id,
            id_source: source.clone(),
            many,
            exists: condition.exists,
            fields,
            lookup,
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
                id_template: store.id.as_ref().map(|id| id_template(id, "store:", at)),
                from: store.from,
            },
            (None, Some(update), None) => StateAction::Update {
                collection: update.collection.clone(),
                id_template: match (&update.id, &update.ids) {
                    (Some(id), None) => id_template(id, "update:", at),
                    (None, Some(ids)) => id_template(ids, "update:", at),
                    _ => {
                        at.error(
                            "update:",
                            "`update` names its documents with exactly one of `id`, `ids`",
                        );
                        continue;
                    }
                },
                many: update.ids.is_some(),
                from: update.from,
                fields: match (&update.fields, update.from) {
                    (Some(_), None) => {
                        at.error(
                            "fields:",
                            "`update.fields` names fields copied from `from`: add `from: response` or `from: body`",
                        );
                        None
                    }
                    (fields, _) => fields.clone(),
                },
                set: update
                    .set
                    .iter()
                    .map(|(field, value)| (field.clone(), id_template(value, field, at)))
                    .collect(),
            },
            (None, None, Some(remove)) => StateAction::Remove {
                collection: remove.collection.clone(),
                id_template: id_template(&remove.id, "remove:", at),
            },
            _ => {
                at.error(
                    "state:",
                    "each `then.state` entry is exactly one of `store`, `update`, `remove`",
                );
                continue;
            }
        };
        state_then.actions.push(compiled);
    }
    (state_when, state_then)
}

//! The file formats as written: scenario files and seed files, read with
//! serde from YAML. These types mirror the YAML one to one and check only
//! its shape; [`super::compile`] turns them into what requests are matched
//! against, with every semantic problem reported at its line.
//!
//! Condition and header values are typed ([`ConditionDef`], [`Scalar`])
//! rather than generic YAML values: a plain scalar is text whatever YAML
//! makes of it (`2` and `"2"` are the same condition), and the operator
//! forms are a one-entry map. Anything else is kept as
//! [`ConditionDef::Invalid`] so that compiling can say which forms exist,
//! at the condition's line, alongside every other problem of the file.
//!
//! [`parse`] is the one place the scenario loader reads YAML.

use indexmap::IndexMap;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

/// A scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
    /// The operation key: operationId, or `METHOD /path`.
    pub operation: String,
    #[serde(default)]
    pub scenarios: Vec<ScenarioDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioDef {
    /// Unique within the operation.
    pub name: String,
    #[serde(default)]
    pub when: WhenDef,
    pub then: ThenDef,
    /// The state machine of `requires_state`/`sets_state` (default `default`).
    pub state_machine: Option<String>,
    /// Tried before scenarios of lower priority (default 0), whatever their
    /// conditions or file.
    #[serde(default)]
    pub priority: i32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WhenDef {
    #[serde(default)]
    pub path: IndexMap<String, ConditionDef>,
    #[serde(default)]
    pub query: IndexMap<String, ConditionDef>,
    #[serde(default)]
    pub headers: IndexMap<String, ConditionDef>,
    /// JSONPath → condition on what it selects in the request body.
    #[serde(default)]
    pub body: IndexMap<String, ConditionDef>,
    /// Conditions on state documents.
    #[serde(default)]
    pub state: Vec<StateConditionDef>,
    /// The scenario's state machine must be in this state.
    pub requires_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThenDef {
    #[serde(default = "default_status")]
    pub status: u16,
    /// Header values: text, or a template when they contain `{{`.
    #[serde(default)]
    pub headers: IndexMap<String, ScalarDef>,
    pub template: Option<String>,
    pub body: Option<String>,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub skip_checks: bool,
    /// Rules of the contract (by catalogue name) this scenario is served
    /// despite: the request is answered, the violation reported.
    #[serde(default)]
    pub skip_rules: Vec<String>,
    /// Actions on state documents, applied after the answer renders.
    #[serde(default)]
    pub state: Vec<ActionDef>,
    /// Moves the scenario's state machine to this state.
    pub sets_state: Option<String>,
}

fn default_status() -> u16 {
    200
}

/// A condition as written: `"2"`, `2`, `true`, or a one-operator map such
/// as `{matches: REGEX}`. The operator's name and value are checked when
/// the condition is compiled, so that a mistake is reported with the forms
/// that exist rather than as "did not match any variant".
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ConditionDef {
    /// A plain value: equality with its text.
    Scalar(Scalar),
    /// `{operator: operand}`; exactly one entry is valid.
    Operator(IndexMap<String, Operand>),
    /// Anything else (a list, null): reported when compiled.
    Invalid(IgnoredAny),
}

/// An operator's value: a scalar, a list (for `one_of`), or anything else.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Operand {
    Scalar(Scalar),
    List(Vec<ScalarDef>),
    Invalid(IgnoredAny),
}

/// A value that must be a scalar; anything else is reported when compiled.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ScalarDef {
    Scalar(Scalar),
    Invalid(IgnoredAny),
}

impl ScalarDef {
    pub fn text(&self) -> Option<String> {
        match self {
            ScalarDef::Scalar(scalar) => Some(scalar.text()),
            ScalarDef::Invalid(_) => None,
        }
    }
}

/// A YAML scalar, which conditions and headers read as text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    Text(String),
    Bool(bool),
    Integer(i64),
    Unsigned(u64),
    Float(f64),
}

impl Scalar {
    /// The scalar as text: numbers as YAML wrote them back before (`1.0`
    /// stays `1.0`), booleans as `true`/`false`.
    pub fn text(&self) -> String {
        match self {
            Scalar::Text(text) => text.clone(),
            Scalar::Bool(value) => value.to_string(),
            Scalar::Integer(value) => value.to_string(),
            Scalar::Unsigned(value) => value.to_string(),
            Scalar::Float(value) if value.is_nan() => ".nan".to_string(),
            Scalar::Float(value) if value.is_infinite() => {
                if *value > 0.0 { ".inf" } else { "-.inf" }.to_string()
            }
            // serde_json writes floats as the shortest text that reads back
            // (with `.0` for whole numbers), as serde_yaml did.
            Scalar::Float(value) => serde_json::Number::from_f64(*value)
                .map(|number| number.to_string())
                .unwrap_or_else(|| value.to_string()),
        }
    }
}

/// `when.state` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateConditionDef {
    pub collection: String,
    /// Template for the document id, e.g. `"{{request.path_params.id}}"`.
    pub id: Option<String>,
    /// Instead of `id`: a template rendering several ids, separated by
    /// whitespace or commas (every slot a booking names); `match` says
    /// whether the condition must hold for any of them or for every one.
    pub ids: Option<String>,
    /// With `ids`: `any` or `every`.
    #[serde(rename = "match")]
    pub matching: Option<IdsMatch>,
    /// Whether the document must exist (default true).
    #[serde(default = "yes")]
    pub exists: bool,
    /// JSONPath → condition on the document (implies it exists).
    #[serde(default)]
    pub fields: IndexMap<String, ConditionDef>,
}

fn yes() -> bool {
    true
}

/// How a condition on several ids (`ids`) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdsMatch {
    /// For at least one of the ids (none: it does not hold).
    Any,
    /// For each of the ids (none: it holds).
    Every,
}

/// `then.state` entry as written: exactly one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionDef {
    pub store: Option<StoreDef>,
    pub update: Option<UpdateDef>,
    pub remove: Option<RemoveDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoreDef {
    pub collection: String,
    /// Template for the id; default: the request id.
    pub id: Option<String>,
    /// `response` (default: the rendered answer) or `body` (the request body).
    #[serde(default)]
    pub from: DocumentSource,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateDef {
    pub collection: String,
    pub id: Option<String>,
    /// Instead of `id`: a template rendering several ids (separated by
    /// whitespace or commas), each updated alike.
    pub ids: Option<String>,
    /// Replace the whole document with the answer or the request body,
    /// or, with `fields`, only those top-level fields of it.
    pub from: Option<DocumentSource>,
    /// With `from`: the top-level fields copied from it (one it lacks is
    /// removed); every other field of the stored document stays.
    pub fields: Option<Vec<String>>,
    /// Set top-level fields to (templated) text values.
    #[serde(default)]
    pub set: IndexMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RemoveDef {
    pub collection: String,
    pub id: String,
}

/// Where a stored document comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentSource {
    #[default]
    Response,
    Body,
}

/// A seed file: a `collection` and its documents (after rendering).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SeedFile {
    pub collection: String,
    #[serde(default)]
    pub documents: Vec<serde_json::Value>,
    /// How another collection's documents occupy these (state integrity).
    pub occupancy: Option<crate::state::Occupancy>,
}

/// A YAML error: its message (one line, position included) and line.
#[derive(Debug)]
pub(crate) struct YamlError {
    pub line: Option<usize>,
    pub message: String,
}

/// Reads a scenario, seed or mount file. YAML 1.2 scalars, as serde_yaml 0.9 read
/// them: only `true`/`false` are booleans (`yes` is text), and `0123` and
/// `1_000` stay text, so an NHS number written with a leading zero keeps it.
/// A message names where in the file's structure the problem is
/// (`scenarios[0].then: unknown field ...`) and its line and column.
///
/// A file is read once without tracking where the deserializer is, and
/// only a file that fails is read again to name the place, so a good file
/// pays no tracking per node. (Startup CPU, `perf stat`, 15 runs: median
/// 162 -> 157 ms, within the noise.)
pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(text, options()).or_else(|_| parse_tracked(text))
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        // One-line messages: the caller names the file and line.
        with_snippet: false,
    }
}

/// [`parse`] with the path to the failing node in the message.
fn parse_tracked<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let mut path = String::new();
    serde_saphyr::with_deserializer_from_str_with_options(text, options(), |deserializer| {
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            path = error.path().to_string();
            error.into_inner()
        })
    })
    .map_err(|error| {
        let location = error.location();
        let line = location
            .and_then(|location| usize::try_from(location.line()).ok())
            .filter(|line| *line > 0);
        let column = location.and_then(|location| usize::try_from(location.column()).ok());
        // Worded for whoever wrote the file, not for the programmer.
        let rendered = error.render_with_formatter(&serde_saphyr::UserMessageFormatter);
        // Unnamed steps (inside a map or a value form) are shown as `?`.
        let path = path.trim_end_matches(".?");
        let found = line
            .zip(column)
            .and_then(|(line, column)| found_at(text, line, column));
        let message = match (in_words(path, &rendered, found), path) {
            (Some(words), _) => format!("{words} ({rendered})"),
            (None, "" | "." | "?") => rendered,
            (None, path) => format!("{path}: {rendered}"),
        };
        YamlError { line, message }
    })
}

/// What the value at `line`:`column` (1-based) is, as an author would say it.
fn found_at(text: &str, line: usize, column: usize) -> Option<&'static str> {
    let rest = text.lines().nth(line.checked_sub(1)?)?;
    let rest: String = rest.chars().skip(column.saturating_sub(1)).collect();
    let rest = rest.trim_start();
    Some(match rest.chars().next() {
        Some('[') | Some('-') => "a list",
        Some('{') => "a mapping",
        None => "nothing",
        _ if rest.split_once(": ").is_some() || rest.ends_with(':') => "a mapping",
        _ => "text",
    })
}

/// The common type mistakes, said in the words of the scenario format:
/// "`template` must be a file name, found a list".
fn in_words(path: &str, rendered: &str, found: Option<&str>) -> Option<String> {
    let field = path
        .rsplit('.')
        .next()
        .filter(|f| !f.is_empty() && *f != "?")?;
    let field = field.split('[').next().unwrap_or(field);
    let found = found.map(|f| format!(", found {f}")).unwrap_or_default();
    let wanted = if rendered.contains("expected string") {
        match field {
            "template" => "a file name under the templates directory",
            "body" => "an inline template (text)",
            _ => "text",
        }
    } else if rendered.contains("invalid u16") || rendered.contains("invalid u64") {
        match field {
            "status" => "an HTTP status code such as 200",
            "delay_ms" => "a whole number of milliseconds",
            _ => "a whole number",
        }
    } else if rendered.contains("invalid i32") {
        "a whole number"
    } else if rendered.contains("expected bool") || rendered.contains("invalid bool") {
        "true or false"
    } else if rendered.contains("expected sequence") || rendered.contains("expected a sequence") {
        "a list"
    } else if rendered.contains("expected mapping") || rendered.contains("expected a mapping") {
        "a mapping (`key: value` lines)"
    } else {
        return None;
    };
    Some(format!("`{field}` must be {wanted}{found}"))
}

#[cfg(test)]
mod tests {
    use super::ScenarioFile;

    /// Type mistakes are said in the format's words, with what was found.
    #[test]
    fn type_mistakes_are_said_in_words() {
        let message = |then: &str| {
            let text = format!("operation: x\nscenarios:\n  - name: a\n    then:\n{then}");
            super::parse::<ScenarioFile>(&text)
                .expect_err("not a scenario file")
                .message
        };
        let template = message("      template: [a, b]\n");
        assert!(
            template.starts_with(
                "`template` must be a file name under the templates directory, found a list"
            ),
            "{template}"
        );
        let status = message("      status: ok\n");
        assert!(
            status.starts_with("`status` must be an HTTP status code such as 200, found text"),
            "{status}"
        );
        let skip = message("      skip_checks: maybe\n");
        assert!(
            skip.starts_with("`skip_checks` must be true or false"),
            "{skip}"
        );
    }
}

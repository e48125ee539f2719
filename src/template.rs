//! Handlebars templates: loading a templates directory into a registry, the
//! JSON-safe escaping, the helpers, and rendering with error positions.
//!
//! Every file under the directory is registered by its relative path
//! (`patient/read.json.hbs`); files under `partials/` are also partials named
//! by their file name up to the first dot (`{{> patient-resource}}`).
//! `{{x}}` escapes for a JSON string (quote, backslash, control characters),
//! never with HTML entities, so echoing request input always gives valid JSON.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::{json, Value};

use crate::error::LoadError;
use crate::state::{reference_id, StateStore};

/// The compiled templates of one snapshot.
pub struct Templates {
    registry: Handlebars<'static>,
    /// The state the `state_*` helpers read.
    state: Arc<StateStore>,
    /// Every template's and partial's text, to tell request-independent
    /// templates (rendered once per snapshot) from the rest.
    sources: HashMap<String, String>,
    partial_sources: HashMap<String, String>,
    /// Names of the files loaded from the directory (not inline bodies).
    file_names: Vec<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("file_names", &self.file_names)
            .finish()
    }
}

/// Why a render failed: which template, where, and the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderFailure {
    pub template: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for RenderFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template `{}`", self.template)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
            if let Some(column) = self.column {
                write!(f, " column {column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl Templates {
    /// An empty registry with the mock's escaping, strictness and helpers;
    /// the `state_*` helpers read `state`.
    pub fn new(state: Arc<StateStore>) -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.set_prevent_indent(true);
        registry.register_escape_fn(escape_json_string);
        register_helpers(&mut registry);
        for kind in [StateRead::Get, StateRead::List, StateRead::Count] {
            registry.register_helper(
                kind.name(),
                Box::new(StateHelper {
                    kind,
                    state: state.clone(),
                }),
            );
        }
        Self {
            registry,
            state,
            sources: HashMap::new(),
            partial_sources: HashMap::new(),
            file_names: Vec::new(),
        }
    }

    /// An empty registry reading a state of its own (tests, tools).
    pub fn empty() -> Self {
        Self::new(StateStore::new())
    }

    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// Loads every file under `dir` (missing directory: no templates).
    /// `label` is how the directory is named in errors.
    pub fn load_dir(
        dir: &Path,
        label: &str,
        state: Arc<StateStore>,
    ) -> Result<Self, Vec<LoadError>> {
        let mut templates = Self::new(state);
        let mut errors = Vec::new();
        let mut files = Vec::new();
        if dir.exists() {
            collect_files(dir, &mut files).map_err(|error| {
                vec![LoadError::new(
                    label,
                    None,
                    format!("cannot read the templates directory: {error}"),
                )]
            })?;
        }
        files.sort();
        for file in files {
            let relative = file
                .strip_prefix(dir)
                .unwrap_or(&file)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let file_label = format!("{}/{}", label.trim_end_matches('/'), relative);
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(error) => {
                    errors.push(LoadError::new(
                        &file_label,
                        None,
                        format!("cannot read: {error}"),
                    ));
                    continue;
                }
            };
            // An editor that truncates before writing can be caught between
            // the two; an empty template is never meant, so wait for the write.
            if text.trim().is_empty() {
                errors.push(LoadError::new(
                    &file_label,
                    None,
                    "template file is empty (caught mid-save? an empty body needs no template)",
                ));
                continue;
            }
            if let Err(error) = templates.register(&relative, &text, &file_label, 0) {
                errors.push(error);
                continue;
            }
            if let Some(partial) = relative.strip_prefix("partials/") {
                let name = partial
                    .rsplit('/')
                    .next()
                    .unwrap_or(partial)
                    .split('.')
                    .next()
                    .unwrap_or(partial);
                templates
                    .partial_sources
                    .insert(name.to_string(), text.clone());
                if let Err(error) = templates.registry.register_partial(name, &text) {
                    errors.push(template_error(error, &file_label, 0));
                }
            }
            templates.file_names.push(relative);
        }
        if errors.is_empty() {
            Ok(templates)
        } else {
            Err(errors)
        }
    }

    /// Registers a template; errors name `file` and the line, offset by
    /// `first_line - 1` for templates embedded in another file.
    pub fn register(
        &mut self,
        name: &str,
        text: &str,
        file: &str,
        first_line: usize,
    ) -> Result<(), LoadError> {
        self.registry
            .register_template_string(name, text)
            .map_err(|error| template_error(error, file, first_line))?;
        self.sources.insert(name.to_string(), text.to_string());
        Ok(())
    }

    /// Whether rendering `name` gives the same text for every request: it
    /// and the partials it includes read nothing of the request, time,
    /// randomness or state. Such answers are rendered once per snapshot.
    pub fn is_request_independent(&self, name: &str) -> bool {
        !self.mentions_any(
            name,
            &[
                "request",
                "uuid",
                "now",
                "date_add",
                "state_get",
                "state_list",
                "state_count",
            ],
        )
    }

    /// Whether `name` (or a partial it includes) names `request` itself
    /// rather than one of its parts, e.g. `{{#with request}}`.
    pub fn mentions_whole_request(&self, name: &str) -> bool {
        self.any_word(name, |word| word == "request")
    }

    /// Whether `name`, or a partial it includes (transitively), names any
    /// of `words` (or a path below one: `request.body.x`) inside a `{{ }}`
    /// expression.
    pub fn mentions_any(&self, name: &str, words: &[&str]) -> bool {
        self.any_word(name, |word| {
            words.iter().any(|w| {
                word == *w || (word.starts_with(w) && word.as_bytes().get(w.len()) == Some(&b'.'))
            })
        })
    }

    /// Walks `name` and the partials it includes, testing every word of
    /// every expression. Unknown or dynamic partials (`{{> (expr)}}`) could
    /// read anything, so they count as a match.
    fn any_word(&self, name: &str, test: impl Fn(&str) -> bool) -> bool {
        let mut pending = vec![match self.sources.get(name) {
            Some(text) => text.as_str(),
            None => return true,
        }];
        let mut seen = std::collections::HashSet::new();
        while let Some(text) = pending.pop() {
            for expression in expressions(text) {
                let start = expression.trim_start_matches(['{', '#', '/', '~', ' ']);
                if start.starts_with("> (") || start.starts_with(">(") {
                    return true;
                }
                if identifiers(expression).any(&test) {
                    return true;
                }
            }
            for partial in partial_names(text) {
                if seen.insert(partial) {
                    match self.partial_sources.get(partial) {
                        Some(source) => pending.push(source.as_str()),
                        None => return true,
                    }
                }
            }
        }
        false
    }

    pub fn has(&self, name: &str) -> bool {
        self.registry.has_template(name)
    }

    pub fn file_count(&self) -> usize {
        self.file_names.len()
    }

    pub fn file_names(&self) -> &[String] {
        &self.file_names
    }

    pub fn render(&self, name: &str, context: &Context) -> Result<String, RenderFailure> {
        self.registry
            .render_with_context(name, context)
            .map_err(|error| RenderFailure {
                template: error
                    .template_name
                    .clone()
                    .unwrap_or_else(|| name.to_string()),
                line: error.line_no,
                column: error.column_no,
                message: render_reason(&error),
            })
    }
}

/// The inside of every `{{ … }}` of a template.
fn expressions(text: &str) -> impl Iterator<Item = &str> {
    text.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(inside, _)| inside))
}

/// The words of an expression: helper names and paths (`request.body.x`).
fn identifiers(expression: &str) -> impl Iterator<Item = &str> {
    expression
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '@'))
        .map(|word| {
            word.trim_start_matches("../")
                .trim_start_matches('@')
                .trim_start_matches("root.")
        })
        .filter(|word| !word.is_empty())
}

/// The names of the partials a template includes: `{{> name ...}}`.
fn partial_names(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("{{>").filter_map(move |(index, _)| {
        let rest = text[index + 3..].trim_start();
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '}')
            .unwrap_or(rest.len());
        (end > 0).then(|| &rest[..end])
    })
}

fn render_reason(error: &RenderError) -> String {
    match error.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => {
            format!("variable `{path}` is missing (strict mode)")
        }
        RenderErrorReason::MissingVariable(None) => "a variable is missing (strict mode)".into(),
        other => other.to_string(),
    }
}

fn template_error(error: handlebars::TemplateError, file: &str, first_line: usize) -> LoadError {
    let (line, column) = match error.pos() {
        Some((line, column)) => (Some(line + first_line.saturating_sub(1)), Some(column)),
        None => (None, None),
    };
    let reason = error.reason().to_string();
    let message = match column {
        Some(column) => format!("template syntax error at column {column}: {reason}"),
        None => format!("template syntax error: {reason}"),
    };
    LoadError::new(file, line.or(Some(first_line.max(1))), message)
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        // Editors leave swap and backup files beside the real ones.
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp") {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Escapes text for the inside of a JSON string literal.
pub fn escape_json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

type HelperFn = fn(&Helper<'_>) -> Result<Value, RenderErrorReason>;

/// A helper computing a value: escaped when written by `{{name …}}`, usable
/// as a subexpression `(name …)`.
struct ValueHelper(HelperFn);

impl HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        (self.0)(h)
            .map(ScopedJson::Derived)
            .map_err(RenderError::from)
    }
}

/// `{{json x}}`: any value as a JSON literal, never escaped.
struct JsonHelper;

impl HelperDef for JsonHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let value = strict_param(h, r, 0, "json")?;
        Ok(ScopedJson::Derived(Value::String(value.to_string())))
    }

    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = strict_param(h, r, 0, "json")?;
        out.write(&value.to_string())?;
        Ok(())
    }
}

fn strict_param<'a>(
    h: &'a Helper<'_>,
    r: &Handlebars<'_>,
    index: usize,
    helper: &'static str,
) -> Result<&'a Value, RenderError> {
    let param = h
        .param(index)
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex(helper, index))?;
    if r.strict_mode() && param.is_value_missing() {
        let path = param
            .relative_path()
            .cloned()
            .unwrap_or_else(|| format!("parameter {index}"));
        return Err(RenderErrorReason::MissingVariable(Some(path)).into());
    }
    Ok(param.value())
}

fn register_helpers(registry: &mut Handlebars<'static>) {
    let helpers: &[(&str, HelperFn)] = &[
        ("uuid", |_| Ok(json!(uuid::Uuid::new_v4().to_string()))),
        ("now", helper_now),
        ("date_add", helper_date_add),
        ("jsonpath", helper_jsonpath),
        ("fhir_param", helper_fhir_param),
        ("eq", |h| Ok(json!(loosely_equal(param(h, 0), param(h, 1))))),
        ("ne", |h| {
            Ok(json!(!loosely_equal(param(h, 0), param(h, 1))))
        }),
        ("and", |h| {
            Ok(json!(h.params().iter().all(|p| truthy(p.value()))))
        }),
        ("or", |h| {
            Ok(json!(h.params().iter().any(|p| truthy(p.value()))))
        }),
        ("not", |h| Ok(json!(!truthy(param(h, 0))))),
        ("default", helper_default),
        ("upper", |h| Ok(json!(text(param(h, 0)).to_uppercase()))),
        ("lower", |h| Ok(json!(text(param(h, 0)).to_lowercase()))),
        ("concat", |h| {
            Ok(json!(h
                .params()
                .iter()
                .map(|p| text(p.value()))
                .collect::<String>()))
        }),
        ("len", helper_len),
        ("add", |h| {
            Ok(number(number_of(param(h, 0)) + number_of(param(h, 1))))
        }),
        ("mul", |h| {
            Ok(number(number_of(param(h, 0)) * number_of(param(h, 1))))
        }),
        ("range", helper_range),
        ("ref_id", |h| Ok(json!(reference_id(&text(param(h, 0)))))),
    ];
    for (name, function) in helpers {
        registry.register_helper(name, Box::new(ValueHelper(*function)));
    }
    registry.register_helper("json", Box::new(JsonHelper));
}

/// Which state read a `state_*` helper does.
#[derive(Debug, Clone, Copy)]
enum StateRead {
    /// `(state_get "appointments" id)`: the document, or null.
    Get,
    /// `(state_list "slots" ["$.path" value])`: the documents, optionally
    /// those where the JSONPath selects `value`.
    List,
    /// `(state_count "slots" ["$.path" value])`: how many `state_list` gives.
    Count,
}

impl StateRead {
    fn name(self) -> &'static str {
        match self {
            StateRead::Get => "state_get",
            StateRead::List => "state_list",
            StateRead::Count => "state_count",
        }
    }
}

struct StateHelper {
    kind: StateRead,
    state: Arc<StateStore>,
}

impl HelperDef for StateHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let data = self.state.read();
        let collection = text(param(h, 0));
        let documents = data.collections.get(&collection);
        let value = match self.kind {
            StateRead::Get => {
                let id = text(param(h, 1));
                documents
                    .and_then(|docs| docs.get(&id))
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            StateRead::List | StateRead::Count => {
                let filter = match h.param(1) {
                    Some(path) => {
                        let expression = text(path.value());
                        let compiled =
                            serde_json_path::JsonPath::parse(&expression).map_err(|error| {
                                RenderErrorReason::Other(format!(
                                    "{}: {expression:?} is not a JSONPath: {error}",
                                    self.kind.name()
                                ))
                            })?;
                        Some((compiled, param(h, 2).clone()))
                    }
                    None => None,
                };
                let selected: Vec<Value> = documents
                    .into_iter()
                    .flat_map(|docs| docs.values())
                    .filter(|doc| match &filter {
                        Some((path, wanted)) => path
                            .query(doc)
                            .all()
                            .into_iter()
                            .any(|v| loosely_equal(v, wanted)),
                        None => true,
                    })
                    .cloned()
                    .collect();
                match self.kind {
                    StateRead::Count => json!(selected.len()),
                    _ => Value::Array(selected),
                }
            }
        };
        Ok(ScopedJson::Derived(value))
    }
}

static NULL: Value = Value::Null;

fn param<'a>(h: &'a Helper<'_>, index: usize) -> &'a Value {
    h.param(index).map(|p| p.value()).unwrap_or(&NULL)
}

fn hash_str<'a>(h: &'a Helper<'_>, key: &str) -> Option<&'a str> {
    h.hash_get(key).and_then(|v| v.value().as_str())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// `eq "2" 2` holds: templates compare what they see, and query and path
/// values are always strings.
fn loosely_equal(a: &Value, b: &Value) -> bool {
    a == b || (!a.is_object() && !a.is_array() && text(a) == text(b))
}

fn number_of(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

fn helper_default(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let chosen = h
        .params()
        .iter()
        .find(|p| !p.is_value_missing() && !p.value().is_null() && p.value() != &json!(""));
    Ok(chosen.map(|p| p.value().clone()).unwrap_or(Value::Null))
}

fn helper_len(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    Ok(json!(match param(h, 0) {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        Value::Null => 0,
        _ => 1,
    }))
}

fn helper_range(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let start = number_of(param(h, 0)) as i64;
    let end = number_of(param(h, 1)) as i64;
    if end - start > 10_000 {
        return Err(RenderErrorReason::Other(
            "range: at most 10000 items".into(),
        ));
    }
    Ok(Value::Array((start..end).map(|i| json!(i)).collect()))
}

const DEFAULT_DATE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S+00:00";

/// `"+2d"`, `"-30m"`, `"+1h"`, `"10s"`: a signed amount and a unit.
pub fn parse_offset(offset: &str) -> Result<Duration, String> {
    let trimmed = offset.trim();
    if trimmed.is_empty() {
        return Ok(Duration::zero());
    }
    let (sign, rest) = match trimmed.as_bytes()[0] {
        b'-' => (-1, &trimmed[1..]),
        b'+' => (1, &trimmed[1..]),
        _ => (1, trimmed),
    };
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(split);
    let amount: i64 = digits.parse().map_err(|_| {
        format!("offset {offset:?}: expected a number then d, h, m or s, e.g. \"+2d\"")
    })?;
    let amount = sign * amount;
    match unit {
        "d" => Ok(Duration::days(amount)),
        "h" => Ok(Duration::hours(amount)),
        "m" => Ok(Duration::minutes(amount)),
        "s" | "" => Ok(Duration::seconds(amount)),
        "w" => Ok(Duration::weeks(amount)),
        _ => Err(format!(
            "offset {offset:?}: unknown unit {unit:?}, expected d, h, m or s"
        )),
    }
}

/// Formats with a user-supplied strftime pattern, refusing bad patterns
/// instead of panicking inside chrono's `Display`.
fn format_time(time: &DateTime<FixedOffset>, format: &str) -> Result<String, RenderErrorReason> {
    use chrono::format::{Item, StrftimeItems};
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    if items.iter().any(|item| matches!(item, Item::Error)) {
        return Err(RenderErrorReason::Other(format!(
            "invalid date format {format:?}"
        )));
    }
    Ok(time.format_with_items(items.into_iter()).to_string())
}

fn helper_now(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let offset =
        parse_offset(hash_str(h, "offset").unwrap_or("")).map_err(RenderErrorReason::Other)?;
    let time = (Utc::now() + offset).fixed_offset();
    let format = hash_str(h, "format").unwrap_or(DEFAULT_DATE_TIME_FORMAT);
    Ok(json!(format_time(&time, format)?))
}

fn helper_date_add(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let input = text(param(h, 0));
    let offset = parse_offset(&text(param(h, 1))).map_err(RenderErrorReason::Other)?;
    let (time, date_only) = parse_date(&input).ok_or_else(|| {
        RenderErrorReason::Other(format!(
            "date_add: cannot read {input:?} as a date or date-time"
        ))
    })?;
    let shifted = time + offset;
    let default_format = if date_only {
        "%Y-%m-%d"
    } else {
        "%Y-%m-%dT%H:%M:%S%:z"
    };
    let format = hash_str(h, "format").unwrap_or(default_format);
    Ok(json!(format_time(&shifted, format)?))
}

fn parse_date(input: &str) -> Option<(DateTime<FixedOffset>, bool)> {
    let utc = FixedOffset::east_opt(0)?;
    if let Ok(time) = DateTime::parse_from_rfc3339(input) {
        return Some((time, false));
    }
    if let Ok(time) = NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M:%S") {
        return Some((time.and_local_timezone(utc).single()?, false));
    }
    let date = NaiveDate::parse_from_str(input, "%Y-%m-%d").ok()?;
    Some((
        date.and_hms_opt(0, 0, 0)?
            .and_local_timezone(utc)
            .single()?,
        true,
    ))
}

fn helper_jsonpath(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let expression = text(param(h, 1));
    let path = serde_json_path::JsonPath::parse(&expression)
        .map_err(|error| RenderErrorReason::Other(format!("jsonpath {expression:?}: {error}")))?;
    Ok(path
        .query(param(h, 0))
        .first()
        .cloned()
        .unwrap_or(Value::Null))
}

/// The value[x] (or `resource`, or `part`) of the first parameter named
/// `name` in a FHIR Parameters resource.
pub fn fhir_param_value<'a>(parameters: &'a Value, name: &str) -> Option<&'a Value> {
    parameters
        .get("parameter")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
        .as_object()?
        .iter()
        .find(|(key, _)| key.starts_with("value") || *key == "resource" || *key == "part")
        .map(|(_, value)| value)
}

fn helper_fhir_param(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let name = text(param(h, 1));
    Ok(fhir_param_value(param(h, 0), &name)
        .cloned()
        .unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, data: Value) -> Result<String, RenderFailure> {
        let mut templates = Templates::empty();
        templates
            .register("t", template, "t.hbs", 1)
            .expect("template compiles");
        templates.render("t", &Context::wraps(data).expect("context"))
    }

    #[test]
    fn escaping_is_for_json_strings_not_html() {
        let out = render(r#"{"v": "{{v}}"}"#, json!({"v": "a\"b\\c\nd<e>&f é"})).unwrap();
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["v"], "a\"b\\c\nd<e>&f é");
    }

    #[test]
    fn json_helper_writes_literals_unescaped() {
        let out = render(
            r#"{"s": {{json s}}, "n": {{json n}}}"#,
            json!({"s": {"a": "\"x"}, "n": 3}),
        )
        .unwrap();
        assert_eq!(out, r#"{"s": {"a":"\"x"}, "n": 3}"#);
    }

    #[test]
    fn strict_mode_names_the_missing_variable_and_line() {
        let failure = render("{\n\"a\": \"{{nope.deeper}}\"}", json!({})).unwrap_err();
        assert_eq!(failure.line, Some(2));
        assert!(failure.message.contains("nope.deeper"), "{failure}");
    }

    #[test]
    fn fhir_param_and_comparisons() {
        let body = json!({"parameter": [{"name": "patientNHSNumber", "valueIdentifier": {"value": "9658218873"}}]});
        let out = render(
            r#"{{lookup (fhir_param body "patientNHSNumber") "value"}} {{#if (eq "2" 2)}}yes{{/if}} {{default missing "d"}} {{upper "x"}}"#,
            json!({"body": body}),
        )
        .unwrap();
        assert_eq!(out, "9658218873 yes d X");
    }

    #[test]
    fn dates_and_offsets() {
        assert_eq!(parse_offset("-30m").unwrap(), Duration::minutes(-30));
        assert!(parse_offset("+2x").is_err());
        let out = render(
            r#"{{date_add "2024-01-31" "+1d"}} {{date_add "2024-01-01T10:00:00+00:00" "+2h"}}"#,
            json!({}),
        )
        .unwrap();
        assert_eq!(out, "2024-02-01 2024-01-01T12:00:00+00:00");
        let failure = render(r#"{{now format="%Q"}}"#, json!({})).unwrap_err();
        assert!(failure.message.contains("invalid date format"), "{failure}");
    }

    #[test]
    fn syntax_error_reports_file_and_line() {
        let mut templates = Templates::empty();
        let error = templates
            .register("t", "ok\n{{#if x}}\n", "pack/t.hbs", 1)
            .unwrap_err();
        assert_eq!(error.file, "pack/t.hbs");
        assert!(error.line.is_some());
    }

    #[test]
    fn request_independence_follows_partials() {
        let mut templates = Templates::empty();
        templates
            .partial_sources
            .insert("fixed".into(), "{\"a\": 1}".into());
        templates
            .partial_sources
            .insert("echo".into(), "\"{{request.path}}\"".into());
        templates.register("static", "{{> fixed}}", "t", 1).unwrap();
        templates
            .register("via-partial", "{{> echo}}", "t", 1)
            .unwrap();
        templates.register("clock", "{{now}}", "t", 1).unwrap();
        templates
            .register("missing-partial", "{{> nowhere}}", "t", 1)
            .unwrap();
        templates
            .register(
                "words-outside",
                "{\"acceptUnknown\": \"request now\"}",
                "t",
                1,
            )
            .unwrap();
        templates
            .register(
                "parent-path",
                "{{#each x}}{{../request.id}}{{/each}}",
                "t",
                1,
            )
            .unwrap();
        assert!(templates.is_request_independent("static"));
        assert!(!templates.is_request_independent("via-partial"));
        assert!(!templates.is_request_independent("clock"));
        assert!(!templates.is_request_independent("missing-partial"));
        assert!(
            templates.is_request_independent("words-outside"),
            "only words inside expressions count"
        );
        assert!(!templates.is_request_independent("parent-path"));
    }
}

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
    RenderErrorReason, Renderable, ScopedJson,
};
use serde_json::{json, Value};

use crate::error::LoadError;
use crate::state::{reference_id, StateData};

mod flat;

use flat::FlatTemplate;
pub use flat::FlatValues;

/// The compiled templates of one snapshot.
pub struct Templates {
    registry: Handlebars<'static>,
    /// Every template's and partial's text, to tell request-independent
    /// templates (rendered once per snapshot) from the rest.
    sources: HashMap<String, String>,
    partial_sources: HashMap<String, String>,
    /// Names of the files loaded from the directory (not inline bodies).
    file_names: Vec<String>,
    /// What [`Templates::prepare_for_requests`] worked out about each
    /// registered template.
    prepared: HashMap<String, Prepared>,
}

/// What is known about one template before any request.
#[derive(Debug)]
struct Prepared {
    /// The proof that every render is JSON (see [`prove_template_json`]).
    proven_json: Option<ProvenJson>,
    /// The template as parts, when it renders without Handlebars.
    flat: Option<FlatTemplate>,
    /// The longest output so far, to size the next one.
    size_hint: std::sync::atomic::AtomicUsize,
}

/// Handlebars output into a string allocated up front.
struct SizedOutput(String);

impl Output for SizedOutput {
    fn write(&mut self, segment: &str) -> Result<(), std::io::Error> {
        self.0.push_str(segment);
        Ok(())
    }
}

/// A template proven, before any request, to render valid JSON: its text
/// is JSON, and each expression sits inside a string literal and writes
/// JSON-escaped text. Its answers need no parse to be sent safely.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvenJson {
    pub version_id: VersionId,
}

/// The `meta.versionId` (the ETag) of a proven template's output.
#[derive(Debug, Clone, PartialEq)]
pub enum VersionId {
    Absent,
    Fixed(Value),
    /// Written by an expression: read from each rendered body.
    Varies,
}

/// Stands for an expression's output when a template's text is checked:
/// a private-use character, valid inside a JSON string.
const HOLE: char = '\u{E000}';

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

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An empty registry with the mock's escaping, strictness and helpers.
    pub fn new() -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.set_prevent_indent(true);
        registry.register_escape_fn(escape_json_string);
        register_helpers(&mut registry);
        for kind in [StateRead::Get, StateRead::List, StateRead::Count] {
            registry.register_helper(kind.name(), Box::new(StateHelper { kind }));
        }
        Self {
            registry,
            sources: HashMap::new(),
            partial_sources: HashMap::new(),
            file_names: Vec::new(),
            prepared: HashMap::new(),
        }
    }

    /// An empty registry (tests, tools).
    pub fn empty() -> Self {
        Self::new()
    }

    /// Loads every file under `dir` (missing directory: no templates).
    /// `label` is how the directory is named in errors.
    pub fn load_dir(dir: &Path, label: &str) -> Result<Self, Vec<LoadError>> {
        let mut templates = Self::new();
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

    /// Readies the registry for requests once every template is
    /// registered: constant partials inlined, then each template proven
    /// JSON and compiled flat where it can be.
    pub fn prepare_for_requests(&mut self) {
        self.inline_constant_partials();
        self.prepared = self
            .registry
            .get_templates()
            .iter()
            .map(|(name, template)| {
                let prepared = Prepared {
                    proven_json: prove_template_json(template),
                    flat: FlatTemplate::compile(template),
                    size_hint: std::sync::atomic::AtomicUsize::new(256),
                };
                (name.clone(), prepared)
            })
            .collect();
    }

    /// The proof that `name` always renders JSON, if there is one.
    pub fn proven_json(&self, name: &str) -> Option<&ProvenJson> {
        self.prepared.get(name)?.proven_json.as_ref()
    }

    /// Replaces every `{{> name}}` whose partial renders the same text in
    /// any context (plain text, or only such partials in turn) by that
    /// text, in every registered template. Handlebars clones the whole
    /// context for each partial it includes; a care record with three
    /// resource partials paid that three times per request. Call once all
    /// templates are registered. A template that defines inline partials
    /// (`{{#*inline}}`), which shadow registered ones, is left as it is.
    pub fn inline_constant_partials(&mut self) {
        let templates = self.registry.get_templates();
        let mut constant: HashMap<String, Option<String>> = HashMap::new();
        let names: Vec<String> = templates.keys().cloned().collect();
        for name in &names {
            is_constant(
                name,
                templates,
                &self.registry,
                &mut constant,
                &mut Vec::new(),
            );
        }
        let rewritten: Vec<(String, handlebars::Template)> = names
            .iter()
            .filter_map(|name| {
                let template = templates.get(name)?;
                if has_decorators(template) {
                    return None;
                }
                let mut copy = template.clone();
                inline_partials(&mut copy, &constant).then(|| (name.clone(), copy))
            })
            .collect();
        for (name, template) in rewritten {
            self.registry.register_template(&name, template);
        }
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

    /// Renders `name` without Handlebars, reading `values`, when it is a
    /// flat template and every value it writes is one `values` knows.
    /// `None` means: render it with [`Templates::render`].
    pub fn render_flat(&self, name: &str, values: &dyn FlatValues) -> Option<String> {
        self.prepared.get(name)?.flat.as_ref()?.render(values)
    }

    /// Whether `name` is rendered without Handlebars when its values are known.
    pub fn is_flat(&self, name: &str) -> bool {
        self.prepared
            .get(name)
            .is_some_and(|prepared| prepared.flat.is_some())
    }

    /// Renders `name` into a string sized from its earlier renders
    /// (Handlebars' own output starts at 8 KiB and doubles: a waste for a
    /// small body, a copy for a large one).
    /// The `state_*` helpers read `state`, the booking state as the caller
    /// holds it (under the writer lock for a stateful operation).
    pub fn render(
        &self,
        name: &str,
        context: &Context,
        state: &Arc<StateData>,
    ) -> Result<String, RenderFailure> {
        let _state = StateScope::enter(state);
        let failure = |error: RenderError| RenderFailure {
            template: error
                .template_name
                .clone()
                .unwrap_or_else(|| name.to_string()),
            line: error.line_no,
            column: error.column_no,
            message: render_reason(&error),
        };
        let Some(template) = self.registry.get_template(name) else {
            return self
                .registry
                .render_with_context(name, context)
                .map_err(failure);
        };
        let hint = self.prepared.get(name).map(|prepared| &prepared.size_hint);
        let capacity = hint.map_or(1024, |h| h.load(std::sync::atomic::Ordering::Relaxed));
        let mut output = SizedOutput(String::with_capacity(capacity));
        let mut render_context = RenderContext::new(template.name.as_ref());
        template
            .render(&self.registry, context, &mut render_context, &mut output)
            .map_err(failure)?;
        if let Some(hint) = hint {
            hint.fetch_max(output.0.len(), std::sync::atomic::Ordering::Relaxed);
        }
        Ok(output.0)
    }
}

/// Whether `{{ expression }}` writes JSON-escaped text: a value helper,
/// a state helper, or a value path that names no helper.
fn writes_escaped(expression: &handlebars::template::HelperTemplate) -> bool {
    let Some(name) = expression.name.as_name() else {
        return false;
    };
    let value_helper = VALUE_HELPERS.iter().any(|(helper, _)| *helper == name)
        || [StateRead::Get, StateRead::List, StateRead::Count]
            .iter()
            .any(|kind| kind.name() == name);
    if value_helper {
        return true;
    }
    // Handlebars' own helpers, and `json`, which writes raw JSON.
    const OTHER_HELPERS: &[&str] = &[
        "json", "if", "unless", "each", "with", "lookup", "raw", "log", "eq", "ne", "gt", "gte",
        "lt", "lte", "and", "or", "not", "len",
    ];
    expression.params.is_empty()
        && expression.hash.is_empty()
        && matches!(expression.name, handlebars::template::Parameter::Path(_))
        && !OTHER_HELPERS.contains(&name)
}

/// The proof that every render of `template` is valid JSON, if it can be
/// given. The test is conservative: top-level text and escaped expressions
/// only (no blocks, partials, `{{{raw}}}` or `json`), each expression inside
/// a string literal and not after a backslash, and the text with every
/// expression replaced by [`HOLE`] parses as a JSON object. Any other
/// template's output is parsed after each render.
fn prove_template_json(template: &handlebars::Template) -> Option<ProvenJson> {
    use handlebars::template::TemplateElement;
    let mut text = String::new();
    let (mut in_string, mut after_backslash) = (false, false);
    for element in &template.elements {
        match element {
            TemplateElement::RawString(raw) => {
                for byte in raw.bytes() {
                    if after_backslash {
                        after_backslash = false;
                    } else if in_string && byte == b'\\' {
                        after_backslash = true;
                    } else if byte == b'"' {
                        in_string = !in_string;
                    }
                }
                text.push_str(raw);
            }
            TemplateElement::Comment(_) => {}
            TemplateElement::Expression(expression)
                if !expression.block && writes_escaped(expression) =>
            {
                if !in_string || after_backslash {
                    return None;
                }
                text.push(HOLE);
            }
            _ => return None,
        }
    }
    let value: Value = serde_json::from_str(&text).ok()?;
    let object = value.as_object()?;
    let version_id = match object.get("meta") {
        None | Some(Value::Null) => VersionId::Absent,
        Some(Value::Object(meta)) => match meta.get("versionId") {
            None | Some(Value::Null) => VersionId::Absent,
            Some(Value::String(id)) if id.contains(HOLE) => VersionId::Varies,
            Some(id) => VersionId::Fixed(id.clone()),
        },
        Some(_) => return None,
    };
    Some(ProvenJson { version_id })
}

/// The name a `{{> name}}` includes, when it is a plain include: no
/// context parameter, no hash, no partial block, not `@partial-block`.
fn plain_partial_name(decorator: &handlebars::template::DecoratorTemplate) -> Option<&str> {
    if !decorator.params.is_empty() || !decorator.hash.is_empty() || decorator.template.is_some() {
        return None;
    }
    match &decorator.name {
        handlebars::template::Parameter::Name(name) if !name.starts_with('@') => Some(name),
        _ => None,
    }
}

/// The text `name` renders in every context, if it is constant: memoised
/// in `known`; `visiting` breaks include cycles (which are not constant).
fn is_constant(
    name: &str,
    templates: &HashMap<String, handlebars::Template>,
    registry: &Handlebars<'static>,
    known: &mut HashMap<String, Option<String>>,
    visiting: &mut Vec<String>,
) -> bool {
    use handlebars::template::TemplateElement;
    if let Some(text) = known.get(name) {
        return text.is_some();
    }
    let Some(template) = templates.get(name) else {
        return false;
    };
    if visiting.iter().any(|v| v == name) {
        return false;
    }
    visiting.push(name.to_string());
    let constant = template.elements.iter().all(|element| match element {
        TemplateElement::RawString(_) | TemplateElement::Comment(_) => true,
        TemplateElement::PartialExpression(decorator) => plain_partial_name(decorator)
            .is_some_and(|partial| is_constant(partial, templates, registry, known, visiting)),
        _ => false,
    });
    visiting.pop();
    // Rendered by Handlebars itself, so the text is exactly what an include
    // writes (with `prevent_indent`, a partial is written as it renders).
    let text = constant
        .then(|| registry.render_with_context(name, &Context::null()).ok())
        .flatten();
    let is_constant = text.is_some();
    known.insert(name.to_string(), text);
    is_constant
}

fn has_decorators(template: &handlebars::Template) -> bool {
    use handlebars::template::TemplateElement;
    template.elements.iter().any(|element| match element {
        TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => true,
        TemplateElement::HelperBlock(block) => {
            block.template.as_ref().is_some_and(has_decorators)
                || block.inverse.as_ref().is_some_and(has_decorators)
        }
        TemplateElement::PartialBlock(block) => block.template.as_ref().is_some_and(has_decorators),
        _ => false,
    })
}

/// Replaces constant plain includes in `template` and the blocks inside it
/// by their text; true when anything changed.
fn inline_partials(
    template: &mut handlebars::Template,
    constant: &HashMap<String, Option<String>>,
) -> bool {
    use handlebars::template::TemplateElement;
    let mut changed = false;
    for element in &mut template.elements {
        match element {
            TemplateElement::PartialExpression(decorator) => {
                let text = plain_partial_name(decorator)
                    .and_then(|name| constant.get(name))
                    .and_then(|text| text.clone());
                if let Some(text) = text {
                    *element = TemplateElement::RawString(text);
                    changed = true;
                }
            }
            TemplateElement::HelperBlock(block) => {
                if let Some(inner) = block.template.as_mut() {
                    changed |= inline_partials(inner, constant);
                }
                if let Some(inner) = block.inverse.as_mut() {
                    changed |= inline_partials(inner, constant);
                }
            }
            _ => {}
        }
    }
    changed
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
    escape_json_into(&mut out, text);
    out
}

/// [`escape_json_string`], appending to `out`.
fn escape_json_into(out: &mut String, text: &str) {
    let needs_escape = |c: char| c == '"' || c == '\\' || (c as u32) < 0x20;
    if !text.contains(needs_escape) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
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

/// The value helpers: each writes its result JSON-escaped.
static VALUE_HELPERS: &[(&str, HelperFn)] = &[
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

fn register_helpers(registry: &mut Handlebars<'static>) {
    for (name, function) in VALUE_HELPERS {
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
}

thread_local! {
    /// The booking state of the render under way on this thread. Handlebars
    /// gives helpers no slot for data of the caller's, so
    /// [`Templates::render`], which is handed the state explicitly, puts it
    /// here for the render's duration (renders are synchronous).
    static RENDER_STATE: std::cell::RefCell<Option<Arc<StateData>>> = const { std::cell::RefCell::new(None) };
}

/// Makes `state` the one the `state_*` helpers read until dropped; restores
/// the previous one, so nested renders are fine.
struct StateScope(Option<Arc<StateData>>);

impl StateScope {
    fn enter(state: &Arc<StateData>) -> StateScope {
        StateScope(RENDER_STATE.with(|slot| slot.replace(Some(state.clone()))))
    }
}

impl Drop for StateScope {
    fn drop(&mut self) {
        let previous = self.0.take();
        RENDER_STATE.with(|slot| *slot.borrow_mut() = previous);
    }
}

impl HelperDef for StateHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let data = RENDER_STATE
            .with(|slot| slot.borrow().clone())
            .ok_or_else(|| {
                RenderErrorReason::Other(format!(
                    "{}: no booking state is given to this render",
                    self.kind.name()
                ))
            })?;
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
    let offset_text = hash_str(h, "offset").unwrap_or("");
    let format = hash_str(h, "format").unwrap_or(DEFAULT_DATE_TIME_FORMAT);
    now_text(offset_text, format).map(Value::String)
}

/// The current time moved by `offset_text` and formatted with `format`.
fn now_text(offset_text: &str, format: &str) -> Result<String, RenderErrorReason> {
    let now = Utc::now();
    let second = now.timestamp();
    if let Some(text) = NOW_CACHE.with(|cache| cache.borrow().get(second, offset_text, format)) {
        return Ok(text);
    }
    let offset = parse_offset(offset_text).map_err(RenderErrorReason::Other)?;
    let time = (now + offset).fixed_offset();
    let text = format_time(&time, format)?;
    if !has_subsecond_items(format) {
        NOW_CACHE.with(|cache| cache.borrow_mut().put(second, offset_text, format, &text));
    }
    Ok(text)
}

/// Whether a strftime format shows fractions of a second.
fn has_subsecond_items(format: &str) -> bool {
    use chrono::format::{Fixed, Item, Numeric, StrftimeItems};
    StrftimeItems::new(format).any(|item| {
        matches!(
            item,
            Item::Numeric(Numeric::Nanosecond, _)
                | Item::Fixed(
                    Fixed::Nanosecond
                        | Fixed::Nanosecond3
                        | Fixed::Nanosecond6
                        | Fixed::Nanosecond9
                        | Fixed::Internal(_)
                )
        )
    })
}

thread_local! {
    /// `{{now}}` texts of the current second, per offset and format: a
    /// template renders the same few on every request.
    static NOW_CACHE: std::cell::RefCell<NowCache> = const { std::cell::RefCell::new(NowCache { second: i64::MIN, texts: Vec::new() }) };
}

struct NowCache {
    second: i64,
    /// (offset, format, text); a handful per second at most.
    texts: Vec<(String, String, String)>,
}

impl NowCache {
    fn get(&self, second: i64, offset: &str, format: &str) -> Option<String> {
        if self.second != second {
            return None;
        }
        self.texts
            .iter()
            .find(|(o, f, _)| o == offset && f == format)
            .map(|(_, _, text)| text.clone())
    }

    fn put(&mut self, second: i64, offset: &str, format: &str, text: &str) {
        if self.second != second || self.texts.len() >= 16 {
            self.second = second;
            self.texts.clear();
        }
        self.texts
            .push((offset.to_string(), format.to_string(), text.to_string()));
    }
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

    /// Every template of `templates`, rendered with `data`.
    fn render_all(
        templates: &Templates,
        data: &Value,
    ) -> Vec<(String, Result<String, RenderFailure>)> {
        let context = Context::wraps(data).expect("context");
        let mut names: Vec<String> = templates.registry.get_templates().keys().cloned().collect();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let out = templates.render(&name, &context, &Default::default());
                (name, out)
            })
            .collect()
    }

    fn count_includes(template: &handlebars::Template) -> usize {
        use handlebars::template::TemplateElement;
        template
            .elements
            .iter()
            .map(|element| match element {
                TemplateElement::PartialExpression(_) => 1,
                TemplateElement::HelperBlock(block) => {
                    block.template.as_ref().map_or(0, count_includes)
                        + block.inverse.as_ref().map_or(0, count_includes)
                }
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn constant_partials_are_inlined_without_changing_output() {
        let build = || {
            let mut templates = Templates::empty();
            for (name, text) in [
                ("plain", "{\n  \"a\": 1\n}\n"),
                ("nested", "[\n    {{> plain}}\n]"),
                ("dynamic", "\"{{v}}\""),
                ("with-hash", "{{x}}"),
            ] {
                templates
                    .registry
                    .register_partial(name, text)
                    .expect("partial");
            }
            for (name, text) in [
                (
                    "standalone",
                    "{\n  \"p\":\n    {{> plain}}\n  ,\"q\": {{> nested}}\n}",
                ),
                (
                    "inline",
                    "[{{> plain}},{{> nested}}, {{> dynamic}}, \"{{v}}\"]",
                ),
                (
                    "in-block",
                    "{{#if v}}{{> plain}}{{else}}{{> nested}}{{/if}}",
                ),
                ("hash", "{{> with-hash x=\"1\"}}{{> plain}}"),
                (
                    "shadowed",
                    "{{#*inline \"plain\"}}other{{/inline}}{{> plain}}",
                ),
            ] {
                templates.register(name, text, "t", 1).expect("template");
            }
            templates
        };
        let original = build();
        let mut inlined = build();
        inlined.inline_constant_partials();
        for data in [json!({"v": "x\"y"}), json!({"v": false})] {
            assert_eq!(render_all(&original, &data), render_all(&inlined, &data));
        }
        let includes = |name: &str| count_includes(&inlined.registry.get_templates()[name]);
        assert_eq!(includes("standalone"), 0);
        assert_eq!(includes("nested"), 0);
        assert_eq!(includes("in-block"), 0);
        assert_eq!(
            includes("inline"),
            1,
            "the dynamic partial stays an include"
        );
        assert_eq!(includes("hash"), 1, "an include with a hash stays");
        assert_eq!(
            includes("shadowed"),
            1,
            "inline partials shadow registered ones"
        );
        assert_eq!(
            inlined
                .render("shadowed", &Context::null(), &Default::default())
                .expect("renders"),
            "other"
        );
    }

    #[test]
    fn inlining_leaves_the_default_pack_output_unchanged() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let load = || Templates::load_dir(&dir, "templates").expect("loads");
        let original = load();
        let mut inlined = load();
        inlined.inline_constant_partials();
        let data = json!({
            "request": {"id": "7", "path_params": {"id": "2"}, "query": {}, "query_all": {},
                        "headers": {}, "body": null, "body_text": "", "method": "GET", "path": "/"},
            "scenario": {"name": "s"}, "operation": {"key": "k"}
        });
        let varies = [
            "now",
            "uuid",
            "date_add",
            "state_get",
            "state_list",
            "state_count",
        ];
        let mut compared = 0;
        for ((name, before), (_, after)) in render_all(&original, &data)
            .into_iter()
            .zip(render_all(&inlined, &data))
        {
            if original.sources.contains_key(&name) && original.mentions_any(&name, &varies) {
                continue;
            }
            assert_eq!(before, after, "{name}");
            compared += 1;
        }
        assert!(compared > 20, "only {compared} templates compared");
    }

    fn proof(text: &str) -> Option<ProvenJson> {
        let mut templates = Templates::empty();
        templates.register("t", text, "t", 1).expect("compiles");
        templates.prepare_for_requests();
        templates.proven_json("t").cloned()
    }

    #[test]
    fn json_templates_are_proven_only_when_every_render_is_json() {
        let fixed =
            proof(r#"{"meta": {"versionId": "3"}, "id": "{{request.id}}", "t": "a{{now}}b"}"#);
        assert_eq!(
            fixed,
            Some(ProvenJson {
                version_id: VersionId::Fixed(json!("3"))
            })
        );
        let varies = proof(r#"{"meta": {"versionId": "{{v}}"}}"#).expect("proven");
        assert_eq!(varies.version_id, VersionId::Varies);
        let absent = proof(r#"{"a": "\n{{v}}", "b": "\"{{v}}"}"#).expect("proven");
        assert_eq!(absent.version_id, VersionId::Absent);
        for unproven in [
            r#"{"a": {{v}}}"#,
            r#"{"a": "{{json v}}"}"#,
            r#"{"a": "{{{v}}}"}"#,
            r#"{"a": "{{#if v}}x{{/if}}"}"#,
            r#"{"a": "{{lookup v "k"}}"}"#,
            r#"{"a": "{{v}}",}"#,
            r#"["{{v}}"]"#,
            // `\\{{` is a backslash then the expression: `"\x` is no JSON.
            r#"{"a": "\\{{v}}"}"#,
            r#"{"meta": "{{v}}"}"#,
        ] {
            assert_eq!(proof(unproven), None, "{unproven}");
        }
    }

    #[test]
    fn proven_templates_render_json_for_any_value() {
        let text = r#"{"a": "{{v}}", "b": "x\n{{upper v}}\"{{w.x}}", "c": ["{{concat v w}}"]}"#;
        assert!(proof(text).is_some());
        for v in [
            json!("\"},\\"),
            json!("\n\u{1}</x>"),
            json!({"o": [1]}),
            json!(3.5),
            json!(null),
        ] {
            let out = render(text, json!({"v": v, "w": {"x": v}})).expect("renders");
            serde_json::from_str::<Value>(&out).unwrap_or_else(|e| panic!("{out}: {e}"));
        }
    }

    #[test]
    fn the_default_care_record_needs_no_parse_per_request() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut templates = Templates::load_dir(&dir, "templates").expect("loads");
        templates.prepare_for_requests();
        for name in [
            "patient/carerecord/SUM.json.hbs",
            "patient/read-meakin.json.hbs",
        ] {
            assert!(templates.proven_json(name).is_some(), "{name}");
        }
    }

    fn render(template: &str, data: Value) -> Result<String, RenderFailure> {
        let mut templates = Templates::empty();
        templates
            .register("t", template, "t.hbs", 1)
            .expect("template compiles");
        templates.render(
            "t",
            &Context::wraps(data).expect("context"),
            &Default::default(),
        )
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
    fn now_is_cached_per_second_only_for_formats_without_fractions() {
        assert!(!has_subsecond_items(DEFAULT_DATE_TIME_FORMAT));
        assert!(!has_subsecond_items("%Y-%m-%dT11:00:00+00:00"));
        for format in ["%f", "%.3f", "%H:%M:%S%.f", "%9f"] {
            assert!(has_subsecond_items(format), "{format}");
        }
        let first = render(r#"{{now format="%s%.9f"}}"#, json!({})).unwrap();
        let second = render(r#"{{now format="%s%.9f"}}"#, json!({})).unwrap();
        assert_ne!(first, second, "nanoseconds are never served from the cache");
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

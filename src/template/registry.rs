//! The registry of one snapshot's templates, [`Templates`]: loading a
//! templates directory, registering templates and partials, readying them
//! for requests (constant partials inlined, then one prepared record per
//! template: its JSON proof, its flat form and its output size hint), and
//! rendering with error positions.
//!
//! Every file under the directory is registered by its relative path
//! (`patient/read.json.hbs`); files under `partials/` are also partials named
//! by their file name up to the first dot (`{{> patient-resource}}`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use handlebars::{
    Context, Handlebars, Output, RenderContext, RenderError, RenderErrorReason, Renderable,
};

use super::analysis::{self, prove_template_json, ProvenJson, Sources};
use super::escape::escape_json_string;
use super::flat::{FlatTemplate, FlatValues};
use super::helpers;
use crate::error::LoadError;
use crate::pack::PackDir;
use crate::state::StateData;

/// The compiled templates of one snapshot.
pub struct Templates {
    /// Templates, partials and the helpers of `helpers::HELPERS`.
    pub(super) registry: Handlebars<'static>,
    /// Every template's and partial's text, to tell request-independent
    /// templates (rendered once per snapshot) from the rest.
    pub(super) sources: Sources,
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
    size_hint: AtomicUsize,
}

/// Handlebars output into a string allocated up front.
struct SizedOutput(String);

impl Output for SizedOutput {
    fn write(&mut self, segment: &str) -> Result<(), std::io::Error> {
        self.0.push_str(segment);
        Ok(())
    }
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

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An empty registry with the mock's escaping, strictness and helpers.
    /// It holds no state: the `state_*` helpers read the state each render
    /// is given.
    pub fn new() -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.set_prevent_indent(true);
        registry.register_escape_fn(escape_json_string);
        helpers::register(&mut registry);
        Self {
            registry,
            sources: Sources::default(),
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
        Self::load_with_label(&PackDir::Disk(dir.to_path_buf()), label)
    }

    /// Loads every file of `pack`, on disk or embedded.
    pub fn load(pack: &PackDir) -> Result<Self, Vec<LoadError>> {
        Self::load_with_label(pack, &pack.label())
    }

    fn load_with_label(pack: &PackDir, label: &str) -> Result<Self, Vec<LoadError>> {
        let mut templates = Self::new();
        let mut errors = Vec::new();
        let files = pack.files().map_err(|error| {
            vec![LoadError::new(
                label,
                None,
                format!("cannot read the templates directory: {error}"),
            )]
        })?;
        for file in files {
            let relative = file.relative;
            let file_label = format!("{}/{}", label.trim_end_matches('/'), relative);
            let text = match file.text {
                Ok(text) => text,
                Err(message) => {
                    errors.push(LoadError::new(&file_label, None, message));
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
                templates.sources.insert_partial(name, &text);
                // The partial is the template just compiled, under its
                // partial name: the default packs' partials are 42 KB of
                // their 99 KB of templates, and Handlebars' parser, slow on
                // big texts, compiled them twice.
                if let Some(compiled) = templates.registry.get_template(&relative) {
                    let mut partial = compiled.clone();
                    partial.name = Some(name.to_string());
                    templates.registry.register_template(name, partial);
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

    /// Every include of a partial that does not exist, as a load error (a
    /// missing partial would otherwise fail each request that renders it).
    /// `label` names the templates directory, for file templates' paths.
    pub fn missing_partials(&self, label: &str) -> Vec<LoadError> {
        self.sources
            .missing_partials()
            .into_iter()
            .map(|(template, line, partial)| {
                // Inline bodies are named `file#scenario` (their lines are
                // the body's, not the file's); files by their path.
                let (file, line) = match template.split_once('#') {
                    Some((file, _)) => (file.to_string(), None),
                    None => (format!("{}/{template}", label.trim_end_matches('/')), Some(line)),
                };
                LoadError::new(
                    &file,
                    line,
                    format!(
                        "template `{template}` includes partial `{partial}`, which is not under partials/ (partials are named by their file name up to the first dot)"
                    ),
                )
            })
            .collect()
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
        self.sources.insert_template(name, text);
        Ok(())
    }

    /// Whether rendering `name` gives the same text for every request: it
    /// and the partials it includes read nothing of the request, time,
    /// randomness or state. Such answers are rendered once per snapshot.
    pub fn is_request_independent(&self, name: &str) -> bool {
        self.sources.is_request_independent(name)
    }

    /// The headers (lower-case names) whose values, with the request's
    /// path, query and body, give `name` and the partials it includes the
    /// same answer in the same state within one second, but for
    /// `request.id` and a written-out `request.trace_id`. `None` when no set
    /// does: they read the whole request or all its headers, or a helper
    /// that varies otherwise (`uuid`). See [`crate::repeat`].
    pub fn repeat_headers(&self, name: &str) -> Option<Vec<String>> {
        self.sources.repeat_headers(name)
    }

    /// Whether `name` (or a partial it includes) names `request` itself
    /// rather than one of its parts, e.g. `{{#with request}}`.
    pub fn mentions_whole_request(&self, name: &str) -> bool {
        self.sources.mentions_whole_request(name)
    }

    /// Whether `name`, or a partial it includes (transitively), names any
    /// of `words` (or a path below one: `request.body.x`) inside a `{{ }}`
    /// expression. Unknown or dynamic partials (`{{> (expr)}}`) could read
    /// anything, so they count as a mention.
    pub fn mentions_any(&self, name: &str, words: &[&str]) -> bool {
        self.sources.mentions_any(name, words)
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
                    size_hint: AtomicUsize::new(256),
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
    /// any context by that text, in every registered template (see
    /// `analysis::inline_constant_partials`: Handlebars clones the whole
    /// context for each include). Call once all templates are registered.
    pub fn inline_constant_partials(&mut self) {
        analysis::inline_constant_partials(&mut self.registry);
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

    /// Renders a text that is not registered (a line of a seed file) with
    /// the mock's helpers and no data, without keeping it.
    pub fn render_text(&self, text: &str) -> Result<String, String> {
        let state = Arc::new(StateData::default());
        let _state = helpers::StateScope::enter(&state);
        self.registry
            .render_template(text, &serde_json::Value::Null)
            .map_err(|error| render_reason(&error))
    }

    /// Renders `name` into a string sized from its earlier renders
    /// (Handlebars' own output starts at 8 KiB and doubles: a waste for a
    /// small body, a copy for a large one).
    ///
    /// The `state_*` helpers read `state`, the booking state as the caller
    /// holds it (under the writer lock for a stateful operation).
    pub fn render(
        &self,
        name: &str,
        context: &Context,
        state: &Arc<StateData>,
    ) -> Result<String, RenderFailure> {
        let _state = helpers::StateScope::enter(state);
        let failure = |error: RenderError| RenderFailure {
            template: error
                .template_name
                .clone()
                .unwrap_or_else(|| name.to_string()),
            line: error.line_no,
            column: error.column_no,
            message: render_reason(&error),
        };
        // A flat template (an id like `{{request.path_params.id}}`, the
        // template of every stateful request's condition) is written
        // straight from the context's strings, without Handlebars.
        if let Some(text) = self.render_flat(name, &ContextValues(context.data())) {
            return Ok(text);
        }
        let Some(template) = self.registry.get_template(name) else {
            return self
                .registry
                .render_with_context(name, context)
                .map_err(failure);
        };
        let hint = self.prepared.get(name).map(|prepared| &prepared.size_hint);
        let capacity = hint.map_or(1024, |h| h.load(Ordering::Relaxed));
        let mut output = SizedOutput(String::with_capacity(capacity));
        let mut render_context = RenderContext::new(template.name.as_ref());
        template
            .render(&self.registry, context, &mut render_context, &mut output)
            .map_err(failure)?;
        if let Some(hint) = hint {
            hint.fetch_max(output.0.len(), Ordering::Relaxed);
        }
        Ok(output.0)
    }
}

/// A template context read as [`FlatValues`]: the text at a path is the
/// string there; anything else (a number, a list, nothing) is left to
/// Handlebars.
struct ContextValues<'a>(&'a serde_json::Value);

impl FlatValues for ContextValues<'_> {
    fn text(&self, path: &[String]) -> Option<std::borrow::Cow<'_, str>> {
        let mut value = self.0;
        for key in path {
            value = value.as_object()?.get(key.as_str())?;
        }
        value.as_str().map(std::borrow::Cow::Borrowed)
    }
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

#[cfg(test)]
mod tests {
    /// An include of a partial that does not exist is a load error naming
    /// the template, its line and the partial; known and inline ones are not.
    #[test]
    fn missing_partials_are_found_before_any_render() {
        let mut templates = Templates::empty();
        templates
            .registry
            .register_partial("known", "1")
            .expect("partial");
        templates.sources.insert_partial("known", "1");
        let text = "{{#*inline \"local\"}}2{{/inline}}\n{{> known}} {{~> local}}\n{{> nope}} {{> (dynamic)}}\n{{~> gone~}}";
        templates
            .register("page.hbs", text, "t", 1)
            .expect("template");
        let errors = templates.missing_partials("templates");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].line, Some(3));
        assert_eq!(errors[1].line, Some(4), "`{{{{~>` is an include too");
        assert!(
            errors[0].message.contains("partial `nope`"),
            "{}",
            errors[0].message
        );
        assert!(
            errors[0].file.ends_with("templates/page.hbs"),
            "{}",
            errors[0].file
        );
    }

    use serde_json::{json, Value};

    use super::*;
    use crate::template::test_support::render;

    /// A flat template renders from a context as Handlebars would, and
    /// what it cannot read flat (a number, a missing value) goes to
    /// Handlebars, strict mode and all.
    #[test]
    fn flat_templates_render_from_a_context_as_handlebars_does() {
        let mut templates = Templates::empty();
        templates
            .register("id", "{{request.path_params.id}}", "t", 1)
            .expect("registers");
        templates
            .register("quoted", "\"{{request.query.q}}\"", "t", 1)
            .expect("registers");
        templates.prepare_for_requests();
        assert!(templates.is_flat("id") && templates.is_flat("quoted"));
        let state = Arc::new(StateData::default());
        let context = |data: Value| Context::from(data);
        let render = |name: &str, data: Value| templates.render(name, &context(data), &state);
        let data = json!({"request": {"path_params": {"id": "2"}, "query": {"q": "a\"b"}}});
        assert_eq!(render("id", data.clone()).expect("renders"), "2");
        let quoted = render("quoted", data).expect("renders");
        assert_eq!(
            serde_json::from_str::<Value>(&quoted).ok(),
            Some(json!("a\"b"))
        );
        let number = json!({"request": {"path_params": {"id": 7}}});
        assert_eq!(render("id", number).expect("renders"), "7");
        let missing = render("id", json!({"request": {}})).unwrap_err();
        assert!(
            missing.message.contains("request.path_params.id"),
            "{missing}"
        );
    }

    #[test]
    fn escaping_is_for_json_strings_not_html() {
        let out = render(r#"{"v": "{{v}}"}"#, json!({"v": "a\"b\\c\nd<e>&f é"})).unwrap();
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["v"], "a\"b\\c\nd<e>&f é");
    }

    #[test]
    fn strict_mode_names_the_missing_variable_and_line() {
        let failure = render("{\n\"a\": \"{{nope.deeper}}\"}", json!({})).unwrap_err();
        assert_eq!(failure.line, Some(2));
        assert!(failure.message.contains("nope.deeper"), "{failure}");
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
}

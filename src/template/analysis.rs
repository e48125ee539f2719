//! What is worked out about templates before any request, from their syntax
//! trees and their raw text:
//!
//! - the JSON proof ([`prove_template_json`]): a template whose every render
//!   is valid JSON needs no parse of its answers;
//! - constant-partial inlining ([`inline_constant_partials`]): includes of
//!   partials that render the same text in any context become that text;
//! - word walks over the raw text of a template and the partials it
//!   includes ([`Sources`]): which request parts it mentions, and whether
//!   it is request-independent (rendered once per snapshot).
//!
//! What a helper writes and whether it is deterministic comes from the one
//! table in `helpers.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use handlebars::template::{DecoratorTemplate, HelperTemplate, Parameter, TemplateElement};
use handlebars::{Context, Handlebars, Template};
use serde_json::Value;

use super::helpers::{self, Writes};

/// A template proven, before any request, to render valid JSON: its text
/// is JSON, and each expression sits inside a string literal and writes
/// JSON-escaped text. Its answers need no parse to be sent safely.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvenJson {
    pub version_id: VersionId,
    /// The top-level `resourceType`: `None` when it is absent or written
    /// by an expression (then each rendered body is read for it).
    pub resource_type: Option<String>,
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

/// Whether `{{ expression }}` writes JSON-escaped text: a helper that
/// [`Writes::EscapedText`], or a value path that names no helper.
fn writes_escaped(expression: &HelperTemplate) -> bool {
    let Some(name) = expression.name.as_name() else {
        return false;
    };
    match helpers::find(name) {
        Some(helper) => helper.writes() == Writes::EscapedText,
        None => {
            expression.params.is_empty()
                && expression.hash.is_empty()
                && matches!(expression.name, Parameter::Path(_))
        }
    }
}

/// The proof that every render of `template` is valid JSON, if it can be
/// given. The test is conservative: top-level text and escaped expressions
/// only (no blocks, partials, `{{{raw}}}` or `json`), each expression inside
/// a string literal and not after a backslash, and the text with every
/// expression replaced by [`HOLE`] parses as a JSON object. Any other
/// template's output is parsed after each render.
pub(super) fn prove_template_json(template: &Template) -> Option<ProvenJson> {
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
    let resource_type = match object.get("resourceType") {
        Some(Value::String(kind)) if !kind.contains(HOLE) => Some(kind.clone()),
        _ => None,
    };
    Some(ProvenJson {
        version_id,
        resource_type,
    })
}

/// Replaces every `{{> name}}` whose partial renders the same text in any
/// context (plain text, or only such partials in turn) by that text, in
/// every template of `registry`. Handlebars clones the whole context for
/// each partial it includes; a care record with three resource partials
/// paid that three times per request. Call once all templates are
/// registered. A template that defines inline partials (`{{#*inline}}`),
/// which shadow registered ones, is left as it is.
pub(super) fn inline_constant_partials(registry: &mut Handlebars<'static>) {
    let templates = registry.get_templates();
    let mut constant: HashMap<String, Option<String>> = HashMap::new();
    let names: Vec<String> = templates.keys().cloned().collect();
    for name in &names {
        is_constant(name, templates, registry, &mut constant, &mut Vec::new());
    }
    let rewritten: Vec<(String, Template)> = names
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
        registry.register_template(&name, template);
    }
}

/// The name a `{{> name}}` includes, when it is a plain include: no
/// context parameter, no hash, no partial block, not `@partial-block`.
fn plain_partial_name(decorator: &DecoratorTemplate) -> Option<&str> {
    if !decorator.params.is_empty() || !decorator.hash.is_empty() || decorator.template.is_some() {
        return None;
    }
    match &decorator.name {
        Parameter::Name(name) if !name.starts_with('@') => Some(name),
        _ => None,
    }
}

/// The text `name` renders in every context, if it is constant: memoised
/// in `known`; `visiting` breaks include cycles (which are not constant).
fn is_constant(
    name: &str,
    templates: &HashMap<String, Template>,
    registry: &Handlebars<'static>,
    known: &mut HashMap<String, Option<String>>,
    visiting: &mut Vec<String>,
) -> bool {
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

fn has_decorators(template: &Template) -> bool {
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
fn inline_partials(template: &mut Template, constant: &HashMap<String, Option<String>>) -> bool {
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

/// The words that make a template request-dependent besides the helpers
/// that are not deterministic: the request itself.
const REQUEST: &str = "request";

/// The raw text of every template and partial, for the word walks.
#[derive(Debug, Default)]
pub(super) struct Sources {
    /// Every registered template's text, by template name.
    templates: HashMap<String, String>,
    /// Every partial's text, by partial name.
    partials: HashMap<String, String>,
    /// Cache: what each template reaches, walked once per name. A snapshot
    /// asks up to nine questions of each scenario's templates; walking the
    /// texts for each took 6 % of the default pack's startup (`perf`).
    /// Emptied by every insert.
    reaches: Mutex<HashMap<String, Arc<Reach>>>,
}

/// The expressions a template and the partials it includes hold.
#[derive(Debug)]
struct Reach {
    /// Each expression (the inside of a `{{ }}`) with its words.
    expressions: Vec<(Box<str>, Vec<Box<str>>)>,
    /// Whether it includes a dynamic partial (`{{> (expr)}}`): then every
    /// registered partial's expressions are in `expressions`.
    dynamic: bool,
    /// Whether the template, or a partial it includes, does not exist.
    missing: bool,
}

impl Sources {
    pub(super) fn insert_template(&mut self, name: &str, text: &str) {
        self.templates.insert(name.to_string(), text.to_string());
        self.forget_reaches();
    }

    pub(super) fn insert_partial(&mut self, name: &str, text: &str) {
        self.partials.insert(name.to_string(), text.to_string());
        self.forget_reaches();
    }

    fn forget_reaches(&mut self) {
        self.reaches
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// What `name` reaches, walked on first use.
    fn reach(&self, name: &str) -> Arc<Reach> {
        let cached = self
            .reaches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned();
        if let Some(reach) = cached {
            return reach;
        }
        let reach = Arc::new(self.walk(name));
        self.reaches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_string(), reach.clone());
        reach
    }

    /// Walks `name` and the partials it includes, reading a dynamic
    /// partial as every registered partial, the only ones it can name.
    fn walk(&self, name: &str) -> Reach {
        let mut reach = Reach {
            expressions: Vec::new(),
            dynamic: false,
            missing: false,
        };
        let mut pending = match self.templates.get(name) {
            Some(text) => vec![text.as_str()],
            None => {
                reach.missing = true;
                return reach;
            }
        };
        let mut seen = HashSet::new();
        while let Some(text) = pending.pop() {
            for expression in expressions(text) {
                let start = expression.trim_start_matches(['{', '#', '/', '~', ' ']);
                if (start.starts_with("> (") || start.starts_with(">(")) && !reach.dynamic {
                    reach.dynamic = true;
                    for (partial, source) in &self.partials {
                        if seen.insert(partial.as_str()) {
                            pending.push(source.as_str());
                        }
                    }
                }
                let words = identifiers(expression).map(Box::from).collect();
                reach.expressions.push((Box::from(expression), words));
            }
            for partial in partial_names(text) {
                if seen.insert(partial) {
                    match self.partials.get(partial) {
                        Some(source) => pending.push(source.as_str()),
                        None => reach.missing = true,
                    }
                }
            }
        }
        reach
    }

    /// See [`super::Templates::is_request_independent`]: no mention of the
    /// request, nor of a helper that is not deterministic.
    pub(super) fn is_request_independent(&self, name: &str) -> bool {
        !self.any_word(name, |word| {
            names_or_below(word, REQUEST)
                || helpers::nondeterministic().any(|helper| names_or_below(word, helper))
        })
    }

    /// See [`super::Templates::repeat_headers`]: `None` when `name` varies
    /// otherwise than by the headers it names one by one.
    ///
    /// `request.trace_id` is fresh per request like `request.id`, but a
    /// template could compare it or cut it: it counts only where it is
    /// written out whole (`{{request.trace_id}}`), which the repeat cache
    /// can put in after the render.
    pub(super) fn repeat_headers(&self, name: &str) -> Option<Vec<String>> {
        let varies = |expression: &str, word: &str| {
            word == REQUEST
                || (names_or_below(word, HEADERS) && header_named(word).is_none())
                || (names_or_below(word, TRACE_ID) && !is_echo_of(expression, TRACE_ID))
                || helpers::nondeterministic()
                    .filter(|helper| !helpers::repeats_within_a_second(helper))
                    .any(|helper| names_or_below(word, helper))
        };
        if self.any_word_in(name, varies, true) {
            return None;
        }
        let named = std::cell::RefCell::new(Vec::new());
        self.any_word_in(
            name,
            |_, word| {
                if let Some(header) = header_named(word) {
                    let mut named = named.borrow_mut();
                    if !named.iter().any(|known: &String| known == header) {
                        named.push(header.to_string());
                    }
                }
                false
            },
            true,
        );
        let mut named = named.into_inner();
        named.sort();
        Some(named)
    }

    /// See [`super::Templates::mentions_whole_request`].
    pub(super) fn mentions_whole_request(&self, name: &str) -> bool {
        self.any_word(name, |word| word == REQUEST)
    }

    /// See [`super::Templates::mentions_any`].
    pub(super) fn mentions_any(&self, name: &str, words: &[&str]) -> bool {
        self.any_word(name, |word| words.iter().any(|w| names_or_below(word, w)))
    }

    /// Walks `name` and the partials it includes, testing every word of
    /// every expression. Unknown or dynamic partials (`{{> (expr)}}`) could
    /// read anything, so they count as a match.
    fn any_word(&self, name: &str, test: impl Fn(&str) -> bool) -> bool {
        self.any_word_in(name, |_, word| test(word), false)
    }

    /// [`Self::any_word`]; with `dynamic_is_any_partial`, a dynamic partial
    /// (`{{> (expr)}}`) is read as every registered partial, the only ones
    /// it can name, instead of counting as a match.
    fn any_word_in(
        &self,
        name: &str,
        test: impl Fn(&str, &str) -> bool,
        dynamic_is_any_partial: bool,
    ) -> bool {
        let reach = self.reach(name);
        reach.missing
            || (reach.dynamic && !dynamic_is_any_partial)
            || reach
                .expressions
                .iter()
                .any(|(expression, words)| words.iter().any(|word| test(expression, word)))
    }
}

/// The trace id the consumer sent, fresh per request (see
/// [`Sources::repeat_headers`]).
const TRACE_ID: &str = "request.trace_id";

/// The request's headers, by lower-case name.
const HEADERS: &str = "request.headers";

/// The header `word` names one by one (`request.headers.host` → `host`);
/// `None` for the whole map or a path below a header.
fn header_named(word: &str) -> Option<&str> {
    let name = word.strip_prefix(HEADERS)?.strip_prefix('.')?;
    (!name.is_empty() && !name.contains('.')).then_some(name)
}

/// Whether `expression` (the inside of a `{{ }}`) writes out `path` and
/// nothing else: `{{path}}`, `{{~ @root.path ~}}`.
fn is_echo_of(expression: &str, path: &str) -> bool {
    let inner = expression.trim_matches(|c: char| c == '~' || c.is_whitespace());
    let inner = inner.strip_prefix("@root.").unwrap_or(inner);
    inner.trim_start_matches("../") == path
}

/// Whether `word` is `name` or a path below it (`request.body.x`).
fn names_or_below(word: &str, name: &str) -> bool {
    word == name || (word.starts_with(name) && word.as_bytes().get(name.len()) == Some(&b'.'))
}

/// The inside of every `{{ … }}` of a template.
///
/// Comments (`{{! … }}`, `{{!-- … --}}`) are not expressions: their prose
/// ("the request's …") reads nothing, and a `}}` quoted inside a `{{!-- --}}`
/// comment does not end it.
fn expressions(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        let start = rest.find("{{")?;
        let inside = &rest[start + 2..];
        let inside_trimmed = inside.trim_start_matches('~');
        if let Some(comment) = inside_trimmed.strip_prefix("!--") {
            // A long comment ends at `--}}` (or `--~}}`).
            rest = match comment.find("--}}").or_else(|| comment.find("--~}}")) {
                Some(end) => {
                    let after = &comment[end..];
                    after.find("}}").map_or("", |close| &after[close + 2..])
                }
                None => "",
            };
            continue;
        }
        let (expression, after) = inside.split_once("}}")?;
        rest = after;
        if inside_trimmed.starts_with('!') {
            continue;
        }
        return Some(expression);
    })
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

impl Sources {
    /// Every `{{> name}}` that names neither a partial nor a template, nor
    /// an inline partial the same text defines: (template, line, partial).
    /// Dynamic partials (`{{> (expr)}}`) and `@partial-block` are not known
    /// before a render, so they are not reported.
    pub(super) fn missing_partials(&self) -> Vec<(String, usize, String)> {
        let mut out = Vec::new();
        let mut names: Vec<&String> = self.templates.keys().collect();
        names.sort();
        for name in names {
            let text = &self.templates[name];
            // `{{> name}}` and, trimming whitespace, `{{~> name}}`.
            for (index, _) in text.match_indices("{{") {
                let Some(rest) = text[index + 2..].trim_start_matches('~').strip_prefix('>') else {
                    continue;
                };
                let rest = rest.trim_start();
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '}')
                    .unwrap_or(rest.len());
                let partial = &rest[..end];
                if partial.is_empty() || partial.starts_with('(') || partial.starts_with('@') {
                    continue;
                }
                let partial = partial.trim_matches(|c| c == '"' || c == '\'');
                let inline = text.contains(&format!("{{{{#*inline \"{partial}\""));
                if !inline
                    && !self.partials.contains_key(partial)
                    && !self.templates.contains_key(partial)
                {
                    let line = text[..index].matches('\n').count() + 1;
                    out.push((name.clone(), line, partial.to_string()));
                }
            }
        }
        out
    }
}

/// The names of the partials a template includes: `{{> name ...}}`.
fn partial_names(text: &str) -> impl Iterator<Item = &str> {
    // `{{> name}}` and, trimming whitespace, `{{~> name}}`; a dynamic
    // `{{> (expr)}}` names none (see `any_word_in`).
    text.match_indices("{{").filter_map(move |(index, _)| {
        let rest = text[index + 2..]
            .trim_start_matches('~')
            .strip_prefix('>')?;
        let rest = rest.trim_start();
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '}')
            .unwrap_or(rest.len());
        (end > 0 && !rest.starts_with('(')).then(|| &rest[..end])
    })
}

#[cfg(test)]
mod tests {
    use handlebars::Context;
    use serde_json::json;

    use super::*;

    #[test]
    fn comments_are_not_expressions() {
        let text = "{{!-- the request's {{uuid}} --}}{{a}}{{! request }}{{~!-- x --~}}{{b.c}}";
        assert_eq!(expressions(text).collect::<Vec<_>>(), vec!["a", "b.c"]);
    }
    use crate::template::test_support::render;
    use crate::template::{RenderFailure, Templates};

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
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/dstu2");
        let load = || Templates::load_dir(&dir, "templates").expect("loads");
        let original = load();
        let mut inlined = load();
        inlined.inline_constant_partials();
        let data = json!({
            "request": {"id": "7", "path_params": {"id": "2"}, "query": {}, "query_all": {},
                        "headers": {}, "body": null, "body_text": "", "method": "GET", "path": "/"},
            "scenario": {"name": "s"}, "operation": {"key": "k"}
        });
        let varies: Vec<&str> = helpers::nondeterministic().collect();
        let mut compared = 0;
        for ((name, before), (_, after)) in render_all(&original, &data)
            .into_iter()
            .zip(render_all(&inlined, &data))
        {
            if original.sources.templates.contains_key(&name)
                && original.mentions_any(&name, &varies)
            {
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
                version_id: VersionId::Fixed(json!("3")),
                resource_type: None,
            })
        );
        let patient = proof(r#"{"resourceType": "Patient", "id": "{{request.id}}"}"#);
        assert_eq!(
            patient.and_then(|p| p.resource_type).as_deref(),
            Some("Patient")
        );
        let written = proof(r#"{"resourceType": "{{kind}}"}"#).expect("proven");
        assert_eq!(written.resource_type, None);
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
    fn the_default_reads_and_searches_need_no_parse_per_request() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/dstu2");
        let mut templates = Templates::load_dir(&dir, "templates").expect("loads");
        templates.prepare_for_requests();
        for name in [
            "patient/search-meakin.json.hbs",
            "patient/read-meakin.json.hbs",
            "organization/read-legg.json.hbs",
        ] {
            assert!(templates.proven_json(name).is_some(), "{name}");
        }
    }
    #[test]
    fn repeatable_templates_read_named_headers_and_no_randomness() {
        let mut templates = Templates::empty();
        templates
            .sources
            .insert_partial("headers", "\"{{request.headers.x}}\"");
        templates
            .sources
            .insert_partial("state", "{{state_count \"slots\"}}");
        let cases = [
            (
                "body-state-clock",
                "{{request.id}} {{jsonpath request.body \"$.a\"}} {{now}} {{> state}}",
                true,
            ),
            (
                "dynamic-partial-of-safe-ones",
                "{{> (lookup request.body \"p\")}}",
                true,
            ),
            ("uuid", "{{uuid}}", false),
            ("header", "{{request.headers.x}}", true),
            ("every-header", "{{lookup request.headers \"x\"}}", false),
            (
                "trace-written-out",
                "\"{{request.trace_id}}\" {{~ @root.request.trace_id ~}}",
                true,
            ),
            (
                "trace-compared",
                "{{#if (eq request.trace_id \"x\")}}x{{/if}}",
                false,
            ),
            ("whole-request", "{{#with request}}{{path}}{{/with}}", false),
        ];
        for (name, text, _) in cases {
            templates.register(name, text, "t", 1).unwrap();
        }
        for (name, _, repeatable) in cases {
            assert_eq!(
                templates.repeat_headers(name).is_some(),
                repeatable,
                "{name}"
            );
        }
        // A header named one by one keys the kept answers.
        assert_eq!(templates.repeat_headers("header"), Some(vec!["x".into()]));
        assert_eq!(templates.repeat_headers("uuid"), None);
        // The dynamic partial could be `headers`, which reads one.
        assert_eq!(
            templates.repeat_headers("dynamic-partial-of-safe-ones"),
            Some(vec!["x".into()])
        );
    }

    #[test]
    fn request_independence_follows_partials() {
        let mut templates = Templates::empty();
        templates.sources.insert_partial("fixed", "{\"a\": 1}");
        templates
            .sources
            .insert_partial("echo", "\"{{request.path}}\"");
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

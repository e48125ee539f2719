//! What the mock sends back, before it becomes an HTTP response: the
//! [`Answer`] value, rendering a scenario into one (the render stage of the
//! request path), the spec-derived fallback, and error answers.
//!
//! Rendering has a fast path: a *flat* template (text and plain request
//! values only, see `template::flat`) is written straight from the request,
//! without building a Handlebars context; any other template gets a context
//! holding only the request parts its templates read ([`ContextNeeds`]).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use handlebars::Context;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use crate::fhir::{ErrorStyle, Outcome, SpineCode};
use crate::media::{content_type_for, is_json_media};
use crate::request::{Fresh, MockRequest};
use crate::scenario::{HeaderSource, Scenario};
use crate::spec::{schema, ApiModel, Operation};
use crate::state::StateData;
use crate::template::{FlatValues, Templates};
use crate::versions;

/// A response, independent of the HTTP server.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub delay: Duration,
    /// The `meta.versionId` of a versioned resource answer, which its
    /// `ETag` carries (see `versions`); shared, so cached answers clone
    /// it without allocating.
    pub version: Option<Arc<str>>,
}

impl Answer {
    pub fn new(status: StatusCode, content_type: &str, body: Bytes) -> Self {
        Self::typed(status, HeaderValue::from_str(content_type).ok(), body)
    }

    /// An answer whose `Content-Type` header is ready (or none).
    pub fn typed(status: StatusCode, content_type: Option<HeaderValue>, body: Bytes) -> Self {
        // Room for what the request path adds (scenario, operation, ETag,
        // Cache-Control) without growing the map.
        let mut headers = HeaderMap::with_capacity(8);
        if let Some(value) = content_type {
            headers.insert(CONTENT_TYPE, value);
        }
        Self {
            status,
            headers,
            body,
            delay: Duration::ZERO,
            version: None,
        }
    }

    pub fn error(outcome: &Outcome, style: ErrorStyle) -> Self {
        let (content_type, body) = outcome.render(style);
        Self::new(outcome.status, content_type, body)
    }

    /// A copy of a cached answer with room for the headers the request
    /// path adds (`X-Mock-*`, `Cache-Control`, `ETag`, `Vary`). A cloned
    /// map has none to spare and grew twice per answer: a metadata
    /// request spent 1.9 k instructions adding those headers, 1.7 k more
    /// reallocating; with room, 0.9 k, and 0.7 k to copy (callgrind).
    pub fn copy_with_room(&self) -> Self {
        let mut headers = HeaderMap::with_capacity(self.headers.len() + 6);
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        Self {
            status: self.status,
            headers,
            body: self.body.clone(),
            delay: self.delay,
            version: self.version.clone(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(name, value);
        }
        self
    }
}

/// What a spec fallback was made from (`X-Mock-Source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecSource {
    /// The response's example.
    Example,
    /// A minimal instance of the response schema.
    Schema,
    /// Neither: an empty body.
    Empty,
}

impl SpecSource {
    pub fn label(self) -> &'static str {
        match self {
            SpecSource::Example => "example",
            SpecSource::Schema => "schema",
            SpecSource::Empty => "empty",
        }
    }
}

/// The answer an operation gives without a scenario: its first 2xx response,
/// with the spec's example, else a minimal instance of its schema, else empty.
/// Request-independent, so computed once per snapshot.
pub fn spec_fallback(model: &ApiModel, operation: &Operation) -> (Answer, SpecSource) {
    let response = operation
        .responses
        .iter()
        .find(|r| r.status.is_success())
        .or_else(|| operation.responses.first());
    let status = match response.map(|r| r.status) {
        Some(crate::spec::ResponseStatus::Code(code)) => {
            StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
        }
        _ => StatusCode::OK,
    };
    let media = response.and_then(|r| r.content.first());
    let (source, body) = match media {
        Some(media) if media.example.is_some() => (
            SpecSource::Example,
            example_bytes(media.example.as_ref(), &media.media_type),
        ),
        Some(media) if media.schema.is_some() => {
            let instance = media
                .schema
                .as_ref()
                .map(|s| schema::minimal_instance(s, &model.schema_root))
                .unwrap_or(Value::Null);
            (SpecSource::Schema, Bytes::from(instance.to_string()))
        }
        _ => (SpecSource::Empty, Bytes::new()),
    };
    let content_type = content_type_for(operation, status.as_u16());
    let mut answer = Answer::new(status, &content_type, body);
    if source == SpecSource::Empty {
        answer.headers.remove(CONTENT_TYPE);
    }
    (answer, source)
}

fn example_bytes(example: Option<&Value>, media: &str) -> Bytes {
    match example {
        // A text example for a non-JSON media type is the body itself.
        Some(Value::String(text)) if !is_json_media(media) => Bytes::from(text.clone()),
        Some(value) => Bytes::from(value.to_string()),
        None => Bytes::new(),
    }
}

/// The parts of the request a scenario's templates read. What none reads
/// is left out of their context, so it is not built per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextNeeds {
    pub query: bool,
    pub headers: bool,
    pub body: bool,
    pub body_text: bool,
}

impl ContextNeeds {
    pub const ALL: ContextNeeds = ContextNeeds {
        query: true,
        headers: true,
        body: true,
        body_text: true,
    };

    pub const NONE: ContextNeeds = ContextNeeds {
        query: false,
        headers: false,
        body: false,
        body_text: false,
    };

    /// What either reads.
    pub fn or(self, other: ContextNeeds) -> ContextNeeds {
        ContextNeeds {
            query: self.query || other.query,
            headers: self.headers || other.headers,
            body: self.body || other.body,
            body_text: self.body_text || other.body_text,
        }
    }

    /// What the templates `names` (and their partials) read. Naming the
    /// whole `request` (`{{#with request}}`) reads everything.
    pub fn of(names: &[&str], templates: &Templates) -> ContextNeeds {
        let reads = |part: &str| {
            names.iter().any(|name| {
                templates.mentions_any(name, &[part]) || templates.mentions_whole_request(name)
            })
        };
        ContextNeeds {
            query: reads("request.query") || reads("request.query_all"),
            headers: reads("request.headers"),
            body: reads("request.body"),
            body_text: reads("request.body_text"),
        }
    }
}

/// Builds the template context of a request: the parts in `needs`, and
/// always the method, path, path parameters, id and trace id.
pub fn template_context(
    request: &MockRequest,
    path_params: &[(String, String)],
    fresh: Fresh<'_>,
    scenario: Option<&Scenario>,
    operation: &Operation,
    needs: ContextNeeds,
) -> Context {
    // Maps are built at their final size: growing them one insert at a
    // time reallocated on every request.
    let query_len = if needs.query { request.query.len() } else { 0 };
    let mut query = Map::with_capacity(query_len);
    let mut query_all: Map<String, Value> = Map::with_capacity(query_len);
    for (name, value) in request.query.iter().filter(|_| needs.query) {
        if !query.contains_key(name) {
            query.insert(name.clone(), Value::String(value.clone()));
        }
        match query_all.get_mut(name) {
            Some(Value::Array(values)) => values.push(Value::String(value.clone())),
            _ => {
                query_all.insert(name.clone(), json!([value]));
            }
        }
    }
    let mut headers = Map::with_capacity(if needs.headers {
        request.headers.keys_len()
    } else {
        0
    });
    for (name, value) in request.headers.iter().filter(|_| needs.headers) {
        if !headers.contains_key(name.as_str()) {
            headers.insert(
                name.as_str().to_string(),
                Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            );
        }
    }
    let mut params = Map::with_capacity(path_params.len());
    for (name, value) in path_params {
        params.insert(name.clone(), Value::String(value.clone()));
    }
    let body = if needs.body {
        request.body_json().cloned().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let body_text = if needs.body_text {
        request.body_text().into_owned()
    } else {
        String::new()
    };
    let mut request_map = Map::with_capacity(10);
    request_map.insert(
        "method".into(),
        Value::String(request.method.as_str().into()),
    );
    request_map.insert("path".into(), Value::String(request.path.clone()));
    request_map.insert("path_params".into(), Value::Object(params));
    request_map.insert("query".into(), Value::Object(query));
    request_map.insert("query_all".into(), Value::Object(query_all));
    request_map.insert("headers".into(), Value::Object(headers));
    request_map.insert("body".into(), body);
    request_map.insert("body_text".into(), Value::String(body_text));
    request_map.insert("id".into(), Value::String(fresh.id.to_string()));
    request_map.insert("trace_id".into(), Value::String(fresh.trace_id.into()));
    let mut scenario_map = Map::with_capacity(1);
    scenario_map.insert(
        "name".into(),
        scenario.map_or(Value::Null, |s| Value::String(s.name.clone())),
    );
    let mut operation_map = Map::with_capacity(1);
    operation_map.insert("key".into(), Value::String(operation.key.clone()));
    let mut root = Map::with_capacity(3);
    root.insert("request".into(), Value::Object(request_map));
    root.insert("scenario".into(), Value::Object(scenario_map));
    root.insert("operation".into(), Value::Object(operation_map));
    Context::from(Value::Object(root))
}

/// What a scenario's templates are rendered from.
pub enum RenderSource<'a> {
    /// The request: flat templates read it directly, and its Handlebars
    /// context (the parts in `needs`) is built only for a template that is
    /// not flat.
    Request {
        request: &'a MockRequest,
        path_params: &'a [(String, String)],
        fresh: Fresh<'a>,
        needs: ContextNeeds,
    },
    /// A context the caller built (stateful operations, which read state).
    Context(&'a Context),
}

/// The values of a request context, read from the request itself for a
/// flat template: what [`template_context`] would put at the same path.
struct RequestValues<'a> {
    request: &'a MockRequest,
    path_params: &'a [(String, String)],
    fresh: Fresh<'a>,
    scenario: &'a Scenario,
    operation: &'a Operation,
}

impl FlatValues for RequestValues<'_> {
    fn text(&self, path: &[String]) -> Option<Cow<'_, str>> {
        let [root, key, rest @ ..] = path else {
            return None;
        };
        match (root.as_str(), key.as_str(), rest) {
            ("request", "id", []) => Some(Cow::Owned(self.fresh.id.to_string())),
            ("request", "trace_id", []) => Some(Cow::Borrowed(self.fresh.trace_id)),
            ("request", "method", []) => Some(Cow::Borrowed(self.request.method.as_str())),
            ("request", "path", []) => Some(Cow::Borrowed(&self.request.path)),
            ("request", "path_params", [name]) => self
                .path_params
                .iter()
                .find(|(param, _)| param == name)
                .map(|(_, value)| Cow::Borrowed(value.as_str())),
            ("request", "query", [name]) => self.request.query_value(name).map(Cow::Borrowed),
            // The context's header names are lower case: `SSP-From` is not
            // one of them, even though HTTP would match it.
            ("request", "headers", [name]) if !name.bytes().any(|b| b.is_ascii_uppercase()) => {
                let value = self.request.headers.get(name.as_str())?;
                Some(String::from_utf8_lossy(value.as_bytes()))
            }
            ("scenario", "name", []) => Some(Cow::Borrowed(&self.scenario.name)),
            ("operation", "key", []) => Some(Cow::Borrowed(&self.operation.key)),
            _ => None,
        }
    }
}

/// Renders a scenario's answer. A render failure, or a body that is not JSON
/// where the media type is, becomes a 500 OperationOutcome naming the
/// template and position: broken JSON is never sent.
pub fn render_scenario(
    templates: &Templates,
    scenario: &Scenario,
    operation: &Operation,
    source: RenderSource<'_>,
    state: &Arc<StateData>,
    style: ErrorStyle,
) -> Answer {
    let then = &scenario.then;
    let built_context = std::cell::OnceCell::new();
    let render = |name: &str| match &source {
        RenderSource::Context(context) => templates.render(name, context, state),
        RenderSource::Request {
            request,
            path_params,
            fresh,
            needs,
        } => {
            let values = RequestValues {
                request,
                path_params,
                fresh: *fresh,
                scenario,
                operation,
            };
            if let Some(text) = templates.render_flat(name, &values) {
                return Ok(text);
            }
            let context = built_context.get_or_init(|| {
                template_context(
                    request,
                    path_params,
                    *fresh,
                    Some(scenario),
                    operation,
                    *needs,
                )
            });
            templates.render(name, context, state)
        }
    };
    let internal_error = |diagnostics: String| {
        tracing::error!(scenario = %scenario.name, file = %scenario.file, "{diagnostics}");
        Answer::error(
            &Outcome::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                SpineCode::INTERNAL_SERVER_ERROR,
                diagnostics,
            ),
            style,
        )
    };
    let body = match &then.body_template {
        Some(name) => match render(name) {
            Ok(body) => body,
            Err(failure) => {
                return internal_error(format!(
                    "scenario `{}` ({}): {failure}",
                    scenario.name, scenario.file
                ))
            }
        },
        None => String::new(),
    };
    // The body's version (and, for a FHIR resource without one, `"1"`
    // written in): `versions` owns it. A proven template is not parsed.
    let proven = then
        .body_template
        .as_deref()
        .and_then(|name| templates.proven_json(name));
    let (body, version) = if !body.is_empty() && then.json_body {
        match versions::stamp(body, proven, matches!(style, ErrorStyle::Fhir(_))) {
            Ok(stamped) => (stamped.body, stamped.version),
            Err(error) => {
                let template = then.body_template.as_deref().unwrap_or("(none)");
                return internal_error(format!(
                    "scenario `{}` ({}): template `{template}` rendered invalid JSON at line {} column {}: {error}",
                    scenario.name,
                    scenario.file,
                    error.line(),
                    error.column()
                ));
            }
        }
    } else {
        (body, None)
    };
    let content_type = then.content_type.clone().filter(|_| !body.is_empty());
    let mut answer = Answer::typed(then.status, content_type, Bytes::from(body));
    versions::set_answer_version(&mut answer, version);
    for (name, source) in &then.headers {
        match source {
            HeaderSource::Fixed(value) => {
                answer.headers.insert(name.clone(), value.clone());
            }
            HeaderSource::Template(template) => match render(template) {
                Ok(value) => match HeaderValue::from_str(value.trim()) {
                    Ok(value) => {
                        answer.headers.insert(name.clone(), value);
                    }
                    Err(_) => return internal_error(format!("scenario `{}`: header `{name}` rendered a value not valid in HTTP: {value:?}", scenario.name)),
                },
                Err(failure) => return internal_error(format!("scenario `{}`: header `{name}`: {failure}", scenario.name)),
            },
        }
    }
    answer.delay = then.delay;
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Settings, Snapshot, Sources};
    use http::Method;

    fn default_snapshot() -> Snapshot {
        let sources = Sources::default_pack();
        Snapshot::load(&sources, &Settings::default(), 1).expect("the default pack loads")
    }

    fn sample_request() -> MockRequest {
        let mut headers = HeaderMap::new();
        headers.insert("ssp-from", HeaderValue::from_static("200000000359"));
        headers.append("ssp-from", HeaderValue::from_static("second"));
        headers.insert("x-quoted", HeaderValue::from_static("say \"hi\""));
        MockRequest::new(
            Method::GET,
            "/fhir/Patient/2?a=first&a=second&b=x%22y",
            headers,
            Bytes::new(),
        )
    }

    /// Renders `name` both ways: flat from the request, and with Handlebars
    /// from the full context. The flat side is `None` when it gives up.
    fn both_ways(
        templates: &Templates,
        name: &str,
        scenario: &Scenario,
        operation: &Operation,
    ) -> (
        Option<String>,
        Result<String, crate::template::RenderFailure>,
    ) {
        let request = sample_request();
        let path_params = vec![("id".to_string(), "2".to_string())];
        let values = RequestValues {
            request: &request,
            path_params: &path_params,
            fresh: request.fresh(41),
            scenario,
            operation,
        };
        let flat = templates.render_flat(name, &values);
        let context = template_context(
            &request,
            &path_params,
            request.fresh(41),
            Some(scenario),
            operation,
            ContextNeeds::ALL,
        );
        (flat, templates.render(name, &context, &Default::default()))
    }

    #[test]
    fn flat_renders_of_the_default_pack_equal_handlebars_renders() {
        let snapshot = default_snapshot();
        let snapshot = &snapshot.apis[0];
        let mut flat_count = 0;
        for (index, operation) in snapshot.model.operations.iter().enumerate() {
            for scenario in snapshot.scenarios.for_operation(index) {
                let Some(name) = scenario.then.body_template.as_deref() else {
                    continue;
                };
                if !snapshot.templates.is_flat(name) {
                    continue;
                }
                flat_count += 1;
                // `{{now}}` may cross a second between the two renders.
                let equal = (0..3).any(|_| {
                    let (flat, rendered) =
                        both_ways(&snapshot.templates, name, scenario, operation);
                    flat.is_some() && flat.ok_or(()) == rendered.map_err(|_| ())
                });
                assert!(equal, "{name}: the flat render differs from Handlebars'");
            }
        }
        // The care record is rendered from seeded data through Handlebars
        // (scenarios/state/care-records.yaml), so it is not among them.
        assert!(
            flat_count >= 15,
            "only {flat_count} default scenarios render flat"
        );
        assert!(snapshot.templates.is_flat("patient/search-meakin.json.hbs"));
    }

    #[test]
    fn flat_values_are_those_of_the_context() {
        let snapshot = default_snapshot();
        let snapshot = &snapshot.apis[0];
        let operation = &snapshot.model.operations[0];
        let scenario = snapshot
            .scenarios
            .for_operation(0)
            .first()
            .expect("the first operation has scenarios");
        let mut templates = Templates::empty();
        let cases = [
            (
                "all",
                r#""{{request.id}}|{{request.method}}|{{request.path}}|{{request.path_params.id}}|{{request.query.a}}|{{request.query.b}}|{{request.headers.ssp-from}}|{{request.headers.x-quoted}}|{{scenario.name}}|{{operation.key}}""#,
            ),
            ("missing-query", "{{request.query.zzz}}"),
            ("missing-param", "{{request.path_params.zzz}}"),
            ("upper-case-header", "{{request.headers.SSP-From}}"),
            ("body", "{{request.body.x}}"),
            ("object", "{{request.query}}"),
        ];
        for (name, text) in cases {
            templates.register(name, text, "t", 1).expect("compiles");
        }
        templates.prepare_for_requests();
        let (flat, rendered) = both_ways(&templates, "all", scenario, operation);
        let rendered = rendered.expect("renders");
        assert_eq!(flat.as_deref(), Some(rendered.as_str()));
        assert!(
            rendered
                .starts_with(r#""41|GET|/fhir/Patient/2|2|first|x\"y|200000000359|say \"hi\"|"#),
            "{rendered}"
        );
        for (name, _) in &cases[1..] {
            let (flat, rendered) = both_ways(&templates, name, scenario, operation);
            assert_eq!(flat, None, "{name} must go through Handlebars");
            if *name != "object" {
                assert!(rendered.is_err(), "{name}: strict mode refuses it");
            }
        }
    }

    #[test]
    fn context_needs_follow_what_templates_read() {
        let mut templates = Templates::empty();
        let register = |templates: &mut Templates, name: &str, text: &str| {
            templates.register(name, text, "t", 1).expect("compiles")
        };
        register(
            &mut templates,
            "body",
            r#"{"slot": {{json request.body.slot}}}"#,
        );
        register(
            &mut templates,
            "headers",
            r#""{{request.headers.ssp-from}}" {{request.query_all.x}}"#,
        );
        register(
            &mut templates,
            "whole",
            "{{#with request}}{{path}}{{/with}}",
        );
        let body = ContextNeeds::of(&["body"], &templates);
        assert_eq!(
            body,
            ContextNeeds {
                query: false,
                headers: false,
                body: true,
                body_text: false
            }
        );
        let headers = ContextNeeds::of(&["headers"], &templates);
        assert!(headers.headers && headers.query && !headers.body);
        assert_eq!(ContextNeeds::of(&["whole"], &templates), ContextNeeds::ALL);
    }
}

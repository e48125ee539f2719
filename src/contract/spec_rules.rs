//! The checks any definition gets: parameters, request body, media types.
//!
//! Path, query and header values arrive as text; each is coerced to its
//! schema's type (integer, number, boolean, array per `explode`) and then
//! validated with the `jsonschema` crate against the parameter's schema
//! (draft 4). Bodies are parsed as JSON once (`MockRequest::body_json`) and
//! validated against the operation's request schema. Validators compile
//! once per snapshot, on first use.

use http::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;

use super::gpconnect;
use super::{shown, Profile, RuleId, Violation};
use crate::fhir::Era;
use crate::media::{is_json_media, media_essence};
use crate::negotiate::{format_of, Format, FormatSource, Negotiated};
use crate::request::MockRequest;
use crate::spec::schema::{self, error_text, LazyValidator};
use crate::spec::{Operation, Param, ParamLocation};

/// How many schema errors of one body are reported.
const MAX_BODY_ERRORS: usize = 10;

/// The type a text value is coerced to before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ValueKind {
    Text,
    Integer { int32: bool },
    Number,
    Boolean,
    Array(Box<ValueKind>),
}

impl ValueKind {
    /// Reads `type` (following one `$ref`), ignoring a `null` alternative.
    fn of(schema: &Value, root: &Value) -> ValueKind {
        let schema = match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => schema::resolve_pointer(root, reference).unwrap_or(schema),
            None => schema,
        };
        let kind = match schema.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            Some(Value::Array(kinds)) => kinds
                .iter()
                .filter_map(Value::as_str)
                .find(|k| *k != "null")
                .unwrap_or(""),
            _ => "",
        };
        match kind {
            "integer" => ValueKind::Integer {
                int32: schema.get("format").and_then(Value::as_str) == Some("int32"),
            },
            "number" => ValueKind::Number,
            "boolean" => ValueKind::Boolean,
            "array" => ValueKind::Array(Box::new(
                schema
                    .get("items")
                    .map(|items| ValueKind::of(items, root))
                    .unwrap_or(ValueKind::Text),
            )),
            _ => ValueKind::Text,
        }
    }

    fn coerce(&self, text: &str) -> Result<Value, String> {
        match self {
            ValueKind::Text | ValueKind::Array(_) => Ok(Value::String(text.to_string())),
            ValueKind::Integer { int32 } => {
                let number: i64 = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("must be an integer, was {}", shown(text)))?;
                if *int32 && i32::try_from(number).is_err() {
                    return Err(format!(
                        "must be a 32-bit integer (int32), was {}",
                        shown(text)
                    ));
                }
                Ok(Value::from(number))
            }
            ValueKind::Number => {
                if let Ok(integer) = text.trim().parse::<i64>() {
                    return Ok(Value::from(integer));
                }
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("must be a number, was {}", shown(text)))
            }
            ValueKind::Boolean => match text.trim() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("must be true or false, was {}", shown(text))),
            },
        }
    }
}

/// Whether a schema says nothing that coercion has not already checked.
fn is_trivial(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else {
        return true;
    };
    map.iter().all(|(key, value)| match key.as_str() {
        "type" | "description" | "title" | "default" => true,
        "format" => matches!(value.as_str(), Some("int32" | "int64" | "float" | "double")),
        "items" => is_trivial(value),
        _ => false,
    })
}

/// One parameter's rule.
#[derive(Debug)]
struct ParamRule {
    /// Index into the operation's `params`.
    index: usize,
    /// `query parameter start`: how violations name it.
    at: String,
    kind: ValueKind,
    /// False when the schema says no more than the type.
    validate: bool,
    validator: LazyValidator,
}

/// One media type a request body may have.
#[derive(Debug)]
struct BodyMedia {
    /// Index into the request body's `content`.
    index: usize,
    essence: String,
    json: bool,
    /// A FHIR JSON type: `application/json` is accepted for it too.
    fhir_json: bool,
    validator: LazyValidator,
}

#[derive(Debug)]
struct BodyRule {
    required: bool,
    media: Vec<BodyMedia>,
}

/// The spec rules of one operation.
#[derive(Debug)]
pub struct OperationRules {
    params: Vec<ParamRule>,
    body: Option<BodyRule>,
    /// The response media types this (JSON-only) mock can answer with.
    servable: Vec<String>,
    /// GP Connect's rules apply: a bad path id is an unknown id (404).
    gp_connect: bool,
    /// The resource type a path id names: the segment before the first
    /// `{parameter}` (`Patient` in `/fhir/Patient/{id}/Appointment`).
    resource: String,
}

fn is_fhir_json(essence: &str) -> bool {
    essence == "application/fhir+json" || essence == "application/json+fhir"
}

impl OperationRules {
    pub fn compile(operation: &Operation, root: &Value, profile: Profile) -> OperationRules {
        let gpc = matches!(profile, Profile::GpConnect(_));
        let identifier_search = gpconnect::identifier_search_resource(operation).is_some();
        let params = operation
            .params
            .iter()
            .enumerate()
            .filter(|(_, param)| param.location != ParamLocation::Cookie)
            // Under GP Connect these have their own rules and messages.
            .filter(|(_, param)| {
                !(gpc
                    && (gpconnect::covers_header(param)
                        || (identifier_search
                            && param.location == ParamLocation::Query
                            && param.name == "identifier")))
            })
            .map(|(index, param)| ParamRule {
                index,
                at: format!("{} parameter {}", param.location.as_str(), param.name),
                kind: ValueKind::of(&param.schema, root),
                validate: !is_trivial(&param.schema),
                validator: LazyValidator::default(),
            })
            .collect();
        let body = operation.request_body.as_ref().map(|body| BodyRule {
            required: body.required,
            media: body
                .content
                .iter()
                .enumerate()
                .map(|(index, media)| {
                    let essence = media_essence(&media.media_type);
                    BodyMedia {
                        index,
                        json: is_json_media(&essence),
                        fhir_json: is_fhir_json(&essence),
                        essence,
                        validator: LazyValidator::default(),
                    }
                })
                .collect(),
        });
        let produced: Vec<String> = operation
            .produces()
            .into_iter()
            .map(media_essence)
            .collect();
        let json: Vec<String> = produced
            .iter()
            .filter(|m| is_json_media(m))
            .cloned()
            .collect();
        let servable = match (json.is_empty(), produced.is_empty(), profile) {
            (false, _, _) => json,
            (true, false, _) => produced,
            // A GP Connect operation declaring no media still answers FHIR JSON.
            (true, true, Profile::GpConnect(era)) => vec![era.json_media_type().to_string()],
            (true, true, Profile::None) => Vec::new(),
        };
        let resource = operation
            .path
            .split('/')
            .take_while(|segment| !segment.starts_with('{'))
            .last()
            .unwrap_or_default()
            .to_string();
        OperationRules {
            params,
            body,
            servable,
            gp_connect: gpc,
            resource,
        }
    }

    /// `_format` (GP Connect only) > `Accept` > request `Content-Type`:
    /// the first one given must be satisfiable, else 415. For FHIR (GP
    /// Connect) the request path has negotiated already: JSON or XML in
    /// either era's media types; its refusal is the violation.
    pub fn check_media(
        &self,
        operation: &Operation,
        request: &MockRequest,
        fhir: Option<(Era, &Negotiated)>,
        out: &mut Vec<Violation>,
    ) {
        if let Some((era, negotiated)) = fhir {
            let Some(refusal) = &negotiated.refusal else {
                return;
            };
            let (json, xml) = (
                Format::Json.content_type(era),
                Format::Xml.content_type(era),
            );
            let (json, xml) = (media_essence(json), media_essence(xml));
            let message = match refusal.source {
                FormatSource::Query => format!(
                    "must name a format this server answers ({json}, {xml}, json or xml), was {}",
                    shown(&refusal.asked)
                ),
                FormatSource::Accept => format!(
                    "must allow {json} or {xml} (FHIR JSON or XML), was {}",
                    shown(&refusal.asked)
                ),
                FormatSource::ContentType => {
                    // With a body, check_body judges Content-Type.
                    if !request.body.is_empty() && operation.request_body.is_some() {
                        return;
                    }
                    format!(
                        "asks for an answer in {}, but this server answers {json} or {xml} (send Accept to choose)",
                        shown(&refusal.asked)
                    )
                }
            };
            out.push(Violation::of(
                RuleId::MediaType,
                refusal.source.label(),
                message,
            ));
            return;
        }
        if self.servable.is_empty() {
            return;
        }
        // An empty Accept is no Accept.
        let accept = request
            .headers
            .get(ACCEPT)
            .map(|value| value.to_str().unwrap_or("\u{fffd}"))
            .filter(|text| !text.trim().is_empty());
        if let Some(text) = accept {
            let ok = text.split(',').any(|range| {
                let mut parts = range.split(';');
                let media = parts.next().unwrap_or("");
                let refused = parts.any(|p| {
                    let p = p.trim();
                    p.strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                !refused && self.satisfiable(media)
            });
            if !ok {
                out.push(Violation::of(
                    RuleId::MediaType,
                    "header Accept",
                    format!(
                        "must allow {} (this server answers JSON only), was {}",
                        self.servable.join(" or "),
                        shown(text)
                    ),
                ));
            }
            return;
        }
        // Without _format or Accept the answer follows the request body's
        // type; with a body, check_body already judges Content-Type.
        if !request.body.is_empty() && operation.request_body.is_some() {
            return;
        }
        if let Some(content_type) = request.headers.get(CONTENT_TYPE) {
            let text = content_type.to_str().unwrap_or("\u{fffd}");
            if !text.trim().is_empty() && !self.satisfiable(text) {
                out.push(Violation::of(
                RuleId::MediaType,
                    "header Content-Type",
                    format!(
                        "asks for an answer in {}, but this server answers {} (send Accept to choose)",
                        shown(text),
                        self.servable.join(" or ")
                    ),
                ));
            }
        }
    }

    /// Whether one media range can be answered (definitions that are not FHIR).
    fn satisfiable(&self, range: &str) -> bool {
        let range = media_essence(range);
        let any_json = self.servable.iter().any(|m| is_json_media(m));
        match range.as_str() {
            "*/*" => true,
            "json" | "application/json" | "text/json" => any_json,
            _ => {
                if let Some(kind) = range.strip_suffix("/*") {
                    return self
                        .servable
                        .iter()
                        .any(|m| m.split('/').next() == Some(kind));
                }
                self.servable.contains(&range)
            }
        }
    }

    pub fn check_params(
        &self,
        operation: &Operation,
        root: &Value,
        request: &MockRequest,
        path_params: &[(String, String)],
        out: &mut Vec<Violation>,
    ) {
        for rule in &self.params {
            let Some(param) = operation.params.get(rule.index) else {
                continue;
            };
            let at = &rule.at;
            let values = raw_values(param, request, path_params);
            let values = match values {
                Ok(values) => values,
                Err(message) => {
                    out.push(Violation::of(
                        RuleId::HeaderParamInvalid,
                        at.clone(),
                        message,
                    ));
                    continue;
                }
            };
            if values.is_empty() {
                if param.required {
                    out.push(Violation::of(
                        RuleId::ParamRequired,
                        at.clone(),
                        "is required",
                    ));
                }
                continue;
            }
            let invalid = |message: String| match param.location {
                ParamLocation::Query => {
                    Violation::of(RuleId::QueryParamInvalid, at.clone(), message)
                }
                ParamLocation::Path if self.gp_connect => Violation::about(
                    RuleId::UnknownId,
                    &self.resource,
                    at.clone(),
                    format!("names no {}: {message}", self.resource),
                ),
                ParamLocation::Path => Violation::of(RuleId::PathParamInvalid, at.clone(), message),
                _ => Violation::of(RuleId::HeaderParamInvalid, at.clone(), message),
            };
            let instances: Vec<Result<Value, String>> = match &rule.kind {
                ValueKind::Array(item) => {
                    let items: Result<Vec<Value>, String> = array_items(param, &values)
                        .into_iter()
                        .map(|t| item.coerce(t))
                        .collect();
                    vec![items.map(Value::Array)]
                }
                kind => values.iter().map(|text| kind.coerce(text)).collect(),
            };
            for instance in instances {
                let instance = match instance {
                    Ok(instance) => instance,
                    Err(message) => {
                        out.push(invalid(message));
                        continue;
                    }
                };
                if !rule.validate {
                    continue;
                }
                let Some(validator) = rule.validator.get(&param.schema, root, at) else {
                    continue;
                };
                let first = validator.validate(&instance).err().map(|e| error_text(&e));
                if let Some(error) = first {
                    out.push(invalid(format!("is invalid: {error}")));
                }
            }
        }
    }

    pub fn check_body(
        &self,
        operation: &Operation,
        root: &Value,
        request: &MockRequest,
        out: &mut Vec<Violation>,
    ) {
        let (Some(rule), Some(body)) = (&self.body, &operation.request_body) else {
            return;
        };
        let declared = || {
            rule.media
                .iter()
                .map(|m| m.essence.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if request.body.is_empty() {
            if rule.required {
                out.push(Violation::of(
                    RuleId::BodyRequired,
                    "request body",
                    format!("is required ({})", declared()),
                ));
            }
            return;
        }
        let Some(content_type) = request.headers.get(CONTENT_TYPE) else {
            out.push(Violation::of(
                RuleId::MediaType,
                "header Content-Type",
                format!("is required with a body; expected {}", declared()),
            ));
            return;
        };
        let given = media_essence(content_type.to_str().unwrap_or("\u{fffd}"));
        let media = rule.media.iter().find(|m| m.essence == given).or_else(|| {
            rule.media.iter().find(|m| {
                m.essence == "*/*"
                        || m.essence
                            .strip_suffix("/*")
                            .is_some_and(|kind| given.split('/').next() == Some(kind))
                        // FHIR servers accept plain JSON for FHIR JSON, and
                        // (read by the request path) FHIR XML.
                        || (m.fhir_json && given == "application/json")
                        || (m.fhir_json
                            && request.is_xml_body()
                            && format_of(&given) == Some(Format::Xml))
            })
        });
        let Some(media) = media else {
            out.push(Violation::of(
                RuleId::MediaType,
                "header Content-Type",
                format!(
                    "must be one of {} (compared without parameters), was {}",
                    declared(),
                    shown(&given)
                ),
            ));
            return;
        };
        if !media.json {
            return;
        }
        if let Some(error) = request.xml_body_error() {
            out.push(Violation::of(
                RuleId::BodyMalformed,
                "request body",
                format!("must be valid FHIR XML ({given}): {error}"),
            ));
            return;
        }
        let Some(instance) = request.body_json() else {
            let detail = match serde_json::from_slice::<Value>(&request.body) {
                Err(error) => format!(
                    "at line {} column {}: {error}",
                    error.line(),
                    error.column()
                ),
                Ok(_) => "unreadable".to_string(),
            };
            out.push(Violation::of(
                RuleId::BodyMalformed,
                "request body",
                format!("must be valid JSON ({given}): {detail}"),
            ));
            return;
        };
        let Some(schema) = body
            .content
            .get(media.index)
            .and_then(|m| m.schema.as_ref())
        else {
            return;
        };
        let Some(validator) = media.validator.get(schema, root, "request body") else {
            return;
        };
        // Operation inputs (FHIR Parameters) are parameters; anything else a resource.
        let rule = if instance.get("resourceType").and_then(Value::as_str) == Some("Parameters") {
            RuleId::BodyParametersInvalid
        } else {
            RuleId::BodyResourceInvalid
        };
        if validator.is_valid(instance) {
            return;
        }
        for error in validator.iter_errors(instance).take(MAX_BODY_ERRORS) {
            let pointer = error.instance_path.to_string();
            out.push(Violation::of(
                rule,
                format!("body {}", if pointer.is_empty() { "/" } else { &pointer }),
                format!("is invalid: {}", error_text(&error)),
            ));
        }
    }
}

/// The text values a parameter was given: the query's values under its
/// exact name, the header's, or the path segment's.
fn raw_values<'r>(
    param: &'r Param,
    request: &'r MockRequest,
    path_params: &'r [(String, String)],
) -> Result<Vec<&'r str>, String> {
    match param.location {
        ParamLocation::Query => Ok(request.query_values(&param.name).collect()),
        ParamLocation::Path => Ok(path_params
            .iter()
            .filter(|(name, _)| *name == param.name)
            .map(|(_, value)| value.as_str())
            .collect()),
        ParamLocation::Header => {
            let mut values = Vec::new();
            for value in request.headers.get_all(param.name.as_str()) {
                match value.to_str() {
                    Ok(text) => values.push(text),
                    Err(_) => return Err("must be visible ASCII text".to_string()),
                }
            }
            Ok(values)
        }
        ParamLocation::Cookie => Ok(Vec::new()),
    }
}

/// An array parameter's items: repeated query values when exploded, else
/// the first value split on commas.
fn array_items<'a>(param: &Param, values: &[&'a str]) -> Vec<&'a str> {
    if param.location == ParamLocation::Query && param.explode {
        values.to_vec()
    } else {
        let first = values.first().copied().unwrap_or("");
        first.split(',').map(str::trim).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coercion_by_kind() {
        let int32 = ValueKind::Integer { int32: true };
        assert_eq!(int32.coerce("42"), Ok(json!(42)));
        assert!(int32.coerce("abc").unwrap_err().contains("integer"));
        assert!(int32.coerce("3000000000").unwrap_err().contains("int32"));
        assert_eq!(ValueKind::Number.coerce("1.5"), Ok(json!(1.5)));
        assert!(ValueKind::Number.coerce("NaN").is_err());
        assert_eq!(ValueKind::Boolean.coerce("true"), Ok(json!(true)));
        assert!(ValueKind::Boolean.coerce("yes").is_err());
    }

    #[test]
    fn kinds_from_schemas() {
        let root = json!({"components": {"schemas": {"N": {"type": "integer"}}}});
        assert_eq!(
            ValueKind::of(&json!({"$ref": "#/components/schemas/N"}), &root),
            ValueKind::Integer { int32: false }
        );
        assert_eq!(
            ValueKind::of(&json!({"type": ["boolean", "null"]}), &root),
            ValueKind::Boolean
        );
        assert_eq!(
            ValueKind::of(
                &json!({"type": "array", "items": {"type": "number"}}),
                &root
            ),
            ValueKind::Array(Box::new(ValueKind::Number))
        );
    }

    #[test]
    fn trivial_schemas_skip_validation() {
        assert!(is_trivial(&json!({"type": "string", "description": "x"})));
        assert!(is_trivial(&json!({"type": "integer", "format": "int32"})));
        assert!(!is_trivial(&json!({"type": "string", "pattern": "^a$"})));
        assert!(!is_trivial(&json!({"type": "string", "format": "date"})));
    }

    #[test]
    fn refs_resolve_against_the_root() {
        let root = json!({"components": {"schemas": {"Code": {"type": "string", "enum": ["A"]}}}});
        let schema = json!({"$ref": "#/components/schemas/Code"});
        let validator = schema::compile_validator(&schema, &root, "test").expect("compiles");
        assert!(validator.is_valid(&json!("A")));
        assert!(!validator.is_valid(&json!("B")));
    }
}

//! The API definition: loading Swagger 2.0 or OpenAPI 3.0 (JSON or YAML)
//! into one [`ApiModel`] that the rest of the server reads.
//!
//! `openapiv3` types stay inside this module: Swagger 2.0 is converted to
//! OpenAPI 3.0 JSON first (`swagger2`), then everything is read through
//! `openapiv3` and flattened into owned operations with their schemas as
//! JSON Schema (`schema`).

pub mod schema;
pub mod swagger2;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use http::Method;
use openapiv3::{OpenAPI, ReferenceOr};
use serde_json::{json, Value};

use crate::error::{LoadError, LoadErrors};

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    Path,
    Query,
    Header,
    Cookie,
}

impl ParamLocation {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamLocation::Path => "path",
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
        }
    }
}

/// One declared parameter, its schema already in JSON Schema form.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub location: ParamLocation,
    pub required: bool,
    pub schema: Value,
    pub example: Option<Value>,
    /// For arrays in the query: repeated `name=a&name=b` (true) or `name=a,b`.
    pub explode: bool,
}

/// A media type of a request or response body.
#[derive(Debug, Clone)]
pub struct Media {
    pub media_type: String,
    pub schema: Option<Value>,
    pub example: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct RequestBody {
    pub required: bool,
    pub content: Vec<Media>,
}

/// The status a declared response covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStatus {
    Code(u16),
    /// `2XX` is `Range(2)`.
    Range(u16),
    Default,
}

impl ResponseStatus {
    pub fn covers(self, status: u16) -> bool {
        match self {
            ResponseStatus::Code(code) => code == status,
            ResponseStatus::Range(class) => status / 100 == class,
            ResponseStatus::Default => true,
        }
    }

    pub fn is_success(self) -> bool {
        match self {
            ResponseStatus::Code(code) => (200..300).contains(&code),
            ResponseStatus::Range(class) => class == 2,
            ResponseStatus::Default => false,
        }
    }

    pub fn label(self) -> String {
        match self {
            ResponseStatus::Code(code) => code.to_string(),
            ResponseStatus::Range(class) => format!("{class}XX"),
            ResponseStatus::Default => "default".to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResponseSpec {
    pub status: ResponseStatus,
    pub description: String,
    pub content: Vec<Media>,
    pub headers: Vec<String>,
}

/// One (path, method) of the definition.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The operationId, or `METHOD /path` (the path as the spec writes it).
    pub key: String,
    pub operation_id: Option<String>,
    pub method: Method,
    /// The path as the spec writes it.
    pub path: String,
    /// The path as served: the server/basePath prefix plus `path`.
    pub full_path: String,
    pub summary: Option<String>,
    pub tags: Vec<String>,
    pub params: Vec<Param>,
    pub request_body: Option<RequestBody>,
    pub responses: Vec<ResponseSpec>,
}

impl Operation {
    /// The declared response covering `status`: an exact code first, then
    /// its class, then `default`.
    pub fn response_for(&self, status: u16) -> Option<&ResponseSpec> {
        let exact = |r: &&ResponseSpec| r.status == ResponseStatus::Code(status);
        let range = |r: &&ResponseSpec| r.status == ResponseStatus::Range(status / 100);
        let default = |r: &&ResponseSpec| r.status == ResponseStatus::Default;
        self.responses
            .iter()
            .find(exact)
            .or_else(|| self.responses.iter().find(range))
            .or_else(|| self.responses.iter().find(default))
    }

    /// The media type answered for `status`: the declared response's first,
    /// else the first the operation produces at all.
    pub fn produces_for(&self, status: u16) -> Option<&str> {
        self.response_for(status)
            .and_then(|r| r.content.first())
            .or_else(|| self.responses.iter().flat_map(|r| r.content.first()).next())
            .map(|m| m.media_type.as_str())
    }

    /// Every media type the operation's responses declare, deduplicated.
    pub fn produces(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for media in self.responses.iter().flat_map(|r| &r.content) {
            if !out.contains(&media.media_type.as_str()) {
                out.push(&media.media_type);
            }
        }
        out
    }

    pub fn is_write(&self) -> bool {
        matches!(
            self.method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        )
    }
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub name: String,
    pub description: Option<String>,
}

/// A loaded definition, ready for routing, checking and answering.
#[derive(Debug, Clone)]
pub struct ApiModel {
    /// The file the definition came from, as given.
    pub source: String,
    pub title: String,
    pub version: String,
    /// `swagger: 2.0` or `openapi: 3.0.x`, as found.
    pub spec_version: String,
    /// The path prefix every route is served under ("" for none).
    pub prefix: String,
    pub tags: Vec<Tag>,
    pub operations: Vec<Operation>,
    /// `{"components": {"schemas": …}}` in JSON Schema form: the document
    /// that every schema's `$ref` resolves against.
    pub schema_root: Arc<Value>,
}

impl ApiModel {
    pub fn operation(&self, key: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.key == key)
    }

    /// Every media type of every response and request body.
    pub fn media_types(&self) -> impl Iterator<Item = &str> {
        self.operations.iter().flat_map(|op| {
            op.responses
                .iter()
                .flat_map(|r| &r.content)
                .chain(op.request_body.iter().flat_map(|b| &b.content))
                .map(|m| m.media_type.as_str())
        })
    }
}

/// Reads and loads the definition at `path`.
pub fn load_file(path: &Path) -> Result<ApiModel, LoadErrors> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| {
        LoadError::new(&label, None, format!("cannot read the spec file: {error}"))
    })?;
    load_str(&text, &label)
}

/// Loads a definition from its text; `label` names it in errors.
pub fn load_str(text: &str, label: &str) -> Result<ApiModel, LoadErrors> {
    let document = parse_document(text, label)?;
    let (spec_version, openapi_json) = normalise(&document, label)?;
    let mut errors = check_refs(&openapi_json, label);
    let openapi: OpenAPI = match serde_path_to_error::deserialize(&openapi_json) {
        Ok(openapi) => openapi,
        Err(error) => {
            errors.push(LoadError::new(
                label,
                None,
                format!(
                    "not a valid OpenAPI 3.0 document at `{}`: {}",
                    error.path(),
                    error.inner()
                ),
            ));
            return Err(LoadErrors(errors));
        }
    };
    let model = build_model(&openapi, &openapi_json, spec_version, label, &mut errors);
    if errors.is_empty() {
        Ok(model)
    } else {
        Err(LoadErrors(errors))
    }
}

/// JSON or YAML, told apart by content: a document whose first non-blank
/// character is `{` is JSON.
fn parse_document(text: &str, label: &str) -> Result<Value, LoadError> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|error| {
            LoadError::new(
                label,
                Some(error.line()),
                format!("JSON syntax error at column {}: {error}", error.column()),
            )
        })
    } else {
        parse_yaml(text, label)
    }
}

/// Reads a YAML definition as JSON. Keys that YAML reads as numbers or
/// booleans (`200:`) are kept as the text written, as OpenAPI wants. Scalars
/// as serde_yaml 0.9 read them (YAML 1.2 booleans, leading zeros kept as
/// text), and `<<` is an ordinary key, as it was.
fn parse_yaml(text: &str, label: &str) -> Result<Value, LoadError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        merge_keys: serde_saphyr::MergeKeyPolicy::AsOrdinary,
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|error| {
        let location = error.location();
        let error = error.render_with_formatter(&serde_saphyr::UserMessageFormatter);
        LoadError::new(
            label,
            location.and_then(|l| usize::try_from(l.line()).ok()),
            match location {
                Some(l) => format!("YAML syntax error at column {}: {error}", l.column()),
                None => format!("YAML syntax error: {error}"),
            },
        )
    })
}

/// Returns the version found and the document as OpenAPI 3.0 JSON.
fn normalise(document: &Value, label: &str) -> Result<(String, Value), LoadError> {
    let Some(root) = document.as_object() else {
        return Err(LoadError::new(
            label,
            None,
            "not an API definition: expected a JSON/YAML object with a `swagger: \"2.0\"` or `openapi: 3.0.x` field",
        ));
    };
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(version) = root.get("swagger").map(as_text) {
        if version == "2.0" {
            return Ok((
                format!("swagger {version}"),
                swagger2::to_openapi3(document),
            ));
        }
        return Err(LoadError::new(
            label,
            None,
            format!("unsupported Swagger version `{version}`: expected 2.0"),
        ));
    }
    if let Some(version) = root.get("openapi").map(as_text) {
        if version.starts_with("3.0") {
            return Ok((format!("openapi {version}"), document.clone()));
        }
        return Err(LoadError::new(
            label,
            None,
            format!("unsupported OpenAPI version `{version}`: expected 3.0.x (or Swagger 2.0)"),
        ));
    }
    Err(LoadError::new(
        label,
        None,
        "not an API definition: no `swagger` or `openapi` version field at the top level",
    ))
}

/// Every local `$ref` must point at something; external refs are not
/// supported. Errors name the ref and the operation (or component) using it.
fn check_refs(document: &Value, label: &str) -> Vec<LoadError> {
    let mut errors = Vec::new();
    let mut report = |reference: &str, used_by: &str| {
        let message = if reference.starts_with('#') {
            format!("$ref `{reference}` (used by {used_by}) points nowhere")
        } else {
            format!(
                "$ref `{reference}` (used by {used_by}) is external: only local `#/...` refs are supported"
            )
        };
        errors.push(LoadError::new(label, None, message));
    };
    for (path, item) in document
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let used_by = match operation.get("operationId").and_then(Value::as_str) {
                Some(id) => format!("operation {id}"),
                None if method == "parameters" => format!("path {path}"),
                None => format!("operation {} {path}", method.to_uppercase()),
            };
            for reference in refs_in(operation) {
                if resolve_ref(document, reference).is_none() {
                    report(reference, &used_by);
                }
            }
        }
    }
    for (kind, group) in document
        .get("components")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (name, component) in group.as_object().into_iter().flatten() {
            for reference in refs_in(component) {
                if resolve_ref(document, reference).is_none() {
                    report(reference, &format!("components.{kind}.{name}"));
                }
            }
        }
    }
    errors
}

fn refs_in(value: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(current) = stack.pop() {
        match current {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("$ref", Value::String(target)) => out.push(target.as_str()),
                        // Examples are data: a `$ref` key inside one is not a reference.
                        ("example" | "examples" | "x-example", _) => {}
                        _ => stack.push(inner),
                    }
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}

fn resolve_ref<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    let decoded = percent_encoding::percent_decode_str(pointer).decode_utf8_lossy();
    document.pointer(&decoded)
}

/// Resolves a `ReferenceOr<T>` against `document` (components), deserialising
/// the target. Chains of refs are followed a few levels deep.
fn resolve<T: Clone + serde::de::DeserializeOwned>(
    item: &ReferenceOr<T>,
    document: &Value,
) -> Option<T> {
    match item {
        ReferenceOr::Item(value) => Some(value.clone()),
        ReferenceOr::Reference { reference } => {
            let mut target = resolve_ref(document, reference)?;
            for _ in 0..8 {
                match target.get("$ref").and_then(Value::as_str) {
                    Some(next) => target = resolve_ref(document, next)?,
                    None => break,
                }
            }
            serde_json::from_value(target.clone()).ok()
        }
    }
}

fn schema_json(schema: &ReferenceOr<openapiv3::Schema>) -> Value {
    serde_json::to_value(schema)
        .map(|value| schema::to_json_schema(&value))
        .unwrap_or_else(|_| json!({}))
}

fn media_list(content: &indexmap::IndexMap<String, openapiv3::MediaType>) -> Vec<Media> {
    content
        .iter()
        .map(|(media_type, media)| Media {
            media_type: media_type.clone(),
            schema: media.schema.as_ref().map(schema_json),
            example: media.example.clone().or_else(|| {
                media.examples.values().find_map(|example| match example {
                    ReferenceOr::Item(item) => item.value.clone(),
                    ReferenceOr::Reference { .. } => None,
                })
            }),
        })
        .collect()
}

/// The path part of the first server URL: `https://h/base/` → `/base`.
fn server_prefix(openapi: &OpenAPI) -> String {
    let Some(server) = openapi.servers.first() else {
        return String::new();
    };
    let mut url = server.url.clone();
    for (name, variable) in server.variables.iter().flatten() {
        url = url.replace(&format!("{{{name}}}"), &variable.default);
    }
    let path = match url.find("://") {
        Some(scheme_end) => {
            let rest = &url[scheme_end + 3..];
            rest.find('/').map(|i| &rest[i..]).unwrap_or("")
        }
        None => url.as_str(),
    };
    path.trim_end_matches('/').to_string()
}

fn build_model(
    openapi: &OpenAPI,
    document: &Value,
    spec_version: String,
    label: &str,
    errors: &mut Vec<LoadError>,
) -> ApiModel {
    let prefix = server_prefix(openapi);
    let mut operations = Vec::new();
    let mut ids_seen: HashMap<String, String> = HashMap::new();
    for (path, item) in openapi.paths.iter() {
        let Some(item) = resolve(item, document) else {
            errors.push(LoadError::new(
                label,
                None,
                format!("path {path}: its $ref cannot be resolved"),
            ));
            continue;
        };
        for (method_name, operation) in item.iter() {
            let method =
                Method::from_bytes(method_name.to_uppercase().as_bytes()).unwrap_or(Method::GET);
            let key = operation
                .operation_id
                .clone()
                .unwrap_or_else(|| format!("{method} {path}"));
            let where_ = format!("{method} {path}");
            if let Some(id) = &operation.operation_id {
                if let Some(first) = ids_seen.insert(id.clone(), where_.clone()) {
                    errors.push(LoadError::new(
                        label,
                        None,
                        format!("duplicate operationId `{id}`: used by {first} and {where_}"),
                    ));
                }
            }
            let mut params: Vec<Param> = Vec::new();
            // Operation parameters override path-level ones of the same name and place.
            for parameter in operation.parameters.iter().chain(item.parameters.iter()) {
                let Some(parameter) = resolve(parameter, document) else {
                    continue; // reported by check_refs
                };
                let param = to_param(parameter);
                if !params
                    .iter()
                    .any(|p| p.name == param.name && p.location == param.location)
                {
                    params.push(param);
                }
            }
            let request_body = operation
                .request_body
                .as_ref()
                .and_then(|body| resolve(body, document))
                .map(|body| RequestBody {
                    required: body.required,
                    content: media_list(&body.content),
                });
            let mut responses = Vec::new();
            for (status, response) in &operation.responses.responses {
                let status = match status {
                    openapiv3::StatusCode::Code(code) => ResponseStatus::Code(*code),
                    openapiv3::StatusCode::Range(class) => ResponseStatus::Range(*class),
                };
                if let Some(response) = resolve(response, document) {
                    responses.push(to_response_spec(status, &response));
                }
            }
            if let Some(response) = operation
                .responses
                .default
                .as_ref()
                .and_then(|r| resolve(r, document))
            {
                responses.push(to_response_spec(ResponseStatus::Default, &response));
            }
            operations.push(Operation {
                key,
                operation_id: operation.operation_id.clone(),
                method,
                path: path.clone(),
                full_path: format!("{prefix}{path}"),
                summary: operation.summary.clone(),
                tags: operation.tags.clone(),
                params,
                request_body,
                responses,
            });
        }
    }
    let schemas = document
        .pointer("/components/schemas")
        .map(schema::to_json_schema)
        .unwrap_or_else(|| json!({}));
    ApiModel {
        source: label.to_string(),
        title: openapi.info.title.clone(),
        version: openapi.info.version.clone(),
        spec_version,
        prefix,
        tags: openapi
            .tags
            .iter()
            .map(|tag| Tag {
                name: tag.name.clone(),
                description: tag.description.clone(),
            })
            .collect(),
        operations,
        schema_root: Arc::new(json!({ "components": { "schemas": schemas } })),
    }
}

fn to_response_spec(status: ResponseStatus, response: &openapiv3::Response) -> ResponseSpec {
    ResponseSpec {
        status,
        description: response.description.clone(),
        content: media_list(&response.content),
        headers: response.headers.keys().cloned().collect(),
    }
}

fn to_param(parameter: openapiv3::Parameter) -> Param {
    let (location, explode_default) = match &parameter {
        openapiv3::Parameter::Query { style, .. } => (
            ParamLocation::Query,
            matches!(style, openapiv3::QueryStyle::Form),
        ),
        openapiv3::Parameter::Header { .. } => (ParamLocation::Header, false),
        openapiv3::Parameter::Path { .. } => (ParamLocation::Path, false),
        openapiv3::Parameter::Cookie { .. } => (ParamLocation::Cookie, true),
    };
    let data = parameter.parameter_data();
    let schema = match &data.format {
        openapiv3::ParameterSchemaOrContent::Schema(schema) => schema_json(schema),
        openapiv3::ParameterSchemaOrContent::Content(content) => content
            .values()
            .find_map(|media| media.schema.as_ref().map(schema_json))
            .unwrap_or_else(|| json!({})),
    };
    let example = data.example.clone().or_else(|| {
        data.extensions.get("x-example").cloned().or_else(|| {
            data.examples.values().find_map(|example| match example {
                ReferenceOr::Item(item) => item.value.clone(),
                ReferenceOr::Reference { .. } => None,
            })
        })
    });
    Param {
        explode: data.explode.unwrap_or(explode_default),
        name: data.name,
        location,
        required: data.required || location == ParamLocation::Path,
        schema,
        example,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_version_found() {
        let error = load_str(r#"{"openapi": "3.1.0", "info": {}}"#, "x.json").unwrap_err();
        assert!(error.to_string().contains("`3.1.0`"), "{error}");
    }

    #[test]
    fn yaml_integer_keys_become_strings() {
        let model = load_str(
            "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        200: {description: ok}\n",
            "y.yaml",
        )
        .unwrap();
        assert_eq!(model.operations[0].key, "GET /a");
        assert!(model.operations[0].responses[0].status.is_success());
    }
}

//! Reading a definition: JSON or YAML text to a document, Swagger 2.0
//! converted to OpenAPI 3.0 JSON, `$ref`s checked, then the model built
//! (`build`).

use std::path::Path;

use openapiv3::OpenAPI;
use serde::Deserialize as _;
use serde_json::Value;

use super::build::build_model;
use super::{swagger2, ApiModel};
use crate::error::{LoadError, LoadErrors};

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
    // Read untracked first; only a failing document is read again to name
    // the path.
    let parsed = OpenAPI::deserialize(&openapi_json)
        .or_else(|_| serde_path_to_error::deserialize(&openapi_json));
    let openapi: OpenAPI = match parsed {
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
pub(super) fn parse_yaml(text: &str, label: &str) -> Result<Value, LoadError> {
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

pub(super) fn resolve_ref<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    let decoded = percent_encoding::percent_decode_str(pointer).decode_utf8_lossy();
    document.pointer(&decoded)
}

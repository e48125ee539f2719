//! Building the [`ApiModel`] from a parsed OpenAPI 3.0 document: every
//! operation flattened into owned parts, `$ref`s resolved, schemas as JSON
//! Schema.

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;
use openapiv3::{OpenAPI, ReferenceOr};
use serde_json::{json, Value};

use super::load::resolve_ref;
use super::{
    schema, ApiModel, Media, Operation, Param, ParamLocation, RequestBody, ResponseSpec,
    ResponseStatus, Tag,
};
use crate::error::LoadError;

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

pub(super) fn build_model(
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
        sample: data
            .extensions
            .get("x-mock-sample")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        schema,
        example,
    }
}

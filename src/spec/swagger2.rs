//! Converts a Swagger 2.0 document into an OpenAPI 3.0 document, at the JSON
//! level, so that one model (`openapiv3`) serves both.
//!
//! Mapping: host/basePath/schemes → servers; definitions, parameters and
//! responses → components (every `$ref` rewritten); `in: body` → requestBody
//! with the operation's (or global) `consumes`; `formData` → a form
//! requestBody; parameter type keywords → `schema` plus style/explode from
//! `collectionFormat`; response `schema` → content per `produces` type;
//! `examples`/`x-example` kept; securityDefinitions → securitySchemes;
//! `x-` extensions kept.

use serde_json::{json, Map, Value};

const DEFAULT_MEDIA_TYPE: &str = "application/json";

/// Keywords of a non-body Swagger parameter that belong in its OAS3 schema.
const SCHEMA_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
];

const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// Converts a parsed Swagger 2.0 document into an OpenAPI 3.0.3 document.
pub fn to_openapi3(swagger: &Value) -> Value {
    let empty = Map::new();
    let root = swagger.as_object().unwrap_or(&empty);
    let global_consumes = media_list(root.get("consumes"));
    let global_produces = media_list(root.get("produces"));
    let global_parameters = root.get("parameters").and_then(Value::as_object);

    let mut out = Map::new();
    out.insert("openapi".into(), json!("3.0.3"));
    out.insert(
        "info".into(),
        root.get("info")
            .cloned()
            .unwrap_or_else(|| json!({"title": "untitled", "version": "0"})),
    );
    out.insert("servers".into(), json!([{ "url": server_url(root) }]));
    for (key, value) in root {
        if key.starts_with("x-") || key == "tags" || key == "externalDocs" || key == "security" {
            out.insert(key.clone(), rewrite_refs(value, global_parameters));
        }
    }

    let mut components = Map::new();
    if let Some(definitions) = root.get("definitions").and_then(Value::as_object) {
        let schemas: Map<String, Value> = definitions
            .iter()
            .map(|(name, schema)| (name.clone(), convert_schema(schema, global_parameters)))
            .collect();
        components.insert("schemas".into(), Value::Object(schemas));
    }
    if let Some(parameters) = global_parameters {
        let mut params = Map::new();
        let mut bodies = Map::new();
        for (name, param) in parameters {
            if param.get("in").and_then(Value::as_str) == Some("body") {
                bodies.insert(
                    name.clone(),
                    body_to_request_body(param, &global_consumes, global_parameters),
                );
            } else {
                params.insert(name.clone(), convert_parameter(param, global_parameters));
            }
        }
        if !params.is_empty() {
            components.insert("parameters".into(), Value::Object(params));
        }
        if !bodies.is_empty() {
            components.insert("requestBodies".into(), Value::Object(bodies));
        }
    }
    if let Some(responses) = root.get("responses").and_then(Value::as_object) {
        let converted: Map<String, Value> = responses
            .iter()
            .map(|(name, response)| {
                (
                    name.clone(),
                    convert_response(response, &global_produces, global_parameters),
                )
            })
            .collect();
        components.insert("responses".into(), Value::Object(converted));
    }
    if let Some(security) = root.get("securityDefinitions").and_then(Value::as_object) {
        let schemes: Map<String, Value> = security
            .iter()
            .map(|(name, scheme)| (name.clone(), convert_security_scheme(scheme)))
            .collect();
        components.insert("securitySchemes".into(), Value::Object(schemes));
    }
    out.insert("components".into(), Value::Object(components));

    let mut paths = Map::new();
    if let Some(source_paths) = root.get("paths").and_then(Value::as_object) {
        for (path, item) in source_paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            let mut new_item = Map::new();
            for (key, value) in item {
                if HTTP_METHODS.contains(&key.as_str()) {
                    new_item.insert(
                        key.clone(),
                        convert_operation(
                            value,
                            item.get("parameters"),
                            &global_consumes,
                            &global_produces,
                            global_parameters,
                        ),
                    );
                } else if key == "parameters" {
                    // Body parameters at path level are folded into each operation below.
                    let non_body: Vec<Value> = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|p| !is_body_or_form(p, global_parameters))
                        .map(|p| convert_parameter(p, global_parameters))
                        .collect();
                    if !non_body.is_empty() {
                        new_item.insert("parameters".into(), Value::Array(non_body));
                    }
                } else if key.starts_with("x-") || key == "$ref" {
                    new_item.insert(key.clone(), rewrite_refs(value, global_parameters));
                }
            }
            paths.insert(path.clone(), Value::Object(new_item));
        }
    }
    out.insert("paths".into(), Value::Object(paths));
    Value::Object(out)
}

fn server_url(root: &Map<String, Value>) -> String {
    let base_path = root.get("basePath").and_then(Value::as_str).unwrap_or("/");
    match root.get("host").and_then(Value::as_str) {
        Some(host) => {
            let scheme = root
                .get("schemes")
                .and_then(Value::as_array)
                .and_then(|s| s.first())
                .and_then(Value::as_str)
                .unwrap_or("http");
            format!("{scheme}://{host}{base_path}")
        }
        None => base_path.to_string(),
    }
}

fn media_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn or_default_media(list: Vec<String>) -> Vec<String> {
    if list.is_empty() {
        vec![DEFAULT_MEDIA_TYPE.to_string()]
    } else {
        list
    }
}

/// Rewrites Swagger 2.0 `$ref` targets to their OpenAPI 3.0 homes, everywhere
/// below `value`.
fn rewrite_refs(value: &Value, global_parameters: Option<&Map<String, Value>>) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| {
                    let converted = match (key.as_str(), inner) {
                        ("$ref", Value::String(target)) => {
                            Value::String(rewrite_ref(target, global_parameters))
                        }
                        _ => rewrite_refs(inner, global_parameters),
                    };
                    (key.clone(), converted)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| rewrite_refs(item, global_parameters))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn rewrite_ref(target: &str, global_parameters: Option<&Map<String, Value>>) -> String {
    if let Some(name) = target.strip_prefix("#/definitions/") {
        format!("#/components/schemas/{name}")
    } else if let Some(name) = target.strip_prefix("#/parameters/") {
        let is_body = global_parameters
            .and_then(|params| params.get(name))
            .and_then(|param| param.get("in"))
            .and_then(Value::as_str)
            == Some("body");
        if is_body {
            format!("#/components/requestBodies/{name}")
        } else {
            format!("#/components/parameters/{name}")
        }
    } else if let Some(name) = target.strip_prefix("#/responses/") {
        format!("#/components/responses/{name}")
    } else {
        target.to_string()
    }
}

/// A Swagger schema is nearly an OAS 3.0 schema: refs move, `x-nullable`
/// becomes `nullable`, `type: file` becomes binary string, and a string
/// `discriminator` becomes an object.
fn convert_schema(schema: &Value, global_parameters: Option<&Map<String, Value>>) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "$ref" => {
                        let target = value.as_str().unwrap_or_default();
                        out.insert(key.clone(), json!(rewrite_ref(target, global_parameters)));
                    }
                    "x-nullable" => {
                        out.insert("nullable".into(), value.clone());
                    }
                    "type" if value == "file" => {
                        out.insert("type".into(), json!("string"));
                        out.insert("format".into(), json!("binary"));
                    }
                    "discriminator" if value.is_string() => {
                        out.insert(key.clone(), json!({ "propertyName": value }));
                    }
                    "properties" | "definitions" | "patternProperties" => {
                        let converted: Map<String, Value> = value
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(name, sub)| {
                                (name.clone(), convert_schema(sub, global_parameters))
                            })
                            .collect();
                        out.insert(key.clone(), Value::Object(converted));
                    }
                    "example" | "x-example" | "default" | "enum" => {
                        out.insert(key.clone(), value.clone());
                    }
                    _ => {
                        out.insert(key.clone(), convert_schema(value, global_parameters));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| convert_schema(item, global_parameters))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_body_or_form(param: &Value, global_parameters: Option<&Map<String, Value>>) -> bool {
    let resolved = resolve_param(param, global_parameters);
    matches!(
        resolved.get("in").and_then(Value::as_str),
        Some("body") | Some("formData")
    )
}

fn resolve_param<'a>(
    param: &'a Value,
    global_parameters: Option<&'a Map<String, Value>>,
) -> &'a Value {
    param
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|target| target.strip_prefix("#/parameters/"))
        .and_then(|name| global_parameters.and_then(|params| params.get(name)))
        .unwrap_or(param)
}

fn convert_parameter(param: &Value, global_parameters: Option<&Map<String, Value>>) -> Value {
    if param.get("$ref").is_some() {
        return rewrite_refs(param, global_parameters);
    }
    let empty = Map::new();
    let source = param.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    let mut schema = Map::new();
    for (key, value) in source {
        if SCHEMA_KEYWORDS.contains(&key.as_str()) {
            schema.insert(key.clone(), value.clone());
        } else if key == "x-example" {
            out.insert("example".into(), value.clone());
        } else if key == "collectionFormat" || key == "allowEmptyValue" {
            // handled below / dropped: no OAS3 equivalent on non-query params
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    if let Some(items) = schema.get("items").cloned() {
        schema.insert("items".into(), convert_schema(&items, global_parameters));
    }
    let schema_value = convert_schema(&Value::Object(schema), global_parameters);
    out.insert("schema".into(), schema_value);
    if let Some(format) = source.get("collectionFormat").and_then(Value::as_str) {
        let (style, explode) = match format {
            "multi" => ("form", true),
            "ssv" => ("spaceDelimited", false),
            "pipes" => ("pipeDelimited", false),
            _ => ("form", false),
        };
        let location = source.get("in").and_then(Value::as_str).unwrap_or("query");
        if location == "query" {
            out.insert("style".into(), json!(style));
            out.insert("explode".into(), json!(explode));
        } else {
            out.insert("style".into(), json!("simple"));
        }
    } else if source.get("type").and_then(Value::as_str) == Some("array")
        && source.get("in").and_then(Value::as_str) == Some("query")
    {
        // Swagger 2.0's default collectionFormat is csv.
        out.insert("style".into(), json!("form"));
        out.insert("explode".into(), json!(false));
    }
    Value::Object(out)
}

fn body_to_request_body(
    param: &Value,
    consumes: &[String],
    global_parameters: Option<&Map<String, Value>>,
) -> Value {
    let schema = param
        .get("schema")
        .map(|schema| convert_schema(schema, global_parameters))
        .unwrap_or_else(|| json!({}));
    let mut content = Map::new();
    for media in or_default_media(consumes.to_vec()) {
        let mut media_object = Map::new();
        media_object.insert("schema".into(), schema.clone());
        if let Some(example) = param
            .get("x-example")
            .or_else(|| param.get("x-examples").and_then(|e| e.get(&media)))
        {
            media_object.insert("example".into(), example.clone());
        }
        content.insert(media, Value::Object(media_object));
    }
    let mut out = Map::new();
    if let Some(description) = param.get("description") {
        out.insert("description".into(), description.clone());
    }
    out.insert(
        "required".into(),
        json!(param
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    out.insert("content".into(), Value::Object(content));
    Value::Object(out)
}

fn form_request_body(
    params: &[&Value],
    consumes: &[String],
    global_parameters: Option<&Map<String, Value>>,
) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for param in params {
        let Some(name) = param.get("name").and_then(Value::as_str) else {
            continue;
        };
        let converted = convert_parameter(param, global_parameters);
        properties.insert(
            name.to_string(),
            converted
                .get("schema")
                .cloned()
                .unwrap_or_else(|| json!({})),
        );
        if param.get("required").and_then(Value::as_bool) == Some(true) {
            required.push(json!(name));
        }
    }
    let media = consumes
        .iter()
        .find(|m| m.as_str() == "multipart/form-data")
        .cloned()
        .unwrap_or_else(|| "application/x-www-form-urlencoded".to_string());
    let mut schema = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        schema["required"] = Value::Array(required.clone());
    }
    json!({
        "required": !required.is_empty(),
        "content": { media: { "schema": schema } }
    })
}

fn convert_response(
    response: &Value,
    produces: &[String],
    global_parameters: Option<&Map<String, Value>>,
) -> Value {
    if response.get("$ref").is_some() {
        return rewrite_refs(response, global_parameters);
    }
    let mut out = Map::new();
    out.insert(
        "description".into(),
        response
            .get("description")
            .cloned()
            .unwrap_or_else(|| json!("")),
    );
    let schema = response
        .get("schema")
        .map(|schema| convert_schema(schema, global_parameters));
    let examples = response.get("examples").and_then(Value::as_object);
    if schema.is_some() || examples.is_some() {
        let mut content = Map::new();
        let mut media_types = or_default_media(produces.to_vec());
        for media in examples.into_iter().flat_map(|e| e.keys()) {
            if !media_types.contains(media) {
                media_types.push(media.clone());
            }
        }
        for media in media_types {
            let mut media_object = Map::new();
            if let Some(schema) = &schema {
                media_object.insert("schema".into(), schema.clone());
            }
            if let Some(example) = examples.and_then(|e| e.get(&media)) {
                media_object.insert("example".into(), example.clone());
            }
            content.insert(media, Value::Object(media_object));
        }
        out.insert("content".into(), Value::Object(content));
    }
    if let Some(headers) = response.get("headers").and_then(Value::as_object) {
        let converted: Map<String, Value> = headers
            .iter()
            .map(|(name, header)| {
                let mut header_out = Map::new();
                let mut schema = Map::new();
                for (key, value) in header.as_object().into_iter().flatten() {
                    if SCHEMA_KEYWORDS.contains(&key.as_str()) {
                        schema.insert(key.clone(), value.clone());
                    } else if key == "description" || key.starts_with("x-") {
                        header_out.insert(key.clone(), value.clone());
                    }
                }
                header_out.insert("schema".into(), Value::Object(schema));
                (name.clone(), Value::Object(header_out))
            })
            .collect();
        out.insert("headers".into(), Value::Object(converted));
    }
    for (key, value) in response.as_object().into_iter().flatten() {
        if key.starts_with("x-") {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

fn convert_security_scheme(scheme: &Value) -> Value {
    match scheme.get("type").and_then(Value::as_str) {
        Some("basic") => json!({ "type": "http", "scheme": "basic" }),
        Some("apiKey") => json!({
            "type": "apiKey",
            "name": scheme.get("name").cloned().unwrap_or_else(|| json!("")),
            "in": scheme.get("in").cloned().unwrap_or_else(|| json!("header")),
        }),
        Some("oauth2") => {
            let flow = scheme
                .get("flow")
                .and_then(Value::as_str)
                .unwrap_or("implicit");
            let flow_name = match flow {
                "accessCode" => "authorizationCode",
                "application" => "clientCredentials",
                other => other,
            };
            let mut flow_object = Map::new();
            for key in ["authorizationUrl", "tokenUrl"] {
                if let Some(value) = scheme.get(key) {
                    flow_object.insert(key.into(), value.clone());
                }
            }
            flow_object.insert(
                "scopes".into(),
                scheme.get("scopes").cloned().unwrap_or_else(|| json!({})),
            );
            json!({ "type": "oauth2", "flows": { flow_name: flow_object } })
        }
        _ => scheme.clone(),
    }
}

fn convert_operation(
    operation: &Value,
    path_parameters: Option<&Value>,
    global_consumes: &[String],
    global_produces: &[String],
    global_parameters: Option<&Map<String, Value>>,
) -> Value {
    let empty = Map::new();
    let source = operation.as_object().unwrap_or(&empty);
    let consumes = source
        .get("consumes")
        .map(|c| media_list(Some(c)))
        .unwrap_or_else(|| global_consumes.to_vec());
    let produces = source
        .get("produces")
        .map(|p| media_list(Some(p)))
        .unwrap_or_else(|| global_produces.to_vec());

    let mut out = Map::new();
    for (key, value) in source {
        match key.as_str() {
            "tags" | "summary" | "description" | "operationId" | "deprecated" | "security"
            | "externalDocs" => {
                out.insert(key.clone(), value.clone());
            }
            _ if key.starts_with("x-") => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }

    // Path-level parameters apply unless the operation overrides them.
    let own: Vec<&Value> = source
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let inherited: Vec<&Value> = path_parameters
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| is_body_or_form(p, global_parameters))
        .filter(|p| {
            let resolved = resolve_param(p, global_parameters);
            !own.iter().any(|o| {
                let own_resolved = resolve_param(o, global_parameters);
                own_resolved.get("name") == resolved.get("name")
                    && own_resolved.get("in") == resolved.get("in")
            })
        })
        .collect();

    let mut parameters = Vec::new();
    let mut form_params = Vec::new();
    let mut request_body = None;
    for param in own.iter().chain(inherited.iter()) {
        let resolved = resolve_param(param, global_parameters);
        match resolved.get("in").and_then(Value::as_str) {
            Some("body") => {
                request_body = Some(if param.get("$ref").is_some() {
                    rewrite_refs(param, global_parameters)
                } else {
                    body_to_request_body(resolved, &consumes, global_parameters)
                });
            }
            Some("formData") => form_params.push(resolved),
            _ => parameters.push(convert_parameter(param, global_parameters)),
        }
    }
    if !form_params.is_empty() {
        request_body = Some(form_request_body(
            &form_params,
            &consumes,
            global_parameters,
        ));
    }
    if !parameters.is_empty() {
        out.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(body) = request_body {
        out.insert("requestBody".into(), body);
    }

    let mut responses = Map::new();
    for (status, response) in source
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if status.starts_with("x-") {
            continue;
        }
        responses.insert(
            status.clone(),
            convert_response(response, &produces, global_parameters),
        );
    }
    if responses.is_empty() {
        responses.insert("default".into(), json!({ "description": "" }));
    }
    out.insert("responses".into(), Value::Object(responses));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_parameter_becomes_request_body_with_consumes() {
        let swagger = json!({
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "basePath": "/api",
            "consumes": ["application/json+fhir"],
            "paths": {"/a": {"post": {
                "operationId": "A",
                "parameters": [{"in": "body", "name": "b", "required": true,
                                "schema": {"$ref": "#/definitions/Thing"}}],
                "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Thing"}}}
            }}},
            "definitions": {"Thing": {"type": "object", "x-nullable": true}}
        });
        let out = to_openapi3(&swagger);
        assert_eq!(out["servers"][0]["url"], "/api");
        let body = &out["paths"]["/a"]["post"]["requestBody"];
        assert_eq!(body["required"], true);
        assert_eq!(
            body["content"]["application/json+fhir"]["schema"]["$ref"],
            "#/components/schemas/Thing"
        );
        assert_eq!(out["components"]["schemas"]["Thing"]["nullable"], true);
        assert_eq!(
            out["paths"]["/a"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/Thing"
        );
    }

    #[test]
    fn query_array_gets_style_from_collection_format() {
        let swagger = json!({
            "swagger": "2.0", "info": {"title": "t", "version": "1"},
            "host": "example.org", "schemes": ["https"],
            "paths": {"/a": {"get": {
                "parameters": [{"in": "query", "name": "start", "type": "array",
                                "items": {"type": "string"}, "collectionFormat": "multi",
                                "x-example": "ge2020"}],
                "responses": {"200": {"description": "ok"}}
            }}}
        });
        let out = to_openapi3(&swagger);
        assert_eq!(out["servers"][0]["url"], "https://example.org/");
        let param = &out["paths"]["/a"]["get"]["parameters"][0];
        assert_eq!(param["style"], "form");
        assert_eq!(param["explode"], true);
        assert_eq!(param["example"], "ge2020");
        assert_eq!(param["schema"]["type"], "array");
    }
}

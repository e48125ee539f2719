//! OpenAPI 3.0 schemas as JSON Schema: conversion for the `jsonschema`
//! validator, and deterministic minimal instances for spec-derived answers.

use serde_json::{json, Map, Value};

/// Rewrites an OpenAPI 3.0 schema tree into draft-4 JSON Schema: `nullable`
/// becomes a `null` alternative, and OpenAPI-only keywords are dropped.
pub fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "nullable" | "discriminator" | "xml" | "externalDocs" | "example"
                    | "deprecated" | "readOnly" | "writeOnly" => {}
                    "properties" | "definitions" | "patternProperties" | "schemas" => {
                        let converted: Map<String, Value> = value
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(name, sub)| (name.clone(), to_json_schema(sub)))
                            .collect();
                        out.insert(key.clone(), Value::Object(converted));
                    }
                    "enum" | "default" | "required" | "type" | "$ref" | "pattern" | "format" => {
                        out.insert(key.clone(), value.clone());
                    }
                    _ if key.starts_with("x-") => {}
                    _ => {
                        out.insert(key.clone(), to_json_schema(value));
                    }
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                let mut inner = out;
                if inner.contains_key("$ref") || inner.contains_key("allOf") {
                    return json!({ "anyOf": [ { "type": "null" }, Value::Object(inner) ] });
                }
                if let Some(Value::String(kind)) = inner.get("type").cloned() {
                    inner.insert("type".into(), json!([kind, "null"]));
                }
                if let Some(Value::Array(values)) = inner.get_mut("enum") {
                    if !values.contains(&Value::Null) {
                        values.push(Value::Null);
                    }
                }
                return Value::Object(inner);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

/// Follows a local JSON pointer `$ref` (`#/components/schemas/X`) in `root`.
pub fn resolve_pointer<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

/// Generates a minimal instance of `schema`: required properties only,
/// formats honoured, `$ref`/allOf resolved, recursion cut. Deterministic, so
/// the same spec always gives the same answer.
pub fn minimal_instance(schema: &Value, root: &Value) -> Value {
    let mut visiting = Vec::new();
    generate(schema, root, &mut visiting).unwrap_or(Value::Null)
}

const MAX_DEPTH: usize = 12;

fn generate(schema: &Value, root: &Value, visiting: &mut Vec<String>) -> Option<Value> {
    if visiting.len() > MAX_DEPTH {
        return None;
    }
    let map = schema.as_object()?;
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        if visiting.iter().any(|seen| seen == reference) {
            return None; // a cycle: cut here
        }
        let target = resolve_pointer(root, reference)?;
        visiting.push(reference.to_string());
        let generated = generate(target, root, visiting);
        visiting.pop();
        return generated;
    }
    if let Some(example) = map.get("example") {
        return Some(example.clone());
    }
    if let Some(default) = map.get("default") {
        return Some(default.clone());
    }
    if let Some(first) = map
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
    {
        return Some(first.clone());
    }
    if let Some(parts) = map.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        let mut last_scalar = None;
        for part in parts {
            match generate(part, root, visiting) {
                Some(Value::Object(fields)) => merged.extend(fields),
                Some(other) => last_scalar = Some(other),
                None => {}
            }
        }
        if merged.is_empty() {
            if let Some(scalar) = last_scalar {
                return Some(scalar);
            }
        }
        // allOf may also carry its own properties beside the parts.
        if let Some(Value::Object(own)) = generate_object(map, root, visiting) {
            merged.extend(own);
        }
        return Some(Value::Object(merged));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = map.get(key).and_then(Value::as_array) {
            return options
                .iter()
                .find_map(|option| generate(option, root, visiting));
        }
    }
    let kind = map.get("type").and_then(Value::as_str).unwrap_or_else(|| {
        if map.contains_key("properties") {
            "object"
        } else if map.contains_key("items") {
            "array"
        } else {
            ""
        }
    });
    match kind {
        "object" => generate_object(map, root, visiting),
        "array" => {
            let count = map.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let items = map.get("items");
            let mut out = Vec::new();
            for _ in 0..count {
                if let Some(item) = items.and_then(|i| generate(i, root, visiting)) {
                    out.push(item);
                }
            }
            Some(Value::Array(out))
        }
        "string" => Some(Value::String(generate_string(map))),
        "integer" => Some(json!(numeric_floor(map).ceil() as i64)),
        "number" => Some(json!(numeric_floor(map))),
        "boolean" => Some(Value::Bool(false)),
        "null" => Some(Value::Null),
        _ => Some(json!({})),
    }
}

fn generate_object(
    map: &Map<String, Value>,
    root: &Value,
    visiting: &mut Vec<String>,
) -> Option<Value> {
    let mut out = Map::new();
    let properties = map.get("properties").and_then(Value::as_object);
    for name in map
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let property = properties.and_then(|p| p.get(name));
        let value = property
            .and_then(|p| generate(p, root, visiting))
            .unwrap_or_else(|| json!({}));
        out.insert(name.to_string(), value);
    }
    Some(Value::Object(out))
}

fn numeric_floor(map: &Map<String, Value>) -> f64 {
    match map.get("minimum").and_then(Value::as_f64) {
        Some(min) if map.get("exclusiveMinimum") == Some(&Value::Bool(true)) => min + 1.0,
        Some(min) => min,
        None => map
            .get("maximum")
            .and_then(Value::as_f64)
            .map(|max| max.min(0.0))
            .unwrap_or(0.0),
    }
}

fn generate_string(map: &Map<String, Value>) -> String {
    let base = match map.get("format").and_then(Value::as_str) {
        Some("date-time") => "2024-01-01T00:00:00+00:00",
        Some("date") => "2024-01-01",
        Some("time") => "00:00:00",
        Some("uuid") => "00000000-0000-4000-8000-000000000000",
        Some("email") => "user@example.org",
        Some("uri") | Some("url") => "https://example.org/",
        Some("hostname") => "example.org",
        Some("ipv4") => "127.0.0.1",
        Some("ipv6") => "::1",
        Some("byte") => "AA==",
        _ => "string",
    };
    let mut value = base.to_string();
    if let Some(min) = map.get("minLength").and_then(Value::as_u64) {
        while (value.chars().count() as u64) < min {
            value.push('a');
        }
    }
    if let Some(max) = map.get("maxLength").and_then(Value::as_u64) {
        value = value.chars().take(max as usize).collect();
    }
    value
}

/// A JSON Schema validator compiled on first use, once per snapshot;
/// `None` inside when the schema does not compile (logged once, then not
/// checked).
#[derive(Default)]
pub struct LazyValidator(std::sync::OnceLock<Option<jsonschema::Validator>>);

impl std::fmt::Debug for LazyValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.0.get() {
            None => "not compiled",
            Some(Some(_)) => "compiled",
            Some(None) => "failed",
        };
        f.write_str(state)
    }
}

impl LazyValidator {
    pub fn get(&self, schema: &Value, root: &Value, what: &str) -> Option<&jsonschema::Validator> {
        self.0
            .get_or_init(|| compile_validator(schema, root, what))
            .as_ref()
    }
}

/// Compiles `schema` as draft 4. A schema with `$ref`s is wrapped as
/// `root + {"allOf": [schema]}` so `#/components/schemas/...` resolve
/// (draft 4 ignores the siblings of a `$ref`, hence the `allOf`).
pub fn compile_validator(
    schema: &Value,
    root: &Value,
    what: &str,
) -> Option<jsonschema::Validator> {
    let document = if has_ref(schema) {
        let mut document = match root {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        document.insert("allOf".into(), json!([schema]));
        Value::Object(document)
    } else {
        schema.clone()
    };
    match jsonschema::draft4::new(&document) {
        Ok(validator) => Some(validator),
        Err(error) => {
            tracing::warn!("{what}: the schema does not compile, so it is not checked: {error}");
            None
        }
    }
}

fn has_ref(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, inner)| key == "$ref" || has_ref(inner)),
        Value::Array(items) => items.iter().any(has_ref),
        _ => false,
    }
}

/// A validation error as text, cut to a readable length.
pub fn error_text(error: &jsonschema::ValidationError<'_>) -> String {
    let text = error.to_string();
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_becomes_null_alternative() {
        let schema = json!({"type": "string", "nullable": true, "x-a": 1});
        assert_eq!(to_json_schema(&schema), json!({"type": ["string", "null"]}));
    }

    #[test]
    fn minimal_instance_follows_refs_and_cuts_cycles() {
        let root = json!({"components": {"schemas": {
            "Node": {"type": "object", "required": ["id", "child", "kind"],
                     "properties": {"id": {"type": "integer", "minimum": 3},
                                    "kind": {"type": "string", "enum": ["leaf"]},
                                    "child": {"$ref": "#/components/schemas/Node"}}}
        }}});
        let instance = minimal_instance(&json!({"$ref": "#/components/schemas/Node"}), &root);
        assert_eq!(instance["id"], 3);
        assert_eq!(instance["kind"], "leaf");
        assert_eq!(instance["child"], json!({}), "the cycle is cut");
    }

    #[test]
    fn all_of_merges_parts() {
        let root = json!({});
        let schema = json!({"allOf": [
            {"type": "object", "required": ["a"], "properties": {"a": {"type": "string", "format": "date"}}},
            {"type": "object", "required": ["b"], "properties": {"b": {"type": "boolean"}}}
        ]});
        assert_eq!(
            minimal_instance(&schema, &root),
            json!({"a": "2024-01-01", "b": false})
        );
    }
}

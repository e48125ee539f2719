//! Response validation against the definition: declared status, media type,
//! JSON well-formedness, the response schema, and FHIR shape rules. Used by
//! `check` on rendered scenarios and by `serve --validate-responses` live.

use serde_json::Value;

use crate::answer::Answer;
use crate::media::{is_json_media, media_essence};
use crate::spec::schema::{error_text, LazyValidator};
use crate::spec::{ApiModel, Operation};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One problem with a response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// JSON pointer into the body ("" for the whole answer).
    pub pointer: String,
    pub message: String,
}

impl Finding {
    fn error(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// Response schema validators of one snapshot, compiled on first use.
#[derive(Debug, Default)]
pub struct ResponseChecks {
    /// Per operation, per declared response (same order as `responses`).
    validators: Vec<Vec<LazyValidator>>,
}

impl ResponseChecks {
    pub fn new(model: &ApiModel) -> Self {
        Self {
            validators: model
                .operations
                .iter()
                .map(|op| {
                    op.responses
                        .iter()
                        .map(|_| LazyValidator::default())
                        .collect()
                })
                .collect(),
        }
    }

    /// Everything wrong with `answer` as a response of operation `index`.
    /// `fhir` adds the FHIR shape rules.
    pub fn check(
        &self,
        model: &ApiModel,
        index: usize,
        answer: &Answer,
        fhir: bool,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        let Some(operation) = model.operations.get(index) else {
            return findings;
        };
        let status = answer.status.as_u16();
        let declared = operation
            .responses
            .iter()
            .position(|r| {
                r.status.covers(status) && r.status != crate::spec::ResponseStatus::Default
            })
            .or_else(|| {
                operation
                    .responses
                    .iter()
                    .position(|r| r.status.covers(status))
            });
        let Some(response_index) = declared else {
            let codes: Vec<String> = operation
                .responses
                .iter()
                .map(|r| r.status.label())
                .collect();
            findings.push(Finding::error(
                "",
                format!(
                    "status {status} is not declared for {}; declared: {}",
                    operation.key,
                    codes.join(", ")
                ),
            ));
            return findings;
        };
        let response = &operation.responses[response_index];
        let content_type = answer
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if answer.body.is_empty() {
            return findings;
        }
        let essence = media_essence(content_type);
        let declared_media: Vec<&str> = if response.content.is_empty() {
            operation.produces()
        } else {
            response
                .content
                .iter()
                .map(|m| m.media_type.as_str())
                .collect()
        };
        if !declared_media.is_empty() && !declared_media.iter().any(|m| media_essence(m) == essence)
        {
            findings.push(Finding::error(
                "",
                format!(
                    "Content-Type `{content_type}` is not among the declared {}",
                    declared_media.join(", ")
                ),
            ));
        }
        if !is_json_media(content_type) {
            return findings;
        }
        let body: Value = match serde_json::from_slice(&answer.body) {
            Ok(body) => body,
            Err(error) => {
                findings.push(Finding::error(
                    "",
                    format!(
                        "body is not valid JSON at line {} column {}: {error}",
                        error.line(),
                        error.column()
                    ),
                ));
                return findings;
            }
        };
        let media = response
            .content
            .iter()
            .find(|m| media_essence(&m.media_type) == essence)
            .or_else(|| response.content.first());
        if let Some(schema) = media.and_then(|m| m.schema.as_ref()) {
            let what = format!("response {} of {}", response.status.label(), operation.key);
            if let Some(validator) =
                self.validators[index][response_index].get(schema, &model.schema_root, &what)
            {
                for error in validator.iter_errors(&body).take(10) {
                    findings.push(Finding::error(
                        error.instance_path.to_string(),
                        format!("does not match the response schema: {}", error_text(&error)),
                    ));
                }
            }
        }
        if fhir {
            fhir_rules(operation, status, &body, &mut findings);
        }
        findings
    }
}

/// The resource type a FHIR operation answers on success, from its path:
/// `/X/{id}` reads or updates an X, `/X` searches (Bundle) or creates (X).
fn expected_resource(operation: &Operation) -> Option<Vec<&'static str>> {
    let segments: Vec<&str> = operation.path.trim_matches('/').split('/').collect();
    let last = *segments.last()?;
    if last == "metadata" {
        return Some(vec!["Conformance", "CapabilityStatement"]);
    }
    if last.starts_with('$') {
        return None;
    }
    let resource_of = |segment: &str| -> Option<&'static str> {
        const TYPES: &[&str] = &[
            "Patient",
            "Practitioner",
            "Organization",
            "Location",
            "Appointment",
            "Slot",
            "Schedule",
            "Order",
            "DocumentReference",
            "Binary",
            "Device",
            "Encounter",
        ];
        TYPES.iter().copied().find(|t| *t == segment)
    };
    if last.starts_with('{') {
        let resource = resource_of(segments.get(segments.len().checked_sub(2)?)?)?;
        return Some(vec![resource]);
    }
    let resource = resource_of(last)?;
    if operation.method == http::Method::GET {
        Some(vec!["Bundle"])
    } else {
        Some(vec![resource])
    }
}

fn fhir_rules(operation: &Operation, status: u16, body: &Value, findings: &mut Vec<Finding>) {
    let Some(resource_type) = body.get("resourceType").and_then(Value::as_str) else {
        findings.push(Finding::error(
            "/resourceType",
            "a FHIR body has a `resourceType`",
        ));
        return;
    };
    if status >= 400 && resource_type != "OperationOutcome" {
        findings.push(Finding::error(
            "/resourceType",
            format!("a {status} answer is an OperationOutcome, not {resource_type}"),
        ));
    }
    if (200..300).contains(&status) {
        if let Some(expected) = expected_resource(operation) {
            if !expected.contains(&resource_type) {
                findings.push(Finding::error(
                    "/resourceType",
                    format!(
                        "{} answers {}, not {resource_type}",
                        operation.key,
                        expected.join(" or ")
                    ),
                ));
            }
        }
    }
    if resource_type == "Bundle" {
        for (index, entry) in body
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if entry
                .pointer("/resource/resourceType")
                .and_then(Value::as_str)
                .is_none()
            {
                findings.push(Finding::error(
                    format!("/entry/{index}/resource"),
                    "each Bundle entry has a resource with a `resourceType`",
                ));
            }
        }
    }
}

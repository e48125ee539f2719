//! The request path, one straight line: route → check the contract → select
//! scenario → render → respond. [`respond`] is synchronous and independent of the HTTP server, so
//! it is what benchmarks and unit tests drive.

use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{ALLOW, CACHE_CONTROL};
use http::{HeaderValue, StatusCode};

use crate::answer::{self, Answer, OPERATION_HEADER};
use crate::fhir::{Outcome, SpineCode};
use crate::request::MockRequest;
use crate::routes::Lookup;
use crate::scenario::Selection;
use crate::snapshot::Snapshot;

/// Hands out request ids (`request.id` in templates): unique per process.
#[derive(Debug, Default)]
pub struct RequestIds(AtomicU64);

impl RequestIds {
    pub fn next(&self) -> u64 {
        // Ids start at 1000 so they never collide with the small ids of seed data.
        1000 + self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// Answers one request from one snapshot. GP Connect answers, errors
/// included, are never to be cached.
pub fn respond(snapshot: &Snapshot, request: &MockRequest, ids: &RequestIds) -> Answer {
    let mut answer = route_check_render(snapshot, request, ids);
    if snapshot.contract.no_store() {
        answer
            .headers
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    answer
}

fn route_check_render(snapshot: &Snapshot, request: &MockRequest, ids: &RequestIds) -> Answer {
    let style = snapshot.error_style;
    let (operation_index, path_params) =
        match snapshot.routes.lookup(&request.method, &request.path) {
            Lookup::Found { operation, params } => (operation, params),
            Lookup::MethodNotAllowed { allow, template } => {
                let allowed: Vec<&str> = allow.iter().map(|m| m.as_str()).collect();
                let outcome = Outcome::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    SpineCode::BAD_REQUEST,
                    format!(
                        "method {} is not allowed on {}: the definition allows {} on {template}",
                        request.method,
                        request.path,
                        allowed.join(", ")
                    ),
                );
                let mut answer = Answer::error(&outcome, style);
                if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                    answer.headers.insert(ALLOW, value);
                }
                return answer;
            }
            Lookup::NotFound { nearest } => {
                let hint = match nearest {
                    Some(path) => format!("; the nearest path the definition has is {path}"),
                    None => String::new(),
                };
                let outcome = Outcome::new(
                    StatusCode::NOT_FOUND,
                    SpineCode::NO_RECORD_FOUND,
                    format!(
                        "no operation of the definition serves {} {}{hint}",
                        request.method, request.path
                    ),
                );
                return Answer::error(&outcome, style);
            }
        };
    let operation = &snapshot.model.operations[operation_index];
    let violations =
        snapshot
            .contract
            .check(&snapshot.model, operation_index, request, &path_params);
    let selection = snapshot
        .scenarios
        .select(operation_index, request, &path_params);
    let skips_checks = matches!(&selection, Selection::Scenario(s) if s.then.skip_checks);
    if let Some(outcome) = snapshot
        .contract
        .rejection(&operation.key, &violations, skips_checks)
    {
        return Answer::error(&outcome, style).with_header(OPERATION_HEADER, &operation.key);
    }
    let answer = match selection {
        Selection::Scenario(scenario) => {
            let context =
                answer::template_context(request, &path_params, ids.next(), scenario, operation);
            answer::render_scenario(&snapshot.templates, scenario, operation, &context, style)
        }
        Selection::UnknownForced(name) => {
            let known: Vec<&str> = snapshot
                .scenarios
                .for_operation(operation_index)
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            let outcome = Outcome::new(
                StatusCode::NOT_FOUND,
                SpineCode::NO_RECORD_FOUND,
                format!(
                    "X-Mock-Scenario: operation {} has no scenario named `{name}`; it has: {}",
                    operation.key,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            Answer::error(&outcome, style)
        }
        Selection::None(_) => snapshot.fallbacks[operation_index].clone(),
    };
    let answer = snapshot
        .contract
        .annotate(answer, &operation.key, &violations);
    answer.with_header(OPERATION_HEADER, &operation.key)
}

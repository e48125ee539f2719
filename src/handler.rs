//! The request path, one straight line: route → check the contract → select
//! scenario → render → respond. [`respond`] is synchronous and independent of the HTTP server, so
//! it is what benchmarks and unit tests drive.

use std::sync::atomic::{AtomicU64, Ordering};

use http::header::ALLOW;
use http::{HeaderValue, StatusCode};

use crate::answer::{self, Answer};
use crate::contract::{violation_header, Violation, VIOLATION_HEADER};
use crate::fhir::{Outcome, SpineCode};
use crate::journal::Trace;
use crate::request::MockRequest;
use crate::routes::Lookup;
use crate::scenario::stateful::StateView;
use crate::scenario::{Scenario, Selection};
use crate::snapshot::Snapshot;
use crate::state::StateData;
use handlebars::Context;

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
    let (mut answer, operation) = route_check_render(snapshot, request, ids);
    let operation_header = operation.and_then(|index| snapshot.operation_headers.get(index));
    answer::add_fixed_headers(&mut answer, operation_header, snapshot.contract.no_store());
    answer
}

/// The answer, and the operation it was routed to (none for 404 and 405).
fn route_check_render(
    snapshot: &Snapshot,
    request: &MockRequest,
    ids: &RequestIds,
) -> (Answer, Option<usize>) {
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
                return (answer, None);
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
                return (Answer::error(&outcome, style), None);
            }
        };
    let operation = &snapshot.model.operations[operation_index];
    let violations =
        snapshot
            .contract
            .check(&snapshot.model, operation_index, request, &path_params);
    let answer = if snapshot.scenarios.is_stateful(operation_index) {
        stateful_answer(
            snapshot,
            operation_index,
            request,
            &path_params,
            &violations,
            ids,
        )
    } else {
        select_and_render(
            snapshot,
            operation_index,
            request,
            &path_params,
            &violations,
            ids,
            None,
        )
        .0
    };
    // A strict rejection says what is wrong in its body; the headers are
    // for answers served despite violations (warn mode, skip_checks).
    let rejected = answer.trace.as_deref().is_some_and(|t| t.rejected);
    let mut answer = if rejected {
        answer
    } else {
        snapshot
            .contract
            .annotate(answer, &operation.key, &violations)
    };
    if !violations.is_empty() {
        let trace = answer.trace.get_or_insert_with(Default::default);
        trace.violations = violations.iter().map(Violation::diagnostics).collect();
    }
    if snapshot.validate_responses {
        validate_response(snapshot, operation_index, &mut answer);
    }
    (answer, Some(operation_index))
}

/// A stateful operation: the writer lock is held from selection (which may
/// read state) to the state actions, so check-then-change is atomic. The
/// lock is a std mutex and nothing here awaits.
fn stateful_answer(
    snapshot: &Snapshot,
    index: usize,
    request: &MockRequest,
    path_params: &[(String, String)],
    violations: &[Violation],
    ids: &RequestIds,
) -> Answer {
    let operation = &snapshot.model.operations[index];
    let store = snapshot.templates.state().clone();
    let _writer = store.lock_writer();
    let data = store.read();
    let request_id = ids.next();
    let mut context = answer::template_context(
        request,
        path_params,
        request_id,
        None,
        operation,
        answer::ContextNeeds::ALL,
    );
    let (answer, chosen) = select_and_render(
        snapshot,
        index,
        request,
        path_params,
        violations,
        ids,
        Some((&data, &mut context)),
    );
    if let Some(scenario) = chosen {
        if !scenario.state_then.is_empty() && answer.status == scenario.then.status {
            let response: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
            let render = |name: &str| snapshot.templates.render(name, &context).ok();
            let next = scenario.state_then.apply(
                &data,
                &scenario.machine,
                &render,
                &request_id.to_string(),
                response.as_ref(),
                request.body_json(),
            );
            store.replace(next);
        }
    }
    answer
}

/// Selects a scenario (reading `state` when given, with its request
/// context), answers a contract rejection, or renders. Returns the answer
/// and the scenario that rendered it.
fn select_and_render<'s>(
    snapshot: &'s Snapshot,
    index: usize,
    request: &MockRequest,
    path_params: &[(String, String)],
    violations: &[Violation],
    ids: &RequestIds,
    state: Option<(&StateData, &mut Context)>,
) -> (Answer, Option<&'s Scenario>) {
    let operation = &snapshot.model.operations[index];
    let style = snapshot.error_style;
    let (selection, context) = match state {
        Some((data, context)) => {
            let render = |name: &str| snapshot.templates.render(name, context).ok();
            let view = StateView {
                data,
                render: &render,
            };
            (
                snapshot
                    .scenarios
                    .select(index, request, path_params, Some(&view)),
                Some(context),
            )
        }
        None => (
            snapshot.scenarios.select(index, request, path_params, None),
            None,
        ),
    };
    let skips_checks = matches!(&selection, Selection::Scenario(s) if s.then.skip_checks);
    if let Some(outcome) = snapshot
        .contract
        .rejection(&operation.key, violations, skips_checks)
    {
        let mut answer = Answer::error(&outcome, style);
        answer.trace = Some(Box::new(Trace {
            rejected: true,
            ..Trace::default()
        }));
        return (answer, None);
    }
    match selection {
        Selection::Scenario(scenario) => {
            if let Some(runtime) = snapshot.runtime(index, scenario) {
                runtime
                    .hits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let answer = match context {
                Some(context) => {
                    context.data_mut()["scenario"]["name"] =
                        serde_json::Value::String(scenario.name.clone());
                    answer::render_scenario(
                        &snapshot.templates,
                        scenario,
                        operation,
                        answer::RenderSource::Context(context),
                        style,
                    )
                }
                None => {
                    let runtime = snapshot.runtime(index, scenario);
                    let needs = runtime.map_or(answer::ContextNeeds::ALL, |r| r.needs);
                    let render = || {
                        let source = answer::RenderSource::Request {
                            request,
                            path_params,
                            request_id: ids.next(),
                            needs,
                        };
                        answer::render_scenario(
                            &snapshot.templates,
                            scenario,
                            operation,
                            source,
                            style,
                        )
                    };
                    // Request-independent answers are rendered once per snapshot.
                    match runtime.and_then(|r| r.static_answer.as_ref()) {
                        Some(cell) => cell
                            .get_or_init(|| {
                                let mut answer = render();
                                answer::add_fixed_headers(
                                    &mut answer,
                                    snapshot.operation_headers.get(index),
                                    snapshot.contract.no_store(),
                                );
                                answer
                            })
                            .clone(),
                        None => render(),
                    }
                }
            };
            (answer, Some(scenario))
        }
        Selection::UnknownForced(name) => {
            let known: Vec<&str> = snapshot
                .scenarios
                .for_operation(index)
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
            (Answer::error(&outcome, style), None)
        }
        Selection::None(near_miss) => {
            let mut answer = snapshot.fallbacks[index].clone();
            if let Some(miss) = near_miss {
                answer.trace = Some(Box::new(Trace {
                    near_miss: Some(miss),
                    ..Trace::default()
                }));
            }
            (answer, None)
        }
    }
}

/// `--validate-responses`: the outgoing answer against the definition, as
/// `check` does it; each finding is logged and added as `X-Contract-Violation`.
fn validate_response(snapshot: &Snapshot, index: usize, answer: &mut Answer) {
    let fhir = snapshot.era.is_some();
    let findings = snapshot
        .response_validators
        .check(&snapshot.model, index, answer, fhir);
    for finding in findings {
        let at = if finding.pointer.is_empty() {
            "response"
        } else {
            finding.pointer.as_str()
        };
        tracing::warn!(operation = %snapshot.model.operations[index].key, "response violates the definition: {at}: {}", finding.message);
        answer
            .headers
            .append(VIOLATION_HEADER, violation_header(at, &finding.message));
    }
}

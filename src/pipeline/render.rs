//! Step 4 of the request path: the answer of the selection the contract
//! let through (a scenario's, the definition's, or a forced scenario's
//! miss), and the scenario's state actions once it has answered.

use std::sync::Arc;

use handlebars::Context;
use http::StatusCode;

use super::{Served, Source};
use crate::answer::{self, Answer, ContextNeeds, RenderSource};
use crate::fhir::{Outcome, SpineCode};
use crate::journal::Trace;
use crate::negotiate::Format;
use crate::request::{Fresh, MockRequest, RequestIds};
use crate::scenario::{Scenario, Selection};
use crate::snapshot::{Api, ScenarioRuntime};
use crate::state::{StateData, StateStore};

/// Step 4: the answer of the selection that the contract let through.
#[allow(clippy::too_many_arguments)]
pub(super) fn render<'s>(
    api: &'s Api,
    index: usize,
    request: &MockRequest,
    params: &[(String, String)],
    selection: Selection<'s>,
    state: &Arc<StateData>,
    context: Option<&mut Context>,
    ids: &RequestIds,
) -> Served<'s> {
    let operation = &api.model.operations[index];
    let style = api.error_style;
    let served = |answer, scenario, source| Served {
        answer,
        api,
        operation: Some(index),
        scenario,
        source,
        trace: None,
        format: Format::Json,
        repeat: None,
    };
    match selection {
        Selection::Scenario(scenario) => {
            let runtime = api.runtime(index, scenario);
            let mut repeat = None;
            let answer = match context {
                Some(context) => {
                    context.data_mut()["scenario"]["name"] =
                        serde_json::Value::String(scenario.name.clone());
                    let request_id = context.data()["request"]["id"]
                        .as_str()
                        .and_then(|id| id.parse().ok())
                        .unwrap_or(0);
                    let mut render = |fresh: Fresh<'_>| {
                        let request = &mut context.data_mut()["request"];
                        request["id"] = serde_json::Value::String(fresh.id.to_string());
                        request["trace_id"] = serde_json::Value::String(fresh.trace_id.into());
                        answer::render_scenario(
                            &api.templates,
                            scenario,
                            operation,
                            RenderSource::Context(context),
                            state,
                            style,
                        )
                    };
                    // A scenario that reads state but does not change it
                    // keeps its answers per request, state and second too.
                    match runtime.and_then(|r| r.repeat.as_ref()) {
                        Some(cache) => {
                            let fresh = request.fresh(request_id);
                            let (answer, kept) = cache.answer(request, state, fresh, render);
                            repeat = kept;
                            answer
                        }
                        None => render(request.fresh(request_id)),
                    }
                }
                None => {
                    let needs = runtime.map_or(ContextNeeds::ALL, |r| r.needs);
                    let render = |fresh: Fresh<'_>| {
                        let source = RenderSource::Request {
                            request,
                            path_params: params,
                            fresh,
                            needs,
                        };
                        answer::render_scenario(
                            &api.templates,
                            scenario,
                            operation,
                            source,
                            state,
                            style,
                        )
                    };
                    // Request-independent answers are rendered once per
                    // snapshot; repeatable ones once per request, state and second.
                    match runtime {
                        Some(ScenarioRuntime {
                            static_answer: Some(cell),
                            ..
                        }) => cell
                            .get_or_init(|| render(request.fresh(ids.next())))
                            .copy_with_room(),
                        Some(ScenarioRuntime {
                            repeat: Some(cache),
                            ..
                        }) => {
                            let fresh = request.fresh(ids.next());
                            let (answer, kept) = cache.answer(request, state, fresh, render);
                            repeat = kept;
                            answer
                        }
                        _ => render(request.fresh(ids.next())),
                    }
                }
            };
            Served {
                repeat,
                ..served(answer, Some(scenario), Source::Scenario)
            }
        }
        Selection::UnknownForced(name) => {
            let known: Vec<&str> = api
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
            served(Answer::error(&outcome, style), None, Source::Mock)
        }
        Selection::None(miss) => {
            let (answer, source) = &api.fallbacks[index];
            let mut served = served(answer.clone(), None, Source::Spec(*source));
            if miss.is_some() {
                served.trace = Some(Box::new(Trace {
                    near_miss: miss,
                    ..Trace::default()
                }));
            }
            served
        }
    }
}

/// Step 4, stateful operations: what a scenario's state actions need.
pub(super) struct StateChange<'a> {
    pub(super) api: &'a Api,
    pub(super) scenario: &'a Scenario,
    pub(super) request: &'a MockRequest,
    /// The request context their id templates render against.
    pub(super) context: &'a Context,
    pub(super) request_id: u64,
}

impl StateChange<'_> {
    /// Once the scenario answered with its own status, its state actions
    /// change the state (the caller holds the writer lock). A template of
    /// theirs that fails changes nothing and is the error.
    pub(super) fn apply(
        &self,
        answer: &Answer,
        state: &Arc<StateData>,
        store: &StateStore,
    ) -> Result<(), String> {
        let then = &self.scenario.state_then;
        if then.is_empty() || answer.status != self.scenario.then.status {
            return Ok(());
        }
        let response: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
        let render = |name: &str| {
            self.api
                .templates
                .render(name, self.context, state)
                .map_err(|failure| failure.to_string())
        };
        let next = then.apply(
            state,
            &self.scenario.machine,
            &render,
            &self.request_id.to_string(),
            response.as_ref(),
            self.request.body_json(),
        )?;
        #[cfg(debug_assertions)]
        if let Err(error) = crate::state::check_integrity(&next, self.api.scenarios.seeds()) {
            tracing::error!(scenario = %self.scenario.name, "{error}");
        }
        store.replace(next);
        Ok(())
    }
}

/// What a scenario whose state actions failed answers: a 500 naming the
/// scenario, its file and the failure (the state is as it was).
pub(super) fn state_action_failed<'s>(
    api: &'s Api,
    index: usize,
    scenario: &'s Scenario,
    error: &str,
) -> Served<'s> {
    let diagnostics = format!(
        "scenario `{}` ({}): its answer rendered, but {error}; the state is unchanged",
        scenario.name, scenario.file
    );
    tracing::error!("{diagnostics}");
    let outcome = Outcome::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        SpineCode::INTERNAL_SERVER_ERROR,
        diagnostics,
    );
    Served {
        answer: Answer::error(&outcome, api.error_style),
        api,
        operation: Some(index),
        scenario: Some(scenario),
        source: Source::Scenario,
        trace: None,
        format: Format::Json,
        repeat: None,
    }
}

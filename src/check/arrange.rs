//! Arranging the booking state so that a stateful scenario's conditions
//! hold (and earlier stateful scenarios' do not) before `check` asks for it.

use std::sync::Arc;

use crate::answer::{template_context, ContextNeeds};
use crate::sample::{self, SyntheticRequest};
use crate::scenario::stateful::{IdsMatch, StateCondition, StateView};
use crate::scenario::{Scenario, Selection};
use crate::snapshot::Api;
use crate::state::StateData;

/// The API's seeds, as a state.
pub(super) fn seeded(api: &Api) -> StateData {
    let mut data = StateData::default();
    for seed in api.scenarios.seeds() {
        data.collections
            .insert(seed.collection.clone(), seed.documents.clone());
    }
    data
}

/// The seeds, changed so that `target`'s state conditions hold and earlier
/// stateful scenarios' do not: a stateful scenario is reached by arranging
/// state, not by guessing the request.
pub(super) fn arrange_state(
    api: &Api,
    index: usize,
    target: &Scenario,
    request: &SyntheticRequest,
) -> StateData {
    let mut data = seeded(api);
    let operation = &api.model.operations[index];
    let mock = request.to_mock_request();
    let params = sample::path_params(operation, &request.path);
    let context = template_context(
        &mock,
        &params,
        mock.fresh(1),
        None,
        operation,
        ContextNeeds::ALL,
    );
    for _ in 0..8 {
        // Id templates may read state (`state_get`): render against `data`.
        let current = Arc::new(data.clone());
        let render = |name: &str| api.templates.render(name, &context, &current).ok();
        for condition in &target.state_when.conditions {
            make_condition(&mut data, condition, &render, true);
        }
        if let Some(state) = &target.state_when.requires_state {
            data.machines.insert(target.machine.clone(), state.clone());
        }
        let current = Arc::new(data.clone());
        let render = |name: &str| api.templates.render(name, &context, &current).ok();
        let view = StateView {
            data: &data,
            render: &render,
        };
        let winner = match api.scenarios.select(index, &mock, &params, Some(&view)) {
            Selection::Scenario(winner) => winner,
            _ => break,
        };
        if std::ptr::eq(winner, target) || winner.state_when.is_empty() {
            break;
        }
        for condition in &winner.state_when.conditions {
            make_condition(&mut data, condition, &render, false);
        }
        if winner.state_when.requires_state.is_some() && winner.machine != target.machine {
            data.machines
                .insert(winner.machine.clone(), "(arranged by check)".into());
        }
    }
    data
}

/// Changes `data` so that `condition` holds (`hold`) or does not. A
/// condition on several ids (`ids`) is made to hold (or fail) for the first
/// of them when one is enough (`any` holding, `every` failing), else for
/// every one.
fn make_condition(
    data: &mut StateData,
    condition: &StateCondition,
    render: &dyn Fn(&str) -> Option<String>,
    hold: bool,
) {
    // Looked up in a copy: an index is built for a state that no longer
    // changes, and `data` is being changed here.
    let ids = condition.ids(render, &data.clone());
    let one_is_enough = match condition.many {
        Some(IdsMatch::Any) => hold,
        Some(IdsMatch::Every) => !hold,
        None => true,
    };
    let count = if one_is_enough { 1 } else { ids.len() };
    for id in ids.into_iter().take(count) {
        make_document(data, condition, id, hold);
    }
}

/// Changes the document `id` so that `condition` holds for it (`hold`) or
/// does not.
fn make_document(data: &mut StateData, condition: &StateCondition, id: String, hold: bool) {
    use serde_json::{json, Value};
    let documents = data
        .collections
        .entry(condition.collection.clone())
        .or_default();
    let wants_document = condition.exists || !condition.fields.is_empty();
    if !hold {
        if !wants_document {
            documents
                .entry(id.clone())
                .or_insert_with(|| json!({ "id": id }));
        } else if condition.fields.is_empty() {
            documents.shift_remove(&id);
        } else if let Some(Value::Object(fields)) = documents.get_mut(&id) {
            for (expression, _, _) in &condition.fields {
                if let Some(field) = top_level_field(expression) {
                    fields.insert(field, json!("(arranged by check)"));
                }
            }
        }
        return;
    }
    if !wants_document {
        documents.shift_remove(&id);
        return;
    }
    let document = documents
        .entry(id.clone())
        .or_insert_with(|| json!({ "id": id }));
    for (expression, path, field_condition) in &condition.fields {
        let holds = path.query(document).all().iter().any(|value| {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            field_condition.holds(std::iter::once(std::borrow::Cow::Owned(text)))
        });
        if !holds {
            if let (Some(field), Some(value), Value::Object(fields)) = (
                top_level_field(expression),
                field_condition.example(),
                &mut *document,
            ) {
                fields.insert(field, Value::String(value));
            }
        }
    }
}

/// `$.status` → `status`; deeper paths are not arranged.
fn top_level_field(expression: &str) -> Option<String> {
    let rest = expression.strip_prefix("$.")?;
    (!rest.contains(['.', '[', '*'])).then(|| rest.to_string())
}

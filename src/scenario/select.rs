//! The loaded scenarios of a snapshot and the choice of one per request.
//!
//! **The order scenarios are tried in**, per operation: higher `priority:`
//! first (default 0); then, at equal priority, every scenario with a
//! condition (on the request or on state) before any catch-all (a scenario
//! with none); then file order (files sorted by path, scenarios as written).
//! So a new file's specific scenario is never hidden by another file's
//! catch-all. [`ScenarioSet::select`] takes them in that order and the first
//! whose `when` and state conditions hold wins; `X-Mock-Scenario` forces one
//! by name. A scenario that no request can reach — an earlier one holds
//! whenever it does — is *shadowed*: the load reports it
//! ([`ScenarioSet::shadowed`]). When none matches, the same call works out the near
//! miss (the scenario with the most `when` conditions holding, ties to the
//! first in file order, and its first failing condition) — the only place
//! that rule lives.
//!
//! What body JSONPaths select is remembered for the one call in a
//! [`BodyScratch`] sized by the set's body-slot count: the set numbers the
//! slots (each distinct expression one slot, see [`number_body_slots`]) and
//! is the only one to create scratches for them.

use std::collections::HashMap;

use super::conditions::{BodyScratch, Failure};
use super::stateful::StateView;
use super::{Scenario, FORCE_HEADER};
use crate::request::MockRequest;
use crate::state::Seed;

/// All scenarios of a snapshot, grouped by operation index.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSet {
    pub(super) by_operation: Vec<Vec<Scenario>>,
    /// Per operation: does any scenario read or change state?
    pub(super) stateful: Vec<bool>,
    /// Per operation: whether any of its scenarios changes the state.
    pub(super) writing: Vec<bool>,
    pub(super) seeds: Vec<Seed>,
    pub(super) files: Vec<String>,
    /// How many distinct body expressions the set's conditions use.
    pub(super) body_slots: usize,
    /// Scenarios no request can reach, found at load.
    pub(super) shadowed: Vec<Shadowed>,
}

/// A scenario that no request can reach: an earlier one of its operation
/// holds whenever it does (only `X-Mock-Scenario` can still select it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    pub operation: String,
    pub scenario: String,
    pub file: String,
    pub line: usize,
    /// The scenario that answers its requests first.
    pub by: String,
    pub by_file: String,
    pub by_line: usize,
}

impl std::fmt::Display for Shadowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: scenario `{}` of {} is shadowed by `{}` ({}:{}), which holds for every request it would match; give it a higher `priority:` or a condition `{}` lacks",
            self.file, self.line, self.scenario, self.operation, self.by, self.by_file, self.by_line, self.by
        )
    }
}

/// The choice made for a request.
#[derive(Debug)]
pub enum Selection<'a> {
    Scenario(&'a Scenario),
    /// `X-Mock-Scenario` named a scenario the operation does not have.
    UnknownForced(String),
    /// No scenario matched; the nearest miss, if the operation has scenarios.
    None(Option<NearMiss>),
}

/// Why no scenario answered: the closest scenario and what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub scenario: String,
    pub file: String,
    pub line: usize,
    /// The condition that failed, in words.
    pub failed: String,
}

impl ScenarioSet {
    pub fn for_operation(&self, operation: usize) -> &[Scenario] {
        self.by_operation
            .get(operation)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether any scenario of the operation reads or changes the state.
    pub fn is_stateful(&self, operation: usize) -> bool {
        self.stateful.get(operation).copied().unwrap_or(false)
    }

    /// Requests to an operation some scenario of which changes the state
    /// take the state writer lock; one whose scenarios only read it reads
    /// the immutable state of the moment, lock-free.
    pub fn writes_state(&self, operation: usize) -> bool {
        self.writing.get(operation).copied().unwrap_or(false)
    }

    pub fn seeds(&self) -> &[Seed] {
        &self.seeds
    }

    pub fn count(&self) -> usize {
        self.by_operation.iter().map(Vec::len).sum()
    }

    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The scenarios no request can reach, in operation order.
    pub fn shadowed(&self) -> &[Shadowed] {
        &self.shadowed
    }

    /// What shadows scenario `name` of `operation`, if it is shadowed.
    pub fn shadowing(&self, operation: &str, name: &str) -> Option<&Shadowed> {
        self.shadowed
            .iter()
            .find(|s| s.operation == operation && s.scenario == name)
    }

    /// Picks the scenario for a request; `state` is needed by stateful
    /// scenarios (without it their state conditions do not hold).
    pub fn select<'a>(
        &'a self,
        operation: usize,
        request: &MockRequest,
        path_params: &[(String, String)],
        state: Option<&StateView<'_>>,
    ) -> Selection<'a> {
        let scenarios = self.for_operation(operation);
        if let Some(forced) = request.header(FORCE_HEADER) {
            return match scenarios.iter().find(|s| s.name == forced) {
                Some(scenario) => Selection::Scenario(scenario),
                None => Selection::UnknownForced(forced.to_string()),
            };
        }
        let mut scratch = BodyScratch::for_slots(self.body_slots);
        for scenario in scenarios {
            if scenario.when.holds(request, path_params, &mut scratch)
                && scenario.state_when.check(&scenario.machine, state).is_ok()
            {
                return Selection::Scenario(scenario);
            }
        }
        // Only a request that matches nothing pays for the near miss; the
        // body selections made above are reused.
        Selection::None(near_miss(
            scenarios,
            request,
            path_params,
            state,
            &mut scratch,
        ))
    }
}

/// The scenario with the most `when` conditions holding (ties: the first in
/// file order) and its first failing condition; when its `when` holds, its
/// failing state condition.
fn near_miss(
    scenarios: &[Scenario],
    request: &MockRequest,
    path_params: &[(String, String)],
    state: Option<&StateView<'_>>,
    scratch: &mut BodyScratch,
) -> Option<NearMiss> {
    let mut best: Option<(usize, &Scenario, Option<Failure<'_>>)> = None;
    for scenario in scenarios {
        let tally = scenario.when.tally(request, path_params, scratch);
        if best.as_ref().is_none_or(|(most, _, _)| tally.held > *most) {
            best = Some((tally.held, scenario, tally.first_failure));
        }
    }
    let (_, scenario, failure) = best?;
    let failed = match failure {
        Some(failure) => failure.to_miss().to_string(),
        None => match scenario.state_when.check(&scenario.machine, state) {
            Err(miss) => miss.to_string(),
            Ok(()) => "its state conditions (see /__admin/state)".to_string(),
        },
    };
    Some(NearMiss {
        scenario: scenario.name.clone(),
        file: scenario.file.clone(),
        line: scenario.line,
        failed,
    })
}

/// Puts one operation's scenarios in the order they are tried (see the
/// module doc): a stable sort, so file order decides the rest.
pub(super) fn order_for_selection(scenarios: &mut [Scenario]) {
    scenarios.sort_by_key(|s| (std::cmp::Reverse(s.priority), s.is_catch_all()));
}

/// Every scenario an earlier one of its operation covers: the earlier one
/// has no state condition and each of its `when` conditions is implied by
/// one of the later's, so it holds first whenever the later would.
pub(super) fn find_shadowed(
    by_operation: &[Vec<Scenario>],
    model: &crate::spec::ApiModel,
) -> Vec<Shadowed> {
    let mut out = Vec::new();
    for (index, scenarios) in by_operation.iter().enumerate() {
        for (position, scenario) in scenarios.iter().enumerate() {
            let cover = scenarios[..position].iter().find(|earlier| {
                earlier.state_when.is_empty() && earlier.when.is_implied_by(&scenario.when)
            });
            if let Some(earlier) = cover {
                out.push(Shadowed {
                    operation: model
                        .operations
                        .get(index)
                        .map(|op| op.key.clone())
                        .unwrap_or_default(),
                    scenario: scenario.name.clone(),
                    file: scenario.file.clone(),
                    line: scenario.line,
                    by: earlier.name.clone(),
                    by_file: earlier.file.clone(),
                    by_line: earlier.line,
                });
            }
        }
    }
    out
}

/// Gives each distinct body expression of the set one slot, shared by the
/// conditions that use it, whatever their operation, and returns the count:
/// a selection's scratch can never hold one expression's values for another.
pub(super) fn number_body_slots(by_operation: &mut [Vec<Scenario>]) -> usize {
    let mut slots: HashMap<String, usize> = HashMap::new();
    let conditions = by_operation
        .iter_mut()
        .flatten()
        .flat_map(|scenario| scenario.when.body.iter_mut());
    for condition in conditions {
        let next = slots.len();
        condition.slot = *slots.entry(condition.expression.clone()).or_insert(next);
    }
    slots.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::conditions::BodyCondition;
    use crate::scenario::load_dir;

    fn default_set() -> ScenarioSet {
        let sources = crate::snapshot::Sources::default_pack();
        let snapshot =
            crate::snapshot::Snapshot::load(&sources, &crate::snapshot::Settings::default(), 1)
                .expect("the default pack loads");
        let api = snapshot.apis.into_iter().next().expect("the DSTU2 API");
        std::sync::Arc::into_inner(api)
            .expect("the only owner")
            .scenarios
    }

    #[test]
    fn default_body_paths_are_walked_and_share_slots_by_expression() {
        let set = default_set();
        let body: Vec<&BodyCondition> = set
            .by_operation
            .iter()
            .flatten()
            .flat_map(|s| s.when.body.iter())
            .collect();
        for condition in &body {
            assert!(
                condition.path.is_walked(),
                "{} is not walked",
                condition.expression
            );
            assert!(condition.slot < set.body_slots, "slot beyond the count");
            for other in &body {
                assert_eq!(
                    condition.slot == other.slot,
                    condition.expression == other.expression
                );
            }
        }
        assert!(body.len() >= 20, "only {} body conditions", body.len());
        assert!(set.shadowed().is_empty(), "{:?}", set.shadowed());
    }

    fn care_record_request(section: &str, nhs_number: &str) -> MockRequest {
        let body = format!(
            r#"{{"resourceType":"Parameters","parameter":[{{"name":"patientNHSNumber","valueIdentifier":{{"value":"{nhs_number}"}}}},{{"name":"recordSection","valueCodeableConcept":{{"coding":[{{"code":"{section}"}}]}}}}]}}"#
        );
        MockRequest::new(
            http::Method::POST,
            "/fhir/Patient/$gpc.getcarerecord",
            http::HeaderMap::new(),
            bytes::Bytes::from(body),
        )
    }

    fn care_record_operation(set: &ScenarioSet) -> usize {
        set.by_operation
            .iter()
            .position(|s| s.iter().any(|s| s.name == "care-record-SUM"))
            .expect("the care record operation")
    }

    #[test]
    fn care_record_scenarios_are_chosen_by_their_body_paths() {
        let set = default_set();
        let index = care_record_operation(&set);
        let chosen = |section: &str, nhs_number: &str| match set.select(
            index,
            &care_record_request(section, nhs_number),
            &[],
            None,
        ) {
            Selection::Scenario(scenario) => scenario.name.clone(),
            other => panic!("no scenario: {other:?}"),
        };
        assert_eq!(chosen("SUM", "9658218873"), "care-record-SUM");
        assert_eq!(chosen("MED", "9658218873"), "care-record-MED");
        assert_eq!(chosen("SUM", "9658218865"), "care-record-no-clinical-data");
        assert_eq!(chosen("SUM", "9000000009"), "patient-not-found");
        assert_eq!(chosen("sum", "9658218873"), "invalid-record-section");
    }

    fn read_model() -> crate::spec::ApiModel {
        crate::spec::load_str(
            &serde_json::json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
                "paths": {"/p/{id}": {"get": {"operationId": "read",
                    "responses": {"200": {"description": "ok"}}}}}})
            .to_string(),
            "t.json",
        )
        .expect("spec")
    }

    fn chosen(set: &ScenarioSet, id: &str, query: &str) -> String {
        let request = MockRequest::new(
            http::Method::GET,
            &format!("/p/{id}?{query}"),
            http::HeaderMap::new(),
            bytes::Bytes::new(),
        );
        let params = [("id".to_string(), id.to_string())];
        match set.select(0, &request, &params, None) {
            Selection::Scenario(scenario) => scenario.name.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// A catch-all in one file does not hide another file's specific
    /// scenario, whatever the files' order; `priority` overrides.
    #[test]
    fn specific_scenarios_are_tried_before_catch_alls_across_files() {
        let model = read_model();
        let dir = tempfile::tempdir().expect("temp");
        std::fs::create_dir_all(dir.path().join("patient")).expect("dir");
        std::fs::create_dir_all(dir.path().join("team")).expect("dir");
        std::fs::write(
            dir.path().join("patient/any.yaml"),
            "operation: read\nscenarios:\n- name: anyone\n  then: {status: 200}\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("team/new.yaml"),
            "operation: read\nscenarios:\n\
             - name: patient-7\n  when:\n    path: {id: \"7\"}\n  then: {status: 200}\n\
             - name: urgent\n  priority: 10\n  when:\n    query: {urgent: \"yes\"}\n  then: {status: 200}\n",
        )
        .expect("write");
        let mut templates = crate::template::Templates::empty();
        let set = load_dir(dir.path(), "s", &model, &mut templates).expect("loads");
        assert_eq!(chosen(&set, "7", ""), "patient-7");
        assert_eq!(chosen(&set, "8", ""), "anyone");
        assert_eq!(chosen(&set, "7", "urgent=yes"), "urgent");
        assert!(set.shadowed().is_empty(), "{:?}", set.shadowed());
    }

    /// A scenario whose every request an earlier one answers is reported,
    /// with the one that shadows it.
    #[test]
    fn shadowed_scenarios_are_found_at_load() {
        let model = read_model();
        let dir = tempfile::tempdir().expect("temp");
        std::fs::write(
            dir.path().join("read.yaml"),
            "operation: read\nscenarios:\n\
             - name: patient-7\n  when:\n    path: {id: \"7\"}\n  then: {status: 200}\n\
             - name: patient-7-urgent\n  when:\n    path: {id: \"7\"}\n    query: {urgent: \"yes\"}\n  then: {status: 200}\n\
             - name: with-query\n  when:\n    query: {q: {present: true}}\n  then: {status: 200}\n\
             - name: q-is-x\n  when:\n    query: {q: x}\n  then: {status: 200}\n\
             - name: other\n  when:\n    path: {id: \"8\"}\n  then: {status: 200}\n\
             - name: anyone\n  then: {status: 200}\n\
             - name: anyone-else\n  then: {status: 200}\n",
        )
        .expect("write");
        let mut templates = crate::template::Templates::empty();
        let set = load_dir(dir.path(), "s", &model, &mut templates).expect("loads");
        let found: Vec<(&str, &str)> = set
            .shadowed()
            .iter()
            .map(|s| (s.scenario.as_str(), s.by.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("patient-7-urgent", "patient-7"),
                ("q-is-x", "with-query"),
                ("anyone-else", "anyone")
            ]
        );
        let shadow = set.shadowing("read", "q-is-x").expect("shadowed");
        assert_eq!(
            (shadow.file.as_str(), shadow.by_line),
            ("s/read.yaml", shadow.by_line)
        );
        assert!(
            shadow.to_string().contains("shadowed by `with-query`"),
            "{shadow}"
        );
    }

    /// The near miss is the scenario with the most conditions holding, the
    /// first in file order on a tie, with its first failing condition.
    #[test]
    fn near_miss_is_the_closest_scenario_first_on_ties() {
        let model = crate::spec::load_str(
            &serde_json::json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
                "paths": {"/p/{id}": {"get": {"operationId": "read",
                    "responses": {"200": {"description": "ok"}}}}}})
            .to_string(),
            "t.json",
        )
        .expect("spec");
        let dir = tempfile::tempdir().expect("temp");
        std::fs::write(
            dir.path().join("read.yaml"),
            "operation: read\nscenarios:\n\
             - name: one-of-two\n  when:\n    path: {id: \"1\"}\n    query: {a: x}\n  then: {status: 200}\n\
             - name: two-of-three\n  when:\n    path: {id: \"1\"}\n    query: {a: x, b: y}\n  then: {status: 200}\n\
             - name: also-two-of-three\n  when:\n    path: {id: \"1\"}\n    query: {a: x, b: y}\n  then: {status: 200}\n",
        )
        .expect("write");
        let mut templates = crate::template::Templates::empty();
        let set = load_dir(dir.path(), "s", &model, &mut templates).expect("loads");
        let request = MockRequest::new(
            http::Method::GET,
            "/p/1?b=y",
            http::HeaderMap::new(),
            bytes::Bytes::new(),
        );
        let params = [("id".to_string(), "1".to_string())];
        match set.select(0, &request, &params, None) {
            Selection::None(Some(miss)) => {
                assert_eq!(miss.scenario, "two-of-three");
                assert_eq!(miss.failed, "query parameter `a` is not equal to \"x\"");
                assert_eq!(miss.file, "s/read.yaml");
            }
            other => panic!("{other:?}"),
        }
    }

    /// When the closest scenario's `when` holds, its failing state
    /// condition is the near miss, in words.
    #[test]
    fn near_miss_of_a_stateful_scenario_names_its_state() {
        let model = crate::spec::load_str(
            &serde_json::json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
                "paths": {"/p": {"post": {"operationId": "book",
                    "responses": {"200": {"description": "ok"}}}}}})
            .to_string(),
            "t.json",
        )
        .expect("spec");
        let dir = tempfile::tempdir().expect("temp");
        std::fs::write(
            dir.path().join("book.yaml"),
            "operation: book\nscenarios:\n\
             - name: when-free\n  when:\n    requires_state: free\n  then: {status: 200}\n",
        )
        .expect("write");
        let mut templates = crate::template::Templates::empty();
        let set = load_dir(dir.path(), "s", &model, &mut templates).expect("loads");
        let request = MockRequest::new(
            http::Method::POST,
            "/p",
            http::HeaderMap::new(),
            bytes::Bytes::new(),
        );
        let data = crate::state::StateData::default();
        let render = |_: &str| None;
        let view = StateView {
            data: &data,
            render: &render,
        };
        match set.select(0, &request, &[], Some(&view)) {
            Selection::None(Some(miss)) => {
                assert_eq!(miss.scenario, "when-free");
                assert!(
                    miss.failed
                        .starts_with("scenario state of `default` is not \"free\""),
                    "{}",
                    miss.failed
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

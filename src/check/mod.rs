//! `gpconnect-mock check`: proves a scenario pack against the definition
//! offline. For every scenario it builds a request that satisfies the
//! scenario's `when`, confirms that this scenario is the one selected,
//! renders it, and validates the answer (status declared, JSON, schema,
//! FHIR shape, FHIR primitive types, element order). It also reports coverage: operations without scenarios and
//! declared statuses no scenario produces.

mod arrange;
mod capabilities;
pub mod definitions;
pub mod primitives;
mod xml;

use arrange::{arrange_state, seeded};
use capabilities::unserved_capabilities;
use xml::{without_empty_arrays, xml_round_trip};

use std::collections::BTreeSet;

use serde::Serialize;

use crate::contract::{Profile, Waiver};
use crate::fhir_xml::{order, Json};
use crate::media::is_json_media;
use crate::negotiate;
use crate::pipeline::{self, Served};
use crate::request::RequestIds;
use crate::response_check::Severity;
use crate::sample::request_for;
use crate::scenario::{Scenario, FORCE_HEADER};
use crate::snapshot::{Api, Snapshot};
use crate::state::Stores;

/// One finding of `check`, located in the scenario pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckFinding {
    pub severity: Severity,
    pub file: String,
    pub line: Option<usize>,
    pub operation: String,
    pub scenario: Option<String>,
    /// JSON pointer into the rendered body, where the finding is about it.
    pub pointer: Option<String>,
    pub message: String,
}

impl std::fmt::Display for CheckFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}: {}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.operation)?;
        if let Some(scenario) = &self.scenario {
            write!(f, " / {scenario}")?;
        }
        write!(f, ": ")?;
        if let Some(pointer) = self.pointer.as_deref().filter(|p| !p.is_empty()) {
            write!(f, "{pointer}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub operations: usize,
    pub scenarios: usize,
    pub errors: usize,
    pub warnings: usize,
    /// The same counts per mounted API, in mount order.
    pub apis: Vec<ApiSummary>,
    pub findings: Vec<CheckFinding>,
    /// Every JSON answer of a FHIR API and its FHIR XML form, for dumps.
    #[serde(skip)]
    pub xml_answers: Vec<XmlAnswer>,
}

/// What `check` found in one mounted API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApiSummary {
    pub name: String,
    pub base_path: String,
    pub operations: usize,
    pub scenarios: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl std::fmt::Display for ApiSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = if self.base_path.is_empty() {
            "/"
        } else {
            &self.base_path
        };
        write!(
            f,
            "check {} at {base}: {} operations, {} scenarios: {} errors, {} warnings",
            self.name, self.operations, self.scenarios, self.errors, self.warnings
        )
    }
}

/// One rendered answer in both formats.
#[derive(Debug, Clone)]
pub struct XmlAnswer {
    /// `<era>--<api>--<operation>--<scenario>`: a file name stem.
    pub name: String,
    pub json: String,
    pub xml: String,
}

/// Checks every scenario of every API of the snapshot. It answers from a
/// booking state of its own, arranged afresh for each scenario.
pub fn run(snapshot: &Snapshot) -> Report {
    let ids = RequestIds::default();
    let stores = snapshot.fresh_stores();
    let (operations, scenarios, _) = snapshot.counts();
    let mut report = Report {
        operations,
        scenarios,
        ..Report::default()
    };
    for api in &snapshot.apis {
        let before = report.findings.len();
        check_api(snapshot, api, &stores, &ids, &mut report);
        let errors = errors_in(&report.findings[before..]);
        report.apis.push(ApiSummary {
            name: api.name.clone(),
            base_path: api.base_path.clone(),
            operations: api.model.operations.len(),
            scenarios: api.scenarios.count(),
            errors,
            warnings: report.findings.len() - before - errors,
        });
    }
    report.errors = errors_in(&report.findings);
    report.warnings = report.findings.len() - report.errors;
    report
}

fn errors_in(findings: &[CheckFinding]) -> usize {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count()
}

fn check_api(
    snapshot: &Snapshot,
    api: &Api,
    stores: &Stores,
    ids: &RequestIds,
    report: &mut Report,
) {
    let model = &api.model;
    // Statuses the request checks answer by themselves, not scenarios.
    let checks_produce: &[u16] = match (api.contract.mode(), api.contract.profile()) {
        (crate::contract::ContractMode::Off, _) => &[],
        (_, Profile::GpConnect(_)) => &[400, 415, 422],
        (_, Profile::None) => &[400, 415],
    };
    for (index, operation) in model.operations.iter().enumerate() {
        let scenarios = api.scenarios.for_operation(index);
        if scenarios.is_empty() {
            report.findings.push(CheckFinding {
                severity: Severity::Warning,
                file: model.source.clone(),
                line: None,
                operation: operation.key.clone(),
                scenario: None,
                pointer: None,
                message: "no scenario: this operation answers from the spec only".into(),
            });
            continue;
        }
        let mut produced = BTreeSet::new();
        for scenario in scenarios {
            produced.insert(scenario.then.status.as_u16());
            let target = Target {
                snapshot,
                api,
                index,
                scenario,
            };
            target.check(stores, ids, report);
        }
        let first = &scenarios[0];
        for response in &operation.responses {
            if let crate::spec::ResponseStatus::Code(code) = response.status {
                if !produced.contains(&code) && !checks_produce.contains(&code) && code != 500 {
                    report.findings.push(CheckFinding {
                        severity: Severity::Warning,
                        file: first.file.clone(),
                        line: None,
                        operation: operation.key.clone(),
                        scenario: None,
                        pointer: None,
                        message: format!("declared response {code} is produced by no scenario"),
                    });
                }
            }
        }
    }
}

/// One scenario to check.
struct Target<'a> {
    snapshot: &'a Snapshot,
    api: &'a Api,
    index: usize,
    scenario: &'a Scenario,
}

impl Target<'_> {
    /// Builds the scenario's request, confirms the scenario answers it,
    /// and checks the answer against the definition.
    fn check(&self, stores: &Stores, ids: &RequestIds, report: &mut Report) {
        let findings = &mut report.findings;
        let Target {
            snapshot,
            api,
            index,
            scenario,
        } = *self;
        let operation = &api.model.operations[index];
        let finding = |severity, pointer: Option<String>, message: String| CheckFinding {
            severity,
            file: scenario.file.clone(),
            line: Some(scenario.line),
            operation: operation.key.clone(),
            scenario: Some(scenario.name.clone()),
            pointer,
            message,
        };
        // Each scenario starts from the seeds, arranged so its state conditions hold.
        let request = request_for(api, index, Some(scenario), &seeded(api));
        let store = stores.of(&api.name);
        store.replace(arrange_state(api, index, scenario, &request));
        let served = pipeline::serve(snapshot, stores, &request.to_mock_request(), ids);
        let selected = served.scenario_name().map(str::to_string);
        let answer = if selected.as_deref() == Some(scenario.name.as_str()) {
            served.answer
        } else {
            match &selected {
                Some(winner) => {
                    let at = api
                        .scenarios
                        .for_operation(index)
                        .iter()
                        .find(|s| &s.name == winner)
                        .map(|s| format!(" ({}:{})", s.file, s.line))
                        .unwrap_or_default();
                    findings.push(finding(
                    Severity::Error,
                    None,
                    format!("shadowed by `{winner}`{at}: the request built from this scenario's `when` selects `{winner}` first"),
                ));
                }
                None if !matches!(served.source, pipeline::Source::Spec(_))
                    && scenario.then.waiver != Waiver::All =>
                {
                    let detail = String::from_utf8_lossy(&served.answer.body)
                        .chars()
                        .take(300)
                        .collect::<String>();
                    findings.push(finding(
                    Severity::Error,
                    None,
                    format!("the request built from this scenario's `when` is rejected by the request checks ({}): {detail}", served.answer.status),
                ));
                }
                None => {
                    let why = match api
                        .scenarios
                        .for_operation(index)
                        .iter()
                        .find(|s| s.name == scenario.name)
                    {
                        Some(own) => own
                            .when
                            .check(&request.to_mock_request(), &[])
                            .err()
                            .map(|miss| format!(" ({miss})"))
                            .unwrap_or_default(),
                        None => String::new(),
                    };
                    findings.push(finding(
                    Severity::Warning,
                    None,
                    format!("could not build a request that selects this scenario{why}; its answer is checked by forcing it"),
                ));
                }
            }
            let mut forced = request.clone();
            forced.set_header(FORCE_HEADER, scenario.name.clone());
            store.replace(arrange_state(api, index, scenario, &request));
            let served: Served<'_> =
                pipeline::serve(snapshot, stores, &forced.to_mock_request(), ids);
            served.answer
        };
        if answer.status != scenario.then.status {
            // The scenario was selected but did not render: the 500 explains why.
            let detail = String::from_utf8_lossy(&answer.body);
            let diagnostics = serde_json::from_str::<serde_json::Value>(&detail)
                .ok()
                .and_then(|body| {
                    body.pointer("/issue/0/diagnostics")
                        .or_else(|| body.get("detail"))
                        .and_then(|d| d.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| detail.chars().take(300).collect());
            findings.push(finding(
                Severity::Error,
                None,
                format!(
                    "answers {} instead of {}: {diagnostics}",
                    answer.status.as_u16(),
                    scenario.then.status.as_u16()
                ),
            ));
            return;
        }
        let fhir = matches!(api.contract.profile(), Profile::GpConnect(_)) || api.era.is_some();
        for problem in api.response_checks.check(&api.model, index, &answer, fhir) {
            let pointer = Some(problem.pointer.clone());
            findings.push(finding(problem.severity, pointer, problem.message));
        }
        let era = negotiate::fhir_era(api.error_style);
        if let Ok(body) = serde_json::from_slice::<serde_json::Value>(&answer.body) {
            for (pointer, message) in unserved_capabilities(api, &body) {
                findings.push(finding(Severity::Error, Some(pointer), message));
            }
            for invalid in era
                .map(|era| primitives::check(&body, era))
                .unwrap_or_default()
            {
                findings.push(finding(
                    Severity::Error,
                    Some(invalid.pointer),
                    invalid.message,
                ));
            }
        }
        let Some(era) = era else {
            return;
        };
        let json = answer
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(is_json_media);
        let Some(text) = std::str::from_utf8(&answer.body)
            .ok()
            .filter(|text| json && !text.is_empty())
        else {
            return;
        };
        let Ok(tree) = Json::parse(text) else {
            return; // the response checks reported it
        };
        for misplaced in order::check(&tree, era) {
            findings.push(finding(
                Severity::Warning,
                Some(misplaced.pointer),
                misplaced.message,
            ));
        }
        // Empty arrays (not valid FHIR JSON, but common in templates:
        // `"entry": []`) have no XML form: the XML leaves them out.
        let (tree, _) = without_empty_arrays(tree, String::new());
        match xml_round_trip(&tree, era) {
            Ok(xml) => report.xml_answers.push(XmlAnswer {
                name: format!(
                    "{}--{}--{}--{}",
                    era.label(),
                    api.name,
                    operation.key,
                    scenario.name
                ),
                json: text.to_string(),
                xml,
            }),
            Err((pointer, message)) => findings.push(finding(Severity::Error, pointer, message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Settings, Sources};

    /// Every answer of the default pack survives FHIR XML (JSON → XML →
    /// JSON gives the same JSON, numbers as written, keys in order). With `GPCONNECT_MOCK_XML_DUMP=DIR` it also
    /// writes each answer as `DIR/<era>--<api>--<operation>--<scenario>.{json,xml}`,
    /// which `.ci/xml_check.sh` reads with an independent XML parser and
    /// `.ci/fhir_parse.sh` with independent FHIR models.
    #[test]
    fn default_pack_answers_survive_fhir_xml() {
        let sources = Sources::default_pack();
        let snapshot = Snapshot::load(&sources, &Settings::default(), 1).expect("loads");
        let report = run(&snapshot);
        let xml_findings: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.message.contains("FHIR XML") && f.severity == Severity::Error)
            .map(ToString::to_string)
            .collect();
        assert_eq!(xml_findings, Vec::<String>::new());
        assert!(
            report.xml_answers.len() >= 40,
            "{}",
            report.xml_answers.len()
        );
        if let Some(dir) = std::env::var_os("GPCONNECT_MOCK_XML_DUMP") {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            for answer in &report.xml_answers {
                std::fs::write(dir.join(format!("{}.json", answer.name)), &answer.json).unwrap();
                std::fs::write(dir.join(format!("{}.xml", answer.name)), &answer.xml).unwrap();
            }
        }
    }
}

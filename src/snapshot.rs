//! One immutable, fully loaded version of everything a request reads: the
//! definition, its routes, scenarios, templates and precomputed answers.
//!
//! A snapshot is built off the request path and only ever replaced whole
//! (see `reload`), so a request sees one consistent version from start to end.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::answer::{add_fixed_headers, spec_fallback, Answer, ContextNeeds};
use crate::contract::{Contract, ContractMode, ProfileChoice};
use crate::error::{LoadError, LoadErrors};
use crate::fhir::{Era, ErrorStyle};
use crate::routes::RouteTable;
use crate::scenario::{self, Scenario, ScenarioSet};
use crate::spec::{self, ApiModel};
use crate::state::StateStore;
use crate::template::Templates;
use crate::validate::ResponseValidators;

/// The project's own GP Connect (DSTU2) definition, served when no spec is given.
pub const EMBEDDED_SPEC: &str = include_str!("../downloads/swagger/swagger.json");
pub const EMBEDDED_SPEC_LABEL: &str = "downloads/swagger/swagger.json (embedded)";

/// Where a snapshot is loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// `None`: the embedded default definition.
    pub spec: Option<PathBuf>,
    /// `None`: no scenarios (every operation answers from the spec).
    pub scenarios: Option<PathBuf>,
    pub templates: Option<PathBuf>,
}

impl Sources {
    /// Resolves the CLI's paths. Without `--spec`, the project's default
    /// definition and, unless given, its default pack (`scenarios/`,
    /// `templates/`) are used: from the working directory when it holds
    /// them, else from the source tree this binary was built from. With
    /// `--spec`, only the directories given are loaded, since the default
    /// pack speaks to the default definition.
    pub fn resolve(
        spec: Option<PathBuf>,
        scenarios: Option<PathBuf>,
        templates: Option<PathBuf>,
    ) -> Sources {
        let default_dir = |name: &str| -> Option<PathBuf> {
            let local = PathBuf::from(name);
            if local.is_dir() {
                return Some(local);
            }
            let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
            built.is_dir().then_some(built)
        };
        match spec {
            Some(spec) => Sources {
                spec: Some(spec),
                scenarios,
                templates,
            },
            None => {
                let local_spec = PathBuf::from("downloads/swagger/swagger.json");
                Sources {
                    spec: local_spec.is_file().then_some(local_spec),
                    scenarios: scenarios.or_else(|| default_dir("scenarios")),
                    templates: templates.or_else(|| default_dir("templates")),
                }
            }
        }
    }

    pub fn spec_label(&self) -> String {
        match &self.spec {
            Some(path) => path.display().to_string(),
            None => EMBEDDED_SPEC_LABEL.to_string(),
        }
    }
}

/// Settings from the command line; they do not change on reload.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Force the FHIR era instead of detecting it from media types.
    pub era_override: Option<Era>,
    /// `--profile`: which rules beyond the spec's own apply.
    pub profile: ProfileChoice,
    /// `--contract`: reject, warn about, or skip contract violations.
    pub contract: ContractMode,
    /// `--asid`: the provider ASID `Ssp-To` must name (`None`: the default).
    pub asid: Option<String>,
    /// The server's state: shared by every snapshot, kept across reloads.
    pub state: Arc<StateStore>,
    /// `--journal-size`: requests kept for `/__admin/requests` (0: none).
    pub journal_size: usize,
    /// `--validate-responses`: check each answer against the definition.
    pub validate_responses: bool,
}

/// Everything loaded, ready to answer requests.
#[derive(Debug)]
pub struct Snapshot {
    /// Goes up by one on each successful load.
    pub generation: u64,
    pub loaded_at: DateTime<Utc>,
    pub model: ApiModel,
    pub routes: RouteTable,
    pub scenarios: ScenarioSet,
    pub templates: Templates,
    /// The spec-derived answer per operation (same index as operations).
    pub fallbacks: Vec<Answer>,
    /// `X-Mock-Operation` per operation, built once.
    pub operation_headers: Vec<http::HeaderValue>,
    pub era: Option<Era>,
    pub error_style: ErrorStyle,
    /// The compiled request checks.
    pub contract: Contract,
    /// Response schemas, compiled on first use (`check`, `--validate-responses`).
    pub response_validators: ResponseValidators,
    /// Per operation, per scenario (same order as the scenario set): what
    /// the request path keeps about each scenario.
    pub runtime: Vec<Vec<ScenarioRuntime>>,
    /// See [`Settings::validate_responses`].
    pub validate_responses: bool,
    /// How long the load took, in milliseconds.
    pub load_ms: f64,
}

impl Snapshot {
    /// Loads spec, templates and scenarios; every problem is reported.
    pub fn load(
        sources: &Sources,
        settings: &Settings,
        generation: u64,
    ) -> Result<Snapshot, LoadErrors> {
        let started = Instant::now();
        let model = match &sources.spec {
            Some(path) => spec::load_file(path)?,
            None => spec::load_str(EMBEDDED_SPEC, EMBEDDED_SPEC_LABEL)?,
        };
        let mut errors: Vec<LoadError> = Vec::new();
        let routes = RouteTable::build(&model).unwrap_or_else(|mut route_errors| {
            errors.append(&mut route_errors);
            RouteTable::default()
        });
        let mut templates = match &sources.templates {
            Some(dir) => {
                Templates::load_dir(dir, &dir.display().to_string(), settings.state.clone())
                    .unwrap_or_else(|mut template_errors| {
                        errors.append(&mut template_errors);
                        Templates::new(settings.state.clone())
                    })
            }
            None => Templates::new(settings.state.clone()),
        };
        let scenarios = match &sources.scenarios {
            Some(dir) => {
                scenario::load_dir(dir, &dir.display().to_string(), &model, &mut templates)
                    .unwrap_or_else(|mut scenario_errors| {
                        errors.append(&mut scenario_errors);
                        ScenarioSet::default()
                    })
            }
            None => ScenarioSet::default(),
        };
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        templates.prepare_for_requests();
        let era = settings
            .era_override
            .or_else(|| Era::detect(model.media_types()));
        // Errors follow the profile: OperationOutcomes for GP Connect,
        // problem+json otherwise.
        let contract = Contract::compile(&model, settings, era);
        let error_style = contract.error_style();
        let operation_headers: Vec<http::HeaderValue> = model
            .operations
            .iter()
            .map(|op| {
                http::HeaderValue::from_str(&op.key)
                    .unwrap_or(http::HeaderValue::from_static("unprintable"))
            })
            .collect();
        // Complete with the headers every answer gets, so serving one
        // copies it and adds nothing.
        let fallbacks = model
            .operations
            .iter()
            .zip(&operation_headers)
            .map(|(op, header)| {
                let mut answer = spec_fallback(&model, op);
                add_fixed_headers(&mut answer, Some(header), contract.no_store());
                answer
            })
            .collect();
        // New collections are seeded now; existing state survives reloads.
        settings.state.seed_missing(scenarios.seeds());
        let response_validators = ResponseValidators::new(&model);
        let runtime = (0..model.operations.len())
            .map(|index| {
                scenarios
                    .for_operation(index)
                    .iter()
                    .map(|scenario| ScenarioRuntime::new(scenario, &templates))
                    .collect()
            })
            .collect();
        let snapshot = Snapshot {
            generation,
            loaded_at: Utc::now(),
            model,
            routes,
            scenarios,
            templates,
            fallbacks,
            operation_headers,
            era,
            error_style,
            contract,
            response_validators,
            runtime,
            validate_responses: settings.validate_responses,
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        crate::memory::release_free_memory();
        Ok(snapshot)
    }
}

/// What the request path keeps about one scenario of a snapshot.
#[derive(Debug)]
pub struct ScenarioRuntime {
    /// How often it answered since this snapshot loaded.
    pub hits: AtomicU64,
    /// Its answer, rendered once, when it is the same for every request.
    pub static_answer: Option<OnceLock<Answer>>,
    /// The parts of the request its templates read.
    pub needs: ContextNeeds,
}

impl ScenarioRuntime {
    fn new(scenario: &Scenario, templates: &Templates) -> Self {
        let names: Vec<&str> = scenario
            .then
            .body_template
            .iter()
            .map(String::as_str)
            .chain(
                scenario
                    .then
                    .headers
                    .iter()
                    .filter_map(|(_, source)| match source {
                        crate::scenario::HeaderSource::Template(name) => Some(name.as_str()),
                        crate::scenario::HeaderSource::Fixed(_) => None,
                    }),
            )
            .collect();
        let is_static = !scenario.is_stateful()
            && names
                .iter()
                .all(|name| templates.is_request_independent(name));
        Self {
            hits: AtomicU64::new(0),
            static_answer: is_static.then(OnceLock::new),
            needs: if scenario.is_stateful() {
                ContextNeeds::ALL
            } else {
                ContextNeeds::of(&names, templates)
            },
        }
    }
}

impl Snapshot {
    /// The runtime record of `scenario`, one of operation `operation`'s.
    pub fn runtime(&self, operation: usize, scenario: &Scenario) -> Option<&ScenarioRuntime> {
        let scenarios = self.scenarios.for_operation(operation);
        let position = scenarios.iter().position(|s| std::ptr::eq(s, scenario))?;
        self.runtime.get(operation)?.get(position)
    }
}

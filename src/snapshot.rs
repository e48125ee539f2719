//! One immutable, fully loaded version of everything a request reads: the
//! mounted APIs, each with its definition, routes, scenarios, templates,
//! contract and precomputed answers.
//!
//! A snapshot is built off the request path and only ever replaced whole
//! (see `reload`), so a request sees one consistent version from start to
//! end. Nothing in it changes after loading except what is named a cache
//! below; each is a pure cache: emptying it would change no answer.
//!
//! - [`ScenarioRuntime::static_answer`]: a request-independent scenario's
//!   answer, rendered on first use.
//! - `Contract`'s JWT verdict cache (the claims checks of a token already
//!   seen, until it expires) and its lazily compiled body schemas
//!   (`contract`), and [`ResponseChecks`]' lazily compiled response
//!   schemas.
//! - `Templates`' output size hints (the size of the next render's buffer).
//!
//! The booking state is not here: it outlives snapshots and is owned by the
//! application state (`app`).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::HeaderValue;

use crate::answer::{spec_fallback, Answer, ContextNeeds, SpecSource};
use crate::contract::{Contract, ContractSettings};
use crate::error::{LoadError, LoadErrors};
use crate::fhir::{Era, ErrorStyle};
use crate::pack::PackDir;
use crate::response_check::ResponseChecks;
use crate::routes::RouteTable;
use crate::scenario::{self, HeaderSource, Scenario, ScenarioSet};
use crate::spec::{self, ApiModel};
use crate::state::Seed;
use crate::template::Templates;
use crate::versions;

/// The project's own GP Connect (DSTU2) definition, served when no spec is given.
pub const EMBEDDED_SPEC: &str = include_str!("../downloads/swagger/swagger.json");
pub const EMBEDDED_SPEC_LABEL: &str = "downloads/swagger/swagger.json (embedded)";

/// Where one API is loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSource {
    /// How the API is named in logs, health and `routes`.
    pub name: String,
    /// `None`: the embedded default definition.
    pub spec: Option<PathBuf>,
    /// `None`: no scenarios (every operation answers from the spec).
    pub scenarios: Option<PackDir>,
    pub templates: Option<PackDir>,
}

impl ApiSource {
    pub fn spec_label(&self) -> String {
        match &self.spec {
            Some(path) => path.display().to_string(),
            None => EMBEDDED_SPEC_LABEL.to_string(),
        }
    }
}

/// A path given on the command line that cannot be what was meant.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    #[error("--spec {0}: no such file")]
    NoSpec(PathBuf),
    #[error("--{flag} {path}: no such directory")]
    NoDirectory { flag: &'static str, path: PathBuf },
}

/// Where a snapshot is loaded from: the APIs to mount, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub apis: Vec<ApiSource>,
    /// Where the default files came from, for the startup line.
    pub origin: Origin,
}

/// Where `serve` found its files when no `--spec` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `--spec` named the definition.
    Given,
    /// The working directory is a checkout: its `downloads/`, `scenarios/`
    /// and `templates/` are used (and watched).
    Checkout(PathBuf),
    /// Everything built into the binary.
    Embedded,
}

impl Sources {
    /// Resolves the CLI's paths into a one-API list; a path given that does
    /// not exist is an error naming it.
    ///
    /// With `--spec`, only the directories given are loaded, since the
    /// default pack speaks to the default definition. Without it: when the
    /// working directory is a checkout of this project (it holds
    /// `downloads/swagger/swagger.json`, `scenarios/` and `templates/`),
    /// those files, so edits are served; anywhere else, the definition and
    /// pack built into the binary, all three together. `--scenarios` and
    /// `--templates` replace their part either way.
    pub fn resolve(
        spec: Option<PathBuf>,
        scenarios: Option<PathBuf>,
        templates: Option<PathBuf>,
    ) -> Result<Sources, SourceError> {
        let dir = |flag: &'static str, path: Option<PathBuf>| match path {
            Some(path) if !path.is_dir() => Err(SourceError::NoDirectory { flag, path }),
            Some(path) => Ok(Some(PackDir::Disk(path))),
            None => Ok(None),
        };
        let scenarios = dir("scenarios", scenarios)?;
        let templates = dir("templates", templates)?;
        if let Some(spec) = spec {
            if !spec.is_file() {
                return Err(SourceError::NoSpec(spec));
            }
            return Ok(Sources {
                apis: vec![ApiSource {
                    name: "api".to_string(),
                    spec: Some(spec),
                    scenarios,
                    templates,
                }],
                origin: Origin::Given,
            });
        }
        Ok(Sources::defaults(scenarios, templates))
    }

    /// The default API, its pack parts replaced by `scenarios` and
    /// `templates` where given.
    fn defaults(scenarios: Option<PackDir>, templates: Option<PackDir>) -> Sources {
        let local_spec = PathBuf::from("downloads/swagger/swagger.json");
        let checkout = local_spec.is_file()
            && PathBuf::from("scenarios").is_dir()
            && PathBuf::from("templates").is_dir();
        let (spec, default_scenarios, default_templates, origin) = if checkout {
            (
                Some(local_spec),
                PackDir::Disk(PathBuf::from("scenarios")),
                PackDir::Disk(PathBuf::from("templates")),
                Origin::Checkout(std::env::current_dir().unwrap_or_default()),
            )
        } else {
            (
                None,
                PackDir::embedded_scenarios(),
                PackDir::embedded_templates(),
                Origin::Embedded,
            )
        };
        Sources {
            apis: vec![ApiSource {
                name: "gpconnect-dstu2".to_string(),
                spec,
                scenarios: Some(scenarios.unwrap_or(default_scenarios)),
                templates: Some(templates.unwrap_or(default_templates)),
            }],
            origin,
        }
    }

    /// The project's default definition and pack: the checkout's files in
    /// a checkout, else the embedded ones (tests, benchmarks, tools).
    pub fn default_pack() -> Sources {
        Sources::defaults(None, None)
    }

    /// The definitions, as labelled in messages, joined.
    pub fn spec_label(&self) -> String {
        self.apis
            .iter()
            .map(ApiSource::spec_label)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Where the files come from, in words, for the startup line.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .apis
            .iter()
            .flat_map(|api| {
                [
                    Some(api.spec_label()),
                    api.scenarios.as_ref().map(PackDir::label),
                    api.templates.as_ref().map(PackDir::label),
                ]
            })
            .flatten()
            .collect();
        let files = parts.join(", ");
        match &self.origin {
            Origin::Given => files,
            Origin::Checkout(dir) => format!("the checkout in {}: {files}", dir.display()),
            Origin::Embedded => format!(
                "the default pack built into the binary ({files}; `gpconnect-mock init DIR` writes it out for editing)"
            ),
        }
    }
}

/// Settings from the command line; they do not change on reload.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Force the FHIR era instead of detecting it from media types.
    pub era_override: Option<Era>,
    /// `--profile`, `--contract`, `--asid`.
    pub contract: ContractSettings,
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
    /// The mounted APIs, in the order of [`Sources::apis`].
    pub apis: Vec<Api>,
    /// How long the load took, in milliseconds.
    pub load_ms: f64,
}

/// One mounted API: a definition and its pack, served under its base path.
#[derive(Debug)]
pub struct Api {
    pub name: String,
    /// The path prefix its routes live under (the definition's `basePath`
    /// or server path; "" for none).
    pub base_path: String,
    pub model: ApiModel,
    pub routes: RouteTable,
    pub scenarios: ScenarioSet,
    pub templates: Templates,
    /// The spec-derived answer per operation (same index as operations).
    pub fallbacks: Vec<(Answer, SpecSource)>,
    /// `X-Mock-Operation` per operation, built once.
    pub operation_headers: Vec<HeaderValue>,
    pub era: Option<Era>,
    pub error_style: ErrorStyle,
    /// The compiled request checks.
    pub contract: Contract,
    /// Response checks (`check`, `--validate-responses`).
    pub response_checks: ResponseChecks,
    /// Per operation, per scenario (same order as the scenario set): what
    /// the request path keeps about each scenario.
    pub runtime: Vec<Vec<ScenarioRuntime>>,
    /// See [`Settings::validate_responses`].
    pub validate_responses: bool,
}

impl Snapshot {
    /// Loads every API of `sources`; every problem of every API is reported.
    pub fn load(
        sources: &Sources,
        settings: &Settings,
        generation: u64,
    ) -> Result<Snapshot, LoadErrors> {
        let started = Instant::now();
        let mut apis = Vec::with_capacity(sources.apis.len());
        let mut errors = Vec::new();
        for source in &sources.apis {
            match Api::load(source, settings) {
                Ok(api) => apis.push(api),
                Err(LoadErrors(mut api_errors)) => errors.append(&mut api_errors),
            }
        }
        errors.extend(overlapping_base_paths(&apis));
        if sources.apis.is_empty() {
            errors.push(LoadError::new("sources", None, "no API to mount"));
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        let snapshot = Snapshot {
            generation,
            loaded_at: Utc::now(),
            apis,
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        crate::memory::release_free_memory();
        Ok(snapshot)
    }

    /// The API that serves `path`: the one with the longest base path that
    /// is a whole-segment prefix of it; else the first, whose answer (a 404
    /// naming its nearest path) is the most helpful there is.
    pub fn api_for(&self, path: &str) -> &Api {
        let serves = |api: &&Api| {
            let base = api.base_path.trim_end_matches('/');
            base.is_empty()
                || path
                    .strip_prefix(base)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        self.apis
            .iter()
            .filter(serves)
            .max_by_key(|api| api.base_path.len())
            .or_else(|| self.apis.first())
            .expect("Snapshot::load refuses to mount no API")
    }

    /// The API named `name`.
    pub fn api(&self, name: &str) -> Option<&Api> {
        self.apis.iter().find(|api| api.name == name)
    }

    /// The seeds of every API's scenario pack.
    pub fn seeds(&self) -> impl Iterator<Item = &Seed> {
        self.apis.iter().flat_map(|api| api.scenarios.seeds())
    }

    /// Operations, scenarios and template files over every API.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.apis.iter().fold((0, 0, 0), |(o, s, t), api| {
            (
                o + api.model.operations.len(),
                s + api.scenarios.count(),
                t + api.templates.file_count(),
            )
        })
    }
}

/// Two mounted APIs whose base paths overlap would fight over requests.
fn overlapping_base_paths(apis: &[Api]) -> Vec<LoadError> {
    let mut errors = Vec::new();
    for (index, api) in apis.iter().enumerate() {
        for other in &apis[..index] {
            if api.base_path.trim_end_matches('/') == other.base_path.trim_end_matches('/') {
                errors.push(LoadError::new(
                    &api.model.source,
                    None,
                    format!(
                        "API `{}` is mounted at `{}`, which API `{}` ({}) already serves",
                        api.name, api.base_path, other.name, other.model.source
                    ),
                ));
            }
        }
    }
    errors
}

impl Api {
    /// Loads one API: spec, templates and scenarios; every problem is reported.
    pub fn load(source: &ApiSource, settings: &Settings) -> Result<Api, LoadErrors> {
        let model = match &source.spec {
            Some(path) => spec::load_file(path)?,
            None => spec::load_str(EMBEDDED_SPEC, EMBEDDED_SPEC_LABEL)?,
        };
        let mut errors: Vec<LoadError> = Vec::new();
        let routes = RouteTable::build(&model).unwrap_or_else(|mut route_errors| {
            errors.append(&mut route_errors);
            RouteTable::default()
        });
        let mut templates = match &source.templates {
            Some(pack) => Templates::load(pack).unwrap_or_else(|mut template_errors| {
                errors.append(&mut template_errors);
                Templates::new()
            }),
            None => Templates::new(),
        };
        let scenarios = match &source.scenarios {
            Some(pack) => scenario::load(pack, &model, &mut templates).unwrap_or_else(
                |mut scenario_errors| {
                    errors.append(&mut scenario_errors);
                    ScenarioSet::default()
                },
            ),
            None => ScenarioSet::default(),
        };
        let templates_label = source
            .templates
            .as_ref()
            .map_or_else(|| "templates".to_string(), PackDir::label);
        errors.extend(templates.missing_partials(&templates_label));
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        templates.prepare_for_requests();
        let era = settings
            .era_override
            .or_else(|| Era::detect(model.media_types()));
        // Errors follow the profile: OperationOutcomes for GP Connect,
        // problem+json otherwise.
        let contract = Contract::compile(&model, &settings.contract, era);
        let error_style = contract.error_style();
        let operation_headers: Vec<HeaderValue> = model
            .operations
            .iter()
            .map(|op| {
                HeaderValue::from_str(&op.key).unwrap_or(HeaderValue::from_static("unprintable"))
            })
            .collect();
        let fallbacks = model
            .operations
            .iter()
            .map(|op| {
                let (answer, source) = spec_fallback(&model, op);
                (versions::stamp_answer(answer, era.is_some()), source)
            })
            .collect();
        let response_checks = ResponseChecks::new(&model);
        let runtime = (0..model.operations.len())
            .map(|index| {
                scenarios
                    .for_operation(index)
                    .iter()
                    .map(|scenario| ScenarioRuntime::new(scenario, &templates))
                    .collect()
            })
            .collect();
        Ok(Api {
            name: source.name.clone(),
            base_path: mount_path(&model),
            model,
            routes,
            scenarios,
            templates,
            fallbacks,
            operation_headers,
            era,
            error_style,
            contract,
            response_checks,
            runtime,
            validate_responses: settings.validate_responses,
        })
    }

    /// The runtime record of `scenario`, one of operation `operation`'s.
    pub fn runtime(&self, operation: usize, scenario: &Scenario) -> Option<&ScenarioRuntime> {
        let scenarios = self.scenarios.for_operation(operation);
        let position = scenarios.iter().position(|s| std::ptr::eq(s, scenario))?;
        self.runtime.get(operation)?.get(position)
    }
}

/// Where an API is mounted: the definition's base path (`basePath`, or the
/// first server's path); when that is `/`, the segments every operation's
/// path starts with (the DSTU2 definition writes `/fhir` into each path).
fn mount_path(model: &ApiModel) -> String {
    if !model.prefix.trim_end_matches('/').is_empty() {
        return model.prefix.trim_end_matches('/').to_string();
    }
    let mut paths = model.operations.iter().map(|op| op.full_path.as_str());
    let Some(first) = paths.next() else {
        return String::new();
    };
    // Only whole literal segments, never the last one (it names the
    // resource or operation), never a parameter.
    let mut common: Vec<&str> = first.split('/').skip(1).collect();
    common.pop();
    for path in paths {
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let shared = common
            .iter()
            .zip(&segments[..segments.len().saturating_sub(1)])
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(shared);
    }
    let literal = common.iter().take_while(|s| !s.contains('{')).count();
    common.truncate(literal);
    if common.is_empty() {
        String::new()
    } else {
        format!("/{}", common.join("/"))
    }
}

/// What the request path keeps about one scenario of a snapshot.
#[derive(Debug)]
pub struct ScenarioRuntime {
    /// Cache: its answer, rendered on first use, when it is the same for
    /// every request. It pays: serving the default metadata answer from it
    /// takes 79 ns against 589 ns to render it (`cargo bench --bench
    /// pipeline -- fast_paths`, `static_answer/*`).
    pub static_answer: Option<OnceLock<Answer>>,
    /// Cache: that static answer's body written as FHIR XML, on first use.
    /// Converting the metadata answer per request halved the XML
    /// requests/s against JSON (`benches/load.sh`, `xmlmetadata`).
    pub static_xml: Option<OnceLock<Bytes>>,
    /// Any other answer's last FHIR XML, patched for the next one when
    /// only plain string values changed (see `fhir_xml::memo`).
    pub xml_memo: crate::fhir_xml::memo::Memo,
    /// The parts of the request its templates read.
    pub needs: ContextNeeds,
    /// Its name as `X-Mock-Scenario`, built once (`None`: not valid in HTTP).
    pub name_header: Option<HeaderValue>,
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
                        HeaderSource::Template(name) => Some(name.as_str()),
                        HeaderSource::Fixed(_) => None,
                    }),
            )
            .collect();
        let is_static = !scenario.is_stateful()
            && names
                .iter()
                .all(|name| templates.is_request_independent(name));
        Self {
            static_answer: is_static.then(OnceLock::new),
            static_xml: is_static.then(OnceLock::new),
            xml_memo: Default::default(),
            needs: if scenario.is_stateful() {
                ContextNeeds::ALL
            } else {
                ContextNeeds::of(&names, templates)
            },
            name_header: HeaderValue::from_str(&scenario.name).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline;
    use crate::request::{MockRequest, RequestIds};
    use crate::state::StateStore;

    fn fixture(name: &str) -> ApiSource {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        ApiSource {
            name: name.to_string(),
            spec: Some(root.join("tests/fixtures/specs").join(name)),
            scenarios: None,
            templates: None,
        }
    }

    /// A second API is configuration: one more entry in `Sources`.
    #[test]
    fn several_apis_are_served_each_under_its_base_path() {
        let mut sources = Sources::default_pack();
        sources.apis.push(fixture("clinic-openapi3.yaml"));
        sources.apis.push(fixture("clinic-swagger2.json"));
        let snapshot = Snapshot::load(&sources, &Settings::default(), 1).expect("loads");
        assert_eq!(snapshot.apis.len(), 3);
        assert_eq!(
            snapshot.apis[0].base_path, "/fhir",
            "from the operations' paths"
        );
        assert_eq!(snapshot.apis[1].base_path, "/api/v1", "from the server URL");
        assert_eq!(snapshot.apis[2].base_path, "/api/v2", "from basePath");
        assert_eq!(snapshot.api_for("/fhir/metadata").name, "gpconnect-dstu2");
        assert_eq!(
            snapshot.api_for("/api/v1/pets").name,
            "clinic-openapi3.yaml"
        );
        assert_eq!(
            snapshot.api_for("/api/v2/pets").name,
            "clinic-swagger2.json"
        );
        // A prefix must end at a segment boundary.
        assert_eq!(snapshot.api_for("/api/v10/pets").name, "gpconnect-dstu2");
        let (operations, _, _) = snapshot.counts();
        assert!(operations > snapshot.apis[0].model.operations.len());

        let store = StateStore::default();
        let ids = RequestIds::default();
        let served = pipeline::serve(
            &snapshot,
            &store,
            &MockRequest::new(
                http::Method::GET,
                "/api/v2/reports/weekly.json",
                http::HeaderMap::new(),
                bytes::Bytes::new(),
            ),
            &ids,
        );
        assert_eq!(served.api.name, "clinic-swagger2.json");
        assert!(served.operation.is_some(), "{:?}", served.answer);
    }

    #[test]
    fn overlapping_base_paths_are_a_load_error_naming_both() {
        let mut sources = Sources::default_pack();
        let mut again = fixture("clinic-openapi3.yaml");
        sources.apis.push(again.clone());
        again.name = "second".into();
        sources.apis.push(again);
        let errors = Snapshot::load(&sources, &Settings::default(), 1)
            .expect_err("two APIs at /api/v1")
            .to_string();
        assert!(
            errors.contains("`second`") && errors.contains("`clinic-openapi3.yaml`"),
            "{errors}"
        );
    }
}

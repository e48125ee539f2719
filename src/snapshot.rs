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

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::HeaderValue;

use crate::answer::{spec_fallback, Answer, ContextNeeds, SpecSource};
use crate::contract::{Contract, ContractSettings};
use crate::error::{LoadError, LoadErrors};
use crate::fhir::{Era, ErrorStyle};
use crate::pack::PackDir;
use crate::repeat::RepeatCache;
use crate::response_check::ResponseChecks;
use crate::routes::RouteTable;
use crate::scenario::{self, Scenario, ScenarioSet};
use crate::spec::ApiModel;
use crate::state::Stores;
use crate::template::Templates;
use crate::versions;

mod sources;
pub use sources::{ApiSource, Definition, Origin, Sources, EMBEDDED_SPEC, EMBEDDED_SPEC_LABEL};

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
    /// `--sds-apikey`: the `apikey` the directory's API requires (none:
    /// any non-empty one).
    pub sds_apikey: Option<String>,
}

/// Everything loaded, ready to answer requests.
#[derive(Debug)]
pub struct Snapshot {
    /// Goes up by one on each successful load.
    pub generation: u64,
    pub loaded_at: DateTime<Utc>,
    /// The mounted APIs, in the order of [`Sources::apis`]. Shared with the
    /// next snapshot when a reload of an API fails: it keeps serving as it
    /// was (see [`Snapshot::reload`]).
    pub apis: Vec<Arc<Api>>,
    /// How long the load took, in milliseconds.
    pub load_ms: f64,
    /// The Spine's directory of the mounted APIs, and the proxy's consumers.
    pub spine: crate::spine::Spine,
}

/// One mounted API: a definition and its pack, served under its base path.
#[derive(Debug)]
pub struct Api {
    pub name: String,
    /// The generation this API's files were loaded in (older than the
    /// snapshot's while a reload of its files fails).
    pub generation: u64,
    /// The name as the journal keeps it (shared by every entry, not copied).
    pub name_header: HeaderValue,
    /// The path prefix its routes live under (the mount entry's
    /// `base_path`, else the definition's `basePath` or server path; "" for
    /// none).
    pub base_path: String,
    /// The practice's ODS code, from the mount entry (informational).
    pub ods_code: Option<String>,
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
    /// Per operation, the parts of the request its scenarios' templates
    /// read: what the context of a stateful one, built before selection,
    /// holds.
    pub context_needs: Vec<ContextNeeds>,
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
        Snapshot::reload(sources, settings, generation, None).map(|reloaded| reloaded.snapshot)
    }

    /// Loads every API of `sources` again. An API whose files do not load
    /// keeps serving as `previous` had it, and is named in
    /// [`Reloaded::failed`]: a broken edit of one API's pack degrades that
    /// API only. Errors (nothing to install) when an API fails that
    /// `previous` does not have, when every API fails, or when the base
    /// paths overlap.
    pub fn reload(
        sources: &Sources,
        settings: &Settings,
        generation: u64,
        previous: Option<&Snapshot>,
    ) -> Result<Reloaded, LoadErrors> {
        let started = Instant::now();
        let mut apis = Vec::with_capacity(sources.apis.len());
        let mut errors = Vec::new();
        let mut failed = Vec::new();
        // The APIs are independent: each loads on its own thread, which
        // halves startup on two cores with the default three APIs.
        let loaded: Vec<Result<Api, LoadErrors>> = std::thread::scope(|scope| {
            let handles: Vec<_> = sources
                .apis
                .iter()
                .map(|source| scope.spawn(move || Api::load(source, settings)))
                .collect();
            handles
                .into_iter()
                .zip(&sources.apis)
                .map(|(handle, source)| {
                    handle.join().unwrap_or_else(|_| {
                        Err(LoadErrors(vec![LoadError::new(
                            source.spec_label(),
                            None,
                            "loading this API panicked (a defect: please report it)",
                        )]))
                    })
                })
                .collect()
        });
        for (source, result) in sources.apis.iter().zip(loaded) {
            match result {
                Ok(mut api) => {
                    api.generation = generation;
                    apis.push(Arc::new(api));
                }
                Err(api_errors) => match previous.and_then(|p| p.api_arc(&source.name)) {
                    Some(kept) => {
                        errors.extend(api_errors.0.iter().cloned());
                        failed.push(ApiFailure {
                            api: source.name.clone(),
                            serving_generation: kept.generation,
                            errors: api_errors,
                        });
                        apis.push(kept);
                    }
                    None => {
                        errors.extend(api_errors.0);
                        failed.push(ApiFailure {
                            api: source.name.clone(),
                            serving_generation: 0,
                            errors: LoadErrors(Vec::new()),
                        });
                    }
                },
            }
        }
        let overlapping = overlapping_base_paths(&apis);
        let unrecoverable = failed.iter().any(|failure| failure.errors.0.is_empty())
            || failed.len() == sources.apis.len();
        if !overlapping.is_empty() || unrecoverable || sources.apis.is_empty() {
            errors.extend(overlapping);
            if sources.apis.is_empty() {
                errors.push(LoadError::new("sources", None, "no API to mount"));
            }
            return Err(LoadErrors(errors));
        }
        let spine = crate::spine::Spine::build(
            &sources.spine,
            apis.iter().map(|api| &**api),
            |name| {
                sources
                    .apis
                    .iter()
                    .find(|source| source.name == name)
                    .and_then(|source| source.endpoint.clone())
            },
            settings.sds_apikey.clone(),
        );
        let snapshot = Snapshot {
            generation,
            loaded_at: Utc::now(),
            spine,
            apis,
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        crate::memory::release_free_memory();
        Ok(Reloaded { snapshot, failed })
    }

    fn api_arc(&self, name: &str) -> Option<Arc<Api>> {
        self.apis.iter().find(|api| api.name == name).cloned()
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
            .map(|api| &**api)
            .filter(serves)
            .max_by_key(|api| api.base_path.len())
            .or_else(|| self.apis.first().map(|api| &**api))
            .expect("Snapshot::load refuses to mount no API")
    }

    /// The API named `name`.
    pub fn api(&self, name: &str) -> Option<&Api> {
        self.apis
            .iter()
            .map(|api| &**api)
            .find(|api| api.name == name)
    }

    /// A booking state per API, at its pack's seeds (`check` and the
    /// Postman export answer from one of their own).
    pub fn fresh_stores(&self) -> Stores {
        let stores = Stores::new(self.apis.iter().map(|api| api.name.clone()));
        self.reset_stores(&stores);
        stores
    }

    /// Seeds each API's collections that do not exist yet (a reload keeps
    /// what requests changed).
    pub fn seed_stores(&self, stores: &Stores) {
        for api in &self.apis {
            stores.of(&api.name).seed_missing(api.scenarios.seeds());
        }
    }

    /// Puts each API's state back to its seeds.
    pub fn reset_stores(&self, stores: &Stores) {
        for api in &self.apis {
            stores.of(&api.name).reset(api.scenarios.seeds());
        }
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

/// What a reload built: the snapshot to put in force, and the APIs that
/// did not load and are served as before.
#[derive(Debug)]
pub struct Reloaded {
    pub snapshot: Snapshot,
    pub failed: Vec<ApiFailure>,
}

/// An API whose files did not load on a reload.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub api: String,
    /// The generation its files were last loaded in, still serving.
    pub serving_generation: u64,
    pub errors: LoadErrors,
}

/// Two mounted APIs whose base paths overlap would fight over requests.
fn overlapping_base_paths(apis: &[Arc<Api>]) -> Vec<LoadError> {
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
        // The definition and the templates do not depend on each other:
        // the templates compile on a second thread meanwhile (Handlebars'
        // parser is the largest part of a pack's load).
        let (model, templates) = std::thread::scope(|scope| {
            let templates = scope.spawn(|| match &source.templates {
                Some(pack) => Templates::load(pack),
                None => Ok(Templates::new()),
            });
            let model = source.load_model();
            let templates = templates.join().unwrap_or_else(|_| {
                Err(vec![LoadError::new(
                    source
                        .templates
                        .as_ref()
                        .map_or_else(String::new, PackDir::label),
                    None,
                    "loading these templates panicked (a defect: please report it)",
                )])
            });
            (model, templates)
        });
        let (model, base_path) = model?;
        let mut errors: Vec<LoadError> = Vec::new();
        let routes = RouteTable::build(&model).unwrap_or_else(|mut route_errors| {
            errors.append(&mut route_errors);
            RouteTable::default()
        });
        let mut templates = templates.unwrap_or_else(|mut template_errors| {
            errors.append(&mut template_errors);
            Templates::new()
        });
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
        // The mount entry's era and ASID, over the command line's.
        let era = source
            .era
            .or(settings.era_override)
            .or_else(|| Era::detect(model.media_types()));
        let contract_settings = ContractSettings {
            asid: source
                .asid
                .clone()
                .or_else(|| settings.contract.asid.clone()),
            ..settings.contract.clone()
        };
        // Errors follow the profile: OperationOutcomes for GP Connect,
        // problem+json otherwise.
        let contract = Contract::compile(&model, &contract_settings, era);
        let error_style = contract.error_style();
        let operation_headers: Vec<HeaderValue> = model
            .operations
            .iter()
            .map(|op| {
                crate::kept::header_value(&op.key)
                    .unwrap_or(HeaderValue::from_static("unprintable"))
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
        let runtime: Vec<Vec<ScenarioRuntime>> = (0..model.operations.len())
            .map(|index| {
                scenarios
                    .for_operation(index)
                    .iter()
                    .map(|scenario| ScenarioRuntime::new(scenario, &templates))
                    .collect()
            })
            .collect();
        // A stateful operation renders every scenario's templates from the
        // context built before selection, its stateless scenarios' too.
        let context_needs = runtime
            .iter()
            .map(|runtimes| {
                runtimes
                    .iter()
                    .fold(ContextNeeds::NONE, |needs, runtime| needs.or(runtime.needs))
            })
            .collect();
        Ok(Api {
            name: source.name.clone(),
            generation: 0,
            name_header: crate::kept::header_value(&source.name)
                .unwrap_or(HeaderValue::from_static("unprintable")),
            base_path,
            ods_code: source.ods_code.clone(),
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
            context_needs,
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
pub(crate) fn mount_path(model: &ApiModel) -> String {
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
    /// Cache: its last answers, when its templates read only the request's
    /// path, query, body and named headers, the state and the clock (see
    /// [`crate::repeat`]).
    pub repeat: Option<RepeatCache>,
    /// Any other answer's last FHIR XML, patched for the next one when
    /// only plain string values changed (see `fhir_xml::memo`).
    pub xml_memo: crate::fhir_xml::memo::Memo,
    /// The parts of the request its templates read (a stateful one's: its
    /// answer's, conditions' and actions').
    pub needs: ContextNeeds,
    /// Its name as `X-Mock-Scenario`, built once (`None`: not valid in HTTP).
    pub name_header: Option<HeaderValue>,
}

impl ScenarioRuntime {
    fn new(scenario: &Scenario, templates: &Templates) -> Self {
        let names: Vec<&str> = scenario.answer_templates().collect();
        let is_static = !scenario.is_stateful()
            && names
                .iter()
                .all(|name| templates.is_request_independent(name));
        Self {
            static_answer: is_static.then(OnceLock::new),
            static_xml: is_static.then(OnceLock::new),
            repeat: (!is_static && !scenario.writes_state() && !names.is_empty())
                .then(|| {
                    let mut headers = Vec::new();
                    for name in &names {
                        headers.extend(templates.repeat_headers(name)?);
                    }
                    Some(RepeatCache::keyed_by(headers))
                })
                .flatten(),
            xml_memo: Default::default(),
            needs: if scenario.is_stateful() {
                let all: Vec<&str> = scenario.templates().collect();
                ContextNeeds::of(&all, templates)
            } else {
                ContextNeeds::of(&names, templates)
            },
            name_header: crate::kept::header_value(&scenario.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline;
    use crate::request::{MockRequest, RequestIds};

    fn fixture(name: &str) -> ApiSource {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        ApiSource {
            name: name.to_string(),
            spec: crate::snapshot::Definition::Disk(root.join("tests/fixtures/specs").join(name)),
            ..ApiSource::default()
        }
    }

    /// A second API is configuration: one more entry in `Sources`.
    /// The 1.x reads, slot search, structured record and document searches
    /// only read state: their answers are kept per request, state and
    /// second (the load benchmark's cases).
    #[test]
    fn state_reading_scenarios_keep_their_answers() {
        let snapshot =
            Snapshot::load(&Sources::default_pack(), &Settings::default(), 1).expect("loads");
        // The structured record and the documents searches write the
        // request's trace id out whole (the Bundle's id): kept too.
        for (api, key, name) in [
            ("gpconnect-foundations", "Slot_Search", "free-slots"),
            ("gpconnect-foundations", "Patient_Read", "patient-found"),
            (
                "gpconnect-structured",
                "Patient_GetStructuredRecord",
                "record-found",
            ),
            ("gpconnect-documents", "Patient_Search", "patient-search"),
            (
                "gpconnect-documents",
                "DocumentReference_Search",
                "documents-found",
            ),
        ] {
            let api = snapshot.api(api).expect("a default API");
            let index = api.model.operation_index(key).expect("operation");
            let scenario = api
                .scenarios
                .for_operation(index)
                .iter()
                .find(|s| s.name == name)
                .expect("scenario");
            let runtime = api.runtime(index, scenario).expect("runtime");

            assert!(runtime.repeat.is_some(), "{key} / {name}");
        }
    }

    /// A stateful operation's context holds what any of its scenarios'
    /// templates read, and no more.
    #[test]
    fn stateful_contexts_hold_what_their_templates_read() {
        let snapshot =
            Snapshot::load(&Sources::default_pack(), &Settings::default(), 1).expect("loads");
        let needs = |api: &str, key: &str| {
            let api = snapshot.api(api).expect("a default API");
            let index = api.model.operation_index(key).expect("operation");
            assert!(api.scenarios.is_stateful(index), "{key}");
            api.context_needs[index]
        };
        let read = needs("gpconnect-foundations", "Patient_Read");
        assert!(!read.headers && !read.body && !read.body_text, "{read:?}");
        // Its stateless scenario reads the query: the context holds it.
        assert!(needs("gpconnect-documents", "Patient_Search").query);
        let record = needs("gpconnect-structured", "Patient_GetStructuredRecord");
        assert!(record.body, "{record:?}");
    }

    #[test]
    fn several_apis_are_served_each_under_its_base_path() {
        let mut sources = Sources::default_pack();
        // The default pack's APIs (DSTU2 first), then the two clinics.
        let clinics = sources.apis.len();
        sources.apis.push(fixture("clinic-openapi3.yaml"));
        sources.apis.push(fixture("clinic-swagger2.json"));
        let snapshot = Snapshot::load(&sources, &Settings::default(), 1).expect("loads");
        assert_eq!(snapshot.apis.len(), clinics + 2);
        assert_eq!(
            snapshot.apis[0].base_path, "/fhir",
            "from the operations' paths"
        );
        assert_eq!(
            snapshot.apis[clinics].base_path, "/api/v1",
            "from the server URL"
        );
        assert_eq!(
            snapshot.apis[clinics + 1].base_path,
            "/api/v2",
            "from basePath"
        );
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

        let stores = crate::state::Stores::default();
        let ids = RequestIds::default();
        let served = pipeline::serve(
            &snapshot,
            &stores,
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

    /// A mount entry's base path, era and ASID win over the definition and
    /// the command line.
    #[test]
    fn a_mount_entry_overrides_base_path_era_and_asid() {
        let mut sources = Sources::default_pack();
        let mut moved = fixture("clinic-openapi3.yaml");
        moved.base_path = Some("/clinic".into());
        moved.era = Some(Era::Stu3);
        moved.asid = Some("918999198738".into());
        sources.apis.push(moved);
        let settings = Settings {
            contract: ContractSettings {
                asid: Some("111".into()),
                ..ContractSettings::default()
            },
            ..Settings::default()
        };
        let snapshot = Snapshot::load(&sources, &settings, 1).expect("loads");
        let clinic = snapshot.apis.last().expect("the clinic");
        assert_eq!(clinic.base_path, "/clinic");
        assert_eq!(clinic.era, Some(Era::Stu3));
        assert_eq!(clinic.contract.asid(), "918999198738");
        assert_eq!(
            snapshot.apis[0].contract.asid(),
            "111",
            "the flag, as default"
        );
        assert!(clinic
            .model
            .operations
            .iter()
            .all(|op| op.full_path.starts_with("/clinic/")));
        assert_eq!(
            snapshot.api_for("/clinic/health").name,
            "clinic-openapi3.yaml"
        );
        assert!(matches!(
            clinic.routes.lookup(&http::Method::GET, "/clinic/health"),
            crate::routes::Lookup::Found { .. }
        ));
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

//! The in-process request path, per case: `pipeline::serve` (route →
//! check → decide → render → finish) on the default snapshot, in time per
//! request.
//! No HTTP server, no sockets: this is the part of a request that is ours.
//!
//! `cargo bench --bench pipeline` (add a filter, e.g. `-- carerecord`, for
//! one case). The cases are those of `benches/load.sh`, with the same valid
//! GP Connect headers and unsigned JWT (DSTU2's, or the 1.x one for the
//! `stu3` cases).
//!
//! The group `fast_paths` times each hand-written fast path of the request
//! path against the general code it stands in for, on the same input, so
//! each can show that it pays (the figures are quoted in the module docs):
//!
//! - `flat`: the care record rendered straight from the request
//!   (`template::flat`) vs. by Handlebars from a template context;
//! - `body_path`: the default pack's body conditions walked directly
//!   (`scenario::body_path`) vs. evaluated by `serde_json_path`;
//! - `static_answer`: the metadata answer served from its once-per-snapshot
//!   render vs. rendered per request.

use std::borrow::Cow;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use gpconnect_mock::answer::{self, template_context, ContextNeeds, RenderSource};
use gpconnect_mock::fhir::Era;
use gpconnect_mock::pipeline::serve;
use gpconnect_mock::request::MockRequest;
use gpconnect_mock::request::RequestIds;
use gpconnect_mock::sample::{jwt_claims, unsigned_jwt, JwtRequest};
use gpconnect_mock::scenario::body_path::BodyPath;
use gpconnect_mock::snapshot::{Settings, Snapshot, Sources};
use gpconnect_mock::state::{StateData, Stores};
use gpconnect_mock::template::{FlatValues, Templates};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

const NHS_NUMBER: &str = "9658218873";
const URN: &str = "urn:nhs:names:services:gpconnect:fhir:";

/// One request of the benchmark, kept in parts: every iteration gets a
/// fresh `MockRequest`, so nothing it caches (the parsed body) carries over.
struct Case {
    name: &'static str,
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Case {
    /// A request of the given era: the 1.x ones carry the 1.x JWT, the
    /// 1.x provider's ASID and STU3's media type.
    fn new(
        era: Era,
        name: &'static str,
        method: Method,
        path_and_query: &str,
        record_kind: &str,
        interaction: &str,
        body: Option<&str>,
    ) -> Self {
        let (asid, media) = match era {
            Era::Dstu2 => ("918999198993", "application/json+fhir"),
            Era::Stu3 => ("918999198738", "application/fhir+json"),
        };
        let claims = jwt_claims(&JwtRequest {
            era,
            record_kind,
            write: false,
            nhs_number: NHS_NUMBER,
            ods_code: "A20047",
            now: chrono::Utc::now().timestamp(),
        });
        let mut pairs = vec![
            ("host", "127.0.0.1:18080".to_string()),
            (
                "ssp-traceid",
                "3f2504e0-4f89-41d3-9a0c-0305e82c3301".to_string(),
            ),
            ("ssp-from", "200000000359".to_string()),
            ("ssp-to", asid.to_string()),
            ("ssp-interactionid", format!("{URN}{interaction}")),
            ("authorization", format!("Bearer {}", unsigned_jwt(&claims))),
            ("accept", media.to_string()),
        ];
        if let Some(body) = body {
            pairs.push(("content-type", media.to_string()));
            pairs.push(("content-length", body.len().to_string()));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(&value).expect("header value"),
            );
        }
        Case {
            name,
            method,
            path_and_query: path_and_query.to_string(),
            headers,
            body: Bytes::from(body.unwrap_or_default().to_string()),
        }
    }

    fn request(&self) -> MockRequest {
        MockRequest::new(
            self.method.clone(),
            &self.path_and_query,
            self.headers.clone(),
            self.body.clone(),
        )
    }
}

fn cases() -> Vec<Case> {
    let today = chrono::Utc::now().date_naive();
    let care_record = format!(
        r#"{{"resourceType":"Parameters","parameter":[{{"name":"patientNHSNumber","valueIdentifier":{{"system":"http://fhir.nhs.net/Id/nhs-number","value":"{NHS_NUMBER}"}}}},{{"name":"recordSection","valueCodeableConcept":{{"coding":[{{"system":"http://fhir.nhs.net/ValueSet/gpconnect-record-section-1","code":"SUM"}}]}}}}]}}"#
    );
    vec![
        Case::new(
            Era::Dstu2,
            "metadata",
            Method::GET,
            "/fhir/metadata",
            "organization",
            "rest:read:metadata",
            None,
        ),
        Case::new(
            Era::Dstu2,
            "read",
            Method::GET,
            "/fhir/Patient/2",
            "patient",
            "rest:read:patient",
            None,
        ),
        Case::new(
            Era::Dstu2,
            "search",
            Method::GET,
            &format!("/fhir/Patient?identifier=http://fhir.nhs.net/Id/nhs-number%7C{NHS_NUMBER}"),
            "patient",
            "rest:search:patient",
            None,
        ),
        Case::new(
            Era::Dstu2,
            "carerecord",
            Method::POST,
            "/fhir/Patient/$gpc.getcarerecord",
            "patient",
            "operation:gpc.getcarerecord",
            Some(&care_record),
        ),
        Case::new(
            Era::Stu3,
            "stu3read",
            Method::GET,
            "/B82617/STU3/1/gpconnect/fhir/Patient/2",
            "patient",
            "rest:read:patient-1",
            None,
        ),
        Case::new(
            Era::Stu3,
            "stu3slots",
            Method::GET,
            &format!(
                "/B82617/STU3/1/gpconnect/fhir/Slot?start=ge{from}&end=le{to}&status=free&_include=Slot:schedule",
                from = today.format("%Y-%m-%d"),
                to = (today + chrono::Days::new(7)).format("%Y-%m-%d"),
            ),
            "organization",
            "rest:search:slot-1",
            None,
        ),
    ]
}

fn pipeline(c: &mut Criterion) {
    let sources = Sources::default_pack();
    let snapshot =
        Snapshot::load(&sources, &Settings::default(), 1).expect("the default pack loads");
    let ids = RequestIds::default();
    let store = seeded_store(&snapshot);
    let mut group = c.benchmark_group("pipeline");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    for case in cases() {
        // A benchmark of an error answer would mislead: insist on the 200.
        let answer = serve(&snapshot, &store, &case.request(), &ids).answer;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{} {} must answer 200, answered {}: {}",
            case.method,
            case.path_and_query,
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        // The request and its answer are dropped inside the timed part, as
        // the server drops them: keeping a batch of answers alive until
        // the end would time page faults the server never takes.
        group.bench_function(case.name, |b| {
            b.iter_batched(
                || case.request(),
                |request| {
                    serve(black_box(&snapshot), &store, black_box(&request), &ids)
                        .answer
                        .status
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// Each API's state at the pack's seeds, as the server starts with (the
/// care record's entries are seeded data).
fn seeded_store(snapshot: &Snapshot) -> Stores {
    snapshot.fresh_stores()
}

/// What a flat template reads, taken from the request as the server does.
struct Values<'a> {
    request: &'a MockRequest,
}

impl FlatValues for Values<'_> {
    fn text(&self, path: &[String]) -> Option<Cow<'_, str>> {
        match path {
            [root, key] if root == "request" && key == "id" => Some(Cow::Borrowed("1001")),
            [root, key] if root == "request" && key == "method" => {
                Some(Cow::Borrowed(self.request.method.as_str()))
            }
            [root, key] if root == "request" && key == "path" => {
                Some(Cow::Borrowed(&self.request.path))
            }
            [root, key, name] if root == "request" && key == "query" => {
                self.request.query_value(name).map(Cow::Borrowed)
            }
            [root, key, name] if root == "request" && key == "headers" => {
                self.request.header(name).map(Cow::Borrowed)
            }
            _ => None,
        }
    }
}

fn fast_paths(c: &mut Criterion) {
    let sources = Sources::default_pack();
    let snapshot =
        Snapshot::load(&sources, &Settings::default(), 1).expect("the default pack loads");
    let api = &snapshot.apis[0];
    let cases = cases();
    let state = Arc::new(StateData::default());
    let mut group = c.benchmark_group("fast_paths");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);

    // Flat templates: the care record, the largest answer of the pack, as
    // a flat template of its own (the pack renders it from seeded data,
    // through Handlebars): its answer with the Composition's id and date
    // read from the request and the clock.
    let care_record = cases.iter().find(|c| c.name == "carerecord").expect("case");
    let request = care_record.request();
    let answer = serve(
        &snapshot,
        &seeded_store(&snapshot),
        &request,
        &RequestIds::default(),
    )
    .answer;
    let text = String::from_utf8(answer.body.to_vec()).expect("the answer is text");
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("the answer is JSON");
    let composition = &parsed["entry"][0]["resource"];
    let text = text
        .replacen(
            &format!("\"{}\"", composition["id"].as_str().expect("an id")),
            "\"{{request.id}}\"",
            2,
        )
        .replacen(
            &format!("\"{}\"", composition["date"].as_str().expect("a date")),
            "\"{{now}}\"",
            1,
        );
    let mut flat_templates = Templates::empty();
    flat_templates
        .register("care-record", &text, "bench", 1)
        .expect("the answer is a template");
    flat_templates.prepare_for_requests();
    let template = "care-record";
    assert!(flat_templates.is_flat(template), "the care record is flat");
    let index = api
        .model
        .operations
        .iter()
        .position(|op| op.key == "PatientOperation_GetCareRecord")
        .expect("the care record operation");
    let operation = &api.model.operations[index];
    let values = Values { request: &request };
    let flat = flat_templates
        .render_flat(template, &values)
        .expect("renders flat");
    let context = template_context(
        &request,
        &[],
        request.fresh(1001),
        None,
        operation,
        ContextNeeds::ALL,
    );
    let general = flat_templates
        .render(template, &context, &state)
        .expect("renders");
    assert_eq!(flat.len(), general.len(), "both ways give the same answer");
    group.bench_function("flat/flat", |b| {
        b.iter(|| flat_templates.render_flat(black_box(template), &values))
    });
    group.bench_function("flat/handlebars", |b| {
        b.iter(|| {
            let needs = ContextNeeds::ALL;
            let context =
                template_context(&request, &[], request.fresh(1001), None, operation, needs);
            flat_templates.render(black_box(template), &context, &state)
        })
    });

    // Body paths: every distinct body expression of the pack, on the care
    // record request's body, walked vs. evaluated by serde_json_path.
    let body: serde_json::Value =
        serde_json::from_slice(&care_record.body).expect("the case's body is JSON");
    let mut paths: Vec<&BodyPath> = Vec::new();
    for index in 0..api.model.operations.len() {
        for scenario in api.scenarios.for_operation(index) {
            for condition in &scenario.when.body {
                if condition.path.is_walked()
                    && !paths.iter().any(|p| std::ptr::eq(*p, &condition.path))
                {
                    paths.push(&condition.path);
                }
            }
        }
    }
    assert!(!paths.is_empty(), "the pack has walked body paths");
    group.bench_function("body_path/walked", |b| {
        b.iter(|| {
            paths
                .iter()
                .map(|path| path.select(black_box(&body)).len())
                .sum::<usize>()
        })
    });
    group.bench_function("body_path/serde_json_path", |b| {
        b.iter(|| {
            paths
                .iter()
                .map(|path| path.json_path().query(black_box(&body)).all().len())
                .sum::<usize>()
        })
    });

    // Static answers: the metadata, served from its once-per-snapshot
    // render vs. rendered for each request.
    let metadata = cases.iter().find(|c| c.name == "metadata").expect("case");
    let index = api
        .model
        .operations
        .iter()
        .position(|op| op.path.ends_with("/metadata"))
        .expect("the metadata operation");
    let scenario = &api.scenarios.for_operation(index)[0];
    let runtime = api.runtime(index, scenario).expect("runtime");
    let cell = runtime
        .static_answer
        .as_ref()
        .expect("the metadata answer is request-independent");
    let request = metadata.request();
    let render = || {
        let source = RenderSource::Request {
            request: &request,
            path_params: &[],
            fresh: request.fresh(1001),
            needs: runtime.needs,
        };
        let operation = &api.model.operations[index];
        answer::render_scenario(
            &api.templates,
            scenario,
            operation,
            source,
            &state,
            api.error_style,
        )
    };
    group.bench_function("static_answer/cached", |b| {
        b.iter(|| cell.get_or_init(render).clone())
    });
    group.bench_function("static_answer/rendered", |b| b.iter(render));
    group.finish();
}

criterion_group!(benches, pipeline, fast_paths);
criterion_main!(benches);

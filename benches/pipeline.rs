//! The in-process request path, per case: `pipeline::serve` (route →
//! check → decide → render → finish) on the default snapshot, in time per
//! request.
//! No HTTP server, no sockets: this is the part of a request that is ours.
//!
//! `cargo bench --bench pipeline` (add a filter, e.g. `-- carerecord`, for
//! one case). The cases are those of `benches/load.sh`, with the same valid
//! GP Connect headers and unsigned DSTU2 JWT.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use gpconnect_mock::fhir::Era;
use gpconnect_mock::pipeline::serve;
use gpconnect_mock::request::MockRequest;
use gpconnect_mock::request::RequestIds;
use gpconnect_mock::sample::{jwt_claims, unsigned_jwt, JwtRequest};
use gpconnect_mock::snapshot::{Settings, Snapshot, Sources};
use gpconnect_mock::state::StateStore;
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
    fn new(
        name: &'static str,
        method: Method,
        path_and_query: &str,
        record_kind: &str,
        interaction: &str,
        body: Option<&str>,
    ) -> Self {
        let claims = jwt_claims(&JwtRequest {
            era: Era::Dstu2,
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
            ("ssp-to", "918999198993".to_string()),
            ("ssp-interactionid", format!("{URN}{interaction}")),
            ("authorization", format!("Bearer {}", unsigned_jwt(&claims))),
            ("accept", "application/json+fhir".to_string()),
        ];
        if let Some(body) = body {
            pairs.push(("content-type", "application/json+fhir".to_string()));
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
    let care_record = format!(
        r#"{{"resourceType":"Parameters","parameter":[{{"name":"patientNHSNumber","valueIdentifier":{{"system":"http://fhir.nhs.net/Id/nhs-number","value":"{NHS_NUMBER}"}}}},{{"name":"recordSection","valueCodeableConcept":{{"coding":[{{"system":"http://fhir.nhs.net/ValueSet/gpconnect-record-section-1","code":"SUM"}}]}}}}]}}"#
    );
    vec![
        Case::new(
            "metadata",
            Method::GET,
            "/fhir/metadata",
            "organization",
            "rest:read:metadata",
            None,
        ),
        Case::new(
            "read",
            Method::GET,
            "/fhir/Patient/2",
            "patient",
            "rest:read:patient",
            None,
        ),
        Case::new(
            "search",
            Method::GET,
            &format!("/fhir/Patient?identifier=http://fhir.nhs.net/Id/nhs-number%7C{NHS_NUMBER}"),
            "patient",
            "rest:search:patient",
            None,
        ),
        Case::new(
            "carerecord",
            Method::POST,
            "/fhir/Patient/$gpc.getcarerecord",
            "patient",
            "operation:gpc.getcarerecord",
            Some(&care_record),
        ),
    ]
}

fn pipeline(c: &mut Criterion) {
    let sources = Sources::resolve(None, None, None);
    let snapshot =
        Snapshot::load(&sources, &Settings::default(), 1).expect("the default pack loads");
    let ids = RequestIds::default();
    let store = StateStore::default();
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

criterion_group!(benches, pipeline);
criterion_main!(benches);

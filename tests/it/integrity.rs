//! Issue #15: booking state integrity (item 7) and bounded memory under
//! hostile requests (item 1), against the real binary.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{client, Server};
use crate::gpc::{self, Reply};

const NHS: &str = "9658218873";
const REASON_URL: &str =
    "http://fhir.nhs.net/StructureDefinition/extension-gpconnect-appointment-cancellation-reason-1";

async fn send(
    server: &Server,
    method: Method,
    path: &str,
    operation: &str,
    body: Option<Value>,
) -> Reply {
    gpc::send(server, method, path, operation, NHS, body).await
}

async fn documents(server: &Server, collection: &str) -> Vec<Value> {
    let body: Value = client()
        .get(server.url(&format!("/__admin/state/{collection}")))
        .send()
        .await
        .expect("admin state")
        .json()
        .await
        .expect("JSON");
    body["documents"].as_array().cloned().unwrap_or_default()
}

fn slot_ids(appointment: &Value) -> Vec<String> {
    appointment["slot"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["reference"].as_str())
        .map(|r| r.rsplit('/').next().unwrap_or("").to_string())
        .collect()
}

/// Booked (not cancelled) appointments holding `slot`.
async fn holders(server: &Server, slot: &str) -> Vec<String> {
    documents(server, "appointments")
        .await
        .iter()
        .filter(|a| a["status"] != "cancelled" && slot_ids(a).iter().any(|s| s == slot))
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect()
}

async fn slot_status(server: &Server, slot: &str) -> String {
    documents(server, "slots")
        .await
        .iter()
        .find(|s| s["id"] == slot)
        .and_then(|s| s["freeBusyType"].as_str())
        .unwrap_or("absent")
        .to_string()
}

/// Every slot is busy exactly when one booked appointment holds it.
async fn assert_integrity(server: &Server) {
    for slot in documents(server, "slots").await {
        let id = slot["id"].as_str().unwrap_or("").to_string();
        let held = holders(server, &id).await;
        assert!(held.len() <= 1, "Slot/{id} is held by {held:?}");
        assert_eq!(
            slot["freeBusyType"] == "busy",
            held.len() == 1,
            "Slot/{id} is {} and held by {held:?}",
            slot["freeBusyType"]
        );
    }
    assert!(
        !server.logs().contains("state integrity"),
        "the server found a broken invariant: {}",
        server.logs()
    );
}

#[tokio::test]
async fn book_amend_cancel_book_again_leaves_one_booking_per_slot() {
    let server = Server::start(&[]);
    let reset = client()
        .post(server.url("/__admin/reset"))
        .send()
        .await
        .expect("reset");
    assert!(reset.status().is_success());
    let slot = documents(&server, "slots")
        .await
        .into_iter()
        .find(|s| s["freeBusyType"] == "free")
        .expect("a free slot");
    let slot_id = slot["id"].as_str().expect("id").to_string();
    let other_free = documents(&server, "slots")
        .await
        .into_iter()
        .find(|s| s["freeBusyType"] == "free" && s["id"] != slot["id"])
        .expect("another free slot");

    // Book: 201, the slot busy, one holder.
    let r = send(
        &server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        Some(gpc::booking(&slot)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(slot_status(&server, &slot_id).await, "busy");
    assert_eq!(holders(&server, &slot_id).await, vec![id.clone()]);

    // Amend, trying to move it to another slot and change its participants:
    // the description changes, the slot and participants do not.
    let mut amend = gpc::booking(&other_free);
    amend["description"] = json!("Sore throat and a cough");
    amend["comment"] = json!("Running late");
    amend["participant"] = json!([{"actor": {"reference": "Patient/3"}, "status": "accepted"}]);
    let path = format!("/fhir/Appointment/{id}");
    let r = send(
        &server,
        Method::PUT,
        &path,
        "Appointment_Update",
        Some(amend),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        slot_ids(&r.body),
        vec![slot_id.clone()],
        "the answer shows the slot it is on"
    );
    assert_eq!(r.body["description"], "Sore throat and a cough");
    assert_eq!(r.body["comment"], "Running late");
    assert_eq!(r.body["participant"][0]["actor"]["reference"], "Patient/2");
    assert_eq!(r.headers["etag"], "W/\"2\"");
    let stored = send(&server, Method::GET, &path, "Appointment_Read", None)
        .await
        .body;
    assert_eq!(
        slot_ids(&stored),
        vec![slot_id.clone()],
        "amend does not move the slot: {stored}"
    );
    assert_eq!(stored["description"], "Sore throat and a cough");
    assert_eq!(stored["participant"][0]["actor"]["reference"], "Patient/2");
    assert_eq!(stored["meta"]["versionId"], "2");
    assert_eq!(
        slot_status(&server, other_free["id"].as_str().unwrap()).await,
        "free"
    );
    assert_integrity(&server).await;

    // Cancel, naming yet another slot: the booked one is freed.
    let mut cancel = gpc::booking(&other_free);
    cancel["status"] = json!("cancelled");
    cancel["extension"] = gpc::cancellation_reason("Patient no longer needs it");
    cancel["extension"] = json!([{"url": REASON_URL, "valueString": "Patient recovered"}]);
    cancel["description"] = json!("changed while cancelling");
    let r = send(
        &server,
        Method::PUT,
        &path,
        "Appointment_Update",
        Some(cancel),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(slot_ids(&r.body), vec![slot_id.clone()]);
    assert_eq!(
        r.body["description"], "Sore throat and a cough",
        "a cancel changes no description"
    );
    assert_eq!(r.body["extension"][0]["valueString"], "Patient recovered");
    assert_eq!(slot_status(&server, &slot_id).await, "free");
    assert!(holders(&server, &slot_id).await.is_empty());
    assert_integrity(&server).await;

    // Book the same slot again: 201, and exactly one booking holds it.
    let r = send(
        &server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        Some(gpc::booking(&slot)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let again = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(holders(&server, &slot_id).await, vec![again]);
    // And a third time: 409.
    let r = send(
        &server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        Some(gpc::booking(&slot)),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // One booking naming two slots (one of them taken) is refused whole.
    let mut two = gpc::booking(&other_free);
    two["slot"] = json!([{"reference": format!("Slot/{}", other_free["id"].as_str().unwrap())}, {"reference": format!("Slot/{slot_id}")}]);
    let r = send(
        &server,
        Method::POST,
        "/fhir/Appointment",
        "Appointment_Create",
        Some(two),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        slot_status(&server, other_free["id"].as_str().unwrap()).await,
        "free"
    );

    // The seeded appointment: amend and cancel free its own slot, 13.
    let seeded = send(
        &server,
        Method::GET,
        "/fhir/Appointment/1",
        "Appointment_Read",
        None,
    )
    .await
    .body;
    let seeded_slot = slot_ids(&seeded).pop().expect("a slot");
    let mut cancel = gpc::booking(&other_free);
    cancel["status"] = json!("cancelled");
    cancel["extension"] = gpc::cancellation_reason("Patient no longer needs it");
    let r = send(
        &server,
        Method::PUT,
        "/fhir/Appointment/1",
        "Appointment_Update",
        Some(cancel),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(slot_status(&server, &seeded_slot).await, "free");
    assert_integrity(&server).await;
}

/// The sample requests of the stateful scenarios (what the Postman export
/// and `/__admin/sample-request` give) keep the state whole, run in order.
#[tokio::test]
async fn the_exported_collection_run_in_order_keeps_the_state_whole() {
    let server = Server::start(&[]);
    let collection: Value = client()
        .get(server.url("/__admin/postman/collection"))
        .send()
        .await
        .expect("collection")
        .json()
        .await
        .expect("JSON");
    let mut requests = Vec::new();
    fn walk(items: &Value, out: &mut Vec<Value>) {
        for item in items.as_array().into_iter().flatten() {
            if item.get("request").is_some() {
                out.push(item.clone());
            }
            walk(&item["item"], out);
        }
    }
    walk(&collection["item"], &mut requests);
    let mut ran = 0;
    for item in &requests {
        let name = item["name"].as_str().unwrap_or("");
        let operation = name.split(" — ").next().unwrap_or("");
        if !operation.starts_with("Appointment_") {
            continue;
        }
        let request = &item["request"];
        let method =
            Method::from_bytes(request["method"].as_str().unwrap_or("GET").as_bytes()).unwrap();
        let path: String = request["url"]["path"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .fold(String::new(), |acc, s| format!("{acc}/{s}"));
        let body = request["body"]["raw"]
            .as_str()
            .and_then(|raw| serde_json::from_str(raw).ok());
        let r = send(&server, method, &path, operation, body).await;
        assert!(r.status < 500, "{name}: {} {}", r.status, r.body);
        assert_integrity(&server).await;
        ran += 1;
    }
    assert!(ran >= 8, "{ran} appointment requests");
}

/// 300 distinct valid, padded tokens to each of three operations, and 300
/// requests with ~40 KB headers: the server's resident size grows by less
/// than 50 MB (before the fix, each operation kept 256 whole tokens and
/// their claims, and the journal every header block whole).
#[tokio::test]
#[cfg(target_os = "linux")]
async fn padded_tokens_and_huge_headers_do_not_grow_memory() {
    let server = Server::start(&[]);
    let client = client();
    let operations = [
        ("/fhir/Patient/2", "Patient_Read"),
        ("/fhir/Practitioner/1", "Practitioner_Read"),
        ("/fhir/Location/1", "Location_Read"),
    ];
    // Warm up: every operation once, so first-use caches are filled.
    for (path, operation) in operations {
        let r = send(&server, Method::GET, path, operation, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib(server.pid());
    let padding = "p".repeat(30 * 1024);
    for (path, operation) in operations {
        for i in 0..300 {
            let mut claims = gpc::claims(operation, NHS);
            claims["padding"] = json!(format!("{i}-{padding}"));
            let token = gpc::jwt(&claims);
            let mut request = client.get(server.url(path));
            for (name, value) in gpc::headers(operation, NHS) {
                if name != "Authorization" {
                    request = request.header(name, value);
                }
            }
            let response = request
                .header("Authorization", format!("Bearer {token}"))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 200, "{operation} #{i}");
        }
    }
    for i in 0..300 {
        let mut request = gpc::request(
            &client,
            Method::GET,
            &server.url("/fhir/Patient/2"),
            "Patient_Read",
        );
        request = request.header("X-Padding", format!("{i}-{}", "h".repeat(40 * 1024)));
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 200);
    }
    let after = rss_kib(server.pid());
    let grown_mb = (after.saturating_sub(before)) as f64 / 1024.0;
    assert!(
        grown_mb < 50.0,
        "VmRSS grew by {grown_mb:.1} MB ({before} kB → {after} kB)"
    );
}

#[cfg(target_os = "linux")]
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS")
}

/// 50 concurrent calls of the collection export get one build, the same bytes.
#[tokio::test]
async fn concurrent_collection_exports_share_one_build() {
    let server = Server::start(&[]);
    let calls = (0..50).map(|_| {
        let url = server.url("/__admin/postman/collection");
        async move {
            let response = client().get(url).send().await.expect("collection");
            assert_eq!(response.status(), 200);
            response.bytes().await.expect("bytes")
        }
    });
    let bodies = futures_join_all(calls).await;
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]));
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

/// Item 6: no request panics the request path. Requests start from a valid
/// sample of a random scenario (so they reach deep: stateful selection,
/// templates, state actions) and are then bent: path segments, junk paths
/// and methods, queries, headers (JWTs with arbitrary parts, forced
/// scenarios), bodies (arbitrary JSON-ish and bytes). One booking state is
/// shared by every case, so cases form sequences, and the state's declared
/// integrity must hold after each.
mod no_panic {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use bytes::Bytes;
    use gpconnect_mock::pipeline;
    use gpconnect_mock::request::{MockRequest, RequestIds};
    use gpconnect_mock::snapshot::{Settings, Snapshot, Sources};
    use gpconnect_mock::state::{check_integrity, Seed, Stores};
    use http::{HeaderMap, HeaderName, HeaderValue, Method};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// Values chosen to break arithmetic, parsing and formatting.
    fn nasty() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9%._~+-]{0,12}",
            "\\PC{0,8}",
            Just("+99999999d".to_string()),
            Just("-99999999999w".to_string()),
            Just("9223372036854775807".to_string()),
            Just("-9223372036854775808".to_string()),
            Just("1e308".to_string()),
            Just("NaN".to_string()),
            Just("{{now}}".to_string()),
            Just("..%2F..%2F".to_string()),
            Just("%00%ff%".to_string()),
            Just("Slot/13".to_string()),
            Just("cancelled".to_string()),
            Just(String::new()),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            nasty().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("resourceType".to_string()),
                            Just("status".to_string()),
                            Just("slot".to_string()),
                            Just("reference".to_string()),
                            Just("parameter".to_string()),
                            Just("extension".to_string()),
                            Just("meta".to_string()),
                            Just("versionId".to_string()),
                            "[a-z]{1,6}",
                        ],
                        inner
                    ),
                    0..4
                )
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    #[derive(Debug, Clone)]
    enum Bend {
        Keep,
        Segment(usize, String),
        Path(String),
        Method(String),
        Query(Vec<(String, String)>),
        Header(String, String),
        Token(String, String),
        Forced(String),
        Json(Value),
        Field(String, Value),
        Bytes(Vec<u8>),
    }

    fn bend() -> impl Strategy<Value = Bend> {
        prop_oneof![
            2 => Just(Bend::Keep),
            1 => (0usize..6, nasty()).prop_map(|(i, v)| Bend::Segment(i, v)),
            1 => "(/[a-zA-Z$%._0-9{}-]{0,10}){0,5}".prop_map(Bend::Path),
            1 => prop_oneof![
                Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("PATCH"), Just("OPTIONS"), Just("X-ODD")
            ]
            .prop_map(|m| Bend::Method(m.to_string())),
            1 => prop::collection::vec((nasty(), nasty()), 0..4).prop_map(Bend::Query),
            1 => (
                prop_oneof![
                    Just("ssp-to".to_string()),
                    Just("ssp-interactionid".to_string()),
                    Just("content-type".to_string()),
                    Just("accept".to_string()),
                    Just("if-match".to_string()),
                    Just("authorization".to_string()),
                ],
                nasty()
            )
                .prop_map(|(n, v)| Bend::Header(n, v)),
            1 => (json_value(), prop::collection::vec(any::<u8>(), 0..24))
                .prop_map(|(claims, raw)| Bend::Token(
                    URL_SAFE_NO_PAD.encode(claims.to_string()),
                    URL_SAFE_NO_PAD.encode(raw)
                )),
            1 => nasty().prop_map(Bend::Forced),
            1 => json_value().prop_map(Bend::Json),
            1 => (
                prop_oneof![
                    Just("status".to_string()),
                    Just("slot".to_string()),
                    Just("meta".to_string()),
                    Just("participant".to_string()),
                    Just("extension".to_string()),
                    Just("parameter".to_string()),
                    Just("description".to_string()),
                ],
                json_value()
            )
                .prop_map(|(f, v)| Bend::Field(f, v)),
            1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Bend::Bytes),
        ]
    }

    struct Fixture {
        snapshot: Snapshot,
        stores: Stores,
        ids: RequestIds,
        seeds: Vec<Seed>,
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
        FIXTURE.get_or_init(|| {
            let snapshot = Snapshot::load(&Sources::default_pack(), &Settings::default(), 1)
                .expect("the default pack loads");
            // The DSTU2 API's booking state.
            let seeds: Vec<Seed> = snapshot.apis[0].scenarios.seeds().to_vec();
            let stores = snapshot.fresh_stores();
            Fixture {
                snapshot,
                stores,
                ids: RequestIds::default(),
                seeds,
            }
        })
    }

    fn request(operation: usize, scenario: usize, bends: &[Bend]) -> MockRequest {
        let f = fixture();
        let api = &f.snapshot.apis[0];
        let index = operation % api.model.operations.len();
        let scenarios = api.scenarios.for_operation(index);
        let chosen = (!scenarios.is_empty()).then(|| &scenarios[scenario % scenarios.len()]);
        let sample = gpconnect_mock::sample::request_for(
            api,
            index,
            chosen,
            &f.stores.of(&f.snapshot.apis[0].name).read(),
        );
        let mut method = sample.method.clone();
        let mut path = sample.path.clone();
        let mut query = sample.query.clone();
        let mut headers = sample.headers.clone();
        let mut body: Option<Vec<u8>> = sample.body.as_ref().map(|b| b.to_string().into_bytes());
        for bend in bends {
            match bend {
                Bend::Keep => {}
                Bend::Segment(i, value) => {
                    let mut segments: Vec<String> = path.split('/').map(str::to_string).collect();
                    let at = 1 + i % segments.len().saturating_sub(1).max(1);
                    if at < segments.len() {
                        segments[at] = percent_encoding::utf8_percent_encode(
                            value,
                            percent_encoding::NON_ALPHANUMERIC,
                        )
                        .to_string();
                    }
                    path = segments.join("/");
                }
                Bend::Path(p) => path = format!("/fhir{p}"),
                Bend::Method(m) => method = Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET),
                Bend::Query(pairs) => query.extend(pairs.iter().cloned()),
                Bend::Header(name, value) => headers.push((name.clone(), value.clone())),
                Bend::Token(payload, signature) => {
                    headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
                    headers.push((
                        "Authorization".into(),
                        format!("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.{signature}"),
                    ));
                }
                Bend::Forced(name) => headers.push(("X-Mock-Scenario".into(), name.clone())),
                Bend::Json(value) => body = Some(value.to_string().into_bytes()),
                Bend::Field(field, value) => {
                    let mut parsed: Value = body
                        .as_deref()
                        .and_then(|b| serde_json::from_slice(b).ok())
                        .unwrap_or_else(|| json!({}));
                    if let Value::Object(map) = &mut parsed {
                        map.insert(field.clone(), value.clone());
                    }
                    body = Some(parsed.to_string().into_bytes());
                }
                Bend::Bytes(bytes) => body = Some(bytes.clone()),
            }
        }
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                map.append(name, value);
            }
        }
        let target = if query.is_empty() {
            path
        } else {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter())
                .finish();
            format!("{path}?{query}")
        };
        MockRequest::new(method, &target, map, Bytes::from(body.unwrap_or_default()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn no_request_panics_and_state_stays_whole(
            operation in 0usize..64,
            scenario in 0usize..16,
            bends in prop::collection::vec(bend(), 0..4),
        ) {
            let f = fixture();
            let request = request(operation, scenario, &bends);
            let served = pipeline::serve(&f.snapshot, &f.stores, &request, &f.ids);
            let status = served.answer.status.as_u16();
            prop_assert!((100..600).contains(&status), "status {status}");
            if status >= 400 {
                prop_assert!(!served.answer.body.is_empty(), "an error without a body: {status}");
            }
            if let Err(error) = check_integrity(&f.stores.of(&f.snapshot.apis[0].name).read(), &f.seeds) {
                prop_assert!(false, "after {} {}: {error}", request.method, request.path);
            }
        }
    }
}

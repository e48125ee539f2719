//! FHIR XML at the HTTP edge: negotiation, XML answers equal to the JSON
//! ones, XML request bodies, 415s. Requests come from
//! `/__admin/sample-request`, so each selects the named scenario.

use gpconnect_mock::fhir::Era;
use gpconnect_mock::fhir_xml::{xml_to_json, Json};
use reqwest::Method;
use serde_json::Value;

use crate::common::{client, Server};

/// A sample request of the running server, ready to send with changes.
struct Sample {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

struct Reply {
    status: u16,
    content_type: String,
    scenario: String,
    body: String,
}

async fn sample(server: &Server, operation: &str, scenario: &str) -> Sample {
    let url = format!(
        "/__admin/sample-request?operation={operation}&scenario={scenario}&api=gpconnect-dstu2"
    );
    let sample: Value = client()
        .get(server.url(&url))
        .send()
        .await
        .expect("sample")
        .json()
        .await
        .expect("json");
    let headers = sample["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or("").to_string()))
        .collect();
    let body = match &sample["body"] {
        Value::Null => None,
        body => Some(body.to_string()),
    };
    Sample {
        method: sample["method"]
            .as_str()
            .expect("method")
            .parse()
            .expect("method"),
        url: sample["url"].as_str().expect("url").to_string(),
        headers,
        body,
    }
}

impl Sample {
    fn set(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn query(mut self, pair: &str) -> Self {
        let joiner = if self.url.contains('?') { '&' } else { '?' };
        self.url = format!("{}{joiner}{pair}", self.url);
        self
    }

    fn body(mut self, body: String) -> Self {
        self.body = Some(body);
        self
    }

    async fn send(&self) -> Reply {
        let mut request = client().request(self.method.clone(), &self.url);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        let response = request.send().await.expect("answered");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        Reply {
            status: response.status().as_u16(),
            content_type: header("content-type"),
            scenario: header("x-mock-scenario"),
            body: response.text().await.expect("body"),
        }
    }
}

/// The JSON an XML answer stands for.
fn parsed(xml: &str, era: Era) -> Value {
    let json = xml_to_json(xml, era).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    serde_json::from_str(&json.to_text()).expect("its JSON parses")
}

/// What changes from one request to the next (times, and the request
/// ids, 4 digits from 1000, in ids and references) is left out.
fn steady(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::String(text) => {
                let digits = text.len() - text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
                let prefix = &text[..text.len() - digits];
                if digits == 4 && (prefix.is_empty() || prefix.ends_with('/')) {
                    *text = format!("{prefix}(request id)");
                }
            }
            Value::Object(map) => {
                for key in ["lastUpdated", "date", "created", "timestamp"] {
                    map.remove(key);
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

const CASES: &[(&str, &str)] = &[
    ("Metadata_Metadata", "conformance"),
    ("Patient_Read", "patient-wright"),
    (
        "PatientIdentifier_SearchByIdentifier",
        "patient-found-wright",
    ),
    ("PatientOperation_GetCareRecord", "care-record-SUM"),
    ("OrganizationOperation_GetSchedule", "free-slots-a20047"),
    ("Appointment_Create", "appointment-booked"),
    ("Patient_Read", "patient-not-found"),
];

/// Puts the booking state back to the seeds (a create books its slot).
async fn reset(server: &Server) {
    let reply = client()
        .post(server.url("/__admin/reset"))
        .send()
        .await
        .expect("reset");
    assert!(reply.status().is_success());
}

/// `json_type`: the JSON answer's media type (the definition's: the default
/// pack declares DSTU2's even when STU3 is forced).
/// The first place two values differ, as a JSON pointer and both sides.
fn difference(a: &Value, b: &Value, at: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                if x.get(key) != y.get(key) {
                    return match (x.get(key), y.get(key)) {
                        (Some(p), Some(q)) => difference(p, q, format!("{at}/{key}")),
                        (p, q) => format!("{at}/{key}: {p:?} vs {q:?}"),
                    };
                }
            }
            format!("{at}: ?")
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (index, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return difference(p, q, format!("{at}/{index}"));
                }
            }
            format!("{at}: ?")
        }
        _ => format!("{at}: {a} vs {b}"),
    }
}

/// `shape`: the era whose element shapes the pack's resources have (the
/// default pack's are DSTU2's, also when STU3 is forced).
async fn xml_equals_json(server: &Server, shape: Era, xml_type: &str, json_type: &str) {
    for (operation, scenario) in CASES {
        reset(server).await;
        let sample = sample(server, operation, scenario).await;
        let json = sample.send().await;
        assert_eq!(json.scenario, *scenario, "{operation}: {}", json.body);
        assert!(
            json.content_type.starts_with(json_type),
            "{}",
            json.content_type
        );
        for accept in [
            xml_type,
            "application/xml+fhir",
            "application/fhir+xml",
            "application/xml",
        ] {
            reset(server).await;
            let sample = crate::xml::sample(server, operation, scenario)
                .await
                .set("Accept", accept);
            let xml = sample.send().await;
            assert_eq!(
                xml.status, json.status,
                "{operation} {accept}: {}",
                xml.body
            );
            assert_eq!(xml.scenario, *scenario);
            assert_eq!(
                xml.content_type,
                format!("{xml_type}; charset=utf-8"),
                "{operation} {accept}: the era's own XML media type"
            );
            assert!(
                xml.body
                    .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
                "{}",
                xml.body
            );
            let json_value: Value = serde_json::from_str(&json.body).expect("JSON answer");
            let (back, expected) = (steady(parsed(&xml.body, shape)), steady(json_value));
            assert!(
                back == expected,
                "{operation} / {scenario} with Accept {accept}: differs at {}",
                difference(&back, &expected, String::new())
            );
        }
    }
}

#[tokio::test]
async fn dstu2_xml_answers_equal_the_json_ones() {
    let server = Server::start(&[]);
    xml_equals_json(
        &server,
        Era::Dstu2,
        "application/xml+fhir",
        "application/json+fhir",
    )
    .await;
}

#[tokio::test]
async fn stu3_xml_answers_equal_the_json_ones() {
    // The default pack speaks DSTU2: under STU3 rules its requests are
    // served with the checks off; the formats are what is tested.
    let server = Server::start(&["--fhir", "stu3", "--contract", "off"]);
    xml_equals_json(
        &server,
        Era::Dstu2,
        "application/fhir+xml",
        "application/json+fhir",
    )
    .await;
}

#[tokio::test]
async fn format_parameter_beats_accept_beats_content_type() {
    let server = Server::start(&[]);
    let metadata = || sample(&server, "Metadata_Metadata", "conformance");
    let xml = "application/xml+fhir; charset=utf-8";
    let json = "application/json+fhir; charset=utf-8";
    let cases: Vec<(Sample, &str)> = vec![
        (
            metadata()
                .await
                .query("_format=xml")
                .set("Accept", "application/json+fhir"),
            xml,
        ),
        (
            metadata().await.query("_format=application/xml%2Bfhir"),
            xml,
        ),
        (metadata().await.query("_format=text/xml"), xml),
        (
            metadata()
                .await
                .query("_format=json")
                .set("Accept", "application/xml+fhir"),
            json,
        ),
        (
            metadata()
                .await
                .query("_format=application/fhir%2Bjson")
                .set("Accept", "application/xml+fhir"),
            json,
        ),
        (
            metadata()
                .await
                .set("Accept", "application/xml+fhir")
                .set("Content-Type", "application/json+fhir"),
            xml,
        ),
        (
            metadata()
                .await
                .set("Accept", "")
                .set("Content-Type", "application/fhir+xml"),
            xml,
        ),
        (
            metadata().await.set(
                "Accept",
                "application/json+fhir;q=0.5, application/xml+fhir",
            ),
            xml,
        ),
        (
            metadata()
                .await
                .set("Accept", "application/xml+fhir;q=0.1, */*"),
            json,
        ),
        (metadata().await.set("Accept", ""), json),
    ];
    for (index, (request, expected)) in cases.iter().enumerate() {
        let reply = request.send().await;
        assert_eq!(reply.status, 200, "case {index}: {}", reply.body);
        assert_eq!(reply.content_type, *expected, "case {index}");
    }
}

#[tokio::test]
async fn unservable_formats_are_415_in_the_best_format_there_is() {
    let server = Server::start(&[]);
    let metadata = || sample(&server, "Metadata_Metadata", "conformance");
    let reply = metadata().await.set("Accept", "text/html").send().await;
    assert_eq!(reply.status, 415);
    assert!(reply.content_type.starts_with("application/json+fhir"));
    assert!(
        reply
            .body
            .contains("header Accept must allow application/json+fhir or application/xml+fhir"),
        "{}",
        reply.body
    );
    // _format refused; Accept says XML: the OperationOutcome is XML.
    let reply = metadata()
        .await
        .query("_format=text/html")
        .set("Accept", "application/xml+fhir")
        .send()
        .await;
    assert_eq!(reply.status, 415);
    assert!(
        reply.content_type.starts_with("application/xml+fhir"),
        "{}",
        reply.content_type
    );
    let outcome = parsed(&reply.body, Era::Dstu2);
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(
        outcome["issue"][0]["details"]["coding"][0]["code"],
        "BAD_REQUEST"
    );
    assert!(outcome["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("query parameter _format"));
    // A request body of a type that is neither JSON nor XML.
    let record = sample(&server, "PatientOperation_GetCareRecord", "care-record-SUM").await;
    let reply = record.set("Content-Type", "text/plain").send().await;
    assert_eq!(reply.status, 415, "{}", reply.body);
    // A 404 is an OperationOutcome in XML too.
    let reply = metadata()
        .await
        .set("Accept", "application/xml+fhir")
        .query("x=1");
    let mut reply = reply;
    reply.url = reply.url.replace("/metadata", "/nothing-here");
    let reply = reply.send().await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        parsed(&reply.body, Era::Dstu2)["resourceType"],
        "OperationOutcome"
    );
}

/// The JSON body of a sample written as FHIR XML (by the mock's own
/// converter: what is tested is that the XML selects the same scenario).
fn as_xml(body: &str) -> String {
    let tree = Json::parse(body).expect("sample body");
    gpconnect_mock::fhir_xml::to_xml::tree_to_xml(&tree).expect("XML")
}

#[tokio::test]
async fn xml_request_bodies_select_the_same_scenarios() {
    let server = Server::start(&[]);
    for (operation, scenario) in [
        ("PatientOperation_GetCareRecord", "care-record-SUM"),
        ("PatientOperation_GetCareRecord", "care-record-MED"),
        ("PatientOperation_GetCareRecord", "invalid-record-section"),
        ("OrganizationOperation_GetSchedule", "free-slots-a20047"),
        ("Appointment_Create", "appointment-booked"),
    ] {
        reset(&server).await;
        let request = sample(&server, operation, scenario).await;
        let json = request.send().await;
        reset(&server).await;
        let request = sample(&server, operation, scenario).await;
        let body = as_xml(request.body.as_deref().expect("a body"));
        let xml = request
            .set("Content-Type", "application/xml+fhir")
            .set("Accept", "application/json+fhir")
            .body(body.clone())
            .send()
            .await;
        assert_eq!(xml.scenario, *scenario, "{operation}: {}\n{body}", xml.body);
        assert_eq!(xml.status, json.status, "{operation}: {}", xml.body);
        // Without Accept, the answer follows the body's XML.
        reset(&server).await;
        let request = sample(&server, operation, scenario).await;
        let reply = request
            .set("Content-Type", "application/fhir+xml; charset=utf-8")
            .set("Accept", "")
            .body(body)
            .send()
            .await;
        assert_eq!(reply.scenario, *scenario, "{}", reply.body);
        assert!(
            reply.content_type.starts_with("application/xml+fhir"),
            "{}",
            reply.content_type
        );
    }
}

#[tokio::test]
async fn malformed_xml_bodies_are_400_naming_line_and_column() {
    let server = Server::start(&[]);
    let request = sample(&server, "PatientOperation_GetCareRecord", "care-record-SUM").await;
    let reply = request
        .set("Content-Type", "application/xml+fhir")
        .set("Accept", "")
        .body("<Parameters xmlns=\"http://hl7.org/fhir\">\n  <parameter>\n</Parameters>".into())
        .send()
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.content_type.starts_with("application/xml+fhir"));
    let outcome = parsed(&reply.body, Era::Dstu2);
    let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap_or("");
    assert!(
        diagnostics.contains("request body must be valid FHIR XML")
            && diagnostics.contains("line 3 column"),
        "{diagnostics}"
    );
    assert_eq!(
        outcome["issue"][0]["details"]["coding"][0]["code"],
        "BAD_REQUEST"
    );
}

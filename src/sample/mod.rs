//! Sample requests: for a scenario, a request that selects it, with
//! everything its `when` leaves open filled from the spec (examples,
//! defaults, minimal instances) and, for GP Connect, valid SSP headers and
//! a fresh JWT.
//!
//! [`request_for`] is the entry point: `check` uses it to prove each
//! scenario reachable and to render it, `/__admin/sample-request` prints it,
//! and the Postman export turns it into collection items.
//!
//! - this module: [`SyntheticRequest`], [`request_for`], and the request a
//!   scenario's `when` asks for ([`for_scenario`]);
//! - [`fit`]: fitting that request to the scenarios before it (so they do not
//!   win) and to the state its state conditions read (the first fitting
//!   document, or the latest: [`Pick`]);
//! - [`dates`]: example dates moved to be relative to today;
//! - [`body`]: making a JSON body satisfy a body condition (building what
//!   a JSONPath of [`crate::jsonpath`]'s narrow form selects);
//! - [`jwt`]: the GP Connect JWT's claims, identity and unsigned token.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{json, Value};

use crate::contract::{gpconnect, Profile};
use crate::fhir::Era;
use crate::request::MockRequest;
use crate::scenario::Scenario;
use crate::snapshot::Api;
use crate::spec::{schema, ApiModel, Operation, ParamLocation};
use crate::state::StateData;
use crate::template::fhir_param_value;

pub mod body;
pub mod dates;
pub mod fit;
pub mod jwt;

pub use fit::{fit_state, path_params, selecting, Pick};
pub use jwt::{
    jwt_claims, jwt_claims_as, jwt_systems, unsigned_jwt, JwtIdentity, JwtRequest, RECORD_ODS_CODE,
};

/// A request built for a scenario, in parts a collection exporter can use.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticRequest {
    pub method: Method,
    /// The concrete path, path parameters filled, percent-encoded.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers in order (names as the spec or scenario spells them).
    pub headers: Vec<(String, String)>,
    /// The JSON body, if the operation takes one.
    pub body: Option<Value>,
    pub content_type: Option<String>,
}

impl SyntheticRequest {
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.query.iter())
            .finish();
        format!("{}?{query}", self.path)
    }

    pub fn to_mock_request(&self) -> MockRequest {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        let body = match &self.body {
            Some(body) => Bytes::from(body.to_string()),
            None => Bytes::new(),
        };
        MockRequest::new(self.method.clone(), &self.path_and_query(), headers, body)
    }

    pub fn set_header(&mut self, name: &str, value: String) {
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name.to_string(), value)),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Builds the request for `scenario` (or for the operation alone) and, for
/// GP Connect definitions, adds valid SSP headers and a fresh JWT. Ids that
/// state conditions need name the first document that fits (a fresh
/// server's seeds): see [`request_for_picking`] for the latest.
pub fn request_for(
    api: &Api,
    index: usize,
    scenario: Option<&Scenario>,
    state: &StateData,
) -> SyntheticRequest {
    request_for_picking(api, index, scenario, state, Pick::First)
}

/// [`request_for`], with the document an id names chosen by `pick`
/// (`sample-request?…&document=latest`: the appointment just booked).
pub fn request_for_picking(
    api: &Api,
    index: usize,
    scenario: Option<&Scenario>,
    state: &StateData,
    pick: Pick,
) -> SyntheticRequest {
    let operation = &api.model.operations[index];
    let scenarios = api.scenarios.for_operation(index);
    let target = scenario.and_then(|s| scenarios.iter().position(|other| std::ptr::eq(other, s)));
    let mut request = match target {
        Some(target) => fit::selecting(&api.model, operation, scenarios, target).0,
        None => for_scenario(&api.model, operation, scenario),
    };
    if let Some(target) = target {
        fit::fit_state(&mut request, operation, scenarios, target, state, pick);
    }
    same_id_as_path(&mut request, operation);
    if let Profile::GpConnect(era) = api.contract.profile() {
        add_gpconnect_headers(&mut request, operation, era, api.contract.asid());
    }
    request
}

/// An update's body names the resource of its path (FHIR: a PUT whose body
/// `id` differs is refused), whatever the example or stored document said.
fn same_id_as_path(request: &mut SyntheticRequest, operation: &Operation) {
    if operation.method != Method::PUT {
        return;
    }
    let Some(id) = path_params(operation, &request.path)
        .into_iter()
        .find(|(name, _)| name == "id")
        .map(|(_, value)| value)
    else {
        return;
    };
    if let Some(Value::Object(body)) = request.body.as_mut() {
        if body.contains_key("id") {
            body.insert("id".to_string(), Value::String(id));
        }
    }
}

/// The JWT scope of a GP Connect operation: (`patient` or `organization`,
/// write?), from the interaction table; unknown operations are patient-centred.
pub fn gpconnect_scope(operation: &Operation, era: Era) -> (&'static str, bool) {
    let row = gpconnect::lookup(era, &operation.method, &operation.path);
    let kind = row.map(|r| r.kind.scope_prefix()).unwrap_or("patient");
    let write = row.map(|r| r.write).unwrap_or_else(|| operation.is_write());
    (kind, write)
}

fn add_gpconnect_headers(
    request: &mut SyntheticRequest,
    operation: &Operation,
    era: Era,
    asid: &str,
) {
    let rules = gpconnect::OperationRules::compile(operation, era);
    let (kind, write) = gpconnect_scope(operation, era);
    let nhs_number = patient_nhs_number(request);
    let mut claims = jwt::jwt_claims(&jwt::JwtRequest {
        era,
        record_kind: kind,
        write,
        nhs_number: &nhs_number,
        ods_code: jwt::RECORD_ODS_CODE,
        now: chrono::Utc::now().timestamp(),
    });
    if rules.is_migrate() {
        // Access Record Structured's migrate (DOMAIN-STU3.md §1.1).
        claims["reason_for_request"] = "migration".into();
        claims["requested_scope"] = "patient/*.read conf/N".into();
    }
    let keep = |name: &str, value: String, request: &mut SyntheticRequest| {
        // A scenario that matches on a header keeps its value.
        if request.header(name).is_none() || name.eq_ignore_ascii_case("Authorization") {
            request.set_header(name, value);
        }
    };
    // A trace id is per request: never the spec's example.
    request.set_header("Ssp-TraceID", uuid::Uuid::new_v4().to_string());
    keep("Ssp-From", "200000000359".to_string(), request);
    request.set_header("Ssp-To", asid.to_string());
    if let Some(interaction) = rules.interactions().first() {
        if !request
            .header("Ssp-InteractionID")
            .is_some_and(|v| rules.interactions().iter().any(|i| i == v))
        {
            request.set_header("Ssp-InteractionID", interaction.clone());
        }
    }
    keep(
        "Authorization",
        format!("Bearer {}", jwt::unsigned_jwt(&claims)),
        request,
    );
    keep("Accept", era.json_media_type().to_string(), request);
}

/// Builds the request that should select `scenario` of `operation`.
pub fn for_scenario(
    model: &ApiModel,
    operation: &Operation,
    scenario: Option<&Scenario>,
) -> SyntheticRequest {
    let when = scenario.map(|s| &s.when);
    // Path: the scenario's conditions first, then the spec's examples.
    let mut path = String::new();
    for segment in operation.full_path.split('/').skip(1) {
        path.push('/');
        let mut rest = segment;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            path.push_str(&rest[..open]);
            let name = &rest[open + 1..close];
            let from_when = when
                .and_then(|w| w.path.iter().find(|(n, _)| n == name))
                .and_then(|(_, c)| c.example());
            let value = from_when.unwrap_or_else(|| {
                param_example(operation, ParamLocation::Path, name)
                    .unwrap_or_else(|| "1".to_string())
            });
            path.push_str(&utf8_percent_encode_segment(&value));
            rest = &rest[close + 1..];
        }
        path.push_str(rest);
    }

    let mut query: Vec<(String, String)> = Vec::new();
    if let Some(when) = when {
        for (name, condition) in &when.query {
            if let Some(value) = condition.example() {
                query.push((name.clone(), value));
            }
        }
    }
    for param in operation
        .params
        .iter()
        .filter(|p| p.location == ParamLocation::Query && (p.required || p.sample))
    {
        let constrained = when.is_some_and(|w| w.query.iter().any(|(n, _)| n == &param.name));
        if !constrained {
            // A repeated parameter's example may list several values
            // (`start=ge…&start=le…`): each is sent.
            for value in param_examples(operation, ParamLocation::Query, &param.name) {
                query.push((param.name.clone(), value));
            }
        }
    }

    let mut headers: Vec<(String, String)> = Vec::new();
    for param in operation
        .params
        .iter()
        .filter(|p| p.location == ParamLocation::Header && p.required)
    {
        if let Some(value) = param_example(operation, ParamLocation::Header, &param.name) {
            headers.push((param.name.clone(), value));
        }
    }
    let mut request = SyntheticRequest {
        method: operation.method.clone(),
        path,
        query,
        headers,
        body: None,
        content_type: None,
    };
    if let Some(when) = when {
        for (name, condition) in &when.headers {
            match condition.example() {
                Some(value) => request.set_header(name.as_str(), value),
                None => request
                    .headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_str())),
            }
        }
    }

    if let Some(body_spec) = &operation.request_body {
        let media = body_spec
            .content
            .iter()
            .find(|m| crate::media::is_json_media(&m.media_type))
            .or_else(|| body_spec.content.first());
        if let Some(media) = media {
            let mut body = media
                .example
                .clone()
                .or_else(|| {
                    media
                        .schema
                        .as_ref()
                        .map(|s| schema::minimal_instance(s, &model.schema_root))
                })
                .unwrap_or_else(|| json!({}));
            dates::shift_periods(&mut body, chrono::Utc::now().date_naive());
            if let Some(when) = when {
                for condition in &when.body {
                    body::satisfy(&mut body, &condition.path, &condition.condition);
                }
            }
            request.body = Some(body);
            request.content_type = Some(media.media_type.clone());
        }
    }
    if let Some(content_type) = request.content_type.clone() {
        if request.header("Content-Type").is_none() {
            request
                .headers
                .push(("Content-Type".to_string(), content_type));
        }
    }
    request
}

pub(crate) fn utf8_percent_encode_segment(value: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'?')
        .add(b'<')
        .add(b'>')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

/// A value for a parameter: its example, default, first enum value, or a
/// minimal instance of its schema (of a list, its first item).
fn param_example(operation: &Operation, location: ParamLocation, name: &str) -> Option<String> {
    Some(match example_value(operation, location, name)? {
        Value::String(s) => s,
        Value::Array(items) => items.first().map(scalar_text).unwrap_or_default(),
        other => scalar_text(&other),
    })
}

/// The values a parameter is sent with: every item of an example that is
/// a list (a parameter given several times), else the one value of
/// [`param_example`].
fn param_examples(operation: &Operation, location: ParamLocation, name: &str) -> Vec<String> {
    match example_value(operation, location, name) {
        Some(Value::Array(items)) if !items.is_empty() => items.iter().map(scalar_text).collect(),
        _ => param_example(operation, location, name)
            .into_iter()
            .collect(),
    }
}

/// A parameter's example, default, first enum value, or a minimal
/// instance of its schema, as JSON.
fn example_value(operation: &Operation, location: ParamLocation, name: &str) -> Option<Value> {
    let param = operation
        .params
        .iter()
        .find(|p| p.location == location && p.name == name)?;
    let value = param
        .example
        .clone()
        .or_else(|| param.schema.get("default").cloned())
        .or_else(|| param.schema.get("enum").and_then(|e| e.get(0)).cloned())
        .unwrap_or_else(|| {
            let generated = schema::minimal_instance(&param.schema, &Value::Null);
            match (location, &generated) {
                // "string" is a poor id; ids are usually small numbers.
                (ParamLocation::Path, Value::String(s)) if s == "string" => json!("1"),
                _ => generated,
            }
        });
    Some(value)
}

pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The patient a GP Connect request is about: the body's `patientNHSNumber`,
/// else an NHS-number identifier in the query, else patient 2 (MEAKIN).
pub fn patient_nhs_number(request: &SyntheticRequest) -> String {
    if let Some(value) = request
        .body
        .as_ref()
        .and_then(|body| fhir_param_value(body, "patientNHSNumber"))
        .and_then(|identifier| identifier.get("value"))
        .and_then(Value::as_str)
    {
        return value.to_string();
    }
    for (name, value) in &request.query {
        if name == "identifier" && value.contains("nhs-number|") {
            if let Some((_, number)) = value.split_once('|') {
                return number.to_string();
            }
        }
    }
    "9658218873".to_string()
}

#[cfg(test)]
mod tests {
    /// A required query parameter whose example is a list is sent once per
    /// item (`start=ge…&start=le…`); a single example once.
    #[test]
    fn a_list_example_sends_the_parameter_once_per_item() {
        let text = r#"
swagger: "2.0"
info: { title: t, version: "1" }
paths:
  /Patient/{id}/Appointment:
    get:
      operationId: Patient_Appointments
      parameters:
        - { name: id, in: path, required: true, type: string, x-example: "2" }
        - name: start
          in: query
          required: true
          type: array
          collectionFormat: multi
          items: { type: string }
          x-example: [ge2030-01-01, le2030-01-14]
        - { name: status, in: query, required: true, type: string, x-example: free }
      responses: { "200": { description: ok } }
"#;
        let model = crate::spec::load_str(text, "test.yaml").expect("loads");
        let operation = &model.operations[0];
        let request = super::for_scenario(&model, operation, None);
        assert_eq!(request.path, "/Patient/2/Appointment");
        let query: Vec<(&str, &str)> = request
            .query
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            query,
            [
                ("start", "ge2030-01-01"),
                ("start", "le2030-01-14"),
                ("status", "free")
            ]
        );
    }
}

//! The request path, one straight line in [`serve`]:
//!
//! 1. **route**: the API mounted at the path, then its route table
//!    (`routes`) → operation and path parameters, or a 404/405;
//! 2. **check**: the contract's one [`Verdict`] on the request (`contract`);
//! 3. **decide**: the scenario that answers (`scenario`), under the booking
//!    state's writer lock for a stateful operation, and what the verdict
//!    rules for it (reject, or serve and report);
//! 4. **render**: the scenario's answer (`answer`), the spec fallback, or
//!    the rejection; then the scenario's state actions; then the version
//!    rules' conclusion (`versions`: a vread's version, `Location`, 304,
//!    `Prefer`). A version read is routed as its read in step 1, and a
//!    PUT's `If-Match` is compared with the stored version in step 3,
//!    under the writer lock, before anything changes;
//! 5. **finish**: the headers every answer carries, added once here for
//!    every kind of answer; for a FHIR API asked for XML, the finished JSON
//!    answer written as FHIR XML (`fhir_xml`).
//!
//! Before routing, a FHIR API's request is negotiated once (`negotiate`):
//! the answer format travels as [`Served::format`], an unservable one as
//! part of the contract's verdict (a 415). An XML request body is read
//! into the JSON it stands for then too, so every later stage (checks,
//! selection, templates, state actions) sees JSON only.
//!
//! It returns a [`Served`] value saying what answered and why; the server
//! journals it and counts the hit, `check` and the Postman export read it.
//! Nothing downstream reads meaning back out of response headers. The path
//! is synchronous and independent of the HTTP server, so benchmarks and
//! tests drive it directly.

use std::sync::Arc;

use bytes::Bytes;
use handlebars::Context;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, StatusCode};

use crate::answer::{self, Answer, ContextNeeds, SpecSource};
use crate::contract::{self, violation_header, Ruling, Verdict, Waiver, VIOLATION_HEADER};
use crate::fhir::{Era, ErrorStyle, Outcome, SpineCode};
use crate::fhir_xml;
use crate::journal::Trace;
use crate::media::is_json_media;
use crate::negotiate::{self, format_of, Format, Negotiated};
use crate::repeat::Repeat;
use crate::request::MockRequest;
use crate::request::RequestIds;
use crate::routes::Lookup;
use crate::scenario::stateful::StateView;
use crate::scenario::{Scenario, Selection};
use crate::snapshot::{Api, Snapshot};
use crate::spine::{self, Intercept, Part, SpineAnswer};
use crate::state::{StateData, Stores};
use crate::versions;

mod render;
use render::{render, state_action_failed, StateChange};

/// The operation that answered (`operationId` or `METHOD /path`).
pub const OPERATION_HEADER: HeaderName = HeaderName::from_static("x-mock-operation");
/// The scenario that answered.
pub const SCENARIO_HEADER: HeaderName = HeaderName::from_static("x-mock-scenario");
/// What a spec fallback was made from: `example`, `schema` or `empty`.
pub const SOURCE_HEADER: HeaderName = HeaderName::from_static("x-mock-source");

/// One answered request: the answer, and what answered it and why.
#[derive(Debug)]
pub struct Served<'s> {
    pub answer: Answer,
    /// The API the path belongs to.
    pub api: &'s Api,
    /// The operation it was routed to (none for 404 and 405).
    pub operation: Option<usize>,
    /// The scenario that answered (its render may have failed: then the
    /// answer is a 500 naming it).
    pub scenario: Option<&'s Scenario>,
    pub source: Source,
    /// Contract findings and near misses; `None` on the common path.
    pub trace: Option<Box<Trace>>,
    /// The format the answer body is written in (negotiated for FHIR APIs;
    /// always JSON for others).
    pub format: Format,
    /// A kept answer's way to its XML (see [`crate::repeat`]).
    pub repeat: Option<Repeat>,
}

/// Who made the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A scenario.
    Scenario,
    /// No scenario matched: the definition's own answer.
    Spec(SpecSource),
    /// The request checks refused the request.
    Contract,
    /// The mock itself: no such path or method, an unknown forced scenario,
    /// a body too large to read.
    Mock,
    /// The version rules (`versions`): a stale or missing `If-Match`, a
    /// version that is not kept, a malformed entity tag.
    Versions,
    /// The Spine: the proxy refused the request, or the directory answered.
    Spine(Part),
}

impl Served<'_> {
    /// The answered operation's key.
    pub fn operation_key(&self) -> Option<&str> {
        self.operation
            .and_then(|index| self.api.model.operations.get(index))
            .map(|operation| operation.key.as_str())
    }

    /// The answering scenario's name.
    pub fn scenario_name(&self) -> Option<&str> {
        self.scenario.map(|scenario| scenario.name.as_str())
    }
}

/// Answers one request from one snapshot, reading and changing the state
/// of the API that serves it.
///
/// Step 0, the Spine (`spine`): the directory's API answers its own
/// requests, and a request in the proxy's form is checked as the Spine
/// Secure Proxy checks it, then refused in the proxy's words or served
/// as the provider receives it, without its endpoint prefix.
pub fn serve<'s>(
    snapshot: &'s Snapshot,
    stores: &Stores,
    request: &MockRequest,
    ids: &RequestIds,
) -> Served<'s> {
    match spine::intercept(&snapshot.spine, request) {
        Intercept::Pass => serve_api(snapshot, stores, request, ids),
        Intercept::Forward(forwarded) => serve_api(snapshot, stores, &forwarded, ids),
        Intercept::Answer(SpineAnswer { answer, by }) => Served {
            answer,
            api: snapshot.api_for(&request.path),
            operation: None,
            scenario: None,
            source: Source::Spine(by),
            trace: None,
            format: Format::Json,
            repeat: None,
        },
    }
}

/// Steps 1 to 5 for the API mounted at the request's path.
fn serve_api<'s>(
    snapshot: &'s Snapshot,
    stores: &Stores,
    request: &MockRequest,
    ids: &RequestIds,
) -> Served<'s> {
    let api = snapshot.api_for(&request.path);
    let store = stores.of(&api.name);
    // 0. negotiate (FHIR APIs): the answer format, once; an XML body read as JSON.
    let era = negotiate::fhir_era(api.error_style);
    let negotiated = match era {
        Some(era) => {
            if request
                .header(http::header::CONTENT_TYPE.as_str())
                .and_then(format_of)
                == Some(Format::Xml)
            {
                request.read_xml_body(era);
            }
            negotiate::negotiate(request)
        }
        None => Negotiated::default(),
    };
    let format = negotiated.format;
    // 1. route (a version read is routed, checked and served as its read)
    let Routed {
        index,
        params,
        version_read,
    } = match route(api, request) {
        Ok(routed) => routed,
        Err(answer) => return in_format(finish(mock_answer(api, *answer)), era, format),
    };
    let read_request = version_read
        .as_ref()
        .map(|read| request.with_path(&read.read_path));
    let request = read_request.as_ref().unwrap_or(request);
    // 2. check
    let verdict = api
        .contract
        .check(&api.model, index, request, &params, &negotiated);
    // 3. decide. An operation that changes state holds the writer lock
    // from selection (which may read state) to its state actions, so
    // check-then-change is one step: of two bookings of one slot, exactly
    // one succeeds. A std mutex, held in this synchronous function only,
    // never across an await. One whose scenarios only read state (a read,
    // a slot search) reads the immutable state of the moment, unlocked.
    let stateful = api.scenarios.is_stateful(index);
    let _writer = api
        .scenarios
        .writes_state(index)
        .then(|| store.lock_writer());
    let state = store.read();
    let request_id = stateful.then(|| ids.next());
    let mut context = request_id.map(|id| {
        let operation = &api.model.operations[index];
        let fresh = request.fresh(id);
        // Only the parts its scenarios' templates read: not every header
        // (a 1 KB token among them) and the body for each 1.x read.
        let needs = api
            .context_needs
            .get(index)
            .copied()
            .unwrap_or(ContextNeeds::ALL);
        answer::template_context(request, &params, fresh, None, operation, needs)
    });
    let selection = select(api, index, request, &params, &state, context.as_ref());
    let waiver = match &selection {
        Selection::Scenario(scenario) => &scenario.then.waiver,
        _ => &Waiver::None,
    };
    let ruling = verdict.ruling(waiver);
    // A PUT's If-Match, against the stored version, before any state action.
    let precondition = match (&ruling, era) {
        (Ruling::Serve(_), Some(era)) => {
            versions::check_if_match(request, &state, era.version_rules()).err()
        }
        _ => None,
    };
    // 4. render
    let mut served = match ruling {
        Ruling::Serve(_) if precondition.is_some() => {
            let rules = era.map(Era::version_rules);
            versions_error(api, index, precondition.as_ref(), rules)
        }
        Ruling::Reject(violation) => {
            contract::log_rejection(&api.model.operations[index].key, violation);
            Served {
                answer: Answer::error(&violation.outcome(), api.error_style),
                api,
                operation: Some(index),
                scenario: None,
                source: Source::Contract,
                trace: None,
                format: Format::Json,
                repeat: None,
            }
        }
        Ruling::Serve(_) => render(
            api,
            index,
            request,
            &params,
            selection,
            &state,
            context.as_mut(),
            ids,
        ),
    };
    if let (Some(scenario), Some(context), Some(id)) = (served.scenario, &context, request_id) {
        let action = StateChange {
            api,
            scenario,
            request,
            context,
            request_id: id,
        };
        if let Err(error) = action.apply(&served.answer, &state, store) {
            served = state_action_failed(api, index, scenario, &error);
        }
    }
    if let Some(era) = era {
        let concluded = versions::conclude(
            &mut served.answer,
            request,
            version_read.as_ref(),
            &state,
            era,
        );
        if let Err(error) = concluded {
            served = versions_error(api, index, Some(&error), Some(era.version_rules()));
        }
    }
    served.trace = trace(served.trace.take(), &verdict);
    // 5. finish
    let mut served = finish(served);
    if let Ruling::Serve(violations) = ruling {
        contract::annotate(
            &mut served.answer,
            &api.model.operations[index].key,
            violations,
        );
    }
    if api.validate_responses {
        check_response(api, index, &mut served.answer);
    }
    in_format(served, era, format)
}

/// The last step: the finished JSON answer written as FHIR XML when XML
/// was negotiated. Only JSON bodies are converted; an answer that cannot
/// be written as FHIR XML (not a resource) becomes a 500 saying why. The
/// JSON path is untouched: no re-serialisation.
fn in_format(mut served: Served<'_>, era: Option<Era>, format: Format) -> Served<'_> {
    let (Some(era), Format::Xml) = (era, format) else {
        return served;
    };
    served.format = Format::Xml;
    let key = served
        .operation
        .and_then(|index| served.api.model.operations.get(index))
        .map(|operation| operation.key.as_str());
    let answer = &mut served.answer;
    let json = answer
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_json_media);
    if answer.body.is_empty() || !json {
        return served;
    }
    // A static answer's body (the very bytes of the cached answer) is
    // converted once; another scenario answer patched from its last one
    // when it can be (`fhir_xml::memo`).
    let runtime = served
        .scenario
        .zip(served.operation)
        .and_then(|(scenario, index)| served.api.runtime(index, scenario));
    let cache = runtime.and_then(|runtime| {
        let cached = runtime.static_answer.as_ref()?.get()?;
        let same =
            cached.body.as_ptr() == answer.body.as_ptr() && cached.body.len() == answer.body.len();
        same.then_some(runtime.static_xml.as_ref()?)
    });
    let convert = |body: &Bytes| {
        std::str::from_utf8(body)
            .map_err(|_| fhir_xml::XmlError::Unwritable("the JSON answer is not UTF-8".into()))
            .and_then(fhir_xml::json_to_xml)
            .map(Bytes::from)
    };
    // A kept answer's XML (`repeat`) is converted once per kept answer.
    let kept = served
        .repeat
        .as_ref()
        .and_then(|repeat| repeat.xml(&answer.body, |kept| convert(kept).ok()));
    let xml = match (cache.and_then(|cell| cell.get()), kept) {
        (Some(xml), _) => Ok(xml.clone()),
        (None, Some(xml)) => Ok(xml),
        (None, None) => std::str::from_utf8(&answer.body)
            .map_err(|_| fhir_xml::XmlError::Unwritable("the JSON answer is not UTF-8".into()))
            .and_then(|text| match runtime.filter(|_| cache.is_none()) {
                Some(runtime) => runtime.xml_memo.convert(&answer.body, text),
                None => fhir_xml::json_to_xml(text).map(Bytes::from),
            }),
    };
    let content_type = HeaderValue::from_static(format.content_type(era));
    match xml {
        Ok(xml) => {
            if let Some(cell) = cache {
                let _ = cell.set(xml.clone());
            }
            answer.body = xml;
            answer.headers.insert(CONTENT_TYPE, content_type);
        }
        Err(error) => {
            tracing::error!(operation = ?key, "answer not written as XML: {error}");
            let outcome = Outcome::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                SpineCode::INTERNAL_SERVER_ERROR,
                format!("the answer {error}"),
            );
            let (_, body) = outcome.render(ErrorStyle::Fhir(era));
            let xml = std::str::from_utf8(&body)
                .ok()
                .and_then(|json| fhir_xml::json_to_xml(json).ok())
                .unwrap_or_default();
            answer.status = outcome.status;
            answer.body = Bytes::from(xml);
            answer.headers.insert(CONTENT_TYPE, content_type);
            answer.headers.remove(http::header::ETAG);
        }
    }
    served
}

/// A request refused before routing (its body could not be read): the
/// mock's own error, finished like every other answer.
/// Written in JSON: without the request's headers there is nothing to
/// negotiate.
pub fn refuse<'s>(snapshot: &'s Snapshot, path: &str, outcome: &Outcome) -> Served<'s> {
    let api = snapshot.api_for(path);
    finish(mock_answer(api, Answer::error(outcome, api.error_style)))
}

fn mock_answer(api: &Api, answer: Answer) -> Served<'_> {
    Served {
        answer,
        api,
        operation: None,
        scenario: None,
        source: Source::Mock,
        trace: None,
        format: Format::Json,
        repeat: None,
    }
}

/// A routed request: its operation's index and path parameters, and the
/// version read it is, if it is one (then the operation is its read).
struct Routed {
    index: usize,
    params: Vec<(String, String)>,
    version_read: Option<versions::VersionRead>,
}

/// What the version rules answered instead of a scenario.
fn versions_error<'s>(
    api: &'s Api,
    index: usize,
    error: Option<&versions::VersionError>,
    rules: Option<&versions::VersionRules>,
) -> Served<'s> {
    let outcome = match (error, rules) {
        (Some(error), Some(rules)) => error.outcome(rules),
        _ => Outcome::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            SpineCode::INTERNAL_SERVER_ERROR,
            "a version rule failed without saying why",
        ),
    };
    Served {
        answer: Answer::error(&outcome, api.error_style),
        api,
        operation: Some(index),
        scenario: None,
        source: Source::Versions,
        trace: None,
        format: Format::Json,
        repeat: None,
    }
}

/// Step 1: the operation and its path parameters, or the 404/405 answer
/// (boxed: the common path should not carry an answer's size).
fn route(api: &Api, request: &MockRequest) -> Result<Routed, Box<Answer>> {
    if let Some(answer) = empty_id(api, request) {
        return Err(Box::new(answer));
    }
    let (lookup, version_read) = versions::lookup(&api.routes, &request.method, &request.path);
    if let Lookup::Found { operation, params } = lookup {
        return Ok(Routed {
            index: operation,
            params,
            version_read,
        });
    }
    let Some((outcome, allow)) = lookup.refusal(&request.method, &request.path) else {
        unreachable!("a found operation was returned above");
    };
    let mut answer = Answer::error(&outcome, api.error_style);
    if let Some(value) = allow.and_then(|allow| HeaderValue::from_str(&allow).ok()) {
        answer.headers.insert(ALLOW, value);
    }
    Err(Box::new(answer))
}

/// A GP Connect read or update with an empty id (`GET /fhir/Patient/`) is
/// a 404 with the resource's not-found code, as a provider answers it
/// (rule `unknown-id`), not the search or 405 its trimmed path would route to.
fn empty_id(api: &Api, request: &MockRequest) -> Option<Answer> {
    api.era?;
    let trimmed = request.path.strip_suffix('/')?;
    let resource = trimmed.rsplit('/').next().filter(|s| !s.is_empty())?;
    let probe = format!("{trimmed}/_");
    let (lookup, _) = versions::lookup(&api.routes, &request.method, &probe);
    let Lookup::Found { operation, .. } = lookup else {
        return None;
    };
    let template = &api.model.operations.get(operation)?.path;
    if !template.ends_with('}') {
        return None;
    }
    let violation = contract::Violation::about(
        contract::RuleId::UnknownId,
        resource,
        "path id",
        format!("is empty: {} names no {resource}", request.path),
    );
    Some(Answer::error(&violation.outcome(), api.error_style))
}

/// Step 3: the scenario for the request. Stateful operations pass their
/// request context, against which state conditions render their ids.
fn select<'s>(
    api: &'s Api,
    index: usize,
    request: &MockRequest,
    params: &[(String, String)],
    state: &Arc<StateData>,
    context: Option<&Context>,
) -> Selection<'s> {
    match context {
        Some(context) => {
            let render = |name: &str| api.templates.render(name, context, state).ok();
            let view = StateView {
                data: state,
                render: &render,
            };
            api.scenarios.select(index, request, params, Some(&view))
        }
        None => api.scenarios.select(index, request, params, None),
    }
}

/// The contract findings (as diagnostics) joined to what the render traced.
fn trace(trace: Option<Box<Trace>>, verdict: &Verdict) -> Option<Box<Trace>> {
    if verdict.is_clean() {
        return trace;
    }
    let mut trace = trace.unwrap_or_default();
    trace.violations = verdict
        .violations()
        .iter()
        .map(contract::Violation::diagnostics)
        .collect();
    Some(trace)
}

/// Step 5: the headers every answer carries, replacing whatever a scenario
/// set: `X-Mock-Operation` when routed, `X-Mock-Scenario` or
/// `X-Mock-Source` for what answered, and, for GP Connect,
/// `Cache-Control: no-store` (its answers, errors included, are never to
/// be cached). Each value is built once per snapshot; inserting one
/// allocates nothing.
fn finish(mut served: Served<'_>) -> Served<'_> {
    let api = served.api;
    let headers = &mut served.answer.headers;
    if let Some(operation) = served.operation.and_then(|i| api.operation_headers.get(i)) {
        headers.insert(OPERATION_HEADER, operation.clone());
    }
    if let (Some(scenario), Some(operation)) = (served.scenario, served.operation) {
        if let Some(name) = api
            .runtime(operation, scenario)
            .and_then(|r| r.name_header.clone())
        {
            headers.insert(SCENARIO_HEADER, name);
        }
    }
    if let Source::Spec(source) = served.source {
        headers.insert(SOURCE_HEADER, HeaderValue::from_static(source.label()));
    }
    if api.contract.no_store() {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    served
}

/// `--validate-responses`: the outgoing answer against the definition, as
/// `check` does it; each finding is logged and added as `X-Contract-Violation`.
fn check_response(api: &Api, index: usize, answer: &mut Answer) {
    let fhir = api.era.is_some();
    for finding in api.response_checks.check(&api.model, index, answer, fhir) {
        let at = if finding.pointer.is_empty() {
            "response"
        } else {
            finding.pointer.as_str()
        };
        tracing::warn!(operation = %api.model.operations[index].key, "response violates the definition: {at}: {}", finding.message);
        answer
            .headers
            .append(VIOLATION_HEADER, violation_header(at, &finding.message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Settings, Sources};

    /// Negotiation travels as `Served::format`; the JSON path hands out
    /// the rendered bytes untouched, the XML path converts them.
    #[test]
    fn format_is_negotiated_once_and_json_is_untouched() {
        let snapshot =
            Snapshot::load(&Sources::default_pack(), &Settings::default(), 1).expect("loads");
        let api = &snapshot.apis[0];
        let index = api
            .model
            .operation_index("Metadata_Metadata")
            .expect("metadata");
        let stores = Stores::default();
        let ids = RequestIds::default();
        let serve_with = |accept: &str| {
            let mut request = crate::sample::request_for(api, index, None, &StateData::default());
            request.set_header("Accept", accept.to_string());
            let served = serve(&snapshot, &stores, &request.to_mock_request(), &ids);
            (served.format, served.answer)
        };
        let (format, plain) = serve_with("application/json+fhir");
        assert_eq!(format, Format::Json);
        let (_, again) = serve_with("*/*");
        // The static answer's bytes, shared, not re-serialised.
        assert_eq!(plain.body.as_ptr(), again.body.as_ptr());
        assert_eq!(
            plain.headers[CONTENT_TYPE],
            "application/json+fhir; charset=utf-8"
        );
        let (format, xml) = serve_with("application/fhir+xml");
        assert_eq!(format, Format::Xml);
        assert_eq!(
            xml.headers[CONTENT_TYPE],
            "application/xml+fhir; charset=utf-8"
        );
        assert!(xml.body.starts_with(b"<?xml"));
        assert_eq!(xml.headers[CACHE_CONTROL], "no-store");
        // A static answer is converted once: the second XML answer shares
        // the first one's bytes.
        let (_, xml_again) = serve_with("application/xml+fhir");
        assert_eq!(xml.body, xml_again.body);
        assert_eq!(xml.body.as_ptr(), xml_again.body.as_ptr());
    }
}

//! FHIR versions over HTTP: `meta.versionId`, `ETag`, version reads
//! (`_history`), `If-Match`, `If-None-Match` and `Prefer`. This module owns
//! all of it; the request path (`pipeline`) calls it at four points:
//!
//! 1. **route** — [`lookup`]: a path no route serves that ends in
//!    `/<Type>/<id>/_history/<vid>` is served as the read of
//!    `/<Type>/<id>` ([`VersionRead`]), with the read's checks;
//! 2. **decide** — [`check_if_match`]: a PUT of a stored resource, under
//!    the booking state's writer lock and before any state action, against
//!    its stored version (stale → 409, resource unchanged);
//! 3. **render** — [`stamp`]: a rendered resource answer carries
//!    `meta.versionId` (a template's own, else `"1"` written in) and the
//!    answer's [`Answer::version`], from which `ETag: W/"<vid>"` is written;
//! 4. **conclude** — [`conclude`], once the answer and its state actions
//!    are done: the version a vread asked for, `Location` of a create,
//!    `If-None-Match` → 304, `Prefer` on POST and PUT.
//!
//! The state keeps stored versions (`StateData::version_updated` and its
//! neighbours, called by the state actions): an update bumps the integer
//! version and keeps the version it replaced, the last
//! [`crate::state::KEPT_VERSIONS`] per document.
//!
//! A *versioned resource* is a JSON object whose `resourceType` is not
//! `OperationOutcome`, `Bundle` nor `Parameters` ([`is_versioned`]): search
//! results, operation results and errors carry no version and no ETag.
//! What an era demands is data: the rule catalogue's `if-match-*` rules
//! (a malformed `If-Match` a 400 or stale; stale a 409; never required) and
//! the code of an unknown version, [`VersionRules`].

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, ETAG, LOCATION};
use http::{HeaderValue, Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::answer::Answer;
use crate::contract::{RuleId, Violation};
use crate::fhir::{Era, Outcome, SpineCode};
use crate::request::MockRequest;
use crate::routes::{Lookup, RouteTable};
use crate::state::{version_of, StateData};
use crate::template::{ProvenJson, VersionId};

/// What an era demands of versions. Which `If-Match` rules apply is the
/// rule catalogue's to say ([`RuleId::IfMatchMalformed`],
/// [`RuleId::IfMatchStale`]): in neither era is `If-Match` required
/// (DOMAIN-STU3.md §7.2: the 1.x provider test pack amends and cancels
/// without it); a stale one is a 409 in both; a malformed one is a 400 in
/// DSTU2 and, in 1.x, stale (the pack's `invalidEtag` expects 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRules {
    pub era: Era,
    /// The code of a 404 for a version read of a version not kept.
    pub unknown_version: SpineCode,
}

const DSTU2_RULES: VersionRules = VersionRules {
    era: Era::Dstu2,
    unknown_version: SpineCode::NO_RECORD_FOUND,
};

const STU3_RULES: VersionRules = VersionRules {
    era: Era::Stu3,
    unknown_version: SpineCode::NO_RECORD_FOUND,
};

impl Era {
    /// What this era demands of versions.
    pub fn version_rules(self) -> &'static VersionRules {
        match self {
            Era::Dstu2 => &DSTU2_RULES,
            Era::Stu3 => &STU3_RULES,
        }
    }
}

impl VersionRules {
    /// Whether the catalogue's `rule` applies in this era.
    fn has(&self, rule: RuleId) -> bool {
        rule.rule().eras.admits(Some(self.era))
    }
}

/// What a request got wrong about versions; each becomes an
/// OperationOutcome ([`VersionError::outcome`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("header {header} is {value:?}, which is not a list of entity tags: expected W/\"<versionId>\", \"<versionId>\" or *")]
    Malformed { header: &'static str, value: String },
    #[error("If-Match {sent} is stale: {resource} is at version {current} (ETag W/\"{current}\"); the resource is unchanged")]
    Stale {
        resource: String,
        sent: String,
        current: String,
    },
    #[error("{resource} has no version {asked}: its current version is {current}{kept}")]
    UnknownVersion {
        resource: String,
        asked: String,
        current: String,
        /// `; kept: 1, 2` or empty.
        kept: String,
    },
}

impl VersionError {
    /// The answer: a violation of the catalogue's `If-Match` rules (its
    /// diagnostics ending `(rule <name>)`), or a 400/404 of the version
    /// headers and reads.
    pub fn outcome(&self, rules: &VersionRules) -> Outcome {
        let text = self.to_string();
        match self {
            VersionError::Malformed { header, .. } if header.eq_ignore_ascii_case("if-match") => {
                let what = text.split_once(" is ").map_or(&*text, |(_, rest)| rest);
                let what = format!("is {what}");
                Violation::of(RuleId::IfMatchMalformed, "header If-Match", what).outcome()
            }
            VersionError::Stale { sent, .. } => {
                let at = format!("header If-Match {sent}");
                let what = text
                    .split_once(" is stale")
                    .map_or(&*text, |(_, rest)| rest);
                Violation::of(RuleId::IfMatchStale, at, format!("is stale{what}")).outcome()
            }
            VersionError::Malformed { .. } => {
                Outcome::new(StatusCode::BAD_REQUEST, SpineCode::BAD_REQUEST, text)
            }
            VersionError::UnknownVersion { .. } => {
                Outcome::new(StatusCode::NOT_FOUND, rules.unknown_version, text)
            }
        }
    }
}

/// Whether answers of this `resourceType` carry a version and an ETag.
pub fn is_versioned(resource_type: &str) -> bool {
    !matches!(resource_type, "OperationOutcome" | "Bundle" | "Parameters")
}

/// The `ETag` header of a version: `W/"<vid>"`.
pub fn etag(version: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("W/\"{version}\"")).ok()
}

/// A rendered body and the version it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamped {
    pub body: String,
    pub version: Option<Arc<str>>,
}

impl Stamped {
    fn new(body: String, version: Option<&str>) -> Stamped {
        let version = version.map(Arc::from);
        Stamped { body, version }
    }
}

/// Only what stamping reads of a body; other fields are skipped, not built.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    meta: Option<HeadMeta>,
}

#[derive(Deserialize)]
struct HeadMeta {
    #[serde(rename = "versionId")]
    version_id: Option<Value>,
}

/// The version of a rendered JSON body: its `meta.versionId`, or, when
/// `write` (FHIR APIs) and it is a versioned resource without one, `"1"`
/// written into it (`meta` placed after `id`, as FHIR orders it). What a
/// template is proven to write is not parsed again ([`ProvenJson`]).
/// Errs when the body is not JSON.
pub fn stamp(
    body: String,
    proven: Option<&ProvenJson>,
    write: bool,
) -> Result<Stamped, serde_json::Error> {
    // (its version, its resource type): a proven template's are known.
    let (id, kind) = match proven.map(|p| (&p.version_id, p.resource_type.clone())) {
        Some((VersionId::Fixed(id), kind)) => (Some(id.clone()), kind),
        Some((VersionId::Absent, kind))
            if !(write && kind.as_deref().is_some_and(is_versioned)) =>
        {
            (None, kind)
        }
        _ => {
            let head: Head = serde_json::from_str(&body)?;
            (head.meta.and_then(|m| m.version_id), head.resource_type)
        }
    };
    let versioned = kind.as_deref().is_none_or(is_versioned);
    match id.filter(|id| !id.is_null()) {
        Some(Value::String(id)) if versioned => Ok(Stamped::new(body, Some(&id))),
        Some(id) if versioned => Ok(Stamped::new(body, Some(&id.to_string()))),
        None if write && kind.as_deref().is_some_and(is_versioned) => {
            let mut value: Value = serde_json::from_str(&body)?;
            if let Value::Object(resource) = &mut value {
                set_version(resource, "1");
            }
            Ok(Stamped::new(value.to_string(), Some("1")))
        }
        _ => Ok(Stamped::new(body, None)),
    }
}

/// [`stamp`] for a ready answer (the spec fallbacks, once per snapshot):
/// its version and ETag; a body that is not JSON is left as it is.
pub fn stamp_answer(mut answer: Answer, write: bool) -> Answer {
    let content_type = answer.headers.get(CONTENT_TYPE).map(HeaderValue::to_str);
    let json = matches!(content_type, Some(Ok(media)) if crate::media::is_json_media(media));
    let body = std::str::from_utf8(&answer.body).ok();
    let Some(text) = body.filter(|text| json && !text.is_empty()) else {
        return answer;
    };
    if let Ok(stamped) = stamp(text.to_string(), None, write) {
        if stamped.body != text {
            answer.body = Bytes::from(stamped.body);
        }
        set_answer_version(&mut answer, stamped.version);
    }
    answer
}

/// Sets the answer's version and its `ETag` (removed with no version).
pub fn set_answer_version(answer: &mut Answer, version: Option<Arc<str>>) {
    answer.headers.remove(ETAG);
    if let Some(value) = version.as_deref().and_then(etag) {
        answer.headers.insert(ETAG, value);
    }
    answer.version = version;
}

/// Writes `meta.versionId` into a resource: first in `meta`, and `meta`
/// itself after `id` (else after `resourceType`) when it is new.
pub(crate) fn set_version(resource: &mut Map<String, Value>, version: &str) {
    let version = Value::String(version.to_string());
    if let Some(Value::Object(meta)) = resource.get_mut("meta") {
        if let Some(slot) = meta.get_mut("versionId") {
            *slot = version;
        } else {
            meta.shift_insert(0, "versionId".into(), version);
        }
        return;
    }
    let mut meta = Map::new();
    meta.insert("versionId".into(), version);
    let at = ["id", "resourceType"]
        .iter()
        .find_map(|key| resource.keys().position(|k| k == key))
        .map_or(0, |index| index + 1);
    resource.shift_insert(at, "meta".into(), Value::Object(meta));
}

/// The last two segments of a path, decoded: `/fhir/Appointment/7` →
/// (`Appointment`, `7`), when the first names a resource type.
fn resource_of(path: &str) -> Option<(String, String)> {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let id = segments.next().filter(|id| !id.is_empty())?;
    let kind = segments
        .next()
        .filter(|kind| kind.starts_with(|c: char| c.is_ascii_uppercase()))?;
    let decode = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
    Some((decode(kind), decode(id))).filter(|(_, id)| !id.starts_with('$'))
}

/// A version read: `GET [base]/<Type>/<id>/_history/<vid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRead {
    /// `[base]/<Type>/<id>`, as received: the read that serves it.
    pub read_path: String,
    pub resource_type: String,
    pub id: String,
    /// The version asked for, decoded.
    pub version: String,
}

impl VersionRead {
    /// The version read a GET of `path` is, if it is one.
    pub fn parse(method: &Method, path: &str) -> Option<VersionRead> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let (read_path, version) = path.trim_end_matches('/').rsplit_once("/_history/")?;
        if version.is_empty() || version.contains('/') {
            return None;
        }
        let (resource_type, id) = resource_of(read_path)?;
        Some(VersionRead {
            read_path: read_path.to_string(),
            resource_type,
            id,
            version: percent_decode_str(version).decode_utf8_lossy().into_owned(),
        })
    }
}

/// The route of `path`: the route table's answer, or, where it has none, the
/// read's route of a version read (with the [`VersionRead`]). Used by the
/// request path and by `check`'s capability proof, so both agree.
pub fn lookup(routes: &RouteTable, method: &Method, path: &str) -> (Lookup, Option<VersionRead>) {
    let lookup = routes.lookup(method, path);
    if let Lookup::NotFound { .. } = lookup {
        if let Some(read) = VersionRead::parse(method, path) {
            let found = routes.lookup(&Method::GET, &read.read_path);
            if let Lookup::Found { .. } = found {
                return (found, Some(read));
            }
        }
    }
    (lookup, None)
}

/// A parsed `If-Match` / `If-None-Match`: as sent, and the versions it
/// names, weak or strong alike (weak comparison); none for `*`.
struct Tags {
    sent: String,
    versions: Option<Vec<String>>,
}

impl Tags {
    fn matches(&self, version: &str) -> bool {
        self.versions
            .as_ref()
            .is_none_or(|versions| versions.iter().any(|v| v == version))
    }
}

/// Every value of `header`, joined: `None` when absent, an error when
/// malformed.
fn tags(request: &MockRequest, header: &'static str) -> Result<Option<Tags>, VersionError> {
    let values = request.headers.get_all(header);
    let sent = values
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if values.iter().next().is_none() || sent.trim() == "*" {
        let versions = values.iter().next().map(|_| None);
        return Ok(versions.map(|versions| Tags { sent, versions }));
    }
    let parse = |part: &str| {
        let tag = part.strip_prefix("W/").unwrap_or(part);
        let inner = tag
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'));
        inner
            .filter(|inner| !inner.is_empty() && !inner.contains('"'))
            .map(str::to_string)
    };
    match sent.split(',').map(|part| parse(part.trim())).collect() {
        Some(versions) => Ok(Some(Tags {
            sent,
            versions: Some(versions),
        })),
        None => Err(VersionError::Malformed {
            header,
            value: sent,
        }),
    }
}

/// `If-Match` on a PUT of a stored resource, checked against its stored
/// version before any state action (the caller holds the writer lock): a
/// stale tag (in 1.x also a malformed one) is an error and nothing
/// changes; no `If-Match` lets the update go on. A PUT of a resource the state does not hold is left to
/// its scenarios (e.g. a 404); any other method is not checked.
pub fn check_if_match(
    request: &MockRequest,
    state: &StateData,
    rules: &VersionRules,
) -> Result<(), VersionError> {
    if request.method != Method::PUT {
        return Ok(());
    }
    let Some((kind, id)) = resource_of(&request.path) else {
        return Ok(());
    };
    let Some((_, document)) = state.stored_resource(&kind, &id) else {
        return Ok(());
    };
    let current = version_of(document);
    let resource = format!("{kind}/{id}");
    let sent = match tags(request, "if-match") {
        Ok(None) => return Ok(()),
        Ok(Some(tags)) if tags.matches(&current) => return Ok(()),
        Ok(Some(Tags { sent, .. })) => sent,
        // 1.x: a tag that names no version names no current one either.
        Err(VersionError::Malformed { value, .. }) if !rules.has(RuleId::IfMatchMalformed) => value,
        Err(error) => return Err(error),
    };
    debug_assert!(rules.has(RuleId::IfMatchStale));
    Err(VersionError::Stale {
        resource,
        sent,
        current,
    })
}

/// The `return` a `Prefer` header asks of a write, lower case: `minimal`,
/// `representation` or `operationoutcome` (other preferences are ignored).
fn prefer(request: &MockRequest) -> Option<String> {
    let values = request.headers.get_all("prefer");
    let text = values.iter().filter_map(|v| v.to_str().ok());
    let mut preferences = text.flat_map(|value| value.split([',', ';']));
    preferences.find_map(|preference| {
        let (name, wanted) = preference.split_once('=')?;
        let wanted = wanted.trim().trim_matches('"').to_ascii_lowercase();
        name.trim().eq_ignore_ascii_case("return").then_some(wanted)
    })
}

/// The id and `resourceType` of a JSON answer body.
fn identity(body: &[u8]) -> Option<(String, String)> {
    #[derive(Deserialize)]
    struct Identity {
        #[serde(rename = "resourceType")]
        resource_type: String,
        id: String,
    }
    let identity: Identity = serde_json::from_slice(body).ok()?;
    Some((identity.resource_type, identity.id))
}

/// The last step of versioning, once the answer and its state actions are
/// done (`state` is what the answer was made from). Only successful
/// answers are touched:
///
/// - a version read ([`VersionRead`]): the read's answer when it is the
///   version asked, else the kept version, else an unknown-version error;
/// - a 201 to a POST of `[base]/<Type>` with a versioned resource:
///   `Location: [base]/<Type>/<id>/_history/<vid>` (unless the scenario set
///   one);
/// - a 200 to a GET whose `If-None-Match` names the answer's version (or
///   is `*`): 304, no body, the ETag kept;
/// - POST and PUT: `Prefer: return=minimal` empties the body (and drops
///   its `Content-Type`); `return=OperationOutcome` answers an information
///   OperationOutcome instead of the resource.
pub fn conclude(
    answer: &mut Answer,
    request: &MockRequest,
    read: Option<&VersionRead>,
    state: &StateData,
    era: Era,
) -> Result<(), VersionError> {
    if !answer.status.is_success() {
        return Ok(());
    }
    if let Some(read) = read {
        serve_version(answer, read, state, era)?;
    }
    let method = &request.method;
    if answer.status == StatusCode::CREATED
        && method == Method::POST
        && answer.version.is_some()
        && !answer.headers.contains_key(LOCATION)
    {
        set_location(answer, &request.path);
    }
    if (method == Method::GET || method == Method::HEAD) && answer.status == StatusCode::OK {
        if let (Some(tags), Some(version)) = (tags(request, "if-none-match")?, &answer.version) {
            if tags.matches(version) {
                answer.status = StatusCode::NOT_MODIFIED;
                answer.body = Bytes::new();
                answer.headers.remove(CONTENT_TYPE);
            }
        }
    }
    let write = method == Method::POST || method == Method::PUT;
    match prefer(request).filter(|_| write).as_deref() {
        Some("minimal") => {
            answer.body = Bytes::new();
            answer.headers.remove(CONTENT_TYPE);
        }
        Some("operationoutcome") => {
            let what = match (identity(&answer.body), &answer.version) {
                (Some((kind, id)), Some(version)) => format!("{kind}/{id} (version {version})"),
                (Some((kind, id)), None) => format!("{kind}/{id}"),
                (None, _) => "the request".to_string(),
            };
            let status = answer.status;
            let text = format!(
                "{what}: {} {}; the resource is not returned, as Prefer: return=OperationOutcome asked",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
            );
            set_body(answer, era.information_outcome(&text), era);
        }
        _ => {}
    }
    Ok(())
}

/// A JSON body in the era's media type.
fn set_body(answer: &mut Answer, body: Bytes, era: Era) {
    answer.body = body;
    if let Ok(value) = HeaderValue::from_str(era.json_content_type()) {
        answer.headers.insert(CONTENT_TYPE, value);
    }
}

/// `Location: <POST path>/<id>/_history/<vid>` for a created resource of
/// the type the path names.
fn set_location(answer: &mut Answer, path: &str) {
    let (Some((kind, id)), Some(version)) = (identity(&answer.body), &answer.version) else {
        return;
    };
    let collection = path.trim_end_matches('/');
    if collection.rsplit('/').next() != Some(kind.as_str()) {
        return;
    }
    let location = format!("{collection}/{id}/_history/{version}");
    if let Ok(value) = HeaderValue::from_str(&location) {
        answer.headers.insert(LOCATION, value);
    }
}

/// The version a version read asked for, in place of the read's answer.
fn serve_version(
    answer: &mut Answer,
    read: &VersionRead,
    state: &StateData,
    era: Era,
) -> Result<(), VersionError> {
    if answer.version.as_deref() == Some(read.version.as_str()) {
        return Ok(());
    }
    let stored = state.stored_resource(&read.resource_type, &read.id);
    let kept = stored.map_or(&[][..], |(collection, _)| {
        state.kept_versions(collection, &read.id)
    });
    let found = kept
        .iter()
        .find(|document| version_of(document) == read.version);
    if let Some(document) = found {
        set_body(answer, Bytes::from(document.to_string()), era);
        set_answer_version(answer, Some(Arc::from(read.version.as_str())));
        return Ok(());
    }
    let listed: Vec<String> = kept.iter().map(version_of).collect();
    Err(VersionError::UnknownVersion {
        resource: format!("{}/{}", read.resource_type, read.id),
        asked: read.version.clone(),
        current: answer.version.as_deref().unwrap_or("none").to_string(),
        kept: match listed.is_empty() {
            true => String::new(),
            false => format!("; earlier versions kept: {}", listed.join(", ")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use serde_json::json;

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> MockRequest {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        MockRequest::new(method, path, map, Bytes::new())
    }

    fn state_with(document: Value) -> StateData {
        let mut state = StateData::default();
        let mut documents = crate::state::Documents::default();
        documents.insert("7".to_string(), document);
        state.collections.insert("appointments".into(), documents);
        state
    }

    #[test]
    fn stamping_keeps_a_version_or_writes_one_after_id() {
        let kept = stamp(
            r#"{"resourceType":"Patient","meta":{"versionId":"4"}}"#.into(),
            None,
            true,
        )
        .unwrap();
        assert_eq!(kept.version.as_deref(), Some("4"));
        let written = stamp(
            r#"{"resourceType":"Patient","id":"2","active":true}"#.into(),
            None,
            true,
        )
        .unwrap();
        assert_eq!(
            written.body,
            r#"{"resourceType":"Patient","id":"2","meta":{"versionId":"1"},"active":true}"#
        );
        assert_eq!(written.version.as_deref(), Some("1"));
        let in_meta = stamp(
            r#"{"resourceType":"Slot","meta":{"profile":["p"]}}"#.into(),
            None,
            true,
        )
        .unwrap();
        assert_eq!(
            in_meta.body,
            r#"{"resourceType":"Slot","meta":{"versionId":"1","profile":["p"]}}"#
        );
        for unversioned in [
            r#"{"resourceType":"Bundle","type":"searchset"}"#,
            r#"{"resourceType":"OperationOutcome","issue":[]}"#,
            r#"{"resourceType":"Parameters"}"#,
            r#"{"plain":"json"}"#,
        ] {
            let stamped = stamp(unversioned.into(), None, true).unwrap();
            assert_eq!(
                (stamped.body.as_str(), stamped.version),
                (unversioned, None)
            );
        }
        let not_fhir = stamp(r#"{"resourceType":"Patient"}"#.into(), None, false).unwrap();
        assert_eq!(
            not_fhir.version, None,
            "only FHIR APIs get a version written"
        );
        assert!(stamp("{".into(), None, true).is_err());
    }

    #[test]
    fn proven_templates_are_not_parsed() {
        let fixed = ProvenJson {
            version_id: VersionId::Fixed(json!("3")),
            resource_type: Some("Patient".into()),
        };
        // Not JSON at all: a proven template's body is trusted, not read.
        let stamped = stamp("proven".into(), Some(&fixed), true).unwrap();
        assert_eq!(stamped.version.as_deref(), Some("3"));
        let bundle = ProvenJson {
            version_id: VersionId::Absent,
            resource_type: Some("Bundle".into()),
        };
        assert_eq!(
            stamp("proven".into(), Some(&bundle), true).unwrap().version,
            None
        );
    }

    #[test]
    fn if_match_against_the_stored_version() {
        let state = state_with(
            json!({"resourceType": "Appointment", "id": "7", "meta": {"versionId": "2"}}),
        );
        let rules = Era::Dstu2.version_rules();
        let put = |headers: &[(&str, &str)]| {
            check_if_match(
                &request(Method::PUT, "/fhir/Appointment/7", headers),
                &state,
                rules,
            )
        };
        assert_eq!(put(&[]), Ok(()), "DSTU2 does not require If-Match");
        assert_eq!(put(&[("If-Match", "W/\"2\"")]), Ok(()));
        assert_eq!(put(&[("If-Match", "\"2\"")]), Ok(()), "weak comparison");
        assert_eq!(put(&[("If-Match", "*")]), Ok(()));
        assert_eq!(put(&[("If-Match", "W/\"1\", W/\"2\"")]), Ok(()));
        let stale = put(&[("If-Match", "W/\"1\"")]).unwrap_err();
        let outcome = stale.outcome(rules);
        assert_eq!(outcome.status, StatusCode::CONFLICT);
        assert_eq!(outcome.code.code, "FHIR_CONSTRAINT_VIOLATION");
        assert!(
            outcome
                .diagnostics
                .contains("Appointment/7 is at version 2"),
            "{}",
            outcome.diagnostics
        );
        assert!(
            outcome.diagnostics.ends_with("(rule if-match-stale)"),
            "{}",
            outcome.diagnostics
        );
        let malformed = put(&[("If-Match", "2")]).unwrap_err();
        let malformed = malformed.outcome(rules);
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert!(malformed.diagnostics.ends_with("(rule if-match-malformed)"));
        // 1.x: never required; a malformed tag is stale.
        let stu3 = |headers: &[(&str, &str)]| {
            check_if_match(
                &request(Method::PUT, "/fhir/Appointment/7", headers),
                &state,
                Era::Stu3.version_rules(),
            )
        };
        assert_eq!(stu3(&[]), Ok(()), "STU3 does not require If-Match");
        assert_eq!(stu3(&[("If-Match", "W/\"2\"")]), Ok(()));
        let invalid = stu3(&[("If-Match", "invalidEtag")]).unwrap_err();
        let outcome = invalid.outcome(Era::Stu3.version_rules());
        assert_eq!(outcome.status, StatusCode::CONFLICT);
        assert_eq!(outcome.code.code, "FHIR_CONSTRAINT_VIOLATION");
        assert!(outcome.diagnostics.contains("invalidEtag is stale"));
        let unknown = request(
            Method::PUT,
            "/fhir/Appointment/8",
            &[("If-Match", "W/\"1\"")],
        );
        assert_eq!(
            check_if_match(&unknown, &state, rules),
            Ok(()),
            "left to the scenarios"
        );
    }

    #[test]
    fn version_reads_are_recognised() {
        let read = VersionRead::parse(&Method::GET, "/fhir/Appointment/7/_history/2").unwrap();
        assert_eq!(
            (
                read.read_path.as_str(),
                read.resource_type.as_str(),
                read.id.as_str(),
                read.version.as_str()
            ),
            ("/fhir/Appointment/7", "Appointment", "7", "2")
        );
        assert_eq!(
            VersionRead::parse(&Method::PUT, "/fhir/Appointment/7/_history/2"),
            None
        );
        assert_eq!(
            VersionRead::parse(&Method::GET, "/fhir/Appointment/7/_history/"),
            None
        );
        assert_eq!(
            VersionRead::parse(&Method::GET, "/fhir/Patient/1/Appointment/_history/1"),
            None
        );
        assert_eq!(
            VersionRead::parse(&Method::GET, "/fhir/Appointment/_history/1"),
            None
        );
    }

    fn answer(status: StatusCode, body: &str, version: Option<&str>) -> Answer {
        let mut answer = Answer::new(
            status,
            "application/json+fhir",
            Bytes::from(body.to_string()),
        );
        set_answer_version(&mut answer, version.map(Arc::from));
        answer
    }

    #[test]
    fn conclusions_follow_the_headers() {
        let state = StateData::default();
        let body = r#"{"resourceType":"Appointment","id":"9","meta":{"versionId":"1"}}"#;
        let post = request(
            Method::POST,
            "/fhir/Appointment",
            &[("Prefer", "return=minimal")],
        );
        let mut created = answer(StatusCode::CREATED, body, Some("1"));
        conclude(&mut created, &post, None, &state, Era::Dstu2).unwrap();
        assert_eq!(created.headers[LOCATION], "/fhir/Appointment/9/_history/1");
        assert_eq!(created.headers[ETAG], "W/\"1\"");
        assert!(created.body.is_empty() && !created.headers.contains_key(CONTENT_TYPE));

        let put = request(
            Method::PUT,
            "/fhir/Appointment/9",
            &[("Prefer", "return=OperationOutcome")],
        );
        let mut updated = answer(StatusCode::OK, body, Some("1"));
        conclude(&mut updated, &put, None, &state, Era::Dstu2).unwrap();
        let outcome: Value = serde_json::from_slice(&updated.body).unwrap();
        assert_eq!(outcome["issue"][0]["severity"], "information");
        assert!(outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("Appointment/9 (version 1)"));

        let get = |tag: &str| {
            request(
                Method::GET,
                "/fhir/Appointment/9",
                &[("If-None-Match", tag)],
            )
        };
        let mut fresh = answer(StatusCode::OK, body, Some("1"));
        conclude(&mut fresh, &get("W/\"1\""), None, &state, Era::Dstu2).unwrap();
        assert_eq!(fresh.status, StatusCode::NOT_MODIFIED);
        assert!(fresh.body.is_empty());
        assert_eq!(fresh.headers[ETAG], "W/\"1\"");
        let mut stale = answer(StatusCode::OK, body, Some("1"));
        conclude(&mut stale, &get("W/\"0\""), None, &state, Era::Dstu2).unwrap();
        assert_eq!(stale.status, StatusCode::OK);
        let mut error = answer(StatusCode::NOT_FOUND, body, None);
        conclude(&mut error, &get("*"), None, &state, Era::Dstu2).unwrap();
        assert_eq!(error.status, StatusCode::NOT_FOUND, "errors are left alone");
    }

    #[test]
    fn version_reads_serve_kept_versions() {
        let mut state =
            state_with(json!({"resourceType": "Appointment", "id": "7", "comment": "one"}));
        state.version_stored("appointments", "7");
        let previous = state.get("appointments", "7").unwrap().clone();
        if let Some(documents) = state.collections.get_mut("appointments") {
            documents["7"]["comment"] = json!("two");
        }
        state.version_updated("appointments", "7", previous);
        let current = state.get("appointments", "7").unwrap().to_string();
        let vread = |version: &str| {
            let path = format!("/fhir/Appointment/7/_history/{version}");
            let read = VersionRead::parse(&Method::GET, &path).unwrap();
            let mut served = answer(StatusCode::OK, &current, Some("2"));
            let request = request(Method::GET, &path, &[]);
            conclude(&mut served, &request, Some(&read), &state, Era::Dstu2).map(|()| served)
        };
        let first = vread("1").unwrap();
        let body: Value = serde_json::from_slice(&first.body).unwrap();
        assert_eq!(
            (
                body["comment"].as_str(),
                first.headers[ETAG].to_str().unwrap()
            ),
            (Some("one"), "W/\"1\"")
        );
        let second = vread("2").unwrap();
        assert_eq!(second.body, current.as_bytes());
        let error = vread("9").unwrap_err();
        assert_eq!(
            error.outcome(Era::Dstu2.version_rules()).status,
            StatusCode::NOT_FOUND
        );
        assert!(
            error
                .to_string()
                .contains("current version is 2; earlier versions kept: 1"),
            "{error}"
        );
    }
}

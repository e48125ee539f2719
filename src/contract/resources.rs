//! Resources a consumer sends, checked against their [`profiles`]: the
//! DSTU2 booking, amend, cancel and Order bodies, and the JWT's claim
//! resources. Each finding becomes a violation of the catalogue rule the
//! operation's provider test packs expect (DOMAIN.md §11). 1.x bodies are
//! [`resources_stu3`]'s.

use serde_json::{Map, Value};

use super::profiles::{self, Finding, Problem, Profile};
use super::{resources_stu3, RuleId, Violation};
use crate::fhir::Era;

/// The DSTU2 cancellation-reason extension (DOMAIN.md §9).
pub const CANCELLATION_REASON_DSTU2: &str =
    "http://fhir.nhs.net/StructureDefinition/extension-gpconnect-appointment-cancellation-reason-1";

/// What a body is checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `POST /Appointment`.
    Book,
    /// `PUT /Appointment/{id}`: amend or cancel.
    Update,
    /// `POST /Order`.
    Order,
    /// A GP Connect 1.x body ([`resources_stu3`]).
    Stu3(resources_stu3::BodyKind),
}

impl BodyKind {
    /// The kind of an operation's body, by its interaction's method and
    /// path shape, in `era`.
    pub fn of(era: Era, method: &str, shape: &str) -> Option<BodyKind> {
        if era == Era::Stu3 {
            return resources_stu3::BodyKind::of(method, shape).map(BodyKind::Stu3);
        }
        match (method, shape) {
            ("POST", "/Appointment") => Some(BodyKind::Book),
            ("PUT", "/Appointment/{id}") => Some(BodyKind::Update),
            ("POST", "/Order") => Some(BodyKind::Order),
            _ => None,
        }
    }
}

fn of(rule: RuleId, finding: &Finding) -> Violation {
    let (at, message) = finding.describe("body");
    Violation::of(rule, at, message)
}

/// Checks a request body of `kind`; `path_id` is the `{id}` of an update.
pub fn check_body(kind: BodyKind, body: &Value, path_id: Option<&str>, out: &mut Vec<Violation>) {
    if let BodyKind::Stu3(kind) = kind {
        return resources_stu3::check_body(kind, body, path_id, out);
    }
    let resource_type = body.get("resourceType").and_then(Value::as_str);
    match kind {
        BodyKind::Book | BodyKind::Update if resource_type != Some("Appointment") => {
            out.push(Violation::of(
                RuleId::AppointmentBodyType,
                "body /resourceType",
                format!(
                    "must be Appointment, was {}",
                    resource_type.map_or("absent".to_string(), |t| format!("{t:?}"))
                ),
            ));
        }
        BodyKind::Book => check_booking(body, out),
        BodyKind::Update => check_update(body, path_id, out),
        BodyKind::Order => check_order(body, out),
        BodyKind::Stu3(_) => {}
    }
}

fn check_booking(body: &Value, out: &mut Vec<Violation>) {
    if body.get("id").is_some() {
        out.push(Violation::of(
            RuleId::AppointmentCreateId,
            "body /id",
            "must be absent: the provider assigns the id of a booking",
        ));
    }
    for finding in profiles::APPOINTMENT_DSTU2.check(body) {
        let rule = match finding.problem {
            Problem::Extension(_) => RuleId::AppointmentExtension,
            _ => RuleId::AppointmentProfile,
        };
        out.push(of(rule, &finding));
    }
    let actors: Vec<&str> = body
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.pointer("/actor/reference").and_then(Value::as_str))
        .collect();
    let missing: Vec<&str> = ["Patient", "Practitioner"]
        .into_iter()
        .filter(|kind| !actors.iter().any(|r| references_type(r, kind)))
        .collect();
    if !missing.is_empty() {
        out.push(Violation::of(
            RuleId::AppointmentParticipants,
            "body /participant",
            format!(
                "must include a {} actor, found {}",
                missing.join(" and a "),
                if actors.is_empty() {
                    "none".to_string()
                } else {
                    actors.join(", ")
                }
            ),
        ));
    }
}

/// `Patient/2`, `http://host/fhir/Patient/2`: whether a reference names a `kind`.
fn references_type(reference: &str, kind: &str) -> bool {
    let mut segments = reference.trim_end_matches('/').rsplit('/');
    let _id = segments.next();
    segments.next() == Some(kind)
}

fn check_update(body: &Value, path_id: Option<&str>, out: &mut Vec<Violation>) {
    for finding in profiles::APPOINTMENT_DSTU2.check(body) {
        let rule = match finding.problem {
            Problem::Extension(_) => RuleId::AppointmentExtension,
            _ => RuleId::AppointmentUpdateInvalid,
        };
        out.push(of(rule, &finding));
    }
    if let (Some(id), Some(path_id)) = (body.get("id").and_then(Value::as_str), path_id) {
        if id != path_id {
            out.push(Violation::of(
                RuleId::AppointmentUpdateInvalid,
                "body /id",
                format!("must be the id in the path {path_id:?}, was {id:?}"),
            ));
        }
    }
    if body.get("status").and_then(Value::as_str) != Some("cancelled") {
        return;
    }
    let reason = body
        .get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(CANCELLATION_REASON_DSTU2));
    let problem = match reason {
        None => Some(format!(
            "must carry the cancellation-reason extension {CANCELLATION_REASON_DSTU2}"
        )),
        Some(extension) => match extension.get("valueString").and_then(Value::as_str) {
            Some(text) if !text.trim().is_empty() => None,
            _ => Some("cancellation-reason extension must have a non-empty valueString".into()),
        },
    };
    if let Some(problem) = problem {
        out.push(Violation::of(
            RuleId::AppointmentCancelReason,
            "body /extension",
            format!("a cancel {problem}"),
        ));
    }
}

/// GP Connect 0.x's profiles start so (`gpconnect-task-order-1`).
const GPC_PROFILE_PREFIX: &str = "http://fhir.nhs.net/StructureDefinition/gpconnect-";

fn check_order(body: &Value, out: &mut Vec<Violation>) {
    let resource_type = body.get("resourceType").and_then(Value::as_str);
    if resource_type != Some("Order") {
        out.push(Violation::of(
            RuleId::OrderProfile,
            "body /resourceType",
            format!(
                "must be Order, was {}",
                resource_type.map_or("absent".to_string(), |t| format!("{t:?}"))
            ),
        ));
        return;
    }
    for finding in profiles::ORDER_DSTU2.check(body) {
        out.push(of(RuleId::OrderProfile, &finding));
    }
    let profiled = body
        .pointer("/meta/profile")
        .and_then(Value::as_array)
        .is_some_and(|p| {
            p.iter()
                .filter_map(Value::as_str)
                .any(|url| url.starts_with(GPC_PROFILE_PREFIX))
        });
    if !profiled {
        out.push(Violation::of(
            RuleId::OrderProfile,
            "body /meta/profile",
            format!("must name a GP Connect profile ({GPC_PROFILE_PREFIX}task-order-1)"),
        ));
    }
    let contained: Vec<&str> = body
        .get("contained")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("id").and_then(Value::as_str))
        .collect();
    let mut references = Vec::new();
    collect_references(body, String::new(), &mut references);
    for (pointer, reference) in references {
        let resolves = match reference.strip_prefix('#') {
            Some(id) => contained.contains(&id),
            None => is_relative_reference(reference),
        };
        if !resolves {
            out.push(Violation::of(
                RuleId::OrderReference,
                format!("body {pointer}"),
                format!(
                    "{reference:?} does not resolve: expected #<contained id> ({}) or <Type>/<id>",
                    if contained.is_empty() {
                        "none contained".to_string()
                    } else {
                        contained.join(", ")
                    }
                ),
            ));
        }
    }
    if let Some(date) = body.get("date").and_then(Value::as_str) {
        let today = chrono::Utc::now().date_naive();
        let day = chrono::DateTime::parse_from_rfc3339(date)
            .map(|d| d.date_naive())
            .ok()
            .or_else(|| crate::fhir::parse_day(date));
        match day {
            Some(day) if (day - today).num_days().abs() <= 1 => {}
            _ => out.push(Violation::of(
                RuleId::OrderDate,
                "body /date",
                format!("must be today ({today}), was {date:?}"),
            )),
        }
    }
}

/// `Patient/2`: a type and an id (the local form a provider resolves).
fn is_relative_reference(reference: &str) -> bool {
    let mut parts = reference.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(kind), Some(id), None) => {
            kind.starts_with(|c: char| c.is_ascii_uppercase())
                && kind.chars().all(|c| c.is_ascii_alphabetic())
                && !id.is_empty()
        }
        _ => false,
    }
}

/// Every `reference` of a body outside `contained`, with its pointer.
fn collect_references<'v>(value: &'v Value, pointer: String, out: &mut Vec<(String, &'v str)>) {
    match value {
        Value::Object(fields) => {
            for (key, item) in fields {
                if key == "contained" {
                    continue;
                }
                let inner = format!("{pointer}/{key}");
                match (key.as_str(), item) {
                    ("reference", Value::String(text)) => out.push((inner, text)),
                    _ => collect_references(item, inner, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_references(item, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// DSTU2's claim resources: only what their types define; the
/// organisation identified by ODS code; the practitioner by SDS user id
/// and named (DOMAIN.md §11, 0.7.3).
pub fn check_claim_resources(claims: &Map<String, Value>, out: &mut Vec<Violation>) {
    let claim = |name: &str| format!("JWT claim {name}");
    let profiles: [(&str, &Profile); 3] = [
        ("requesting_device", &profiles::DEVICE_DSTU2),
        ("requesting_organization", &profiles::ORGANIZATION_DSTU2),
        ("requesting_practitioner", &profiles::PRACTITIONER_DSTU2),
    ];
    for (name, profile) in profiles {
        let Some(resource) = claims
            .get(name)
            .filter(|v| v.get("resourceType").and_then(Value::as_str) == Some(profile.resource))
        else {
            continue;
        };
        for finding in profile.check(resource) {
            // A practitioner's missing identifier value is its own rule.
            if finding.problem == Problem::IdentifierValue {
                continue;
            }
            let (at, message) = finding.describe(&claim(name));
            out.push(Violation::of(RuleId::JwtClaimResourceElement, at, message));
        }
    }
    let has_identifier = |resource: &Value, systems: &[&str]| {
        resource
            .get("identifier")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|id| {
                id.get("system")
                    .and_then(Value::as_str)
                    .is_some_and(|s| systems.contains(&s))
                    && id
                        .get("value")
                        .and_then(Value::as_str)
                        .is_some_and(|v| !v.trim().is_empty())
            })
    };
    if let Some(organization) = claims
        .get("requesting_organization")
        .filter(|v| v.is_object())
    {
        const ODS: [&str; 1] = ["http://fhir.nhs.net/Id/ods-organization-code"];
        if !has_identifier(organization, &ODS) {
            out.push(Violation::of(
                RuleId::JwtOrganizationIdentifier,
                claim("requesting_organization.identifier"),
                format!(
                    "must hold an ODS code: an identifier with system {}",
                    ODS[0]
                ),
            ));
        }
    }
    if let Some(practitioner) = claims
        .get("requesting_practitioner")
        .filter(|v| v.is_object())
    {
        const SDS: [&str; 2] = [
            "http://fhir.nhs.net/sds-user-id",
            "http://fhir.nhs.net/Id/sds-user-id",
        ];
        if !has_identifier(practitioner, &SDS) {
            out.push(Violation::of(
                RuleId::JwtPractitionerIdentifier,
                claim("requesting_practitioner.identifier"),
                format!(
                    "must hold an SDS user id: an identifier with system {} and a value (UNK without a smartcard)",
                    SDS[0]
                ),
            ));
        }
        let name = practitioner.get("name");
        let named = name.is_some_and(|name| {
            ["family", "given"]
                .iter()
                .any(|part| match name.get(*part) {
                    Some(Value::Array(items)) => items
                        .iter()
                        .any(|i| i.as_str().is_some_and(|s| !s.trim().is_empty())),
                    Some(Value::String(text)) => !text.trim().is_empty(),
                    _ => false,
                })
        });
        if !named {
            out.push(Violation::of(
                RuleId::JwtPractitionerName,
                claim("requesting_practitioner.name"),
                "must have a family or a given name",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(kind: BodyKind, body: Value) -> Vec<RuleId> {
        let mut out = Vec::new();
        check_body(kind, &body, Some("1"), &mut out);
        out.into_iter().map(|v| v.rule).collect()
    }

    fn booking() -> Value {
        json!({
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2030-01-07T09:00:00+00:00",
            "end": "2030-01-07T09:10:00+00:00",
            "slot": [{"reference": "Slot/1"}],
            "participant": [
                {"actor": {"reference": "Patient/2"}, "status": "accepted"},
                {"actor": {"reference": "Practitioner/1"}, "status": "accepted"}
            ]
        })
    }

    #[test]
    fn bookings() {
        assert_eq!(rules(BodyKind::Book, booking()), vec![]);
        let mut with_id = booking();
        with_id["id"] = json!("9");
        assert_eq!(
            rules(BodyKind::Book, with_id),
            vec![RuleId::AppointmentCreateId]
        );
        let mut no_practitioner = booking();
        no_practitioner["participant"]
            .as_array_mut()
            .map(|p| p.pop());
        assert_eq!(
            rules(BodyKind::Book, no_practitioner),
            vec![RuleId::AppointmentParticipants]
        );
        assert_eq!(
            rules(BodyKind::Book, json!({"resourceType": "Patient"})),
            vec![RuleId::AppointmentBodyType]
        );
    }

    #[test]
    fn cancels_need_a_reason() {
        let mut cancel = booking();
        cancel["id"] = json!("1");
        cancel["status"] = json!("cancelled");
        assert_eq!(
            rules(BodyKind::Update, cancel.clone()),
            vec![RuleId::AppointmentCancelReason]
        );
        cancel["extension"] = json!([{"url": CANCELLATION_REASON_DSTU2, "valueString": "ill"}]);
        assert_eq!(rules(BodyKind::Update, cancel.clone()), vec![]);
        cancel["id"] = json!("2");
        assert_eq!(
            rules(BodyKind::Update, cancel),
            vec![RuleId::AppointmentUpdateInvalid]
        );
    }

    #[test]
    fn orders() {
        let today = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S+00:00")
            .to_string();
        let order = json!({
            "resourceType": "Order",
            "meta": {"profile": ["http://fhir.nhs.net/StructureDefinition/gpconnect-task-order-1"]},
            "contained": [{"resourceType": "Basic", "id": "task1"}],
            "date": today,
            "subject": {"reference": "Patient/2"},
            "detail": [{"reference": "#task1"}]
        });
        assert_eq!(rules(BodyKind::Order, order.clone()), vec![]);
        let mut broken = order.clone();
        broken["detail"] = json!([{"reference": "#task2"}]);
        broken["date"] = json!("2017-02-24T13:51:00+00:00");
        broken.as_object_mut().map(|o| o.remove("subject"));
        assert_eq!(
            rules(BodyKind::Order, broken),
            vec![
                RuleId::OrderProfile,
                RuleId::OrderReference,
                RuleId::OrderDate
            ]
        );
    }

    #[test]
    fn claim_resources() {
        let claims = |edit: &dyn Fn(&mut Value)| {
            let mut claims = json!({
                "requesting_device": {"resourceType": "Device", "id": "1", "model": "m", "version": "1"},
                "requesting_organization": {"resourceType": "Organization", "identifier": [{"system": "http://fhir.nhs.net/Id/ods-organization-code", "value": "GPC001"}]},
                "requesting_practitioner": {"resourceType": "Practitioner", "id": "1", "name": {"family": ["Demo"]}, "identifier": [{"system": "http://fhir.nhs.net/sds-user-id", "value": "UNK"}]}
            });
            edit(&mut claims);
            let mut out = Vec::new();
            check_claim_resources(claims.as_object().expect("object"), &mut out);
            out.into_iter().map(|v| v.rule).collect::<Vec<_>>()
        };
        assert_eq!(claims(&|_| {}), vec![]);
        assert_eq!(
            claims(&|c| c["requesting_device"]["colour"] = json!("red")),
            vec![RuleId::JwtClaimResourceElement]
        );
        assert_eq!(
            claims(&|c| c["requesting_organization"]["identifier"][0]["system"] = json!("urn:x")),
            vec![RuleId::JwtOrganizationIdentifier]
        );
        assert_eq!(
            claims(&|c| c["requesting_practitioner"]["identifier"] = json!([])),
            vec![RuleId::JwtPractitionerIdentifier]
        );
        assert_eq!(
            claims(&|c| c["requesting_practitioner"]["name"] = json!({"prefix": ["Dr"]})),
            vec![RuleId::JwtPractitionerName]
        );
    }
}

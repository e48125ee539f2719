//! Resources a GP Connect 1.x (STU3) consumer sends, checked against their
//! [`profiles_stu3`](super::profiles_stu3): the `$gpc.registerpatient`
//! Parameters (DOMAIN-STU3.md §3) and the booking, amend and cancel bodies
//! (DOMAIN.md §2b, §10.12–13). Each finding is a violation of the
//! catalogue rule the 1.x provider test pack expects (DOMAIN-STU3.md §7
//! wins where the pages differ: a registration lacking demographics is a
//! 400, not a 422). Only the body is read: whether the slot is free or the
//! stored appointment matches is the scenarios' business.

use serde_json::Value;

use super::profiles::{Finding, Problem};
use super::profiles_stu3::{
    APPOINTMENT_PROFILE, APPOINTMENT_STU3, ORGANIZATION_STU3, PARAMETERS_STU3, PATIENT_PROFILE,
    PATIENT_REGISTER_STU3,
};
use super::{nhs_number, shown, RuleId, Violation};

/// The 1.x cancellation-reason extension.
pub const CANCELLATION_REASON: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-AppointmentCancellationReason-1";
/// The 1.x booking-organisation extension.
pub const BOOKING_ORGANISATION: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-BookingOrganisation-1";
/// The registration's one extension.
pub const NHS_COMMUNICATION: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-NHSCommunication-1";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";

/// What a 1.x body is checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `POST /Patient/$gpc.registerpatient`.
    Register,
    /// `POST /Appointment`.
    Book,
    /// `PUT /Appointment/{id}`: amend or cancel.
    Update,
}

impl BodyKind {
    /// The kind of a 1.x operation's body by method and path shape.
    pub fn of(method: &str, shape: &str) -> Option<BodyKind> {
        match (method, shape) {
            ("POST", "/Patient/$gpc.registerpatient") => Some(BodyKind::Register),
            ("POST", "/Appointment") => Some(BodyKind::Book),
            ("PUT", "/Appointment/{id}") => Some(BodyKind::Update),
            _ => None,
        }
    }
}

/// Checks a 1.x request body of `kind`; `path_id` is the `{id}` of an update.
pub fn check_body(kind: BodyKind, body: &Value, path_id: Option<&str>, out: &mut Vec<Violation>) {
    match kind {
        BodyKind::Register => check_register(body, out),
        BodyKind::Book => check_booking(body, out),
        BodyKind::Update => check_update(body, path_id, out),
    }
}

fn str_at<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

fn items<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn type_of(value: &Value) -> String {
    str_at(value, "resourceType").map_or("absent".to_string(), shown)
}

fn profiled(resource: &Value, url: &str) -> bool {
    resource
        .pointer("/meta/profile")
        .and_then(Value::as_array)
        .is_some_and(|profiles| profiles.iter().any(|p| p.as_str() == Some(url)))
}

fn of(rule: RuleId, finding: &Finding, what: &str) -> Violation {
    let (at, message) = finding.describe(what);
    Violation::of(rule, at, message)
}

// ---- $gpc.registerpatient

fn check_register(body: &Value, out: &mut Vec<Violation>) {
    let invalid =
        |at: String, message: String| Violation::of(RuleId::RegisterPatientBody, at, message);
    if str_at(body, "resourceType") != Some("Parameters") {
        out.push(invalid(
            "body /resourceType".into(),
            format!("must be Parameters, was {}", type_of(body)),
        ));
        return;
    }
    for finding in PARAMETERS_STU3.check(body) {
        out.push(of(RuleId::RegisterPatientBody, &finding, "body"));
    }
    let parameters = items(body, "parameter");
    let mut named = Vec::new();
    for (i, parameter) in parameters.iter().enumerate() {
        match str_at(parameter, "name") {
            Some("registerPatient") => named.push((i, parameter)),
            name => out.push(invalid(
                format!("body /parameter/{i}/name"),
                format!(
                    "must be registerPatient, was {}",
                    name.map_or("absent".to_string(), shown)
                ),
            )),
        }
    }
    let (i, parameter) = match named.as_slice() {
        [] => {
            out.push(invalid(
                "body /parameter".into(),
                "must hold one registerPatient: the Patient to register".into(),
            ));
            return;
        }
        [one] => *one,
        [..] => {
            out.push(Violation::of(
                RuleId::RegisterPatientDuplicate,
                "body /parameter",
                format!(
                    "must hold registerPatient once, holds it {} times",
                    named.len()
                ),
            ));
            return;
        }
    };
    let at = format!("body /parameter/{i}/resource");
    let Some(patient) = parameter.get("resource").filter(|r| r.is_object()) else {
        out.push(invalid(at, "is required: the Patient to register".into()));
        return;
    };
    if str_at(patient, "resourceType") != Some("Patient") {
        out.push(invalid(
            format!("{at}/resourceType"),
            format!("must be Patient, was {}", type_of(patient)),
        ));
        return;
    }
    check_patient_profile(patient, &at, out);
    check_demographics(patient, &at, out);
    check_nhs_number(patient, &at, out);
}

/// CareConnect-GPC-Patient-1 as registration takes it (422).
fn check_patient_profile(patient: &Value, at: &str, out: &mut Vec<Violation>) {
    let profile =
        |at: String, message: String| Violation::of(RuleId::RegisterPatientProfile, at, message);
    let identifiers = items(patient, "identifier");
    for finding in PATIENT_REGISTER_STU3.check(patient) {
        // An NHS number without a value is the NHS number rule's.
        let nhs_value = finding.problem == Problem::IdentifierValue
            && finding
                .pointer
                .strip_prefix("/identifier/")
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| identifiers.get(i))
                .is_some_and(|id| str_at(id, "system") == Some(NHS_SYSTEM));
        if !nhs_value {
            out.push(of(RuleId::RegisterPatientProfile, &finding, at));
        }
    }
    if !profiled(patient, PATIENT_PROFILE) {
        out.push(profile(
            format!("{at}/meta/profile"),
            format!("must include {PATIENT_PROFILE}"),
        ));
    }
    let mut communications = 0;
    for (j, extension) in items(patient, "extension").iter().enumerate() {
        match str_at(extension, "url") {
            Some(NHS_COMMUNICATION) => communications += 1,
            Some(url) => out.push(profile(
                format!("{at}/extension/{j}"),
                format!(
                    "has url {}: a registration carries only the nhsCommunication extension ({NHS_COMMUNICATION})",
                    shown(url)
                ),
            )),
            None => {} // the profile's finding
        }
    }
    if communications > 1 {
        out.push(profile(
            format!("{at}/extension"),
            format!("must hold nhsCommunication at most once, holds it {communications} times"),
        ));
    }
    let mut uses = [0; 2];
    for (j, address) in items(patient, "address").iter().enumerate() {
        match str_at(address, "use") {
            Some("home") => uses[0] += 1,
            Some("temp") => uses[1] += 1,
            None => {}
            Some(other) => out.push(profile(
                format!("{at}/address/{j}/use"),
                format!("must be home or temp, was {}", shown(other)),
            )),
        }
    }
    for (count, kind) in uses.into_iter().zip(["home", "temp"]) {
        if count > 1 {
            out.push(profile(
                format!("{at}/address"),
                format!("must hold at most one {kind} address, holds {count}"),
            ));
        }
    }
}

/// What a PDS trace needs (400 BAD_REQUEST, as the 1.x pack expects).
fn check_demographics(patient: &Value, at: &str, out: &mut Vec<Violation>) {
    let bad = |at: String, message: String| {
        Violation::of(RuleId::RegisterPatientDemographics, at, message)
    };
    if str_at(patient, "birthDate").is_none_or(str::is_empty) {
        out.push(bad(format!("{at}/birthDate"), "is required".into()));
    }
    let names = items(patient, "name");
    let official: Vec<(usize, &Value)> = names
        .iter()
        .enumerate()
        .filter(|(_, name)| str_at(name, "use") == Some("official"))
        .collect();
    match official.as_slice() {
        [(j, name)] => {
            let family = str_at(name, "family").is_some_and(|f| !f.trim().is_empty());
            let given = items(name, "given")
                .iter()
                .any(|g| g.as_str().is_some_and(|g| !g.trim().is_empty()));
            if !family {
                out.push(bad(format!("{at}/name/{j}/family"), "is required".into()));
            }
            if !given {
                out.push(bad(format!("{at}/name/{j}/given"), "is required".into()));
            }
        }
        _ => out.push(bad(
            format!("{at}/name"),
            format!(
                "must hold exactly one name with use official, holds {}",
                official.len()
            ),
        )),
    }
    for (j, identifier) in items(patient, "identifier").iter().enumerate() {
        if str_at(identifier, "system").is_none_or(str::is_empty) {
            out.push(bad(
                format!("{at}/identifier/{j}/system"),
                "is required".into(),
            ));
        }
    }
    // One phone number per use; one email address.
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (j, telecom) in items(patient, "telecom").iter().enumerate() {
        let system = str_at(telecom, "system").unwrap_or("");
        let key = match system {
            "email" => ("email", ""),
            _ => (system, str_at(telecom, "use").unwrap_or("")),
        };
        if seen.contains(&key) {
            out.push(bad(
                format!("{at}/telecom/{j}"),
                if key.0 == "email" {
                    "is a second email address: at most one is allowed".to_string()
                } else {
                    format!(
                        "is a second {} {}: at most one per use is allowed",
                        key.0, key.1
                    )
                },
            ));
        } else {
            seen.push(key);
        }
    }
}

fn check_nhs_number(patient: &Value, at: &str, out: &mut Vec<Violation>) {
    let identifiers = items(patient, "identifier");
    let Some((j, identifier)) = identifiers
        .iter()
        .enumerate()
        .find(|(_, id)| str_at(id, "system") == Some(NHS_SYSTEM))
    else {
        out.push(Violation::of(
            RuleId::RegisterPatientNhsNumber,
            format!("{at}/identifier"),
            format!("must hold the patient's NHS number (system {NHS_SYSTEM})"),
        ));
        return;
    };
    let value = str_at(identifier, "value").unwrap_or("");
    if let Err(error) = nhs_number::check(value) {
        out.push(Violation::of(
            RuleId::RegisterPatientNhsNumber,
            format!("{at}/identifier/{j}/value"),
            format!("NHS number {} {error}", shown(value)),
        ));
    }
}

// ---- book, amend, cancel

/// `Patient/2`: a relative reference with a FHIR id; its type.
fn relative_type(reference: &str) -> Option<&str> {
    let (kind, id) = reference.split_once('/')?;
    let kind_ok = kind.starts_with(|c: char| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphabetic());
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (kind_ok && id_ok).then_some(kind)
}

/// The findings of the Appointment profile: extensions are the extension
/// rule's (but a cancellation reason without a value is the empty-reason
/// rule's), everything else `rule`'s.
fn check_appointment_profile(body: &Value, rule: RuleId, out: &mut Vec<Violation>) {
    let extensions = items(body, "extension");
    for finding in APPOINTMENT_STU3.check(body) {
        match &finding.problem {
            Problem::Extension(_) => {
                let reason = finding
                    .pointer
                    .strip_prefix("/extension/")
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| extensions.get(i))
                    .is_some_and(|e| str_at(e, "url") == Some(CANCELLATION_REASON));
                if !reason {
                    out.push(of(RuleId::AppointmentExtensionStu3, &finding, "body"));
                }
            }
            _ => out.push(of(rule, &finding, "body")),
        }
    }
    if !profiled(body, APPOINTMENT_PROFILE) {
        out.push(Violation::of(
            rule,
            "body /meta/profile",
            format!("must include {APPOINTMENT_PROFILE}"),
        ));
    }
}

fn check_references(body: &Value, out: &mut Vec<Violation>) {
    let bad =
        |at: String, message: String| Violation::of(RuleId::AppointmentReference, at, message);
    for (i, slot) in items(body, "slot").iter().enumerate() {
        let Some(reference) = str_at(slot, "reference") else {
            continue;
        };
        if relative_type(reference) != Some("Slot") {
            out.push(bad(
                format!("body /slot/{i}/reference"),
                format!("must be Slot/<id> (a FHIR id), was {}", shown(reference)),
            ));
        }
    }
    for (i, participant) in items(body, "participant").iter().enumerate() {
        let Some(reference) = participant
            .pointer("/actor/reference")
            .and_then(Value::as_str)
        else {
            continue;
        };
        if relative_type(reference).is_none() {
            out.push(bad(
                format!("body /participant/{i}/actor/reference"),
                format!(
                    "must be a relative reference <Type>/<id>, was {}",
                    shown(reference)
                ),
            ));
        }
    }
}

fn check_text_lengths(body: &Value, out: &mut Vec<Violation>) {
    for (name, max) in [("description", 100), ("comment", 500)] {
        let Some(text) = str_at(body, name) else {
            continue;
        };
        let length = text.chars().count();
        if length > max {
            out.push(Violation::of(
                RuleId::AppointmentTextLength,
                format!("body /{name}"),
                format!("must be at most {max} characters, is {length}"),
            ));
        }
    }
}

/// The booking-organisation extension and the contained Organization it
/// names: `(pointer of the extension, the reference)`, if present.
fn booking_reference(body: &Value) -> Option<(String, Option<&str>)> {
    items(body, "extension")
        .iter()
        .enumerate()
        .find(|(_, e)| str_at(e, "url") == Some(BOOKING_ORGANISATION))
        .map(|(i, e)| {
            (
                format!("body /extension/{i}/valueReference/reference"),
                e.pointer("/valueReference/reference")
                    .and_then(Value::as_str),
            )
        })
}

fn contained<'v>(body: &'v Value, id: &str) -> Option<(usize, &'v Value)> {
    items(body, "contained")
        .iter()
        .enumerate()
        .find(|(_, c)| str_at(c, "id") == Some(id))
}

fn check_booking_organisation(body: &Value, out: &mut Vec<Violation>) {
    let bad = |at: String, message: String| Violation::of(RuleId::BookingOrganisation, at, message);
    let Some((at, reference)) = booking_reference(body) else {
        out.push(bad(
            "body /extension".into(),
            format!("must hold the booking-organisation extension {BOOKING_ORGANISATION}"),
        ));
        return;
    };
    let Some(id) = reference.and_then(|r| r.strip_prefix('#')) else {
        out.push(bad(
            at,
            format!(
                "must be #<id> of a contained Organization, was {}",
                reference.map_or("absent".to_string(), shown)
            ),
        ));
        return;
    };
    let Some((c, organisation)) = contained(body, id) else {
        out.push(bad(at, format!("#{id} names no contained resource")));
        return;
    };
    let inner = format!("body /contained/{c}");
    if str_at(organisation, "resourceType") != Some("Organization") {
        out.push(bad(
            format!("{inner}/resourceType"),
            format!("must be Organization, was {}", type_of(organisation)),
        ));
        return;
    }
    for finding in ORGANIZATION_STU3.check(organisation) {
        out.push(of(RuleId::BookingOrganisation, &finding, &inner));
    }
    let ods = items(organisation, "identifier").iter().any(|id| {
        str_at(id, "system") == Some(ODS_SYSTEM)
            && str_at(id, "value").is_some_and(|v| !v.trim().is_empty())
    });
    if !ods {
        out.push(bad(
            format!("{inner}/identifier"),
            format!("must hold the organisation's ODS code (system {ODS_SYSTEM})"),
        ));
    }
    if str_at(organisation, "name").is_none_or(|n| n.trim().is_empty()) {
        out.push(bad(format!("{inner}/name"), "is required".into()));
    }
    if items(organisation, "telecom").is_empty() {
        out.push(bad(format!("{inner}/telecom"), "is required".into()));
    }
}

fn reason_extension(body: &Value) -> Option<(usize, &Value)> {
    items(body, "extension")
        .iter()
        .enumerate()
        .find(|(_, e)| str_at(e, "url") == Some(CANCELLATION_REASON))
}

fn check_booking(body: &Value, out: &mut Vec<Violation>) {
    if str_at(body, "resourceType") != Some("Appointment") {
        out.push(Violation::of(
            RuleId::BookingProfile,
            "body /resourceType",
            format!("must be Appointment, was {}", type_of(body)),
        ));
        return;
    }
    check_appointment_profile(body, RuleId::BookingProfile, out);
    if let Some(status) = str_at(body, "status").filter(|s| *s != "booked") {
        out.push(Violation::of(
            RuleId::BookingProfile,
            "body /status",
            format!("must be booked, was {}", shown(status)),
        ));
    }
    if let Some((i, _)) = reason_extension(body) {
        out.push(Violation::of(
            RuleId::AppointmentExtensionStu3,
            format!("body /extension/{i}"),
            "is a cancellation reason, which a booking must not carry",
        ));
    }
    let actors: Vec<&str> = items(body, "participant")
        .iter()
        .filter_map(|p| p.pointer("/actor/reference").and_then(Value::as_str))
        .collect();
    let missing: Vec<&str> = ["Patient", "Location"]
        .into_iter()
        .filter(|kind| !actors.iter().any(|r| relative_type(r) == Some(kind)))
        .collect();
    if !missing.is_empty() {
        out.push(Violation::of(
            RuleId::BookingParticipants,
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
    check_references(body, out);
    check_booking_organisation(body, out);
    check_text_lengths(body, out);
}

fn check_update(body: &Value, path_id: Option<&str>, out: &mut Vec<Violation>) {
    let invalid =
        |at: &str, message: String| Violation::of(RuleId::AppointmentUpdateProfile, at, message);
    if str_at(body, "resourceType") != Some("Appointment") {
        out.push(invalid(
            "body /resourceType",
            format!("must be Appointment, was {}", type_of(body)),
        ));
        return;
    }
    check_appointment_profile(body, RuleId::AppointmentUpdateProfile, out);
    match (str_at(body, "id"), path_id) {
        (None, _) => out.push(invalid(
            "body /id",
            "is required: the id of the appointment amended or cancelled".into(),
        )),
        (Some(id), Some(path_id)) if id != path_id => out.push(invalid(
            "body /id",
            format!(
                "must be the id in the path {}, was {}",
                shown(path_id),
                shown(id)
            ),
        )),
        _ => {}
    }
    check_references(body, out);
    // The booking organisation stays a contained one.
    if let Some((at, Some(reference))) = booking_reference(body) {
        let resolves = reference
            .strip_prefix('#')
            .is_some_and(|id| contained(body, id).is_some());
        if !resolves {
            out.push(Violation::of(
                RuleId::AppointmentReference,
                at,
                format!(
                    "must be #<id> of a contained Organization, was {}",
                    shown(reference)
                ),
            ));
        }
    }
    check_text_lengths(body, out);
    let reason = reason_extension(body);
    if str_at(body, "status") != Some("cancelled") {
        if let Some((i, _)) = reason {
            out.push(Violation::of(
                RuleId::AppointmentExtensionStu3,
                format!("body /extension/{i}"),
                "is a cancellation reason, which only a cancel (status cancelled) carries",
            ));
        }
        return;
    }
    match reason {
        None => out.push(Violation::of(
            RuleId::AppointmentCancelReasonMissing,
            "body /extension",
            format!("a cancel must carry the cancellation-reason extension {CANCELLATION_REASON}"),
        )),
        Some((i, extension)) => {
            if str_at(extension, "valueString").is_none_or(|text| text.trim().is_empty()) {
                out.push(Violation::of(
                    RuleId::AppointmentCancelReasonEmpty,
                    format!("body /extension/{i}/valueString"),
                    "must be a non-empty cancellation reason",
                ));
            }
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
            "meta": {"profile": [APPOINTMENT_PROFILE]},
            "contained": [{
                "resourceType": "Organization", "id": "1",
                "identifier": [{"system": ODS_SYSTEM, "value": "A11111"}],
                "name": "Consumer surgery",
                "telecom": [{"system": "phone", "value": "0113 000 0000"}]
            }],
            "extension": [{"url": BOOKING_ORGANISATION, "valueReference": {"reference": "#1"}}],
            "status": "booked",
            "description": "Review",
            "start": "2030-01-07T09:00:00+00:00",
            "end": "2030-01-07T09:10:00+00:00",
            "created": "2030-01-01T09:00:00+00:00",
            "slot": [{"reference": "Slot/1"}],
            "participant": [
                {"actor": {"reference": "Patient/2"}, "status": "accepted"},
                {"actor": {"reference": "Location/1"}, "status": "accepted"}
            ]
        })
    }

    fn register(patient: Value) -> Value {
        json!({"resourceType": "Parameters", "parameter": [{"name": "registerPatient", "resource": patient}]})
    }

    fn patient() -> Value {
        json!({
            "resourceType": "Patient",
            "meta": {"profile": [PATIENT_PROFILE]},
            "identifier": [{"system": NHS_SYSTEM, "value": "9000000009"}],
            "name": [{"use": "official", "family": "Jackson", "given": ["Jane"]}],
            "gender": "female",
            "birthDate": "1990-01-01",
            "telecom": [
                {"system": "phone", "use": "home", "value": "01132587418"},
                {"system": "phone", "use": "temp", "value": "01132587419"},
                {"system": "email", "use": "temp", "value": "jane@example.org"}
            ],
            "address": [{"use": "temp", "city": "Leeds"}]
        })
    }

    #[test]
    fn registrations() {
        assert_eq!(rules(BodyKind::Register, register(patient())), vec![]);
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut p = patient();
            f(&mut p);
            rules(BodyKind::Register, register(p))
        };
        assert_eq!(
            edit(&|p| p["active"] = json!(true)),
            vec![RuleId::RegisterPatientProfile]
        );
        assert_eq!(
            edit(&|p| {
                p.as_object_mut().map(|o| o.remove("birthDate"));
            }),
            vec![RuleId::RegisterPatientDemographics]
        );
        assert_eq!(
            edit(&|p| p["name"][0]["use"] = json!("anonymous")),
            vec![RuleId::RegisterPatientDemographics]
        );
        assert_eq!(
            edit(&|p| p["identifier"] = json!([])),
            vec![RuleId::RegisterPatientNhsNumber]
        );
        assert_eq!(
            edit(&|p| p["identifier"][0]["value"] = json!("9000000008")),
            vec![RuleId::RegisterPatientNhsNumber]
        );
        assert_eq!(
            edit(&|p| p["telecom"][2] = json!({"system": "phone", "use": "home", "value": "1"})),
            vec![RuleId::RegisterPatientDemographics]
        );
        assert_eq!(
            edit(&|p| p["address"] = json!([{"use": "temp"}, {"use": "temp"}])),
            vec![RuleId::RegisterPatientProfile]
        );
        let twice = json!({"resourceType": "Parameters", "parameter": [
            {"name": "registerPatient", "resource": patient()},
            {"name": "registerPatient", "resource": patient()}
        ]});
        assert_eq!(
            rules(BodyKind::Register, twice),
            vec![RuleId::RegisterPatientDuplicate]
        );
        let mut odd = register(patient());
        odd["parameter"][0]["resource"]["resourceType"] = json!("InvalidResourceType");
        assert_eq!(
            rules(BodyKind::Register, odd),
            vec![RuleId::RegisterPatientBody]
        );
    }

    #[test]
    fn bookings() {
        assert_eq!(rules(BodyKind::Book, booking()), vec![]);
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut b = booking();
            f(&mut b);
            rules(BodyKind::Book, b)
        };
        assert_eq!(
            edit(&|b| b["reason"] = json!([{"text": "x"}])),
            vec![RuleId::BookingProfile]
        );
        assert_eq!(
            edit(&|b| {
                b["participant"].as_array_mut().map(|p| p.pop());
            }),
            vec![RuleId::BookingParticipants]
        );
        assert_eq!(
            edit(&|b| b["slot"][0]["reference"] = json!("Slot/45555555##")),
            vec![RuleId::AppointmentReference]
        );
        assert_eq!(
            edit(&|b| b["extension"][0]["valueReference"]["reference"] =
                json!("https://test1.supplier.example/A11111/STU3/1/GPConnect/#1")),
            vec![RuleId::BookingOrganisation]
        );
        assert_eq!(
            edit(&|b| {
                b["contained"][0]
                    .as_object_mut()
                    .map(|o| o.remove("telecom"));
            }),
            vec![RuleId::BookingOrganisation]
        );
        assert_eq!(
            edit(&|b| b["description"] = json!("x".repeat(101))),
            vec![RuleId::AppointmentTextLength]
        );
        assert_eq!(
            rules(
                BodyKind::Book,
                json!({"resourceType": "InvalidResourceType"})
            ),
            vec![RuleId::BookingProfile]
        );
    }

    #[test]
    fn amends_and_cancels() {
        let mut amend = booking();
        amend["id"] = json!("1");
        assert_eq!(rules(BodyKind::Update, amend.clone()), vec![]);
        let mut other = amend.clone();
        other["id"] = json!("2");
        assert_eq!(
            rules(BodyKind::Update, other),
            vec![RuleId::AppointmentUpdateProfile]
        );
        let mut cancel = amend.clone();
        cancel["status"] = json!("cancelled");
        assert_eq!(
            rules(BodyKind::Update, cancel.clone()),
            vec![RuleId::AppointmentCancelReasonMissing]
        );
        if let Some(extensions) = cancel["extension"].as_array_mut() {
            extensions.push(json!({"url": CANCELLATION_REASON, "valueString": "Too busy"}));
        }
        assert_eq!(rules(BodyKind::Update, cancel.clone()), vec![]);
        cancel["extension"][1] = json!({"url": CANCELLATION_REASON});
        assert_eq!(
            rules(BodyKind::Update, cancel.clone()),
            vec![RuleId::AppointmentCancelReasonEmpty]
        );
        cancel["extension"][1] = json!({"url": "", "valueString": "Too busy"});
        assert_eq!(
            rules(BodyKind::Update, cancel),
            vec![
                RuleId::AppointmentExtensionStu3,
                RuleId::AppointmentCancelReasonMissing
            ]
        );
        assert_eq!(
            rules(BodyKind::Update, json!({"resourceType": "Bundle"})),
            vec![RuleId::AppointmentUpdateProfile]
        );
    }
}

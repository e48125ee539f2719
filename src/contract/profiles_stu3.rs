//! GP Connect 1.x (FHIR STU3) resource profiles, written as the DSTU2 ones
//! in [`super::profiles`] and checked by the same generic checker: every
//! element the STU3 (3.0.1) type defines, with GP Connect's cardinalities
//! (`1..` where a profile or use case makes an element mandatory, `0..0`
//! where it forbids one). Data types are checked through
//! [`crate::check::definitions`].
//!
//! What a profile cannot say as cardinality (an NHS number's check digit,
//! one `official` name, the contained booking organisation) is checked by
//! [`super::resources_stu3`].

use super::profiles::{data, el, p, Element, Max, Profile, Type};
use crate::check::primitives::Primitive::{
    Boolean, Code, Date, DateTime, Instant, PositiveInt, Str, UnsignedInt,
};
use crate::fhir::Era;
use Max::{Many, One, Zero};

/// The CareConnect-GPC-Patient-1 profile URL.
pub const PATIENT_PROFILE: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1";
/// The GPConnect-Appointment-1 profile URL.
pub const APPOINTMENT_PROFILE: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Appointment-1";

/// GP Connect 1.x Appointment extensions (booking organisation, delivery
/// channel, practitioner role, cancellation reason) start so.
pub const GPC_EXTENSIONS: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-";
/// CareConnect GPC extensions of a Patient (`nhsCommunication`, the NHS
/// number's verification status on its identifier) start so.
pub const CARECONNECT_GPC_EXTENSIONS: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-";

const APPOINTMENT_PARTICIPANT: &[Element] = &[
    el("type", 0, Many, data("CodeableConcept")),
    // GPConnect-Appointment-1: "an actor reference in any supplied participant".
    el("actor", 1, One, data("Reference")),
    el("required", 0, One, p(Code)),
    el("status", 1, One, p(Code)),
];

/// GPConnect-Appointment-1 as a booking, amend or cancel sends it: `start`,
/// `end`, `slot`, `participant`, `created` and `description` mandatory;
/// `reason` and `specialty` forbidden (DOMAIN.md §2b, DOMAIN-STU3.md §3).
pub static APPOINTMENT_STU3: Profile = Profile {
    resource: "Appointment",
    era: Era::Stu3,
    elements: &[
        el("identifier", 0, Many, data("Identifier")),
        el("status", 1, One, p(Code)),
        el("serviceCategory", 0, One, data("CodeableConcept")),
        el("serviceType", 0, Many, data("CodeableConcept")),
        el("specialty", 0, Zero, data("CodeableConcept")),
        el("appointmentType", 0, One, data("CodeableConcept")),
        el("reason", 0, Zero, data("CodeableConcept")),
        el("indication", 0, Many, data("Reference")),
        el("priority", 0, One, p(UnsignedInt)),
        el("description", 1, One, p(Str)),
        el("supportingInformation", 0, Many, data("Reference")),
        el("start", 1, One, p(Instant)),
        el("end", 1, One, p(Instant)),
        el("minutesDuration", 0, One, p(PositiveInt)),
        el("slot", 1, Many, data("Reference")),
        el("created", 1, One, p(DateTime)),
        el("comment", 0, One, p(Str)),
        el("incomingReferral", 0, Many, data("Reference")),
        el(
            "participant",
            1,
            Many,
            Type::Backbone(APPOINTMENT_PARTICIPANT),
        ),
        el("requestedPeriod", 0, Many, data("Period")),
    ],
    extension_namespaces: &[GPC_EXTENSIONS],
};

/// CareConnect-GPC-Patient-1 as `$gpc.registerpatient` takes it: only
/// identifiers, names, telecoms, gender, birth date and addresses (and the
/// `nhsCommunication` extension); every other element forbidden
/// (DOMAIN-STU3.md §3). Which of these are mandatory is the demographics
/// rule's (a 400, not a profile's 422: the 1.x pack).
pub static PATIENT_REGISTER_STU3: Profile = Profile {
    resource: "Patient",
    era: Era::Stu3,
    elements: &[
        el("identifier", 0, Many, data("Identifier")),
        el("active", 0, Zero, p(Boolean)),
        el("name", 0, Many, data("HumanName")),
        el("telecom", 0, Many, data("ContactPoint")),
        el("gender", 0, One, p(Code)),
        el("birthDate", 0, One, p(Date)),
        el("deceased", 0, Zero, Type::Choice(&["Boolean", "DateTime"])),
        el("address", 0, Many, data("Address")),
        el("maritalStatus", 0, Zero, data("CodeableConcept")),
        el(
            "multipleBirth",
            0,
            Zero,
            Type::Choice(&["Boolean", "Integer"]),
        ),
        el("photo", 0, Zero, data("Attachment")),
        el("contact", 0, Zero, Type::Backbone(&[])),
        el("animal", 0, Zero, Type::Backbone(&[])),
        el("communication", 0, Zero, Type::Backbone(&[])),
        el("generalPractitioner", 0, Zero, data("Reference")),
        el("managingOrganization", 0, Zero, data("Reference")),
        el("link", 0, Zero, Type::Backbone(&[])),
    ],
    extension_namespaces: &[CARECONNECT_GPC_EXTENSIONS],
};

/// CareConnect-GPC-Organization-1 (the booking organisation contained in a
/// booking; its ODS code, `name` and `telecom` are the booking rule's).
pub static ORGANIZATION_STU3: Profile = Profile {
    resource: "Organization",
    era: Era::Stu3,
    elements: &[
        el("identifier", 0, Many, data("Identifier")),
        el("active", 0, One, p(Boolean)),
        el("type", 0, Many, data("CodeableConcept")),
        el("name", 0, One, p(Str)),
        el("alias", 0, Many, p(Str)),
        el("telecom", 0, Many, data("ContactPoint")),
        el("address", 0, Many, data("Address")),
        el("partOf", 0, One, data("Reference")),
        el("contact", 0, Many, Type::Backbone(&[])),
        el("endpoint", 0, Many, data("Reference")),
    ],
    extension_namespaces: &[],
};

const PARAMETER: &[Element] = &[
    el("name", 1, One, p(Str)),
    el(
        "value",
        0,
        One,
        Type::Choice(&[
            "Boolean",
            "Integer",
            "Decimal",
            "String",
            "Code",
            "Uri",
            "Date",
            "DateTime",
            "Instant",
            "Identifier",
            "CodeableConcept",
            "Coding",
            "Period",
            "Reference",
        ]),
    ),
    el("resource", 0, One, Type::Resources),
    // Parts are parameters again; their elements are not checked here.
    el("part", 0, Many, Type::Backbone(&[])),
];

/// STU3 Parameters (an operation's body).
pub static PARAMETERS_STU3: Profile = Profile {
    resource: "Parameters",
    era: Era::Stu3,
    elements: &[el("parameter", 0, Many, Type::Backbone(PARAMETER))],
    extension_namespaces: &[],
};

#[cfg(test)]
mod tests {
    use super::super::profiles::Problem;
    use super::*;
    use serde_json::json;

    #[test]
    fn forbidden_elements_are_findings() {
        let patient = json!({
            "resourceType": "Patient",
            "meta": {"profile": [PATIENT_PROFILE]},
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009",
                "extension": [{"url": "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-NHSNumberVerificationStatus-1",
                    "valueCodeableConcept": {"coding": [{"code": "01"}]}}]}],
            "name": [{"use": "official", "family": "Jackson", "given": ["Jane"]}],
            "birthDate": "1990-01-01"
        });
        assert_eq!(PATIENT_REGISTER_STU3.check(&patient), vec![]);
        let mut odd = patient.clone();
        odd["active"] = json!(true);
        odd["multipleBirthBoolean"] = json!(true);
        odd["colour"] = json!("red");
        let problems: Vec<(String, Problem)> = PATIENT_REGISTER_STU3
            .check(&odd)
            .into_iter()
            .map(|f| (f.pointer, f.problem))
            .collect();
        assert!(problems.contains(&("/active".into(), Problem::Prohibited)));
        assert!(problems.contains(&("/multipleBirthBoolean".into(), Problem::Prohibited)));
        assert!(problems.contains(&("/colour".into(), Problem::Unknown)));
        let booking = json!({
            "resourceType": "Appointment",
            "status": "booked",
            "description": "x",
            "start": "2030-01-07T09:00:00+00:00",
            "end": "2030-01-07T09:10:00+00:00",
            "created": "2030-01-01T09:00:00+00:00",
            "slot": [{"reference": "Slot/1"}],
            "participant": [{"actor": {"reference": "Patient/2"}, "status": "accepted"}],
            "reason": [{"text": "x"}]
        });
        let found = APPOINTMENT_STU3.check(&booking);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].problem, Problem::Prohibited);
    }
}

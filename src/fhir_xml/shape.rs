//! What FHIR XML leaves to the structure definitions and JSON needs:
//! which elements repeat (become arrays, even when they occur once) and
//! which primitives are JSON booleans or numbers. A table written from the
//! FHIR DSTU2 (1.0.2) and STU3 (3.0.1) definitions of the resources and
//! data types GP Connect uses; anything it does not name is a single
//! string. Paths are element paths below the resource type
//! (`Patient.name.family`), without indexes.

use crate::fhir::Era;

/// Elements that repeat wherever they occur, in both eras.
const ARRAYS: &[&str] = &[
    "extension",
    "modifierExtension",
    "identifier",
    "contained",
    "coding",
    "telecom",
    "address",
    "given",
    "prefix",
    "suffix",
    "line",
    "entry",
    "link",
    "issue",
    "parameter",
    "part",
    "participant",
    "slot",
    "profile",
    "security",
    "tag",
    "contact",
    "communication",
    "generalPractitioner",
    "careProvider",
    "photo",
    "qualification",
    "practitionerRole",
    "section",
    "author",
    "attester",
    "event",
    "rest",
    "interaction",
    "searchParam",
    "operation",
    "format",
    "patchFormat",
    "implementationGuide",
    "instantiates",
    "searchInclude",
    "searchRevInclude",
    "specialty",
    "serviceType",
    "location",
    "healthcareService",
    "endpoint",
    "alias",
    "expression",
    "incomingReferral",
    "basedOn",
    "supportingInformation",
    "requestedPeriod",
    "service",
    "detail",
    "availableTime",
    "notAvailable",
    "daysOfWeek",
];

/// Paths where a name of [`ARRAYS`] is single (both eras).
const SINGLE: &[&str] = &[
    "Location.address",
    "Conformance.rest.resource.profile",
    "CapabilityStatement.rest.resource.profile",
    "Conformance.rest.security",
    "CapabilityStatement.rest.security",
];

/// Paths that repeat although their name alone does not (both eras).
const ARRAY_PATHS: &[&str] = &[
    "Conformance.rest.resource",
    "Conformance.rest.resource.searchParam.target",
    "Conformance.rest.resource.searchParam.modifier",
    "Conformance.rest.resource.searchParam.chain",
    "CapabilityStatement.rest.resource.searchParam.target",
    "CapabilityStatement.rest.resource.searchParam.modifier",
    "CapabilityStatement.rest.resource.searchParam.chain",
    "CapabilityStatement.rest.resource",
    "Appointment.participant.type",
    "Composition.event.code",
    "Composition.attester.mode",
    "PractitionerRole.code",
    "DocumentReference.content",
    "DocumentReference.securityLabel",
    "DocumentReference.context.event",
    "Patient.name",
    "Slot.specialty",
];

/// By era: (path or name, repeats).
const DSTU2: &[(&str, bool)] = &[
    ("family", true),
    ("Practitioner.name", false),
    ("Schedule.type", true),
    ("note", false),
];
const STU3: &[(&str, bool)] = &[
    ("family", false),
    ("Practitioner.name", true),
    ("Organization.type", true),
    ("Schedule.actor", true),
    ("Appointment.reason", true),
    ("note", true),
    // Access Record Structured's clinical resources.
    ("AllergyIntolerance.category", true),
    ("AllergyIntolerance.reaction", true),
    ("AllergyIntolerance.reaction.manifestation", true),
    ("Encounter.type", true),
    ("Encounter.participant.type", true),
    ("Encounter.reason", true),
    ("Encounter.diagnosis", true),
    ("Condition.category", true),
    ("Condition.bodySite", true),
    ("Immunization.practitioner", true),
    ("Immunization.explanation.reasonNotGiven", true),
    ("Immunization.explanation.reason", true),
    ("Observation.category", true),
    ("Observation.performer", true),
    ("Observation.referenceRange", true),
    ("Observation.component", true),
    ("Observation.related", true),
    ("DiagnosticReport.performer", true),
    ("DiagnosticReport.specimen", true),
    ("DiagnosticReport.result", true),
    ("MedicationStatement.dosage", true),
    ("MedicationStatement.reasonCode", true),
    ("MedicationRequest.dosageInstruction", true),
    ("ReferralRequest.recipient", true),
    ("ReferralRequest.reasonCode", true),
    ("ReferralRequest.serviceRequested", true),
    ("ProcedureRequest.reasonCode", true),
    ("ProcedureRequest.category", true),
];

/// The JSON type of a primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Boolean,
    Number,
}

const BOOLEANS: &[&str] = &[
    "active",
    "experimental",
    "preferred",
    "userSelected",
    "overbooked",
    "deceasedBoolean",
    "multipleBirthBoolean",
    "valueBoolean",
    "lockedDate",
    "abstract",
    "required",
    "readHistory",
    "updateCreate",
    "conditionalCreate",
    "conditionalUpdate",
    "cors",
    "mustSupport",
    "isModifier",
    "notGiven",
    "primarySource",
];

const NUMBERS: &[&str] = &[
    "total",
    "minutesDuration",
    "priority",
    "rank",
    "count",
    "valueInteger",
    "valueDecimal",
    "valuePositiveInt",
    "valueUnsignedInt",
    "multipleBirthInteger",
    "latitude",
    "longitude",
    "altitude",
    "size",
    "sequence",
    "numberOfInstances",
    "numberOfSeries",
];

/// Whether element `name` below `path` repeats.
pub fn is_array(era: Era, path: &str, name: &str) -> bool {
    let full = format!("{path}.{name}");
    let by_era = match era {
        Era::Dstu2 => DSTU2,
        Era::Stu3 => STU3,
    };
    if let Some((_, repeats)) = by_era.iter().find(|(key, _)| *key == full) {
        return *repeats;
    }
    if ARRAY_PATHS.contains(&full.as_str()) {
        return true;
    }
    if SINGLE.contains(&full.as_str()) {
        return false;
    }
    if let Some((_, repeats)) = by_era.iter().find(|(key, _)| *key == name) {
        return *repeats;
    }
    ARRAYS.contains(&name)
}

/// The JSON type of primitive `name`; `quantity` says its parent has the
/// elements of a Quantity (`unit`, `code` or `comparator`), whose `value`
/// is a decimal.
pub fn kind(name: &str, quantity: bool) -> Kind {
    if BOOLEANS.contains(&name) {
        Kind::Boolean
    } else if NUMBERS.contains(&name) || (name == "value" && quantity) {
        Kind::Number
    } else {
        Kind::String
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_by_name_path_and_era() {
        assert!(is_array(Era::Dstu2, "Patient", "identifier"));
        assert!(is_array(Era::Stu3, "Patient", "name"));
        assert!(!is_array(Era::Dstu2, "Practitioner", "name"));
        assert!(is_array(Era::Stu3, "Practitioner", "name"));
        assert!(is_array(Era::Dstu2, "Patient.name", "family"));
        assert!(!is_array(Era::Stu3, "Patient.name", "family"));
        assert!(!is_array(Era::Stu3, "Location", "address"));
        assert!(is_array(Era::Stu3, "Conformance.rest", "resource"));
        assert!(!is_array(Era::Stu3, "Bundle.entry", "resource"));
        assert!(!is_array(Era::Stu3, "Patient.maritalStatus", "code"));
        assert!(!is_array(Era::Dstu2, "Organization", "type"));
        assert!(is_array(Era::Stu3, "Organization", "type"));
    }

    #[test]
    fn primitive_kinds() {
        assert_eq!(kind("active", false), Kind::Boolean);
        assert_eq!(kind("total", false), Kind::Number);
        assert_eq!(kind("value", true), Kind::Number);
        assert_eq!(kind("value", false), Kind::String);
        assert_eq!(kind("birthDate", false), Kind::String);
    }
}

//! The element types `check` validates primitives by: for each resource,
//! backbone element and data type the default packs use, what type each
//! element has. Written from the FHIR DSTU2 (1.0.2) and STU3 (3.0.1)
//! definitions; where the two eras differ the table says so. Elements not
//! listed are not checked (this is a validator of primitives, not of
//! structure: the response checks and profiles cover the rest).

use super::primitives::Primitive::{
    self, Base64Binary, Boolean, Code, Date, DateTime, Decimal, Id, Instant, Integer, PositiveInt,
    Str, Time, UnsignedInt, Uri,
};
use crate::fhir::Era;

/// What an element holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Primitive(Primitive),
    /// A data type or backbone element, named as in this table
    /// (`Identifier`, `Bundle.entry`).
    Complex(&'static str),
    /// A whole resource (`Bundle.entry.resource`, `contained`): its own
    /// `resourceType` says which.
    Resource,
    /// A choice element (`value[x]`): the key's suffix names the type.
    Choice,
}

use Kind::{Choice, Complex, Resource};

const fn p(primitive: Primitive) -> Kind {
    Kind::Primitive(primitive)
}

/// The type of `element` in `owner` (a resource, data type or backbone
/// element name), if the table knows it.
pub fn element(era: Era, owner: &str, element: &str) -> Option<Kind> {
    if let Some(kind) = common(owner, element) {
        return Some(kind);
    }
    let kind = match (owner, element) {
        // ---- data types
        ("Identifier", "use") => p(Code),
        ("Identifier", "system") => p(Uri),
        ("Identifier", "value") => p(Str),
        ("Identifier", "type") => Complex("CodeableConcept"),
        ("Identifier", "period") => Complex("Period"),
        ("Identifier", "assigner") => Complex("Reference"),
        ("CodeableConcept", "coding") => Complex("Coding"),
        ("CodeableConcept", "text") => p(Str),
        ("Coding", "system") => p(Uri),
        ("Coding", "version" | "display") => p(Str),
        ("Coding", "code") => p(Code),
        ("Coding", "userSelected") => p(Boolean),
        ("Period", "start" | "end") => p(DateTime),
        ("Meta", "versionId") => p(Id),
        ("Meta", "lastUpdated") => p(Instant),
        ("Meta", "profile") => p(Uri),
        ("Meta", "security" | "tag") => Complex("Coding"),
        ("Reference", "reference" | "display") => p(Str),
        ("Reference", "identifier") if era == Era::Stu3 => Complex("Identifier"),
        ("HumanName", "use") => p(Code),
        ("HumanName", "text" | "family" | "given" | "prefix" | "suffix") => p(Str),
        ("HumanName", "period") => Complex("Period"),
        ("ContactPoint", "system" | "use") => p(Code),
        ("ContactPoint", "value") => p(Str),
        ("ContactPoint", "rank") => p(PositiveInt),
        ("ContactPoint", "period") => Complex("Period"),
        ("Address", "use" | "type") => p(Code),
        ("Address", "text" | "line" | "city" | "district" | "state" | "postalCode" | "country") => {
            p(Str)
        }
        ("Address", "period") => Complex("Period"),
        ("Narrative", "status") => p(Code),
        ("Extension", "url") => p(Uri),
        ("Extension", "value[x]") => Choice,
        ("Quantity", "value") => p(Decimal),
        ("Quantity", "comparator" | "code") => p(Code),
        ("Quantity", "unit") => p(Str),
        ("Quantity", "system") => p(Uri),
        ("Attachment", "contentType" | "language") => p(Code),
        ("Attachment", "data" | "hash") => p(Base64Binary),
        ("Attachment", "url") => p(Uri),
        ("Attachment", "size") => p(UnsignedInt),
        ("Attachment", "title") => p(Str),
        ("Attachment", "creation") => p(DateTime),
        // ---- resources
        ("Patient", "identifier") => Complex("Identifier"),
        ("Patient", "active") => p(Boolean),
        ("Patient", "name") => Complex("HumanName"),
        ("Patient", "telecom") => Complex("ContactPoint"),
        ("Patient", "gender") => p(Code),
        ("Patient", "birthDate") => p(Date),
        ("Patient", "deceased[x]" | "multipleBirth[x]") => Choice,
        ("Patient", "address") => Complex("Address"),
        ("Patient", "maritalStatus") => Complex("CodeableConcept"),
        ("Patient", "photo") => Complex("Attachment"),
        ("Patient", "contact") => Complex("Patient.contact"),
        ("Patient", "communication") => Complex("Patient.communication"),
        ("Patient", "careProvider" | "generalPractitioner" | "managingOrganization") => {
            Complex("Reference")
        }
        ("Patient", "link") => Complex("Patient.link"),
        ("Patient.contact", "relationship") => Complex("CodeableConcept"),
        ("Patient.contact", "name") => Complex("HumanName"),
        ("Patient.contact", "telecom") => Complex("ContactPoint"),
        ("Patient.contact", "address") => Complex("Address"),
        ("Patient.contact", "gender") => p(Code),
        ("Patient.contact", "organization") => Complex("Reference"),
        ("Patient.contact", "period") => Complex("Period"),
        ("Patient.communication", "language") => Complex("CodeableConcept"),
        ("Patient.communication", "preferred") => p(Boolean),
        ("Patient.link", "other") => Complex("Reference"),
        ("Patient.link", "type") => p(Code),
        ("Practitioner", "identifier") => Complex("Identifier"),
        ("Practitioner", "active") => p(Boolean),
        ("Practitioner", "name") => Complex("HumanName"),
        ("Practitioner", "telecom") => Complex("ContactPoint"),
        ("Practitioner", "address") => Complex("Address"),
        ("Practitioner", "gender") => p(Code),
        ("Practitioner", "birthDate") => p(Date),
        ("Practitioner", "photo") => Complex("Attachment"),
        ("Practitioner", "practitionerRole") => Complex("Practitioner.practitionerRole"),
        ("Practitioner", "communication") => Complex("CodeableConcept"),
        ("Practitioner.practitionerRole", "managingOrganization" | "location") => {
            Complex("Reference")
        }
        ("Practitioner.practitionerRole", "healthcareService") => Complex("Reference"),
        ("Practitioner.practitionerRole", "role" | "specialty") => Complex("CodeableConcept"),
        ("Practitioner.practitionerRole", "period") => Complex("Period"),
        ("Organization", "identifier") => Complex("Identifier"),
        ("Organization", "active") => p(Boolean),
        ("Organization", "type") => Complex("CodeableConcept"),
        ("Organization", "name") => p(Str),
        ("Organization", "telecom") => Complex("ContactPoint"),
        ("Organization", "address") => Complex("Address"),
        ("Organization", "partOf") => Complex("Reference"),
        ("Organization", "contact") => Complex("Organization.contact"),
        ("Organization.contact", "purpose") => Complex("CodeableConcept"),
        ("Organization.contact", "name") => Complex("HumanName"),
        ("Organization.contact", "telecom") => Complex("ContactPoint"),
        ("Organization.contact", "address") => Complex("Address"),
        ("Location", "identifier") => Complex("Identifier"),
        ("Location", "status" | "mode") => p(Code),
        ("Location", "name" | "description") => p(Str),
        ("Location", "type" | "physicalType") => Complex("CodeableConcept"),
        ("Location", "telecom") => Complex("ContactPoint"),
        ("Location", "address") => Complex("Address"),
        ("Location", "position") => Complex("Location.position"),
        ("Location", "managingOrganization" | "partOf") => Complex("Reference"),
        ("Location.position", "longitude" | "latitude" | "altitude") => p(Decimal),
        ("Appointment", "identifier") => Complex("Identifier"),
        ("Appointment", "status") => p(Code),
        ("Appointment", "type" | "reason" | "serviceType" | "specialty" | "appointmentType") => {
            Complex("CodeableConcept")
        }
        ("Appointment", "priority") => p(UnsignedInt),
        ("Appointment", "description" | "comment") => p(Str),
        ("Appointment", "start" | "end") => p(Instant),
        ("Appointment", "created") => p(DateTime),
        ("Appointment", "minutesDuration") => p(PositiveInt),
        ("Appointment", "slot" | "incomingReferral" | "supportingInformation") => {
            Complex("Reference")
        }
        ("Appointment", "participant") => Complex("Appointment.participant"),
        ("Appointment", "requestedPeriod") => Complex("Period"),
        ("Appointment.participant", "type") => Complex("CodeableConcept"),
        ("Appointment.participant", "actor") => Complex("Reference"),
        ("Appointment.participant", "required" | "status") => p(Code),
        ("Slot", "identifier") => Complex("Identifier"),
        ("Slot", "type" | "serviceType" | "specialty" | "appointmentType") => {
            Complex("CodeableConcept")
        }
        ("Slot", "schedule") => Complex("Reference"),
        ("Slot", "freeBusyType" | "status") => p(Code),
        ("Slot", "start" | "end") => p(Instant),
        ("Slot", "overbooked") => p(Boolean),
        ("Slot", "comment") => p(Str),
        ("Schedule", "identifier") => Complex("Identifier"),
        ("Schedule", "active") => p(Boolean),
        ("Schedule", "type" | "serviceType" | "specialty") => Complex("CodeableConcept"),
        ("Schedule", "actor") => Complex("Reference"),
        ("Schedule", "planningHorizon") => Complex("Period"),
        ("Schedule", "comment") => p(Str),
        ("Order", "identifier") => Complex("Identifier"),
        ("Order", "date") => p(DateTime),
        ("Order", "subject" | "source" | "target" | "detail") => Complex("Reference"),
        ("Order", "reason[x]") => Choice,
        ("OperationOutcome", "issue") => Complex("OperationOutcome.issue"),
        ("OperationOutcome.issue", "severity" | "code") => p(Code),
        ("OperationOutcome.issue", "details") => Complex("CodeableConcept"),
        ("OperationOutcome.issue", "diagnostics" | "location" | "expression") => p(Str),
        ("Bundle", "identifier") if era == Era::Stu3 => Complex("Identifier"),
        ("Bundle", "type") => p(Code),
        ("Bundle", "total") => p(UnsignedInt),
        ("Bundle", "link") => Complex("Bundle.link"),
        ("Bundle", "entry") => Complex("Bundle.entry"),
        ("Bundle.link", "relation") => p(Str),
        ("Bundle.link", "url") => p(Uri),
        ("Bundle.entry", "link") => Complex("Bundle.link"),
        ("Bundle.entry", "fullUrl") => p(Uri),
        ("Bundle.entry", "resource") => Resource,
        ("Bundle.entry", "search") => Complex("Bundle.entry.search"),
        ("Bundle.entry", "request") => Complex("Bundle.entry.request"),
        ("Bundle.entry", "response") => Complex("Bundle.entry.response"),
        ("Bundle.entry.search", "mode") => p(Code),
        ("Bundle.entry.search", "score") => p(Decimal),
        ("Bundle.entry.request", "method") => p(Code),
        ("Bundle.entry.request", "url") => p(Uri),
        ("Bundle.entry.response", "status" | "etag") => p(Str),
        ("Bundle.entry.response", "location") => p(Uri),
        ("Bundle.entry.response", "lastModified") => p(Instant),
        ("Composition", "identifier") => Complex("Identifier"),
        ("Composition", "date") => p(DateTime),
        ("Composition", "type" | "class") => Complex("CodeableConcept"),
        ("Composition", "title") => p(Str),
        ("Composition", "status" | "confidentiality") => p(Code),
        ("Composition", "subject" | "author" | "custodian" | "encounter") => Complex("Reference"),
        ("Composition", "attester") => Complex("Composition.attester"),
        ("Composition", "event") => Complex("Composition.event"),
        ("Composition", "section") => Complex("Composition.section"),
        ("Composition.attester", "mode") => p(Code),
        ("Composition.attester", "time") => p(DateTime),
        ("Composition.attester", "party") => Complex("Reference"),
        ("Composition.event", "code") => Complex("CodeableConcept"),
        ("Composition.event", "period") => Complex("Period"),
        ("Composition.event", "detail") => Complex("Reference"),
        ("Composition.section", "title") => p(Str),
        ("Composition.section", "code" | "orderedBy" | "emptyReason") => Complex("CodeableConcept"),
        ("Composition.section", "text") => Complex("Narrative"),
        ("Composition.section", "mode") => p(Code),
        ("Composition.section", "entry") => Complex("Reference"),
        ("Composition.section", "section") => Complex("Composition.section"),
        ("Parameters", "parameter") => Complex("Parameters.parameter"),
        ("Parameters.parameter", "name") => p(Str),
        ("Parameters.parameter", "value[x]") => Choice,
        ("Parameters.parameter", "resource") => Resource,
        ("Parameters.parameter", "part") => Complex("Parameters.parameter"),
        (
            "Conformance" | "CapabilityStatement",
            "url" | "implicitRules" | "instantiates" | "implementationGuide",
        ) => p(Uri),
        ("Conformance" | "CapabilityStatement", "version" | "name" | "title" | "publisher") => {
            p(Str)
        }
        ("Conformance" | "CapabilityStatement", "description" | "requirements" | "purpose") => {
            p(Str)
        }
        (
            "Conformance" | "CapabilityStatement",
            "status" | "kind" | "acceptUnknown" | "format" | "patchFormat",
        ) => p(Code),
        ("Conformance" | "CapabilityStatement", "experimental") => p(Boolean),
        ("Conformance" | "CapabilityStatement", "date") => p(DateTime),
        ("Conformance" | "CapabilityStatement", "fhirVersion") => p(Id),
        ("Conformance" | "CapabilityStatement", "software") => Complex("Conformance.software"),
        ("Conformance" | "CapabilityStatement", "implementation") => {
            Complex("Conformance.implementation")
        }
        ("Conformance" | "CapabilityStatement", "profile") => Complex("Reference"),
        ("Conformance" | "CapabilityStatement", "rest") => Complex("Conformance.rest"),
        ("Conformance.software", "name" | "version") => p(Str),
        ("Conformance.software", "releaseDate") => p(DateTime),
        ("Conformance.implementation", "description") => p(Str),
        ("Conformance.implementation", "url") => p(Uri),
        ("Conformance.rest", "mode" | "transactionMode") => p(Code),
        ("Conformance.rest", "documentation") => p(Str),
        ("Conformance.rest", "resource") => Complex("Conformance.rest.resource"),
        ("Conformance.rest", "interaction") => Complex("Conformance.interaction"),
        ("Conformance.rest", "operation") => Complex("Conformance.rest.operation"),
        ("Conformance.rest", "searchParam") => Complex("Conformance.searchParam"),
        ("Conformance.rest.resource", "type" | "versioning" | "conditionalDelete") => p(Code),
        ("Conformance.rest.resource", "conditionalRead" | "referencePolicy") => p(Code),
        ("Conformance.rest.resource", "profile") => Complex("Reference"),
        ("Conformance.rest.resource", "interaction") => Complex("Conformance.interaction"),
        (
            "Conformance.rest.resource",
            "readHistory" | "updateCreate" | "conditionalCreate" | "conditionalUpdate",
        ) => p(Boolean),
        ("Conformance.rest.resource", "searchInclude" | "searchRevInclude") => p(Str),
        ("Conformance.rest.resource", "searchParam") => Complex("Conformance.searchParam"),
        ("Conformance.interaction", "code") => p(Code),
        ("Conformance.interaction", "documentation") => p(Str),
        ("Conformance.searchParam", "name" | "documentation" | "chain") => p(Str),
        ("Conformance.searchParam", "definition") => p(Uri),
        ("Conformance.searchParam", "type" | "target" | "modifier") => p(Code),
        ("Conformance.rest.operation", "name") => p(Str),
        ("Conformance.rest.operation", "definition") => Complex("Reference"),
        _ => return None,
    };
    Some(kind)
}

/// What every resource and every element may carry.
fn common(owner: &str, element: &str) -> Option<Kind> {
    let resource = owner.starts_with(char::is_uppercase) && !is_data_type(owner);
    let resource = resource && !owner.contains('.');
    Some(match element {
        "extension" | "modifierExtension" => Complex("Extension"),
        "id" if resource => p(Id),
        "id" => p(Str),
        "meta" if resource => Complex("Meta"),
        "implicitRules" if resource => p(Uri),
        "language" if resource => p(Code),
        "text" if resource => Complex("Narrative"),
        "contained" if resource => Resource,
        _ => return None,
    })
}

/// Whether the table lists every element of the data type `name`, so that
/// a key it does not list is no element of the type (request profiles
/// reject such keys).
pub fn knows(name: &str) -> bool {
    matches!(
        name,
        "Identifier"
            | "CodeableConcept"
            | "Coding"
            | "Period"
            | "Meta"
            | "Reference"
            | "HumanName"
            | "ContactPoint"
            | "Address"
    )
}

fn is_data_type(name: &str) -> bool {
    matches!(
        name,
        "Identifier"
            | "CodeableConcept"
            | "Coding"
            | "Period"
            | "Meta"
            | "Reference"
            | "HumanName"
            | "ContactPoint"
            | "Address"
            | "Narrative"
            | "Extension"
            | "Quantity"
            | "Attachment"
    )
}

/// The type a choice element's key names: `valueDateTime` of `value[x]`
/// is a dateTime, `valueCodeableConcept` a CodeableConcept.
pub fn choice_type(suffix: &str) -> Option<Kind> {
    Some(match suffix {
        "Boolean" => p(Boolean),
        "Integer" => p(Integer),
        "UnsignedInt" => p(UnsignedInt),
        "PositiveInt" => p(PositiveInt),
        "Decimal" => p(Decimal),
        "String" | "Markdown" => p(Str),
        "Code" => p(Code),
        "Id" => p(Id),
        "Uri" | "Oid" => p(Uri),
        "Date" => p(Date),
        "DateTime" => p(DateTime),
        "Instant" => p(Instant),
        "Time" => p(Time),
        "Base64Binary" => p(Base64Binary),
        "Identifier" => Complex("Identifier"),
        "CodeableConcept" => Complex("CodeableConcept"),
        "Coding" => Complex("Coding"),
        "Period" => Complex("Period"),
        "Reference" => Complex("Reference"),
        "HumanName" => Complex("HumanName"),
        "ContactPoint" => Complex("ContactPoint"),
        "Address" => Complex("Address"),
        "Quantity" => Complex("Quantity"),
        "Attachment" => Complex("Attachment"),
        _ => return None,
    })
}

/// The choice element a key belongs to, e.g. `valueDateTime` →
/// (`value[x]`, `DateTime`), when `owner` has one by that stem.
pub fn choice_of(era: Era, owner: &str, key: &str) -> Option<(&'static str, Kind)> {
    const STEMS: [(&str, &str); 5] = [
        ("value", "value[x]"),
        ("deceased", "deceased[x]"),
        ("multipleBirth", "multipleBirth[x]"),
        ("reason", "reason[x]"),
        ("effective", "effective[x]"),
    ];
    STEMS.iter().find_map(|(stem, element_name)| {
        let suffix = key.strip_prefix(stem)?;
        if element(era, owner, element_name) != Some(Choice) {
            return None;
        }
        Some((*element_name, choice_type(suffix)?))
    })
}

//! Element order. FHIR XML requires the elements of a resource in the
//! order of its definition; JSON does not, and the XML answer keeps the
//! template's key order. `check` therefore warns about a rendered answer
//! whose keys are out of that order, for the resource types this table
//! knows (written from the FHIR DSTU2 1.0.2 and STU3 3.0.1 definitions).

use super::json::Json;
use crate::fhir::Era;

/// What every resource starts with (DomainResource).
pub const COMMON: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
];

/// A resource type's own elements in order; `name[x]` is a choice.
fn elements(era: Era, resource: &str) -> Option<&'static [&'static str]> {
    use Era::{Dstu2, Stu3};
    Some(match (era, resource) {
        (Dstu2, "Patient") => &[
            "identifier",
            "active",
            "name",
            "telecom",
            "gender",
            "birthDate",
            "deceased[x]",
            "address",
            "maritalStatus",
            "multipleBirth[x]",
            "photo",
            "contact",
            "animal",
            "communication",
            "careProvider",
            "managingOrganization",
            "link",
        ],
        (Stu3, "Patient") => &[
            "identifier",
            "active",
            "name",
            "telecom",
            "gender",
            "birthDate",
            "deceased[x]",
            "address",
            "maritalStatus",
            "multipleBirth[x]",
            "photo",
            "contact",
            "animal",
            "communication",
            "generalPractitioner",
            "managingOrganization",
            "link",
        ],
        (Dstu2, "Organization") => &[
            "identifier",
            "active",
            "type",
            "name",
            "telecom",
            "address",
            "partOf",
            "contact",
        ],
        (Stu3, "Organization") => &[
            "identifier",
            "active",
            "type",
            "name",
            "alias",
            "telecom",
            "address",
            "partOf",
            "contact",
            "endpoint",
        ],
        (Dstu2, "Practitioner") => &[
            "identifier",
            "active",
            "name",
            "telecom",
            "address",
            "gender",
            "birthDate",
            "photo",
            "practitionerRole",
            "qualification",
            "communication",
        ],
        (Stu3, "Practitioner") => &[
            "identifier",
            "active",
            "name",
            "telecom",
            "address",
            "gender",
            "birthDate",
            "photo",
            "qualification",
            "communication",
        ],
        (Dstu2, "Location") => &[
            "identifier",
            "status",
            "name",
            "description",
            "mode",
            "type",
            "telecom",
            "address",
            "physicalType",
            "position",
            "managingOrganization",
            "partOf",
        ],
        (Stu3, "Location") => &[
            "identifier",
            "status",
            "operationalStatus",
            "name",
            "alias",
            "description",
            "mode",
            "type",
            "telecom",
            "address",
            "physicalType",
            "position",
            "managingOrganization",
            "partOf",
            "endpoint",
        ],
        (Dstu2, "Bundle") => &["type", "total", "link", "entry", "signature"],
        (Stu3, "Bundle") => &["identifier", "type", "total", "link", "entry", "signature"],
        (Dstu2, "Appointment") => &[
            "identifier",
            "status",
            "type",
            "reason",
            "priority",
            "description",
            "start",
            "end",
            "minutesDuration",
            "slot",
            "comment",
            "participant",
        ],
        (Stu3, "Appointment") => &[
            "identifier",
            "status",
            "serviceCategory",
            "serviceType",
            "specialty",
            "appointmentType",
            "reason",
            "indication",
            "priority",
            "description",
            "supportingInformation",
            "start",
            "end",
            "minutesDuration",
            "slot",
            "created",
            "comment",
            "incomingReferral",
            "participant",
            "requestedPeriod",
        ],
        (Dstu2, "Slot") => &[
            "identifier",
            "type",
            "schedule",
            "freeBusyType",
            "start",
            "end",
            "overbooked",
            "comment",
        ],
        (Stu3, "Slot") => &[
            "identifier",
            "serviceCategory",
            "serviceType",
            "specialty",
            "appointmentType",
            "schedule",
            "status",
            "start",
            "end",
            "overbooked",
            "comment",
        ],
        (Dstu2, "Schedule") => &["identifier", "type", "actor", "planningHorizon", "comment"],
        (Stu3, "Schedule") => &[
            "identifier",
            "active",
            "serviceCategory",
            "serviceType",
            "specialty",
            "actor",
            "planningHorizon",
            "comment",
        ],
        (_, "OperationOutcome") => &["issue"],
        (Stu3, "DocumentReference") => &[
            "masterIdentifier",
            "identifier",
            "status",
            "docStatus",
            "type",
            "class",
            "subject",
            "created",
            "indexed",
            "author",
            "authenticator",
            "custodian",
            "relatesTo",
            "description",
            "securityLabel",
            "content",
            "context",
        ],
        (Stu3, "PractitionerRole") => &[
            "identifier",
            "active",
            "period",
            "practitioner",
            "organization",
            "code",
            "specialty",
            "location",
            "healthcareService",
            "telecom",
            "availableTime",
            "notAvailable",
            "availabilityExceptions",
            "endpoint",
        ],
        (Stu3, "Binary") => &["contentType", "securityContext", "content"],
        (Dstu2, "Conformance") => &[
            "url",
            "version",
            "name",
            "status",
            "experimental",
            "publisher",
            "contact",
            "date",
            "description",
            "requirements",
            "copyright",
            "kind",
            "software",
            "implementation",
            "fhirVersion",
            "acceptUnknown",
            "format",
            "profile",
            "rest",
            "messaging",
            "document",
        ],
        (Stu3, "CapabilityStatement") => &[
            "url",
            "version",
            "name",
            "title",
            "status",
            "experimental",
            "date",
            "publisher",
            "contact",
            "description",
            "useContext",
            "jurisdiction",
            "purpose",
            "copyright",
            "kind",
            "instantiates",
            "software",
            "implementation",
            "fhirVersion",
            "acceptUnknown",
            "format",
            "patchFormat",
            "implementationGuide",
            "profile",
            "rest",
            "messaging",
            "document",
        ],
        (Dstu2, "Composition") => &[
            "identifier",
            "date",
            "type",
            "class",
            "title",
            "status",
            "confidentiality",
            "subject",
            "author",
            "attester",
            "custodian",
            "event",
            "encounter",
            "section",
        ],
        (Stu3, "Composition") => &[
            "identifier",
            "status",
            "type",
            "class",
            "subject",
            "encounter",
            "date",
            "author",
            "title",
            "confidentiality",
            "attester",
            "custodian",
            "relatesTo",
            "event",
            "section",
        ],
        (_, "Parameters") => &["parameter"],
        (Dstu2, "Order") => &[
            "identifier",
            "date",
            "subject",
            "source",
            "target",
            "reason[x]",
            "when",
            "detail",
        ],
        (Dstu2, "List") => &[
            "identifier",
            "title",
            "code",
            "subject",
            "source",
            "encounter",
            "status",
            "date",
            "orderedBy",
            "mode",
            "note",
            "entry",
            "emptyReason",
        ],
        (Stu3, "List") => &[
            "identifier",
            "status",
            "mode",
            "title",
            "code",
            "subject",
            "encounter",
            "date",
            "source",
            "orderedBy",
            "note",
            "entry",
            "emptyReason",
        ],
        _ => return None,
    })
}

/// The position of `key` in `order` (`_key` sits with `key`; choices match
/// their typed names, `deceasedBoolean` for `deceased[x]`).
fn position(order: &[&str], key: &str) -> Option<usize> {
    let key = key.strip_prefix('_').unwrap_or(key);
    order
        .iter()
        .position(|name| match name.strip_suffix("[x]") {
            Some(base) => key
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase())),
            None => *name == key,
        })
}

/// One key out of order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    /// JSON pointer of the key.
    pub pointer: String,
    pub message: String,
}

/// Every resource in `tree` (the root, `contained`, `entry.resource`,
/// `parameter.resource`) whose keys are out of its definition's order.
pub fn check(tree: &Json, era: Era) -> Vec<Misplaced> {
    let mut out = Vec::new();
    walk(tree, era, "", &mut out);
    out
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(value: &Json, era: Era, pointer: &str, out: &mut Vec<Misplaced>) {
    match value {
        Json::Object(members) => {
            if let Some(resource) = value.get("resourceType").and_then(Json::as_str) {
                resource_order(members, era, resource, pointer, out);
            }
            for (key, child) in members {
                walk(child, era, &format!("{pointer}/{}", escape(key)), out);
            }
        }
        Json::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(item, era, &format!("{pointer}/{index}"), out);
            }
        }
        _ => {}
    }
}

fn resource_order(
    members: &[(String, Json)],
    era: Era,
    resource: &str,
    pointer: &str,
    out: &mut Vec<Misplaced>,
) {
    let Some(own) = elements(era, resource) else {
        return;
    };
    let order: Vec<&str> = COMMON.iter().chain(own).copied().collect();
    let mut last: Option<(usize, &str)> = None;
    for (key, _) in members {
        let Some(at) = position(&order, key) else {
            continue;
        };
        if let Some((before, previous)) = last {
            if at < before {
                out.push(Misplaced {
                    pointer: format!("{pointer}/{}", escape(key)),
                    message: format!(
                        "`{key}` comes after `{previous}`, but {resource} defines it before: FHIR XML needs the definition's order ({})",
                        order[1..].join(", ")
                    ),
                });
                continue;
            }
        }
        last = Some((at, key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_keys_are_named_with_their_pointer() {
        let tree = Json::parse(
            r#"{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"1","name":[{"family":["X"]}],"identifier":[],"deceasedBoolean":false,"gender":"male"}}]}"#,
        )
        .unwrap();
        let found = check(&tree, Era::Dstu2);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].pointer, "/entry/0/resource/identifier");
        assert!(found[0].message.contains("`identifier` comes after `name`"));
        assert_eq!(found[1].pointer, "/entry/0/resource/gender");
        let fine = Json::parse(
            r#"{"resourceType":"Patient","id":"1","meta":{},"identifier":[],"birthDate":"1970","_birthDate":{},"deceasedDateTime":"2000","address":[],"x-unknown":1}"#,
        )
        .unwrap();
        assert_eq!(check(&fine, Era::Stu3), Vec::new());
    }
}

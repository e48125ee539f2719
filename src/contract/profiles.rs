//! Resource profiles: what a resource a consumer sends may hold, as data.
//!
//! A [`Profile`] lists, for one resource type and era, every element the
//! type defines (name, cardinality, type) with GP Connect's tightening
//! (required elements, fixed identifier systems, the extension namespace).
//! [`Profile::check`] walks a JSON resource against it and returns
//! [`Finding`]s; the caller (booking, Order, the JWT's claim resources)
//! decides which rule each finding breaks. Data types (`Identifier`,
//! `Reference`, …) are checked for unknown elements through the element
//! table of [`crate::check::definitions`], which `check` also uses.
//!
//! Profiles are written once per resource type and era from the FHIR DSTU2
//! (1.0.2) definitions and GP Connect 0.x; the STU3 (GP Connect 1.x) ones
//! are in [`super::profiles_stu3`].

use serde_json::Value;

use crate::check::definitions::{self, Kind as TypeKind};
use crate::check::primitives::Primitive;
use crate::fhir::Era;
// Elements every resource has (FHIR Resource and DomainResource).
use crate::fhir_xml::order::COMMON as RESOURCE_ELEMENTS;

/// How many an element may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Max {
    /// `0..0`: the profile forbids the element (e.g. `reason` on a 1.x booking).
    Zero,
    One,
    Many,
}

/// What an element holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Primitive(Primitive),
    /// A data type of the element table (`Identifier`, `Reference`, …).
    Data(&'static str),
    /// A backbone element with its own elements.
    Backbone(&'static [Element]),
    /// `contained`: resources, checked by their own profiles if any.
    Resources,
    /// `reason[x]`-style choices: any suffix of the listed types.
    Choice(&'static [&'static str]),
}

/// One element of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element {
    pub name: &'static str,
    pub min: u32,
    pub max: Max,
    pub kind: Type,
}

pub(crate) const fn el(name: &'static str, min: u32, max: Max, kind: Type) -> Element {
    Element {
        name,
        min,
        max,
        kind,
    }
}

/// One resource type's profile in one era.
#[derive(Debug)]
pub struct Profile {
    pub resource: &'static str,
    pub era: Era,
    /// Every element the type defines, beyond those of every resource
    /// (`id`, `meta`, `text`, `contained`, `extension`, …).
    pub elements: &'static [Element],
    /// Extension URLs must start with one of these.
    pub extension_namespaces: &'static [&'static str],
}

/// What is wrong with a resource, at a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub pointer: String,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An element the type does not define.
    Unknown,
    /// An element the profile forbids (`0..0`).
    Prohibited,
    /// A required element is absent (or an empty array).
    Missing,
    /// An array where one value is allowed.
    NotOne,
    /// The value is not of the element's type (named).
    WrongType(&'static str),
    /// An extension without `url`, outside the namespaces, or without a value.
    Extension(String),
    /// An identifier without a `value`.
    IdentifierValue,
}

impl Finding {
    /// `body /start is required`, in diagnostics' words.
    pub fn describe(&self, what: &str) -> (String, String) {
        let at = format!(
            "{what} {}",
            if self.pointer.is_empty() {
                "/"
            } else {
                &self.pointer
            }
        );
        let message = match &self.problem {
            Problem::Unknown => "is not an element of the resource type".to_string(),
            Problem::Prohibited => "must not be sent (the profile forbids it)".to_string(),
            Problem::Missing => "is required".to_string(),
            Problem::NotOne => "must be one value, not an array".to_string(),
            Problem::WrongType(kind) => format!("must be a FHIR {kind}"),
            Problem::Extension(why) => why.clone(),
            Problem::IdentifierValue => "must have a value".to_string(),
        };
        (at, message)
    }
}

use Max::{Many, One};
use Primitive::{Code, Date, DateTime, Instant, PositiveInt, Str, UnsignedInt};

pub(crate) const fn p(primitive: Primitive) -> Type {
    Type::Primitive(primitive)
}

pub(crate) const fn data(name: &'static str) -> Type {
    Type::Data(name)
}

/// The GP Connect 0.x extension namespace.
const GPC_DSTU2_EXTENSIONS: &[&str] =
    &["http://fhir.nhs.net/StructureDefinition/extension-gpconnect-"];

const APPOINTMENT_PARTICIPANT: &[Element] = &[
    el("type", 0, Many, data("CodeableConcept")),
    el("actor", 0, One, data("Reference")),
    el("required", 0, One, p(Code)),
    el("status", 1, One, p(Code)),
];

/// DSTU2 Appointment as GP Connect books it: `start`, `end` and `slot`
/// required (DOMAIN.md §11 Booking).
pub static APPOINTMENT_DSTU2: Profile = Profile {
    resource: "Appointment",
    era: Era::Dstu2,
    elements: &[
        el("identifier", 0, Many, data("Identifier")),
        el("status", 1, One, p(Code)),
        el("type", 0, One, data("CodeableConcept")),
        el("reason", 0, One, data("CodeableConcept")),
        el("priority", 0, One, p(UnsignedInt)),
        el("description", 0, One, p(Str)),
        el("start", 1, One, p(Instant)),
        el("end", 1, One, p(Instant)),
        el("minutesDuration", 0, One, p(PositiveInt)),
        el("slot", 1, Many, data("Reference")),
        el("comment", 0, One, p(Str)),
        el(
            "participant",
            1,
            Many,
            Type::Backbone(APPOINTMENT_PARTICIPANT),
        ),
    ],
    extension_namespaces: GPC_DSTU2_EXTENSIONS,
};

const ORDER_WHEN: &[Element] = &[
    el("code", 0, One, data("CodeableConcept")),
    el("schedule", 0, One, data("Timing")),
];

/// DSTU2 Order (GP Connect Task Management): `subject` required.
pub static ORDER_DSTU2: Profile = Profile {
    resource: "Order",
    era: Era::Dstu2,
    elements: &[
        el("identifier", 0, Many, data("Identifier")),
        el("date", 0, One, p(DateTime)),
        el("subject", 1, One, data("Reference")),
        el("source", 0, One, data("Reference")),
        el("target", 0, One, data("Reference")),
        el(
            "reason",
            0,
            One,
            Type::Choice(&["CodeableConcept", "Reference"]),
        ),
        el("when", 0, One, Type::Backbone(ORDER_WHEN)),
        el("detail", 1, Many, data("Reference")),
    ],
    extension_namespaces: GPC_DSTU2_EXTENSIONS,
};

/// DSTU2 Device (the JWT's `requesting_device`).
pub static DEVICE_DSTU2: Profile = Profile {
    resource: "Device",
    era: Era::Dstu2,
    elements: &[
        el("identifier", 0, Many, data("Identifier")),
        el("type", 0, One, data("CodeableConcept")),
        el("note", 0, Many, data("Annotation")),
        el("status", 0, One, p(Code)),
        el("manufacturer", 0, One, p(Str)),
        el("model", 0, One, p(Str)),
        el("version", 0, One, p(Str)),
        el("manufactureDate", 0, One, p(DateTime)),
        el("expiry", 0, One, p(DateTime)),
        el("udi", 0, One, p(Str)),
        el("lotNumber", 0, One, p(Str)),
        el("owner", 0, One, data("Reference")),
        el("location", 0, One, data("Reference")),
        el("patient", 0, One, data("Reference")),
        el("contact", 0, Many, data("ContactPoint")),
        el("url", 0, One, p(Primitive::Uri)),
    ],
    extension_namespaces: &[],
};

/// DSTU2 Organization (the JWT's `requesting_organization`).
pub static ORGANIZATION_DSTU2: Profile = Profile {
    resource: "Organization",
    era: Era::Dstu2,
    elements: &[
        el("identifier", 0, Many, data("Identifier")),
        el("active", 0, One, p(Primitive::Boolean)),
        el("type", 0, One, data("CodeableConcept")),
        el("name", 0, One, p(Str)),
        el("telecom", 0, Many, data("ContactPoint")),
        el("address", 0, Many, data("Address")),
        el("partOf", 0, One, data("Reference")),
        el("contact", 0, Many, Type::Backbone(&[])),
    ],
    extension_namespaces: &[],
};

const PRACTITIONER_ROLE: &[Element] = &[
    el("managingOrganization", 0, One, data("Reference")),
    el("role", 0, One, data("CodeableConcept")),
    el("specialty", 0, Many, data("CodeableConcept")),
    el("period", 0, One, data("Period")),
    el("location", 0, Many, data("Reference")),
    el("healthcareService", 0, Many, data("Reference")),
];

/// DSTU2 Practitioner (the JWT's `requesting_practitioner`): `name` is one
/// HumanName in DSTU2.
pub static PRACTITIONER_DSTU2: Profile = Profile {
    resource: "Practitioner",
    era: Era::Dstu2,
    elements: &[
        el("identifier", 0, Many, data("Identifier")),
        el("active", 0, One, p(Primitive::Boolean)),
        el("name", 0, One, data("HumanName")),
        el("telecom", 0, Many, data("ContactPoint")),
        el("address", 0, Many, data("Address")),
        el("gender", 0, One, p(Code)),
        el("birthDate", 0, One, p(Date)),
        el("photo", 0, Many, data("Attachment")),
        el(
            "practitionerRole",
            0,
            Many,
            Type::Backbone(PRACTITIONER_ROLE),
        ),
        el("qualification", 0, Many, Type::Backbone(&[])),
        el("communication", 0, Many, data("CodeableConcept")),
    ],
    extension_namespaces: &[],
};

impl Profile {
    /// Every finding on `resource`, in document order.
    pub fn check(&self, resource: &Value) -> Vec<Finding> {
        let mut out = Vec::new();
        let Some(object) = resource.as_object() else {
            out.push(finding("", Problem::WrongType(self.resource)));
            return out;
        };
        for (key, value) in object {
            let pointer = format!("/{}", escape(key));
            if RESOURCE_ELEMENTS.contains(&key.as_str()) {
                if matches!(key.as_str(), "extension" | "modifierExtension") {
                    self.check_extensions(value, &pointer, &mut out);
                }
                continue;
            }
            self.check_key(self.elements, key, value, &pointer, &mut out);
        }
        self.check_required(self.elements, object, "", &mut out);
        out
    }

    fn check_key(
        &self,
        elements: &[Element],
        key: &str,
        value: &Value,
        pointer: &str,
        out: &mut Vec<Finding>,
    ) {
        // `_start`: the id and extensions of a primitive.
        let name = key.strip_prefix('_').unwrap_or(key);
        let element = elements.iter().find(|e| e.name == name).or_else(|| {
            elements.iter().find(|e| {
                matches!(e.kind, Type::Choice(types)
                    if name.strip_prefix(e.name).is_some_and(|t| types.contains(&t)))
            })
        });
        let Some(element) = element else {
            out.push(finding(pointer, Problem::Unknown));
            return;
        };
        if element.max == Max::Zero {
            out.push(finding(pointer, Problem::Prohibited));
            return;
        }
        if key.starts_with('_') {
            return;
        }
        let items: Vec<(String, &Value)> = match (value, element.max) {
            (Value::Array(items), Many) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("{pointer}/{i}"), item))
                .collect(),
            (Value::Array(_), One | Max::Zero) => {
                out.push(finding(pointer, Problem::NotOne));
                return;
            }
            (single, _) => vec![(pointer.to_string(), single)],
        };
        for (pointer, item) in items {
            self.check_value(element, item, &pointer, out);
        }
    }

    fn check_value(&self, element: &Element, value: &Value, pointer: &str, out: &mut Vec<Finding>) {
        match element.kind {
            Type::Primitive(primitive) => {
                if !primitive.accepts(value) {
                    out.push(finding(pointer, Problem::WrongType(primitive.name())));
                }
            }
            Type::Data(name) => self.check_data(name, value, pointer, out),
            Type::Backbone(elements) => {
                let Some(object) = value.as_object() else {
                    out.push(finding(pointer, Problem::WrongType("BackboneElement")));
                    return;
                };
                for (key, item) in object {
                    let inner = format!("{pointer}/{}", escape(key));
                    match key.as_str() {
                        "id" => {}
                        "extension" | "modifierExtension" => {
                            self.check_extensions(item, &inner, out)
                        }
                        _ if elements.is_empty() => {}
                        _ => self.check_key(elements, key, item, &inner, out),
                    }
                }
                if !elements.is_empty() {
                    self.check_required(elements, object, pointer, out);
                }
            }
            Type::Resources => {}
            Type::Choice(_) => {}
        }
    }

    /// A data type: an object whose keys the element table knows.
    fn check_data(&self, name: &'static str, value: &Value, pointer: &str, out: &mut Vec<Finding>) {
        let Some(object) = value.as_object() else {
            out.push(finding(pointer, Problem::WrongType(name)));
            return;
        };
        for (key, item) in object {
            let inner = format!("{pointer}/{}", escape(key));
            let bare = key.strip_prefix('_').unwrap_or(key);
            match definitions::element(self.era, name, bare) {
                None if definitions::knows(name) => out.push(finding(&inner, Problem::Unknown)),
                Some(TypeKind::Primitive(primitive))
                    if !key.starts_with('_') && !primitive_or_list(primitive, item) =>
                {
                    out.push(finding(&inner, Problem::WrongType(primitive.name())))
                }
                Some(TypeKind::Complex("Extension")) => self.check_extensions(item, &inner, out),
                _ => {}
            }
        }
        if name == "Identifier"
            && object
                .get("value")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            out.push(finding(pointer, Problem::IdentifierValue));
        }
    }

    fn check_extensions(&self, value: &Value, pointer: &str, out: &mut Vec<Finding>) {
        let Some(items) = value.as_array() else {
            out.push(finding(pointer, Problem::WrongType("Extension list")));
            return;
        };
        for (i, extension) in items.iter().enumerate() {
            let at = format!("{pointer}/{i}");
            let url = extension.get("url").and_then(Value::as_str);
            let has_value = extension
                .as_object()
                .is_some_and(|o| o.keys().any(|k| k.starts_with("value") || k == "extension"));
            let problem = match url {
                None => Some("must have a url".to_string()),
                Some(url)
                    if !self.extension_namespaces.is_empty()
                        && !self.extension_namespaces.iter().any(|ns| url.starts_with(ns)) =>
                {
                    Some(format!(
                        "has url {url:?}, which is no {} extension this provider knows (expected a url under {})",
                        self.resource,
                        self.extension_namespaces.join(" or ")
                    ))
                }
                Some(_) if !has_value => Some("must have a value[x]".to_string()),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                out.push(finding(&at, Problem::Extension(problem)));
            }
        }
    }

    fn check_required(
        &self,
        elements: &[Element],
        object: &serde_json::Map<String, Value>,
        pointer: &str,
        out: &mut Vec<Finding>,
    ) {
        for element in elements.iter().filter(|e| e.min > 0) {
            let present = match object.get(element.name) {
                None | Some(Value::Null) => false,
                Some(Value::Array(items)) => !items.is_empty(),
                Some(_) => true,
            };
            if !present {
                out.push(finding(
                    &format!("{pointer}/{}", element.name),
                    Problem::Missing,
                ));
            }
        }
    }
}

fn primitive_or_list(primitive: Primitive, value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().all(|item| primitive.accepts(item)),
        single => primitive.accepts(single),
    }
}

fn finding(pointer: &str, problem: Problem) -> Finding {
    Finding {
        pointer: pointer.to_string(),
        problem,
    }
}

/// A key as a JSON pointer segment.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn booking() -> Value {
        json!({
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2030-01-07T09:00:00+00:00",
            "end": "2030-01-07T09:10:00+00:00",
            "slot": [{"reference": "Slot/1"}],
            "participant": [{"actor": {"reference": "Patient/2"}, "status": "accepted"}],
            "extension": [{"url": "http://fhir.nhs.net/StructureDefinition/extension-gpconnect-appointment-cancellation-reason-1", "valueString": "x"}]
        })
    }

    fn problems(value: &Value) -> Vec<(String, Problem)> {
        APPOINTMENT_DSTU2
            .check(value)
            .into_iter()
            .map(|f| (f.pointer, f.problem))
            .collect()
    }

    #[test]
    fn a_valid_booking_has_no_findings() {
        assert_eq!(problems(&booking()), vec![]);
    }

    #[test]
    fn findings_name_the_pointer_and_problem() {
        let mut body = booking();
        body["colour"] = json!("red");
        body.as_object_mut().map(|o| o.remove("start"));
        body["slot"][0]["bogus"] = json!(1);
        body["participant"][0]["actor"] = json!("Patient/2");
        body["identifier"] = json!([{"system": "urn:x"}]);
        body["extension"] =
            json!([{"url": "http://example.org/x", "valueString": "y"}, {"valueString": "z"}]);
        body["end"] = json!("tomorrow");
        let found = problems(&body);
        let has = |pointer: &str, problem: Problem| {
            assert!(
                found.contains(&(pointer.to_string(), problem.clone())),
                "{pointer} {problem:?} not in {found:?}"
            )
        };
        has("/colour", Problem::Unknown);
        has("/start", Problem::Missing);
        has("/slot/0/bogus", Problem::Unknown);
        has("/participant/0/actor", Problem::WrongType("Reference"));
        has("/identifier/0", Problem::IdentifierValue);
        has("/end", Problem::WrongType("instant"));
        assert!(found.iter().any(|(p, problem)| p == "/extension/0" && matches!(problem, Problem::Extension(why) if why.contains("no Appointment extension"))));
        assert!(found.iter().any(|(p, problem)| p == "/extension/1"
            && matches!(problem, Problem::Extension(why) if why == "must have a url")));
    }

    #[test]
    fn claim_resources_reject_elements_their_type_lacks() {
        let device = json!({"resourceType": "Device", "id": "1", "model": "v1", "version": "1.1", "type": {"text": "x"}});
        assert!(DEVICE_DSTU2.check(&device).is_empty());
        let odd = json!({"resourceType": "Device", "id": "1", "colour": "red"});
        assert_eq!(DEVICE_DSTU2.check(&odd)[0].problem, Problem::Unknown);
        let practitioner = json!({"resourceType": "Practitioner", "name": [{"family": ["A"]}]});
        assert_eq!(
            PRACTITIONER_DSTU2.check(&practitioner)[0].problem,
            Problem::NotOne
        );
    }
}

//! The built-in interaction table (DOMAIN.md §2a, §2b, §2c): per era, each
//! operation's method and path shape, the interaction ids it accepts, whose
//! record it reads and whether it writes. Data: the rules of
//! [`super::gpconnect`] look rows up here.

use http::Method;

use super::catalogue::shape_of;
use super::jwt::RecordKind;
use crate::fhir::Era;

/// One row of the built-in interaction table (DOMAIN.md §2a, §2b, §2c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interaction {
    pub method: &'static str,
    /// The path's end, parameters written `{id}`: `/Patient/{id}/Appointment`.
    pub shape: &'static str,
    /// The interaction ids accepted; the first is the canonical one.
    pub ids: &'static [&'static str],
    pub kind: RecordKind,
    pub write: bool,
}

const fn row(
    method: &'static str,
    shape: &'static str,
    ids: &'static [&'static str],
    kind: RecordKind,
    write: bool,
) -> Interaction {
    Interaction {
        method,
        shape,
        ids,
        kind,
        write,
    }
}

use RecordKind::{Organization as O, Patient as P};

/// GP Connect 0.x (DSTU2): no version suffix.
#[rustfmt::skip]
pub const DSTU2: &[Interaction] = &[
    row("GET", "/metadata", &["urn:nhs:names:services:gpconnect:fhir:rest:read:metadata"], O, false),
    row("GET", "/Patient", &["urn:nhs:names:services:gpconnect:fhir:rest:search:patient"], P, false),
    row("GET", "/Patient/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:patient"], P, false),
    row("GET", "/Patient/{id}/Appointment", &["urn:nhs:names:services:gpconnect:fhir:rest:search:patient_appointments"], P, false),
    row("POST", "/Patient/$gpc.getcarerecord", &["urn:nhs:names:services:gpconnect:fhir:operation:gpc.getcarerecord"], P, false),
    row("GET", "/Practitioner", &["urn:nhs:names:services:gpconnect:fhir:rest:search:practitioner"], O, false),
    row("GET", "/Practitioner/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:practitioner"], O, false),
    row("GET", "/Organization", &["urn:nhs:names:services:gpconnect:fhir:rest:search:organization"], O, false),
    row("GET", "/Organization/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:organization"], O, false),
    row("POST", "/Organization/$gpc.getschedule", &["urn:nhs:names:services:gpconnect:fhir:operation:gpc.getschedule"], O, false),
    row("POST", "/Organization/{id}/$gpc.getschedule", &["urn:nhs:names:services:gpconnect:fhir:operation:gpc.getschedule"], O, false),
    row("GET", "/Location", &["urn:nhs:names:services:gpconnect:fhir:rest:search:location"], O, false),
    row("GET", "/Location/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:location"], O, false),
    row("POST", "/Appointment", &["urn:nhs:names:services:gpconnect:fhir:rest:create:appointment"], P, true),
    row("GET", "/Appointment/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:appointment"], P, false),
    row("PUT", "/Appointment/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:update:appointment"], P, true),
    row("POST", "/Order", &["urn:nhs:names:services:gpconnect:fhir:rest:create:order"], P, true),
];

/// GP Connect 1.x (STU3): `-1` suffix; Access Record Structured and Access
/// Document have their own prefixes.
#[rustfmt::skip]
pub const STU3: &[Interaction] = &[
    row(
        "GET",
        "/metadata",
        &[
            "urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1",
            "urn:nhs:names:services:gpconnect:structured:fhir:rest:read:metadata-1",
            "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:metadata-1",
        ],
        O,
        false,
    ),
    row(
        "GET",
        "/Patient",
        &[
            "urn:nhs:names:services:gpconnect:fhir:rest:search:patient-1",
            "urn:nhs:names:services:gpconnect:documents:fhir:rest:search:patient-1",
        ],
        P,
        false,
    ),
    row("GET", "/Patient/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:patient-1"], P, false),
    row("GET", "/Patient/{id}/Appointment", &["urn:nhs:names:services:gpconnect:fhir:rest:search:patient_appointments-1"], P, false),
    row("POST", "/Patient/$gpc.registerpatient", &["urn:nhs:names:services:gpconnect:fhir:operation:gpc.registerpatient-1"], P, true),
    row("POST", "/Patient/$gpc.getstructuredrecord", &["urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1"], P, false),
    row("POST", "/Patient/$gpc.migratestructuredrecord", &["urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1"], P, false),
    row("GET", "/Patient/{id}/DocumentReference", &["urn:nhs:names:services:gpconnect:documents:fhir:rest:search:documentreference-1"], P, false),
    // Retrieve and (1.6) migrate share the endpoint.
    row(
        "GET",
        "/Binary/{id}",
        &[
            "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:binary-1",
            "urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1",
        ],
        P,
        false,
    ),
    row("GET", "/Practitioner", &["urn:nhs:names:services:gpconnect:fhir:rest:search:practitioner-1"], O, false),
    row("GET", "/Practitioner/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:practitioner-1"], O, false),
    row("GET", "/Organization", &["urn:nhs:names:services:gpconnect:fhir:rest:search:organization-1"], O, false),
    row("GET", "/Organization/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:organization-1"], O, false),
    row("GET", "/Location", &["urn:nhs:names:services:gpconnect:fhir:rest:search:location-1"], O, false),
    row("GET", "/Location/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:location-1"], O, false),
    // 1.2.8's service filtering (DOMAIN-STU3.md §3).
    row("GET", "/HealthcareService", &["urn:nhs:names:services:gpconnect:fhir:rest:search:healthcareservice-1"], O, false),
    row("GET", "/HealthcareService/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:healthcareservice-1"], O, false),
    row("GET", "/Slot", &["urn:nhs:names:services:gpconnect:fhir:rest:search:slot-1"], O, false),
    row("POST", "/Appointment", &["urn:nhs:names:services:gpconnect:fhir:rest:create:appointment-1"], P, true),
    row("GET", "/Appointment/{id}", &["urn:nhs:names:services:gpconnect:fhir:rest:read:appointment-1"], P, false),
    // Amend and cancel share the endpoint; 1.5.0's swagger uses update for both.
    row(
        "PUT",
        "/Appointment/{id}",
        &[
            "urn:nhs:names:services:gpconnect:fhir:rest:update:appointment-1",
            "urn:nhs:names:services:gpconnect:fhir:rest:cancel:appointment-1",
        ],
        P,
        true,
    ),
];

pub fn table(era: Era) -> &'static [Interaction] {
    match era {
        Era::Dstu2 => DSTU2,
        Era::Stu3 => STU3,
    }
}

/// The table row whose shape ends `path` (at a segment boundary) for
/// `method`; the longest such shape wins.
pub fn lookup(era: Era, method: &Method, path: &str) -> Option<&'static Interaction> {
    let shape = shape_of(path);
    table(era)
        .iter()
        .filter(|row| row.method == method.as_str() && shape.ends_with(row.shape))
        .max_by_key(|row| row.shape.len())
}

//! The Parameters of Access Record Structured 1.6's operations
//! (DOMAIN-STU3.md §1.2–§1.4, §6.7–9, §6.13): `$gpc.getstructuredrecord`'s
//! parameters and parts, their values, the forbidden combinations and the
//! two predefined searches that are allowed; `$gpc.migratestructuredrecord`'s
//! two parameters and its sensitive-information choice against the JWT's
//! scope. Only the request is read: which items a record holds is the
//! scenarios' business. Unknown parameters and parts of a getstructuredrecord
//! are no violation: the answer is 200 with a warning OperationOutcome, which
//! the pack's templates write (`unknown_params`).

use std::collections::HashSet;

use chrono::{NaiveDate, Utc};
use serde_json::{Map, Value};

use super::tokens::TokenFacts;
use super::{nhs_number, shown, RuleId, Violation};
use crate::request::MockRequest;

/// The NHS number system of `patientNHSNumber`.
pub const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// What a known part's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value_ {
    Boolean,
    /// A whole date, not after today.
    PastDate,
    /// A whole date, not before today.
    FutureDate,
    /// Whole dates not after today, start not after end.
    Period,
    PositiveInt,
    /// `active` or `inactive`.
    Status,
}

/// The clinical-area parameters and their parts (1.6.2).
const AREAS: &[(&str, &[(&str, Value_)])] = &[
    (
        "includeAllergies",
        &[("includeResolvedAllergies", Value_::Boolean)],
    ),
    (
        "includeMedication",
        &[
            ("includePrescriptionIssues", Value_::Boolean),
            ("medicationSearchFromDate", Value_::PastDate),
        ],
    ),
    (
        "includeConsultations",
        &[
            ("consultationSearchPeriod", Value_::Period),
            ("includeNumberOfMostRecent", Value_::PositiveInt),
        ],
    ),
    ("includeProblems", &[("filterStatus", Value_::Status)]),
    (
        "includeImmunisations",
        &[
            ("includeNotGiven", Value_::Boolean),
            ("includeStatus", Value_::Boolean),
        ],
    ),
    (
        "includeUncategorisedData",
        &[("uncategorisedDataSearchPeriod", Value_::Period)],
    ),
    (
        "includeInvestigations",
        &[("investigationSearchPeriod", Value_::Period)],
    ),
    (
        "includeReferrals",
        &[("referralSearchPeriod", Value_::Period)],
    ),
    (
        "includeDiaryEntries",
        &[("diaryEntriesSearchDate", Value_::FutureDate)],
    ),
];

/// Parts that may not come with `includeConsultations` (and, but for
/// `filterStatus`, with `includeProblems`).
const NOT_WITH_CONSULTATIONS: [&str; 7] = [
    "medicationSearchFromDate",
    "uncategorisedDataSearchPeriod",
    "filterStatus",
    "referralSearchPeriod",
    "diaryEntriesSearchDate",
    "includeNotGiven",
    "includeStatus",
];

/// One parameter of the body, with its position.
struct Param<'a> {
    index: usize,
    name: &'a str,
    object: &'a Map<String, Value>,
}

impl Param<'_> {
    fn parts(&self) -> impl Iterator<Item = (usize, &str, &Map<String, Value>)> {
        self.object
            .get("part")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, part)| {
                let object = part.as_object()?;
                Some((i, object.get("name")?.as_str()?, object))
            })
    }

    fn part(&self, name: &str) -> Option<&Map<String, Value>> {
        self.parts().find(|(_, n, _)| *n == name).map(|(_, _, p)| p)
    }
}

/// The value[x] of a parameter or part: its key and value.
fn value_of(object: &Map<String, Value>) -> Option<(&str, &Value)> {
    object
        .iter()
        .find(|(key, _)| key.starts_with("value"))
        .map(|(key, value)| (key.as_str(), value))
}

/// The body's parameters, or a violation: not a Parameters resource, a
/// parameter without a name, or one (or a part) given twice.
fn parameters<'a>(request: &'a MockRequest, out: &mut Vec<Violation>) -> Option<Vec<Param<'a>>> {
    let resource = |message: String| Violation::of(RuleId::StructuredResource, "body", message);
    let Some(body) = request.body_json() else {
        out.push(resource("must be a FHIR Parameters resource (JSON)".into()));
        return None;
    };
    if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        out.push(resource(format!(
            "must be a Parameters resource, was {}",
            shown(
                &body
                    .get("resourceType")
                    .map(Value::to_string)
                    .unwrap_or_default()
            )
        )));
        return None;
    }
    let Some(list) = body.get("parameter").and_then(Value::as_array) else {
        out.push(resource("must have a `parameter` list".into()));
        return None;
    };
    let mut params = Vec::new();
    let mut seen = HashSet::new();
    for (index, parameter) in list.iter().enumerate() {
        let Some((object, name)) = parameter
            .as_object()
            .and_then(|o| Some((o, o.get("name")?.as_str()?)))
        else {
            out.push(resource(format!("/parameter/{index} must have a `name`")));
            return None;
        };
        if !seen.insert(name) {
            out.push(Violation::of(
                RuleId::StructuredResource,
                format!("body /parameter/{index} ({name})"),
                "must be given at most once",
            ));
            return None;
        }
        let param = Param {
            index,
            name,
            object,
        };
        let mut parts = HashSet::new();
        for (i, part, _) in param.parts() {
            if !parts.insert(part) {
                out.push(Violation::of(
                    RuleId::StructuredResource,
                    format!("body /parameter/{index}/part/{i} ({name}.{part})"),
                    "must be given at most once",
                ));
                return None;
            }
        }
        params.push(param);
    }
    Some(params)
}

/// `patientNHSNumber`: present, an Identifier with the NHS number system
/// and a valid number.
fn check_nhs_number(params: &[Param<'_>], out: &mut Vec<Violation>) {
    let Some(param) = params.iter().find(|p| p.name == "patientNHSNumber") else {
        out.push(Violation::of(
            RuleId::StructuredParameter,
            "body parameter patientNHSNumber",
            "is required",
        ));
        return;
    };
    let at = format!("body /parameter/{} (patientNHSNumber)", param.index);
    let Some(identifier) = param.object.get("valueIdentifier") else {
        out.push(Violation::of(
            RuleId::StructuredParameter,
            at,
            "must be a valueIdentifier",
        ));
        return;
    };
    let system = identifier.get("system").and_then(Value::as_str);
    if system != Some(NHS_SYSTEM) {
        out.push(Violation::of(
            RuleId::StructuredIdentifierSystem,
            at,
            format!(
                "must have the system {NHS_SYSTEM}, was {}",
                system.map(shown).unwrap_or_else(|| "absent".into())
            ),
        ));
        return;
    }
    match identifier.get("value").and_then(Value::as_str) {
        None => out.push(Violation::of(
            RuleId::StructuredParameter,
            at,
            "must have a value",
        )),
        Some(number) => {
            if let Err(error) = nhs_number::check(number) {
                out.push(Violation::of(
                    RuleId::StructuredNhsNumber,
                    at,
                    format!("{error}, was {}", shown(number)),
                ));
            }
        }
    }
}

/// A whole date (`yyyy-MM-dd`) and nothing else.
fn whole_date(value: &Value) -> Option<NaiveDate> {
    let text = value.as_str()?;
    if text.len() != 10 {
        return None;
    }
    crate::fhir::parse_day(text)
}

/// Checks one known part's value; `label` is `parameter.part`.
fn check_part(
    label: &str,
    at: String,
    kind: Value_,
    part: &Map<String, Value>,
    today: NaiveDate,
    out: &mut Vec<Violation>,
) {
    let bad = |message: String| {
        Violation::of(
            RuleId::StructuredParameter,
            at.clone(),
            format!("({label}) {message}"),
        )
    };
    let Some((key, value)) = value_of(part) else {
        out.push(bad("must have a value".into()));
        return;
    };
    let wanted = match kind {
        Value_::Boolean => "valueBoolean",
        Value_::PastDate | Value_::FutureDate => "valueDate",
        Value_::Period => "valuePeriod",
        Value_::PositiveInt => "valuePositiveInt",
        Value_::Status => "valueCode",
    };
    let key_ok = key == wanted || (kind == Value_::PositiveInt && key == "valueInteger");
    if !key_ok {
        out.push(bad(format!("must be a {wanted}, was a {key}")));
        return;
    }
    match kind {
        Value_::Boolean if !value.is_boolean() => out.push(bad(format!(
            "must be true or false, was {}",
            shown(&value.to_string())
        ))),
        Value_::PastDate | Value_::FutureDate => match whole_date(value) {
            None => out.push(bad(format!(
                "must be a whole date (yyyy-MM-dd), was {}",
                shown(&value.to_string())
            ))),
            Some(day) if kind == Value_::PastDate && day > today => {
                out.push(bad(format!("must not be after today ({today}), was {day}")))
            }
            Some(day) if kind == Value_::FutureDate && day < today => out.push(bad(format!(
                "must not be before today ({today}), was {day}"
            ))),
            Some(_) => {}
        },
        Value_::Period => {
            let bound = |name: &str| value.get(name).map(|v| (whole_date(v), v));
            let (start, end) = (bound("start"), bound("end"));
            if start.is_none() && end.is_none() {
                out.push(bad("must have a start or an end".into()));
                return;
            }
            let mut days = [None, None];
            for (slot, (name, found)) in [("start", start), ("end", end)].into_iter().enumerate() {
                match found {
                    None => {}
                    Some((None, raw)) => {
                        out.push(bad(format!(
                            "{name} must be a whole date (yyyy-MM-dd), was {}",
                            shown(&raw.to_string())
                        )));
                        return;
                    }
                    Some((Some(day), _)) if day > today => {
                        out.push(bad(format!(
                            "{name} must not be after today ({today}), was {day}"
                        )));
                        return;
                    }
                    Some((Some(day), _)) => days[slot] = Some(day),
                }
            }
            if let [Some(start), Some(end)] = days {
                if start > end {
                    out.push(bad(format!("start {start} must not be after end {end}")));
                }
            }
        }
        Value_::PositiveInt => {
            if value.as_i64().is_none_or(|n| n < 1) {
                out.push(bad(format!(
                    "must be a whole number of 1 or more, was {}",
                    shown(&value.to_string())
                )));
            }
        }
        Value_::Status => {
            if !matches!(value.as_str(), Some("active" | "inactive")) {
                out.push(bad(format!(
                    "must be active or inactive, was {}",
                    shown(&value.to_string())
                )));
            }
        }
        Value_::Boolean => {}
    }
}

/// Whether the request is one of the two predefined searches that may
/// combine consultations and problems with filtered areas.
fn predefined(params: &[Param<'_>], today: NaiveDate) -> bool {
    let includes: Vec<&str> = params
        .iter()
        .map(|p| p.name)
        .filter(|n| *n != "patientNHSNumber")
        .collect();
    let base = [
        "includeAllergies",
        "includeMedication",
        "includeConsultations",
        "includeProblems",
    ];
    let extended = [
        &base[..],
        &["includeImmunisations", "includeUncategorisedData"],
    ]
    .concat();
    let same =
        |set: &[&str]| includes.len() == set.len() && set.iter().all(|n| includes.contains(n));
    if !same(&base) && !same(&extended) {
        return false;
    }
    let find = |name: &str| params.iter().find(|p| p.name == name);
    let parts_of = |name: &str| {
        find(name)
            .map(|p| p.parts().map(|(_, n, _)| n.to_string()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let value = |param: &str, part: &str| {
        find(param)
            .and_then(|p| p.part(part))
            .and_then(value_of)
            .map(|(_, v)| v.clone())
    };
    let year_ago = today - chrono::Duration::days(365);
    parts_of("includeConsultations") == ["includeNumberOfMostRecent"]
        && value("includeConsultations", "includeNumberOfMostRecent") == Some(Value::from(3))
        && parts_of("includeProblems").is_empty()
        && value("includeAllergies", "includeResolvedAllergies") == Some(Value::Bool(true))
        && value("includeMedication", "medicationSearchFromDate")
            == Some(Value::from(year_ago.to_string()))
        && parts_of("includeImmunisations").is_empty()
        && parts_of("includeUncategorisedData").is_empty()
}

/// Checks a `$gpc.getstructuredrecord` body.
pub fn check_get(request: &MockRequest, out: &mut Vec<Violation>) {
    let Some(params) = parameters(request, out) else {
        return;
    };
    check_nhs_number(&params, out);
    let today = Utc::now().date_naive();
    let mut areas = 0;
    for param in &params {
        let Some((_, parts)) = AREAS.iter().find(|(name, _)| *name == param.name) else {
            continue;
        };
        areas += 1;
        for (i, name, part) in param.parts() {
            if let Some((_, kind)) = parts.iter().find(|(known, _)| *known == name) {
                let at = format!("body /parameter/{}/part/{i}", param.index);
                check_part(
                    &format!("{}.{name}", param.name),
                    at,
                    *kind,
                    part,
                    today,
                    out,
                );
            }
        }
        if param.name == "includeAllergies" && param.part("includeResolvedAllergies").is_none() {
            out.push(Violation::of(
                RuleId::StructuredParameter,
                format!("body /parameter/{} (includeAllergies)", param.index),
                "must have the part includeResolvedAllergies",
            ));
        }
        if param.name == "includeConsultations"
            && param.part("consultationSearchPeriod").is_some()
            && param.part("includeNumberOfMostRecent").is_some()
        {
            out.push(Violation::of(
                RuleId::StructuredRecentWithPeriod,
                format!("body /parameter/{} (includeConsultations)", param.index),
                "must not have both consultationSearchPeriod and includeNumberOfMostRecent",
            ));
        }
    }
    if areas == 0 {
        out.push(Violation::of(
            RuleId::StructuredParameter,
            "body parameter",
            "must name at least one clinical area (includeAllergies, includeMedication, …)",
        ));
        return;
    }
    check_combinations(&params, today, out);
}

/// Consultations and problems do not combine with filtered areas, but
/// for the predefined searches.
fn check_combinations(params: &[Param<'_>], today: NaiveDate, out: &mut Vec<Violation>) {
    let has = |name: &str| params.iter().any(|p| p.name == name);
    let with = if has("includeConsultations") {
        "includeConsultations"
    } else if has("includeProblems") {
        "includeProblems"
    } else {
        return;
    };
    if predefined(params, today) {
        return;
    }
    for param in params {
        for (i, name, _) in param.parts() {
            let forbidden = NOT_WITH_CONSULTATIONS.contains(&name)
                && !(with == "includeProblems" && name == "filterStatus");
            if forbidden {
                out.push(Violation::of(
                    RuleId::StructuredCombination,
                    format!(
                        "body /parameter/{}/part/{i} ({}.{name})",
                        param.index, param.name
                    ),
                    format!("must not be given with {with}"),
                ));
            }
        }
    }
}

/// Checks a `$gpc.migratestructuredrecord` body; `jwt` gives the scope.
pub fn check_migrate(request: &MockRequest, jwt: Option<&TokenFacts>, out: &mut Vec<Violation>) {
    let Some(params) = parameters(request, out) else {
        return;
    };
    for param in &params {
        if !matches!(param.name, "patientNHSNumber" | "includeFullRecord") {
            out.push(Violation::of(
                RuleId::MigrateParameter,
                format!("body /parameter/{} ({})", param.index, param.name),
                "is not a parameter of migrate (patientNHSNumber, includeFullRecord)",
            ));
        }
    }
    check_nhs_number(&params, out);
    let Some(full) = params.iter().find(|p| p.name == "includeFullRecord") else {
        out.push(Violation::of(
            RuleId::MigrateParameter,
            "body parameter includeFullRecord",
            "is required",
        ));
        return;
    };
    let at = format!("body /parameter/{} (includeFullRecord)", full.index);
    for (i, name, _) in full.parts() {
        if name != "includeSensitiveInformation" {
            out.push(Violation::of(
                RuleId::MigrateParameter,
                format!(
                    "body /parameter/{}/part/{i} (includeFullRecord.{name})",
                    full.index
                ),
                "is not a part of includeFullRecord (includeSensitiveInformation)",
            ));
        }
    }
    let sensitive = full
        .part("includeSensitiveInformation")
        .and_then(|p| p.get("valueBoolean"));
    match sensitive.and_then(Value::as_bool) {
        None => out.push(Violation::of(
            RuleId::MigrateParameter,
            at,
            "must have the part includeSensitiveInformation, a valueBoolean",
        )),
        Some(true) if jwt.is_some_and(|facts| facts.confidentiality.as_deref() == Some("N")) => {
            out.push(Violation::of(
                RuleId::MigrateConflictingValues,
                at,
                "asks for sensitive information, which the JWT scope conf/N does not allow (conf/R does)",
            ))
        }
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(body: Value, migrate: bool, conf: Option<&str>) -> Vec<RuleId> {
        let request = MockRequest::new(
            http::Method::POST,
            "/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.getstructuredrecord",
            http::HeaderMap::new(),
            bytes::Bytes::from(body.to_string()),
        );
        let facts = TokenFacts {
            requested_nhs_number: None,
            confidentiality: conf.map(Box::from),
        };
        let mut out = Vec::new();
        if migrate {
            check_migrate(&request, Some(&facts), &mut out);
        } else {
            check_get(&request, &mut out);
        }
        out.into_iter().map(|v| v.rule).collect()
    }

    fn nhs(value: &str) -> Value {
        json!({"name": "patientNHSNumber", "valueIdentifier": {"system": NHS_SYSTEM, "value": value}})
    }

    fn get(params: Vec<Value>) -> Vec<RuleId> {
        let mut all = vec![nhs("9690937286")];
        all.extend(params);
        run(
            json!({"resourceType": "Parameters", "parameter": all}),
            false,
            None,
        )
    }

    fn day(offset: i64) -> String {
        (Utc::now().date_naive() + chrono::Duration::days(offset)).to_string()
    }

    #[test]
    fn valid_requests_pass() {
        assert_eq!(get(vec![json!({"name": "includeProblems"})]), vec![]);
        assert_eq!(
            get(vec![
                json!({"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueBoolean": false}]}),
                json!({"name": "includeMedication", "part": [{"name": "medicationSearchFromDate", "valueDate": day(-30)}]}),
                json!({"name": "includeDiaryEntries", "part": [{"name": "diaryEntriesSearchDate", "valueDate": day(0)}]}),
                json!({"name": "includeX"})
            ]),
            vec![]
        );
    }

    #[test]
    fn values_and_requirements() {
        use RuleId::*;
        assert_eq!(get(vec![]), vec![StructuredParameter]);
        assert_eq!(
            get(vec![json!({"name": "includeAllergies"})]),
            vec![StructuredParameter]
        );
        for (part, value) in [
            ("medicationSearchFromDate", json!({"valueDate": day(1)})),
            ("medicationSearchFromDate", json!({"valueDate": "2020-01"})),
            (
                "medicationSearchFromDate",
                json!({"valueDate": "2020-01-01T10:00:00+00:00"}),
            ),
            ("includePrescriptionIssues", json!({"valueBoolean": "yes"})),
            ("includePrescriptionIssues", json!({})),
        ] {
            let mut p = json!({"name": part});
            p.as_object_mut()
                .unwrap()
                .extend(value.as_object().unwrap().clone());
            assert_eq!(
                get(vec![json!({"name": "includeMedication", "part": [p]})]),
                vec![StructuredParameter],
                "{part}"
            );
        }
        let period = |start: String, end: String| json!({"name": "includeReferrals", "part": [{"name": "referralSearchPeriod", "valuePeriod": {"start": start, "end": end}}]});
        assert_eq!(
            get(vec![period(day(-10), day(-20))]),
            vec![StructuredParameter]
        );
        assert_eq!(get(vec![period(day(-20), day(-10))]), vec![]);
        assert_eq!(
            get(vec![
                json!({"name": "includeDiaryEntries", "part": [{"name": "diaryEntriesSearchDate", "valueDate": day(-1)}]})
            ]),
            vec![StructuredParameter]
        );
        assert_eq!(
            get(vec![json!({"name": "includeConsultations", "part": [
                {"name": "consultationSearchPeriod", "valuePeriod": {"start": day(-10)}},
                {"name": "includeNumberOfMostRecent", "valuePositiveInt": 2}]})]),
            vec![StructuredRecentWithPeriod]
        );
        assert_eq!(
            get(vec![
                json!({"name": "includeConsultations", "part": [{"name": "includeNumberOfMostRecent", "valuePositiveInt": 0}]})
            ]),
            vec![StructuredParameter]
        );
        assert_eq!(
            get(vec![
                json!({"name": "includeProblems"}),
                json!({"name": "includeProblems"})
            ]),
            vec![StructuredResource]
        );
        assert_eq!(
            run(json!({"resourceType": "Patient"}), false, None),
            vec![StructuredResource]
        );
    }

    #[test]
    fn nhs_numbers() {
        let with = |p: Value| {
            run(
                json!({"resourceType": "Parameters", "parameter": [p, {"name": "includeProblems"}]}),
                false,
                None,
            )
        };
        assert_eq!(with(nhs("9690937287")), vec![RuleId::StructuredNhsNumber]);
        assert_eq!(
            with(
                json!({"name": "patientNHSNumber", "valueIdentifier": {"system": "https://example.org", "value": "9690937286"}})
            ),
            vec![RuleId::StructuredIdentifierSystem]
        );
        assert_eq!(
            with(json!({"name": "patientNHSNumber", "valueString": "9690937286"})),
            vec![RuleId::StructuredParameter]
        );
    }

    #[test]
    fn combinations_and_predefined_searches() {
        let consultations = json!({"name": "includeConsultations", "part": [{"name": "includeNumberOfMostRecent", "valuePositiveInt": 3}]});
        let allergies = json!({"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies", "valueBoolean": true}]});
        let medication = json!({"name": "includeMedication", "part": [{"name": "medicationSearchFromDate", "valueDate": day(-365)}]});
        let problems = json!({"name": "includeProblems"});
        assert_eq!(
            get(vec![consultations.clone(), medication.clone()]),
            vec![RuleId::StructuredCombination]
        );
        assert_eq!(
            get(vec![
                problems.clone(),
                json!({"name": "includeImmunisations", "part": [{"name": "includeNotGiven", "valueBoolean": true}]})
            ]),
            vec![RuleId::StructuredCombination]
        );
        assert_eq!(
            get(vec![
                problems.clone(),
                json!({"name": "includeProblems2"}),
                json!({"name": "includeMedication"})
            ]),
            vec![]
        );
        assert_eq!(
            get(vec![
                json!({"name": "includeProblems", "part": [{"name": "filterStatus", "valueCode": "active"}]})
            ]),
            vec![]
        );
        let one = vec![
            consultations.clone(),
            problems.clone(),
            allergies.clone(),
            medication.clone(),
        ];
        assert_eq!(get(one.clone()), vec![]);
        let mut two = one.clone();
        two.extend([
            json!({"name": "includeImmunisations"}),
            json!({"name": "includeUncategorisedData"}),
        ]);
        assert_eq!(get(two), vec![]);
        let mut other = one;
        other[3] = json!({"name": "includeMedication", "part": [{"name": "medicationSearchFromDate", "valueDate": day(-300)}]});
        assert_eq!(get(other), vec![RuleId::StructuredCombination]);
    }

    #[test]
    fn migrate_parameters() {
        let body = |extra: Vec<Value>, sensitive: Value| {
            let mut all = vec![
                nhs("9690937286"),
                json!({"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueBoolean": sensitive}]}),
            ];
            all.extend(extra);
            json!({"resourceType": "Parameters", "parameter": all})
        };
        assert_eq!(run(body(vec![], json!(false)), true, Some("N")), vec![]);
        assert_eq!(run(body(vec![], json!(true)), true, Some("R")), vec![]);
        assert_eq!(
            run(body(vec![], json!(true)), true, Some("N")),
            vec![RuleId::MigrateConflictingValues]
        );
        assert_eq!(
            run(
                body(vec![json!({"name": "includeAllergies"})], json!(false)),
                true,
                Some("N")
            ),
            vec![RuleId::MigrateParameter]
        );
        assert_eq!(
            run(body(vec![], json!("no")), true, Some("N")),
            vec![RuleId::MigrateParameter]
        );
    }
}

//! The parameters of DSTU2 operations, as the 0.x provider test packs check
//! them (DOMAIN.md §11): `$gpc.getcarerecord`'s and `$gpc.getschedule`'s
//! `Parameters` bodies, the patient appointments' `start`, and identifier
//! searches (no stray parameters; a Patient search for the JWT's patient).

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::gpconnect::TokenFacts;
use super::{nhs_number, shown, RuleId, Violation};
use crate::request::MockRequest;

/// Which parameter rules an operation has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsKind {
    /// `GET /Patient|Practitioner|Organization?identifier=…`.
    IdentifierSearch {
        patient: bool,
    },
    CareRecord,
    /// `$gpc.getschedule`; `instance` on `/Organization/{id}/…`.
    Schedule {
        instance: bool,
    },
    PatientAppointments,
}

impl ParamsKind {
    /// The kind of a DSTU2 operation by method and path shape.
    pub fn of(method: &str, shape: &str) -> Option<ParamsKind> {
        Some(match (method, shape) {
            ("GET", "/Patient") => ParamsKind::IdentifierSearch { patient: true },
            ("GET", "/Practitioner" | "/Organization") => {
                ParamsKind::IdentifierSearch { patient: false }
            }
            ("POST", "/Patient/$gpc.getcarerecord") => ParamsKind::CareRecord,
            ("POST", "/Organization/$gpc.getschedule") => ParamsKind::Schedule { instance: false },
            ("POST", "/Organization/{id}/$gpc.getschedule") => {
                ParamsKind::Schedule { instance: true }
            }
            ("GET", "/Patient/{id}/Appointment") => ParamsKind::PatientAppointments,
            _ => return None,
        })
    }
}

const NHS_SYSTEM: &str = "http://fhir.nhs.net/Id/nhs-number";
const SECTION_SYSTEM: &str = "http://fhir.nhs.net/ValueSet/gpconnect-record-section-1";

/// Checks `request` as an operation of `kind`.
pub fn check(
    kind: ParamsKind,
    request: &MockRequest,
    jwt: Option<&TokenFacts>,
    out: &mut Vec<Violation>,
) {
    match kind {
        ParamsKind::IdentifierSearch { patient } => check_search(request, patient, jwt, out),
        ParamsKind::PatientAppointments => check_start(request, out),
        ParamsKind::CareRecord => {
            if let Some(body) = parameters(request) {
                check_care_record(body, out);
            }
        }
        ParamsKind::Schedule { instance } => {
            if let Some(body) = parameters(request) {
                check_schedule(body, instance, out);
            }
        }
    }
}

/// The `parameter` array of a `Parameters` body (others are the body
/// schema's to reject).
fn parameters(request: &MockRequest) -> Option<&[Value]> {
    let body = request.body_json()?;
    if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return None;
    }
    body.get("parameter")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
}

fn check_search(
    request: &MockRequest,
    patient: bool,
    jwt: Option<&TokenFacts>,
    out: &mut Vec<Violation>,
) {
    for (name, _) in &request.query {
        // A mis-cased `identifier` is the identifier rule's to report.
        if name != "_format" && !name.eq_ignore_ascii_case("identifier") {
            out.push(Violation::of(
                RuleId::IdentifierSearchStray,
                format!("query parameter {name}"),
                "is not allowed: an identifier search takes only identifier (and _format)",
            ));
        }
    }
    if !patient {
        return;
    }
    let searched = request
        .query_values("identifier")
        .next()
        .and_then(|v| v.strip_prefix(NHS_SYSTEM))
        .and_then(|v| v.strip_prefix('|'));
    let requested = jwt.and_then(|facts| facts.requested_nhs_number.as_deref());
    if let (Some(searched), Some(requested)) = (searched, requested) {
        if searched != requested {
            out.push(Violation::of(
                RuleId::JwtRecordMismatch,
                "query parameter identifier",
                format!(
                    "must search for the JWT requested_record's patient {}, was {}",
                    shown(requested),
                    shown(searched)
                ),
            ));
        }
    }
}

const PREFIXES: [&str; 9] = ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"];

fn check_start(request: &MockRequest, out: &mut Vec<Violation>) {
    for value in request.query_values("start") {
        let date = PREFIXES
            .iter()
            .find_map(|p| value.strip_prefix(p))
            .unwrap_or(value);
        if !is_fhir_date(date) && DateTime::parse_from_rfc3339(date).is_err() {
            out.push(Violation::of(
                RuleId::AppointmentsStart,
                "query parameter start",
                format!(
                    "must be a FHIR date or dateTime with an optional prefix (ge2017-02-16), was {}",
                    shown(value)
                ),
            ));
        }
    }
}

/// `yyyy`, `yyyy-MM` or `yyyy-MM-dd`.
fn is_fhir_date(text: &str) -> bool {
    match text.len() {
        4 => text.bytes().all(|b| b.is_ascii_digit()),
        7 => crate::fhir::parse_day(&format!("{text}-01")).is_some(),
        10 => crate::fhir::parse_day(text).is_some(),
        _ => false,
    }
}

/// A bound of a period: a full date (its midnight, UTC) or a dateTime with
/// seconds and a zone.
fn instant_of(text: &str, partial_dates: bool) -> Option<DateTime<FixedOffset>> {
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment);
    }
    if !is_fhir_date(text) || (!partial_dates && text.len() != 10) {
        return None;
    }
    let full = match text.len() {
        4 => format!("{text}-01-01"),
        7 => format!("{text}-01"),
        _ => text.to_string(),
    };
    let day = crate::fhir::parse_day(&full)?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset())
}

fn named<'b>(parameters: &'b [Value], name: &str) -> Vec<(usize, &'b Value)> {
    parameters
        .iter()
        .enumerate()
        .filter(|(_, p)| p.get("name").and_then(Value::as_str) == Some(name))
        .collect()
}

fn check_care_record(parameters: &[Value], out: &mut Vec<Violation>) {
    for (i, parameter) in parameters.iter().enumerate() {
        let name = parameter.get("name").and_then(Value::as_str).unwrap_or("");
        if !matches!(name, "patientNHSNumber" | "recordSection" | "timePeriod") {
            out.push(Violation::of(
                RuleId::CareRecordParameterName,
                format!("body /parameter/{i}/name"),
                format!(
                    "must be patientNHSNumber, recordSection or timePeriod, was {}",
                    shown(name)
                ),
            ));
        }
    }
    let nhs = |at: String, message: String| Violation::of(RuleId::CareRecordNhsNumber, at, message);
    match named(parameters, "patientNHSNumber").as_slice() {
        [] => out.push(nhs(
            "body /parameter".into(),
            "must hold one patientNHSNumber".into(),
        )),
        [(i, parameter)] => {
            let at = format!("body /parameter/{i}/valueIdentifier");
            match parameter.get("valueIdentifier") {
                None => out.push(nhs(
                    at,
                    "is required (the NHS number as an Identifier)".into(),
                )),
                Some(identifier) => {
                    let system = identifier.get("system").and_then(Value::as_str);
                    let value = identifier
                        .get("value")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if system != Some(NHS_SYSTEM) {
                        out.push(nhs(
                            format!("{at}/system"),
                            format!("must be {NHS_SYSTEM}, was {}", shown(system.unwrap_or(""))),
                        ));
                    } else if let Err(error) = nhs_number::check(value) {
                        out.push(nhs(
                            format!("{at}/value"),
                            format!("NHS number {} {error}", shown(value)),
                        ));
                    }
                }
            }
        }
        [..] => out.push(nhs(
            "body /parameter".into(),
            "must hold patientNHSNumber once".into(),
        )),
    }
    let section =
        |at: String, message: String| Violation::of(RuleId::CareRecordSection, at, message);
    match named(parameters, "recordSection").as_slice() {
        [] => out.push(section(
            "body /parameter".into(),
            "must hold one recordSection".into(),
        )),
        [(i, parameter)] => {
            let at = format!("body /parameter/{i}/valueCodeableConcept");
            let codings = parameter
                .pointer("/valueCodeableConcept/coding")
                .and_then(Value::as_array);
            match codings.map(Vec::as_slice) {
                Some([coding]) => {
                    let system = coding.get("system").and_then(Value::as_str);
                    let code = coding.get("code").and_then(Value::as_str).unwrap_or("");
                    if system == Some("") {
                        out.push(Violation::of(
                            RuleId::CareRecordSectionSystemEmpty,
                            format!("{at}/coding/0/system"),
                            format!("must be {SECTION_SYSTEM}, was empty"),
                        ));
                    } else if system != Some(SECTION_SYSTEM) {
                        out.push(section(
                            format!("{at}/coding/0/system"),
                            format!(
                                "must be {SECTION_SYSTEM}, was {}",
                                shown(system.unwrap_or(""))
                            ),
                        ));
                    } else if code.trim().is_empty() {
                        out.push(section(format!("{at}/coding/0/code"), "is required".into()));
                    }
                }
                _ => out.push(section(
                    at,
                    "must be a CodeableConcept with exactly one coding".into(),
                )),
            }
        }
        [..] => out.push(section(
            "body /parameter".into(),
            "must hold recordSection once".into(),
        )),
    }
    let periods = named(parameters, "timePeriod");
    if periods.len() > 1 {
        out.push(Violation::of(
            RuleId::CareRecordTimePeriod,
            "body /parameter",
            "must hold timePeriod at most once",
        ));
    }
    if let Some((i, parameter)) = periods.first() {
        check_period(
            parameter,
            *i,
            RuleId::CareRecordTimePeriod,
            PeriodRules {
                partial_dates: true,
                both: false,
                max_days: None,
            },
            out,
        );
    }
}

struct PeriodRules {
    /// `yyyy` and `yyyy-MM` are bounds (the care record), or not (schedules).
    partial_dates: bool,
    /// Both bounds are required.
    both: bool,
    max_days: Option<i64>,
}

fn check_period(
    parameter: &Value,
    index: usize,
    rule: RuleId,
    rules: PeriodRules,
    out: &mut Vec<Violation>,
) {
    let at = format!("body /parameter/{index}/valuePeriod");
    let Some(period) = parameter.get("valuePeriod").filter(|p| p.is_object()) else {
        out.push(Violation::of(rule, at, "is required (a Period)"));
        return;
    };
    let mut bounds = [None, None];
    for (slot, name) in ["start", "end"].into_iter().enumerate() {
        match period.get(name) {
            None if rules.both => {
                out.push(Violation::of(rule, format!("{at}/{name}"), "is required"));
            }
            None => {}
            Some(value) => {
                let text = value.as_str().unwrap_or("");
                match instant_of(text, rules.partial_dates) {
                    Some(moment) => bounds[slot] = Some(moment),
                    None => out.push(Violation::of(
                        rule,
                        format!("{at}/{name}"),
                        format!(
                            "must be a {} or a dateTime with seconds and a zone, was {}",
                            if rules.partial_dates {
                                "FHIR date"
                            } else {
                                "full date (yyyy-MM-dd)"
                            },
                            shown(&value.to_string())
                        ),
                    )),
                }
            }
        }
    }
    if let [Some(start), Some(end)] = bounds {
        if start > end {
            out.push(Violation::of(rule, at, "start must not be after end"));
        } else if let Some(max) = rules.max_days {
            let days = (end.date_naive() - start.date_naive()).num_days();
            if days > max {
                out.push(Violation::of(
                    rule,
                    at,
                    format!("must span at most {max} days, spans {days}"),
                ));
            }
        }
    }
}

fn check_schedule(parameters: &[Value], instance: bool, out: &mut Vec<Violation>) {
    let allowed: &[&str] = if instance {
        &["timePeriod"]
    } else {
        &["timePeriod", "odsCode"]
    };
    for (i, parameter) in parameters.iter().enumerate() {
        let name = parameter.get("name").and_then(Value::as_str).unwrap_or("");
        if !allowed.contains(&name) {
            out.push(Violation::of(
                RuleId::ScheduleParameter,
                format!("body /parameter/{i}/name"),
                format!("must be {}, was {}", allowed.join(" or "), shown(name)),
            ));
        }
    }
    match named(parameters, "timePeriod").as_slice() {
        [] => out.push(Violation::of(
            RuleId::ScheduleParameter,
            "body /parameter",
            "must hold one timePeriod",
        )),
        [(i, parameter)] => check_period(
            parameter,
            *i,
            RuleId::ScheduleTimePeriod,
            PeriodRules {
                partial_dates: false,
                both: true,
                max_days: Some(14),
            },
            out,
        ),
        [..] => out.push(Violation::of(
            RuleId::ScheduleParameter,
            "body /parameter",
            "must hold timePeriod once",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn care_record(parameters: Value) -> Vec<RuleId> {
        let mut out = Vec::new();
        check_care_record(parameters.as_array().expect("array"), &mut out);
        out.into_iter().map(|v| v.rule).collect()
    }

    fn nhs(value: &str) -> Value {
        json!({"name": "patientNHSNumber", "valueIdentifier": {"system": NHS_SYSTEM, "value": value}})
    }

    fn section(system: &str, code: &str) -> Value {
        json!({"name": "recordSection", "valueCodeableConcept": {"coding": [{"system": system, "code": code}]}})
    }

    fn period(start: &str, end: &str) -> Value {
        json!({"name": "timePeriod", "valuePeriod": {"start": start, "end": end}})
    }

    #[test]
    fn care_record_parameters() {
        let ok = section(SECTION_SYSTEM, "SUM");
        assert_eq!(care_record(json!([nhs("9658218873"), ok])), vec![]);
        assert_eq!(
            care_record(json!([nhs("9658218872"), ok])),
            vec![RuleId::CareRecordNhsNumber]
        );
        assert_eq!(
            care_record(json!([nhs("9658218873"), ok, ok])),
            vec![RuleId::CareRecordSection]
        );
        assert_eq!(
            care_record(json!([nhs("9658218873"), section("", "SUM")])),
            vec![RuleId::CareRecordSectionSystemEmpty]
        );
        assert_eq!(
            care_record(
                json!([{"name": "patientnhsnumber", "valueIdentifier": {"system": NHS_SYSTEM, "value": "9658218873"}}, ok])
            ),
            vec![RuleId::CareRecordParameterName, RuleId::CareRecordNhsNumber]
        );
        assert_eq!(
            care_record(json!([nhs("9658218873"), ok, period("2016", "2017-02-24")])),
            vec![]
        );
        for (start, end) in [
            ("2017-02-24T10:00", "2017-03-01"),
            ("yesterday", "2017"),
            ("2018-01-01", "2017-01-01"),
        ] {
            assert_eq!(
                care_record(json!([nhs("9658218873"), ok, period(start, end)])),
                vec![RuleId::CareRecordTimePeriod],
                "{start} {end}"
            );
        }
    }

    #[test]
    fn schedule_parameters() {
        let rules = |parameters: Value, instance: bool| {
            let mut out = Vec::new();
            check_schedule(parameters.as_array().expect("array"), instance, &mut out);
            out.into_iter().map(|v| v.rule).collect::<Vec<_>>()
        };
        let good = period("2030-01-07", "2030-01-21T00:00:00+00:00");
        assert_eq!(rules(json!([good]), true), vec![]);
        let ods = json!({"name": "odsCode", "valueIdentifier": {"value": "A20047"}});
        assert_eq!(rules(json!([good, ods]), false), vec![]);
        assert_eq!(
            rules(json!([good, ods]), true),
            vec![RuleId::ScheduleParameter]
        );
        assert_eq!(rules(json!([]), false), vec![RuleId::ScheduleParameter]);
        assert_eq!(
            rules(json!([good, good]), false),
            vec![RuleId::ScheduleParameter]
        );
        for bad in [
            period("2030-01-07", "2030-01-22"),
            period("2030", "2030-01-08"),
            json!({"name": "timePeriod", "valuePeriod": {"start": "2030-01-07"}}),
        ] {
            assert_eq!(
                rules(json!([bad]), true),
                vec![RuleId::ScheduleTimePeriod],
                "{bad}"
            );
        }
    }

    #[test]
    fn fhir_dates() {
        assert!(is_fhir_date("2016") && is_fhir_date("2016-02") && is_fhir_date("2016-02-16"));
        assert!(
            !is_fhir_date("16-02-2016")
                && !is_fhir_date("2016-02-16T")
                && !is_fhir_date("2016/02/16")
        );
    }
}

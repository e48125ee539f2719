//! The query parameters of GP Connect 1.x (STU3) searches that are not
//! identifier searches: the search for free slots and a patient's
//! appointments (DOMAIN.md §2b, §10.11, §10.14; the 1.x provider test
//! pack's SearchForFreeSlots and AppointmentRetrieve). Only the request is
//! read: what the slots or appointments are is the scenarios' business.

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::tokens::TokenFacts;
use super::{shown, RuleId, Violation};
use crate::request::MockRequest;

/// Which 1.x parameter rules an operation has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsKind {
    /// `GET /Slot`.
    SlotSearch,
    /// `GET /Patient/{id}/Appointment`.
    PatientAppointments,
    /// Access Document's `GET /Patient/{id}/DocumentReference`
    /// ([`super::operations_documents`]).
    DocumentSearch,
    /// Access Record Structured's `$gpc.getstructuredrecord`
    /// ([`super::operations_structured`]).
    StructuredRecord,
    /// Access Record Structured's `$gpc.migratestructuredrecord`.
    MigrateStructuredRecord,
}

impl ParamsKind {
    /// The kind of a 1.x operation by method and path shape.
    pub fn of(method: &str, shape: &str) -> Option<ParamsKind> {
        match (method, shape) {
            ("GET", "/Slot") => Some(ParamsKind::SlotSearch),
            ("GET", "/Patient/{id}/Appointment") => Some(ParamsKind::PatientAppointments),
            ("GET", "/Patient/{id}/DocumentReference") => Some(ParamsKind::DocumentSearch),
            ("POST", "/Patient/$gpc.getstructuredrecord") => Some(ParamsKind::StructuredRecord),
            ("POST", "/Patient/$gpc.migratestructuredrecord") => {
                Some(ParamsKind::MigrateStructuredRecord)
            }
            _ => None,
        }
    }
}

/// Checks `request` as an operation of `kind`; `jwt` is what the token said.
pub fn check(
    kind: ParamsKind,
    request: &MockRequest,
    jwt: Option<&TokenFacts>,
    out: &mut Vec<Violation>,
) {
    match kind {
        ParamsKind::SlotSearch => check_slot_search(request, out),
        ParamsKind::PatientAppointments => check_appointments(request, out),
        ParamsKind::DocumentSearch => {
            super::operations_documents::check_document_search(request, out)
        }
        ParamsKind::StructuredRecord => super::operations_structured::check_get(request, out),
        ParamsKind::MigrateStructuredRecord => {
            super::operations_structured::check_migrate(request, jwt, out)
        }
    }
}

/// The longest a slot search may span, in days.
const SLOT_WINDOW_DAYS: i64 = 14;

/// A bound of a slot search: its instant and its day; a full date is the
/// whole day (from its midnight, UTC, to the next).
#[derive(Debug, Clone, Copy)]
struct Bound {
    from: DateTime<FixedOffset>,
    until: DateTime<FixedOffset>,
    day: NaiveDate,
}

/// `yyyy-MM-dd`, or a dateTime with seconds and an offset (`Z` or
/// `+hh:mm`); partial dates and zone-less times are not bounds.
fn bound(text: &str) -> Option<Bound> {
    // An offset's `+` sent unencoded reads as a space.
    let text = &text.replace(' ', "+");
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(Bound {
            from: moment,
            until: moment,
            day: moment.date_naive(),
        });
    }
    let day = full_date(text)?;
    let midnight = day.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset();
    Some(Bound {
        from: midnight,
        until: midnight + chrono::Duration::days(1),
        day,
    })
}

/// `yyyy-MM-dd` and nothing else.
fn full_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    crate::fhir::parse_day(text)
}

fn check_slot_search(request: &MockRequest, out: &mut Vec<Violation>) {
    let values = |name: &'static str| request.query_values(name).collect::<Vec<_>>();
    let (starts, ends, statuses, includes) = (
        values("start"),
        values("end"),
        values("status"),
        values("_include"),
    );
    let missing = |name: &str, example: &str| {
        Violation::of(
            RuleId::SlotSearchParameterMissing,
            format!("query parameter {name}"),
            format!("is required ({example})"),
        )
    };
    if starts.is_empty() {
        out.push(missing("start", "start=ge<date>"));
    }
    if ends.is_empty() {
        out.push(missing("end", "end=le<date>"));
    }
    if statuses.is_empty() {
        out.push(missing("status", "status=free"));
    }
    if !includes.contains(&"Slot:schedule") {
        out.push(Violation::of(
            RuleId::SlotSearchParameterMissing,
            "query parameter _include",
            format!(
                "must include Slot:schedule, was {}",
                if includes.is_empty() {
                    "absent".to_string()
                } else {
                    includes
                        .iter()
                        .map(|v| shown(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    }
    match statuses.as_slice() {
        [] | ["free"] => {}
        [other] => out.push(Violation::of(
            RuleId::SlotSearchStatus,
            "query parameter status",
            format!("must be free, was {}", shown(other)),
        )),
        [..] => out.push(Violation::of(
            RuleId::SlotSearchStatus,
            "query parameter status",
            "must be given once (status=free)",
        )),
    }
    let mut bounds = [None, None];
    for (slot, (name, prefix, given)) in [("start", "ge", &starts), ("end", "le", &ends)]
        .into_iter()
        .enumerate()
    {
        let at = format!("query parameter {name}");
        match given.as_slice() {
            [] => {}
            [value] => match value.strip_prefix(prefix).map(|rest| (rest, bound(rest))) {
                Some((_, Some(found))) => bounds[slot] = Some(found),
                Some((rest, None)) => out.push(Violation::of(
                    RuleId::SlotSearchDate,
                    at,
                    format!(
                        "must be {prefix} and a full date (yyyy-MM-dd) or a dateTime with seconds and an offset, was {} (the date part {})",
                        shown(value),
                        shown(rest)
                    ),
                )),
                None => out.push(Violation::of(
                    RuleId::SlotSearchDate,
                    at,
                    format!("must have the prefix {prefix} ({name}={prefix}<date>), was {}", shown(value)),
                )),
            },
            [..] => out.push(Violation::of(
                RuleId::SlotSearchDate,
                at,
                format!("must be given once, was given {} times", given.len()),
            )),
        }
    }
    if let [Some(start), Some(end)] = bounds {
        if start.from > end.until || start.day > end.day {
            out.push(Violation::of(
                RuleId::SlotSearchWindow,
                "query parameters start, end",
                format!(
                    "start must not be after end, was {} after {}",
                    starts[0], ends[0]
                ),
            ));
        } else {
            let days = (end.day - start.day).num_days();
            if days > SLOT_WINDOW_DAYS {
                out.push(Violation::of(
                    RuleId::SlotSearchWindow,
                    "query parameters start, end",
                    format!("must span at most {SLOT_WINDOW_DAYS} days, span {days}"),
                ));
            }
        }
    }
}

fn check_appointments(request: &MockRequest, out: &mut Vec<Violation>) {
    let at = "query parameter start";
    let range = |message: String| Violation::of(RuleId::AppointmentsStartRange, at, message);
    let starts: Vec<&str> = request.query_values("start").collect();
    if starts.len() != 2 {
        out.push(range(format!(
            "must be given twice, start=ge<date>&start=le<date>, was given {} time{}",
            starts.len(),
            if starts.len() == 1 { "" } else { "s" }
        )));
        return;
    }
    let mut dates: [Option<NaiveDate>; 2] = [None, None];
    for value in &starts {
        let (slot, prefix) = match value.get(..2) {
            Some("ge") => (0, "ge"),
            Some("le") => (1, "le"),
            _ => {
                out.push(range(format!(
                    "must have the prefix ge or le, was {}",
                    shown(value)
                )));
                continue;
            }
        };
        let Some(date) = full_date(&value[2..]) else {
            out.push(range(format!(
                "must be {prefix} and a date (yyyy-MM-dd) with no time, was {}",
                shown(value)
            )));
            continue;
        };
        if dates[slot].replace(date).is_some() {
            out.push(range(format!(
                "must be one ge and one le, both were {prefix}"
            )));
        }
    }
    let [Some(from), Some(to)] = dates else {
        return;
    };
    if from > to {
        out.push(range(format!("ge{from} must not be after le{to}")));
    }
    let today = chrono::Utc::now().date_naive();
    for (prefix, date) in [("ge", from), ("le", to)] {
        if date < today {
            out.push(Violation::of(
                RuleId::AppointmentsStartPast,
                at,
                format!(
                    "{prefix}{date} is before today ({today}): appointments in the past cannot be searched"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn rules(kind: ParamsKind, query: &str) -> Vec<RuleId> {
        let request = MockRequest::new(
            Method::GET,
            &format!("/x?{query}"),
            http::HeaderMap::new(),
            bytes::Bytes::new(),
        );
        let mut out = Vec::new();
        check(kind, &request, None, &mut out);
        out.into_iter().map(|v| v.rule).collect()
    }

    fn day(days: i64) -> String {
        (chrono::Utc::now() + chrono::Duration::days(days))
            .format("%Y-%m-%d")
            .to_string()
    }

    #[test]
    fn slot_searches() {
        let slots = |start: &str, end: &str, rest: &str| {
            rules(
                ParamsKind::SlotSearch,
                &format!("start={start}&end={end}&{rest}"),
            )
        };
        let ok = "status=free&_include=Slot:schedule";
        assert_eq!(slots("ge2030-01-07", "le2030-01-21", ok), vec![]);
        assert_eq!(slots("ge2030-01-07", "le2030-01-07", ok), vec![]);
        assert_eq!(
            slots(
                "ge2030-01-07T09:00:00%2B00:00",
                "le2030-01-08T17:00:00+01:00",
                ok
            ),
            vec![]
        );
        assert_eq!(
            slots("ge2030-01-07", "le2030-01-22", ok),
            vec![RuleId::SlotSearchWindow]
        );
        assert_eq!(
            slots("ge2030-01-07", "le2030-01-06", ok),
            vec![RuleId::SlotSearchWindow]
        );
        for (start, end) in [
            ("lt2030-01-07", "le2030-01-08"),
            ("ge2030-01-07", "ne2030-01-08"),
            ("ge2030", "le2030-01-08"),
            ("ge2030-01-07T09:00:00", "le2030-01-08"),
            ("invalidStartDate", "le2030-01-08"),
            ("", "le2030-01-08"),
        ] {
            assert_eq!(
                slots(start, end, ok),
                vec![RuleId::SlotSearchDate],
                "{start} {end}"
            );
        }
        assert_eq!(
            slots(
                "ge2030-01-07",
                "le2030-01-08",
                "status=busy&_include=Slot:schedule"
            ),
            vec![RuleId::SlotSearchStatus]
        );
        assert_eq!(
            rules(ParamsKind::SlotSearch, "status=free&_include=Slot:schedule"),
            vec![
                RuleId::SlotSearchParameterMissing,
                RuleId::SlotSearchParameterMissing
            ]
        );
        assert_eq!(
            slots("ge2030-01-07", "le2030-01-08", "status=free"),
            vec![RuleId::SlotSearchParameterMissing]
        );
    }

    #[test]
    fn patient_appointments() {
        let search = |query: String| rules(ParamsKind::PatientAppointments, &query);
        assert_eq!(
            search(format!("start=ge{}&start=le{}", day(0), day(14))),
            vec![]
        );
        assert_eq!(
            search(format!("start=le{}&start=ge{}", day(3), day(1))),
            vec![]
        );
        assert_eq!(
            search(format!("start=ge{}", day(1))),
            vec![RuleId::AppointmentsStartRange]
        );
        assert_eq!(
            search(format!("start=ge{}&start=ge{}", day(1), day(2))),
            vec![RuleId::AppointmentsStartRange]
        );
        assert_eq!(
            search(format!(
                "start=ge{}T10:00:00%2B00:00&start=le{}",
                day(1),
                day(2)
            )),
            vec![RuleId::AppointmentsStartRange]
        );
        assert_eq!(
            search(format!("start=ge{}&start=le{}", day(5), day(2))),
            vec![RuleId::AppointmentsStartRange]
        );
        assert_eq!(
            search("start=2010-02-03&start=2010-03-03".into()),
            vec![
                RuleId::AppointmentsStartRange,
                RuleId::AppointmentsStartRange
            ]
        );
        assert_eq!(
            search(format!("start=ge2010-03-03&start=le{}", day(2))),
            vec![RuleId::AppointmentsStartPast]
        );
    }
}

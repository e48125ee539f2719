//! Dates in sample bodies: a definition's examples carry fixed dates (the
//! GP Connect definition's are in January 2030), which a sample moves so
//! that they are relative to today, as the default pack's slots are.

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat};
use serde_json::Value;

/// Whether `text` is a FHIR `dateTime` with a time (or an `instant`).
pub fn is_date_time(text: &str) -> bool {
    DateTime::parse_from_rfc3339(text).is_ok()
}

/// Moves every period in `body` (an object with a `start` and/or `end`
/// date or date-time: a FHIR `Period`, an `Appointment`) so that its start
/// (its end when it has no start) falls on `today`, keeping the times of
/// day, the offsets and the span: `2030-01-07T00:00:00+00:00` to
/// `2030-01-20T23:59:59+00:00` becomes today to 13 days from today.
/// An Order's `date` moves to today too (a provider takes only today's,
/// rule `order-date`). Other dates (`birthDate`, `meta.lastUpdated`) are
/// left as they are.
pub fn shift_periods(body: &mut Value, today: NaiveDate) {
    match body {
        Value::Object(fields) => {
            if fields.get("resourceType").and_then(Value::as_str) == Some("Order") {
                if let Some(Value::String(text)) = fields.get_mut("date") {
                    let days = day_of(text).map(|day| today.signed_duration_since(day).num_days());
                    if let Some(moved) = days.and_then(|days| shift(text, days)) {
                        *text = moved;
                    }
                }
            }
            let anchor = ["start", "end"]
                .iter()
                .find_map(|name| fields.get(*name).and_then(Value::as_str).and_then(day_of));
            if let Some(anchor) = anchor {
                let days = today.signed_duration_since(anchor).num_days();
                for name in ["start", "end"] {
                    if let Some(Value::String(text)) = fields.get_mut(name) {
                        if let Some(moved) = shift(text, days) {
                            *text = moved;
                        }
                    }
                }
            }
            for value in fields.values_mut() {
                shift_periods(value, today);
            }
        }
        Value::Array(items) => {
            for item in items {
                shift_periods(item, today);
            }
        }
        _ => {}
    }
}

/// The calendar day of a full date or date-time (in its own offset).
fn day_of(text: &str) -> Option<NaiveDate> {
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.date_naive());
    }
    crate::fhir::parse_day(text)
}

/// `text` moved by `days`, written as it was (date, or date-time with its
/// offset); `None` for anything else (a partial date, not a date at all).
fn shift(text: &str, days: i64) -> Option<String> {
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        let moved = moment.checked_add_signed(Duration::days(days))?;
        let seconds = if moved.timestamp_subsec_nanos() == 0 {
            SecondsFormat::Secs
        } else {
            SecondsFormat::AutoSi
        };
        return Some(moved.to_rfc3339_opts(seconds, text.ends_with('Z')));
    }
    let day = crate::fhir::parse_day(text)?;
    let moved = day.checked_add_signed(Duration::days(days))?;
    Some(moved.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 14).expect("a date")
    }

    #[test]
    fn a_period_starts_today_and_keeps_its_span() {
        let mut body = json!({"resourceType": "Parameters", "parameter": [
            {"name": "timePeriod", "valuePeriod": {
                "start": "2030-01-07T00:00:00+00:00", "end": "2030-01-20T23:59:59+00:00"}},
            {"name": "odsCode", "valueIdentifier": {"value": "A20047"}}
        ]});
        shift_periods(&mut body, today());
        assert_eq!(
            body["parameter"][0]["valuePeriod"],
            json!({"start": "2025-03-14T00:00:00+00:00", "end": "2025-03-27T23:59:59+00:00"})
        );
        assert_eq!(body["parameter"][1]["valueIdentifier"]["value"], "A20047");
    }

    #[test]
    fn offsets_zulu_dates_and_end_only_periods_are_kept_in_shape() {
        let mut body = json!({"start": "2030-01-07T09:00:00Z", "end": "2030-01-07T09:10:00+01:00",
            "meta": {"lastUpdated": "2017-02-24T13:51:00+00:00"}, "birthDate": "1927-06-19",
            "period": {"end": "2030-01-09"}, "partial": {"start": "2030"}});
        shift_periods(&mut body, today());
        assert_eq!(body["start"], "2025-03-14T09:00:00Z");
        assert_eq!(body["end"], "2025-03-14T09:10:00+01:00");
        assert_eq!(body["meta"]["lastUpdated"], "2017-02-24T13:51:00+00:00");
        assert_eq!(body["birthDate"], "1927-06-19");
        assert_eq!(body["period"]["end"], "2025-03-14");
        assert_eq!(
            body["partial"]["start"], "2030",
            "a partial date is left alone"
        );
    }

    #[test]
    fn date_times_are_told_from_dates_and_text() {
        assert!(is_date_time("2030-01-07T09:00:00+00:00"));
        assert!(!is_date_time("2030-01-07"));
        assert!(!is_date_time("Review of blood pressure"));
    }
}

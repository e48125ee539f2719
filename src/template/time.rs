//! Time for the `now` and `date_add` helpers: reading offsets (`"+2d"`),
//! reading dates, formatting with a template's strftime pattern without
//! panicking, and the per-second cache of `{{now}}` texts that both
//! Handlebars renders and flat renders (`flat.rs`) read.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use handlebars::{Helper, RenderErrorReason};
use serde_json::{json, Value};

use super::helpers::{hash_str, param, text};

pub(super) const DEFAULT_DATE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S+00:00";

/// `"+2d"`, `"-30m"`, `"+1h"`, `"10s"`: a signed amount and a unit.
pub fn parse_offset(offset: &str) -> Result<Duration, String> {
    let trimmed = offset.trim();
    if trimmed.is_empty() {
        return Ok(Duration::zero());
    }
    let (sign, rest) = match trimmed.as_bytes()[0] {
        b'-' => (-1, &trimmed[1..]),
        b'+' => (1, &trimmed[1..]),
        _ => (1, trimmed),
    };
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(split);
    let amount: i64 = digits.parse().map_err(|_| {
        format!("offset {offset:?}: expected a number then d, h, m or s, e.g. \"+2d\"")
    })?;
    let amount = sign * amount;
    // chrono's plain constructors panic past about ±292 billion years;
    // the `try_` ones say so, and a request may well ask for that.
    let duration = match unit {
        "d" => Duration::try_days(amount),
        "h" => Duration::try_hours(amount),
        "m" => Duration::try_minutes(amount),
        "s" | "" => Duration::try_seconds(amount),
        "w" => Duration::try_weeks(amount),
        _ => {
            return Err(format!(
                "offset {offset:?}: unknown unit {unit:?}, expected d, h, m or s"
            ))
        }
    };
    duration.ok_or_else(|| format!("offset {offset:?} is out of range"))
}

/// `time` moved by `offset`, or an error past the dates chrono can hold
/// (`DateTime + Duration` panics there).
fn shift<Tz: chrono::TimeZone>(
    time: DateTime<Tz>,
    offset: Duration,
    offset_text: &str,
) -> Result<DateTime<Tz>, RenderErrorReason> {
    time.checked_add_signed(offset).ok_or_else(|| {
        RenderErrorReason::Other(format!(
            "offset {offset_text:?} moves the date out of range"
        ))
    })
}

/// Formats with a user-supplied strftime pattern, refusing bad patterns
/// instead of panicking inside chrono's `Display`.
fn format_time(time: &DateTime<FixedOffset>, format: &str) -> Result<String, RenderErrorReason> {
    use chrono::format::{Item, StrftimeItems};
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    if items.iter().any(|item| matches!(item, Item::Error)) {
        return Err(RenderErrorReason::Other(format!(
            "invalid date format {format:?}"
        )));
    }
    // `to_string` would panic if chrono's `Display` reported an error.
    let mut out = String::new();
    std::fmt::Write::write_fmt(
        &mut out,
        format_args!("{}", time.format_with_items(items.into_iter())),
    )
    .map_err(|_| RenderErrorReason::Other(format!("cannot format the date with {format:?}")))?;
    Ok(out)
}

pub(super) fn helper_now(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let offset_text = hash_str(h, "offset").unwrap_or("");
    let format = hash_str(h, "format").unwrap_or(DEFAULT_DATE_TIME_FORMAT);
    now_text(offset_text, format).map(Value::String)
}

/// The current time moved by `offset_text` and formatted with `format`,
/// from [`NOW_CACHE`] when this second already gave it.
pub(super) fn now_text(offset_text: &str, format: &str) -> Result<String, RenderErrorReason> {
    let now = Utc::now();
    let second = now.timestamp();
    if let Some(text) = NOW_CACHE.with(|cache| cache.borrow().get(second, offset_text, format)) {
        return Ok(text);
    }
    let offset = parse_offset(offset_text).map_err(RenderErrorReason::Other)?;
    let time = shift(now, offset, offset_text)?.fixed_offset();
    let text = format_time(&time, format)?;
    if !has_subsecond_items(format) {
        NOW_CACHE.with(|cache| cache.borrow_mut().put(second, offset_text, format, &text));
    }
    Ok(text)
}

/// Whether a strftime format shows fractions of a second.
fn has_subsecond_items(format: &str) -> bool {
    use chrono::format::{Fixed, Item, Numeric, StrftimeItems};
    StrftimeItems::new(format).any(|item| {
        matches!(
            item,
            Item::Numeric(Numeric::Nanosecond, _)
                | Item::Fixed(
                    Fixed::Nanosecond
                        | Fixed::Nanosecond3
                        | Fixed::Nanosecond6
                        | Fixed::Nanosecond9
                        | Fixed::Internal(_)
                )
        )
    })
}

thread_local! {
    /// `{{now}}` texts of the current second, per offset and format: a
    /// template renders the same few on every request, and looking one up
    /// costs less than reading the offset and formatting again. Formats
    /// showing fractions of a second are never stored (see [`now_text`]).
    static NOW_CACHE: std::cell::RefCell<NowCache> = const { std::cell::RefCell::new(NowCache { second: i64::MIN, texts: Vec::new() }) };
}

struct NowCache {
    second: i64,
    /// (offset, format, text); a handful per second at most.
    texts: Vec<(String, String, String)>,
}

impl NowCache {
    fn get(&self, second: i64, offset: &str, format: &str) -> Option<String> {
        if self.second != second {
            return None;
        }
        self.texts
            .iter()
            .find(|(o, f, _)| o == offset && f == format)
            .map(|(_, _, text)| text.clone())
    }

    fn put(&mut self, second: i64, offset: &str, format: &str, text: &str) {
        if self.second != second || self.texts.len() >= 16 {
            self.second = second;
            self.texts.clear();
        }
        self.texts
            .push((offset.to_string(), format.to_string(), text.to_string()));
    }
}

pub(super) fn helper_date_add(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let input = text(param(h, 0));
    let offset_text = text(param(h, 1));
    let offset = parse_offset(&offset_text).map_err(RenderErrorReason::Other)?;
    let (time, date_only) = parse_date(&input).ok_or_else(|| {
        RenderErrorReason::Other(format!(
            "date_add: cannot read {input:?} as a date or date-time"
        ))
    })?;
    let shifted = shift(time, offset, &offset_text)?;
    let default_format = if date_only {
        "%Y-%m-%d"
    } else {
        "%Y-%m-%dT%H:%M:%S%:z"
    };
    let format = hash_str(h, "format").unwrap_or(default_format);
    Ok(json!(format_time(&shifted, format)?))
}

/// `{{date_format "2014-05" "%d-%b-%Y" edge="end"}}`: a FHIR `date`
/// (`yyyy`, `yyyy-MM`, `yyyy-MM-dd`) or `dateTime` as the first day it
/// covers (`edge="start"`, the default) or the last (`edge="end"`: `2014-05`
/// is `31-May-2014`), formatted (default `%Y-%m-%d`). A date-time is its own
/// day, in its own offset. Null or empty gives null, so an open end of a
/// period stays open.
pub(super) fn helper_date_format(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let input = text(param(h, 0));
    if input.is_empty() {
        return Ok(Value::Null);
    }
    let format = match param(h, 1) {
        Value::Null => "%Y-%m-%d".to_string(),
        other => text(other),
    };
    let end = match hash_str(h, "edge").unwrap_or("start") {
        "start" => false,
        "end" => true,
        other => {
            return Err(RenderErrorReason::Other(format!(
                "date_format: edge must be \"start\" or \"end\", was {other:?}"
            )))
        }
    };
    let day = covered_day(&input, end).ok_or_else(|| {
        RenderErrorReason::Other(format!(
            "date_format: cannot read {input:?} as a FHIR date or dateTime"
        ))
    })?;
    let utc = FixedOffset::east_opt(0).ok_or_else(|| RenderErrorReason::Other("UTC".into()))?;
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .and_then(|time| time.and_local_timezone(utc).single())
        .ok_or_else(|| RenderErrorReason::Other(format!("date_format: {input:?}")))?;
    Ok(json!(format_time(&midnight, &format)?))
}

/// The first (or, `end`, the last) day a FHIR date or dateTime covers.
pub(super) fn covered_day(input: &str, end: bool) -> Option<NaiveDate> {
    if let Some((time, _)) = parse_date(input) {
        return Some(time.date_naive());
    }
    let mut parts = input.split('-');
    let year: i32 = match parts.next() {
        Some(year) if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) => {
            year.parse().ok()?
        }
        _ => return None,
    };
    let month: u32 = match parts.next() {
        None => {
            return NaiveDate::from_ymd_opt(
                year,
                if end { 12 } else { 1 },
                if end { 31 } else { 1 },
            )
        }
        Some(month) if month.len() == 2 && month.bytes().all(|b| b.is_ascii_digit()) => {
            month.parse().ok()?
        }
        Some(_) => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    if !end {
        return Some(first);
    }
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    next.pred_opt()
}

fn parse_date(input: &str) -> Option<(DateTime<FixedOffset>, bool)> {
    let utc = FixedOffset::east_opt(0)?;
    if let Ok(time) = DateTime::parse_from_rfc3339(input) {
        return Some((time, false));
    }
    if let Ok(time) = NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M:%S") {
        return Some((time.and_local_timezone(utc).single()?, false));
    }
    let date = crate::fhir::parse_day(input)?;
    Some((
        date.and_hms_opt(0, 0, 0)?
            .and_local_timezone(utc)
            .single()?,
        true,
    ))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use serde_json::json;

    use super::*;
    use crate::template::test_support::render;

    #[test]
    fn now_is_cached_per_second_only_for_formats_without_fractions() {
        assert!(!has_subsecond_items(DEFAULT_DATE_TIME_FORMAT));
        assert!(!has_subsecond_items("%Y-%m-%dT11:00:00+00:00"));
        for format in ["%f", "%.3f", "%H:%M:%S%.f", "%9f"] {
            assert!(has_subsecond_items(format), "{format}");
        }
        let first = render(r#"{{now format="%s%.9f"}}"#, json!({})).unwrap();
        let second = render(r#"{{now format="%s%.9f"}}"#, json!({})).unwrap();
        assert_ne!(first, second, "nanoseconds are never served from the cache");
    }

    #[test]
    fn dates_and_offsets() {
        assert_eq!(parse_offset("-30m").unwrap(), Duration::minutes(-30));
        assert!(parse_offset("+2x").is_err());
        let out = render(
            r#"{{date_add "2024-01-31" "+1d"}} {{date_add "2024-01-01T10:00:00+00:00" "+2h"}}"#,
            json!({}),
        )
        .unwrap();
        assert_eq!(out, "2024-02-01 2024-01-01T12:00:00+00:00");
        let failure = render(r#"{{now format="%Q"}}"#, json!({})).unwrap_err();
        assert!(failure.message.contains("invalid date format"), "{failure}");
    }

    #[test]
    fn date_format_gives_the_first_or_last_day_a_fhir_date_covers() {
        let out = render(
            r#"{{date_format "2014-05-03" "%d-%b-%Y"}} {{date_format "2014-05" "%d-%b-%Y"}} {{date_format "2016-09" "%d-%b-%Y" edge="end"}} {{date_format "2016-02" null edge="end"}} {{date_format "1992" "%d-%b-%Y"}} {{date_format "2016" "%d-%b-%Y" edge="end"}} {{date_format "2015-04-30T23:59:59+01:00" "%d-%b-%Y" edge="end"}} [{{date_format missing "%Y"}}]"#,
            json!({"missing": null}),
        )
        .unwrap();
        assert_eq!(
            out,
            "03-May-2014 01-May-2014 30-Sep-2016 2016-02-29 01-Jan-1992 31-Dec-2016 30-Apr-2015 []"
        );
        for bad in ["16-02-2016", "2016-13", "2016-1", "text"] {
            assert!(
                render(r#"{{date_format d "%Y"}}"#, json!({"d": bad})).is_err(),
                "{bad}"
            );
        }
        assert!(render(r#"{{date_format "2016" "%Y" edge="middle"}}"#, json!({})).is_err());
    }

    #[test]
    fn huge_offsets_are_errors_not_panics() {
        for offset in [
            "+99999999d",
            "-99999999d",
            "+9223372036854775807s",
            "9223372036854775807w",
            "+99999999999999h",
            "+99999999999999999999d",
        ] {
            assert!(
                render(
                    &format!(r#"{{{{date_add "2024-01-31" "{offset}"}}}}"#),
                    json!({})
                )
                .is_err(),
                "date_add {offset}"
            );
            assert!(
                render(r#"{{now offset=o}}"#, json!({ "o": offset })).is_err(),
                "now offset={offset}"
            );
        }
        assert!(parse_offset("+9223372036854775807d").is_err());
        assert!(parse_offset("-9223372036854775807s").is_err());
        // Large but representable: fine.
        assert!(render(r#"{{date_add "2024-01-31" "+36500d"}}"#, json!({})).is_ok());
    }
}

//! FHIR primitive types in rendered answers. A template can render
//! `"birthDate": "12/03/1950"` or `"active": "true"` and every JSON tool
//! is content; a FHIR client is not. `check` walks each answer with the
//! element types of [`super::definitions`] and reports every value that
//! is not of its primitive type (the regular expressions and JSON
//! representations of the FHIR datatypes page, DSTU2 and STU3 alike).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::definitions::{self, Kind};
use crate::fhir::Era;

/// The primitive types `check` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    Boolean,
    Integer,
    UnsignedInt,
    PositiveInt,
    Decimal,
    Str,
    Code,
    Id,
    Uri,
    Date,
    DateTime,
    Instant,
    Time,
    Base64Binary,
}

const YEAR: &str = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)";
const MONTH: &str = r"(0[1-9]|1[0-2])";
const DAY: &str = r"(0[1-9]|[1-2][0-9]|3[0-1])";
const TIME: &str = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?";
const ZONE: &str = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))";

/// The patterns are constants of this file, proven by its unit tests.
fn pattern(text: String) -> Regex {
    Regex::new(&text).expect("the FHIR primitive patterns compile")
}

static DATE: LazyLock<Regex> = LazyLock::new(|| pattern(format!(r"^{YEAR}(-{MONTH}(-{DAY})?)?$")));
static DATE_TIME: LazyLock<Regex> =
    LazyLock::new(|| pattern(format!(r"^{YEAR}(-{MONTH}(-{DAY}(T{TIME}{ZONE})?)?)?$")));
static INSTANT: LazyLock<Regex> =
    LazyLock::new(|| pattern(format!(r"^{YEAR}-{MONTH}-{DAY}T{TIME}{ZONE}$")));
static TIME_OF_DAY: LazyLock<Regex> = LazyLock::new(|| pattern(format!("^{TIME}$")));
static CODE: LazyLock<Regex> = LazyLock::new(|| pattern(r"^[^\s]+( [^\s]+)*$".into()));
static ID: LazyLock<Regex> = LazyLock::new(|| pattern(r"^[A-Za-z0-9\-\.]{1,64}$".into()));
static BASE64: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"^(\s*([0-9a-zA-Z\+/=]){4}\s*)+$".into()));

impl Primitive {
    /// The FHIR name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Integer => "integer",
            Self::UnsignedInt => "unsignedInt",
            Self::PositiveInt => "positiveInt",
            Self::Decimal => "decimal",
            Self::Str => "string",
            Self::Code => "code",
            Self::Id => "id",
            Self::Uri => "uri",
            Self::Date => "date",
            Self::DateTime => "dateTime",
            Self::Instant => "instant",
            Self::Time => "time",
            Self::Base64Binary => "base64Binary",
        }
    }

    /// What a valid value looks like, for messages.
    fn expected(self) -> &'static str {
        match self {
            Self::Boolean => "a JSON true or false (not a string)",
            Self::Integer => "a JSON whole number within 32 bits (not a string)",
            Self::UnsignedInt => "a JSON whole number from 0 (not a string)",
            Self::PositiveInt => "a JSON whole number from 1 (not a string)",
            Self::Decimal => "a JSON number (not a string)",
            Self::Str => "a non-empty string",
            Self::Code => "a string with no leading, trailing or double spaces",
            Self::Id => "1 to 64 letters, digits, '-' or '.'",
            Self::Uri => "a string with no whitespace",
            Self::Date => "YYYY, YYYY-MM or YYYY-MM-DD",
            Self::DateTime => {
                "YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a zone (Z or ±hh:mm)"
            }
            Self::Instant => "YYYY-MM-DDThh:mm:ss(.sss) with a zone (Z or ±hh:mm)",
            Self::Time => "hh:mm:ss",
            Self::Base64Binary => "base64 text",
        }
    }

    /// Whether `value` is a valid JSON form of this type.
    pub fn accepts(self, value: &Value) -> bool {
        let text = value.as_str();
        match self {
            Self::Boolean => value.is_boolean(),
            Self::Integer => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            Self::UnsignedInt => value.as_u64().is_some_and(|n| i32::try_from(n).is_ok()),
            Self::PositiveInt => value
                .as_u64()
                .is_some_and(|n| n >= 1 && i32::try_from(n).is_ok()),
            Self::Decimal => value.is_number(),
            Self::Str => text.is_some_and(|text| !text.is_empty()),
            Self::Code => text.is_some_and(|text| CODE.is_match(text)),
            Self::Id => text.is_some_and(|text| ID.is_match(text)),
            Self::Uri => {
                text.is_some_and(|text| !text.is_empty() && !text.chars().any(char::is_whitespace))
            }
            Self::Date => text.is_some_and(|text| DATE.is_match(text)),
            Self::DateTime => text.is_some_and(|text| DATE_TIME.is_match(text)),
            Self::Instant => text.is_some_and(|text| INSTANT.is_match(text)),
            Self::Time => text.is_some_and(|text| TIME_OF_DAY.is_match(text)),
            Self::Base64Binary => text.is_some_and(|text| BASE64.is_match(text)),
        }
    }
}

/// One value that is not of its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// JSON pointer into the answer.
    pub pointer: String,
    pub message: String,
}

/// Every primitive of `answer` (a resource) that is not of its type, for
/// the elements [`definitions`] knows.
pub fn check(answer: &Value, era: Era) -> Vec<Invalid> {
    let mut out = Vec::new();
    resource(answer, era, "", &mut out);
    out
}

fn resource(value: &Value, era: Era, pointer: &str, out: &mut Vec<Invalid>) {
    if let Some(kind) = value.get("resourceType").and_then(Value::as_str) {
        complex(value, era, kind, kind, pointer, out);
    }
}

/// `value` is an `owner` (a type or backbone element); `path` is the
/// FHIR path shown in messages.
fn complex(
    value: &Value,
    era: Era,
    owner: &str,
    path: &str,
    pointer: &str,
    out: &mut Vec<Invalid>,
) {
    let Some(object) = value.as_object() else {
        return;
    };
    for (key, item) in object {
        if key == "resourceType" || key.starts_with('_') {
            continue;
        }
        let (name, kind) = match definitions::element(era, owner, key) {
            Some(kind) => (key.as_str(), kind),
            None => match definitions::choice_of(era, owner, key) {
                Some((_, kind)) => (key.as_str(), kind),
                None => continue,
            },
        };
        let child = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
        let element_path = format!("{path}.{name}");
        match item {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    one(
                        item,
                        era,
                        kind,
                        &element_path,
                        &format!("{child}/{index}"),
                        out,
                    );
                }
            }
            item => one(item, era, kind, &element_path, &child, out),
        }
    }
}

fn one(value: &Value, era: Era, kind: Kind, path: &str, pointer: &str, out: &mut Vec<Invalid>) {
    match kind {
        Kind::Primitive(primitive) => {
            if !primitive.accepts(value) {
                out.push(Invalid {
                    pointer: pointer.to_string(),
                    message: format!(
                        "{path} is a FHIR {}: expected {}, found {}",
                        primitive.name(),
                        primitive.expected(),
                        shown(value)
                    ),
                });
            }
        }
        Kind::Complex(owner) => complex(value, era, owner, path, pointer, out),
        Kind::Resource => resource(value, era, pointer, out),
        Kind::Choice => {}
    }
}

fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_times_and_instants_follow_the_fhir_patterns() {
        for good in ["2017", "2017-03", "2017-03-09"] {
            assert!(Primitive::Date.accepts(&json!(good)), "{good}");
        }
        for bad in [
            "12/03/1950",
            "2017-13",
            "2017-03-09T10:00:00Z",
            "17-03-09",
            "",
        ] {
            assert!(!Primitive::Date.accepts(&json!(bad)), "{bad}");
        }
        for good in [
            "2017",
            "2017-03-09",
            "2017-03-09T10:00:00Z",
            "2017-03-09T10:00:00.123+01:00",
        ] {
            assert!(Primitive::DateTime.accepts(&json!(good)), "{good}");
        }
        for bad in [
            "2017-03-09T10:00:00",
            "2017-03-09T10:00Z",
            "2017-03-09 10:00:00Z",
        ] {
            assert!(!Primitive::DateTime.accepts(&json!(bad)), "{bad}");
        }
        assert!(Primitive::Instant.accepts(&json!("2030-01-01T09:00:00+00:00")));
        assert!(!Primitive::Instant.accepts(&json!("2030-01-01")));
        assert!(Primitive::Time.accepts(&json!("09:30:00")));
    }

    #[test]
    fn json_types_are_not_strings() {
        assert!(Primitive::Boolean.accepts(&json!(true)));
        assert!(!Primitive::Boolean.accepts(&json!("true")));
        assert!(Primitive::Integer.accepts(&json!(-3)));
        assert!(!Primitive::Integer.accepts(&json!("3")));
        assert!(!Primitive::Integer.accepts(&json!(4_000_000_000_i64)));
        assert!(!Primitive::PositiveInt.accepts(&json!(0)));
        assert!(Primitive::UnsignedInt.accepts(&json!(0)));
        assert!(Primitive::Decimal.accepts(&json!(1.50)));
        assert!(!Primitive::Decimal.accepts(&json!("1.5")));
    }

    #[test]
    fn codes_ids_and_uris() {
        assert!(Primitive::Code.accepts(&json!("entered-in-error")));
        assert!(!Primitive::Code.accepts(&json!(" booked")));
        assert!(!Primitive::Code.accepts(&json!("a  b")));
        assert!(Primitive::Id.accepts(&json!("A20047.1-x")));
        assert!(!Primitive::Id.accepts(&json!("has space")));
        assert!(!Primitive::Id.accepts(&json!("x".repeat(65))));
        assert!(Primitive::Uri.accepts(&json!("http://fhir.nhs.net/Id/nhs-number")));
        assert!(!Primitive::Uri.accepts(&json!("http://x/a b")));
    }

    #[test]
    fn nested_resources_data_types_and_choices_are_walked() {
        let bundle = json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "total": "1",
            "entry": [{
                "fullUrl": "Patient/2",
                "resource": {
                    "resourceType": "Patient",
                    "id": "2",
                    "meta": {"versionId": "1", "lastUpdated": "2017-01-01"},
                    "active": "true",
                    "birthDate": "12/03/1950",
                    "deceasedBoolean": "no",
                    "identifier": [{"system": "http://fhir.nhs.net/Id/nhs-number", "value": "9658218873"}],
                    "telecom": [{"system": "phone", "value": "0113", "rank": 0}],
                    "extension": [{"url": "http://x", "valueCodeableConcept": {"coding": [{"code": " bad"}]}}],
                    "unknownThing": "anything"
                }
            }]
        });
        let found = check(&bundle, Era::Dstu2);
        let pointers: Vec<&str> = found.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/total",
                "/entry/0/resource/meta/lastUpdated",
                "/entry/0/resource/active",
                "/entry/0/resource/birthDate",
                "/entry/0/resource/deceasedBoolean",
                "/entry/0/resource/telecom/0/rank",
                "/entry/0/resource/extension/0/valueCodeableConcept/coding/0/code",
            ]
        );
        assert_eq!(
            found[3].message,
            "Patient.birthDate is a FHIR date: expected YYYY, YYYY-MM or YYYY-MM-DD, found \"12/03/1950\""
        );
    }

    #[test]
    fn a_valid_resource_has_no_findings() {
        let appointment = json!({
            "resourceType": "Appointment",
            "id": "1",
            "meta": {"versionId": "2", "lastUpdated": "2030-01-01T09:00:00Z"},
            "status": "booked",
            "start": "2030-01-01T09:00:00+00:00",
            "end": "2030-01-01T09:15:00+00:00",
            "slot": [{"reference": "Slot/1"}],
            "participant": [{"actor": {"reference": "Patient/2"}, "status": "accepted"}]
        });
        assert_eq!(check(&appointment, Era::Dstu2), []);
    }
}

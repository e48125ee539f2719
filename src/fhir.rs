//! FHIR and GP Connect vocabulary: the era (DSTU2 or STU3) of a definition,
//! error answers as GP Connect OperationOutcomes (or RFC 7807 problem
//! documents when the definition is not FHIR), and FHIR `date` text read as
//! a day.

use bytes::Bytes;
use http::StatusCode;
use serde_json::json;

use crate::media::media_essence;

/// `%Y-%m-%d`, read once: chrono's `parse_from_str` reads its format text
/// again on every call, which was half the cost of the slot search's
/// date checks.
static DAY_FORMAT: std::sync::LazyLock<Vec<chrono::format::Item<'static>>> =
    std::sync::LazyLock::new(|| chrono::format::StrftimeItems::new("%Y-%m-%d").collect());

/// `text` as a day written `%Y-%m-%d`, exactly as
/// `NaiveDate::parse_from_str(text, "%Y-%m-%d")` reads it.
pub fn parse_day(text: &str) -> Option<chrono::NaiveDate> {
    let mut parsed = chrono::format::Parsed::new();
    chrono::format::parse(&mut parsed, text, DAY_FORMAT.iter()).ok()?;
    parsed.to_naive_date().ok()
}

/// The FHIR version a definition speaks, told by its media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// GP Connect 0.x, FHIR 1.0.2: `application/json+fhir`.
    Dstu2,
    /// GP Connect 1.x, FHIR 3.0.1: `application/fhir+json`.
    Stu3,
}

impl Era {
    /// The era of a set of media types, or `None` when none is FHIR.
    pub fn detect<'a>(media_types: impl IntoIterator<Item = &'a str>) -> Option<Era> {
        let mut era = None;
        for media in media_types {
            let essence = media_essence(media);
            if essence == "application/fhir+json" || essence == "application/fhir+xml" {
                return Some(Era::Stu3);
            }
            if essence == "application/json+fhir" || essence == "application/xml+fhir" {
                era = Some(Era::Dstu2);
            }
        }
        era
    }

    /// `DSTU2` or `STU3`.
    pub fn label(self) -> &'static str {
        match self {
            Era::Dstu2 => "DSTU2",
            Era::Stu3 => "STU3",
        }
    }

    pub fn json_media_type(self) -> &'static str {
        match self {
            Era::Dstu2 => "application/json+fhir",
            Era::Stu3 => "application/fhir+json",
        }
    }

    /// The JSON `Content-Type` of the era's answers.
    pub fn json_content_type(self) -> &'static str {
        match self {
            Era::Dstu2 => "application/json+fhir; charset=utf-8",
            Era::Stu3 => "application/fhir+json; charset=utf-8",
        }
    }

    /// An OperationOutcome of severity `information` (no Spine code: it
    /// reports success), e.g. for `Prefer: return=OperationOutcome`.
    pub fn information_outcome(self, diagnostics: &str) -> Bytes {
        let body = json!({
            "resourceType": "OperationOutcome",
            "meta": { "profile": [self.outcome_profile()] },
            "issue": [{
                "severity": "information",
                "code": "informational",
                "diagnostics": diagnostics,
            }]
        });
        Bytes::from(body.to_string())
    }

    fn outcome_profile(self) -> &'static str {
        match self {
            Era::Dstu2 => "http://fhir.nhs.net/StructureDefinition/gpconnect-operationoutcome-1",
            Era::Stu3 => {
                "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"
            }
        }
    }

    fn error_code_system(self) -> &'static str {
        match self {
            Era::Dstu2 => "http://fhir.nhs.net/ValueSet/gpconnect-error-or-warning-code-1",
            Era::Stu3 => "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1",
        }
    }
}

/// How error answers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// A GP Connect OperationOutcome of that era.
    Fhir(Era),
    /// `application/problem+json` (RFC 7807), for definitions that are not FHIR.
    Problem,
}

/// A Spine error code with its FHIR issue type and display text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpineCode {
    pub code: &'static str,
    pub issue_type: &'static str,
    pub display: &'static str,
}

macro_rules! spine_codes {
    ($($name:ident = ($code:literal, $issue:literal, $display:literal);)*) => {
        impl SpineCode {
            $(pub const $name: SpineCode = SpineCode { code: $code, issue_type: $issue, display: $display };)*
        }
    };
}

spine_codes! {
    BAD_REQUEST = ("BAD_REQUEST", "invalid", "Bad request");
    INVALID_IDENTIFIER_SYSTEM = ("INVALID_IDENTIFIER_SYSTEM", "value", "Invalid identifier system");
    INVALID_IDENTIFIER_VALUE = ("INVALID_IDENTIFIER_VALUE", "value", "Invalid identifier value");
    INVALID_NHS_NUMBER = ("INVALID_NHS_NUMBER", "value", "Invalid NHS number");
    NO_PATIENT_CONSENT = ("NO_PATIENT_CONSENT", "forbidden", "Patient has not provided consent to share data");
    PATIENT_NOT_FOUND = ("PATIENT_NOT_FOUND", "not-found", "Patient not found");
    ORGANISATION_NOT_FOUND = ("ORGANISATION_NOT_FOUND", "not-found", "Organisation not found");
    PRACTITIONER_NOT_FOUND = ("PRACTITIONER_NOT_FOUND", "not-found", "Practitioner not found");
    NO_RECORD_FOUND = ("NO_RECORD_FOUND", "not-found", "No record found");
    FHIR_CONSTRAINT_VIOLATION = ("FHIR_CONSTRAINT_VIOLATION", "conflict", "FHIR constraint violation");
    DUPLICATE_REJECTED = ("DUPLICATE_REJECTED", "duplicate", "Create would lead to creation of a duplicate resource");
    INVALID_RESOURCE = ("INVALID_RESOURCE", "invalid", "Invalid resource");
    INVALID_PARAMETER = ("INVALID_PARAMETER", "invalid", "Invalid parameter");
    REFERENCE_NOT_FOUND = ("REFERENCE_NOT_FOUND", "invalid", "Reference not found");
    INTERNAL_SERVER_ERROR = ("INTERNAL_SERVER_ERROR", "processing", "Internal server error");
    NOT_IMPLEMENTED = ("NOT_IMPLEMENTED", "not-supported", "Not implemented");
    CONFLICTING_VALUES = ("CONFLICTING_VALUES", "invalid", "Conflicting values have been specified in different fields");
}

impl SpineCode {
    /// The not-found code for a read of `resource` (DOMAIN.md §5).
    pub fn not_found_of(resource: &str) -> SpineCode {
        match resource {
            "Patient" => SpineCode::PATIENT_NOT_FOUND,
            "Organization" => SpineCode::ORGANISATION_NOT_FOUND,
            "Practitioner" => SpineCode::PRACTITIONER_NOT_FOUND,
            _ => SpineCode::NO_RECORD_FOUND,
        }
    }
}

/// An error answer: status, Spine code and a diagnostics text that names
/// what was wrong and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: StatusCode,
    pub code: SpineCode,
    pub diagnostics: String,
}

impl Outcome {
    pub fn new(status: StatusCode, code: SpineCode, diagnostics: impl Into<String>) -> Self {
        Self {
            status,
            code,
            diagnostics: diagnostics.into(),
        }
    }

    /// The body and its `Content-Type` in the given style.
    pub fn render(&self, style: ErrorStyle) -> (&'static str, Bytes) {
        match style {
            ErrorStyle::Fhir(era) => {
                let body = json!({
                    "resourceType": "OperationOutcome",
                    "meta": { "profile": [era.outcome_profile()] },
                    "issue": [{
                        "severity": "error",
                        "code": self.code.issue_type,
                        "details": { "coding": [{
                            "system": era.error_code_system(),
                            "code": self.code.code,
                            "display": self.code.display,
                        }]},
                        "diagnostics": self.diagnostics,
                    }]
                });
                (era.json_content_type(), Bytes::from(body.to_string()))
            }
            // Spine codes are GP Connect's: a definition without its
            // profile gets plain RFC 7807, with nothing of Spine in it.
            ErrorStyle::Problem => {
                let body = json!({
                    "type": "about:blank",
                    "title": self.status.canonical_reason().unwrap_or("Error"),
                    "status": self.status.as_u16(),
                    "detail": self.diagnostics,
                });
                ("application/problem+json", Bytes::from(body.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_day_reads_dates_as_chrono_parse_from_str_does() {
        for text in [
            "2026-12-01",
            "2024-02-29",
            "2026-02-29",
            "2026-1-5",
            "2026-13-01",
            "",
            "2026-12-01T10:00:00",
            " 2026-12-01",
            "+2026-12-01",
            "20261201",
        ] {
            assert_eq!(
                parse_day(text),
                chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
                "{text:?}"
            );
        }
        assert_eq!(
            parse_day("2026-12-01"),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
        );
    }

    #[test]
    fn era_from_media_types() {
        assert_eq!(Era::detect(["application/json+fhir"]), Some(Era::Dstu2));
        assert_eq!(
            Era::detect(["application/json", "application/fhir+json;charset=utf-8"]),
            Some(Era::Stu3)
        );
        assert_eq!(Era::detect(["application/json"]), None);
    }

    #[test]
    fn dstu2_outcome_has_gp_connect_shape() {
        let outcome = Outcome::new(
            StatusCode::NOT_FOUND,
            SpineCode::PATIENT_NOT_FOUND,
            "no patient 9",
        );
        let (content_type, body) = outcome.render(ErrorStyle::Fhir(Era::Dstu2));
        assert!(content_type.starts_with("application/json+fhir"));
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value["issue"][0]["details"]["coding"][0]["code"],
            "PATIENT_NOT_FOUND"
        );
        assert_eq!(value["issue"][0]["code"], "not-found");
        assert_eq!(value["issue"][0]["diagnostics"], "no patient 9");
    }
}

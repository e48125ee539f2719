//! The query parameters of GP Connect Access Document's document search,
//! `GET /Patient/{id}/DocumentReference` (DOMAIN-STU3.md §2, §6.15; the 1.x
//! provider test pack's document search): the four `_include`s and the
//! PractitionerRole `_revinclude:recurse` are required, `author` names an
//! organisation by ODS code, `created` is a `ge` and/or a `le` date. Each
//! breach is 422 INVALID_PARAMETER. Only the request is read: which
//! documents match is the scenarios' business.

use chrono::{DateTime, NaiveDate};

use super::{shown, RuleId, Violation};
use crate::request::MockRequest;

/// The `_include`s a document search must carry, in the order reported.
pub const REQUIRED_INCLUDES: [&str; 4] = [
    "DocumentReference:subject:Patient",
    "DocumentReference:custodian:Organization",
    "DocumentReference:author:Organization",
    "DocumentReference:author:Practitioner",
];
/// The `_revinclude:recurse` a document search must carry.
pub const REQUIRED_REVINCLUDE: &str = "PractitionerRole:practitioner";
/// The only system `author` may name.
pub const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";

/// Checks a document search.
pub fn check_document_search(request: &MockRequest, out: &mut Vec<Violation>) {
    let values = |name: &'static str| request.query_values(name).collect::<Vec<_>>();
    let includes = values("_include");
    let missing: Vec<&str> = REQUIRED_INCLUDES
        .iter()
        .copied()
        .filter(|wanted| !includes.contains(wanted))
        .collect();
    if !missing.is_empty() {
        out.push(Violation::of(
            RuleId::DocumentSearchInclude,
            "query parameter _include",
            format!("must include {}", missing.join(", ")),
        ));
    }
    let revincludes = values("_revinclude:recurse");
    if !revincludes.contains(&REQUIRED_REVINCLUDE) {
        out.push(Violation::of(
            RuleId::DocumentSearchInclude,
            "query parameter _revinclude:recurse",
            format!(
                "must be {REQUIRED_REVINCLUDE}, was {}",
                listed(&revincludes)
            ),
        ));
    }
    match values("author").as_slice() {
        [] => {}
        [author] => {
            let code = author
                .split_once('|')
                .filter(|(system, _)| *system == ODS_SYSTEM)
                .map(|(_, code)| code);
            if code.is_none_or(|code| code.trim().is_empty() || code.contains('|')) {
                out.push(Violation::of(
                    RuleId::DocumentSearchAuthor,
                    "query parameter author",
                    format!("must be {ODS_SYSTEM}|<ODS code>, was {}", shown(author)),
                ));
            }
        }
        several => out.push(Violation::of(
            RuleId::DocumentSearchAuthor,
            "query parameter author",
            format!("must be given at most once, was {}", listed(several)),
        )),
    }
    check_created(&values("created"), out);
}

/// `created`: at most one `ge` and one `le`, each a FHIR date (`yyyy`,
/// `yyyy-MM`, `yyyy-MM-dd`) or a dateTime with seconds and an offset; the
/// `ge` one not after the `le` one.
fn check_created(values: &[&str], out: &mut Vec<Violation>) {
    let at = "query parameter created";
    let mut bounds: [Option<(String, &str)>; 2] = [None, None];
    for value in values {
        // An offset's `+` sent unencoded reads as a space.
        let value = value.replace(' ', "+");
        let (slot, prefix) = if value.starts_with("ge") {
            (0, "ge")
        } else if value.starts_with("le") {
            (1, "le")
        } else {
            out.push(Violation::of(
                RuleId::DocumentSearchCreated,
                at,
                format!("must be ge<date> or le<date>, was {}", shown(&value)),
            ));
            continue;
        };
        let date = &value[2..];
        let Some(first_day) = first_day(date) else {
            out.push(Violation::of(
                RuleId::DocumentSearchCreated,
                at,
                format!(
                    "must be {prefix} and a date (yyyy, yyyy-MM, yyyy-MM-dd) or a dateTime with seconds and an offset, was {}",
                    shown(&value)
                ),
            ));
            continue;
        };
        if bounds[slot].is_some() {
            out.push(Violation::of(
                RuleId::DocumentSearchCreated,
                at,
                format!("must give {prefix} at most once"),
            ));
            continue;
        }
        bounds[slot] = Some((first_day.to_string(), prefix));
    }
    if let [Some((low, _)), Some((high, _))] = &bounds {
        if low > high {
            out.push(Violation::of(
                RuleId::DocumentSearchCreated,
                at,
                format!("the ge date {low} is after the le date {high}"),
            ));
        }
    }
}

/// The first day a FHIR date or dateTime covers, if it is one.
fn first_day(text: &str) -> Option<NaiveDate> {
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.date_naive());
    }
    let full = match text.len() {
        4 if text.bytes().all(|b| b.is_ascii_digit()) => format!("{text}-01-01"),
        7 => format!("{text}-01"),
        10 => text.to_string(),
        _ => return None,
    };
    crate::fhir::parse_day(&full)
}

fn listed(values: &[&str]) -> String {
    if values.is_empty() {
        "absent".to_string()
    } else {
        values
            .iter()
            .map(|v| shown(v))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(query: &str) -> Vec<RuleId> {
        let request = MockRequest::new(
            http::Method::GET,
            &format!("/B82617/STU3/1/gpconnect/documents/fhir/Patient/2/DocumentReference?{query}"),
            http::HeaderMap::new(),
            bytes::Bytes::new(),
        );
        let mut out = Vec::new();
        check_document_search(&request, &mut out);
        out.into_iter().map(|v| v.rule).collect()
    }

    const INCLUDES: &str = "_include=DocumentReference:subject:Patient&_include=DocumentReference:custodian:Organization&_include=DocumentReference:author:Organization&_include=DocumentReference:author:Practitioner&_revinclude:recurse=PractitionerRole:practitioner";

    #[test]
    fn includes_are_required() {
        assert_eq!(rules(INCLUDES), vec![]);
        assert_eq!(
            rules("_revinclude:recurse=PractitionerRole:practitioner"),
            vec![RuleId::DocumentSearchInclude]
        );
        let without_one = INCLUDES.replace("&_include=DocumentReference:author:Practitioner", "");
        assert_eq!(rules(&without_one), vec![RuleId::DocumentSearchInclude]);
        let without_rev =
            INCLUDES.replace("&_revinclude:recurse=PractitionerRole:practitioner", "");
        assert_eq!(rules(&without_rev), vec![RuleId::DocumentSearchInclude]);
    }

    #[test]
    fn author_is_an_ods_code() {
        let with = |author: &str| rules(&format!("{INCLUDES}&author={author}"));
        assert_eq!(
            with("https://fhir.nhs.uk/Id/ods-organization-code%7CR1A14"),
            vec![]
        );
        for bad in [
            "R1A14",
            "https://fhir.nhs.uk/Id/sds-user-id%7CG13579135",
            "https://fhir.nhs.uk/Id/ods-organization-code%7C",
            "%7CR1A14",
        ] {
            assert_eq!(with(bad), vec![RuleId::DocumentSearchAuthor], "{bad}");
        }
    }

    #[test]
    fn created_is_ge_and_le_dates() {
        let with = |created: &str| rules(&format!("{INCLUDES}&{created}"));
        for good in [
            "created=ge2019-01-01",
            "created=le2024",
            "created=ge2019-06&created=le2021-03-15",
            "created=le2021-03-15&created=ge2019-01-01",
            "created=ge2019-01-01T00:00:00%2B00:00",
        ] {
            assert_eq!(with(good), vec![], "{good}");
        }
        for bad in [
            "created=2019-01-01",
            "created=gt2019-01-01",
            "created=ge2019-13-01",
            "created=geyesterday",
            "created=ge2019-01-01T10:00",
            "created=ge2019&created=ge2020",
            "created=ge2022&created=le2020",
        ] {
            assert_eq!(with(bad), vec![RuleId::DocumentSearchCreated], "{bad}");
        }
    }
}

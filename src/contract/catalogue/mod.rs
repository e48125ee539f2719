//! The rule catalogue: every check the contract makes, as data.
//!
//! Each [`Rule`] names one thing a request can get wrong, the eras and
//! operations it applies to, the answer it deserves (status and Spine code)
//! and where the behaviour comes from. The checks in the sibling modules
//! report a [`Violation`](super::Violation) *of a rule*; which rules apply
//! to an operation is decided here, once per snapshot
//! ([`RuleSet::for_operation`]), and nowhere else. The same table feeds
//! `gpconnect-mock rules`, the README's "What the mock rejects" and the
//! `diagnostics` of every rejection, which end `(rule <name>)`.

use http::{Method, StatusCode};

use crate::fhir::{Era, SpineCode};
use crate::spec::ApiModel;

/// Which definitions a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eras {
    /// Any definition, GP Connect or not (the definition's own rules).
    Any,
    /// Definitions GP Connect's rules do not apply to (`--profile none`,
    /// or not FHIR).
    Plain,
    /// GP Connect, both eras.
    GpConnect,
    /// GP Connect 0.x (FHIR DSTU2) only.
    Dstu2,
    /// GP Connect 1.x (FHIR STU3) only.
    Stu3,
}

impl Eras {
    pub fn admits(self, era: Option<Era>) -> bool {
        match self {
            Eras::Any => true,
            Eras::Plain => era.is_none(),
            Eras::GpConnect => era.is_some(),
            Eras::Dstu2 => era == Some(Era::Dstu2),
            Eras::Stu3 => era == Some(Era::Stu3),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Eras::Any => "any",
            Eras::Plain => "not GP Connect",
            Eras::GpConnect => "DSTU2, STU3",
            Eras::Dstu2 => "DSTU2",
            Eras::Stu3 => "STU3",
        }
    }
}

/// The Spine code a rule answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Fixed(SpineCode),
    /// The not-found code of the resource read (`PATIENT_NOT_FOUND`, …).
    NotFoundOfResource,
}

/// One rule of the contract.
#[derive(Debug)]
pub struct Rule {
    pub id: RuleId,
    /// Kebab-case, unique: what diagnostics, `skip_rules` and `rules` say.
    pub name: &'static str,
    pub eras: Eras,
    /// The operations, as `METHOD /path-end` with parameters written
    /// `{id}` (`PUT /Appointment/{id}`); empty: every operation.
    pub operations: &'static [&'static str],
    pub status: StatusCode,
    pub code: Code,
    /// Where the behaviour is written down.
    pub source: &'static str,
    /// What the rule rejects, one line.
    pub summary: &'static str,
}

impl Rule {
    /// Whether the rule applies to `method path` of a definition of `era`.
    pub fn applies(&self, era: Option<Era>, method: &Method, path: &str) -> bool {
        if !self.eras.admits(era) {
            return false;
        }
        if self.operations.is_empty() {
            return true;
        }
        let shape = shape_of(path);
        self.operations.iter().any(|operation| {
            let (verb, end) = operation.split_once(' ').unwrap_or(("", operation));
            verb == method.as_str() && ends_at_segment(&shape, end)
        })
    }

    /// The code of the answer; `resource` names the type for not-found rules.
    pub fn spine_code(&self, resource: &str) -> SpineCode {
        match self.code {
            Code::Fixed(code) => code,
            Code::NotFoundOfResource => SpineCode::not_found_of(resource),
        }
    }

    /// How the answer reads in listings: `404 PATIENT_NOT_FOUND, …`.
    pub fn answer_label(&self) -> String {
        match self.code {
            Code::Fixed(code) => format!("{} {}", self.status.as_u16(), code.code),
            Code::NotFoundOfResource => {
                format!("{} <Resource>_NOT_FOUND", self.status.as_u16())
            }
        }
    }
}

/// The path with every `{name}` written `{id}`, without a trailing `/`.
pub fn shape_of(path: &str) -> String {
    path.trim_end_matches('/')
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn ends_at_segment(shape: &str, end: &str) -> bool {
    shape == end || (shape.ends_with(end) && end.starts_with('/'))
}

/// The rules that apply to one operation, as a bit set over the catalogue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleSet(u128);

impl RuleSet {
    /// Compiled once per snapshot and operation.
    pub fn for_operation(era: Option<Era>, method: &Method, path: &str) -> RuleSet {
        RuleSet(
            RULES
                .iter()
                .filter(|rule| rule.applies(era, method, path))
                .fold(0, |bits, rule| bits | 1u128 << rule.id as u32),
        )
    }

    pub fn contains(self, id: RuleId) -> bool {
        self.0 & (1u128 << id as u32) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = &'static Rule> {
        RULES.iter().filter(move |rule| self.contains(rule.id))
    }
}

/// The rules that apply to at least one operation of `model` (read as
/// `era`, `None` for a definition GP Connect's rules do not cover), each
/// with the keys of those operations.
pub fn for_model(model: &ApiModel, era: Option<Era>) -> Vec<(&'static Rule, Vec<&str>)> {
    RULES
        .iter()
        .filter_map(|rule| {
            let keys: Vec<&str> = model
                .operations
                .iter()
                .filter(|op| rule.applies(era, &op.method, &op.path))
                .map(|op| op.key.as_str())
                .collect();
            (!keys.is_empty()).then_some((rule, keys))
        })
        .collect()
}

/// `gpconnect-mock rules`: one block per rule that applies to `model`.
pub fn text(model: &ApiModel, era: Option<Era>) -> String {
    let mut out = String::new();
    let listed = for_model(model, era);
    let every = model.operations.len();
    for (rule, keys) in &listed {
        let operations = if keys.len() == every {
            "every operation".to_string()
        } else {
            keys.join(", ")
        };
        out.push_str(&format!(
            "{}\n  answer:     {}\n  operations: {operations}\n  rejects:    {}\n  source:     {}\n\n",
            rule.name,
            rule.answer_label(),
            rule.summary,
            rule.source
        ));
    }
    out.push_str(&format!(
        "{} rules apply to this definition ({}); every rejection's diagnostics ends `(rule <name>)`.\n",
        listed.len(),
        match era {
            Some(era) => format!("GP Connect, {}", era.label()),
            None => "not GP Connect: the definition's own rules".to_string(),
        }
    ));
    out
}

/// The whole catalogue as a Markdown table (`rules --markdown`; the README
/// section "What the mock rejects" is this text, checked by a test).
pub fn markdown() -> String {
    let mut out = String::from(
        "| Rule | Eras | Operations | Answer | Rejects | Source |\n|---|---|---|---|---|---|\n",
    );
    for rule in RULES {
        let operations = if rule.operations.is_empty() {
            "every".to_string()
        } else {
            rule.operations
                .iter()
                .map(|op| format!("`{op}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "| `{}` | {} | {operations} | {} | {} | {} |\n",
            rule.name,
            rule.eras.label(),
            rule.answer_label(),
            rule.summary.replace('|', "\\|"),
            rule.source
        ));
    }
    out
}

/// The rule called `name`.
pub fn find(name: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.name == name)
}

impl RuleId {
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }
}

macro_rules! catalogue_of {
    ($(
        $id:ident {
            name: $name:literal,
            eras: $eras:ident,
            operations: [$($operation:literal),* $(,)?],
            answer: ($status:ident, $code:expr),
            source: $source:literal,
            summary: $summary:literal $(,)?
        }
    )*) => {
        /// A rule of the catalogue, by position.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RuleId { $($id),* }

        /// Every rule, in [`RuleId`] order.
        pub static RULES: &[Rule] = &[$(Rule {
            id: RuleId::$id,
            name: $name,
            eras: Eras::$eras,
            operations: &[$($operation),*],
            status: StatusCode::$status,
            code: $code,
            source: $source,
            summary: $summary,
        }),*];
    };
}

mod table;

pub use table::{RuleId, RULES};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_ids_match_positions() {
        let mut names = std::collections::HashSet::new();
        for (index, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.id as usize, index);
            assert!(names.insert(rule.name), "duplicate rule {}", rule.name);
            assert!(
                rule.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{} is not kebab-case",
                rule.name
            );
            assert!(!rule.summary.is_empty() && !rule.source.is_empty());
        }
        assert!(RULES.len() <= 128, "RuleSet is a u128");
    }

    #[test]
    fn every_operation_shape_is_well_formed() {
        for rule in RULES {
            for operation in rule.operations {
                let (verb, end) = operation.split_once(' ').expect("METHOD /path");
                assert!(
                    ["GET", "POST", "PUT", "DELETE"].contains(&verb),
                    "{operation}"
                );
                assert!(end.starts_with('/'), "{operation}");
            }
        }
    }

    #[test]
    fn rule_sets_follow_era_and_operation() {
        let read = RuleSet::for_operation(Some(Era::Dstu2), &Method::GET, "/fhir/Patient/{id}");
        assert!(read.contains(RuleId::SspHeader));
        assert!(read.contains(RuleId::UnknownId));
        assert!(!read.contains(RuleId::IdentifierSearchStray));
        let none = RuleSet::for_operation(None, &Method::GET, "/fhir/Patient/{id}");
        assert!(!none.contains(RuleId::SspHeader));
        assert!(none.contains(RuleId::ParamRequired));
    }

    #[test]
    fn the_readme_lists_the_catalogue() {
        let readme = include_str!("../../../README.md");
        let begin = "<!-- rules:begin (generated by `gpconnect-mock rules --markdown`) -->\n";
        let start = readme.find(begin).expect("README has the rules block") + begin.len();
        let end = readme[start..]
            .find("<!-- rules:end -->")
            .expect("block end")
            + start;
        assert!(
            readme[start..end] == markdown(),
            "README's \"What the mock rejects\" is stale: paste `cargo run -- rules --markdown` between the markers"
        );
    }
}

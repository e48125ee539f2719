//! The `when` half of a scenario: compiled conditions over path parameters,
//! query, headers and the JSON body, and their evaluation. Regexes and
//! JSONPaths are compiled once, at load, never per request; what a body
//! JSONPath selects is remembered for one selection in a [`BodyScratch`].
//!
//! [`compile_condition`] turns a condition as written (`"2"`,
//! `{matches: REGEX}`, ...) into a [`Condition`], saying which forms exist
//! when it cannot.
//!
//! A `when` is evaluated two ways: [`When::holds`] stops at the first
//! failing condition (selection), [`When::tally`] counts them all (the near
//! miss, when nothing matched).

use std::borrow::Cow;

use http::HeaderName;
use regex::Regex;
use serde_json::Value;

use super::body_path::BodyPath;
use super::format::{ConditionDef, Operand, Scalar};
use crate::request::MockRequest;

/// One test on a set of candidate values (all values of a query parameter or
/// header, or every node a JSONPath selects). It holds if any value passes;
/// `present` speaks of the set itself.
#[derive(Debug, Clone)]
pub enum Condition {
    Equals(String),
    Matches(Regex),
    Contains(String),
    Present(bool),
    OneOf(Vec<String>),
}

impl Condition {
    /// Whether every value set this condition holds for satisfies `self`
    /// too: the same test, or `present: true` against any test that needs
    /// a value. Conservative: `false` when unsure.
    pub fn is_implied_by(&self, other: &Condition) -> bool {
        match (self, other) {
            (Condition::Present(true), Condition::Present(false)) => false,
            (Condition::Present(true), _) => true,
            (Condition::Equals(a), Condition::Equals(b)) => a == b,
            (Condition::Contains(a), Condition::Contains(b)) => b.contains(a.as_str()),
            (Condition::Contains(a), Condition::Equals(b)) => b.contains(a.as_str()),
            (Condition::Present(a), Condition::Present(b)) => a == b,
            (Condition::Matches(a), Condition::Matches(b)) => a.as_str() == b.as_str(),
            (Condition::Matches(a), Condition::Equals(b)) => a.is_match(b),
            (Condition::OneOf(options), Condition::Equals(b)) => options.contains(b),
            (Condition::OneOf(a), Condition::OneOf(b)) => b.iter().all(|v| a.contains(v)),
            (Condition::Equals(a), Condition::OneOf(b)) => b.iter().all(|v| v == a),
            _ => false,
        }
    }

    pub fn holds<'a>(&self, mut values: impl Iterator<Item = Cow<'a, str>>) -> bool {
        match self {
            Condition::Present(expected) => values.next().is_some() == *expected,
            Condition::Equals(expected) => values.any(|v| v == expected.as_str()),
            Condition::Matches(regex) => values.any(|v| regex.is_match(&v)),
            Condition::Contains(needle) => values.any(|v| v.contains(needle.as_str())),
            Condition::OneOf(options) => values.any(|v| options.iter().any(|o| *o == v)),
        }
    }

    /// A value that satisfies the condition, for building example requests.
    pub fn example(&self) -> Option<String> {
        match self {
            Condition::Equals(value) | Condition::Contains(value) => Some(value.clone()),
            Condition::OneOf(options) => options.first().cloned(),
            Condition::Present(true) => Some("present".to_string()),
            Condition::Present(false) => None,
            Condition::Matches(regex) => Some(example_for_regex(regex.as_str())),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Condition::Equals(value) => format!("equal to {value:?}"),
            Condition::Matches(regex) => format!("matching /{}/", regex.as_str()),
            Condition::Contains(needle) => format!("containing {needle:?}"),
            Condition::Present(true) => "present".to_string(),
            Condition::Present(false) => "absent".to_string(),
            Condition::OneOf(options) => format!("one of {options:?}"),
        }
    }
}

/// A best-effort literal satisfying simple anchored regexes such as
/// `search:patient$` or `^abc`: the regex with its anchors and escapes removed.
fn example_for_regex(pattern: &str) -> String {
    let trimmed = pattern.trim_start_matches('^').trim_end_matches('$');
    let mut out = String::new();
    let mut chars = trimmed.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' => {}
            other => out.push(other),
        }
    }
    out
}

/// A JSONPath and the condition on what it selects.
#[derive(Debug, Clone)]
pub struct BodyCondition {
    pub expression: String,
    pub path: BodyPath,
    pub condition: Condition,
    /// The same expression has the same slot in every scenario of a set,
    /// so one selection evaluates it once (see [`BodyScratch`]).
    pub slot: usize,
}

/// What body conditions select, remembered for one selection: by slot,
/// the non-null values the slot's JSONPath selects in the request body, as
/// text (strings as they are, other values as JSON). Scenarios of one
/// operation often test the same paths; each is evaluated once.
///
/// The scenario set that numbers the slots creates it, sized by its slot
/// count, for one call of [`super::ScenarioSet::select`]: it lives no longer
/// than that call and never meets another set's numbering.
#[derive(Debug)]
pub struct BodyScratch {
    /// Allocated on the first body condition evaluated: most requests
    /// meet none.
    slots: Vec<Option<Vec<String>>>,
    count: usize,
    /// Without a set's numbering (a `When` checked on its own), nothing is
    /// remembered: each condition is evaluated into `last`.
    cached: bool,
    last: Vec<String>,
}

impl BodyScratch {
    /// A scratch for a set that numbered `count` body expressions.
    pub fn for_slots(count: usize) -> Self {
        Self {
            slots: Vec::new(),
            count,
            cached: true,
            last: Vec::new(),
        }
    }

    /// A scratch that remembers nothing, for conditions whose slots were
    /// not numbered together.
    pub fn uncached() -> Self {
        Self {
            cached: false,
            ..Self::for_slots(0)
        }
    }

    fn values(&mut self, request: &MockRequest, condition: &BodyCondition) -> &[String] {
        if !self.cached {
            self.last = select_texts(request, &condition.path);
            return &self.last;
        }
        // A slot beyond the set's count would be a numbering bug; evaluating
        // it (rather than panicking) still gives the right answer.
        debug_assert!(condition.slot < self.count, "unnumbered body slot");
        if condition.slot >= self.slots.len() {
            self.slots.resize(self.count.max(condition.slot + 1), None);
        }
        self.slots[condition.slot].get_or_insert_with(|| select_texts(request, &condition.path))
    }
}

fn select_texts(request: &MockRequest, path: &BodyPath) -> Vec<String> {
    let Some(body) = request.body_json() else {
        return Vec::new();
    };
    path.select(body)
        .into_iter()
        .filter(|value| !value.is_null())
        .map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// Every condition of a `when`; all must hold.
#[derive(Debug, Clone, Default)]
pub struct When {
    pub path: Vec<(String, Condition)>,
    pub query: Vec<(String, Condition)>,
    pub headers: Vec<(HeaderName, Condition)>,
    pub body: Vec<BodyCondition>,
}

/// Why a `when` did not hold: the first failing condition, for near-miss reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    pub place: &'static str,
    pub name: String,
    pub expected: String,
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}` is not {}", self.place, self.name, self.expected)
    }
}

/// A condition that did not hold, borrowed from its `when`: where, what,
/// and the condition. Described (which allocates) only when reported.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'w> {
    pub place: &'static str,
    pub name: &'w str,
    pub condition: &'w Condition,
}

impl Failure<'_> {
    pub fn to_miss(self) -> Miss {
        Miss {
            place: self.place,
            name: self.name.to_string(),
            expected: self.condition.describe(),
        }
    }
}

/// How a `when` fared against a request, every condition evaluated: the
/// count that held and the first that did not.
#[derive(Debug, Clone, Copy)]
pub struct Tally<'w> {
    pub held: usize,
    pub first_failure: Option<Failure<'w>>,
}

impl When {
    /// Whether every request `other` holds for, `self` holds for too: each
    /// of `self`'s conditions is implied by one of `other`'s on the same
    /// value (an empty `when` is implied by anything).
    pub fn is_implied_by(&self, other: &When) -> bool {
        fn all<K: PartialEq>(mine: &[(K, Condition)], theirs: &[(K, Condition)]) -> bool {
            mine.iter().all(|(name, condition)| {
                theirs
                    .iter()
                    .any(|(other, given)| other == name && condition.is_implied_by(given))
            })
        }
        all(&self.path, &other.path)
            && all(&self.query, &other.query)
            && all(&self.headers, &other.headers)
            && self.body.iter().all(|mine| {
                other.body.iter().any(|theirs| {
                    theirs.expression == mine.expression
                        && mine.condition.is_implied_by(&theirs.condition)
                })
            })
    }

    pub fn is_empty(&self) -> bool {
        self.path.is_empty()
            && self.query.is_empty()
            && self.headers.is_empty()
            && self.body.is_empty()
    }

    /// Checks every condition on its own (nothing cached); returns the
    /// first that fails.
    pub fn check(
        &self,
        request: &MockRequest,
        path_params: &[(String, String)],
    ) -> Result<(), Miss> {
        match self.first_failure(request, path_params, &mut BodyScratch::uncached()) {
            None => Ok(()),
            Some(failure) => Err(failure.to_miss()),
        }
    }

    /// Whether every condition holds; allocates nothing beyond what the
    /// scratch remembers, for selection.
    pub fn holds(
        &self,
        request: &MockRequest,
        path_params: &[(String, String)],
        scratch: &mut BodyScratch,
    ) -> bool {
        self.first_failure(request, path_params, scratch).is_none()
    }

    /// The first condition that does not hold.
    pub fn first_failure<'w>(
        &'w self,
        request: &MockRequest,
        path_params: &[(String, String)],
        scratch: &mut BodyScratch,
    ) -> Option<Failure<'w>> {
        let mut first = None;
        self.evaluate(request, path_params, scratch, |failure| {
            first = failure;
            first.is_none()
        });
        first
    }

    /// Evaluates every condition, for near misses: how many hold, and the
    /// first that does not. Nothing is cloned.
    pub fn tally<'w>(
        &'w self,
        request: &MockRequest,
        path_params: &[(String, String)],
        scratch: &mut BodyScratch,
    ) -> Tally<'w> {
        let mut tally = Tally {
            held: 0,
            first_failure: None,
        };
        self.evaluate(request, path_params, scratch, |failure| {
            match failure {
                None => tally.held += 1,
                Some(failure) => {
                    tally.first_failure.get_or_insert(failure);
                }
            }
            true
        });
        tally
    }

    /// Evaluates the conditions in order (path, query, headers, body),
    /// telling `visit` of each: `None` when it holds, the failure when not.
    /// `visit` returns whether to go on.
    fn evaluate<'w>(
        &'w self,
        request: &MockRequest,
        path_params: &[(String, String)],
        scratch: &mut BodyScratch,
        mut visit: impl FnMut(Option<Failure<'w>>) -> bool,
    ) {
        let mut report =
            |held: bool, place: &'static str, name: &'w str, condition: &'w Condition| {
                visit((!held).then_some(Failure {
                    place,
                    name,
                    condition,
                }))
            };
        for (name, condition) in &self.path {
            let values = path_params
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| Cow::Borrowed(v.as_str()));
            if !report(condition.holds(values), "path parameter", name, condition) {
                return;
            }
        }
        for (name, condition) in &self.query {
            let held = condition.holds(request.query_values(name).map(Cow::Borrowed));
            if !report(held, "query parameter", name, condition) {
                return;
            }
        }
        for (name, condition) in &self.headers {
            let values = request
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(Cow::Borrowed);
            if !report(condition.holds(values), "header", name.as_str(), condition) {
                return;
            }
        }
        for body in &self.body {
            let values = scratch.values(request, body);
            let held = body
                .condition
                .holds(values.iter().map(|v| Cow::Borrowed(v.as_str())));
            if !report(held, "body", &body.expression, &body.condition) {
                return;
            }
        }
    }
}

// ---- conditions as written -> compiled --------------------------------------

const CONDITION_FORMS: &str =
    "expected a string, or one of {equals: X}, {matches: REGEX}, {contains: X}, {present: true|false}, {one_of: [A, B]}";

/// A condition as written → the compiled test, or what is wrong with it.
pub(super) fn compile_condition(raw: &ConditionDef) -> Result<Condition, String> {
    let map = match raw {
        ConditionDef::Scalar(scalar) => return Ok(Condition::Equals(scalar.text())),
        ConditionDef::Invalid(_) => return Err(CONDITION_FORMS.to_string()),
        ConditionDef::Operator(map) => map,
    };
    let Some((operator, operand)) = map.iter().next().filter(|_| map.len() == 1) else {
        return Err(format!(
            "a condition has exactly one operator; {CONDITION_FORMS}"
        ));
    };
    let need_text = |operand: &Operand| match operand {
        Operand::Scalar(scalar) => Ok(scalar.text()),
        _ => Err(format!("`{operator}` takes a text value")),
    };
    match operator.as_str() {
        "equals" => Ok(Condition::Equals(need_text(operand)?)),
        "contains" => Ok(Condition::Contains(need_text(operand)?)),
        "matches" => {
            let pattern = need_text(operand)?;
            Regex::new(&pattern)
                .map(Condition::Matches)
                .map_err(|error| {
                    // The regex crate draws a caret diagram over several lines; keep the last.
                    let text = error.to_string();
                    let reason = text
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim_start_matches("error: ")
                        .to_string();
                    format!("bad regex {pattern:?}: {reason}")
                })
        }
        "present" => match operand {
            Operand::Scalar(Scalar::Bool(value)) => Ok(Condition::Present(*value)),
            _ => Err("`present` takes true or false".to_string()),
        },
        "one_of" => match operand {
            Operand::List(items) => items
                .iter()
                .map(|item| {
                    item.text()
                        .ok_or_else(|| "`one_of` takes a list of text values".to_string())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Condition::OneOf),
            _ => Err("`one_of` takes a list".to_string()),
        },
        other => Err(format!(
            "unknown condition operator `{other}`; {CONDITION_FORMS}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, Method};

    fn request(uri: &str, body: &str) -> MockRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            "ssp-interactionid",
            "urn:x:rest:search:patient".parse().unwrap(),
        );
        MockRequest::new(Method::POST, uri, headers, Bytes::from(body.to_string()))
    }

    #[test]
    fn any_value_may_satisfy_and_present_speaks_of_the_set() {
        let req = request("/p?a=1&a=2", "");
        let when = When {
            query: vec![
                ("a".into(), Condition::Equals("2".into())),
                ("b".into(), Condition::Present(false)),
            ],
            headers: vec![(
                HeaderName::from_static("ssp-interactionid"),
                Condition::Matches(Regex::new("search:patient$").unwrap()),
            )],
            ..When::default()
        };
        assert_eq!(when.check(&req, &[]), Ok(()));
    }

    #[test]
    fn body_jsonpath_filters_select_parameter_values() {
        let body = r#"{"resourceType":"Parameters","parameter":[
            {"name":"patientNHSNumber","valueIdentifier":{"value":"9658218873"}},
            {"name":"recordSection","valueCodeableConcept":{"coding":[{"code":"SUM"}]}}]}"#;
        let req = request("/p", body);
        let expression =
            "$.parameter[?(@.name=='recordSection')].valueCodeableConcept.coding[0].code";
        let when = When {
            body: vec![BodyCondition {
                expression: expression.into(),
                path: BodyPath::parse(expression).unwrap(),
                condition: Condition::OneOf(vec!["ADM".into(), "SUM".into()]),
                slot: 0,
            }],
            ..When::default()
        };
        assert_eq!(when.check(&req, &[]), Ok(()));
        let miss = When {
            path: vec![("id".into(), Condition::Equals("2".into()))],
            ..When::default()
        }
        .check(&req, &[("id".into(), "3".into())])
        .unwrap_err();
        assert_eq!(
            miss.to_string(),
            "path parameter `id` is not equal to \"2\""
        );
    }

    #[test]
    fn regex_examples_drop_anchors() {
        assert_eq!(example_for_regex("search:patient$"), "search:patient");
        assert_eq!(example_for_regex("^a\\.b"), "a.b");
    }

    fn parse(yaml: &str) -> Result<Condition, String> {
        compile_condition(&super::super::format::parse::<ConditionDef>(yaml).expect("YAML"))
    }

    #[test]
    fn conditions_compile_with_clear_errors() {
        assert!(matches!(parse("\"2\""), Ok(Condition::Equals(v)) if v == "2"));
        assert!(matches!(parse("2"), Ok(Condition::Equals(v)) if v == "2"));
        assert!(matches!(
            parse("{present: false}"),
            Ok(Condition::Present(false))
        ));
        assert!(parse("{matches: '('}").unwrap_err().contains("bad regex"));
        assert!(parse("{like: x}")
            .unwrap_err()
            .contains("unknown condition operator `like`"));
        assert!(parse("{equals: 1, contains: 2}")
            .unwrap_err()
            .contains("exactly one operator"));
        assert!(parse("[a, b]").unwrap_err().contains("{one_of: [A, B]}"));
        assert!(parse("{one_of: [a, [b]]}")
            .unwrap_err()
            .contains("list of text values"));
        assert!(parse("{present: maybe}")
            .unwrap_err()
            .contains("true or false"));
    }

    /// Scalars read as serde_yaml 0.9 read them: YAML 1.2 booleans only,
    /// leading zeros kept, floats written back as written.
    #[test]
    fn plain_scalars_keep_their_text() {
        let text = |yaml: &str| match parse(yaml) {
            Ok(Condition::Equals(value)) => value,
            other => panic!("{yaml}: {other:?}"),
        };
        assert_eq!(text("yes"), "yes");
        assert_eq!(text("no"), "no");
        assert_eq!(text("true"), "true");
        assert_eq!(text("0123"), "0123");
        assert_eq!(text("1_000"), "1_000");
        assert_eq!(text("1.0"), "1.0");
        assert_eq!(text("2.5"), "2.5");
        assert_eq!(text("9658218873"), "9658218873");
        assert_eq!(text("-7"), "-7");
    }
}

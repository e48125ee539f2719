//! The `when` half of a scenario: compiled conditions over path parameters,
//! query, headers and the JSON body. Regexes and JSONPaths are compiled once,
//! at load, never per request.

use http::HeaderName;
use regex::Regex;

use super::body_path::BodyPath;
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
    pub fn holds<'a>(&self, mut values: impl Iterator<Item = std::borrow::Cow<'a, str>>) -> bool {
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
    /// so a request evaluates it once (see [`MockRequest::body_selection`]).
    pub slot: usize,
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

impl When {
    pub fn is_empty(&self) -> bool {
        self.path.is_empty()
            && self.query.is_empty()
            && self.headers.is_empty()
            && self.body.is_empty()
    }

    /// How many conditions hold, of how many: the closest scenario of a
    /// near miss is the one with the most.
    pub fn score(&self, request: &MockRequest, path_params: &[(String, String)]) -> (usize, usize) {
        let single = |when: When| usize::from(when.check(request, path_params).is_ok());
        let mut held = 0;
        for (name, condition) in &self.path {
            held += single(When {
                path: vec![(name.clone(), condition.clone())],
                ..When::default()
            });
        }
        for (name, condition) in &self.query {
            held += single(When {
                query: vec![(name.clone(), condition.clone())],
                ..When::default()
            });
        }
        for (name, condition) in &self.headers {
            held += single(When {
                headers: vec![(name.clone(), condition.clone())],
                ..When::default()
            });
        }
        for body in &self.body {
            held += single(When {
                body: vec![body.clone()],
                ..When::default()
            });
        }
        let total = self.path.len() + self.query.len() + self.headers.len() + self.body.len();
        (held, total)
    }

    /// Checks every condition; returns the first that fails.
    pub fn check(
        &self,
        request: &MockRequest,
        path_params: &[(String, String)],
    ) -> Result<(), Miss> {
        match self.first_failure(request, path_params) {
            None => Ok(()),
            Some((place, name, condition)) => Err(miss(place, name, condition)),
        }
    }

    /// Whether every condition holds; allocates nothing, for selection.
    pub fn holds(&self, request: &MockRequest, path_params: &[(String, String)]) -> bool {
        self.first_failure(request, path_params).is_none()
    }

    /// The first condition that does not hold: where, what, and the condition.
    fn first_failure<'w>(
        &'w self,
        request: &MockRequest,
        path_params: &[(String, String)],
    ) -> Option<(&'static str, &'w str, &'w Condition)> {
        use std::borrow::Cow;
        for (name, condition) in &self.path {
            let values = path_params
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| Cow::Borrowed(v.as_str()));
            if !condition.holds(values) {
                return Some(("path parameter", name, condition));
            }
        }
        for (name, condition) in &self.query {
            if !condition.holds(request.query_values(name).map(Cow::Borrowed)) {
                return Some(("query parameter", name, condition));
            }
        }
        for (name, condition) in &self.headers {
            let values = request
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(Cow::Borrowed);
            if !condition.holds(values) {
                return Some(("header", name.as_str(), condition));
            }
        }
        for body_condition in &self.body {
            let values = request.body_selection(body_condition.slot, &body_condition.path);
            if !body_condition
                .condition
                .holds(values.iter().map(|v| Cow::Borrowed(v.as_str())))
            {
                return Some((
                    "body",
                    &body_condition.expression,
                    &body_condition.condition,
                ));
            }
        }
        None
    }
}

fn miss(place: &'static str, name: &str, condition: &Condition) -> Miss {
    Miss {
        place,
        name: name.to_string(),
        expected: condition.describe(),
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
}

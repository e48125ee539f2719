//! The JSONPaths of body conditions, compiled once at load.
//!
//! Scenario files use a narrow form of JSONPath over and over: member names,
//! array indexes, wildcards, and filters such as `[?(@.name=='patientNHSNumber')]` on
//! FHIR `Parameters`. A path in that form is also compiled to a list of
//! steps and evaluated by walking the body directly, which allocates little
//! and costs a fraction of the general evaluator. Any other path is
//! evaluated by `serde_json_path`. Both give the same nodes in the same
//! order (RFC 9535); the tests compare them.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A body condition's JSONPath.
#[derive(Debug, Clone)]
pub struct BodyPath {
    general: JsonPath,
    /// The same path as steps, when it is in the narrow form.
    direct: Option<Vec<Step>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.name` or `['name']`.
    Member(String),
    /// `[2]`.
    Index(usize),
    /// `[*]` or `.*`: every element, or every member value.
    Wildcard,
    /// `[?(@.a.b=='text')]`: the elements (or member values) whose
    /// `a.b` is the string `text`.
    Filter { member: Vec<String>, equals: String },
}

impl BodyPath {
    /// Parses `expression`; the error is `serde_json_path`'s.
    pub fn parse(expression: &str) -> Result<Self, serde_json_path::ParseError> {
        let general = JsonPath::parse(expression)?;
        Ok(BodyPath {
            general,
            direct: direct_steps(expression),
        })
    }

    /// Whether it is evaluated by the direct walk.
    pub fn is_walked(&self) -> bool {
        self.direct.is_some()
    }

    /// The path for `serde_json_path`'s other queries (locations).
    pub fn json_path(&self) -> &JsonPath {
        &self.general
    }

    /// The nodes the path selects in `body`, in document order.
    pub fn select<'v>(&self, body: &'v Value) -> Vec<&'v Value> {
        let Some(steps) = &self.direct else {
            return self.general.query(body).all();
        };
        let mut nodes = vec![body];
        let mut next = Vec::new();
        for step in steps {
            for node in nodes.drain(..) {
                match (step, node) {
                    (Step::Member(name), Value::Object(map)) => next.extend(map.get(name)),
                    (Step::Index(index), Value::Array(items)) => next.extend(items.get(*index)),
                    (Step::Wildcard, Value::Array(items)) => next.extend(items),
                    (Step::Wildcard, Value::Object(map)) => next.extend(map.values()),
                    (Step::Filter { member, equals }, Value::Array(items)) => {
                        next.extend(items.iter().filter(|item| member_is(item, member, equals)))
                    }
                    (Step::Filter { member, equals }, Value::Object(map)) => {
                        next.extend(map.values().filter(|item| member_is(item, member, equals)))
                    }
                    _ => {}
                }
            }
            std::mem::swap(&mut nodes, &mut next);
            if nodes.is_empty() {
                break;
            }
        }
        nodes
    }
}

/// Whether `item.member…` is the string `equals` (absent is not).
fn member_is(item: &Value, member: &[String], equals: &str) -> bool {
    let mut value = item;
    for name in member {
        match value.get(name.as_str()) {
            Some(inner) if value.is_object() => value = inner,
            _ => return false,
        }
    }
    value.as_str() == Some(equals)
}

/// The steps of `expression` when it is in the narrow form, else `None`.
/// Call only with an expression `serde_json_path` accepts.
fn direct_steps(expression: &str) -> Option<Vec<Step>> {
    let mut rest = expression.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(".*") {
            steps.push(Step::Wildcard);
            rest = after;
        } else if let Some(after) = rest.strip_prefix('.') {
            let (name, after) = identifier(after)?;
            steps.push(Step::Member(name.to_string()));
            rest = after;
        } else if let Some(after) = rest.strip_prefix('[') {
            let (step, after) = bracket(after.trim_start())?;
            steps.push(step);
            rest = after.trim_start().strip_prefix(']')?;
        } else {
            return None;
        }
    }
    Some(steps)
}

/// `[A-Za-z_][A-Za-z0-9_]*` at the start of `text`, and what follows.
fn identifier(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let name = &text[..end];
    let first = name.chars().next()?;
    (first.is_ascii_alphabetic() || first == '_').then_some((name, &text[end..]))
}

/// `'text'` or `"text"` without escapes, and what follows.
fn string_literal(text: &str) -> Option<(&str, &str)> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &text[1..];
    let end = body.find(quote)?;
    let literal = &body[..end];
    (!literal.contains('\\')).then_some((literal, &body[end + 1..]))
}

/// The inside of `[…]` up to (not including) its `]`.
fn bracket(text: &str) -> Option<(Step, &str)> {
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        let end = text.find(|c: char| !c.is_ascii_digit())?;
        let index = text[..end].parse().ok()?;
        return Some((Step::Index(index), &text[end..]));
    }
    if let Some((name, after)) = string_literal(text) {
        return Some((Step::Member(name.to_string()), after));
    }
    if let Some(after) = text.strip_prefix('*') {
        return Some((Step::Wildcard, after));
    }
    let filter = text.strip_prefix('?')?.trim_start();
    let (inner, parenthesised) = match filter.strip_prefix('(') {
        Some(inner) => (inner.trim_start(), true),
        None => (filter, false),
    };
    let mut rest = inner.strip_prefix('@')?;
    let mut member = Vec::new();
    while let Some(after) = rest.strip_prefix('.') {
        let (name, after) = identifier(after)?;
        member.push(name.to_string());
        rest = after;
    }
    if member.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix("==")?.trim_start();
    let (equals, rest) = string_literal(rest)?;
    let mut rest = rest.trim_start();
    if parenthesised {
        rest = rest.strip_prefix(')')?.trim_start();
    }
    Some((
        Step::Filter {
            member,
            equals: equals.to_string(),
        },
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXPRESSIONS: &[&str] = &[
        "$.parameter[?(@.name=='patientNHSNumber')].valueIdentifier.value",
        "$.parameter[?(@.name=='recordSection')].valueCodeableConcept.coding[0].code",
        "$.parameter[?(@.name=='timePeriod')]",
        "$.parameter[?@.name == \"timePeriod\"].valuePeriod.start",
        "$.parameter[ ?( @.name == 'x' ) ]",
        "$['resourceType']",
        "$.resourceType",
        "$.participant[1].actor.reference",
        "$.a[?(@.b.c=='1')].d",
        "$.participant[*]",
        "$.participant[ * ].actor.*",
        "$.parameter.*.name",
        "$",
    ];

    /// Paths outside the narrow form: evaluated by serde_json_path.
    const GENERAL: &[&str] = &[
        "$..value",
        "$.parameter[-1]",
        "$.parameter[0:2]",
        "$.parameter[?(@.name!='x')]",
        "$.parameter[?(@.name=='a' || @.name=='b')]",
        "$.parameter[?('x'==@.name)]",
        "$.parameter[?(@.n==1)]",
        "$['it''s']",
        "$['a\\'b']",
        "$.ünïcode",
        "$.parameter[?(@.name=='a')][?(@.x)]",
        "$.parameter[*,0]",
    ];

    fn documents() -> Vec<Value> {
        vec![
            json!({"resourceType": "Parameters", "parameter": [
                {"name": "patientNHSNumber", "valueIdentifier": {"system": "s", "value": "9658218873"}},
                {"name": "recordSection", "valueCodeableConcept": {"coding": [{"code": "SUM"}, {"code": "X"}]}},
                {"name": "timePeriod", "valuePeriod": {"start": "2016", "end": null}},
                {"name": "patientNHSNumber", "valueIdentifier": {"value": 9658218873u64}},
            ]}),
            // Filters apply to member values of an object too.
            json!({"parameter": {"p": {"name": "timePeriod"}, "q": {"name": "x"}, "r": 3}}),
            json!({"parameter": "not a list", "a": [{"b": {"c": "1"}, "d": 4}, {"b": {"c": 1}, "d": 5}, {"b": "c"}, 7]}),
            json!({"participant": [{"actor": {"reference": "Patient/1"}}, {"actor": {"reference": "Location/1"}}]}),
            json!({"participant": {"1": {"actor": {}}}, "resourceType": null}),
            json!([1, 2, {"name": "x"}]),
            json!("text"),
            json!(null),
        ]
    }

    #[test]
    fn narrow_paths_are_walked_and_select_what_serde_json_path_selects() {
        for expression in EXPRESSIONS {
            let path = BodyPath::parse(expression).expect("valid");
            assert!(path.direct.is_some(), "{expression} should be walked");
            for document in documents() {
                assert_eq!(
                    path.select(&document),
                    path.general.query(&document).all(),
                    "{expression} on {document}"
                );
            }
        }
    }

    #[test]
    fn other_paths_go_to_serde_json_path() {
        for expression in GENERAL {
            let Ok(path) = BodyPath::parse(expression) else {
                continue;
            };
            assert!(path.direct.is_none(), "{expression} should not be walked");
            for document in documents() {
                assert_eq!(path.select(&document), path.general.query(&document).all());
            }
        }
    }

    #[test]
    fn steps_are_read_as_written() {
        let path = BodyPath::parse("$.parameter[?(@.name=='x')].coding[0]['a b']").expect("valid");
        assert_eq!(
            path.direct,
            Some(vec![
                Step::Member("parameter".into()),
                Step::Filter {
                    member: vec!["name".into()],
                    equals: "x".into()
                },
                Step::Member("coding".into()),
                Step::Index(0),
                Step::Member("a b".into()),
            ])
        );
    }
}

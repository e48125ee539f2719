//! The narrow JSONPath grammar: the one form of JSONPath that scenario files
//! use over and over, parsed once into [`Step`]s.
//!
//! Two readers share it, so that what is built is what is matched:
//! - [`crate::scenario::body_path`] walks the steps to select the nodes of a
//!   request body (a path outside the form goes to `serde_json_path`);
//! - [`crate::sample`] builds, from the same steps, a body in which the path
//!   selects something (a sample request that satisfies a scenario).
//!
//! # Grammar
//! A strict subset of RFC 9535; every path in it selects, when walked,
//! what `serde_json_path` selects (the tests of `body_path` compare them).
//!
//! ```text
//! path      = "$" *step
//! step      = "." name                 ; Member
//!           / ".*"                     ; Wildcard
//!           / "[" S selector S "]"
//! selector  = index                    ; Index: 0, or 1-9 then digits (no sign)
//!           / string                   ; Member: 'text' or "text", no escapes
//!           / "*"                      ; Wildcard
//!           / "?" S filter             ; Filter
//! filter    = "(" S test S ")" / test
//! test      = "@" 1*("." name) S "==" S string
//! name      = (ALPHA / "_") *(ALPHA / DIGIT / "_")      ; ASCII only
//! S         = *(" " / "\t" / "\n" / "\r")
//! ```
//!
//! A filter's member may be dotted: `[?(@.a.b=='x')]` keeps the elements
//! (or member values) whose `a.b` is the string `x`. Anything else (`..`,
//! slices, negative indexes, `!=`, `||`, numbers, escapes, unions, spaces
//! between segments, non-ASCII shorthand names) is outside the form.

use serde_json::Value;

/// One step of a path in the narrow form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name` or `['name']`.
    Member(String),
    /// `[2]`.
    Index(usize),
    /// `[*]` or `.*`: every element, or every member value.
    Wildcard,
    /// `[?(@.a.b=='text')]`: the elements (or member values) whose
    /// `a.b` is the string `text`. `member` is never empty.
    Filter { member: Vec<String>, equals: String },
}

/// The largest index RFC 9535 allows (I-JSON's exact integers).
const MAX_INDEX: usize = (1 << 53) - 1;

/// The steps of `expression` when it is in the narrow form, else `None`.
pub fn parse(expression: &str) -> Option<Vec<Step>> {
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
            let (step, after) = bracket(blank(after))?;
            steps.push(step);
            rest = blank(after).strip_prefix(']')?;
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Whether `item.member…` is the string `equals` (absent is not): the test
/// of a [`Step::Filter`].
pub fn member_is(item: &Value, member: &[String], equals: &str) -> bool {
    let mut value = item;
    for name in member {
        match value {
            Value::Object(map) => match map.get(name) {
                Some(inner) => value = inner,
                None => return false,
            },
            _ => return false,
        }
    }
    value.as_str() == Some(equals)
}

/// `text` without RFC 9535's blank space (`S`) at its start.
fn blank(text: &str) -> &str {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
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

/// `'text'` or `"text"` without escapes or control characters, and what
/// follows.
fn string_literal(text: &str) -> Option<(&str, &str)> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &text[1..];
    let end = body.find(quote)?;
    let literal = &body[..end];
    let plain = !literal.contains(|c: char| c == '\\' || c < ' ');
    plain.then_some((literal, &body[end + 1..]))
}

/// `0` or a digit 1-9 then digits, at most [`MAX_INDEX`], and what follows.
fn index(text: &str) -> Option<(usize, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let digits = &text[..end];
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    let value: usize = digits.parse().ok()?;
    (value <= MAX_INDEX).then_some((value, &text[end..]))
}

/// The inside of `[…]` up to (not including) its blank space and `]`.
fn bracket(text: &str) -> Option<(Step, &str)> {
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        let (value, after) = index(text)?;
        return Some((Step::Index(value), after));
    }
    if let Some((name, after)) = string_literal(text) {
        return Some((Step::Member(name.to_string()), after));
    }
    if let Some(after) = text.strip_prefix('*') {
        return Some((Step::Wildcard, after));
    }
    let filter = blank(text.strip_prefix('?')?);
    let (inner, parenthesised) = match filter.strip_prefix('(') {
        Some(inner) => (blank(inner), true),
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
    let rest = blank(blank(rest).strip_prefix("==")?);
    let (equals, rest) = string_literal(rest)?;
    let mut rest = rest;
    if parenthesised {
        rest = blank(rest).strip_prefix(')')?;
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

    fn member(name: &str) -> Step {
        Step::Member(name.to_string())
    }

    #[test]
    fn steps_are_read_as_written() {
        assert_eq!(
            parse("$.parameter[?(@.name=='x')].coding[0]['a b'].*[*]"),
            Some(vec![
                member("parameter"),
                Step::Filter {
                    member: vec!["name".into()],
                    equals: "x".into()
                },
                member("coding"),
                Step::Index(0),
                member("a b"),
                Step::Wildcard,
                Step::Wildcard,
            ])
        );
        assert_eq!(parse("$"), Some(Vec::new()));
    }

    #[test]
    fn a_filter_member_may_be_dotted_and_spaced_around() {
        let dotted = Step::Filter {
            member: vec!["a".into(), "b".into()],
            equals: "x y".into(),
        };
        for expression in [
            "$.p[?(@.a.b=='x y')]",
            "$.p[?@.a.b==\"x y\"]",
            "$.p[ ?( @.a.b == 'x y' ) ]",
            "$.p[\t?\n@.a.b\r==  'x y' ]",
        ] {
            assert_eq!(
                parse(expression),
                Some(vec![member("p"), dotted.clone()]),
                "{expression}"
            );
        }
    }

    #[test]
    fn other_forms_are_not_narrow() {
        for expression in [
            "",
            "parameter",
            "$..value",
            "$.",
            "$.1a",
            "$.ünïcode",
            "$ .a",
            "$[-1]",
            "$[01]",
            "$[9007199254740992]",
            "$[0:2]",
            "$[*,0]",
            "$['a\\'b']",
            "$['a\u{1}b']",
            "$['open]",
            "$[?(@=='x')]",
            "$[?(@.a!='x')]",
            "$[?(@.a=='x' || @.b=='y')]",
            "$[?('x'==@.a)]",
            "$[?(@.n==1)]",
            "$[?(@.a=='x']",
            "$[?@.a=='x')]",
            "$[?(@.a. b=='x')]",
            "$[\u{a0}0]",
        ] {
            assert_eq!(parse(expression), None, "{expression:?}");
        }
        assert_eq!(
            parse("$[9007199254740991]"),
            Some(vec![Step::Index(MAX_INDEX)])
        );
    }

    #[test]
    fn a_filter_test_reads_a_string_at_the_member() {
        let item = json!({"a": {"b": "x"}, "n": 1, "s": "1"});
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(member_is(&item, &path(&["a", "b"]), "x"));
        assert!(!member_is(&item, &path(&["a", "b"]), "y"));
        assert!(!member_is(&item, &path(&["a"]), "x"));
        assert!(!member_is(&item, &path(&["n"]), "1"));
        assert!(member_is(&item, &path(&["s"]), "1"));
        assert!(!member_is(&item, &path(&["a", "b", "c"]), "x"));
        assert!(!member_is(&json!(["x"]), &path(&["0"]), "x"));
        assert!(!member_is(&json!("x"), &path(&["a"]), "x"));
    }
}

//! Sample bodies: making a JSON body satisfy a body condition, by
//! changing what its path selects or, when it selects nothing, by building
//! the path. Paths are read in [`crate::jsonpath`]'s narrow form, the same
//! steps [`BodyPath`] walks to match, so a body built for a path is
//! selected by it.

use serde_json::{json, Map, Value};

use crate::jsonpath::{member_is, Step};
use crate::scenario::body_path::BodyPath;
use crate::scenario::conditions::Condition;

/// Makes `body` satisfy `condition` at `path`: replace what the path
/// selects, or build the path when it selects nothing (and it is in the
/// narrow form).
pub fn satisfy(body: &mut Value, path: &BodyPath, condition: &Condition) {
    let pointers: Vec<String> = path
        .json_path()
        .query_located(body)
        .locations()
        .map(|l| l.to_json_pointer())
        .collect();
    if let Condition::Present(false) = condition {
        for pointer in pointers.iter().rev() {
            remove_pointer(body, pointer);
        }
        return;
    }
    let present = matches!(condition, Condition::Present(true));
    if !pointers.is_empty() {
        if present {
            return;
        }
        let Some(text) = condition.example() else {
            return;
        };
        for pointer in &pointers {
            if let Some(slot) = body.pointer_mut(pointer) {
                *slot = typed_like(slot, &text);
            }
        }
        return;
    }
    let Some(steps) = path.steps() else {
        return;
    };
    let leaf = if present {
        json!({})
    } else {
        condition
            .example()
            .map(Value::String)
            .unwrap_or(Value::Null)
    };
    build_path(body, steps, leaf);
}

fn typed_like(existing: &Value, text: &str) -> Value {
    match existing {
        Value::Number(_) => text
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or_else(|_| json!(text)),
        Value::Bool(_) => text
            .parse::<bool>()
            .map(Value::Bool)
            .unwrap_or_else(|_| json!(text)),
        _ => Value::String(text.to_string()),
    }
}

/// Builds `steps` into `target`, down to `leaf`: a missing member is
/// added, a short array grown, a wildcard gets a new element, a filter the
/// first element that passes it (or a new one made to pass it: `{"a": {"b":
/// "x"}}` for `[?(@.a.b=='x')]`). A leaf object does not replace an object
/// already there.
pub fn build_path(target: &mut Value, steps: &[Step], leaf: Value) {
    let Some((step, rest)) = steps.split_first() else {
        if !leaf.is_object() || !target.is_object() {
            *target = leaf;
        }
        return;
    };
    let next_is_array = matches!(
        rest.first(),
        Some(Step::Index(_) | Step::Wildcard | Step::Filter { .. })
    );
    let empty = || if next_is_array { json!([]) } else { json!({}) };
    match step {
        Step::Member(name) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Some(map) = target.as_object_mut() {
                let child = map.entry(name.clone()).or_insert_with(empty);
                build_path(child, rest, leaf);
            }
        }
        Step::Index(index) => {
            let array = ensure_array(target);
            while array.len() <= *index {
                array.push(empty());
            }
            build_path(&mut array[*index], rest, leaf);
        }
        Step::Wildcard => {
            let array = ensure_array(target);
            array.push(empty());
            if let Some(last) = array.last_mut() {
                build_path(last, rest, leaf);
            }
        }
        Step::Filter { member, equals } => {
            let array = ensure_array(target);
            let position = array
                .iter()
                .position(|item| member_is(item, member, equals));
            let index = match position {
                Some(index) => index,
                None => {
                    let mut item = json!(equals);
                    for name in member.iter().rev() {
                        let mut map = Map::new();
                        map.insert(name.clone(), item);
                        item = Value::Object(map);
                    }
                    array.push(item);
                    array.len() - 1
                }
            };
            build_path(&mut array[index], rest, leaf);
        }
    }
}

fn ensure_array(target: &mut Value) -> &mut Vec<Value> {
    if !target.is_array() {
        *target = json!([]);
    }
    match target {
        Value::Array(array) => array,
        _ => unreachable!("just made an array"),
    }
}

fn remove_pointer(body: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match body.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&key);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = key.parse::<usize>() {
                if index < items.len() {
                    items.remove(index);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn satisfied(body: Value, expression: &str, condition: Condition) -> Value {
        let mut body = body;
        let path = BodyPath::parse(expression).expect("path");
        satisfy(&mut body, &path, &condition);
        body
    }

    #[test]
    fn replaces_selected_values_and_builds_filtered_paths() {
        let expression =
            "$.parameter[?(@.name=='recordSection')].valueCodeableConcept.coding[0].code";
        let existing = json!({"parameter": [{"name": "recordSection", "valueCodeableConcept": {"coding": [{"code": "SUM"}]}}]});
        let body = satisfied(existing, expression, Condition::Equals("MED".into()));
        assert_eq!(
            body["parameter"][0]["valueCodeableConcept"]["coding"][0]["code"],
            "MED"
        );
        let body = satisfied(json!({}), expression, Condition::Equals("ALL".into()));
        assert_eq!(
            body,
            json!({"parameter": [{"name": "recordSection", "valueCodeableConcept": {"coding": [{"code": "ALL"}]}}]})
        );
        let body = satisfied(
            json!({"a": 1}),
            "$.parameter[?(@.name=='timePeriod')]",
            Condition::Present(true),
        );
        assert_eq!(body["parameter"][0]["name"], "timePeriod");
        let body = satisfied(
            body,
            "$.parameter[?(@.name=='timePeriod')]",
            Condition::Present(false),
        );
        assert_eq!(body["parameter"], json!([]));
    }

    /// What a body condition reads from the nodes a path selects (as
    /// `MockRequest::body_selection` does): nulls left out, strings as
    /// they are, anything else as JSON.
    fn read(path: &BodyPath, body: &Value) -> Vec<String> {
        path.select(body)
            .into_iter()
            .filter(|value| !value.is_null())
            .map(|value| match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect()
    }

    /// Every narrow path a body is built for: the default pack's body
    /// conditions and the body paths its state conditions take ids from,
    /// plus filters on a dotted member.
    fn narrow_paths() -> Vec<(String, Option<Condition>)> {
        use crate::snapshot::{Settings, Snapshot, Sources};
        let snapshot = Snapshot::load(&Sources::default_pack(), &Settings::default(), 1)
            .expect("the default pack loads");
        let mut paths = Vec::new();
        for index in 0..snapshot.apis[0].model.operations.len() {
            for scenario in snapshot.apis[0].scenarios.for_operation(index) {
                for body in &scenario.when.body {
                    if body.path.is_walked() {
                        paths.push((body.expression.clone(), Some(body.condition.clone())));
                    }
                }
                for condition in &scenario.state_when.conditions {
                    if let Some(expression) = super::super::fit::body_id_path(&condition.id_source)
                    {
                        paths.push((expression, None));
                    }
                }
            }
        }
        assert!(
            paths.iter().any(|(p, _)| p.contains("[?(@.")),
            "the pack has filters: {paths:?}"
        );
        assert!(paths.iter().any(|(_, c)| c.is_none()), "and state ids");
        let equals = || Condition::Equals("x".into());
        for (dotted, condition) in [
            ("$.parameter[?(@.valueIdentifier.system=='https://fhir.nhs.uk/Id/nhs-number')].valueIdentifier.value", equals()),
            ("$.a[?(@.b.c=='1')].d[0].e", equals()),
            ("$.a[?@.b.c == \"1\"].f", equals()),
            ("$.a[?(@.b.c=='1')]", Condition::Present(true)),
        ] {
            paths.push((dotted.to_string(), Some(condition)));
        }
        paths
    }

    #[test]
    fn a_body_built_for_a_narrow_path_is_selected_by_it() {
        for (expression, condition) in narrow_paths() {
            let path = BodyPath::parse(&expression).expect("valid");
            let steps = path.steps().expect("narrow");
            // The steps alone, down to a leaf the path then selects (a path
            // that ends in a filter selects the element made to pass it).
            let ends_in_filter = matches!(steps.last(), Some(Step::Filter { .. }) | None);
            let leaf = if ends_in_filter {
                json!({})
            } else {
                json!("leaf")
            };
            let mut built = json!({});
            build_path(&mut built, steps, leaf.clone());
            let selected = path.select(&built);
            assert!(
                !selected.is_empty(),
                "{expression} selects nothing in {built}"
            );
            if !ends_in_filter {
                assert_eq!(selected, vec![&leaf], "{expression}");
            }
            assert_eq!(
                selected,
                path.json_path().query(&built).all(),
                "{expression}"
            );
            // And a condition on it, satisfied in an empty body, holds.
            let Some(condition) = condition else { continue };
            let mut body = json!({});
            satisfy(&mut body, &path, &condition);
            let values = read(&path, &body);
            assert!(
                condition.holds(
                    values
                        .iter()
                        .map(|v| std::borrow::Cow::Borrowed(v.as_str()))
                ),
                "{expression} {} in {body}",
                condition.describe()
            );
        }
    }

    #[test]
    fn a_dotted_filter_builds_the_nested_member() {
        let body = satisfied(
            json!({}),
            "$.a[?(@.b.c=='1')].d",
            Condition::Equals("x".into()),
        );
        assert_eq!(body, json!({"a": [{"b": {"c": "1"}, "d": "x"}]}));
        // An element that passes the filter already is the one used.
        let body = satisfied(
            json!({"a": [{"b": {"c": "2"}}, {"b": {"c": "1"}, "e": 0}]}),
            "$.a[?(@.b.c=='1')].d",
            Condition::Equals("x".into()),
        );
        assert_eq!(body["a"][1], json!({"b": {"c": "1"}, "e": 0, "d": "x"}));
        assert_eq!(body["a"].as_array().map(Vec::len), Some(2));
    }
}

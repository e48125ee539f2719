//! The list helpers a template uses to assemble a record from data: pick
//! items by a field (`where_not`, `where_given`, `where_in`), by a date
//! span (`in_period`), the newest n (`newest`), combine lists (`append`,
//! `union`, `tag`, `when`), follow FHIR references between items
//! (`references`, `ref_ids`, `reachable`, `sharing`) and find the
//! parameters of a FHIR Parameters body a definition does not know
//! (`unknown_params`). Each is a function of its parameters; the table in
//! `helpers.rs` registers them.
//!
//! An *item* is a JSON object; record items keep their FHIR resource under
//! a field (`resource`) beside the fields the helpers read (`date`, `group`
//! …). An item's *key* is its resource's `resourceType/id`.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDate;
use handlebars::{Helper, RenderErrorReason};
use serde_json::{json, Map, Value};

use super::helpers::{items, param, text, truthy};
use super::time::covered_day;
use crate::state::index::loosely_equal as same;

type Outcome = Result<Value, RenderErrorReason>;

/// `(when cond a [b])`: `a` when `cond` holds, else `b` (default: an empty
/// list, so a list expression can be switched off).
pub(super) fn helper_when(h: &Helper<'_>) -> Outcome {
    Ok(if truthy(param(h, 0)) {
        param(h, 1).clone()
    } else {
        match h.param(2) {
            Some(other) => other.value().clone(),
            None => json!([]),
        }
    })
}

/// `(append a b …)`: the items of every list, in order.
pub(super) fn helper_append(h: &Helper<'_>) -> Outcome {
    Ok(Value::Array(
        h.params()
            .iter()
            .flat_map(|p| items(p.value()))
            .cloned()
            .collect(),
    ))
}

/// `(union a b …)`: as `append`, but an item whose `id` an earlier item
/// has is left out (items without `id` are all kept).
pub(super) fn helper_union(h: &Helper<'_>) -> Outcome {
    let mut seen = HashSet::new();
    Ok(Value::Array(
        h.params()
            .iter()
            .flat_map(|p| items(p.value()))
            .filter(|item| match item.get("id") {
                Some(id) => seen.insert(text(id)),
                None => true,
            })
            .cloned()
            .collect(),
    ))
}

/// `(tag list "field" value)`: copies of the items with `field` set to
/// `value` (what a later `where` tells apart).
pub(super) fn helper_tag(h: &Helper<'_>) -> Outcome {
    let field = text(param(h, 1));
    let value = param(h, 2);
    Ok(Value::Array(
        items(param(h, 0))
            .map(|item| {
                let mut item = item.clone();
                if let Some(object) = item.as_object_mut() {
                    object.insert(field.clone(), value.clone());
                }
                item
            })
            .collect(),
    ))
}

/// `(where_not list "field" value)`: the items whose `field` is absent or
/// not (loosely) `value`.
pub(super) fn helper_where_not(h: &Helper<'_>) -> Outcome {
    let field = text(param(h, 1));
    let unwanted = param(h, 2);
    Ok(Value::Array(
        items(param(h, 0))
            .filter(|item| !item.get(&field).is_some_and(|v| same(v, unwanted)))
            .cloned()
            .collect(),
    ))
}

/// `(where_given list "field" value)`: as `where` when `value` is given;
/// every item when it is null or empty (an optional filter).
pub(super) fn helper_where_given(h: &Helper<'_>) -> Outcome {
    let field = text(param(h, 1));
    let wanted = param(h, 2);
    let open = wanted.is_null() || wanted == &json!("");
    Ok(Value::Array(
        items(param(h, 0))
            .filter(|item| open || item.get(&field).is_some_and(|v| same(v, wanted)))
            .cloned()
            .collect(),
    ))
}

/// `(where_in list "field" values)`: the items whose `field` is one of
/// `values` (a list).
pub(super) fn helper_where_in(h: &Helper<'_>) -> Outcome {
    let field = text(param(h, 1));
    let wanted: Vec<&Value> = items(param(h, 2)).collect();
    Ok(Value::Array(
        items(param(h, 0))
            .filter(|item| {
                item.get(&field)
                    .is_some_and(|v| wanted.iter().any(|w| same(v, w)))
            })
            .cloned()
            .collect(),
    ))
}

/// `(has list value)`: whether `list` holds `value` (loosely).
pub(super) fn helper_has(h: &Helper<'_>) -> Outcome {
    let wanted = param(h, 1);
    Ok(json!(items(param(h, 0)).any(|v| same(v, wanted))))
}

/// `(pluck list "field")`: the values of `field` of the items, a list value
/// spread out, nulls and absent ones left out.
pub(super) fn helper_pluck(h: &Helper<'_>) -> Outcome {
    let field = text(param(h, 1));
    let mut out = Vec::new();
    for value in items(param(h, 0)).filter_map(|item| item.get(&field)) {
        match value {
            Value::Null => {}
            Value::Array(list) => out.extend(list.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
    Ok(Value::Array(out))
}

/// `(sharing pool list "field")`: the items of `pool` whose `field` is set
/// and equals the `field` of an item of `list` (an item's group mates).
pub(super) fn helper_sharing(h: &Helper<'_>) -> Outcome {
    let field = text(param(h, 2));
    let groups: HashSet<String> = items(param(h, 1))
        .filter_map(|item| item.get(&field))
        .filter(|v| !v.is_null())
        .map(text)
        .collect();
    Ok(Value::Array(
        items(param(h, 0))
            .filter(|item| {
                item.get(&field)
                    .is_some_and(|v| !v.is_null() && groups.contains(&text(v)))
            })
            .cloned()
            .collect(),
    ))
}

/// The first and last day a FHIR date, partial date or dateTime covers.
fn span(value: &Value) -> Option<(NaiveDate, NaiveDate)> {
    let value = text(value);
    Some((covered_day(&value, false)?, covered_day(&value, true)?))
}

/// `(in_period list "date" "until" low high)`: the items whose span
/// overlaps the days from `low` to `high` (both whole days; a null or empty
/// bound is open). An item's span runs from the first day its `date` field
/// covers (a partial date spans its year or month) to the last day its
/// `until` field covers, or its `date`'s when it has no `until`; `until:
/// ongoing` has no end. An item without `date` is undated and always kept;
/// one whose `date` is not a date is left out.
pub(super) fn helper_in_period(h: &Helper<'_>) -> Outcome {
    let date_field = text(param(h, 1));
    let until_field = text(param(h, 2));
    let bound = |index: usize, end: bool| -> Result<Option<NaiveDate>, RenderErrorReason> {
        let value = text(param(h, index));
        if value.is_empty() {
            return Ok(None);
        }
        covered_day(&value, end).map(Some).ok_or_else(|| {
            RenderErrorReason::Other(format!("in_period: {value:?} is not a FHIR date"))
        })
    };
    let low = bound(3, false)?;
    let high = bound(4, true)?;
    Ok(Value::Array(
        items(param(h, 0))
            .filter(|item| {
                let Some(date) = item.get(&date_field).filter(|v| !v.is_null()) else {
                    return true;
                };
                let Some((first, date_last)) = span(date) else {
                    return false;
                };
                let last = match item.get(&until_field) {
                    None | Some(Value::Null) => Some(date_last),
                    Some(Value::String(s)) if s == "ongoing" => None,
                    Some(until) => match span(until) {
                        Some((_, last)) => Some(last),
                        None => return false,
                    },
                };
                high.is_none_or(|high| first <= high)
                    && match (low, last) {
                        (Some(low), Some(last)) => last >= low,
                        _ => true,
                    }
            })
            .cloned()
            .collect(),
    ))
}

/// `(newest list "field" n)`: the items sorted by `field` (as text: ISO
/// dates sort as they fall), latest first, undated ones last; the first `n`
/// of them (all when `n` is null or below 1).
pub(super) fn helper_newest(h: &Helper<'_>) -> Outcome {
    let field = text(param(h, 1));
    let mut sorted: Vec<&Value> = items(param(h, 0)).collect();
    let key = |item: &Value| item.get(&field).filter(|v| !v.is_null()).map(text);
    sorted.sort_by_key(|item| std::cmp::Reverse(key(item)));
    let n = match param(h, 2) {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    };
    let take = if n >= 1.0 { n as usize } else { sorted.len() };
    Ok(Value::Array(
        sorted.into_iter().take(take).cloned().collect(),
    ))
}

/// Every `reference` text under `value`, into `out`.
fn collect_references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("reference", Value::String(reference)) => {
                        out.insert(reference.clone());
                    }
                    _ => collect_references(inner, out),
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|inner| collect_references(inner, out)),
        _ => {}
    }
}

/// `(references list "resource")`: every distinct `reference` text under
/// the `resource` field of the items, sorted (contained `#id` ones too).
pub(super) fn helper_references(h: &Helper<'_>) -> Outcome {
    let field = text(param(h, 1));
    let mut out = BTreeSet::new();
    for item in items(param(h, 0)) {
        if let Some(resource) = item.get(&field) {
            collect_references(resource, &mut out);
        }
    }
    Ok(Value::Array(out.into_iter().map(Value::String).collect()))
}

/// `(ref_ids references "Type")`: the ids of the references to `Type`
/// (`Practitioner/1` → `1`), in order.
pub(super) fn helper_ref_ids(h: &Helper<'_>) -> Outcome {
    let prefix = format!("{}/", text(param(h, 1)));
    Ok(Value::Array(
        items(param(h, 0))
            .filter_map(|v| v.as_str()?.strip_prefix(&prefix).map(|id| json!(id)))
            .collect(),
    ))
}

/// An item's key: its resource's `resourceType/id`.
fn key_of(item: &Value, field: &str) -> Option<String> {
    let resource = item.get(field)?;
    Some(format!(
        "{}/{}",
        resource.get("resourceType")?.as_str()?,
        text(resource.get("id")?)
    ))
}

/// `(reachable pool list "resource")`: the items of `list`, then every item
/// of `pool` their resources (under `field`) reference, and those the new
/// ones reference, until nothing new is referenced; each item once (by
/// key), in that order.
pub(super) fn helper_reachable(h: &Helper<'_>) -> Outcome {
    let field = text(param(h, 2));
    let pool: Vec<(String, &Value)> = items(param(h, 0))
        .filter_map(|item| Some((key_of(item, &field)?, item)))
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    let mut out: Vec<Value> = Vec::new();
    let mut frontier: Vec<&Value> = Vec::new();
    for item in items(param(h, 1)) {
        if key_of(item, &field).is_none_or(|key| seen.insert(key)) {
            out.push(item.clone());
            frontier.push(item);
        }
    }
    while !frontier.is_empty() {
        let mut wanted = BTreeSet::new();
        for item in frontier.drain(..) {
            if let Some(resource) = item.get(&field) {
                collect_references(resource, &mut wanted);
            }
        }
        for (key, item) in &pool {
            if wanted.contains(key) && seen.insert(key.clone()) {
                out.push((*item).clone());
                frontier.push(item);
            }
        }
    }
    Ok(Value::Array(out))
}

/// `(unknown_params parameters known)`: the names of a FHIR Parameters
/// resource's parameters, and `name.part` of their parts, that `known` (a
/// list of such texts) does not hold; a part of an unknown parameter is not
/// named again. In the order they come.
pub(super) fn helper_unknown_params(h: &Helper<'_>) -> Outcome {
    let known: HashSet<String> = items(param(h, 1)).map(text).collect();
    let mut out = Vec::new();
    let name_of = |p: &Map<String, Value>| p.get("name").map(text).unwrap_or_default();
    for parameter in items(param(h, 0).get("parameter").unwrap_or(&Value::Null)) {
        let Some(parameter) = parameter.as_object() else {
            continue;
        };
        let name = name_of(parameter);
        if !known.contains(&name) {
            out.push(json!(name));
            continue;
        }
        for part in items(parameter.get("part").unwrap_or(&Value::Null)) {
            let Some(part) = part.as_object() else {
                continue;
            };
            let label = format!("{name}.{}", name_of(part));
            if !known.contains(&label) {
                out.push(json!(label));
            }
        }
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::template::test_support::render;

    fn ids(template: &str, data: serde_json::Value) -> String {
        render(
            &format!("{{{{#each {template}}}}}{{{{id}}}};{{{{/each}}}}"),
            data,
        )
        .unwrap()
    }

    #[test]
    fn in_period_overlaps_whole_days_and_keeps_undated_items() {
        let rows = json!([
            {"id": "a", "date": "2020-03-01T09:00:00+00:00"},
            {"id": "b", "date": "2019-12-31"},
            {"id": "c"},
            {"id": "d", "date": "2020"},
            {"id": "e", "date": "2018-01-01", "until": "ongoing"},
            {"id": "f", "date": "2018-01-01", "until": "2019-06"},
            {"id": "g", "date": "not a date"}
        ]);
        let data = json!({"rows": rows});
        assert_eq!(
            ids(
                r#"(in_period rows "date" "until" "2020-01-01" "2020-03-01")"#,
                data.clone()
            ),
            "a;c;d;e;"
        );
        assert_eq!(
            ids(
                r#"(in_period rows "date" "until" null "2019-12-31")"#,
                data.clone()
            ),
            "b;c;e;f;"
        );
        assert_eq!(
            ids(
                r#"(in_period rows "date" "until" "2019-06-30" "")"#,
                data.clone()
            ),
            "a;b;c;d;e;f;"
        );
        assert!(render(
            r#"{{len (in_period rows "date" "until" "soon" null)}}"#,
            data
        )
        .is_err());
    }

    #[test]
    fn newest_sorts_latest_first_and_takes_n() {
        let data = json!({"rows": [
            {"id": "a", "date": "2019-01-01"},
            {"id": "b"},
            {"id": "c", "date": "2021-05-01"},
            {"id": "d", "date": "2020-02-02"}
        ]});
        assert_eq!(ids(r#"(newest rows "date" 2)"#, data.clone()), "c;d;");
        assert_eq!(ids(r#"(newest rows "date" "3")"#, data.clone()), "c;d;a;");
        assert_eq!(ids(r#"(newest rows "date" null)"#, data), "c;d;a;b;");
    }

    #[test]
    fn list_combinators() {
        let data = json!({
            "a": [{"id": "1", "kind": "x", "group": "g1"}, {"id": "2", "kind": "issue", "group": "g2"}],
            "b": [{"id": "1", "kind": "y"}, {"id": "3", "group": "g1"}, {"id": "4"}],
            "on": true
        });
        assert_eq!(ids("(append a b)", data.clone()), "1;2;1;3;4;");
        assert_eq!(ids("(union a b)", data.clone()), "1;2;3;4;");
        assert_eq!(ids(r#"(where_not a "kind" "issue")"#, data.clone()), "1;");
        assert_eq!(ids(r#"(where_given a "kind" null)"#, data.clone()), "1;2;");
        assert_eq!(ids(r#"(where_given a "kind" "x")"#, data.clone()), "1;");
        assert_eq!(
            ids(
                r#"(where_in (append a b) "id" (pluck b "id"))"#,
                data.clone()
            ),
            "1;1;3;4;"
        );
        assert_eq!(ids(r#"(sharing b a "group")"#, data.clone()), "3;");
        assert_eq!(ids("(when on a)", data.clone()), "1;2;");
        assert_eq!(ids("(when off a)", data.clone()), "");
        assert_eq!(
            render(
                r#"{{#each (tag a "in" "z")}}{{in}}{{/each}} {{has (pluck a "kind") "issue"}} {{when off 1 2}}"#,
                data
            )
            .unwrap(),
            "zz true 2"
        );
    }

    #[test]
    fn references_and_reachable_follow_resources() {
        let data = json!({
            "pool": [
                {"id": "s", "resource": {"resourceType": "MedicationStatement", "id": "s", "basedOn": [{"reference": "MedicationRequest/p"}], "subject": {"reference": "Patient/2"}}},
                {"id": "p", "resource": {"resourceType": "MedicationRequest", "id": "p", "medicationReference": {"reference": "Medication/m"}, "recorder": {"reference": "Practitioner/1"}}},
                {"id": "m", "resource": {"resourceType": "Medication", "id": "m"}},
                {"id": "x", "resource": {"resourceType": "Medication", "id": "x"}}
            ]
        });
        assert_eq!(
            ids(
                r#"(reachable pool (where pool "id" "s") "resource")"#,
                data.clone()
            ),
            "s;p;m;"
        );
        assert_eq!(
            render(
                r#"{{#each (references pool "resource")}}{{this}},{{/each}}|{{#each (ref_ids (references pool "resource") "Practitioner")}}{{this}}{{/each}}"#,
                data
            )
            .unwrap(),
            "Medication/m,MedicationRequest/p,Patient/2,Practitioner/1,|1"
        );
    }

    #[test]
    fn unknown_params_names_parameters_and_parts() {
        let data = json!({
            "body": {"resourceType": "Parameters", "parameter": [
                {"name": "patientNHSNumber"},
                {"name": "includeAllergies", "part": [{"name": "includeResolvedAllergies"}, {"name": "odd"}]},
                {"name": "includeX", "part": [{"name": "y"}]}
            ]},
            "known": ["patientNHSNumber", "includeAllergies", "includeAllergies.includeResolvedAllergies"]
        });
        assert_eq!(
            render(
                "{{#each (unknown_params body known)}}{{this}};{{/each}}",
                data
            )
            .unwrap(),
            "includeAllergies.odd;includeX;"
        );
    }
}

//! The FHIR XML side of `check`: each JSON answer written as XML and read
//! back must be the same tree (numbers as written, keys in order).

use crate::fhir::Era;
use crate::fhir_xml::{to_xml, xml_to_json, Json};

/// The answer's FHIR XML, if it reads back as the same JSON (numbers as
/// written, keys in order); else where and how it differs.
pub(super) fn xml_round_trip(tree: &Json, era: Era) -> Result<String, (Option<String>, String)> {
    let xml = to_xml::tree_to_xml(tree).map_err(|e| (None, format!("the answer {e}")))?;
    let back = xml_to_json(&xml, era).map_err(|e| {
        (
            None,
            format!("the answer's FHIR XML does not read back: {e}"),
        )
    })?;
    match first_difference(tree, &back, String::new()) {
        None => Ok(xml),
        Some((pointer, detail)) => Err((
            Some(pointer),
            format!("the answer's FHIR XML reads back as different JSON ({detail}): the element is missing from the FHIR XML shape table"),
        )),
    }
}

/// The tree without empty arrays (which FHIR XML cannot say), and where they were.
pub(super) fn without_empty_arrays(tree: Json, at: String) -> (Json, Vec<String>) {
    let mut found = Vec::new();
    let tree = match tree {
        Json::Object(members) => Json::Object(
            members
                .into_iter()
                .filter_map(|(key, value)| {
                    let pointer = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                    if value == Json::Array(Vec::new()) {
                        found.push(pointer);
                        return None;
                    }
                    let (value, mut inner) = without_empty_arrays(value, pointer);
                    found.append(&mut inner);
                    Some((key, value))
                })
                .collect(),
        ),
        Json::Array(items) => Json::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    let (item, mut inner) = without_empty_arrays(item, format!("{at}/{index}"));
                    found.append(&mut inner);
                    item
                })
                .collect(),
        ),
        other => other,
    };
    (tree, found)
}

/// Where two trees first differ: a JSON pointer and what differs there.
fn first_difference(a: &Json, b: &Json, at: String) -> Option<(String, String)> {
    match (a, b) {
        _ if a == b => None,
        (Json::Object(x), Json::Object(y)) => {
            for (index, (key, value)) in x.iter().enumerate() {
                let pointer = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                match y.get(index) {
                    Some((other, theirs)) if other == key => {
                        if let Some(found) = first_difference(value, theirs, pointer) {
                            return Some(found);
                        }
                    }
                    Some((other, _)) => {
                        return Some((pointer, format!("`{key}` reads back as `{other}`")))
                    }
                    None => return Some((pointer, format!("`{key}` is lost"))),
                }
            }
            Some((at, "extra members".into()))
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(index, (p, q))| first_difference(p, q, format!("{at}/{index}"))),
        (Json::Array(_), _) => Some((at, "an array reads back as a single value".into())),
        (_, Json::Array(_)) => Some((at, "a single value reads back as an array".into())),
        _ => Some((at, format!("{} reads back as {}", a.to_text(), b.to_text()))),
    }
}

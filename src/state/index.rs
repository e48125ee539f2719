//! Lookups of a collection's documents by the value at a JSONPath, for the
//! `state_list` and `state_count` helpers.
//!
//! A state version is immutable once shared (writers clone it, change the
//! clone and swap it in), so an index built from it stays true for its
//! whole life. Each (collection, path) is indexed on its first lookup and
//! kept with the version; a clone starts with none.
//!
//! It pays on reads that find one document among many: the 1.x pack's
//! `GET /Patient/2` finds the patient by `logicalId` among 179 on every
//! request, in its scenario's condition and in its template; scanning
//! them (with the path compiled per call) was about 30 % of the request's
//! time under `benches/load.sh` (`stu3read`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use serde_json_path::JsonPath;

/// The text a value is compared by: strings as they are, null as empty,
/// anything else as JSON. Two scalars are loosely equal when their texts
/// are (`"2"` and `2`).
pub fn loose_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Whether `a` loosely equals `b`: equal, or scalars with the same text.
/// `eq "2" 2` holds: templates compare what they see, and query and path
/// values are always strings.
pub fn loosely_equal(a: &Value, b: &Value) -> bool {
    a == b || (!a.is_object() && !a.is_array() && loose_text(a) == loose_text(b))
}

/// One collection's documents by the scalar values at one path: text →
/// positions in the collection, in its order.
type ByValue = HashMap<String, Vec<usize>, foldhash::fast::RandomState>;

/// The indexes built from one state version, by collection and path: a
/// list, as a pack reads only a few, looked up without building a key.
#[derive(Default)]
pub struct FieldIndexes(Mutex<Vec<(String, String, Arc<ByValue>)>>);

impl FieldIndexes {
    /// The documents of `documents` (the collection `collection`) with a
    /// value at `path` loosely equal to `wanted`, in the collection's order.
    pub fn find<'a>(
        &self,
        collection: &str,
        documents: &'a super::Documents,
        path: &str,
        wanted: &Value,
    ) -> Result<Vec<&'a Value>, String> {
        if wanted.is_object() || wanted.is_array() {
            // Compared as wholes: rare, not indexed.
            let compiled = compile(path)?;
            return Ok(documents
                .values()
                .filter(|doc| compiled.query(doc).all().into_iter().any(|v| v == wanted))
                .collect());
        }
        let cached = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(c, p, _)| c == collection && p == path)
            .map(|(_, _, index)| index.clone());
        let index = match cached {
            Some(index) => index,
            None => {
                // Built outside the lock: two first lookups may both build
                // it, and both are right.
                let index = Arc::new(build(documents, &compile(path)?));
                let mut indexes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                if !indexes.iter().any(|(c, p, _)| c == collection && p == path) {
                    indexes.push((collection.to_string(), path.to_string(), index.clone()));
                }
                index
            }
        };
        Ok(index
            .get(&loose_text(wanted))
            .into_iter()
            .flatten()
            .filter_map(|&position| documents.get_index(position).map(|(_, doc)| doc))
            .collect())
    }
}

fn compile(path: &str) -> Result<JsonPath, String> {
    JsonPath::parse(path).map_err(|error| format!("{path:?} is not a JSONPath: {error}"))
}

fn build(documents: &super::Documents, path: &JsonPath) -> ByValue {
    let mut index = ByValue::default();
    for (position, document) in documents.values().enumerate() {
        for value in path.query(document).all() {
            // An object or array never loosely equals a scalar.
            if value.is_object() || value.is_array() {
                continue;
            }
            let positions = index.entry(loose_text(value)).or_default();
            if positions.last() != Some(&position) {
                positions.push(position);
            }
        }
    }
    index
}

/// A clone is a new state version to be changed: it starts with no index.
impl Clone for FieldIndexes {
    fn clone(&self) -> Self {
        FieldIndexes::default()
    }
}

/// Indexes are derived data: two states are equal by their documents.
impl PartialEq for FieldIndexes {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for FieldIndexes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FieldIndexes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patients() -> crate::state::Documents {
        [
            (
                "9690937286",
                json!({"logicalId": "2", "name": [{"family": "SKELLY"}]}),
            ),
            (
                "9690937287",
                json!({"logicalId": 3, "name": [{"family": "A"}, {"family": "B"}]}),
            ),
            ("9690937288", json!({"logicalId": "4", "tags": ["x", "x"]})),
        ]
        .into_iter()
        .map(|(id, doc)| (id.to_string(), doc))
        .collect()
    }

    #[test]
    fn finds_documents_by_loosely_equal_values_as_a_scan_would() {
        let indexes = FieldIndexes::default();
        let docs = patients();
        let found = indexes
            .find("patients", &docs, "$.logicalId", &json!(3))
            .unwrap();
        assert_eq!(found, vec![&docs[1]]);
        let found = indexes
            .find("patients", &docs, "$.logicalId", &json!("3"))
            .unwrap();
        assert_eq!(found, vec![&docs[1]], "\"3\" loosely equals 3");
        let found = indexes
            .find("patients", &docs, "$.name[*].family", &json!("B"))
            .unwrap();
        assert_eq!(found, vec![&docs[1]]);
        let found = indexes
            .find("patients", &docs, "$.tags[*]", &json!("x"))
            .unwrap();
        assert_eq!(found, vec![&docs[2]], "a document is listed once");
        assert!(indexes
            .find("patients", &docs, "$.logicalId", &json!("9"))
            .unwrap()
            .is_empty());
        let found = indexes
            .find("patients", &docs, "$.name", &json!([{"family": "SKELLY"}]))
            .unwrap();
        assert_eq!(
            found,
            vec![&docs[0]],
            "objects and arrays compare as wholes"
        );
    }

    #[test]
    fn a_bad_path_is_an_error_and_a_clone_starts_empty() {
        let indexes = FieldIndexes::default();
        let docs = patients();
        let error = indexes
            .find("patients", &docs, "logicalId[", &json!("2"))
            .unwrap_err();
        assert!(error.contains("not a JSONPath"), "{error}");
        indexes
            .find("patients", &docs, "$.logicalId", &json!("2"))
            .unwrap();
        assert_eq!(indexes.0.lock().unwrap().len(), 1);
        assert!(indexes.clone().0.lock().unwrap().is_empty());
    }
}

//! In-memory state for stateful scenarios: named collections of JSON
//! documents and named scenario states (WireMock-style state machines).
//!
//! State outlives snapshots: a reload keeps it, `POST /__admin/reset` puts
//! it back to the seeds. Readers (templates, admin) take the current
//! immutable [`StateData`] without locking. Writers (a request to an
//! operation with stateful scenarios) hold [`StateStore::writer`] from
//! selection to the last action, so "is the slot free?" and "book it" are
//! one step: of two concurrent bookings of one slot, exactly one succeeds.
//! The writer lock is a std mutex taken only in synchronous code, never
//! across an `.await`. Stored FHIR resources keep their earlier versions
//! (`StateData::version_updated`), for version reads.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::versions;

pub mod index;

/// One collection's documents by id, in insertion order. Hashed with
/// foldhash: a document is found by id on every stateful request.
pub type Documents = IndexMap<String, Value, foldhash::fast::RandomState>;

/// The state a machine is in before any scenario sets it.
pub const INITIAL_STATE: &str = "Started";

/// One immutable version of all state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateData {
    /// collection → id → document, in insertion order.
    pub collections: BTreeMap<String, Documents>,
    /// machine name → current state (absent means [`INITIAL_STATE`]).
    pub machines: BTreeMap<String, String>,
    /// collection → id → the earlier versions of a stored FHIR resource,
    /// oldest first, at most [`KEPT_VERSIONS`] (kept by the state
    /// actions, read by version reads and `If-Match`; see `versions`).
    pub history: BTreeMap<String, BTreeMap<String, Vec<Value>>>,
    /// Lookups by field value built from this version (see [`index`]).
    indexes: index::FieldIndexes,
}

impl StateData {
    pub fn get(&self, collection: &str, id: &str) -> Option<&Value> {
        self.collections.get(collection)?.get(id)
    }

    /// The documents of `collection` with a value at the JSONPath `path`
    /// loosely equal to `wanted` (`"2"` equals `2`), in the collection's
    /// order; an error names a path that is not a JSONPath.
    pub fn find(
        &self,
        collection: &str,
        path: &str,
        wanted: &Value,
    ) -> Result<Vec<&Value>, String> {
        match self.collections.get(collection) {
            Some(documents) => self.indexes.find(collection, documents, path, wanted),
            None => Ok(Vec::new()),
        }
    }

    pub fn machine_state(&self, machine: &str) -> &str {
        self.machines
            .get(machine)
            .map(String::as_str)
            .unwrap_or(INITIAL_STATE)
    }
}

/// How many earlier versions of a stored resource are kept for version reads.
pub const KEPT_VERSIONS: usize = 16;

/// Versions of stored FHIR resources: documents whose `resourceType` is a
/// versioned one ([`versions::is_versioned`]). The state actions call these
/// (`scenario::stateful`); version reads and `If-Match` read them
/// (`versions`). Other documents are not versioned.
impl StateData {
    /// The stored resource `<kind>/<id>`: its collection and current
    /// document. Any collection may hold it; its `resourceType` must match.
    pub fn stored_resource(&self, kind: &str, id: &str) -> Option<(&str, &Value)> {
        self.collections.iter().find_map(|(collection, documents)| {
            let document = documents.get(id)?;
            (versioned_type(document) == Some(kind)).then_some((collection.as_str(), document))
        })
    }

    /// The kept earlier versions of a document, oldest first.
    pub fn kept_versions(&self, collection: &str, id: &str) -> &[Value] {
        let kept = self.history.get(collection).and_then(|ids| ids.get(id));
        kept.map_or(&[], Vec::as_slice)
    }

    fn document_mut(&mut self, collection: &str, id: &str) -> Option<&mut Map<String, Value>> {
        self.collections
            .get_mut(collection)?
            .get_mut(id)?
            .as_object_mut()
    }

    /// After a `store`: a new resource starts at version 1 unless it
    /// carries one; the history of an earlier document of that id is dropped.
    pub fn version_stored(&mut self, collection: &str, id: &str) {
        self.forget_versions(collection, id);
        let Some(document) = self.document_mut(collection, id) else {
            return;
        };
        let kind = document.get("resourceType").and_then(Value::as_str);
        let version = document.get("meta").and_then(|meta| meta.get("versionId"));
        if kind.is_some_and(versions::is_versioned) && version.is_none_or(Value::is_null) {
            versions::set_version(document, "1");
        }
    }

    /// After an `update`: the document's version is the one of `previous`
    /// (the document before the update) plus one, whatever the update
    /// copied (a version that is not a whole number counts as 1), and
    /// `previous` is kept, the last [`KEPT_VERSIONS`].
    pub fn version_updated(&mut self, collection: &str, id: &str, previous: Value) {
        if versioned_type(&previous).is_none() {
            return;
        }
        let bumped = version_of(&previous)
            .parse::<u64>()
            .unwrap_or(1)
            .saturating_add(1);
        let Some(document) = self.document_mut(collection, id) else {
            return;
        };
        versions::set_version(document, &bumped.to_string());
        let kept = self.history.entry(collection.to_string()).or_default();
        let kept = kept.entry(id.to_string()).or_default();
        kept.push(previous);
        if kept.len() > KEPT_VERSIONS {
            let excess = kept.len() - KEPT_VERSIONS;
            kept.drain(..excess);
        }
    }

    /// After a `remove` (and before a `store`): the kept versions go.
    pub fn forget_versions(&mut self, collection: &str, id: &str) {
        if let Some(documents) = self.history.get_mut(collection) {
            documents.remove(id);
            if documents.is_empty() {
                self.history.remove(collection);
            }
        }
    }
}

/// The `resourceType` of a stored document that is a versioned resource.
fn versioned_type(document: &Value) -> Option<&str> {
    let kind = document.get("resourceType").and_then(Value::as_str);
    kind.filter(|kind| versions::is_versioned(kind))
}

/// The version of a stored document (`"1"` when it has none).
pub fn version_of(document: &Value) -> String {
    match document.pointer("/meta/versionId") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => "1".to_string(),
        Some(other) => other.to_string(),
    }
}

/// Documents a scenario pack seeds a collection with.
#[derive(Debug, Clone, PartialEq)]
pub struct Seed {
    pub collection: String,
    pub documents: Documents,
    /// The seed file, for messages.
    pub file: String,
    /// How documents of another collection occupy this one's (a seed
    /// file's `occupancy`): what [`check_integrity`] checks.
    pub occupancy: Option<Occupancy>,
}

/// A declared relation between two collections, e.g. appointments occupy
/// slots: each document of the seeded collection (a slot) is occupied by
/// at most one active document of `by` (a booked appointment) whose
/// `reference` names it, and its `field` is `busy` exactly when it is.
///
/// ```yaml
/// occupancy:
///   by: appointments                 # the occupying collection
///   reference: "$.slot[*].reference" # where an occupier names what it occupies
///   inactive: { status: cancelled }  # occupiers with any of these top-level values do not count
///   field: freeBusyType              # the occupied document's top-level status field …
///   busy: busy                       # … and its value while occupied
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Occupancy {
    pub by: String,
    pub reference: String,
    #[serde(default)]
    pub inactive: IndexMap<String, String>,
    pub field: String,
    pub busy: String,
}

/// What [`check_integrity`] found wrong, one message per document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state integrity: {}", .0.join("; "))]
pub struct IntegrityError(pub Vec<String>);

/// Checks every declared [`Occupancy`] of `seeds` on `data`: no document
/// occupied by two active documents, and the status field busy exactly
/// when occupied. Run after every state action in debug builds (an error
/// is logged) and by the tests.
pub fn check_integrity(data: &StateData, seeds: &[Seed]) -> Result<(), IntegrityError> {
    let mut problems = Vec::new();
    for seed in seeds {
        let Some(occupancy) = &seed.occupancy else {
            continue;
        };
        let Some(occupied) = data.collections.get(&seed.collection) else {
            continue;
        };
        let path = match serde_json_path::JsonPath::parse(&occupancy.reference) {
            Ok(path) => path,
            Err(error) => {
                problems.push(format!(
                    "{}: occupancy reference {:?} is not a JSONPath: {error}",
                    seed.file, occupancy.reference
                ));
                continue;
            }
        };
        let mut occupiers: std::collections::HashMap<&str, Vec<&str>> = Default::default();
        for (occupier_id, occupier) in data.collections.get(&occupancy.by).into_iter().flatten() {
            let inactive = occupancy
                .inactive
                .iter()
                .any(|(field, value)| occupier.get(field).and_then(Value::as_str) == Some(value));
            if inactive {
                continue;
            }
            for reference in path
                .query(occupier)
                .all()
                .into_iter()
                .filter_map(Value::as_str)
            {
                occupiers
                    .entry(reference_id(reference))
                    .or_default()
                    .push(occupier_id);
            }
        }
        for (id, document) in occupied {
            let by = occupiers.get(id.as_str()).map_or(&[][..], Vec::as_slice);
            let busy = document.get(&occupancy.field).and_then(Value::as_str)
                == Some(occupancy.busy.as_str());
            let name = format!("{}/{id}", seed.collection);
            if by.len() > 1 {
                problems.push(format!(
                    "{name} is held by {} {}: {}",
                    by.len(),
                    occupancy.by,
                    by.join(", ")
                ));
            }
            match (busy, by.is_empty()) {
                (true, true) => problems.push(format!(
                    "{name} is {} but no active document of {} names it",
                    occupancy.busy, occupancy.by
                )),
                (false, false) => problems.push(format!(
                    "{name} is not {} but {} {} names it",
                    occupancy.busy,
                    occupancy.by,
                    by.join(", ")
                )),
                _ => {}
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(IntegrityError(problems))
    }
}

/// The shared, mutable-by-swapping state of a server.
#[derive(Default)]
pub struct StateStore {
    data: ArcSwap<StateData>,
    /// Serialises writers; see the module documentation.
    writer: Mutex<()>,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("data", &self.data.load())
            .finish()
    }
}

impl StateStore {
    pub fn new() -> Arc<StateStore> {
        Arc::new(StateStore::default())
    }

    /// The current state, without locking.
    pub fn read(&self) -> Arc<StateData> {
        self.data.load_full()
    }

    /// Takes the writer lock. A poisoned lock only means a panic elsewhere;
    /// the data is replaced whole, so it is never half-written.
    pub fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces the state; call with the writer lock held.
    pub fn replace(&self, data: StateData) {
        self.data.store(Arc::new(data));
    }

    /// Seeds the collections that do not exist yet. A reload never
    /// overwrites what requests changed; seeds that changed apply on reset.
    pub fn seed_missing(&self, seeds: &[Seed]) {
        let _writer = self.lock_writer();
        let current = self.read();
        if seeds
            .iter()
            .all(|seed| current.collections.contains_key(&seed.collection))
        {
            return;
        }
        let mut next = (*current).clone();
        for seed in seeds {
            next.collections
                .entry(seed.collection.clone())
                .or_insert_with(|| seed.documents.clone());
        }
        self.replace(next);
    }

    /// Back to the seeds: every collection re-seeded, every machine at its
    /// initial state.
    pub fn reset(&self, seeds: &[Seed]) {
        let _writer = self.lock_writer();
        let mut next = StateData::default();
        for seed in seeds {
            next.collections
                .insert(seed.collection.clone(), seed.documents.clone());
        }
        self.replace(next);
    }
}

/// The booking state of each mounted API, by API name: two APIs may name
/// the same collection (`slots`, `appointments`) without sharing it, as two
/// practices' systems would not. The APIs are fixed when the server starts
/// (the mount file is read once), so the map never changes; each store
/// changes as [`StateStore`] does.
#[derive(Debug, Default)]
pub struct Stores {
    by_api: BTreeMap<String, StateStore>,
    /// Answers for a name that is not mounted: empty, never seeded.
    unmounted: StateStore,
}

impl Stores {
    /// An empty store for each API named.
    pub fn new<I: IntoIterator<Item = String>>(apis: I) -> Stores {
        Stores {
            by_api: apis
                .into_iter()
                .map(|name| (name, StateStore::default()))
                .collect(),
            unmounted: StateStore::default(),
        }
    }

    /// The store of the API `name`.
    pub fn of(&self, name: &str) -> &StateStore {
        self.by_api.get(name).unwrap_or(&self.unmounted)
    }

    /// Every API's store, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StateStore)> {
        self.by_api
            .iter()
            .map(|(name, store)| (name.as_str(), store))
    }
}

/// `Slot/3`, `Slot/3/_history/2`, `https://x/fhir/Slot/3` → `3`.
pub fn reference_id(reference: &str) -> &str {
    let trimmed = match reference.find("/_history/") {
        Some(index) => &reference[..index],
        None => reference,
    };
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed(collection: &str, id: &str, doc: Value) -> Seed {
        let mut documents = Documents::default();
        documents.insert(id.to_string(), doc);
        Seed {
            collection: collection.into(),
            documents,
            file: "seed.yaml".into(),
            occupancy: None,
        }
    }

    #[test]
    fn integrity_follows_the_declared_occupancy() {
        let mut slots = seed("slots", "1", json!({"id": "1", "freeBusyType": "busy"}));
        slots
            .documents
            .insert("2".into(), json!({"id": "2", "freeBusyType": "free"}));
        slots.occupancy = Some(Occupancy {
            by: "appointments".into(),
            reference: "$.slot[*].reference".into(),
            inactive: IndexMap::from([("status".to_string(), "cancelled".to_string())]),
            field: "freeBusyType".into(),
            busy: "busy".into(),
        });
        let appointments = seed(
            "appointments",
            "a",
            json!({"status": "booked", "slot": [{"reference": "Slot/1"}]}),
        );
        let seeds = [slots, appointments];
        let store = StateStore::new();
        store.reset(&seeds);
        assert_eq!(check_integrity(&store.read(), &seeds), Ok(()));

        let mut data = (*store.read()).clone();
        let booked = json!({"status": "booked", "slot": [{"reference": "Slot/1"}]});
        data.collections
            .get_mut("appointments")
            .unwrap()
            .insert("b".into(), booked);
        let error = check_integrity(&data, &seeds).unwrap_err();
        assert!(
            error.0[0].contains("slots/1 is held by 2 appointments: a, b"),
            "{error}"
        );

        let mut data = (*store.read()).clone();
        let cancelled = json!({"status": "cancelled", "slot": [{"reference": "Slot/1"}]});
        data.collections
            .get_mut("appointments")
            .unwrap()
            .insert("a".into(), cancelled);
        let error = check_integrity(&data, &seeds).unwrap_err();
        assert!(
            error.0[0].contains("slots/1 is busy but no active"),
            "{error}"
        );

        let mut data = (*store.read()).clone();
        let on_free = json!({"status": "booked", "slot": [{"reference": "Slot/2"}]});
        data.collections
            .get_mut("appointments")
            .unwrap()
            .insert("c".into(), on_free);
        let error = check_integrity(&data, &seeds).unwrap_err();
        assert!(
            error.0[0].contains("slots/2 is not busy but appointments c"),
            "{error}"
        );
    }

    #[test]
    fn seeding_keeps_changes_and_reset_restores() {
        let store = StateStore::new();
        store.seed_missing(&[seed("slots", "1", json!({"free": true}))]);
        {
            let _writer = store.lock_writer();
            let mut next = (*store.read()).clone();
            next.collections
                .get_mut("slots")
                .unwrap()
                .insert("1".into(), json!({"free": false}));
            next.machines.insert("journey".into(), "booked".into());
            store.replace(next);
        }
        store.seed_missing(&[
            seed("slots", "1", json!({"free": true})),
            seed("appointments", "1", json!({})),
        ]);
        let data = store.read();
        assert_eq!(
            data.get("slots", "1"),
            Some(&json!({"free": false})),
            "a reload keeps changes"
        );
        assert!(
            data.get("appointments", "1").is_some(),
            "new collections are seeded"
        );
        store.reset(&[seed("slots", "1", json!({"free": true}))]);
        assert_eq!(store.read().get("slots", "1"), Some(&json!({"free": true})));
        assert_eq!(store.read().machine_state("journey"), INITIAL_STATE);
    }

    #[test]
    fn reference_ids() {
        assert_eq!(reference_id("Slot/3"), "3");
        assert_eq!(reference_id("Appointment/9/_history/2"), "9");
        assert_eq!(reference_id("7"), "7");
    }

    fn versioned_state(document: Value) -> StateData {
        let mut state = StateData::default();
        let documents: Documents = [("7".to_string(), document)].into_iter().collect();
        state.collections.insert("appointments".into(), documents);
        state
    }

    #[test]
    fn updates_bump_and_keep_history_bounded() {
        let mut state =
            versioned_state(json!({"resourceType": "Appointment", "id": "7", "status": "booked"}));
        state.version_stored("appointments", "7");
        assert_eq!(
            state.get("appointments", "7").unwrap()["meta"]["versionId"],
            "1"
        );
        for _ in 0..20 {
            let previous = state.get("appointments", "7").unwrap().clone();
            state.version_updated("appointments", "7", previous);
        }
        assert_eq!(
            state.get("appointments", "7").unwrap()["meta"]["versionId"],
            "21"
        );
        let kept = &state.history["appointments"]["7"];
        assert_eq!(kept.len(), KEPT_VERSIONS);
        assert_eq!(kept[0]["meta"]["versionId"], "5", "the oldest are dropped");
        assert_eq!(kept[KEPT_VERSIONS - 1]["meta"]["versionId"], "20");
        state.forget_versions("appointments", "7");
        assert!(state.history.is_empty());
        let mut plain = versioned_state(json!({"free": true}));
        plain.version_updated("appointments", "7", json!({"free": true}));
        assert_eq!(plain.get("appointments", "7"), Some(&json!({"free": true})));
    }
}

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
//! across an `.await`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use indexmap::IndexMap;
use serde_json::Value;

/// The state a machine is in before any scenario sets it.
pub const INITIAL_STATE: &str = "Started";

/// One immutable version of all state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateData {
    /// collection → id → document, in insertion order.
    pub collections: BTreeMap<String, IndexMap<String, Value>>,
    /// machine name → current state (absent means [`INITIAL_STATE`]).
    pub machines: BTreeMap<String, String>,
}

impl StateData {
    pub fn get(&self, collection: &str, id: &str) -> Option<&Value> {
        self.collections.get(collection)?.get(id)
    }

    pub fn machine_state(&self, machine: &str) -> &str {
        self.machines
            .get(machine)
            .map(String::as_str)
            .unwrap_or(INITIAL_STATE)
    }
}

/// Documents a scenario pack seeds a collection with.
#[derive(Debug, Clone, PartialEq)]
pub struct Seed {
    pub collection: String,
    pub documents: IndexMap<String, Value>,
    /// The seed file, for messages.
    pub file: String,
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
        let mut documents = IndexMap::new();
        documents.insert(id.to_string(), doc);
        Seed {
            collection: collection.into(),
            documents,
            file: "seed.yaml".into(),
        }
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
}

//! The application: everything a running server owns, each piece
//! with one owner. Requests, the admin API, the reloader and the Postman
//! endpoints all reach it through [`App`].
//!
//! - the snapshot in force ([`Shared::snapshot`]), swapped whole by `reload`;
//! - the booking state ([`Shared::store`]), which outlives snapshots;
//! - per-generation hit counters ([`Hits`]), swapped with the snapshot;
//! - the request journal, request ids, and the reload status.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::error::LoadError;
use crate::journal::Journal;
use crate::pipeline::Served;
use crate::request::RequestIds;
use crate::snapshot::{Settings, Snapshot, Sources};
use crate::state::Stores;

/// How often each scenario of one snapshot answered, for
/// `/__admin/scenarios`: by API, operation and scenario, in the snapshot's
/// order. A new table comes with each new snapshot.
#[derive(Debug, Default)]
pub struct Hits {
    generation: u64,
    counts: Vec<Vec<Vec<AtomicU64>>>,
}

impl Hits {
    /// A table of zeros shaped like `snapshot`.
    pub fn for_snapshot(snapshot: &Snapshot) -> Hits {
        Hits {
            generation: snapshot.generation,
            counts: snapshot
                .apis
                .iter()
                .map(|api| {
                    (0..api.model.operations.len())
                        .map(|index| {
                            api.scenarios
                                .for_operation(index)
                                .iter()
                                .map(|_| AtomicU64::new(0))
                                .collect()
                        })
                        .collect()
                })
                .collect(),
        }
    }

    /// Counts the scenario that answered, if any. A request that raced a
    /// reload and was answered by the previous generation is not counted.
    pub fn count(&self, snapshot: &Snapshot, served: &Served<'_>) {
        if snapshot.generation != self.generation {
            return;
        }
        let (Some(operation), Some(scenario)) = (served.operation, served.scenario) else {
            return;
        };
        let Some(api) = snapshot
            .apis
            .iter()
            .position(|api| std::ptr::eq(&**api, served.api))
        else {
            return;
        };
        let position = served
            .api
            .scenarios
            .for_operation(operation)
            .iter()
            .position(|s| std::ptr::eq(s, scenario));
        if let Some(counter) = position.and_then(|p| self.counts.get(api)?.get(operation)?.get(p)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The count of scenario `position` of `operation` of API `api`.
    pub fn get(&self, api: usize, operation: usize, position: usize) -> u64 {
        self.counts
            .get(api)
            .and_then(|operations| operations.get(operation))
            .and_then(|scenarios| scenarios.get(position))
            .map_or(0, |counter| counter.load(Ordering::Relaxed))
    }
}

/// The outcome of the last reload attempt, for `/__admin/health`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// The first error of the last failed reload; `None` after a success.
    pub last_error: Option<LoadError>,
    /// How many errors the last failed reload found.
    pub error_count: usize,
    /// The APIs whose files did not load on the last reload (each still
    /// serving its last good version); empty when the whole reload failed.
    pub failed: Vec<crate::snapshot::ApiFailure>,
}

/// The running server, shared by every request: cheap to clone.
#[derive(Clone)]
pub struct App {
    pub shared: Arc<Shared>,
}

pub struct Shared {
    /// The snapshot in force. Requests `load_full` it once and keep that
    /// `Arc` to the end, so a reload never changes a request midway; the
    /// swap itself is a single atomic store.
    pub snapshot: ArcSwap<Snapshot>,
    /// The hit counters of the snapshot in force.
    pub hits: ArcSwap<Hits>,
    /// The booking state: seeded from the packs, changed by stateful
    /// scenarios, kept across reloads, put back by `POST /__admin/reset`.
    pub stores: Stores,
    pub ids: RequestIds,
    pub sources: Sources,
    pub settings: Settings,
    /// Serialises reloads (watcher and `/__admin/reload`); never taken by requests.
    pub reload_lock: tokio::sync::Mutex<()>,
    pub reload_status: std::sync::Mutex<ReloadStatus>,
    pub journal: Journal,
    /// The Postman collection, built once per generation.
    pub postman: crate::postman::ExportCache,
}

impl App {
    pub fn new(snapshot: Snapshot, sources: Sources, settings: Settings) -> Self {
        report_shadowed(&snapshot);
        let journal = Journal::new(settings.journal_size);
        let stores = Stores::new(sources.apis.iter().map(|api| api.name.clone()));
        snapshot.seed_stores(&stores);
        Self {
            shared: Arc::new(Shared {
                hits: ArcSwap::from_pointee(Hits::for_snapshot(&snapshot)),
                snapshot: ArcSwap::from_pointee(snapshot),
                stores,
                ids: RequestIds::default(),
                sources,
                settings,
                reload_lock: tokio::sync::Mutex::new(()),
                reload_status: std::sync::Mutex::new(ReloadStatus::default()),
                journal,
                postman: crate::postman::ExportCache::default(),
            }),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    /// Puts `snapshot` in force: its new collections are seeded (existing
    /// state survives reloads), its hit counters start at zero.
    pub fn install(&self, snapshot: Snapshot) {
        report_shadowed(&snapshot);
        snapshot.seed_stores(&self.shared.stores);
        let hits = Hits::for_snapshot(&snapshot);
        self.shared.snapshot.store(Arc::new(snapshot));
        self.shared.hits.store(Arc::new(hits));
    }
}

/// Logs each scenario no request can reach: at startup and on every reload.
fn report_shadowed(snapshot: &Snapshot) {
    for api in &snapshot.apis {
        for shadowed in api.scenarios.shadowed() {
            tracing::warn!("{shadowed}");
        }
    }
}

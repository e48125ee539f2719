//! Hot reload: watch the spec file and the scenario and template directories,
//! rebuild a whole snapshot off the request path, and swap it in atomically.
//!
//! A failed build (a syntax error, a half-written file, a missing template)
//! leaves the last good version serving and records the error for
//! `/__admin/health`: per API — an API whose files do not load keeps its
//! last good version while the others take their edits. The listener is never touched: in-flight requests keep
//! the `Arc<Snapshot>` they started with, new requests get the new one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::app::{App, ReloadStatus};
use crate::error::{LoadError, LoadErrors};
use crate::pack::{is_editor_temp, PackDir};
use crate::snapshot::{Reloaded, Snapshot};

/// An editor's save is a burst of events (write, chmod, rename…); wait this
/// long after the last one before rebuilding.
pub const DEBOUNCE: Duration = Duration::from_millis(40);
/// …but never longer than this after the first, so a steady stream of
/// writes still reloads.
const DEBOUNCE_MAX: Duration = Duration::from_millis(300);

/// Rebuilds the snapshot now. On success the new generation is swapped in
/// and returned; on failure the old one keeps serving.
pub async fn reload_now(app: &App, changed: &[String]) -> Result<u64, LoadErrors> {
    // One reload at a time; requests never take this lock.
    let _serialised = app.shared.reload_lock.lock().await;
    let current = app.snapshot();
    let next_generation = current.generation + 1;
    let sources = app.shared.sources.clone();
    let settings = app.shared.settings.clone();
    let started = Instant::now();
    let previous = Arc::clone(&current);
    let built = tokio::task::spawn_blocking(move || {
        Snapshot::reload(&sources, &settings, next_generation, Some(&previous))
    })
    .await
    .unwrap_or_else(|join_error| {
        Err(LoadErrors(vec![LoadError::new(
            "reload",
            None,
            format!("the reload task failed: {join_error}"),
        )]))
    });
    let changed_text = if changed.is_empty() {
        "forced".to_string()
    } else {
        changed.join(", ")
    };
    match built {
        Ok(Reloaded { snapshot, failed }) if failed.is_empty() => {
            app.install(snapshot);
            set_status(app, ReloadStatus::default());
            tracing::info!(
                "reloaded generation {next_generation} in {:.1} ms (changed: {changed_text})",
                started.elapsed().as_secs_f64() * 1000.0
            );
            Ok(next_generation)
        }
        // Some APIs reloaded; those whose files are broken serve as before.
        Ok(Reloaded { snapshot, failed }) => {
            app.install(snapshot);
            let mut errors = Vec::new();
            for failure in &failed {
                tracing::error!(
                    "reload of API `{}` failed, it still serves its files of generation {}: {} (changed: {changed_text})",
                    failure.api,
                    failure.serving_generation,
                    failure.errors
                );
                errors.extend(failure.errors.0.iter().cloned());
            }
            tracing::info!(
                "reloaded generation {next_generation} in {:.1} ms, but for {} API(s) (changed: {changed_text})",
                started.elapsed().as_secs_f64() * 1000.0,
                failed.len()
            );
            set_status(
                app,
                ReloadStatus {
                    last_error: errors.first().cloned(),
                    error_count: errors.len(),
                    failed,
                },
            );
            Err(LoadErrors(errors))
        }
        Err(errors) => {
            set_status(
                app,
                ReloadStatus {
                    last_error: errors.first().cloned(),
                    error_count: errors.0.len(),
                    failed: Vec::new(),
                },
            );
            tracing::error!(
                "reload failed, still serving generation {}: {errors} (changed: {changed_text})",
                current.generation
            );
            Err(errors)
        }
    }
}

fn set_status(app: &App, status: ReloadStatus) {
    // A poisoned lock only means a panic elsewhere mid-write; the status is
    // plain data, so take it over.
    let mut guard = app
        .shared
        .reload_status
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *guard = status;
}

/// What is watched, as absolute paths.
#[derive(Debug, Clone)]
struct Targets {
    specs: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Targets {
    fn of(app: &App) -> Targets {
        let apis = &app.shared.sources.apis;
        Targets {
            specs: apis
                .iter()
                .filter_map(|api| api.spec.path().map(absolute))
                .collect(),
            dirs: apis
                .iter()
                .flat_map(|api| [&api.scenarios, &api.templates])
                .flatten()
                .filter_map(PackDir::path)
                .map(absolute)
                .collect(),
        }
    }

    /// A change worth a reload: to a watched file, not an editor's temp file.
    fn is_relevant(&self, path: &Path) -> bool {
        let temp = path
            .file_name()
            .is_some_and(|name| is_editor_temp(&name.to_string_lossy()));
        if temp {
            return false;
        }
        self.specs.iter().any(|spec| spec == path)
            || self.dirs.iter().any(|dir| path.starts_with(dir))
    }

    /// (path, mode) pairs to watch. Parents are watched too, so that a spec
    /// replaced by rename, or a directory removed and recreated, is seen.
    fn watches(&self) -> Vec<(PathBuf, RecursiveMode)> {
        let mut out = Vec::new();
        for parent in self.specs.iter().filter_map(|spec| spec.parent()) {
            out.push((parent.to_path_buf(), RecursiveMode::NonRecursive));
        }
        for dir in &self.dirs {
            if let Some(parent) = dir.parent() {
                out.push((parent.to_path_buf(), RecursiveMode::NonRecursive));
            }
            out.push((dir.clone(), RecursiveMode::Recursive));
        }
        out
    }
}

/// How long a changed file must keep its size and modification time before
/// it is read, and how many such waits at most.
const STABLE_FOR: Duration = Duration::from_millis(30);
const STABLE_TRIES: usize = 20;

/// Waits until no changed file changes size or modification time across
/// [`STABLE_FOR`] (at most [`STABLE_TRIES`] times): an editor or a copy
/// still writing would otherwise be caught mid-file, and a valid but
/// incomplete file swapped in as a generation.
async fn wait_until_stable(paths: &BTreeSet<PathBuf>) {
    let look = || -> Vec<Option<(u64, std::time::SystemTime)>> {
        paths
            .iter()
            .map(|path| {
                let metadata = std::fs::metadata(path).ok()?;
                Some((metadata.len(), metadata.modified().ok()?))
            })
            .collect()
    };
    let mut before = look();
    for _ in 0..STABLE_TRIES {
        tokio::time::sleep(STABLE_FOR).await;
        let now = look();
        if now == before {
            return;
        }
        before = now;
    }
    tracing::warn!(
        "files still changing after {} ms; reloading anyway",
        STABLE_FOR.as_millis() * STABLE_TRIES as u128
    );
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Starts watching and reloading in a background task, which owns the watcher.
pub fn spawn_watcher(app: App) -> notify::Result<()> {
    let targets = Targets::of(&app);
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut watcher: RecommendedWatcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                if !matches!(event.kind, EventKind::Access(_)) {
                    let _ = sender.send(event.paths);
                }
            }
        })?;
    apply_watches(&mut watcher, &targets);
    tokio::spawn(watch_loop(app, watcher, targets, receiver));
    Ok(())
}

fn apply_watches(watcher: &mut RecommendedWatcher, targets: &Targets) {
    for (path, mode) in targets.watches() {
        // Re-adding refreshes a watch whose directory was recreated.
        let _ = watcher.unwatch(&path);
        if path.exists() {
            if let Err(error) = watcher.watch(&path, mode) {
                tracing::warn!("cannot watch {}: {error}", path.display());
            }
        }
    }
}

async fn watch_loop(
    app: App,
    mut watcher: RecommendedWatcher,
    targets: Targets,
    mut receiver: mpsc::UnboundedReceiver<Vec<PathBuf>>,
) {
    let base = std::env::current_dir().unwrap_or_default();
    while let Some(paths) = receiver.recv().await {
        let mut changed: BTreeSet<PathBuf> = paths
            .into_iter()
            .filter(|p| targets.is_relevant(p))
            .collect();
        let first = Instant::now();
        loop {
            let remaining = DEBOUNCE_MAX.saturating_sub(first.elapsed());
            match tokio::time::timeout(DEBOUNCE.min(remaining), receiver.recv()).await {
                Ok(Some(paths)) => {
                    changed.extend(paths.into_iter().filter(|p| targets.is_relevant(p)))
                }
                Ok(None) => return,
                Err(_) => break,
            }
            if remaining.is_zero() {
                break;
            }
        }
        if changed.is_empty() {
            continue;
        }
        let names: Vec<String> = changed
            .iter()
            .map(|p| p.strip_prefix(&base).unwrap_or(p).display().to_string())
            .collect();
        // Watch first: a directory recreated by this change must be watched
        // before the reload reports success, or an edit right after is lost.
        apply_watches(&mut watcher, &targets);
        wait_until_stable(&changed).await;
        let _ = reload_now(&app, &names).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file still being written is not read until it stops changing.
    #[tokio::test]
    async fn waits_for_a_file_being_written() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("growing.yaml");
        std::fs::write(&path, "a").expect("write");
        let writer_path = path.clone();
        let writer = tokio::spawn(async move {
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let mut text = std::fs::read_to_string(&writer_path).unwrap_or_default();
                text.push('a');
                let _ = std::fs::write(&writer_path, text);
            }
        });
        let started = Instant::now();
        wait_until_stable(&BTreeSet::from([path.clone()])).await;
        let _ = writer.await;
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "returned after {:?}, while the file was still growing",
            started.elapsed()
        );
        assert_eq!(
            std::fs::read_to_string(&path).map(|t| t.len()).ok(),
            Some(7)
        );
    }
}

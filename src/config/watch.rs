//! Noticing edits of config.yaml while the daemon runs.
//!
//! The folder is watched, not the file: editors that save by writing a new file and renaming it
//! over the old one (vim, `sed -i`), and Kubernetes' swapped symlinks, replace the file a watch
//! on it would follow. Any event in the folder only says "look again"; whoever receives it
//! compares the file's content, so unrelated files in the folder cost a read of a small file.

use std::path::Path;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;

/// An editor's save makes several events; this gathers them into one.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Keeps the watch alive; dropping it stops watching.
pub type ConfigWatcher = Debouncer<RecommendedWatcher>;

/// Starts watching the folder of the config file at `path`; each batch of events sends one
/// message on `changed`.
pub fn watch(path: &Path, changed: mpsc::Sender<()>) -> notify::Result<ConfigWatcher> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let mut debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| {
        match result {
            // A full channel already holds a pending look, which will see this change too.
            Ok(_) => drop(changed.try_send(())),
            Err(error) => tracing::warn!("watching the config file's folder: {error}"),
        }
    })?;
    debouncer
        .watcher()
        .watch(folder, RecursiveMode::NonRecursive)?;
    Ok(debouncer)
}

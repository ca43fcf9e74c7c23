//! Noticing changes in the seeds folder as they happen, so a new, edited or deleted file shows
//! in the feeds within a couple of seconds instead of at the next scheduled rescan.
//!
//! Events are debounced (an editor saving a file makes several) and only announce "something
//! changed": the folder is then read again as a whole, which is what makes deletions and
//! renames come out right. The scheduled rescan stays as a safety net.

use std::path::Path;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer, new_debouncer_opt};
use tokio::sync::mpsc;

use crate::config::{SeedsSettings, WatchMode};

/// Events closer together than this make one rescan.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// How often the polling watcher compares the folder.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Keeps the watch alive; dropping it stops watching.
pub enum SeedsWatcher {
    Native(Debouncer<notify::RecommendedWatcher>),
    Poll(Debouncer<notify::PollWatcher>),
}

/// Starts watching the seeds folder (and its sub-folders); every batch of changes sends one
/// message on `changed`. `None` when `seeds.watch` is `off`.
pub fn watch(
    settings: &SeedsSettings,
    changed: mpsc::Sender<()>,
) -> notify::Result<Option<SeedsWatcher>> {
    let dir: &Path = &settings.dir;
    // inotify also reports files being opened and read, by our own rescans too: only a change
    // in what a rescan would see is announced. (The polling watcher compares contents itself.)
    let mut last_seen = (settings.watch == WatchMode::Native).then(|| super::fingerprint(dir));
    let watched = dir.to_path_buf();
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            let relevant = events.iter().any(|event| {
                event
                    .path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_none_or(|name| !super::is_ignored(name))
            });
            if let (true, Some(last_seen)) = (relevant, last_seen.as_mut()) {
                let now_seen = super::fingerprint(&watched);
                if now_seen == *last_seen {
                    return;
                }
                *last_seen = now_seen;
            }
            if relevant {
                // A full channel already holds a pending rescan, which will see this change too.
                let _ = changed.try_send(());
            }
        }
        Err(error) => tracing::warn!("watching the seeds folder: {error}"),
    };
    Ok(match settings.watch {
        WatchMode::Off => None,
        WatchMode::Native => {
            let mut debouncer = new_debouncer(DEBOUNCE, handler)?;
            debouncer.watcher().watch(dir, RecursiveMode::Recursive)?;
            Some(SeedsWatcher::Native(debouncer))
        }
        WatchMode::Poll => {
            let config = notify_debouncer_mini::Config::default()
                .with_timeout(DEBOUNCE)
                // Modification times can be too coarse to tell two saves in one second
                // apart; comparing contents cannot miss an edit.
                .with_notify_config(
                    notify::Config::default()
                        .with_poll_interval(POLL_INTERVAL)
                        .with_compare_contents(true),
                );
            let mut debouncer = new_debouncer_opt::<_, notify::PollWatcher>(config, handler)?;
            debouncer.watcher().watch(dir, RecursiveMode::Recursive)?;
            Some(SeedsWatcher::Poll(debouncer))
        }
    })
}

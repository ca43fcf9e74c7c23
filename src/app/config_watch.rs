//! Following edits of the config file: a notification, a periodic comparison, or SIGHUP leads
//! to `App::reload`, once the file has settled.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config;

use super::App;

/// How often the config file is compared even without a notification: inotify does not see
/// writes made through another mount of the file (a file bind-mounted into a container), nor
/// network filesystems.
const CONFIG_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// How long a config file must stay the same before it is read as edited.
const CONFIG_SETTLE: Duration = Duration::from_millis(100);

impl App {
    /// Reloads the config when its file changes (a notification, or the periodic comparison)
    /// and on SIGHUP, until the daemon stops.
    pub(super) fn watch_config(self: &Arc<Self>) -> JoinHandle<()> {
        let app = Arc::clone(self);
        let path = self.config().path.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            let (changed, mut changes) = mpsc::channel(1);
            let _watcher = config::watch::watch(&path, changed)
                .inspect_err(|error| {
                    tracing::warn!(
                        "cannot watch {}: {error}; edits are noticed within {}s or on SIGHUP",
                        path.display(),
                        CONFIG_CHECK_INTERVAL.as_secs()
                    );
                })
                .ok();
            let mut hangups = hangup_signals();
            let mut ticks = tokio::time::interval(CONFIG_CHECK_INTERVAL);
            let mut last_seen = std::fs::read(&path).ok();
            loop {
                let forced = tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => return,
                    _ = changes.recv() => false,
                    _ = ticks.tick() => false,
                    _ = hangups.recv() => true,
                };
                let now_seen = std::fs::read(&path).ok();
                if forced {
                    tracing::info!("SIGHUP: reloading {}", path.display());
                } else if now_seen == last_seen {
                    continue;
                }
                let now_seen = settled_content(&path, now_seen).await;
                if !forced && now_seen.as_ref().is_none_or(Vec::is_empty) {
                    // Missing or empty for the moment of a rename or of a write that truncated
                    // it first (an empty config would remove every source): look again later.
                    continue;
                }
                last_seen = now_seen;
                let _ = app.reload().await;
            }
        })
    }
}

/// The content of `path`, first read as `seen`, once two reads a moment apart agree (or after a
/// few tries): an editor or `echo >` writing it in several steps is not read halfway.
async fn settled_content(path: &Path, mut seen: Option<Vec<u8>>) -> Option<Vec<u8>> {
    for _ in 0..5 {
        tokio::time::sleep(CONFIG_SETTLE).await;
        let again = std::fs::read(path).ok();
        if again == seen {
            break;
        }
        seen = again;
    }
    seen
}

/// SIGHUP, the conventional "read your config again"; never fires where there is none.
fn hangup_signals() -> mpsc::Receiver<()> {
    let (sender, receiver) = mpsc::channel(1);
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    let _ = sender.try_send(());
                }
            });
        }
        Err(error) => tracing::warn!("cannot handle SIGHUP: {error}"),
    }
    #[cfg(not(unix))]
    drop(sender);
    receiver
}

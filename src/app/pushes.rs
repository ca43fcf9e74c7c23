//! Documents the sources' WebSub hubs push, read exactly as a polled document is (parse,
//! dedup, store) and rendered at once, so the feeds change within a second of the push.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tokio::task::JoinHandle;

use crate::pipeline;
use crate::websub::subscriber::Pushed;

use super::App;

impl App {
    /// Reads pushed documents as they come, until the daemon stops.
    pub(super) fn take_pushes(self: &Arc<Self>) -> JoinHandle<()> {
        let app = Arc::clone(self);
        let mut pushed = self
            .pushed
            .lock()
            .expect("no code panics holding it")
            .take()
            .expect("the daemon starts once");
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            loop {
                let document = tokio::select! {
                    document = pushed.recv() => document,
                    _ = stop.wait_for(|stopped| *stopped) => return,
                };
                let Some(document) = document else { return };
                app.read_pushed(document).await;
            }
        })
    }

    async fn read_pushed(&self, document: Pushed) {
        let config = self.config();
        let Some(source) = config.source(&document.source) else {
            return;
        };
        let started = Instant::now();
        let read = pipeline::read_pushed(
            &self.store,
            source,
            document.body.to_vec(),
            document.content_type,
            Utc::now(),
        )
        .await;
        match &read {
            Ok(counts) => {
                tracing::info!(
                    source = source.name,
                    new = counts.new,
                    updated = counts.updated,
                    duplicate = counts.duplicate,
                    ms = started.elapsed().as_millis(),
                    "pushed by its hub"
                );
                self.metrics.ingested(counts.new, counts.duplicate);
                if counts.changed() {
                    self.renderer.source_changed(&source.name);
                    self.renderer.render(&config).await;
                }
            }
            Err(error) => tracing::warn!(
                source = source.name,
                "a document its hub pushed could not be read: {error}"
            ),
        }
    }
}

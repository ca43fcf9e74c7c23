//! `tributary sources`: the configured sources and what the store remembers of each, for
//! checking a config and a store without starting the daemon (it may be running: SQLite lets
//! this read beside it).

use std::collections::HashMap;
use std::fmt::Write;
use std::process::ExitCode;

use crate::config::Config;
use crate::model::SEEDS_SOURCE;
use crate::store::{Policy, SourceRecord, Store, StoreError};

/// Prints the sources of `config` with what the store remembers of each. A listing makes no
/// store: before the first poll there is nothing in one to show.
pub async fn run(config: &Config) -> ExitCode {
    let report = if config.storage_url.is_none() && !config.storage_path.exists() {
        eprintln!(
            "note: no store at {} yet: nothing has been polled",
            config.storage_path.display()
        );
        sources_report(config, None).await
    } else {
        match Store::open_configured(config, Policy::default()).await {
            Ok(store) => {
                let report = sources_report(config, Some(&store)).await;
                store.close().await;
                report
            }
            Err(error) => Err(error),
        }
    };
    super::print_or_fail(report)
}

/// One line per source: name, entries stored, what the next poll will send or skip, URL and
/// tags; the seeds folder last. Without a store (none made yet), nothing was polled.
async fn sources_report(config: &Config, store: Option<&Store>) -> Result<String, StoreError> {
    let counts: HashMap<String, i64> = match store {
        Some(store) => store.entry_counts().await?.into_iter().collect(),
        None => HashMap::new(),
    };
    let stored = |name: &str| counts.get(name).copied().unwrap_or(0);
    let mut rows = vec![[
        "NAME".to_string(),
        "ENTRIES".to_string(),
        "STATE".to_string(),
        "URL".to_string(),
        "TAGS".to_string(),
    ]];
    for source in config.sources() {
        let record = match store {
            Some(store) => {
                store
                    .source_record(&source.name, source.url.as_str())
                    .await?
            }
            None => None,
        };
        let state = match &record {
            None => "never polled".to_string(),
            Some(record) if record.gone => "gone (410): not polled".to_string(),
            Some(SourceRecord {
                failures: failures @ 1..,
                last_error,
                ..
            }) => format!(
                "failing ({failures} in a row): {}",
                last_error.as_deref().unwrap_or("no error recorded")
            ),
            Some(record) => match &record.moved_to {
                Some(moved) => format!("moved to {moved}"),
                None if record.validators.etag.is_some()
                    || record.validators.last_modified.is_some() =>
                {
                    "polled, conditional GET".to_string()
                }
                None => "polled".to_string(),
            },
        };
        rows.push([
            source.name.clone(),
            stored(&source.name).to_string(),
            state,
            source.url.to_string(),
            source.tags.join(","),
        ]);
    }
    if let Some(seeds) = &config.seeds {
        rows.push([
            SEEDS_SOURCE.to_string(),
            stored(SEEDS_SOURCE).to_string(),
            "folder".to_string(),
            seeds.dir.display().to_string(),
            String::new(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    Ok(text)
}

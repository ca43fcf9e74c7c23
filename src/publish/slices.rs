//! Per-source and per-tag feeds, rendered at their first request.
//!
//! A daemon with thousands of sources has thousands of slices, each in three formats; most are
//! never asked for, and rendering them all after every change held hundreds of megabytes and
//! most of a poll cycle's time. A rendering therefore only knows what each slice holds (its
//! members); the documents are made by the first request that wants them, from the store, and
//! kept until one of the slice's sources changes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::OnceCell;

use super::{Feeds, Slice};
use crate::config::Config;
use crate::model::SEEDS_SOURCE;
use crate::select::{self, Picking, Selection};
use crate::store::{Store, StoreError};

/// What one slice holds and how it is titled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceSpec {
    /// Path before `/feed.atom` etc.: `/sources/NAME` or `/tags/TAG`.
    pub prefix: String,
    /// What follows the feed's title in the slice's title.
    pub label: String,
    pub members: Vec<String>,
    /// Whether entry titles carry their sources' `title_prefix` (not in a source's own feed,
    /// where every entry is from that source).
    pub prefix_titles: bool,
}

/// A slice and, once someone asked for it, its documents.
#[derive(Debug)]
pub struct LazyFeeds {
    pub spec: SliceSpec,
    feeds: OnceCell<Arc<Feeds>>,
}

impl LazyFeeds {
    fn new(spec: SliceSpec) -> LazyFeeds {
        LazyFeeds {
            spec,
            feeds: OnceCell::new(),
        }
    }

    /// The slice's documents, rendered from `store` under `config` at the first call; callers
    /// that come meanwhile wait for that render instead of doing it again.
    pub async fn get(&self, store: &Store, config: &Config) -> Result<Arc<Feeds>, StoreError> {
        self.feeds
            .get_or_try_init(|| async {
                let members: Vec<&str> = self.spec.members.iter().map(String::as_str).collect();
                let picking = Picking {
                    sources: &members,
                    limit: config.feed.max_entries,
                    per_source: None,
                    prefix_titles: self.spec.prefix_titles,
                };
                let selection = Selection::new(config, Utc::now());
                let entries = select::pick(store, &selection, &picking).await?;
                let slice = Slice {
                    settings: &config.feed,
                    title: format!("{}: {}", config.feed.title, self.spec.label),
                    prefix: self.spec.prefix.clone(),
                    query: String::new(),
                };
                Ok(Arc::new(Feeds::render(&slice, entries.into())))
            })
            .await
            .cloned()
    }
}

/// The slices of a rendering, by prefix.
pub type Slices = HashMap<String, Arc<LazyFeeds>>;

/// The slices `config` defines: one per source (the seeds folder included) and one per tag.
/// Slices of `current` whose definition is the same and none of whose members are in
/// `changed` keep what they rendered; `changed` of `None` means everything changed.
pub fn plan(config: &Config, current: &Slices, changed: Option<&HashSet<String>>) -> Slices {
    let seeds = config.seeds.as_ref().map(|_| SEEDS_SOURCE);
    let sources = config
        .sources()
        .iter()
        .map(|source| source.name.as_str())
        .chain(seeds)
        .map(|name| SliceSpec {
            prefix: format!("/sources/{name}"),
            label: name.to_string(),
            members: vec![name.to_string()],
            prefix_titles: false,
        });
    let mut tags: Vec<&str> = config
        .sources()
        .iter()
        .flat_map(|source| source.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let tags = tags.into_iter().map(|tag| SliceSpec {
        prefix: format!("/tags/{tag}"),
        label: format!("#{tag}"),
        members: config
            .sources()
            .iter()
            .filter(|source| source.tags.iter().any(|t| t == tag))
            .map(|source| source.name.clone())
            .collect(),
        prefix_titles: true,
    });
    sources
        .chain(tags)
        .map(|spec| {
            let kept = changed.and_then(|changed| {
                current.get(&spec.prefix).filter(|lazy| {
                    lazy.spec == spec && !spec.members.iter().any(|m| changed.contains(m))
                })
            });
            let lazy = kept.map_or_else(|| Arc::new(LazyFeeds::new(spec.clone())), Arc::clone);
            (spec.prefix, lazy)
        })
        .collect()
}

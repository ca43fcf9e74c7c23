//! The decisions of one poll's write: for each entry, whether it is new, an update, a
//! duplicate of a stored story, unchanged or pruned before.
//!
//! Whether a stored entry changed is decided by its revision (everything rendered of it);
//! whether it is a duplicate, by its content hash (its story, title left out).
//!
//! Each statement is a round trip to the database, which cost more than the index lookups and
//! inserts it carried. So a poll's entries are looked up in one query, the decisions are taken
//! here in document order (as if each entry were stored before the next is looked at), and
//! written in a few statements over JSON arrays (`statements`). Where a decision depends on a
//! row this poll is about to change (two entries of one id, or a stored original this poll
//! rewrites), the writes decided so far are made and the rest is looked up again.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::IngestCounts;
use crate::config::DedupSettings;
use crate::dedup;
use crate::model::{Entry, Revision};
use crate::parse::RawHash;

/// The entries of a poll on their way in; `now` is when the first was seen, each later one a
/// millisecond earlier.
pub(super) fn incoming<'a>(
    entries: &'a [Entry],
    raw_hashes: &[Option<RawHash>],
    now: DateTime<Utc>,
) -> Vec<Incoming<'a>> {
    entries
        .iter()
        .zip(raw_hashes)
        .enumerate()
        .map(|(position, (entry, raw_hash))| Incoming {
            entry,
            raw_hash: *raw_hash,
            revision: entry.revision(),
            canonical_link: entry.link.as_deref().and_then(dedup::canonical_link),
            seen: now - TimeDelta::milliseconds(position as i64),
        })
        .collect()
}

/// An entry on its way in.
pub(super) struct Incoming<'a> {
    pub entry: &'a Entry,
    pub raw_hash: Option<RawHash>,
    pub revision: Revision,
    pub canonical_link: Option<String>,
    /// Its first-seen time.
    pub seen: DateTime<Utc>,
}

/// What the store holds that bears on one incoming entry: the content hash, raw hash and
/// revision stored under its id, whether retention pruned its key before, and the first-seen
/// entry that tells the same story (`[id, source]`, JSON).
pub(super) type Found = (
    Option<String>,
    Option<RawHash>,
    Option<Revision>,
    bool,
    Option<String>,
);

/// What `Dialect::find_stored` looks up for `incoming`, as JSON.
pub(super) fn lookups(incoming: &[Incoming<'_>]) -> String {
    #[derive(Serialize)]
    struct Lookup<'a> {
        id: &'a str,
        source: &'a str,
        key: &'a str,
        hash: &'a str,
        link: Option<&'a str>,
    }
    let lookups: Vec<Lookup> = incoming
        .iter()
        .map(|incoming| Lookup {
            id: incoming.entry.id.as_str(),
            source: &incoming.entry.source,
            key: &incoming.entry.key,
            hash: incoming.entry.content_hash.as_str(),
            link: incoming.canonical_link.as_deref(),
        })
        .collect();
    serde_json::to_string(&lookups).expect("lookups serialize")
}

/// The decisions on a run of entries, and the writes they take.
#[derive(Default)]
pub(super) struct Round<'a> {
    /// How many entries, from the first, were decided.
    pub decided: usize,
    pub new: Vec<&'a Incoming<'a>>,
    pub updated: Vec<&'a Incoming<'a>>,
    /// Stored entries with no revision yet (stored before revisions were), written again
    /// keeping their `updated` date: whether they changed is not known.
    pub refreshed: Vec<&'a Incoming<'a>>,
    /// Entries whose story is stored with other bytes: `[id, raw hash]`.
    pub raw_hashes: Vec<(&'a str, RawHash)>,
    /// Sources newly seen carrying a stored story: `[entry id, source]`.
    pub also_in: Vec<(String, &'a str)>,
    duplicate: usize,
    unchanged: usize,
    tombstoned: usize,
}

impl<'a> Round<'a> {
    /// Decides each entry in order, as the store would with every earlier one written, up to
    /// the first whose decision depends on a row this round writes.
    pub(super) fn plan(
        incoming: &'a [Incoming<'a>],
        found: &[Found],
        rules: &DedupSettings,
    ) -> Round<'a> {
        let mut round = Round::default();
        // The entries this round writes, by id, content hash and canonical link.
        let mut written_ids: HashSet<&str> = HashSet::new();
        let mut written_hashes: HashMap<&str, &Entry> = HashMap::new();
        let mut written_links: HashMap<&str, &Entry> = HashMap::new();
        for (incoming, found) in incoming.iter().zip(found) {
            let entry = incoming.entry;
            let (stored_hash, stored_raw_hash, stored_revision, pruned_before, original) = found;
            let original: Option<(String, String)> = original
                .as_deref()
                .map(|pair| serde_json::from_str(pair).expect("json_array of two texts"));
            let depends_on_this_round = written_ids.contains(entry.id.as_str())
                || original
                    .as_ref()
                    .is_some_and(|(id, _)| written_ids.contains(id.as_str()));
            if depends_on_this_round {
                break;
            }
            round.decided += 1;
            if *stored_revision == Some(incoming.revision) {
                // Other bytes, same rendering (other white space, say): next time these bytes
                // are known.
                if let Some(raw_hash) = incoming
                    .raw_hash
                    .filter(|raw| Some(*raw) != *stored_raw_hash)
                {
                    round.raw_hashes.push((entry.id.as_str(), raw_hash));
                }
                round.unchanged += 1;
                continue;
            }
            if stored_hash.is_none() && *pruned_before {
                round.tombstoned += 1;
                continue;
            }
            let same_scope =
                |earlier: &&&Entry| rules.across_sources || earlier.source == entry.source;
            let written_original = || {
                let by_hash = rules
                    .by_content
                    .then(|| written_hashes.get(entry.content_hash.as_str()))
                    .flatten();
                let by_link = rules
                    .by_link
                    .then(|| {
                        incoming
                            .canonical_link
                            .as_deref()
                            .and_then(|link| written_links.get(link))
                    })
                    .flatten();
                by_hash
                    .into_iter()
                    .chain(by_link)
                    .find(same_scope)
                    .map(|earlier| (earlier.id.as_str().to_string(), earlier.source.clone()))
            };
            if let Some((original_id, original_source)) = original.or_else(written_original) {
                // The first-seen copy stays published and records that this source carried
                // it too.
                if original_source != entry.source {
                    round.also_in.push((original_id, &entry.source));
                }
                round.duplicate += 1;
                continue;
            }
            written_ids.insert(entry.id.as_str());
            written_hashes.insert(entry.content_hash.as_str(), entry);
            if let Some(link) = incoming.canonical_link.as_deref() {
                written_links.insert(link, entry);
            }
            match (stored_hash, stored_revision) {
                (None, _) => round.new.push(incoming),
                (Some(_), Some(_)) => round.updated.push(incoming),
                (Some(_), None) => round.refreshed.push(incoming),
            }
        }
        round
    }

    /// Adds what this round decided to `counts`.
    pub(super) fn count_into(&self, counts: &mut IngestCounts) {
        counts.new += self.new.len();
        counts.updated += self.updated.len() + self.refreshed.len();
        counts.duplicate += self.duplicate;
        counts.unchanged += self.unchanged;
        counts.tombstoned += self.tombstoned;
    }
}

/// Rows bound per statement: well under SQLite's limit of 32,766 parameters.
pub(super) const ROWS_PER_STATEMENT: usize = 1_000;

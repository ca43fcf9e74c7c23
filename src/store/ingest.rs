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

/// The entries a round writes, by id, content hash and canonical link: what the later
/// entries of the same round may duplicate.
#[derive(Default)]
struct Written<'a> {
    ids: HashSet<&'a str>,
    hashes: HashMap<&'a str, &'a Entry>,
    links: HashMap<&'a str, &'a Entry>,
}

impl<'a> Written<'a> {
    fn insert(&mut self, incoming: &'a Incoming<'a>) {
        let entry = incoming.entry;
        self.ids.insert(entry.id.as_str());
        self.hashes.insert(entry.content_hash.as_str(), entry);
        if let Some(link) = incoming.canonical_link.as_deref() {
            self.links.insert(link, entry);
        }
    }

    /// The entry written earlier in this round that `incoming` duplicates by `rules`, as
    /// `(id, source)`.
    fn original_of(&self, incoming: &Incoming, rules: &DedupSettings) -> Option<(String, String)> {
        let entry = incoming.entry;
        let by_hash = rules
            .by_content
            .then(|| self.hashes.get(entry.content_hash.as_str()))
            .flatten();
        let by_link = rules
            .by_link
            .then(|| {
                incoming
                    .canonical_link
                    .as_deref()
                    .and_then(|link| self.links.get(link))
            })
            .flatten();
        by_hash
            .into_iter()
            .chain(by_link)
            .find(|earlier| rules.across_sources || earlier.source == entry.source)
            .map(|earlier| (earlier.id.as_str().to_string(), earlier.source.clone()))
    }
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
        let mut written = Written::default();
        for (incoming, found) in incoming.iter().zip(found) {
            let entry = incoming.entry;
            let (stored_hash, stored_raw_hash, stored_revision, pruned_before, original) = found;
            let original: Option<(String, String)> = original
                .as_deref()
                .map(|pair| serde_json::from_str(pair).expect("json_array of two texts"));
            let depends_on_this_round = written.ids.contains(entry.id.as_str())
                || original
                    .as_ref()
                    .is_some_and(|(id, _)| written.ids.contains(id.as_str()));
            if depends_on_this_round {
                break;
            }
            round.decided += 1;
            if *stored_revision == Some(incoming.revision) {
                round.unchanged(incoming, *stored_raw_hash);
                continue;
            }
            if stored_hash.is_none() && *pruned_before {
                round.tombstoned += 1;
                continue;
            }
            if let Some(original) = original.or_else(|| written.original_of(incoming, rules)) {
                round.duplicate_of(original, entry);
                continue;
            }
            written.insert(incoming);
            match (stored_hash, stored_revision) {
                (None, _) => round.new.push(incoming),
                (Some(_), Some(_)) => round.updated.push(incoming),
                (Some(_), None) => round.refreshed.push(incoming),
            }
        }
        round
    }

    /// An entry rendered as stored. Its bytes may differ (other white space, say): then they
    /// are recorded, so that next time they are known.
    fn unchanged(&mut self, incoming: &'a Incoming<'a>, stored_raw_hash: Option<RawHash>) {
        if let Some(raw_hash) = incoming
            .raw_hash
            .filter(|raw| Some(*raw) != stored_raw_hash)
        {
            self.raw_hashes.push((incoming.entry.id.as_str(), raw_hash));
        }
        self.unchanged += 1;
    }

    /// An entry telling the story of `original` (`(id, source)`): the first-seen copy stays
    /// published, and records that this source carried it too.
    fn duplicate_of(&mut self, (original_id, original_source): (String, String), entry: &'a Entry) {
        if original_source != entry.source {
            self.also_in.push((original_id, &entry.source));
        }
        self.duplicate += 1;
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

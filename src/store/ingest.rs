//! The write path of one poll: deciding, for each entry, whether it is new, an update, a
//! duplicate of a stored story, unchanged or pruned before, then writing all of that.
//!
//! Each statement is a round trip to SQLite's worker thread, which cost more than the index
//! lookups and inserts it carried. So a poll's entries are looked up in one query, the
//! decisions are taken here in document order (as if each entry were stored before the next
//! is looked at), and written in a few statements over JSON arrays. Where a decision depends
//! on a row this poll is about to change (two entries of one id, or a stored original this
//! poll rewrites), the writes decided so far are made and the rest is looked up again.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::{QueryBuilder, Sqlite, Transaction};

use super::{IngestCounts, StoreError};
use crate::config::DedupSettings;
use crate::dedup;
use crate::model::Entry;
use crate::parse::RawHash;

/// Stores `entries` (with the hashes of their bytes, where known) in document order; `now` is
/// when the first was seen, each later one a millisecond earlier.
pub(super) async fn write_entries(
    transaction: &mut Transaction<'_, Sqlite>,
    entries: &[Entry],
    raw_hashes: &[Option<RawHash>],
    rules: &DedupSettings,
    now: DateTime<Utc>,
) -> Result<IngestCounts, StoreError> {
    let incoming: Vec<Incoming> = entries
        .iter()
        .zip(raw_hashes)
        .enumerate()
        .map(|(position, (entry, raw_hash))| Incoming {
            entry,
            raw_hash: *raw_hash,
            canonical_link: entry.link.as_deref().and_then(dedup::canonical_link),
            seen: now - TimeDelta::milliseconds(position as i64),
        })
        .collect();
    let mut counts = IngestCounts::default();
    let mut rest = &incoming[..];
    while !rest.is_empty() {
        let found = find_stored(transaction, rest, rules).await?;
        let round = Round::plan(rest, &found, rules);
        round.write(transaction, &mut counts).await?;
        rest = &rest[round.decided..];
    }
    Ok(counts)
}

/// An entry on its way in.
struct Incoming<'a> {
    entry: &'a Entry,
    raw_hash: Option<RawHash>,
    canonical_link: Option<String>,
    /// Its first-seen time.
    seen: DateTime<Utc>,
}

/// What the store holds that bears on one incoming entry: the content hash and raw hash stored
/// under its id, whether retention pruned its key before, and the first-seen entry that tells
/// the same story (`[id, source]`, JSON).
type Found = (Option<String>, Option<RawHash>, bool, Option<String>);

/// Looks up, for each incoming entry (`?1`, JSON), what `Found` holds; `?2`, `?3` and `?4`
/// are the dedup rules `by_content`, `by_link` and `across_sources`.
const FIND_STORED: &str = "WITH incoming AS (
        SELECT key AS position, value->>'id' AS id, value->>'source' AS source,
            value->>'key' AS key, value->>'hash' AS hash, value->>'link' AS link
        FROM json_each(?1))
     SELECT stored.content_hash, stored.raw_hash,
        EXISTS (SELECT 1 FROM tombstones
            WHERE tombstones.source = incoming.source AND tombstones.key = incoming.key),
        (SELECT json_array(original.id, original.source) FROM entries AS original
            WHERE original.id != incoming.id
            -- The index keys of migration 0007, then the whole values.
            AND ((?2 AND substr(original.content_hash, 1, 16) = substr(incoming.hash, 1, 16)
                    AND original.content_hash = incoming.hash)
                OR (?3 AND substr(original.canonical_link, -24) = substr(incoming.link, -24)
                    AND original.canonical_link = incoming.link))
            AND (?4 OR original.source = incoming.source)
            LIMIT 1)
     FROM incoming LEFT JOIN entries AS stored ON stored.id = incoming.id
     ORDER BY incoming.position";

async fn find_stored(
    transaction: &mut Transaction<'_, Sqlite>,
    incoming: &[Incoming<'_>],
    rules: &DedupSettings,
) -> Result<Vec<Found>, StoreError> {
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
    Ok(sqlx::query_as(FIND_STORED)
        .bind(serde_json::to_string(&lookups).expect("lookups serialize"))
        .bind(rules.by_content)
        .bind(rules.by_link)
        .bind(rules.across_sources)
        .fetch_all(&mut **transaction)
        .await?)
}

/// The decisions on a run of entries, and the writes they take.
#[derive(Default)]
struct Round<'a> {
    /// How many entries, from the first, were decided.
    decided: usize,
    new: Vec<&'a Incoming<'a>>,
    updated: Vec<&'a Incoming<'a>>,
    /// Entries whose story is stored with other bytes: `[id, raw hash]`.
    raw_hashes: Vec<(&'a str, RawHash)>,
    /// Sources newly seen carrying a stored story: `[entry id, source]`.
    also_in: Vec<(String, &'a str)>,
    duplicate: usize,
    unchanged: usize,
    tombstoned: usize,
}

impl<'a> Round<'a> {
    /// Decides each entry in order, as the store would with every earlier one written, up to
    /// the first whose decision depends on a row this round writes.
    fn plan(incoming: &'a [Incoming<'a>], found: &[Found], rules: &DedupSettings) -> Round<'a> {
        let mut round = Round::default();
        // The entries this round writes, by id, content hash and canonical link.
        let mut written_ids: HashSet<&str> = HashSet::new();
        let mut written_hashes: HashMap<&str, &Entry> = HashMap::new();
        let mut written_links: HashMap<&str, &Entry> = HashMap::new();
        for (incoming, found) in incoming.iter().zip(found) {
            let entry = incoming.entry;
            let (stored_hash, stored_raw_hash, pruned_before, original) = found;
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
            if stored_hash.as_deref() == Some(entry.content_hash.as_str()) {
                // Other bytes, same story (a new date, say): next time these bytes are known.
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
            if stored_hash.is_some() {
                round.updated.push(incoming);
            } else {
                round.new.push(incoming);
            }
        }
        round
    }

    async fn write(
        &self,
        transaction: &mut Transaction<'_, Sqlite>,
        counts: &mut IngestCounts,
    ) -> Result<(), StoreError> {
        for new in self.new.chunks(ROWS_PER_STATEMENT) {
            with_rows(new)
                .push(
                    " INSERT INTO entries (id, source, key, title, link, canonical_link, authors,
                        published, updated, summary, content, categories, enclosures, image,
                        content_hash, first_seen, raw_hash)
                     SELECT id, source, key, title, link, canonical_link, authors,
                        COALESCE(published, seen), updated, summary, content, categories,
                        enclosures, image, hash, seen, raw_hash
                     FROM incoming",
                )
                .build()
                .execute(&mut **transaction)
                .await?;
        }
        for updated in self.updated.chunks(ROWS_PER_STATEMENT) {
            // An update keeps the date it had unless the source now gives one, and is dated
            // `updated` when it was seen changed unless the source says when.
            with_rows(updated)
                .push(
                    " UPDATE entries SET title = incoming.title, link = incoming.link,
                        canonical_link = incoming.canonical_link, authors = incoming.authors,
                        published = COALESCE(incoming.published, entries.published),
                        updated = COALESCE(incoming.updated, incoming.seen),
                        summary = incoming.summary, content = incoming.content,
                        categories = incoming.categories, enclosures = incoming.enclosures,
                        image = incoming.image, content_hash = incoming.hash,
                        raw_hash = incoming.raw_hash
                     FROM incoming WHERE entries.id = incoming.id",
                )
                .build()
                .execute(&mut **transaction)
                .await?;
        }
        if !self.raw_hashes.is_empty() {
            sqlx::query(
                "UPDATE entries SET raw_hash = value->>1 FROM json_each(?1)
                 WHERE entries.id = value->>0",
            )
            .bind(serde_json::to_string(&self.raw_hashes).expect("raw hashes serialize"))
            .execute(&mut **transaction)
            .await?;
        }
        if !self.also_in.is_empty() {
            counts.newly_also_in += sqlx::query(
                "INSERT OR IGNORE INTO entry_sources (entry_id, source)
                 SELECT value->>0, value->>1 FROM json_each(?1)",
            )
            .bind(serde_json::to_string(&self.also_in).expect("sources serialize"))
            .execute(&mut **transaction)
            .await?
            .rows_affected() as usize;
        }
        counts.new += self.new.len();
        counts.updated += self.updated.len();
        counts.duplicate += self.duplicate;
        counts.unchanged += self.unchanged;
        counts.tombstoned += self.tombstoned;
        Ok(())
    }
}

/// Rows bound per statement: well under SQLite's limit of 32,766 parameters.
const ROWS_PER_STATEMENT: usize = 1_000;

/// `WITH incoming (…) AS (VALUES …)`: the entries as rows of the `entries` table, bound as
/// parameters (their bodies are most of the bytes written, and passing them in JSON cost a
/// parse per column).
fn with_rows(incoming: &[&Incoming<'_>]) -> QueryBuilder<Sqlite> {
    let mut query = QueryBuilder::new(
        "WITH incoming (id, source, key, title, link, canonical_link, authors, published,
            updated, summary, content, categories, enclosures, image, hash, seen, raw_hash) AS (",
    );
    query.push_values(incoming, |mut row, incoming| {
        let entry = incoming.entry;
        row.push_bind(entry.id.as_str())
            .push_bind(&entry.source)
            .push_bind(&entry.key)
            .push_bind(&entry.title)
            .push_bind(&entry.link)
            .push_bind(&incoming.canonical_link)
            .push_bind(serde_json::to_string(&entry.authors).expect("authors serialize"))
            .push_bind(entry.date().map(|date| date.timestamp_millis()))
            .push_bind(entry.updated.map(|date| date.timestamp_millis()))
            .push_bind(&entry.summary)
            .push_bind(&entry.content)
            .push_bind(serde_json::to_string(&entry.categories).expect("categories serialize"))
            .push_bind(serde_json::to_string(&entry.enclosures).expect("enclosures serialize"))
            .push_bind(&entry.image)
            .push_bind(entry.content_hash.as_str())
            .push_bind(incoming.seen.timestamp_millis())
            .push_bind(incoming.raw_hash);
    });
    query.push(")");
    query
}

#[cfg(test)]
mod tests {
    use super::FIND_STORED;
    use crate::store::{Policy, Store};

    /// A poll's lookups search indexes: a scan of `entries` would make every poll cost more
    /// as the store grows, and SQLite picks one silently when a lookup stops matching its
    /// index's expression (migration 0007).
    #[tokio::test]
    async fn a_polls_lookups_search_indexes_and_scan_no_stored_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Policy::default())
            .await
            .unwrap();
        let plan: Vec<(i64, i64, i64, String)> =
            // A constant with a prefix: nothing outside the code reaches this SQL.
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {FIND_STORED}")))
                .bind("[]")
                .bind(true)
                .bind(true)
                .bind(true)
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let steps: Vec<&str> = plan.iter().map(|(.., detail)| detail.as_str()).collect();
        for index in ["entries_by_hash", "entries_by_link"] {
            assert!(
                steps
                    .iter()
                    .any(|step| step.contains(&format!("SEARCH original USING INDEX {index}"))),
                "no search of {index} in {steps:#?}"
            );
        }
        for table in ["stored", "original", "tombstones"] {
            assert!(
                !steps
                    .iter()
                    .any(|step| step.starts_with(&format!("SCAN {table}"))),
                "{table} is scanned: {steps:#?}"
            );
        }
    }
}

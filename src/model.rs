//! The one normalized model every stage speaks.
//!
//! Remote feeds and seed files both become `Entry` values before they reach dedup, the store and
//! the publishers, so nothing downstream knows which feed format or file an entry came from. This
//! module depends on no feed format crate on purpose.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The name under which seed-file entries are stored and shown.
pub const SEEDS_SOURCE: &str = "seeds";

/// One normalized feed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Our public, stable id: see [`EntryId::derive`].
    pub id: EntryId,
    /// The configured source name, or [`SEEDS_SOURCE`].
    pub source: String,
    /// Identity within the source: guid / atom:id, else link, else content hash; for seeds the
    /// file's path relative to the seeds folder.
    pub key: String,
    pub title: String,
    /// Absolute URL of the original article; `None` when the entry only lives here (seed files),
    /// in which case its permalink on this daemon is published instead.
    pub link: Option<String>,
    pub authors: Vec<Person>,
    /// `None` when the source gave no usable date: the store then records the first-seen time.
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// Sanitized HTML.
    pub summary: Option<String>,
    /// Sanitized HTML with absolute links.
    pub content: Option<String>,
    pub categories: Vec<String>,
    /// Podcast audio, attached files, media:content.
    pub enclosures: Vec<Enclosure>,
    /// A preview image (media:thumbnail), absolute.
    pub image: Option<String>,
    pub content_hash: ContentHash,
    /// Other sources that carried the same story (read back from the store; empty on ingest).
    pub also_in: Vec<String>,
}

impl Entry {
    /// The date entries are ordered by and published with.
    pub fn date(&self) -> Option<DateTime<Utc>> {
        self.published.or(self.updated)
    }

    /// The hash of everything a feed renders of this entry: a poll rewrites a stored entry
    /// when its revision changes. The content hash cannot decide that: it leaves the title out
    /// on purpose (outlets retitle the same story), and so would miss a retitled entry.
    pub fn revision(&self) -> Revision {
        let rendered = (
            &self.title,
            &self.link,
            &self.authors,
            self.published.map(|date| date.timestamp_millis()),
            self.updated.map(|date| date.timestamp_millis()),
            &self.summary,
            &self.content,
            &self.categories,
            &self.enclosures,
            &self.image,
        );
        let mut hasher = blake3::Hasher::new();
        serde_json::to_writer(&mut hasher, &rendered).expect("an entry serializes");
        first_64_bits(&hasher.finalize())
    }
}

/// 64 bits of blake3 over what is rendered of an entry: see [`Entry::revision`]. Signed, as
/// the databases store integers.
pub type Revision = i64;

/// The first 64 bits of a blake3 digest, signed, as the databases store integers: enough to
/// tell one version of an entry from another.
pub(crate) fn first_64_bits(digest: &blake3::Hash) -> i64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    i64::from_le_bytes(first)
}

/// An author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
}

/// A file attached to an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    /// Absolute URL.
    pub url: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Size in bytes, when the publisher says.
    #[serde(default)]
    pub length: Option<u64>,
}

/// Our public id of an entry: 16 hex digits of blake3(source, key).
///
/// It is derived, not random, so the same entry gets the same id on every machine and after every
/// restart, and it is safe to put in a URL whatever the source's guid looks like.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(String);

impl EntryId {
    pub fn derive(source: &str, key: &str) -> EntryId {
        let mut hasher = blake3::Hasher::new();
        hasher.update(source.as_bytes());
        hasher.update(&[0]);
        hasher.update(key.as_bytes());
        EntryId(hasher.finalize().to_hex()[..16].to_string())
    }

    /// Accepts an id read back from the store or a URL; `None` if it cannot be one of ours.
    pub fn parse(text: &str) -> Option<EntryId> {
        (text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| EntryId(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// blake3 of an entry's normalized body text, hex-encoded: see `dedup::content_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentHash(String);

impl ContentHash {
    pub fn of_normalized_text(text: &str) -> ContentHash {
        ContentHash(blake3::hash(text.as_bytes()).to_hex().to_string())
    }

    /// Wraps a hash read back from the store.
    pub fn from_stored(hex: String) -> ContentHash {
        ContentHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_are_stable_and_depend_on_source_and_key() {
        let id = EntryId::derive("seeds", "000_a43e32de84514409.txt");
        assert_eq!(id, EntryId::derive("seeds", "000_a43e32de84514409.txt"));
        assert_ne!(id, EntryId::derive("other", "000_a43e32de84514409.txt"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(EntryId::derive("ab", "c"), EntryId::derive("a", "bc"));
        assert_eq!(EntryId::parse(id.as_str()), Some(id));
        assert_eq!(EntryId::parse("../etc/passwd"), None);
    }
}

//! Rendering of everything we serve, once per change.
//!
//! After a poll changes the store, the newest entries are rendered into the Atom, RSS and HTML
//! documents and swapped in atomically; requests then only copy bytes that are already there,
//! with an ETag computed at render time. No store query and no rendering happens per request.

mod atom;
mod compress;
mod html;
mod json;
mod opml;
mod rss;
mod slices;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};

use crate::config::{Config, FeedSettings};
use crate::model::{Entry, EntryId};
use crate::status::Snapshot;
use crate::store::{Store, StoreError};

pub use html::entry_page;
pub use slices::{LazyFeeds, SliceSpec, Slices};

pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";
pub const RSS_CONTENT_TYPE: &str = "application/rss+xml; charset=utf-8";
pub const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";
pub const JSON_CONTENT_TYPE: &str = "application/feed+json; charset=utf-8";
pub const OPML_CONTENT_TYPE: &str = "text/x-opml; charset=utf-8";

/// Paths of the published documents, relative to `feed.base_url`.
pub const ATOM_PATH: &str = "/feed.atom";
pub const RSS_PATH: &str = "/feed.rss";
pub const JSON_PATH: &str = "/feed.json";
pub const OPML_PATH: &str = "/opml.xml";

/// One rendered document: its bytes as they are and compressed (once, when first asked for), and
/// its validators.
#[derive(Debug, Clone)]
pub struct Document {
    pub content_type: &'static str,
    pub body: Bytes,
    /// Compressed at the first request that wants it, then kept with the rendering: most
    /// per-source feeds are never asked for, and compressing is the costly part of a render.
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
    /// The hash of the bytes; each encoding's strong ETag derives from it (`etag`).
    pub hash: String,
    /// The ETag of each encoding, as sent: made here so requests only copy it.
    etags: [HeaderValue; 3],
    /// When the newest entry in it changed; `None` for pages that change for other reasons.
    pub last_modified: Option<DateTime<Utc>>,
    /// `last_modified` as an HTTP date, as sent.
    pub last_modified_header: Option<HeaderValue>,
    /// A feed's `Link` header: its WebSub hub and itself (WebSub §4), as sent.
    pub links: Option<HeaderValue>,
}

/// A content coding a client may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Document {
    fn new(
        content_type: &'static str,
        body: Vec<u8>,
        last_modified: Option<DateTime<Utc>>,
    ) -> Document {
        let hash = blake3::hash(&body).to_hex()[..32].to_string();
        let etag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{hash}{suffix}\"")).expect("an ETag is quoted hex")
        };
        Document {
            content_type,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
            body: Bytes::from(body),
            // Each encoding is a different sequence of bytes, so each has its own strong tag.
            etags: [etag(""), etag("-gzip"), etag("-br")],
            hash,
            last_modified,
            last_modified_header: last_modified.map(|changed| {
                HeaderValue::from_str(&changed.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
                    .expect("an HTTP date")
            }),
            links: None,
        }
    }

    /// The bytes in `encoding`.
    pub fn bytes(&self, encoding: Encoding) -> &Bytes {
        match encoding {
            Encoding::Identity => &self.body,
            Encoding::Gzip => self
                .gzip
                .get_or_init(|| Bytes::from(compress::gzip(&self.body))),
            Encoding::Brotli => self
                .brotli
                .get_or_init(|| Bytes::from(compress::brotli(&self.body))),
        }
    }

    /// The strong ETag (quoted) of the representation in `encoding`.
    pub fn etag(&self, encoding: Encoding) -> &HeaderValue {
        match encoding {
            Encoding::Identity => &self.etags[0],
            Encoding::Gzip => &self.etags[1],
            Encoding::Brotli => &self.etags[2],
        }
    }
}

/// Which entries a set of feed documents holds and where it is served: the merged river, or a
/// slice of it (one source, one tag).
pub struct Slice<'a> {
    pub settings: &'a FeedSettings,
    /// Path before `/feed.atom` etc.: empty for the merged feeds, `/sources/NAME` or `/tags/TAG`.
    pub prefix: String,
    pub title: String,
    /// The query string the documents are served with (`?limit=N`), part of their self links.
    pub query: String,
}

impl Slice<'_> {
    /// The absolute URL of one of this slice's documents, as served.
    pub fn url(&self, document_path: &str) -> String {
        format!(
            "{}{}{document_path}{}",
            self.settings.base_url, self.prefix, self.query
        )
    }
}

/// The Atom, RSS and JSON documents of one slice, and what they were made of, so a shorter
/// version (`?limit=N`) can be made without the store.
#[derive(Debug)]
pub struct Feeds {
    pub atom: Document,
    pub rss: Document,
    pub json: Document,
    title: String,
    entries: Arc<[Entry]>,
}

impl Feeds {
    pub fn render(slice: &Slice, entries: Arc<[Entry]>) -> Feeds {
        let changed = newest_date(&entries);
        let document = |content_type, body, path| Document {
            links: slice.settings.hub_url().map(|hub| {
                HeaderValue::from_str(&format!(
                    "<{hub}>; rel=\"hub\", <{}>; rel=\"self\"",
                    slice.url(path)
                ))
                .expect("URLs are ASCII without line breaks")
            }),
            ..Document::new(content_type, body, changed)
        };
        Feeds {
            atom: document(ATOM_CONTENT_TYPE, atom::render(slice, &entries), ATOM_PATH),
            rss: document(RSS_CONTENT_TYPE, rss::render(slice, &entries), RSS_PATH),
            json: document(JSON_CONTENT_TYPE, json::render(slice, &entries), JSON_PATH),
            title: slice.title.clone(),
            entries,
        }
    }

    /// Whether both hold the same bytes in every format.
    fn has_the_documents_of(&self, other: &Feeds) -> bool {
        self.atom.hash == other.atom.hash
            && self.rss.hash == other.rss.hash
            && self.json.hash == other.json.hash
    }

    /// The document named by the last segment of a feed URL.
    pub fn by_file_name(&self, name: &str) -> Option<&Document> {
        match name {
            "feed.atom" => Some(&self.atom),
            "feed.rss" => Some(&self.rss),
            "feed.json" => Some(&self.json),
            _ => None,
        }
    }
}

/// The documents of one rendering.
#[derive(Debug)]
pub struct Rendered {
    /// The configuration it was rendered under; slices and `?limit=N` versions made later for
    /// this rendering use the same.
    pub config: Arc<Config>,
    /// The merged feeds; their entries also make the index.
    pub merged: Arc<Feeds>,
    pub index: Document,
    /// Per-source and per-tag feeds, by prefix (`/sources/NAME`, `/tags/TAG`), rendered at
    /// their first request.
    pub slices: Arc<Slices>,
    /// The configured sources as OPML.
    pub opml: Arc<Document>,
    /// `Cache-Control` of the feeds: readers may keep them for one period of the default
    /// schedule.
    pub cache_control: HeaderValue,
    /// When the store was read for it: of two renderings, the later read is the newer one
    /// (replicas render the same store on their own).
    pub read_at: DateTime<Utc>,
}

impl Rendered {
    /// What the feeds say about themselves.
    pub fn settings(&self) -> &FeedSettings {
        &self.config.feed
    }
}

/// Holds the current rendering; readers never wait for a render in progress.
pub struct Publisher {
    current: ArcSwap<Rendered>,
    /// Where slices are read from when first asked for.
    store: Store,
    /// Shorter versions asked for with `?limit=N`, made once per rendering and kept with it.
    limited: std::sync::Mutex<LimitedCache>,
    /// Counts the renderings published, for those who act on each (the WebSub hub).
    published: tokio::sync::watch::Sender<u64>,
}

/// How many `?limit=` versions are kept at most: readers ask for a few, and a client walking
/// through every limit of every slice must not grow the cache without end.
const LIMITED_CACHE_CAPACITY: usize = 64;

#[derive(Default)]
struct LimitedCache {
    /// The rendering the versions were made from; a new one empties the cache.
    from: Option<Arc<Rendered>>,
    feeds: HashMap<(String, usize), Arc<Feeds>>,
}

impl Publisher {
    /// The first rendering: `entries` are the merged feed's, newest first, already limited to
    /// `max_entries`.
    pub fn new(
        store: Store,
        config: Arc<Config>,
        entries: &[Entry],
        board: &Snapshot,
    ) -> Publisher {
        let slices = slices::plan(&config, &Slices::new(), None);
        Publisher {
            current: ArcSwap::from_pointee(render(
                config,
                entries.into(),
                slices,
                board,
                Utc::now(),
            )),
            store,
            limited: std::sync::Mutex::default(),
            published: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Changes at every rendering `publish` makes current.
    pub fn renderings(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// Makes a new rendering current, with the merged feed's `entries`, read from the store at
    /// `read_at`. The slices of sources not in `changed` keep their documents; `None` means
    /// everything changed (the config).
    pub fn publish(
        &self,
        config: Arc<Config>,
        entries: &[Entry],
        changed: Option<&HashSet<String>>,
        board: &Snapshot,
        read_at: DateTime<Utc>,
    ) {
        let current = self.current();
        let slices = slices::plan(&config, &current.slices, changed);
        let mut rendered = render(config, entries.into(), slices, board, read_at);
        // Merged feeds whose bytes did not change keep their documents, compressed bodies
        // included: every first request after a render compressed them again, and requests
        // arriving meanwhile waited for it, on every poll that changed nothing they show.
        if rendered.merged.has_the_documents_of(&current.merged) {
            rendered.merged = Arc::clone(&current.merged);
        }
        self.current.store(Arc::new(rendered));
        self.published.send_modify(|count| *count += 1);
    }

    /// Re-renders the index with new health; the feeds stay as they are.
    pub fn publish_status(&self, board: &Snapshot) {
        self.current.rcu(|current| {
            let index = html::index_page(current.settings(), &current.merged.entries, board);
            Rendered {
                config: Arc::clone(&current.config),
                merged: Arc::clone(&current.merged),
                index: Document::new(HTML_CONTENT_TYPE, index.into_bytes(), None),
                slices: Arc::clone(&current.slices),
                opml: Arc::clone(&current.opml),
                cache_control: current.cache_control.clone(),
                read_at: current.read_at,
            }
        });
    }

    pub fn current(&self) -> Arc<Rendered> {
        self.current.load_full()
    }

    /// The current rendering without taking a reference to it: for the request path, which
    /// holds it only while it builds one answer.
    pub fn peek(&self) -> arc_swap::Guard<Arc<Rendered>> {
        self.current.load()
    }

    /// The feeds under `prefix` (empty for the merged ones) with at most `limit` entries: the
    /// rendered ones without a limit, else a version made once for this rendering whose self
    /// links name the URL with its `?limit=`, as readers and validators expect. `None` for an
    /// unknown prefix; an error when a slice rendered now cannot be read from the store.
    pub async fn feeds(
        &self,
        prefix: &str,
        limit: Option<usize>,
    ) -> Result<Option<Arc<Feeds>>, StoreError> {
        let rendered = self.current();
        let full = if prefix.is_empty() {
            Arc::clone(&rendered.merged)
        } else {
            let Some(lazy) = rendered.slices.get(prefix) else {
                return Ok(None);
            };
            lazy.get(&self.store, &rendered.config).await?
        };
        let Some(limit) = limit else {
            return Ok(Some(full));
        };
        let mut cache = self
            .limited
            .lock()
            .expect("no code panics holding the cache");
        if !cache
            .from
            .as_ref()
            .is_some_and(|from| Arc::ptr_eq(from, &rendered))
            || cache.feeds.len() >= LIMITED_CACHE_CAPACITY
        {
            *cache = LimitedCache {
                from: Some(Arc::clone(&rendered)),
                feeds: HashMap::new(),
            };
        }
        let shorter = cache
            .feeds
            .entry((prefix.to_string(), limit))
            .or_insert_with(|| {
                let slice = Slice {
                    settings: rendered.settings(),
                    prefix: prefix.to_string(),
                    title: full.title.clone(),
                    query: format!("?limit={limit}"),
                };
                let shown = limit.min(full.entries.len());
                Arc::new(Feeds::render(&slice, full.entries[..shown].into()))
            });
        Ok(Some(Arc::clone(shorter)))
    }
}

fn render(
    config: Arc<Config>,
    entries: Arc<[Entry]>,
    slices: Slices,
    board: &Snapshot,
    read_at: DateTime<Utc>,
) -> Rendered {
    let settings = &config.feed;
    let merged = Slice {
        settings,
        prefix: String::new(),
        title: settings.title.clone(),
        query: String::new(),
    };
    let index = html::index_page(settings, &entries, board);
    Rendered {
        merged: Arc::new(Feeds::render(&merged, entries)),
        index: Document::new(HTML_CONTENT_TYPE, index.into_bytes(), None),
        slices: Arc::new(slices),
        opml: Arc::new(Document::new(
            OPML_CONTENT_TYPE,
            opml::render(&config),
            None,
        )),
        cache_control: cache_control(&config),
        config,
        read_at,
    }
}

/// Readers may keep a feed for one period of the default schedule: it cannot change sooner
/// unless a seed file does, and then a conditional request is cheap.
fn cache_control(config: &Config) -> HeaderValue {
    let now = Utc::now();
    let period = config
        .schedule
        .next_after(now)
        .and_then(|next| Some((config.schedule.next_after(next)? - next).num_seconds()))
        .unwrap_or(0)
        .max(0);
    HeaderValue::from_str(&format!("public, max-age={period}")).expect("a valid header value")
}

/// The page of an entry on this daemon.
pub fn permalink(settings: &FeedSettings, id: &EntryId) -> String {
    format!("{}/entries/{id}", settings.base_url)
}

/// Where a reader goes to read the entry: the original article, else our permalink.
fn entry_link(settings: &FeedSettings, entry: &Entry) -> String {
    entry
        .link
        .clone()
        .unwrap_or_else(|| permalink(settings, &entry.id))
}

/// The entry's permanent, globally unique id in our feeds: a `urn:uuid` derived from our entry
/// id, so it survives changes of `base_url` and is valid as both atom:id and RSS guid.
fn entry_urn(id: &EntryId) -> String {
    uuid_urn(&["entry", id.as_str()])
}

/// A version-8 (custom) UUID URN made from blake3 of `parts`.
fn uuid_urn(parts: &[&str]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Category scheme (Atom) / domain (RSS) naming the sources that carried one story.
const SOURCE_SCHEME: &str = "urn:tributary:source";

/// Every source that carried the entry's story, first-seen first, when more than one did.
fn carried_by(entry: &Entry) -> Vec<&str> {
    if entry.also_in.is_empty() {
        return Vec::new();
    }
    std::iter::once(entry.source.as_str())
        .chain(entry.also_in.iter().map(String::as_str))
        .collect()
}

/// The date a feed document as a whole was last updated: its newest entry's.
fn newest_date(entries: &[Entry]) -> Option<DateTime<Utc>> {
    entries
        .iter()
        .filter_map(|entry| entry.updated.max(entry.published))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Enclosure, Person};
    use chrono::TimeZone;

    fn config() -> Config {
        Config::parse(
            std::path::Path::new("/srv/config.yaml"),
            "feed:\n  title: \"River & Co\"\n  description: \"merged <all>\"\n  \
             base_url: \"https://feeds.example\"\n  max_entries: 10\n",
        )
        .expect("a valid config")
    }

    fn entry_with_author() -> Entry {
        Entry {
            id: EntryId::derive("blog", "1"),
            source: "blog".to_string(),
            key: "1".to_string(),
            title: "Fish & <chips>".to_string(),
            link: None,
            authors: vec![Person {
                name: "Ann".to_string(),
                email: Some("ann@example.org".to_string()),
                uri: None,
            }],
            published: Some(Utc.with_ymd_and_hms(2024, 2, 3, 4, 5, 6).unwrap()),
            updated: None,
            summary: None,
            content: Some("<p>Body &amp; more</p>".to_string()),
            categories: vec!["food".to_string()],
            enclosures: vec![Enclosure {
                url: "https://cdn.example/a.mp3".to_string(),
                mime_type: Some("audio/mpeg".to_string()),
                length: Some(42),
            }],
            image: None,
            content_hash: crate::dedup::content_hash(Some("Body & more"), None, "", None),
            also_in: Vec::new(),
        }
    }

    #[test]
    fn both_formats_round_trip_titles_authors_categories_and_escaped_html() {
        let rendered = render(
            Arc::new(config()),
            vec![entry_with_author()].into(),
            Slices::new(),
            &Snapshot::default(),
            Utc::now(),
        );
        let rss_text = std::str::from_utf8(&rendered.merged.rss.body).unwrap();
        assert!(rss_text.contains("xmlns:dc="), "{rss_text}");
        for document in [
            &rendered.merged.atom,
            &rendered.merged.rss,
            &rendered.merged.json,
        ] {
            let feed = feed_rs::parser::parse(&document.body[..]).unwrap();
            assert_eq!(feed.title.unwrap().content, "River & Co");
            let entry = &feed.entries[0];
            assert_eq!(entry.title.as_ref().unwrap().content, "Fish & <chips>");
            assert_eq!(entry.authors[0].name.as_deref(), Some("Ann"));
            assert_eq!(entry.categories[0].term, "food");
            let permalink = format!("https://feeds.example/entries/{}", entry_with_author().id);
            assert_eq!(entry.links[0].href, permalink);
            assert_eq!(
                entry.published.unwrap().to_rfc3339(),
                "2024-02-03T04:05:06+00:00"
            );
            let html = entry
                .content
                .as_ref()
                .and_then(|content| content.body.clone())
                .or_else(|| {
                    entry
                        .summary
                        .as_ref()
                        .map(|summary| summary.content.clone())
                })
                .unwrap();
            assert_eq!(html, "<p>Body &amp; more</p>");
        }
    }

    #[test]
    fn the_etag_changes_with_the_bytes_and_only_then() {
        let first = render(
            Arc::new(config()),
            vec![entry_with_author()].into(),
            Slices::new(),
            &Snapshot::default(),
            Utc::now(),
        );
        let again = render(
            Arc::new(config()),
            vec![entry_with_author()].into(),
            Slices::new(),
            &Snapshot::default(),
            Utc::now(),
        );
        let empty = render(
            Arc::new(config()),
            Vec::new().into(),
            Slices::new(),
            &Snapshot::default(),
            Utc::now(),
        );
        let (first, again, empty) = (&first.merged, &again.merged, &empty.merged);
        assert_eq!(first.atom.hash, again.atom.hash);
        assert_ne!(first.atom.hash, empty.atom.hash);
        assert_ne!(first.atom.hash, first.rss.hash);
        assert_ne!(
            first.atom.etag(Encoding::Gzip),
            first.atom.etag(Encoding::Identity)
        );
    }

    /// A re-render that changes no byte keeps the documents, and with them their compressed
    /// bodies, made once.
    #[tokio::test]
    async fn a_render_with_the_same_bytes_keeps_the_documents() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), crate::store::Policy::default())
            .await
            .unwrap();
        let config = Arc::new(config());
        let entries = [entry_with_author()];
        let board = Snapshot::default();
        let publisher = Publisher::new(store, Arc::clone(&config), &entries, &board);
        let first = publisher.current();
        publisher.publish(Arc::clone(&config), &entries, None, &board, Utc::now());
        assert!(Arc::ptr_eq(&first.merged, &publisher.current().merged));
        publisher.publish(config, &[], None, &board, Utc::now());
        assert!(!Arc::ptr_eq(&first.merged, &publisher.current().merged));
    }

    #[test]
    fn entry_urns_are_stable_uuids() {
        let id = EntryId::derive("seeds", "a.txt");
        let urn = entry_urn(&id);
        assert_eq!(urn, entry_urn(&id));
        assert_eq!(urn.len(), "urn:uuid:".len() + 36);
        assert_eq!(&urn[9 + 14..9 + 15], "8", "version nibble: {urn}");
        assert_ne!(urn, entry_urn(&EntryId::derive("seeds", "b.txt")));
    }
}

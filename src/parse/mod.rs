//! Feed documents → entries.
//!
//! Bytes are decoded to UTF-8 (`charset`). JSON Feed is read by `json_feed`; everything else by
//! a forgiving XML reader (`xml`) whose tree is mapped onto the feed's fields with feedparser's
//! rules (`syndication`): RSS 0.90 / 0.9x / 1.0 / 2.0 and Atom 0.3 / 1.0, with Dublin Core,
//! content, Media RSS and iTunes mixed in. A document that is not well-formed is read as far as
//! a reader can make sense of it, and each repair is reported (`repairs`); only a document with
//! no feed in it is refused. This module maps what the documents say onto our model: plain-text
//! titles, sanitized HTML with absolute links, UTC dates no later than tomorrow (`dates`),
//! authors split into name and e-mail, enclosures and thumbnails kept, identity by guid → link
//! → content hash. It does no I/O: the caller hands it bytes, their Content-Type and the URL
//! they came from.

pub mod charset;
mod dates;
mod json_feed;
pub mod links;
pub mod page;
pub mod repairs;
mod syndication;
mod xml;

pub use links::WebSubLinks;

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use url::Url;

use self::charset::EncodingRepair;
use self::repairs::{Repair, Repairs};
use crate::dedup;
use crate::model::{Enclosure, Entry, EntryId, Person};
use crate::normalize::{
    collapse_whitespace, html_to_text, sanitize_html, strip_forbidden_xml_chars, truncate_at_word,
};

pub use dates::parse_date;

/// Shown for entries whose feed gives neither a title nor any text to take one from.
const UNTITLED: &str = "(untitled)";
/// A title made from the body is cut to this many characters.
const TITLE_FROM_BODY_CHARS: usize = 80;
/// Longer titles are cut at a word boundary: a title is one line in a reader's list, and a
/// hostile document can make it megabytes long, copied into every feed we publish.
const MAX_TITLE_CHARS: usize = 1_000;
/// Only a document's first this many entries are read. Feeds list their newest first; a
/// document with more is an archive or an attack, and each entry read costs sanitizing, hashing
/// and a stored row on the poll that first sees it.
pub const MAX_ENTRIES_PER_DOCUMENT: usize = 10_000;
/// Dates further ahead than this are publisher mistakes (or tricks to stay on top).
const MAX_FUTURE: TimeDelta = TimeDelta::days(1);

#[derive(Debug, thiserror::Error)]
#[error("not a feed document: {0}")]
pub struct ParseError(String);

impl ParseError {
    fn new(reason: impl Into<String>) -> ParseError {
        ParseError(reason.into())
    }

    /// For a text in which the reader found no feed root: says what it starts with instead.
    fn no_feed(text: &str) -> ParseError {
        let start: String = text.trim_start().chars().take(60).collect();
        let start = collapse_whitespace(&start);
        ParseError(if start.is_empty() {
            "the document is empty".to_string()
        } else {
            format!(
                "no <rss>, <rdf:RDF>, <feed> or <channel> element, nor a JSON Feed; it starts with {start:?}"
            )
        })
    }
}

/// What a document says about itself, plus its entries.
#[derive(Debug)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub link: Option<String>,
    pub id: Option<String>,
    pub updated: Option<DateTime<Utc>>,
    pub published: Option<DateTime<Utc>>,
    pub authors: Vec<Person>,
    pub subtitle: Option<String>,
    /// How the bytes were decoded: the encoding's name and what chose it.
    pub encoding: &'static str,
    pub encoding_chosen_by: charset::EncodingEvidence,
    pub entries: Vec<Entry>,
    /// The entries past the first `MAX_ENTRIES_PER_DOCUMENT`, left unread.
    pub unread_entries: usize,
    /// What was repaired to read the document; empty when it is well-formed.
    pub repairs: Vec<Repair>,
    /// Repairs past those listed, only counted.
    pub repairs_not_listed: usize,
    /// The WebSub hubs the document names and its self link.
    pub websub: WebSubLinks,
}

/// A text as a document gives it: HTML, or plain text.
#[derive(Debug, Clone, PartialEq)]
struct Text {
    value: String,
    html: bool,
}

impl Text {
    fn html(value: String) -> Text {
        Text { value, html: true }
    }

    fn plain(value: String) -> Text {
        Text { value, html: false }
    }
}

/// A person as a document gives one; any part may be missing.
#[derive(Debug, Clone, Default, PartialEq)]
struct RawPerson {
    name: Option<String>,
    email: Option<String>,
    uri: Option<String>,
}

/// What a document says about itself, as read by `syndication` or `json_feed`.
#[derive(Debug, Default)]
struct RawFeed {
    title: Option<Text>,
    link: Option<String>,
    id: Option<String>,
    updated: Option<DateTime<Utc>>,
    published: Option<DateTime<Utc>>,
    authors: Vec<RawPerson>,
    subtitle: Option<Text>,
    entries: Vec<RawEntry>,
    websub: WebSubLinks,
}

/// One entry as its document gives it; links and enclosures already absolute.
#[derive(Debug)]
struct RawEntry {
    id: Option<String>,
    title: Option<Text>,
    link: Option<String>,
    summary: Option<Text>,
    content: Option<Text>,
    /// What relative links in the summary and content resolve against.
    base: Url,
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    authors: Vec<RawPerson>,
    categories: Vec<String>,
    enclosures: Vec<Enclosure>,
    image: Option<String>,
}

impl RawEntry {
    fn at(base: Url) -> RawEntry {
        RawEntry {
            id: None,
            title: None,
            link: None,
            summary: None,
            content: None,
            base,
            published: None,
            updated: None,
            authors: Vec::new(),
            categories: Vec::new(),
            enclosures: Vec::new(),
            image: None,
        }
    }
}

/// Parses a feed document fetched from `document_url` into entries of `source`. `now` is the
/// first-seen time: dates further in the future than a day are dropped in its favour.
pub fn parse_document(
    source: &str,
    bytes: &[u8],
    content_type: Option<&str>,
    document_url: &Url,
    now: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    let (decoded, repairs) = decode(bytes, content_type);
    read_document(source, &decoded, repairs, document_url, now)
}

/// The bytes as text, and the repair the charset needed if any, as the first of the
/// document's: where both `parse_document` and `parse_changes` begin.
fn decode(bytes: &[u8], content_type: Option<&str>) -> (charset::Decoded, Repairs) {
    let decoded = charset::decode(bytes, content_type);
    let repairs = encoding_repairs(&decoded);
    (decoded, repairs)
}

/// Opens a markup document for reading its entries one at a time, and notes the repairs its
/// structure needed. Returns it, how many entries to read, and how many are left unread.
fn open_markup<'a>(
    text: &'a str,
    document_url: &'a Url,
    repairs: &mut Repairs,
) -> Result<(syndication::Syndication<'a>, usize, usize), ParseError> {
    let document = syndication::open(text, document_url, repairs)?;
    // Elements no field is read from count too: the repairs are the document's, whichever of
    // its entries are read.
    document.note_reference_repairs(repairs);
    let count = document.entry_count();
    let read = count.min(MAX_ENTRIES_PER_DOCUMENT);
    Ok((document, read, count - read))
}

/// `parse_document` once the bytes are decoded.
fn read_document(
    source: &str,
    decoded: &charset::Decoded,
    mut repairs: Repairs,
    document_url: &Url,
    now: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    let (mut feed, unread_entries) = if is_json(&decoded.text) {
        let mut feed = json_feed::read(&decoded.text, document_url)?;
        let unread = feed.entries.len().saturating_sub(MAX_ENTRIES_PER_DOCUMENT);
        feed.entries.truncate(MAX_ENTRIES_PER_DOCUMENT);
        (feed, unread)
    } else {
        let (document, read, unread) = open_markup(&decoded.text, document_url, &mut repairs)?;
        let mut feed = document.read_feed(&mut repairs);
        feed.websub = document.websub_links();
        feed.entries = (0..read)
            .filter_map(|index| document.read_entry(index, &mut repairs))
            .collect();
        (feed, unread)
    };
    let entries = std::mem::take(&mut feed.entries)
        .into_iter()
        .map(|entry| to_entry(source, entry, now))
        .collect();
    let (repairs, repairs_not_listed) = repairs.finish(&decoded.text);
    let not_future = |date: Option<DateTime<Utc>>| date.filter(|date| *date <= now + MAX_FUTURE);
    Ok(ParsedFeed {
        title: feed
            .title
            .map(|title| one_line(as_plain(&title)))
            .filter(|t| !t.is_empty()),
        link: feed.link,
        id: feed.id.map(|id| clean(&id)).filter(|id| !id.is_empty()),
        updated: not_future(feed.updated),
        published: not_future(feed.published),
        authors: feed.authors.into_iter().filter_map(to_person).collect(),
        subtitle: feed
            .subtitle
            .map(|subtitle| one_line(as_plain(&subtitle)))
            .filter(|t| !t.is_empty()),
        encoding: decoded.encoding,
        encoding_chosen_by: decoded.chosen_by,
        entries,
        unread_entries,
        repairs,
        repairs_not_listed,
        websub: feed.websub,
    })
}

/// Whether the text is JSON rather than markup: JSON Feed is the only JSON we read.
fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// The charset's repair, as the first of the document's.
fn encoding_repairs(decoded: &charset::Decoded) -> Repairs {
    let mut repairs = Repairs::default();
    match decoded.repair {
        Some(EncodingRepair::ForeignBytes { count, first_at }) => repairs.note(first_at, || {
            format!("{count} byte(s) that are not UTF-8 read as windows-1252, the first")
        }),
        Some(EncodingRepair::DeclarationIgnored { declared }) => repairs.note(0, || {
            format!("the XML declaration says {declared} but the bytes are UTF-8: read as UTF-8")
        }),
        None => {}
    }
    repairs
}

/// The hash of an entry's bytes as its document carried them (with the base URL they resolve
/// against): equal hashes mean the entry would be read exactly as it was last time.
pub type RawHash = i64;

/// What changed in a document since the last poll of its source.
#[derive(Debug, Default)]
pub struct Changes {
    /// The entries not known by their bytes, in document order.
    pub entries: Vec<Entry>,
    /// The hash of each of `entries`' bytes; `None` where the document gives no bytes per
    /// entry (JSON Feed).
    pub raw_hashes: Vec<Option<RawHash>>,
    /// The keys of the entries whose bytes are known: nothing of them needs reading again.
    pub unchanged_keys: Vec<String>,
    /// The entries past the first `MAX_ENTRIES_PER_DOCUMENT`, left unread.
    pub unread_entries: usize,
    /// What was repaired to read the document's structure and the entries read.
    pub repairs: Vec<Repair>,
    pub repairs_not_listed: usize,
    /// The WebSub hubs the document names and its self link.
    pub websub: WebSubLinks,
}

/// Like `parse_document`, but entries whose bytes hash to a key in `known` (what the store
/// holds for the source) are only named in `unchanged_keys`: they are not read, sanitized,
/// hashed for dedup or stored again. Most polls that fetch a document at all bring one or two
/// new entries among dozens.
pub fn parse_changes(
    source: &str,
    bytes: &[u8],
    content_type: Option<&str>,
    document_url: &Url,
    now: DateTime<Utc>,
    known: &HashMap<RawHash, String>,
) -> Result<Changes, ParseError> {
    let (decoded, mut repairs) = decode(bytes, content_type);
    if is_json(&decoded.text) {
        // JSON Feed gives no bytes per entry: every entry is read.
        let parsed = read_document(source, &decoded, repairs, document_url, now)?;
        return Ok(Changes {
            raw_hashes: vec![None; parsed.entries.len()],
            entries: parsed.entries,
            unchanged_keys: Vec::new(),
            unread_entries: parsed.unread_entries,
            repairs: parsed.repairs,
            repairs_not_listed: parsed.repairs_not_listed,
            websub: parsed.websub,
        });
    }
    // Entries known by their bytes are not read, but what they need repaired is reported all
    // the same, as `parse_document` reports it: a source's repairs do not change from one poll
    // to the next.
    let (document, read, unread_entries) = open_markup(&decoded.text, document_url, &mut repairs)?;
    let mut changes = Changes {
        unread_entries,
        websub: document.websub_links(),
        ..Changes::default()
    };
    for index in 0..read {
        let (span, base) = document.entry_bytes(index);
        let hash = raw_hash(&base, &decoded.text[span]);
        if let Some(key) = known.get(&hash) {
            changes.unchanged_keys.push(key.clone());
        } else if let Some(entry) = document.read_entry(index, &mut repairs) {
            changes.entries.push(to_entry(source, entry, now));
            changes.raw_hashes.push(Some(hash));
        }
    }
    (changes.repairs, changes.repairs_not_listed) = repairs.finish(&decoded.text);
    Ok(changes)
}

/// Reads a page or JSON document that is no feed, fetched from `document_url`, with the
/// source's `recipe` into entries of `source`. Every item is read at every poll: a page gives no
/// bytes per entry to know it by, and pages list a few dozen items.
pub fn parse_page(
    source: &str,
    bytes: &[u8],
    content_type: Option<&str>,
    document_url: &Url,
    now: DateTime<Utc>,
    recipe: &page::Recipe,
) -> Result<Changes, page::PageError> {
    let (decoded, repairs) = decode(bytes, content_type);
    let items = match recipe {
        page::Recipe::Html(recipe) => page::html::read(&decoded.text, document_url, recipe)?,
        page::Recipe::Json(recipe) => page::json::read(&decoded.text, document_url, recipe)?,
    };
    let entries: Vec<Entry> = items
        .entries
        .into_iter()
        .map(|entry| to_entry(source, entry, now))
        .collect();
    let (repairs, repairs_not_listed) = repairs.finish(&decoded.text);
    Ok(Changes {
        raw_hashes: vec![None; entries.len()],
        entries,
        unchanged_keys: Vec::new(),
        unread_entries: items.unread,
        repairs,
        repairs_not_listed,
        // A page without a feed names no hub.
        websub: WebSubLinks::default(),
    })
}

/// Part of every raw hash: a release that reads entries differently changes it, so entries
/// stored by an older one are read again once.
const READING_VERSION: &[u8] = b"tributary entry reading 2";

fn raw_hash(base: &Url, bytes: &str) -> RawHash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(READING_VERSION);
    hasher.update(&[0]);
    hasher.update(base.as_str().as_bytes());
    hasher.update(&[0]);
    hasher.update(bytes.as_bytes());
    crate::model::first_64_bits(&hasher.finalize())
}

fn to_entry(source: &str, entry: RawEntry, now: DateTime<Utc>) -> Entry {
    let base = &entry.base;
    let content = entry
        .content
        .as_ref()
        .map(|content| clean(&as_html(content, base)))
        .filter(|html| !html.trim().is_empty());
    let summary = entry
        .summary
        .as_ref()
        .map(|summary| clean(&as_html(summary, base)))
        .filter(|html| !html.trim().is_empty());
    let title = entry
        .title
        .as_ref()
        .map(|title| one_line(as_plain(title)))
        .filter(|title| !title.is_empty())
        .or_else(|| title_from_body(content.as_deref().or(summary.as_deref())))
        .unwrap_or_else(|| UNTITLED.to_string());
    let link = entry.link;
    let content_hash = dedup::content_hash(
        content.as_deref(),
        summary.as_deref(),
        &title,
        link.as_deref(),
    );
    let id = entry.id.map(|id| clean(&id));
    let key = dedup::entry_key(id.as_deref(), link.as_deref(), &content_hash);
    let not_future = |date: Option<DateTime<Utc>>| date.filter(|date| *date <= now + MAX_FUTURE);
    let mut enclosures: Vec<Enclosure> = Vec::new();
    for enclosure in entry.enclosures {
        if !enclosures.iter().any(|known| known.url == enclosure.url) {
            enclosures.push(enclosure);
        }
    }
    Entry {
        id: EntryId::derive(source, &key),
        source: source.to_string(),
        key,
        title,
        link,
        authors: entry.authors.into_iter().filter_map(to_person).collect(),
        published: not_future(entry.published),
        updated: not_future(entry.updated),
        summary,
        content,
        categories: entry
            .categories
            .iter()
            .map(|category| clean(category.trim()))
            .filter(|term| !term.is_empty())
            .collect(),
        enclosures,
        image: entry.image,
        content_hash,
        also_in: Vec::new(),
    }
}

fn clean(text: &str) -> String {
    strip_forbidden_xml_chars(text).into_owned()
}

/// A title as a reader shows it: RSS titles and Atom's `type="html"` ones are HTML (RSS says
/// nothing about markup in titles, and publishers escape them once, twice or wrap HTML in
/// CDATA: careful readers take them as HTML); the others are text.
fn as_plain(text: &Text) -> String {
    let plain = if text.html {
        collapse_whitespace(&html_to_text(&text.value))
    } else {
        collapse_whitespace(&text.value)
    };
    clean(&plain)
}

/// A title or subtitle no longer than `MAX_TITLE_CHARS`.
fn one_line(text: String) -> String {
    if text.len() <= MAX_TITLE_CHARS {
        text
    } else {
        truncate_at_word(&text, MAX_TITLE_CHARS)
    }
}

fn as_html(text: &Text, base: &Url) -> String {
    if text.html {
        sanitize_html(&text.value, Some(base))
    } else {
        html_escape::encode_text(&text.value).into_owned()
    }
}

fn title_from_body(html: Option<&str>) -> Option<String> {
    let text = collapse_whitespace(&html_to_text(html?));
    let mut title: String = text.chars().take(TITLE_FROM_BODY_CHARS).collect();
    if title.len() < text.len() {
        title.push('…');
    }
    (!title.is_empty()).then_some(title)
}

fn to_person(person: RawPerson) -> Option<Person> {
    let non_empty = |value: Option<String>| {
        value
            .map(|value| clean(value.trim()))
            .filter(|value| !value.is_empty())
    };
    let (name, email) = match (non_empty(person.name), non_empty(person.email)) {
        (Some(name), None) => split_name_and_email(&name),
        (name, email) => (name, email),
    };
    let uri = non_empty(person.uri);
    let name = name.or_else(|| email.clone()).or_else(|| uri.clone())?;
    Some(Person { name, email, uri })
}

/// RSS authors come as `a@b (Name)` or `Name <a@b>`; Atom and JSON give the parts separately.
fn split_name_and_email(author: &str) -> (Option<String>, Option<String>) {
    let non_empty = |text: &str| Some(text.trim().to_string()).filter(|text| !text.is_empty());
    if let Some((before, rest)) = author.split_once('<')
        && let Some((email, _)) = rest.split_once('>')
        && email.contains('@')
    {
        return (non_empty(before.trim().trim_matches('"')), non_empty(email));
    }
    if let Some((email, rest)) = author.split_once('(')
        && email.contains('@')
    {
        let name = rest.trim_end().trim_end_matches(')');
        return (non_empty(name), non_empty(email));
    }
    if author.contains('@') && !author.contains(char::is_whitespace) {
        return (None, non_empty(author));
    }
    (non_empty(author), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fixture, and a document cut short at forty points.
    fn documents() -> Vec<Vec<u8>> {
        let body = "&lt;p&gt;Caf&#233; &amp;amp; &#x201C;bar&#x201D;&lt;/p&gt; ".repeat(4);
        let items: String = (0..6)
            .map(|index| {
                format!(
                    "<item><guid>g{index}</guid><title>t{index}</title><description>{body}</description></item>\n"
                )
            })
            .collect();
        let rss = format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>c</title>{items}</channel></rss>"
        );
        let mut documents: Vec<Vec<u8>> = (1..40)
            .map(|cut| rss.as_bytes()[..rss.len() * cut / 40].to_vec())
            .collect();
        documents.push(rss.into_bytes());
        for folder in ["tests/fixtures", "tests/liberal"] {
            let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
            for file in std::fs::read_dir(folder).into_iter().flatten() {
                let path = file.unwrap().path();
                if path.is_file() {
                    documents.push(std::fs::read(path).unwrap());
                }
            }
        }
        documents
    }

    #[test]
    fn reading_only_unknown_entries_gives_the_entries_and_repairs_a_whole_reading_gives() {
        let url = Url::parse("https://origin.example/feed").unwrap();
        let now = Utc::now();
        let mut compared = 0;
        for document in documents() {
            let Ok(whole) = parse_document("s", &document, None, &url, now) else {
                continue;
            };
            let all = parse_changes("s", &document, None, &url, now, &HashMap::new()).unwrap();
            assert_eq!(all.entries, whole.entries);
            // Every other entry known by its bytes: the others are read as a whole reading does.
            let known: HashMap<RawHash, String> = all
                .raw_hashes
                .iter()
                .zip(&all.entries)
                .step_by(2)
                .filter_map(|(hash, entry)| Some(((*hash)?, entry.key.clone())))
                .collect();
            let changes = parse_changes("s", &document, None, &url, now, &known).unwrap();
            let unknown: Vec<&Entry> = whole
                .entries
                .iter()
                .filter(|entry| !changes.unchanged_keys.contains(&entry.key))
                .collect();
            assert_eq!(changes.entries.iter().collect::<Vec<_>>(), unknown);
            // Known entries are not read, but their repairs are reported as a whole reading's.
            assert_eq!(changes.repairs, whole.repairs);
            compared += usize::from(!known.is_empty());
        }
        assert!(compared > 10, "only {compared} documents had known entries");
    }

    #[test]
    fn authors_are_split_into_name_and_email() {
        let cases = [
            (
                "me@example.org (Ann Smith)",
                Some("Ann Smith"),
                Some("me@example.org"),
            ),
            (
                "Ann Smith <me@example.org>",
                Some("Ann Smith"),
                Some("me@example.org"),
            ),
            (
                "\"Ann\" <me@example.org>",
                Some("Ann"),
                Some("me@example.org"),
            ),
            ("me@example.org", None, Some("me@example.org")),
            ("Ann Smith", Some("Ann Smith"), None),
            ("Ann (the editor)", Some("Ann (the editor)"), None),
        ];
        for (author, name, email) in cases {
            let (got_name, got_email) = split_name_and_email(author);
            assert_eq!(
                (got_name.as_deref(), got_email.as_deref()),
                (name, email),
                "{author}"
            );
        }
    }
}

//! Feed documents → entries.
//!
//! Bytes are decoded to UTF-8 (`charset`), legacy dialects are upgraded (`dialect`), then
//! feed-rs reads RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed 1.0/1.1 into one model, with our
//! lenient date reader (`dates`); entries' long texts are decoded beside it (`long_texts`), and
//! what it leaves out is found by one more walk (`entry_extras`). This module maps that model
//! onto ours: plain-text titles, sanitized HTML with absolute links, UTC dates no later than
//! tomorrow, authors split into name and e-mail, enclosures and thumbnails kept, identity by
//! guid → link → content hash. It does no I/O: the caller hands it bytes, their Content-Type
//! and the URL they came from.

pub mod charset;
mod dates;
mod dialect;
mod entry_extras;
mod long_texts;

use std::collections::HashMap;
use std::ops::Range;

use chrono::{DateTime, TimeDelta, Utc};
use feed_rs::model::{Entry as FeedEntry, Feed, FeedType, Text};
use url::Url;

use self::entry_extras::EntryExtras;
use crate::dedup;
use crate::model::{Enclosure, Entry, EntryId, Person};
use crate::normalize::{
    absolute_url, collapse_whitespace, html_to_text, sanitize_html, strip_forbidden_xml_chars,
    truncate_at_word,
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
    pub encoding_chosen_by: charset::Source,
    pub entries: Vec<Entry>,
    /// The entries past the first `MAX_ENTRIES_PER_DOCUMENT`, left unread.
    pub unread_entries: usize,
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
    let decoded = charset::decode(bytes, content_type);
    let document = upgraded(&decoded)?;
    let extras = entry_extras::entry_extras(&document, document_url);
    read_whole(source, &document, &extras, document_url, now, &decoded)
}

/// Every entry of `document` read.
fn read_whole(
    source: &str,
    document: &str,
    extras: &[EntryExtras],
    document_url: &Url,
    now: DateTime<Utc>,
    decoded: &charset::Decoded,
) -> Result<ParsedFeed, ParseError> {
    let whole = 0..document.len();
    let feed = read_entries(document, std::slice::from_ref(&whole), extras, document_url)?;
    Ok(to_parsed_feed(
        source,
        feed,
        document_url,
        extras,
        now,
        decoded,
    ))
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
    let decoded = charset::decode(bytes, content_type);
    let document = upgraded(&decoded)?;
    let extras = entry_extras::entry_extras(&document, document_url);
    let spans: Option<Vec<Range<usize>>> = extras.iter().map(|extra| extra.span.clone()).collect();
    // Every entry read, none remembered: where the document has no bytes per entry.
    let every_entry = || {
        let parsed = read_whole(source, &document, &extras, document_url, now, &decoded)?;
        Ok(Changes {
            raw_hashes: vec![None; parsed.entries.len()],
            entries: parsed.entries,
            unchanged_keys: Vec::new(),
            unread_entries: parsed.unread_entries,
        })
    };
    let Some(spans) = spans.filter(|spans| !spans.is_empty()) else {
        return every_entry();
    };
    let hashes: Vec<RawHash> = extras
        .iter()
        .zip(&spans)
        .take(MAX_ENTRIES_PER_DOCUMENT)
        .map(|(extra, span)| raw_hash(&extra.base, &document[span.clone()]))
        .collect();
    let mut changes = Changes {
        unread_entries: spans.len() - hashes.len(),
        ..Changes::default()
    };
    let mut unknown = Vec::new();
    for (index, hash) in hashes.iter().enumerate() {
        match known.get(hash) {
            Some(key) => changes.unchanged_keys.push(key.clone()),
            None => unknown.push(index),
        }
    }
    if unknown.is_empty() {
        return Ok(changes);
    }
    // The document without its known and unread entries: what comes before the first entry (the
    // feed's own elements, namespaces, xml:base), the unknown entries, and what follows the last.
    let kept: Vec<Range<usize>> = std::iter::once(0..spans[0].start)
        .chain(unknown.iter().map(|index| spans[*index].clone()))
        .chain(std::iter::once(spans[spans.len() - 1].end..document.len()))
        .collect();
    let unknown_extras: Vec<EntryExtras> =
        unknown.iter().map(|index| extras[*index].clone()).collect();
    // Cut to its unknown entries, a malformed document can break where the whole one does
    // not (found by fuzzing), and feed-rs and our walk can disagree on what an entry is: the
    // document is then read whole, and that answer stands.
    let Ok(feed) = read_entries(&document, &kept, &unknown_extras, document_url) else {
        return every_entry();
    };
    if feed.entries.len() != unknown.len() {
        return every_entry();
    }
    changes.entries =
        to_parsed_feed(source, feed, document_url, &unknown_extras, now, &decoded).entries;
    changes.raw_hashes = unknown.iter().map(|index| Some(hashes[*index])).collect();
    Ok(changes)
}

/// Part of every raw hash: a release that reads entries differently changes it, so entries
/// stored by an older one are read again once.
const READING_VERSION: &[u8] = b"tributary entry reading 1";

fn raw_hash(base: &Url, bytes: &str) -> RawHash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(READING_VERSION);
    hasher.update(&[0]);
    hasher.update(base.as_str().as_bytes());
    hasher.update(&[0]);
    hasher.update(bytes.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    RawHash::from_le_bytes(first)
}

/// The decoded text without XML-illegal characters, in a dialect feed-rs reads.
fn upgraded(decoded: &charset::Decoded) -> Result<String, ParseError> {
    let text = strip_forbidden_xml_chars(&decoded.text);
    let upgraded = dialect::upgrade(&text, dialect::detect(&text))
        .map_err(|error| ParseError(error.to_string()))?;
    Ok(upgraded.into_owned())
}

/// Reads the parts `kept` of `document`, joined, with feed-rs; the long texts of `extras` (the
/// entries in those parts) are read by `long_texts` instead. Should feed-rs refuse the document
/// with the texts set aside, or give back a token that is not ours, it reads the parts as they
/// are, and its answer stands.
fn read_entries(
    document: &str,
    kept: &[Range<usize>],
    extras: &[EntryExtras],
    document_url: &Url,
) -> Result<Feed, ParseError> {
    let hollowed = long_texts::hollowed(
        document,
        kept,
        extras.iter().flat_map(|extra| &extra.long_texts),
    );
    if !hollowed.is_hollow() {
        return read_feed(&hollowed.document, document_url);
    }
    if let Ok(mut feed) = read_feed(&hollowed.document, document_url)
        && hollowed.fill(&mut feed)
    {
        return Ok(feed);
    }
    read_feed(
        &long_texts::hollowed(document, kept, []).document,
        document_url,
    )
}

thread_local! {
    /// Set while feed-rs reads a document on this thread: a panic then is the document's error.
    static READING_WITH_FEED_RS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps the panics of feed-rs's reading out of the log: they are reported as the document's
/// error instead. Every other panic goes to the hook there was before.
fn quiet_panics_while_reading() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !READING_WITH_FEED_RS.get() {
                before(info);
            }
        }));
    });
}

/// feed-rs's reading of `document`. Its XML reader panics on some malformed documents (an XML
/// declaration naming an encoding in the middle of one, found by fuzzing): that is taken as
/// the document's error, like any other it cannot read.
fn read_feed(document: &str, document_url: &Url) -> Result<Feed, ParseError> {
    quiet_panics_while_reading();
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(document_url.as_str()))
        // An entry without an id gets none here: we fall back to its link, then its content hash.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .timestamp_parser(parse_date)
        .build();
    READING_WITH_FEED_RS.set(true);
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parser.parse(document.as_bytes())
    }));
    READING_WITH_FEED_RS.set(false);
    match read {
        Ok(feed) => feed.map_err(|error| ParseError(error.to_string())),
        Err(panic) => Err(ParseError(format!(
            "the XML reader gave up on it: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no reason given")
        ))),
    }
}

fn to_parsed_feed(
    source: &str,
    feed: Feed,
    document_url: &Url,
    extras: &[EntryExtras],
    now: DateTime<Utc>,
    decoded: &charset::Decoded,
) -> ParsedFeed {
    // The walk finds one value per entry unless the document is not XML (JSON Feed).
    let extras = (extras.len() == feed.entries.len()).then_some(extras);
    let not_future = |date: Option<DateTime<Utc>>| date.filter(|date| *date <= now + MAX_FUTURE);
    // RSS says nothing about markup in titles, and publishers escape them once, twice or wrap
    // HTML in CDATA: like careful readers, we take RSS titles as HTML. Atom says, JSON is text.
    let titles = match feed.feed_type {
        FeedType::RSS0 | FeedType::RSS1 | FeedType::RSS2 => TitleMarkup::Html,
        FeedType::Atom | FeedType::JSON => TitleMarkup::AsDeclared,
    };
    ParsedFeed {
        title: feed
            .title
            .as_ref()
            .map(|title| one_line(text_as_plain(title)))
            .filter(|t| !t.is_empty()),
        link: feed
            .links
            .iter()
            .find(|link| matches!(link.rel.as_deref(), None | Some("alternate")))
            .and_then(|link| absolute_url(&link.href, Some(document_url))),
        id: Some(clean(&feed.id)).filter(|id| !id.is_empty()),
        updated: not_future(feed.updated),
        published: not_future(feed.published),
        authors: feed.authors.into_iter().filter_map(to_person).collect(),
        subtitle: feed
            .description
            .as_ref()
            .map(|subtitle| one_line(text_as_plain(subtitle)))
            .filter(|t| !t.is_empty()),
        encoding: decoded.encoding,
        encoding_chosen_by: decoded.chosen_by,
        unread_entries: feed.entries.len().saturating_sub(MAX_ENTRIES_PER_DOCUMENT),
        entries: feed
            .entries
            .into_iter()
            .take(MAX_ENTRIES_PER_DOCUMENT)
            .enumerate()
            .map(|(index, entry)| {
                let extras = extras.map_or_else(
                    || EntryExtras::at(document_url.clone()),
                    |extras| extras[index].clone(),
                );
                to_entry(source, entry, &extras, now, titles)
            })
            .collect(),
    }
}

#[derive(Clone, Copy)]
enum TitleMarkup {
    Html,
    AsDeclared,
}

fn to_entry(
    source: &str,
    entry: FeedEntry,
    extras: &EntryExtras,
    now: DateTime<Utc>,
    titles: TitleMarkup,
) -> Entry {
    // `entry.base` is the content element's own xml:base, relative to the entry's.
    let base = entry
        .base
        .as_deref()
        .and_then(|base| extras.base.join(base).ok())
        .unwrap_or_else(|| extras.base.clone());
    let link = entry
        .links
        .iter()
        .find(|link| matches!(link.rel.as_deref(), None | Some("alternate")))
        .and_then(|link| absolute_url(&link.href, Some(&base)));
    let content = entry
        .content
        .as_ref()
        .and_then(|content| {
            let body = content.body.as_deref()?;
            Some(
                if content.content_type.essence().to_string() == "text/plain" {
                    html_escape::encode_text(body).into_owned()
                } else {
                    sanitize_html(body, Some(&base))
                },
            )
        })
        .map(|html| clean(&html))
        .filter(|html| !html.trim().is_empty());
    let summary = entry
        .summary
        .as_ref()
        .map(|summary| clean(&text_as_html(summary, &base)))
        .filter(|html| !html.trim().is_empty());
    let title = entry
        .title
        .as_ref()
        .map(|title| {
            one_line(match titles {
                TitleMarkup::Html => clean(&collapse_whitespace(&html_to_text(&title.content))),
                TitleMarkup::AsDeclared => text_as_plain(title),
            })
        })
        .filter(|title| !title.is_empty())
        .or_else(|| title_from_body(content.as_deref().or(summary.as_deref())))
        .unwrap_or_else(|| UNTITLED.to_string());
    let content_hash = dedup::content_hash(
        content.as_deref(),
        summary.as_deref(),
        &title,
        link.as_deref(),
    );
    let key = dedup::entry_key(Some(&clean(&entry.id)), link.as_deref(), &content_hash);
    let not_future = |date: Option<DateTime<Utc>>| date.filter(|date| *date <= now + MAX_FUTURE);
    Entry {
        id: EntryId::derive(source, &key),
        source: source.to_string(),
        key,
        title,
        link,
        authors: entry.authors.into_iter().filter_map(to_person).collect(),
        published: not_future(
            entry
                .published
                .or_else(|| extras.dcterms_published.as_deref().and_then(parse_date)),
        ),
        updated: not_future(
            entry
                .updated
                .or_else(|| extras.dcterms_modified.as_deref().and_then(parse_date)),
        ),
        summary,
        content,
        categories: entry
            .categories
            .into_iter()
            .map(|category| clean(&category.label.unwrap_or(category.term)))
            .filter(|term| !term.trim().is_empty())
            .collect(),
        enclosures: enclosures(&entry.links, &entry.media, &base),
        image: entry
            .media
            .iter()
            .flat_map(|media| &media.thumbnails)
            .map(|thumbnail| thumbnail.image.uri.as_str())
            .chain(extras.thumbnail.as_deref())
            .find_map(|uri| absolute_url(uri, Some(&base))),
        content_hash,
        also_in: Vec::new(),
    }
}

/// RSS enclosures and media:content (which feed-rs both reports as media), and Atom
/// `link rel="enclosure"`.
fn enclosures(
    links: &[feed_rs::model::Link],
    media: &[feed_rs::model::MediaObject],
    base: &Url,
) -> Vec<Enclosure> {
    let from_links = links
        .iter()
        // Atom says rel="enclosure"; JSON Feed attachments come as links with no rel and a
        // media type, which an Atom alternate link (text/html, or none) does not have.
        .filter(|link| {
            link.rel.as_deref() == Some("enclosure")
                || (link.rel.is_none()
                    && link
                        .media_type
                        .as_deref()
                        .is_some_and(|media_type| !media_type.starts_with("text/html")))
        })
        .filter_map(|link| {
            Some(Enclosure {
                url: absolute_url(&link.href, Some(base))?,
                mime_type: link.media_type.clone(),
                length: link.length,
            })
        });
    let from_media = media
        .iter()
        .flat_map(|object| &object.content)
        .filter_map(|content| {
            Some(Enclosure {
                url: absolute_url(content.url.as_ref()?.as_str(), Some(base))?,
                mime_type: content.content_type.as_ref().map(ToString::to_string),
                length: content.size,
            })
        });
    let mut all: Vec<Enclosure> = Vec::new();
    for enclosure in from_links.chain(from_media) {
        if !all.iter().any(|known| known.url == enclosure.url) {
            all.push(enclosure);
        }
    }
    all
}

fn clean(text: &str) -> String {
    strip_forbidden_xml_chars(text).into_owned()
}

fn is_plain_text(text: &Text) -> bool {
    text.content_type.essence().to_string() == "text/plain"
}

fn text_as_plain(text: &Text) -> String {
    let plain = if is_plain_text(text) {
        collapse_whitespace(&text.content)
    } else {
        collapse_whitespace(&html_to_text(&text.content))
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

fn text_as_html(text: &Text, base: &Url) -> String {
    if is_plain_text(text) {
        html_escape::encode_text(&text.content).into_owned()
    } else {
        sanitize_html(&text.content, Some(base))
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

fn to_person(person: feed_rs::model::Person) -> Option<Person> {
    let non_empty = |value: Option<String>| {
        value
            .map(|value| clean(value.trim()))
            .filter(|value| !value.is_empty())
    };
    let (name, email) = match (non_empty(person.name), non_empty(person.email)) {
        (Some(name), None) => split_name_and_email(&name),
        // feed-rs splits `a@b (Name)` itself but keeps the parentheses.
        (name, email) => (
            name.map(|name| {
                name.strip_prefix('(')
                    .and_then(|inner| inner.strip_suffix(')'))
                    .map_or(name.clone(), str::to_string)
            }),
            email,
        ),
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

    /// Documents whose entries have long texts of every kind the reading sets aside, and of the
    /// kinds it leaves to feed-rs.
    fn long_text_documents() -> Vec<String> {
        let body = "&lt;p&gt;Caf&#233; &amp;amp; &#x201C;bar&#x201D; &amp;nbsp;&lt;a href=\"/x?a=1&amp;amp;b=2\"&gt;link&lt;/a&gt;&lt;/p&gt; ".repeat(4);
        let cdata = "<![CDATA[<p>Caf\u{e9} & <b>bold</b> &amp; kept</p> ]]>".repeat(4);
        let padding = "x".repeat(130);
        let items = [
            format!("<description>{body}</description><content:encoded>{cdata}</content:encoded>"),
            format!("<description>\n  &#160;{body}&#10; </description>"),
            format!("<description>{body}<!-- a comment -->{cdata}</description>"),
            format!("<description>{body} &unknown; &#x1F600; &#128512;</description>"),
            format!("<description>{body}<b>an element</b></description>"),
            format!("<title>{padding} &amp; a long title</title><description>   </description>"),
            format!(
                "<link>https://origin.example/{padding}</link><guid>{padding}</guid><description>{body}</description>"
            ),
            format!(
                "<dc:creator>{padding}</dc:creator><category>{padding}</category><description>{body}</description>"
            ),
        ];
        let rss = |items: &[String]| {
            let items: String = items
                .iter()
                .enumerate()
                .map(|(index, item)| format!("<item><guid>g{index}</guid>{item}</item>\n"))
                .collect();
            format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
                 xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>c</title>\
                 <description>{body}</description>{items}</channel></rss>"
            )
        };
        let atom = |entries: &str| {
            format!(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"https://origin.example/blog/\"><title>a</title>\
                 <entry><id>1</id><title type=\"html\">{body}</title><summary type=\"text\">{body}</summary>\
                 <content type=\"html\" xml:base=\"post/\">{body}</content></entry>{entries}</feed>"
            )
        };
        let every_item = rss(&items);
        let mut documents = vec![
            every_item.clone(),
            atom(&format!(
                "<entry><id>2</id><title>t</title><content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div></content></entry>\
                 <entry><id>3</id><title>t</title><content type=\"xhtml\">{body}</content></entry>"
            )),
            // A document that carries the tokens' marker itself, where a token would be read.
            atom("<entry><id>2</id><title>\u{FDD0}0\u{FDD0}</title></entry>"),
            // Long texts feed-rs refuses, each in a document of its own.
            atom(&format!(
                "<entry><id>2</id><content src=\"x\" type=\"text/html\">{padding}</content></entry>"
            )),
            rss(&[format!("<description>{body} AT&T {padding}</description>")]),
            rss(&[format!("<description>{body} &#xFFFE;</description>")]),
        ];
        // Every fixture, and a document cut short at points inside its long texts.
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for file in std::fs::read_dir(fixtures).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            documents.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        documents.extend((1..40).map(|cut| {
            every_item[..every_item.floor_char_boundary(every_item.len() * cut / 40)].to_string()
        }));
        documents
    }

    /// `parse_document`, without setting any long text aside.
    fn parse_with_feed_rs_alone(
        document: &str,
        url: &Url,
        now: DateTime<Utc>,
    ) -> Result<ParsedFeed, ParseError> {
        let decoded = charset::decode(document.as_bytes(), None);
        let document = upgraded(&decoded)?;
        let extras = entry_extras::entry_extras(&document, url);
        let feed = read_feed(&document, url)?;
        Ok(to_parsed_feed("s", feed, url, &extras, now, &decoded))
    }

    #[test]
    fn long_texts_read_without_feed_rs_give_the_entries_feed_rs_gives() {
        let url = Url::parse("https://origin.example/feed").unwrap();
        let now = Utc::now();
        let mut set_aside = 0;
        for document in long_text_documents() {
            let decoded = charset::decode(document.as_bytes(), None);
            if let Ok(upgraded) = upgraded(&decoded) {
                let extras = entry_extras::entry_extras(&upgraded, &url);
                let texts = extras.iter().flat_map(|extra| &extra.long_texts);
                set_aside += usize::from(
                    long_texts::hollowed(
                        &upgraded,
                        std::slice::from_ref(&(0..upgraded.len())),
                        texts,
                    )
                    .is_hollow(),
                );
            }
            let expected = parse_with_feed_rs_alone(&document, &url, now);
            let got = parse_document("s", document.as_bytes(), None, &url, now);
            match (expected, got) {
                (Ok(expected), Ok(got)) => assert_eq!(got.entries, expected.entries, "{document}"),
                (Err(expected), Err(got)) => assert_eq!(got.to_string(), expected.to_string()),
                (expected, got) => panic!("{document}: {expected:?} but {got:?}"),
            }
            // The same entries when every other one is known by its bytes (a reduced document).
            let all = parse_changes("s", document.as_bytes(), None, &url, now, &HashMap::new());
            if let (Ok(all), Ok(whole)) = (
                all,
                parse_document("s", document.as_bytes(), None, &url, now),
            ) {
                let known: HashMap<RawHash, String> = all
                    .raw_hashes
                    .iter()
                    .zip(&all.entries)
                    .step_by(2)
                    .filter_map(|(hash, entry)| Some(((*hash)?, entry.key.clone())))
                    .collect();
                let changes =
                    parse_changes("s", document.as_bytes(), None, &url, now, &known).unwrap();
                let unknown: Vec<&Entry> = whole
                    .entries
                    .iter()
                    .filter(|entry| !changes.unchanged_keys.contains(&entry.key))
                    .collect();
                assert_eq!(
                    changes.entries.iter().collect::<Vec<_>>(),
                    unknown,
                    "{document}"
                );
            }
        }
        assert!(
            set_aside > 10,
            "only {set_aside} documents had texts set aside"
        );
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

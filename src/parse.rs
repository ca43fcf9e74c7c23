//! Feed documents → entries.
//!
//! feed-rs reads RSS 0.9x/1.0/2.0, Atom 1.0 and JSON Feed into one model; this module maps that
//! model onto ours: plain-text titles, sanitized HTML with absolute links, UTC dates, identity by
//! guid → link → content hash. It does no I/O: the caller hands it bytes and the URL they came
//! from.

use feed_rs::model::{Entry as FeedEntry, Text};
use url::Url;

use crate::dedup;
use crate::model::{Entry, EntryId, Person};
use crate::normalize::{absolute_url, collapse_whitespace, html_to_text, sanitize_html};

/// Shown for entries whose feed gives neither a title nor any text to take one from.
const UNTITLED: &str = "(untitled)";
/// A title made from the body is cut to this many characters.
const TITLE_FROM_BODY_CHARS: usize = 80;

#[derive(Debug, thiserror::Error)]
#[error("not a feed document: {0}")]
pub struct ParseError(String);

/// Parses a feed document fetched from `document_url` into entries of `source`.
pub fn parse_feed(
    source: &str,
    bytes: &[u8],
    document_url: &Url,
) -> Result<Vec<Entry>, ParseError> {
    let feed = feed_rs::parser::Builder::new()
        .base_uri(Some(document_url.as_str()))
        // An entry without an id gets none here: we fall back to its link, then its content hash.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build()
        .parse(bytes)
        .map_err(|error| ParseError(error.to_string()))?;
    Ok(feed
        .entries
        .into_iter()
        .map(|entry| to_entry(source, entry, document_url))
        .collect())
}

fn to_entry(source: &str, entry: FeedEntry, document_url: &Url) -> Entry {
    let base = entry
        .base
        .as_deref()
        .and_then(|base| document_url.join(base).ok())
        .unwrap_or_else(|| document_url.clone());
    let link = entry
        .links
        .iter()
        .find(|link| matches!(link.rel.as_deref(), None | Some("alternate")))
        .or(entry.links.first())
        .and_then(|link| absolute_url(&link.href, Some(&base)));
    let content = entry
        .content
        .as_ref()
        .and_then(|content| content.body.as_deref())
        .map(|body| sanitize_html(body, Some(&base)))
        .filter(|html| !html.trim().is_empty());
    let summary = entry
        .summary
        .as_ref()
        .map(|summary| text_as_html(summary, &base))
        .filter(|html| !html.trim().is_empty());
    let title = entry
        .title
        .as_ref()
        .map(text_as_plain)
        .filter(|title| !title.is_empty())
        .or_else(|| title_from_body(content.as_deref().or(summary.as_deref())))
        .unwrap_or_else(|| UNTITLED.to_string());
    let content_hash = dedup::content_hash(content.as_deref(), summary.as_deref(), &title);
    let key = dedup::entry_key(Some(&entry.id), link.as_deref(), &content_hash);
    Entry {
        id: EntryId::derive(source, &key),
        source: source.to_string(),
        key,
        title,
        link,
        authors: entry.authors.into_iter().filter_map(to_person).collect(),
        published: entry.published,
        updated: entry.updated,
        summary,
        content,
        categories: entry
            .categories
            .into_iter()
            .map(|category| category.label.unwrap_or(category.term))
            .filter(|term| !term.trim().is_empty())
            .collect(),
        content_hash,
    }
}

fn is_plain_text(text: &Text) -> bool {
    text.content_type.essence().to_string() == "text/plain"
}

fn text_as_plain(text: &Text) -> String {
    if is_plain_text(text) {
        collapse_whitespace(&text.content)
    } else {
        collapse_whitespace(&html_to_text(&text.content))
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
    let non_empty = |value: Option<String>| value.filter(|value| !value.trim().is_empty());
    let email = non_empty(person.email);
    let uri = non_empty(person.uri);
    let name = non_empty(person.name)
        .or_else(|| email.clone())
        .or_else(|| uri.clone())?;
    Some(Person {
        name: name.trim().to_string(),
        email,
        uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://example.org/blog/feed.xml").unwrap()
    }

    #[test]
    fn rss_items_become_entries_with_absolute_links_and_sanitized_html() {
        let rss = br#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>Blog</title><link>https://example.org/</link>
<item><title>Fish &amp; chips</title><link>/posts/1</link><guid>urn:post:1</guid>
<pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate><author>me@example.org (Me)</author>
<category>food</category>
<description>&lt;p onclick="x()"&gt;Tasty &lt;a href="more"&gt;more&lt;/a&gt;&lt;/p&gt;</description></item>
<item><description>No title, no guid, no link here.</description></item>
</channel></rss>"#;
        let entries = parse_feed("blog", rss, &url()).unwrap();
        assert_eq!(entries.len(), 2);
        let first = &entries[0];
        assert_eq!(first.title, "Fish & chips");
        assert_eq!(first.link.as_deref(), Some("https://example.org/posts/1"));
        assert_eq!(first.key, "urn:post:1");
        assert_eq!(
            first.published.unwrap().to_rfc3339(),
            "2003-06-10T04:00:00+00:00"
        );
        assert_eq!(first.categories, vec!["food"]);
        let summary = first.summary.as_deref().unwrap();
        assert!(!summary.contains("onclick"), "{summary}");
        assert!(
            summary.contains("https://example.org/blog/more"),
            "{summary}"
        );

        let second = &entries[1];
        assert_eq!(second.title, "No title, no guid, no link here.");
        assert_eq!(second.key, format!("hash:{}", second.content_hash.as_str()));
        assert_eq!(second.published, None);
    }

    #[test]
    fn atom_entries_keep_ids_authors_and_content() {
        let atom = br#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:feed</id><updated>2024-01-02T03:04:05Z</updated>
<entry><title type="html">&lt;em&gt;Hello&lt;/em&gt; world</title><id>tag:example.org,2024:1</id>
<link rel="alternate" href="https://example.org/1"/><updated>2024-01-02T03:04:05+02:00</updated>
<author><name>Ann</name><email>ann@example.org</email></author>
<content type="html">&lt;p&gt;Body&lt;/p&gt;</content></entry></feed>"#;
        let entries = parse_feed("a", atom, &url()).unwrap();
        let entry = &entries[0];
        assert_eq!(entry.title, "Hello world");
        assert_eq!(entry.key, "tag:example.org,2024:1");
        assert_eq!(
            entry.updated.unwrap().to_rfc3339(),
            "2024-01-02T01:04:05+00:00"
        );
        assert_eq!(entry.authors[0].name, "Ann");
        assert_eq!(entry.authors[0].email.as_deref(), Some("ann@example.org"));
        assert_eq!(entry.content.as_deref(), Some("<p>Body</p>"));
    }

    #[test]
    fn json_feed_is_read() {
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"J",
            "items":[{"id":"1","url":"https://example.org/j1","title":"J one","content_html":"<p>Hi</p>",
            "date_published":"2024-05-06T07:08:09Z"}]}"#;
        let entries = parse_feed("j", json, &url()).unwrap();
        assert_eq!(entries[0].title, "J one");
        assert_eq!(entries[0].link.as_deref(), Some("https://example.org/j1"));
    }

    #[test]
    fn garbage_is_an_error() {
        let error = parse_feed("x", b"<html><body>not a feed</body></html>", &url()).unwrap_err();
        assert!(
            error.to_string().starts_with("not a feed document"),
            "{error}"
        );
    }
}

//! Legacy feed dialects, upgraded to the modern ones before parsing.
//!
//! feed-rs reads RSS 0.91–2.0, RSS 1.0, Atom 1.0 and JSON Feed, but yields an empty feed for
//! RSS 0.90 and Atom 0.3 and refuses `<rss>` without a version. Rather than keep a second and a
//! third mapping from other crates' models (atom_syndication, for one, drops Atom 0.3's
//! `issued` and `modified` dates), we recognise those documents by their root element and
//! rewrite them, element by element with quick-xml, into the dialect that supersedes them. Then
//! one parser and one mapping serve every format.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer, XmlVersion};

const ATOM_03_NS: &str = "http://purl.org/atom/ns#";
const ATOM_10_NS: &str = "http://www.w3.org/2005/Atom";
const RSS_090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS_10_NS: &str = "http://purl.org/rss/1.0/";

/// What kind of document the bytes hold, as far as parsing needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// A dialect feed-rs reads as it is (RSS 0.91+, RSS 1.0, Atom 1.0, JSON Feed, or unknown).
    Modern,
    /// `<rss>` without a `version` attribute: read as RSS 2.0.
    RssWithoutVersion,
    /// `<rdf:RDF>` in the RSS 0.90 namespace: read as RSS 1.0, its direct successor.
    Rss090,
    /// `<feed>` in the Atom 0.3 namespace: read as Atom 1.0.
    Atom03,
}

/// Looks at the root element only.
pub fn detect(document: &str) -> Dialect {
    let mut reader = Reader::from_str(document);
    loop {
        match reader.read_event() {
            Ok(Event::Start(root) | Event::Empty(root)) => return classify(&root),
            Ok(Event::Eof) | Err(_) => return Dialect::Modern,
            Ok(_) => {}
        }
    }
}

fn classify(root: &BytesStart) -> Dialect {
    let default_ns = attribute(root, "xmlns");
    match root.name().as_ref() {
        "rss" if attribute(root, "version").is_none() => Dialect::RssWithoutVersion,
        "rdf:RDF" if default_ns.as_deref() == Some(RSS_090_NS) => Dialect::Rss090,
        "feed" if default_ns.as_deref() == Some(ATOM_03_NS) => Dialect::Atom03,
        _ => Dialect::Modern,
    }
}

fn attribute<'a>(element: &'a BytesStart, name: &str) -> Option<Cow<'a, str>> {
    element
        .attributes()
        .flatten()
        .find(|attr| attr.key.as_ref() == name)
        .and_then(|attr| attr.normalized_value(XmlVersion::Implicit1_0).ok())
}

#[derive(Debug, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct UpgradeError(String);

/// Rewrites a legacy document into its modern dialect; `Modern` documents come back unchanged.
pub fn upgrade(document: &str, dialect: Dialect) -> Result<Cow<'_, str>, UpgradeError> {
    if dialect == Dialect::Modern {
        return Ok(Cow::Borrowed(document));
    }
    let error = |e: &dyn std::fmt::Display| UpgradeError(e.to_string());
    let mut reader = Reader::from_str(document);
    let mut writer = Writer::new(Vec::with_capacity(document.len()));
    let mut depth = 0usize;
    // Atom 0.3 elements with no Atom 1.0 counterpart are dropped with their content.
    let mut skipping: Option<usize> = None;
    loop {
        let event = reader.read_event().map_err(|e| error(&e))?;
        let event = match event {
            Event::Eof => break,
            Event::Start(element) => {
                depth += 1;
                if skipping.is_some() {
                    continue;
                }
                match rewrite(dialect, element, depth == 1) {
                    Some(element) => Event::Start(element),
                    None => {
                        skipping = Some(depth);
                        continue;
                    }
                }
            }
            Event::Empty(element) => {
                if skipping.is_some() {
                    continue;
                }
                match rewrite(dialect, element, depth == 0) {
                    Some(element) => Event::Empty(element),
                    None => continue,
                }
            }
            Event::End(end) => {
                let closing = depth;
                depth = depth.saturating_sub(1);
                if let Some(level) = skipping {
                    if level == closing {
                        skipping = None;
                    }
                    continue;
                }
                let name = end.name().as_ref().to_string();
                Event::End(quick_xml::events::BytesEnd::new(
                    renamed(dialect, &name).to_string(),
                ))
            }
            _ if skipping.is_some() => continue,
            other => other,
        };
        writer.write_event(event).map_err(|e| error(&e))?;
    }
    String::from_utf8(writer.into_inner())
        .map(Cow::Owned)
        .map_err(|e| error(&e))
}

/// The element as the modern dialect spells it, or `None` to drop it.
fn rewrite(dialect: Dialect, element: BytesStart, is_root: bool) -> Option<BytesStart<'static>> {
    let name = element.name().as_ref().to_string();
    if dialect == Dialect::Atom03 && matches!(name.as_str(), "created" | "info") {
        return None;
    }
    let mut upgraded = BytesStart::new(renamed(dialect, &name).to_string());
    let mut has_version = false;
    for attr in element.attributes().flatten() {
        let key = attr.key.as_ref().to_string();
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map(Cow::into_owned)
            .unwrap_or_default();
        has_version |= key == "version";
        match (dialect, key.as_str()) {
            (Dialect::Atom03, "xmlns") if value == ATOM_03_NS => {
                upgraded.push_attribute(("xmlns", ATOM_10_NS));
            }
            (Dialect::Atom03, "version" | "mode") => {}
            (Dialect::Atom03, "type") => {
                upgraded.push_attribute(("type", atom_10_text_type(&value)))
            }
            (Dialect::Rss090, "xmlns") if value == RSS_090_NS => {
                upgraded.push_attribute(("xmlns", RSS_10_NS));
            }
            _ => upgraded.push_attribute((key.as_str(), value.as_str())),
        }
    }
    if dialect == Dialect::RssWithoutVersion && is_root && !has_version {
        upgraded.push_attribute(("version", "2.0"));
    }
    Some(upgraded)
}

fn renamed(dialect: Dialect, name: &str) -> &str {
    match (dialect, name) {
        (Dialect::Atom03, "issued") => "published",
        (Dialect::Atom03, "modified") => "updated",
        (Dialect::Atom03, "tagline") => "subtitle",
        (Dialect::Atom03, "copyright") => "rights",
        (Dialect::Atom03, "url") => "uri",
        _ => name,
    }
}

/// Atom 0.3 gives MIME types where Atom 1.0 has `text`, `html` and `xhtml`.
fn atom_10_text_type(value: &str) -> &str {
    match value {
        "text/html" => "html",
        "application/xhtml+xml" => "xhtml",
        "text/plain" => "text",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_legacy_roots_and_leaves_modern_ones() {
        assert_eq!(
            detect("<?xml version=\"1.0\"?><rss><channel/></rss>"),
            Dialect::RssWithoutVersion
        );
        assert_eq!(
            detect("<rss version=\"0.91\"><channel/></rss>"),
            Dialect::Modern
        );
        assert_eq!(
            detect(
                "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"/>"
            ),
            Dialect::Rss090
        );
        assert_eq!(
            detect("<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"/>"),
            Dialect::Atom03
        );
        assert_eq!(
            detect("<feed xmlns=\"http://www.w3.org/2005/Atom\"/>"),
            Dialect::Modern
        );
        assert_eq!(
            detect("{\"version\": \"https://jsonfeed.org/version/1.1\"}"),
            Dialect::Modern
        );
    }

    #[test]
    fn atom_03_elements_are_renamed_and_created_is_dropped() {
        let upgraded = upgrade(
            "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><entry><issued>2003-12-13T08:29:29-04:00</issued>\
             <modified>2003-12-13T18:30:02Z</modified><created>2003-12-13T18:30:02Z</created>\
             <content type=\"text/html\" mode=\"escaped\">&lt;p&gt;x&lt;/p&gt;</content></entry></feed>",
            Dialect::Atom03,
        )
        .unwrap();
        assert_eq!(
            upgraded,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><published>2003-12-13T08:29:29-04:00</published>\
             <updated>2003-12-13T18:30:02Z</updated>\
             <content type=\"html\">&lt;p&gt;x&lt;/p&gt;</content></entry></feed>"
        );
    }

    #[test]
    fn rss_without_version_gets_one() {
        let upgraded = upgrade(
            "<rss><channel><title>T</title></channel></rss>",
            Dialect::RssWithoutVersion,
        )
        .unwrap();
        assert_eq!(
            upgraded,
            "<rss version=\"2.0\"><channel><title>T</title></channel></rss>"
        );
    }
}

//! WebSub discovery (§4 of the Recommendation): the hubs a feed names and its own URL (the
//! topic to subscribe to), from the HTTP `Link` header (RFC 8288) or from the document itself
//! (Atom and RSS `atom:link`, JSON Feed `hubs` and `feed_url`). The header comes first where
//! both say something, as §4 asks.

use url::Url;

/// More hubs than this in one document are not looked at.
const MAX_HUBS: usize = 8;

/// The hubs a feed names, in order, and the URL it calls its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebSubLinks {
    pub hubs: Vec<Url>,
    pub topic: Option<Url>,
}

impl WebSubLinks {
    /// Adds a link of relation `rel` to `href` (resolved against `base`): a hub, or the feed's
    /// self. Other relations, other schemes and URLs that do not parse are passed over.
    pub fn add(&mut self, rel: &str, href: &str, base: &Url) {
        // An empty reference is the document itself: no hub.
        let href = href.trim();
        if href.is_empty() {
            return;
        }
        let Some(url) = base
            .join(href)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
        else {
            return;
        };
        for rel in rel.split_ascii_whitespace() {
            if rel.eq_ignore_ascii_case("hub") {
                if self.hubs.len() < MAX_HUBS && !self.hubs.contains(&url) {
                    self.hubs.push(url.clone());
                }
            } else if rel.eq_ignore_ascii_case("self") && self.topic.is_none() {
                self.topic = Some(url.clone());
            }
        }
    }

    /// The links of `Link` header values (RFC 8288), relative ones resolved against `base`.
    pub fn from_headers(
        values: impl IntoIterator<Item = impl AsRef<str>>,
        base: &Url,
    ) -> WebSubLinks {
        let mut links = WebSubLinks::default();
        for value in values {
            for (href, rel) in link_values(value.as_ref()) {
                links.add(&rel, href, base);
            }
        }
        links
    }

    /// These links (from the header), and the document's where the header names none.
    pub fn or(self, document: WebSubLinks) -> WebSubLinks {
        WebSubLinks {
            hubs: if self.hubs.is_empty() {
                document.hubs
            } else {
                self.hubs
            },
            topic: self.topic.or(document.topic),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.hubs.is_empty() && self.topic.is_none()
    }
}

/// The `<URI>; rel=...` links of one `Link` header value: each URI with its first `rel`
/// parameter (empty when it has none; RFC 8288 §3.3 has later ones ignored). Anything that is
/// not a link is skipped to the next `<`; commas and semicolons inside `<>` and quoted strings
/// split nothing.
fn link_values(value: &str) -> Vec<(&str, String)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let href = &rest[open + 1..open + close];
        let (rel, after) = link_parameters(&rest[open + close + 1..]);
        links.push((href, rel.unwrap_or_default()));
        rest = after;
    }
    links
}

/// Reads the `; name=value` parameters that follow a link's `<URI>`, up to the comma that ends
/// the link. Returns the first `rel`'s value, and the text after that comma.
fn link_parameters(mut rest: &str) -> (Option<String>, &str) {
    let mut rel = None;
    loop {
        rest = rest.trim_start();
        match rest.chars().next() {
            None => return (rel, ""),
            Some(',') => return (rel, &rest[1..]),
            Some(';') => {
                rest = &rest[1..];
                continue;
            }
            Some(_) => {}
        }
        let name_end = rest.find(['=', ';', ',']).unwrap_or(rest.len());
        let name = rest[..name_end].trim();
        rest = &rest[name_end..];
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            (value, rest) = parameter_value(after.trim_start());
        }
        if rel.is_none() && name.eq_ignore_ascii_case("rel") {
            rel = Some(value);
        }
    }
}

/// A parameter's value at the start of `rest`, a quoted string (its escapes undone; one never
/// closed runs to the end) or a token, and the text after it.
fn parameter_value(rest: &str) -> (String, &str) {
    let Some(quoted) = rest.strip_prefix('"') else {
        let end = rest.find([';', ',']).unwrap_or(rest.len());
        return (rest[..end].trim_end().to_string(), &rest[end..]);
    };
    let mut value = String::new();
    let mut characters = quoted.char_indices();
    while let Some((at, character)) = characters.next() {
        match character {
            '"' => return (value, &quoted[at + 1..]),
            '\\' => value.extend(characters.next().map(|(_, escaped)| escaped)),
            _ => value.push(character),
        }
    }
    (value, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://site.example/blog/feed.xml").unwrap()
    }

    fn urls(urls: &[&str]) -> Vec<Url> {
        urls.iter().map(|url| Url::parse(url).unwrap()).collect()
    }

    #[test]
    fn link_headers_give_hubs_and_self_however_they_are_written() {
        let links = WebSubLinks::from_headers(
            [
                r#"<https://hub.example/>; rel="hub", </blog/feed.xml>; rel=self"#,
                r#"<https://other-hub.example/a,b>; title="x, y"; REL="Hub alternate", <https://hub.example/>; rel=hub"#,
                "<https://site.example/>; rel=\"alternate\"",
            ],
            &base(),
        );
        assert_eq!(
            links.hubs,
            urls(&["https://hub.example/", "https://other-hub.example/a,b"])
        );
        assert_eq!(
            links.topic,
            urls(&["https://site.example/blog/feed.xml"]).pop()
        );
    }

    #[test]
    fn only_a_links_first_rel_outside_quoted_strings_counts() {
        let hubs = |value: &str| WebSubLinks::from_headers([value], &base()).hubs;
        let hub = urls(&["https://hub.example/"]);
        for value in [
            r#"<https://hub.example/>; title="a; rel=hub""#,
            r#"<https://hub.example/>; title="say \"hi\", rel=hub"; rel=alternate"#,
            "<https://hub.example/>; rel=alternate; rel=hub",
        ] {
            assert_eq!(hubs(value), [], "{value:?}");
        }
        for value in [
            r#"<https://hub.example/>; title="a\"b;c"; rel = "hub""#,
            "< https://hub.example/ >;REL=HUB;rel=alternate",
            r#"<https://hub.example/>; rel="hub"#,
        ] {
            assert_eq!(hubs(value), hub, "{value:?}");
        }
    }

    #[test]
    fn a_header_cut_anywhere_is_read_without_a_panic() {
        let value =
            r#"<https://hub.example/a,b>; title="x\"; y, z"; rel="hub self", </feed>; rel=hub"#;
        for (cut, _) in value.char_indices() {
            let links = WebSubLinks::from_headers([&value[..cut], &value[cut..]], &base());
            assert!(links.hubs.len() <= 2, "{cut}: {links:?}");
        }
    }

    #[test]
    fn garbage_and_other_schemes_give_nothing() {
        for value in [
            "",
            "<",
            "<>; rel=hub",
            "no brackets; rel=hub",
            "<ftp://hub.example/>; rel=hub",
            "<javascript:alert(1)>; rel=hub",
            "<https://hub.example/; rel=hub",
            "<https://hub.example/>; rel",
            ";;;,,,<<>>",
        ] {
            let links = WebSubLinks::from_headers([value], &base());
            assert!(links.hubs.is_empty(), "{value:?}: {links:?}");
        }
    }

    #[test]
    fn hubs_are_capped_and_the_header_comes_first() {
        let many: Vec<String> = (0..20)
            .map(|n| format!("<https://hub{n}.example/>; rel=hub"))
            .collect();
        let links = WebSubLinks::from_headers(&many, &base());
        assert_eq!(links.hubs.len(), MAX_HUBS);

        let mut document = WebSubLinks::default();
        document.add("hub", "https://doc-hub.example/", &base());
        document.add("self", "https://site.example/feed", &base());
        let header = WebSubLinks::from_headers(["<https://header-hub.example/>; rel=hub"], &base());
        let both = header.or(document.clone());
        assert_eq!(both.hubs, urls(&["https://header-hub.example/"]));
        assert_eq!(both.topic, document.topic, "the header named no self");
        assert_eq!(WebSubLinks::default().or(document.clone()), document);
    }

    /// The links a document names, as both ways of reading it see them.
    fn document_links(document: &str) -> WebSubLinks {
        let (now, known) = (chrono::Utc::now(), std::collections::HashMap::new());
        let whole = crate::parse::parse_document("s", document.as_bytes(), None, &base(), now);
        let changes =
            crate::parse::parse_changes("s", document.as_bytes(), None, &base(), now, &known);
        let links = whole.unwrap().websub;
        assert_eq!(changes.unwrap().websub, links, "{document}");
        links
    }

    #[test]
    fn atom_feeds_name_hubs_and_self_in_their_own_links() {
        let links = document_links(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://site.example/atom/">
              <title>t</title><link href="/"/><link rel="alternate" href="/"/>
              <link rel="hub" href="https://hub.example/"/><link rel="hub" href="ftp://hub.example/"/>
              <link rel="self" href="feed.atom"/><link rel="hub" href="https://hub.example/"/>
              <entry><id>1</id><link rel="hub" href="https://entry-hub.example/"/></entry>
            </feed>"#,
        );
        assert_eq!(links.hubs, urls(&["https://hub.example/"]));
        assert_eq!(
            links.topic,
            urls(&["https://site.example/atom/feed.atom"]).pop()
        );
    }

    #[test]
    fn rss_channels_name_them_in_atom_links_whatever_the_prefix() {
        for (declaration, link) in [
            (r#"xmlns:atom="http://www.w3.org/2005/Atom""#, "atom:link"),
            (
                r#"xmlns:atom10="http://www.w3.org/2005/Atom""#,
                "atom10:link",
            ),
            (r#"xmlns:a="http://www.w3.org/2005/Atom""#, "a:link"),
            (
                r#"xmlns:x="http://example.org/x""#,
                r#"link xmlns="http://www.w3.org/2005/Atom""#,
            ),
        ] {
            let links = document_links(&format!(
                r#"<rss version="2.0" {declaration} xmlns:other="http://example.org/other"><channel>
                  <title>t</title><link>https://site.example/</link>
                  <{link} rel="hub" href="https://hub.example/"/><{link} rel="self" href="/rss"/>
                  <other:link rel="hub" href="https://other.example/"/>
                  <item><guid>1</guid><{link} rel="hub" href="https://item-hub.example/"/></item>
                </channel></rss>"#
            ));
            assert_eq!(links.hubs, urls(&["https://hub.example/"]), "{link}");
            assert_eq!(
                links.topic,
                urls(&["https://site.example/rss"]).pop(),
                "{link}"
            );
        }
        let plain = document_links(
            r#"<rss version="2.0"><channel><title>t</title><link>https://site.example/</link></channel></rss>"#,
        );
        assert!(plain.is_empty(), "{plain:?}");
    }

    #[test]
    fn json_feeds_name_them_in_hubs_and_feed_url() {
        let links = document_links(
            r#"{"version": "https://jsonfeed.org/version/1.1", "title": "t", "feed_url": "feed.json",
                "hubs": [{"type": "WebSub", "url": "https://hub.example/"}, {"type": "WebSub"},
                         {"type": "rssCloud", "url": "/cloud"}, {"url": "javascript:alert(1)"},
                         "https://not-an-object.example/", {"type": "WebSub", "url": 7}],
                "items": []}"#,
        );
        assert_eq!(
            links.hubs,
            urls(&["https://hub.example/", "https://site.example/cloud"])
        );
        assert_eq!(
            links.topic,
            urls(&["https://site.example/blog/feed.json"]).pop()
        );
    }

    #[test]
    fn a_document_naming_many_hubs_gives_the_first_eight() {
        let hubs: String = (0..20)
            .map(|n| format!(r#"<link rel="hub" href="https://hub{n}.example/"/>"#))
            .collect();
        let links = document_links(&format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom">{hubs}</feed>"#
        ));
        let first: Vec<String> = (0..MAX_HUBS)
            .map(|n| format!("https://hub{n}.example/"))
            .collect();
        assert_eq!(
            links.hubs,
            urls(&first.iter().map(String::as_str).collect::<Vec<_>>())
        );
    }
}

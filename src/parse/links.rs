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
    pub fn from_headers<'a>(values: impl IntoIterator<Item = &'a str>, base: &Url) -> WebSubLinks {
        let mut links = WebSubLinks::default();
        for value in values {
            for (href, rel) in link_values(value) {
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

/// The `<URI>; rel=...` links of one `Link` header value: each URI with its `rel` parameter
/// (empty when it has none). Commas inside `<>` and quoted strings do not split links.
fn link_values(value: &str) -> Vec<(&str, String)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let href = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        // The parameters run to the next comma outside quotes.
        let (mut quoted, mut end) = (false, rest.len());
        for (at, character) in rest.char_indices() {
            match character {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    end = at;
                    break;
                }
                _ => {}
            }
        }
        let rel = rest[..end]
            .split(';')
            .filter_map(|parameter| parameter.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("rel"))
            .map(|(_, value)| value.trim().trim_matches('"').to_string())
            .unwrap_or_default();
        links.push((href, rel));
        rest = &rest[end..];
    }
    links
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
        let links = WebSubLinks::from_headers(many.iter().map(String::as_str), &base());
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
}

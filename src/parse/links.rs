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
}

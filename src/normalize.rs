//! Normalization shared by every producer of entries: sanitized HTML with absolute links, plain
//! text from HTML, absolute URLs.
//!
//! Feeds are untrusted input. Whatever HTML a publisher sends, we store and republish only what
//! ammonia lets through, with relative links made absolute against the document's URL so the
//! entry still works once it is copied into our merged feed.

use std::borrow::Cow;
use std::cell::RefCell;

use ammonia::UrlRelative;
use url::Url;

/// Sanitizes untrusted HTML: no scripts, event handlers, forms or frames, no `javascript:`
/// URLs, and `data:` URLs only as image sources; relative links and image sources become
/// absolute against `base` (or are dropped when there is no base).
pub fn sanitize_html(html: &str, base: Option<&Url>) -> String {
    thread_local! {
        // Building the sanitizer (its sets of allowed tags and attributes) cost a fifth as much
        // as sanitizing a typical body; entries of one document share their base.
        static SANITIZER: RefCell<Option<(Option<Url>, ammonia::Builder<'static>)>> =
            const { RefCell::new(None) };
    }
    SANITIZER.with_borrow_mut(|cached| {
        if cached
            .as_ref()
            .is_none_or(|(built_for, _)| built_for.as_ref() != base)
        {
            *cached = Some((base.cloned(), sanitizer(base)));
        }
        let (_, builder) = cached.as_ref().expect("built above");
        builder.clean(html).to_string()
    })
}

fn sanitizer(base: Option<&Url>) -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder
        .url_relative(match base {
            Some(base) => UrlRelative::RewriteWithBase(base.clone()),
            None => UrlRelative::Deny,
        })
        .add_url_schemes(&["data"])
        .attribute_filter(|element, attribute, value| {
            let is_data = value
                .trim_start()
                .get(..5)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"));
            let is_inline_image = element == "img"
                && attribute == "src"
                && value
                    .trim_start()
                    .get(..11)
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case("data:image/"));
            (!is_data || is_inline_image).then_some(Cow::Borrowed(value))
        });
    builder
}

/// Removes the characters XML 1.0 forbids (C0 controls other than tab, LF and CR; U+FFFE and
/// U+FFFF), which would make every document we publish with them unreadable.
pub fn strip_forbidden_xml_chars(text: &str) -> Cow<'_, str> {
    let forbidden = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}');
    // A byte scan first: every document passes here, and almost none has such a character.
    // In UTF-8 they are the bytes below 0x20 and the sequences starting 0xEF 0xBF.
    let suspect =
        |byte: &u8| (*byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r')) || *byte == 0xEF;
    if text.as_bytes().iter().any(suspect) && text.contains(forbidden) {
        Cow::Owned(text.chars().filter(|c| !forbidden(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// The readable text of an HTML fragment, without markup or link decorations: text and
/// character references as they read, images as their `alt` text, nothing of scripts, styles,
/// templates and comments. Block elements end paragraphs (`\n\n`); line breaks, list items and
/// table cells end lines; inline elements join their text with what surrounds them.
///
/// A single forward pass, no tree: content hashes and filters call this for every entry of
/// every poll, and a full HTML parser here cost more than parsing the feed itself.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        html_escape::decode_html_entities_to_string(&rest[..start], &mut text);
        rest = &rest[start..];
        rest = match Markup::read(rest) {
            Markup::Tag { name, end, after } => {
                text.push_str(separator(name));
                let alt = (!end && name.eq_ignore_ascii_case("img"))
                    .then(|| attribute(&rest[..rest.len() - after.len()], "alt"))
                    .flatten();
                if let Some(alt) = alt {
                    html_escape::decode_html_entities_to_string(alt, &mut text);
                }
                if !end && is_unreadable(name) {
                    skip_past_end_tag(after, name)
                } else {
                    after
                }
            }
            Markup::Skipped { after } => after,
            Markup::Text => {
                text.push('<');
                &rest[1..]
            }
        };
    }
    html_escape::decode_html_entities_to_string(rest, &mut text);
    text
}

/// What a `<` starts.
enum Markup<'a> {
    /// A start or end tag, and what follows its `>`.
    Tag {
        name: &'a str,
        end: bool,
        after: &'a str,
    },
    /// A comment, doctype, processing instruction or CDATA section, which have no text.
    Skipped { after: &'a str },
    /// A `<` that starts no markup (`a < b`), read as text, as browsers do.
    Text,
}

impl<'a> Markup<'a> {
    /// Reads the markup at the start of `html`, which begins with `<`.
    fn read(html: &'a str) -> Markup<'a> {
        let after_bracket = &html[1..];
        if let Some(comment) = after_bracket.strip_prefix("!--") {
            return Markup::Skipped {
                after: comment.find("-->").map_or("", |end| &comment[end + 3..]),
            };
        }
        if let Some(cdata) = after_bracket.strip_prefix("![CDATA[") {
            return Markup::Skipped {
                after: cdata.find("]]>").map_or("", |end| &cdata[end + 3..]),
            };
        }
        if after_bracket.starts_with(['!', '?']) {
            return Markup::Skipped {
                after: after_bracket
                    .find('>')
                    .map_or("", |end| &after_bracket[end + 1..]),
            };
        }
        let (end, tag) = match after_bracket.strip_prefix('/') {
            Some(tag) => (true, tag),
            None => (false, after_bracket),
        };
        if !tag.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Markup::Text;
        }
        let name_length = tag
            .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
            .unwrap_or(tag.len());
        Markup::Tag {
            name: &tag[..name_length],
            end,
            after: past_tag(&tag[name_length..]),
        }
    }
}

/// What follows the `>` that closes a tag whose attributes start `attributes`: a `>` inside a
/// quoted attribute value does not close it.
fn past_tag(attributes: &str) -> &str {
    let mut quote = None;
    for (at, c) in attributes.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '>') => return &attributes[at + 1..],
            _ => {}
        }
    }
    ""
}

/// The raw value of attribute `name` in `tag` (from `<` to `>`), if it has one.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let preceded_by_space = lower[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let value = lower[from..].trim_start();
        if !preceded_by_space || !value.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - value.len() + 1;
        let value = tag[value_start..].trim_start();
        return Some(match value.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let value = &value[1..];
                &value[..value.find(quote).unwrap_or(value.len())]
            }
            _ => {
                let end = value
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(value.len());
                &value[..end]
            }
        });
    }
    None
}

/// Elements whose content is not text a reader sees.
fn is_unreadable(name: &str) -> bool {
    ["script", "style", "template", "head", "title"]
        .iter()
        .any(|unreadable| name.eq_ignore_ascii_case(unreadable))
}

/// What follows `</name>` in `html` (nothing when the element is never closed).
fn skip_past_end_tag<'a>(html: &'a str, name: &str) -> &'a str {
    let mut rest = html;
    while let Some(at) = rest.find("</") {
        let tag = &rest[at + 2..];
        if tag
            .get(..name.len())
            .is_some_and(|candidate| candidate.eq_ignore_ascii_case(name))
        {
            return past_tag(&tag[name.len()..]);
        }
        rest = tag;
    }
    ""
}

/// The white space an element puts between the text before and after it.
fn separator(name: &str) -> &'static str {
    const PARAGRAPHS: [&str; 26] = [
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "dl",
        "table",
        "hr",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "nav",
        "main",
        "figure",
        "figcaption",
        "address",
        "details",
    ];
    const LINES: [&str; 9] = [
        "br", "li", "tr", "td", "th", "dt", "dd", "summary", "caption",
    ];
    let is = |names: &[&str]| names.iter().any(|known| name.eq_ignore_ascii_case(known));
    if is(&PARAGRAPHS) {
        "\n\n"
    } else if is(&LINES) {
        "\n"
    } else {
        ""
    }
}

/// Collapses every run of white space to one space and trims the ends.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Resolves `href` against `base`; `None` unless the result is an http(s) URL.
pub fn absolute_url(href: &str, base: Option<&Url>) -> Option<String> {
    let href = href.trim();
    let url = match base {
        Some(base) => base.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizing_removes_scripts_and_handlers_and_makes_links_absolute() {
        let base = Url::parse("https://example.org/blog/post").unwrap();
        let clean = sanitize_html(
            r#"<p onclick="x()">Hi <a href="../about">me</a><script>alert(1)</script><img src="/i.png"></p>"#,
            Some(&base),
        );
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(
            clean.contains(r#"href="https://example.org/about""#),
            "{clean}"
        );
        assert!(
            clean.contains(r#"src="https://example.org/i.png""#),
            "{clean}"
        );
    }

    #[test]
    fn data_urls_survive_only_as_image_sources() {
        let clean = sanitize_html(
            r#"<img src="data:image/png;base64,AAAA"><a href="data:text/html,<script>x</script>">x</a><img src="data:text/html,x"><a href="javascript:alert(1)">y</a>"#,
            None,
        );
        assert!(
            clean.contains(r#"<img src="data:image/png;base64,AAAA">"#),
            "{clean}"
        );
        assert!(!clean.contains("data:text"), "{clean}");
        assert!(!clean.contains("javascript"), "{clean}");
    }

    #[test]
    fn forbidden_xml_characters_are_removed() {
        assert_eq!(
            strip_forbidden_xml_chars("a\u{0}b\u{1F}c\td\ne\u{FFFF}"),
            "abc\td\ne"
        );
        assert!(matches!(
            strip_forbidden_xml_chars("clean"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn absolute_urls_are_resolved_and_only_http_is_kept() {
        let base = Url::parse("https://example.org/a/b").unwrap();
        assert_eq!(
            absolute_url("c?d=1", Some(&base)).as_deref(),
            Some("https://example.org/a/c?d=1")
        );
        assert_eq!(absolute_url("javascript:alert(1)", Some(&base)), None);
        assert_eq!(absolute_url("/x", None), None);
    }

    #[test]
    fn html_becomes_collapsed_text() {
        assert_eq!(
            collapse_whitespace(&html_to_text(
                "<p>A <b>bold</b>\n claim</p><p>&amp; more</p>"
            )),
            "A bold claim & more"
        );
    }

    #[test]
    fn text_is_read_as_a_browser_shows_it() {
        let text = |html| collapse_whitespace(&html_to_text(html));
        assert_eq!(text("a < b, c<3 <!-- not shown --> d"), "a < b, c<3 d");
        assert_eq!(
            text("<script>x = '<p>';</script>seen<STYLE>p {}</STYLE> too"),
            "seen too"
        );
        assert_eq!(text("<a href='x>y' title=\"a>b\">link</a>text"), "linktext");
        assert_eq!(
            text("<p>a<img src=x ALT=\"Cat &amp; dog\">b</p>"),
            "aCat & dogb"
        );
        assert_eq!(
            text("caf&eacute; &#x27;q&#39; &amp;amp; &bogus;"),
            "café 'q' &amp; &bogus;"
        );
        assert_eq!(
            text("<![CDATA[hidden]]><?pi ?>shown, unclosed <b"),
            "shown, unclosed"
        );
        assert_eq!(text("<b>bo</b>ld <i>it</i>alic"), "bold italic");
    }

    #[test]
    fn blocks_end_paragraphs_and_lines_end_lines() {
        assert_eq!(
            html_to_text("<h1>Head</h1>para<ul><li>one<li>two</ul>x<br>y"),
            "\n\nHead\n\npara\n\n\none\ntwo\n\nx\ny"
        );
    }
}

//! Normalization shared by every producer of entries: sanitized HTML with absolute links, plain
//! text from HTML, absolute URLs.
//!
//! Feeds are untrusted input. Whatever HTML a publisher sends, we store and republish only what
//! ammonia lets through, with relative links made absolute against the document's URL so the
//! entry still works once it is copied into our merged feed.

use std::borrow::Cow;

use ammonia::UrlRelative;
use url::Url;

/// Lines wider than this are wrapped by html2text; callers fold white space, so the width only
/// has to be large enough to keep wrapping rare and cheap.
const TEXT_WIDTH: usize = 10_000;

/// Sanitizes untrusted HTML: no scripts, event handlers, forms or frames, no `javascript:`
/// URLs, and `data:` URLs only as image sources; relative links and image sources become
/// absolute against `base` (or are dropped when there is no base).
pub fn sanitize_html(html: &str, base: Option<&Url>) -> String {
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
    builder.clean(html).to_string()
}

/// Removes the characters XML 1.0 forbids (C0 controls other than tab, LF and CR; U+FFFE and
/// U+FFFF), which would make every document we publish with them unreadable.
pub fn strip_forbidden_xml_chars(text: &str) -> Cow<'_, str> {
    let forbidden = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}');
    if text.contains(forbidden) {
        Cow::Owned(text.chars().filter(|c| !forbidden(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// The readable text of an HTML fragment, without markup or link decorations.
pub fn html_to_text(html: &str) -> String {
    html2text::config::with_decorator(html2text::render::TrivialDecorator::new())
        .raw_mode(true)
        .string_from_read(html.as_bytes(), TEXT_WIDTH)
        // html2text only fails on I/O errors of its reader, and a byte slice has none.
        .unwrap_or_else(|_| html.to_string())
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
}

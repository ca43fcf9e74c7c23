//! Normalization shared by every producer of entries: sanitized HTML with absolute links, plain
//! text from HTML, absolute URLs.
//!
//! Feeds are untrusted input. Whatever HTML a publisher sends, we store and republish only what
//! the sanitizer (`sanitize`) lets through, with relative links made absolute against the
//! document's URL so the entry still works once it is copied into our merged feed. `markup` reads
//! HTML for it and for `text`, which gives what a reader sees of it.

mod markup;
pub mod nesting;
mod sanitize;
mod text;

use std::borrow::Cow;

use url::Url;

pub(crate) use markup::{Attributes, common_reference};
pub use sanitize::sanitize_html;
pub use text::html_to_text;

/// Whether XML 1.0 forbids `c`: C0 controls other than tab, LF and CR; U+FFFE and U+FFFF.
pub fn forbidden_in_xml(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Removes the characters XML 1.0 forbids (`forbidden_in_xml`), which would make every document
/// we publish with them unreadable.
pub fn strip_forbidden_xml_chars(text: &str) -> Cow<'_, str> {
    // A byte scan first: every document passes here, and almost none has such a character.
    // In UTF-8 they are the bytes below 0x20 and the sequences starting 0xEF 0xBF. Blocks are
    // scanned whole, without a branch per byte, so the compiler vectorizes the scan.
    let suspect =
        |byte: &u8| (*byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r')) || *byte == 0xEF;
    let any_suspect = |block: &[u8]| {
        block
            .iter()
            .fold(false, |found, byte| found | suspect(byte))
    };
    if text.as_bytes().chunks(256).any(any_suspect) && text.contains(forbidden_in_xml) {
        Cow::Owned(text.chars().filter(|c| !forbidden_in_xml(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Collapses every run of white space to one space and trims the ends.
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `max_chars` characters at a word boundary, ending in "…" when cut.
pub fn truncate_at_word(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let limit = text
        .char_indices()
        .nth(max_chars - 1)
        .map_or(text.len(), |(index, _)| index);
    let cut = match text[..limit].rfind(char::is_whitespace) {
        Some(space) if space > 0 => &text[..space],
        _ => &text[..limit],
    };
    format!(
        "{}…",
        cut.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-'))
    )
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
}

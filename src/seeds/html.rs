//! The `.html` seed format: a saved web page or a fragment. The title comes from `<title>`,
//! else the first `<h1>`; the body is sanitized like any feed content.

use super::SeedDocument;
use crate::normalize::{collapse_whitespace, html_to_text, sanitize_html};

pub fn parse(text: &str) -> SeedDocument {
    let title = element_text(text, "title")
        .or_else(|| element_text(text, "h1"))
        .filter(|title| !title.is_empty());
    let body = element_inner(text, "body").unwrap_or(text);
    let content_html = sanitize_html(body, None);
    let first_paragraph = html_to_text(&content_html)
        .split("\n\n")
        .map(collapse_whitespace)
        .find(|paragraph| !paragraph.is_empty());
    SeedDocument {
        title,
        content_html,
        first_paragraph,
        ..SeedDocument::default()
    }
}

/// The plain text of the first `<name …>…</name>` element.
fn element_text(html: &str, name: &str) -> Option<String> {
    element_inner(html, name).map(|inner| collapse_whitespace(&html_to_text(inner)))
}

/// What stands between the first `<name …>` and the next `</name>`, case-insensitively.
fn element_inner<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let lower = html.to_ascii_lowercase();
    let open = format!("<{name}");
    let mut search = 0;
    let start = loop {
        let at = search + lower[search..].find(&open)?;
        let after = lower.as_bytes().get(at + open.len())?;
        if matches!(after, b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/') {
            break at + lower[at..].find('>')? + 1;
        }
        search = at + open.len();
    };
    let end = start + lower[start..].find(&format!("</{name}>"))?;
    Some(&html[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_then_h1_and_a_sanitized_body() {
        let page = parse(
            "<html><head><TITLE>Page &amp; title</TITLE><script>x()</script></head>\
             <body><h1>Heading</h1><p onclick=\"x()\">Text.</p></body></html>",
        );
        assert_eq!(page.title.as_deref(), Some("Page & title"));
        assert_eq!(page.content_html, "<h1>Heading</h1><p>Text.</p>");
        let fragment = parse("<h1 class=\"t\">Only <em>heading</em></h1><p>Body.</p>");
        assert_eq!(fragment.title.as_deref(), Some("Only heading"));
        assert_eq!(fragment.first_paragraph.as_deref(), Some("Only heading"));
    }
}

//! HTML → the text a reader sees, for content hashes, filters and plain-text summaries.

use super::markup::{Token, Tokens, decode_references};

/// The readable text of an HTML fragment, without markup or link decorations: text and
/// character references as they read, images as their `alt` text, nothing of scripts, styles,
/// templates and comments. Block elements end paragraphs (`\n\n`); line breaks, list items and
/// table cells end lines; inline elements join their text with what surrounds them.
///
/// A single forward pass, no tree: content hashes and filters call this for every entry of
/// every poll, and a full HTML parser here cost more than parsing the feed itself.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut tokens = Tokens::new(html);
    while let Some(token) = tokens.next() {
        match token {
            Token::Text(raw) => {
                decode_references(raw, &mut text);
            }
            Token::LessThan => text.push('<'),
            Token::Tag(tag) => {
                text.push_str(separator(tag.name));
                if tag.end {
                    continue;
                }
                if tag.is("img") {
                    let alt = tag
                        .attributes()
                        .find(|attribute| attribute.name.eq_ignore_ascii_case("alt"));
                    if let Some(alt) = alt {
                        decode_references(alt.value, &mut text);
                    }
                }
                if is_unreadable(tag.name) {
                    tokens.skip_raw_text(tag.name);
                }
            }
            Token::Comment(_) | Token::Other(_) => {}
        }
    }
    text
}

/// Elements whose content is not text a reader sees: scripts, styles, templates, what belongs
/// in a document's head, and the elements whose content browsers read as raw text.
pub(super) fn is_unreadable(name: &str) -> bool {
    [
        "script", "style", "template", "head", "title", "textarea", "xmp", "iframe", "noembed",
        "noframes",
    ]
    .iter()
    .any(|unreadable| name.eq_ignore_ascii_case(unreadable))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::collapse_whitespace;

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
        assert_eq!(
            text("<textarea><b>raw</b></textarea>after <img title='alt=no'>"),
            "after"
        );
    }

    #[test]
    fn blocks_end_paragraphs_and_lines_end_lines() {
        assert_eq!(
            html_to_text("<h1>Head</h1>para<ul><li>one<li>two</ul>x<br>y"),
            "\n\nHead\n\npara\n\n\none\ntwo\n\nx\ny"
        );
    }
}

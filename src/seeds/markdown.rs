//! The `.md` seed format: optional YAML front matter, then Markdown rendered with pulldown-cmark.
//!
//! ```text
//! ---
//! title: A title
//! date: 2024-05-01            # a date, or a date-time with a zone
//! updated: 2024-05-02T10:00:00+02:00
//! link: https://example.org/original
//! author: Ann
//! tags: [a, b]
//! id: stable-id               # replaces the path as the entry's identity
//! draft: true                 # skipped
//! ---
//! Markdown body.
//! ```

use pulldown_cmark::{Options, Parser, html};
use serde::Deserialize;

use super::Document;
use crate::normalize::{collapse_whitespace, html_to_text, sanitize_html};
use crate::parse::parse_date;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: Option<String>,
    date: Option<String>,
    updated: Option<String>,
    link: Option<String>,
    author: Option<String>,
    #[serde(default)]
    tags: Tags,
    id: Option<String>,
    #[serde(default)]
    draft: bool,
}

/// `tags: [a, b]` or `tags: a, b`.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Tags {
    #[default]
    None,
    List(Vec<String>),
    Text(String),
}

/// Parses a Markdown seed; the error names what is wrong with the front matter.
pub fn parse(text: &str) -> Result<Document, String> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let (front, body) = split_front_matter(text);
    let front: FrontMatter = match front {
        Some(yaml) => serde_saphyr::from_str(yaml)
            .map_err(|error| format!("front matter: {}", error.without_snippet()))?,
        None => FrontMatter::default(),
    };
    let date = |value: Option<String>, key: &str| match value {
        None => Ok(None),
        Some(text) => parse_date(&text)
            .map(Some)
            .ok_or_else(|| format!("front matter: {key}: {text:?} is not a date")),
    };
    let mut rendered = String::new();
    html::push_html(&mut rendered, Parser::new_ext(body, Options::all()));
    let content_html = sanitize_html(&rendered, None);
    let first_paragraph = html_to_text(&content_html)
        .split("\n\n")
        .map(collapse_whitespace)
        .find(|paragraph| !paragraph.is_empty());
    Ok(Document {
        title: front.title,
        date: date(front.date, "date")?,
        updated: date(front.updated, "updated")?,
        link: front.link,
        author: front.author,
        tags: match front.tags {
            Tags::None => Vec::new(),
            Tags::List(tags) => tags,
            Tags::Text(text) => text.split(',').map(|tag| tag.trim().to_string()).collect(),
        },
        id: front.id,
        draft: front.draft,
        content_html,
        first_paragraph,
    })
}

/// `---\n…\n---` at the very start, and the rest.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (None, text);
    };
    for (offset, line) in line_offsets(rest) {
        if line.trim_end() == "---" {
            return (Some(&rest[..offset]), &rest[offset + line.len()..]);
        }
    }
    (None, text)
}

fn line_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |offset, line| {
        let start = *offset;
        *offset += line.len();
        Some((start, line))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_markdown_are_read() {
        let document = parse(
            "---\ntitle: Hello\ndate: 2024-05-01\nupdated: 2024-05-02T10:00:00+02:00\ntags: [a, b]\nid: fixed\n---\n# Heading\n\nSome *text* with [a link](https://example.org).\n\n<script>x()</script>\n",
        )
        .unwrap();
        assert_eq!(document.title.as_deref(), Some("Hello"));
        assert_eq!(
            document.date.unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert_eq!(
            document.updated.unwrap().to_rfc3339(),
            "2024-05-02T08:00:00+00:00"
        );
        assert_eq!(document.tags, ["a", "b"]);
        assert_eq!(document.id.as_deref(), Some("fixed"));
        assert!(
            document.content_html.contains("<em>text</em>"),
            "{}",
            document.content_html
        );
        assert!(
            document
                .content_html
                .contains("href=\"https://example.org\"")
        );
        assert!(!document.content_html.contains("script"));
        assert_eq!(document.first_paragraph.as_deref(), Some("Heading"));
    }

    #[test]
    fn drafts_and_bad_front_matter_are_reported() {
        assert!(parse("---\ndraft: true\n---\nx").unwrap().draft);
        let error = parse("---\ndate: someday\n---\nx").unwrap_err();
        assert_eq!(error, "front matter: date: \"someday\" is not a date");
        let error = parse("---\ncolour: red\n---\nx").unwrap_err();
        assert!(error.contains("colour"), "{error}");
        assert!(parse("No front matter.").unwrap().title.is_none());
    }
}

//! The `.txt` seed format.
//!
//! ```text
//! date 2023-09-09 anything after the date on this line is scraper noise
//! title: An optional title
//! link: https://example.org/original
//! author: Ann
//! tags: politics, europe
//!
//! Paragraphs separated by blank lines. The first sentence is the title when there is none.
//! ```
//!
//! Header lines (`date …` and `key: value` for title, link, author, tags) are only taken from
//! the first block, and only when every line of that block is one; otherwise it is body text.

use chrono::NaiveDate;

use super::SeedDocument;
use super::prose;

pub fn parse(text: &str, noise: &[String]) -> SeedDocument {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let (header_block, body) = split_first_block(text);
    let headers: Option<Vec<Header>> = header_block.lines().map(header).collect();
    let (headers, body) = match headers {
        Some(headers) if !headers.is_empty() => (headers, body),
        _ => (Vec::new(), text),
    };
    let mut document = SeedDocument::default();
    for header in headers {
        match header {
            Header::Date(day) => {
                document.date = Some(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
            }
            Header::Title(title) => document.title = Some(title),
            Header::Link(link) => document.link = Some(link),
            Header::Author(author) => document.author = Some(author),
            Header::Tags(tags) => document.tags = tags,
        }
    }
    let paragraphs = prose::paragraphs(body, noise);
    document.content_html = prose::paragraphs_html(&paragraphs);
    document.first_paragraph = paragraphs.into_iter().next();
    document
}

enum Header {
    Date(NaiveDate),
    Title(String),
    Link(String),
    Author(String),
    Tags(Vec<String>),
}

/// The lines before the first blank line, and what follows it.
fn split_first_block(text: &str) -> (&str, &str) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            return (&text[..offset], &text[offset..]);
        }
        offset += line.len();
    }
    (text, "")
}

/// One header line, or `None` if the line is not a header.
fn header(line: &str) -> Option<Header> {
    let line = line.trim();
    if let Some(after) = line.strip_prefix("date")
        && after.starts_with(char::is_whitespace)
    {
        // `date YYYY-MM-DD`, then anything: the rest of the line is scraper noise.
        let day = after.trim_start().get(..10)?;
        return NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .ok()
            .map(Header::Date);
    }
    let (key, value) = line.split_once(':')?;
    let value = value.trim().to_string();
    match key.trim().to_ascii_lowercase().as_str() {
        "title" => Some(Header::Title(value)),
        "link" => Some(Header::Link(value)),
        "author" => Some(Header::Author(value)),
        "tags" => Some(Header::Tags(
            value
                .split(',')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_string)
                .collect(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise() -> Vec<String> {
        crate::config::default_noise_lines()
    }

    #[test]
    fn the_date_line_and_headers_are_read_and_noise_dropped() {
        let document = parse(
            "  date 2023-09-09 LOADING ERROR LOADING\ntitle: Given title\nlink: https://example.org/a\nauthor: Ann\ntags: a, b ,\n\nBody one.\n\nLOADING\n\nBody two.",
            &noise(),
        );
        assert_eq!(
            document.date.unwrap().to_rfc3339(),
            "2023-09-09T00:00:00+00:00"
        );
        assert_eq!(document.title.as_deref(), Some("Given title"));
        assert_eq!(document.link.as_deref(), Some("https://example.org/a"));
        assert_eq!(document.author.as_deref(), Some("Ann"));
        assert_eq!(document.tags, ["a", "b"]);
        assert_eq!(document.content_html, "<p>Body one.</p>\n<p>Body two.</p>");
        assert_eq!(document.first_paragraph.as_deref(), Some("Body one."));
    }

    #[test]
    fn a_first_block_that_is_not_all_headers_is_body() {
        let document = parse("date night ideas.\nNote: bring snacks.\n\nMore.", &noise());
        assert_eq!(document.date, None);
        assert_eq!(document.title, None);
        assert_eq!(
            document.first_paragraph.as_deref(),
            Some("date night ideas. Note: bring snacks.")
        );
    }
}

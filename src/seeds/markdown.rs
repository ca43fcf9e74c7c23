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

use std::fmt;

use pulldown_cmark::{Options, Parser, html};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::SeedDocument;
use crate::normalize::{collapse_whitespace, html_to_text, sanitize_html};
use crate::parse::parse_date;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    // Strings are read as written: `title: 2024` is "2024", not a number.
    title: Option<String>,
    date: Option<String>,
    updated: Option<String>,
    link: Option<String>,
    author: Option<String>,
    #[serde(default)]
    tags: Tags,
    id: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    draft: bool,
}

/// `tags: [a, b]` or `tags: a, b`, each tag as written, whatever YAML would make of it: `no`
/// is the word, not a boolean, and `2024` the year, not a number.
#[derive(Debug, Default)]
struct Tags(Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Tags, D::Error> {
        deserializer.deserialize_any(TagsVisitor)
    }
}

struct TagsVisitor;

impl<'de> Visitor<'de> for TagsVisitor {
    type Value = Tags;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a list of tags, or tags separated by commas")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Tags, A::Error> {
        let mut tags = Vec::new();
        // Read as strings, YAML gives each plain item's text as written.
        while let Some(tag) = items.next_element::<Option<String>>()? {
            tags.extend(tag.filter(|tag| !tag.trim().is_empty()));
        }
        Ok(Tags(tags))
    }

    fn visit_str<E: de::Error>(self, line: &str) -> Result<Tags, E> {
        Ok(Tags(
            line.split(',')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_string)
                .collect(),
        ))
    }

    // A single tag YAML reads as another type (with YAML 1.2's booleans, only `true` and
    // `false` are booleans).
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Tags, E> {
        self.visit_str(&value.to_string())
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Tags, E> {
        self.visit_str(&value.to_string())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Tags, E> {
        self.visit_str(&value.to_string())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Tags, E> {
        self.visit_str(&value.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Tags, E> {
        Ok(Tags::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Tags, E> {
        Ok(Tags::default())
    }
}

/// `draft: true`, or a YAML 1.1 spelling (`yes`, `on`): the front matter is read with YAML
/// 1.2's booleans so that a tag `no` stays a word, but drafts marked `yes` stay drafts.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" => Ok(true),
        "false" | "no" | "off" | "n" => Ok(false),
        _ => Err(de::Error::custom(format!(
            "{text:?} is neither true nor false"
        ))),
    }
}

/// Parses a Markdown seed. What cannot be used of its front matter is left out and described
/// in `SeedDocument::warnings`: the body is always published.
pub fn parse(text: &str) -> SeedDocument {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let (front, body) = split_front_matter(text);
    let mut warnings = Vec::new();
    let front = front.map_or_else(FrontMatter::default, |yaml| {
        read_front_matter(yaml, &mut warnings)
    });
    let mut date = |value: Option<String>, key: &str| {
        let text = value?;
        let date = parse_date(&text);
        if date.is_none() {
            warnings.push(format!(
                "front matter: {key}: {text:?} is not a date; left out"
            ));
        }
        date
    };
    let (date, updated) = (date(front.date, "date"), date(front.updated, "updated"));
    let mut rendered = String::new();
    html::push_html(&mut rendered, Parser::new_ext(body, Options::all()));
    let content_html = sanitize_html(&rendered, None);
    let first_paragraph = html_to_text(&content_html)
        .split("\n\n")
        .map(collapse_whitespace)
        .find(|paragraph| !paragraph.is_empty());
    SeedDocument {
        title: front.title,
        date,
        updated,
        link: front.link,
        author: front.author,
        tags: front.tags.0,
        id: front.id,
        draft: front.draft,
        content_html,
        first_paragraph,
        warnings,
    }
}

/// Reads the front matter `yaml`. A key whose value cannot be used (or that is not one of
/// ours) is left out, and `warnings` say which and why: one slip never costs the others.
fn read_front_matter(yaml: &str, warnings: &mut Vec<String>) -> FrontMatter {
    let options = serde_saphyr::options! { strict_booleans: true };
    // A blank first line, so that YAML's line numbers are the file's: `---` is line 1.
    let mut yaml = format!("\n{yaml}");
    loop {
        let error = match serde_saphyr::from_str_with_options(&yaml, options.clone()) {
            Ok(front) => return front,
            Err(error) => error,
        };
        let why = error.without_snippet().to_string();
        let Some((key, lines)) = error
            .location()
            .and_then(|at| key_block(&yaml, at.line() as usize))
        else {
            warnings.push(format!("front matter: {why}; all of it left out"));
            return FrontMatter::default();
        };
        warnings.push(format!("front matter: {key}: {why}; that key is left out"));
        yaml = yaml
            .split_inclusive('\n')
            .enumerate()
            .filter(|(index, _)| !lines.contains(&(index + 1)))
            .map(|(_, line)| line)
            .collect();
    }
}

/// The top-level key whose value holds line `line` (1-based) of `yaml`, and the lines of its
/// key and value.
fn key_block(yaml: &str, line: usize) -> Option<(String, std::ops::RangeInclusive<usize>)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let starts_key = |text: &str| {
        text.starts_with(|c: char| !c.is_whitespace() && c != '#' && c != '-') && text.contains(':')
    };
    let first = (1..=line.min(lines.len()))
        .rev()
        .find(|&number| starts_key(lines[number - 1]))?;
    let last = (first + 1..=lines.len())
        .find(|&number| starts_key(lines[number - 1]))
        .map_or(lines.len(), |next| next - 1);
    let key = lines[first - 1]
        .split(':')
        .next()?
        .trim()
        .trim_matches(['"', '\'']);
    Some((key.to_string(), first..=last))
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
        );
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
    fn values_are_read_as_written_whatever_yaml_makes_of_them() {
        let document =
            parse("---\ntitle: 2024\ntags: [x, no, 2024, 1.10, true, ~]\ndraft: no\n---\nBody.");
        assert_eq!(document.title.as_deref(), Some("2024"));
        assert_eq!(document.tags, ["x", "no", "2024", "1.10", "true"]);
        assert!(!document.draft);
        assert_eq!(parse("---\ntags: no\n---\nx").tags, ["no"]);
        assert_eq!(parse("---\ntags: a, b ,\n---\nx").tags, ["a", "b"]);
        assert!(document.warnings.is_empty(), "{:?}", document.warnings);
    }

    #[test]
    fn drafts_are_marked_in_yaml_1_1_spellings_too() {
        for marked in ["true", "yes", "on", "Yes"] {
            assert!(
                parse(&format!("---\ndraft: {marked}\n---\nx")).draft,
                "{marked}"
            );
        }
    }

    #[test]
    fn what_cannot_be_used_is_left_out_with_a_warning_naming_the_key() {
        let document = parse(
            "---\ntitle: Kept\ndate: someday\ncolour: red\ntags:\n  nested: map\nauthor: Ann\n---\nThe body.",
        );
        assert_eq!(document.title.as_deref(), Some("Kept"));
        assert_eq!(document.author.as_deref(), Some("Ann"));
        assert_eq!(document.first_paragraph.as_deref(), Some("The body."));
        assert_eq!(document.date, None);
        let warnings = document.warnings.join("\n");
        for key in ["date: \"someday\" is not a date", "colour:", "tags:"] {
            assert!(
                warnings.contains(&format!("front matter: {key}")),
                "{key} in\n{warnings}"
            );
        }
        assert_eq!(document.warnings.len(), 3, "{warnings}");
        // Not YAML at all: the body is still published.
        let broken = parse("---\n: : [\n---\nStill here.");
        assert_eq!(broken.first_paragraph.as_deref(), Some("Still here."));
        assert_eq!(broken.warnings.len(), 1, "{:?}", broken.warnings);
        assert!(parse("No front matter.").title.is_none());
    }
}

//! The seeds folder: local text documents turned into feed entries.
//!
//! A seed file is plain text: an optional first line `date YYYY-MM-DD` (anything after the date on
//! that line is scraper noise and is dropped), then paragraphs separated by blank lines. The title
//! is the body's first sentence; the id comes from the file name, so it is the same on every
//! machine. This module reads files; it never does HTTP.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};
use linkify::{LinkFinder, LinkKind};

use crate::dedup;
use crate::model::{Entry, EntryId, SEEDS_SOURCE};
use crate::normalize::strip_forbidden_xml_chars;

/// Files larger than this are skipped: a seed is an article, not a data dump.
pub const MAX_SEED_BYTES: u64 = 1024 * 1024;

/// Titles longer than this (in characters, "…" included) are cut at a word boundary.
const MAX_TITLE_CHARS: usize = 120;

#[derive(Debug, thiserror::Error)]
pub enum SeedsError {
    #[error(
        "seeds folder {dir}: cannot list it: {source} (create it, or fix seeds.dir in the config)"
    )]
    ListFolder {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Reads every `*.txt` file in `dir`, in file-name order. A file that cannot be used is skipped
/// with a warning naming it; it never stops the others.
pub fn read_folder(dir: &Path) -> Result<Vec<Entry>, SeedsError> {
    let list_error = |source| SeedsError::ListFolder {
        dir: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for item in std::fs::read_dir(dir).map_err(list_error)? {
        let path = item.map_err(list_error)?.path();
        if path.extension().is_some_and(|ext| ext == "txt") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths
        .iter()
        .filter_map(|path| read_file(dir, path))
        .collect())
}

fn read_file(dir: &Path, path: &Path) -> Option<Entry> {
    let skip = |why: &str| {
        tracing::warn!(file = %path.display(), "seed file skipped: {why}");
        None
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => return skip(&format!("cannot read it: {error}")),
    };
    if metadata.len() > MAX_SEED_BYTES {
        return skip(&format!(
            "it is {} bytes, over the {MAX_SEED_BYTES}-byte limit for a seed",
            metadata.len()
        ));
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => return skip(&format!("cannot read it: {error}")),
    };
    let text = String::from_utf8(bytes).unwrap_or_else(|error| {
        tracing::warn!(file = %path.display(), "seed file is not valid UTF-8; invalid bytes replaced with U+FFFD");
        String::from_utf8_lossy(error.as_bytes()).into_owned()
    });
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH).into();
    let relative = path.strip_prefix(dir).unwrap_or(path);
    let key = relative.to_string_lossy().replace('\\', "/");
    match parse_seed(&key, &text, modified) {
        Some(entry) => Some(entry),
        None => skip("it has no text"),
    }
}

/// Builds the entry for one seed file; `key` is its path relative to the seeds folder and
/// `modified` stands in for a missing date header. `None` when the file has no text.
pub fn parse_seed(key: &str, text: &str, modified: DateTime<Utc>) -> Option<Entry> {
    let text = strip_forbidden_xml_chars(text);
    let (date, body) = split_date_header(&text);
    let paragraphs = paragraphs(body);
    let first = paragraphs.first()?;
    let title = truncate_at_word(first_sentence(first), MAX_TITLE_CHARS);
    let content: String = paragraphs
        .iter()
        .map(|paragraph| format!("<p>{}</p>", linkify_escaped(paragraph)))
        .collect::<Vec<_>>()
        .join("\n");
    let content_hash = dedup::content_hash(Some(&content), None, &title);
    let published = date.map_or(modified, |day| {
        day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
    });
    Some(Entry {
        id: EntryId::derive(SEEDS_SOURCE, key),
        source: SEEDS_SOURCE.to_string(),
        key: key.to_string(),
        title,
        link: None,
        authors: Vec::new(),
        published: Some(published),
        updated: None,
        summary: None,
        content: Some(content),
        categories: Vec::new(),
        enclosures: Vec::new(),
        image: None,
        content_hash,
    })
}

/// Splits off a first line `date YYYY-MM-DD …`; the rest of that line is dropped as noise.
fn split_date_header(text: &str) -> (Option<NaiveDate>, &str) {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let (first_line, rest) = text.split_once('\n').unwrap_or((text, ""));
    let date = first_line
        .trim_start()
        .strip_prefix("date")
        .filter(|after| after.starts_with(char::is_whitespace))
        .and_then(|after| after.trim_start().get(..10))
        .and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok());
    match date {
        Some(date) => (Some(date), rest),
        None => (None, text),
    }
}

/// Paragraphs are separated by blank lines; white space inside one collapses to single spaces.
fn paragraphs(body: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in body.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.extend(line.split_whitespace());
        }
    }
    paragraphs
}

/// Words after which a period does not end a sentence (compared lowercase, without the period).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co", "no",
    "gen", "gov", "sen", "rep", "rev", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
];

/// Characters that may close a sentence after its final punctuation: quotes and brackets.
fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | '»' | ')' | ']')
}

/// The first sentence of a paragraph, or the whole paragraph if it has no sentence end.
fn first_sentence(paragraph: &str) -> &str {
    let mut chars = paragraph.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let mut end = index + c.len_utf8();
        while let Some(&(next_index, next)) = chars.peek() {
            if !is_closer(next) {
                break;
            }
            end = next_index + next.len_utf8();
            chars.next();
        }
        let rest = &paragraph[end..];
        if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
            continue; // "3.5", "example.com", "U.S" in the middle of a word
        }
        if c == '.' && is_abbreviation(&paragraph[..index]) {
            continue;
        }
        if rest.trim_start().starts_with(char::is_lowercase) {
            continue; // "… and so on etc. and more": the next sentence would start capitalized
        }
        return &paragraph[..end];
    }
    paragraph
}

/// Whether the word ending right before a period is an abbreviation, an initial or an acronym.
fn is_abbreviation(before_period: &str) -> bool {
    let word = before_period
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("")
        .trim_start_matches(|c: char| !c.is_alphanumeric());
    let lowercase = word.to_lowercase();
    let is_initial = word.chars().count() == 1 && word.chars().all(char::is_alphabetic);
    // "U.S", "e.g", "i.e": letters separated by periods.
    let is_dotted = word.contains('.') && word.split('.').all(|part| part.chars().count() <= 2);
    is_initial || is_dotted || ABBREVIATIONS.contains(&lowercase.as_str())
}

/// Cuts `text` to at most `max_chars` characters at a word boundary, ending in "…" when cut.
fn truncate_at_word(text: &str, max_chars: usize) -> String {
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

/// HTML-escapes `text` and turns every URL in it into a link.
fn linkify_escaped(text: &str) -> String {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    finder
        .spans(text)
        .map(|span| {
            let escaped = html_escape::encode_text(span.as_str());
            match span.kind() {
                Some(LinkKind::Url) => format!(
                    "<a href=\"{}\">{escaped}</a>",
                    html_escape::encode_double_quoted_attribute(span.as_str())
                ),
                _ => escaped.into_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn modified() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_date_header_sets_published_and_its_trailing_noise_is_dropped() {
        let entry = parse_seed(
            "a.txt",
            "  date 2023-09-09 LOADING ERROR LOADING\n\nFirst paragraph here.\n",
            modified(),
        )
        .unwrap();
        assert_eq!(
            entry.published,
            Some(Utc.with_ymd_and_hms(2023, 9, 9, 0, 0, 0).unwrap())
        );
        assert_eq!(
            entry.content.as_deref(),
            Some("<p>First paragraph here.</p>")
        );
    }

    #[test]
    fn without_a_header_the_modification_time_is_the_date_and_every_line_is_body() {
        let entry = parse_seed("a.txt", "date night ideas.\nSecond line.", modified()).unwrap();
        assert_eq!(entry.published, Some(modified()));
        assert_eq!(entry.title, "date night ideas.");
    }

    #[test]
    fn paragraphs_are_split_on_blank_lines_escaped_and_linkified() {
        let entry = parse_seed(
            "a.txt",
            "One <b>&</b>\nstill one.\n\n  \nTwo: https://t.co/abc?x=1&y=2 ok\n",
            modified(),
        )
        .unwrap();
        assert_eq!(
            entry.content.as_deref(),
            Some(
                "<p>One &lt;b&gt;&amp;&lt;/b&gt; still one.</p>\n\
                 <p>Two: <a href=\"https://t.co/abc?x=1&amp;y=2\">https://t.co/abc?x=1&amp;y=2</a> ok</p>"
            )
        );
    }

    #[test]
    fn abbreviations_initials_and_decimals_do_not_end_the_first_sentence() {
        let cases = [
            (
                "Mr. Smith met Dr. Jones in the U.S. Army. Then left.",
                "Mr. Smith met Dr. Jones in the U.S. Army.",
            ),
            (
                "J. R. R. Tolkien wrote 3.5 books. More.",
                "J. R. R. Tolkien wrote 3.5 books.",
            ),
            ("Is it? Yes.", "Is it?"),
            ("He said “stop.” Then he left.", "He said “stop.”"),
            (
                "Apples, pears, etc. are fruit. Yes.",
                "Apples, pears, etc. are fruit.",
            ),
            ("No sentence end here", "No sentence end here"),
        ];
        for (paragraph, expected) in cases {
            assert_eq!(first_sentence(paragraph), expected, "{paragraph}");
        }
    }

    #[test]
    fn long_titles_are_cut_at_a_word_boundary_with_an_ellipsis() {
        let long = "word ".repeat(40);
        let title = truncate_at_word(long.trim(), 120);
        assert!(title.chars().count() <= 120, "{title}");
        assert!(title.ends_with("word…"), "{title}");
        assert_eq!(truncate_at_word("short", 120), "short");
    }

    #[test]
    fn ids_come_from_the_file_name() {
        let a = parse_seed("a.txt", "Text.", modified()).unwrap();
        let b = parse_seed("a.txt", "Other text.", modified()).unwrap();
        let c = parse_seed("b.txt", "Text.", modified()).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.content_hash, c.content_hash);
    }

    #[test]
    fn characters_xml_forbids_are_dropped() {
        let entry = parse_seed("a.txt", "Bell\u{7} and form\u{C}feed.", modified()).unwrap();
        assert_eq!(entry.title, "Bell and formfeed.");
    }

    #[test]
    fn empty_files_give_no_entry() {
        assert!(parse_seed("a.txt", "date 2023-09-09\n\n \n", modified()).is_none());
    }
}

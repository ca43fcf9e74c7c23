//! Plain prose → what a feed entry needs: paragraphs without scraper noise, the first sentence
//! as a title, a short summary, and HTML with URLs, `pic.twitter.com/…` links and `@handles`
//! made clickable.

use linkify::{LinkFinder, LinkKind};

use crate::normalize::truncate_at_word;

/// Titles longer than this (in characters, "…" included) are cut at a word boundary.
pub const MAX_TITLE_CHARS: usize = 120;
/// A first paragraph longer than this is cut for the summary.
const MAX_SUMMARY_CHARS: usize = 300;

/// Paragraphs are separated by blank lines; white space inside one collapses to single spaces.
/// Lines equal to one of `noise` are dropped first.
pub fn paragraphs(body: &str, noise: &[String]) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in body.lines().chain(std::iter::once("")) {
        let trimmed = line.trim();
        if noise
            .iter()
            .any(|noise| noise.eq_ignore_ascii_case(trimmed))
        {
            continue;
        }
        if trimmed.is_empty() {
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

/// The title made from a body's first paragraph.
pub fn title_from(first_paragraph: &str) -> String {
    truncate_at_word(first_sentence(first_paragraph), MAX_TITLE_CHARS)
}

/// The summary: the first paragraph, cut at a word boundary when long.
pub fn summary_from(first_paragraph: &str) -> String {
    truncate_at_word(first_paragraph, MAX_SUMMARY_CHARS)
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
pub fn first_sentence(paragraph: &str) -> &str {
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

/// Paragraphs as `<p>` elements, text escaped and links made clickable.
pub fn paragraphs_html(paragraphs: &[String]) -> String {
    paragraphs
        .iter()
        .map(|paragraph| format!("<p>{}</p>", linkify_escaped(paragraph)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// HTML-escapes `text` and turns URLs, bare `pic.twitter.com/…` links and `@handles` into
/// links.
pub fn linkify_escaped(text: &str) -> String {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]).url_must_have_scheme(false);
    finder
        .spans(text)
        .map(|span| match span.kind() {
            Some(LinkKind::Url) => {
                let href = if span.as_str().contains("://") {
                    span.as_str().to_string()
                } else {
                    format!("https://{}", span.as_str())
                };
                anchor(&href, span.as_str())
            }
            _ => link_handles(span.as_str()),
        })
        .collect()
}

/// `@handle` → a link to the handle's profile; everything else escaped.
fn link_handles(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let (before, from_at) = rest.split_at(at);
        let handle_len = from_at[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(from_at.len() - 1);
        let preceded_by_word = before.chars().last().is_some_and(|c| c.is_alphanumeric());
        out.push_str(&html_escape::encode_text(before));
        if handle_len == 0 || preceded_by_word {
            out.push('@');
            rest = &from_at[1..];
            continue;
        }
        let handle = &from_at[1..=handle_len];
        out.push_str(&anchor(
            &format!("https://twitter.com/{handle}"),
            &from_at[..=handle_len],
        ));
        rest = &from_at[handle_len + 1..];
    }
    out.push_str(&html_escape::encode_text(rest));
    out
}

fn anchor(href: &str, text: &str) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        html_escape::encode_double_quoted_attribute(href),
        html_escape::encode_text(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_initials_decimals_and_quotes_are_handled() {
        let cases = [
            (
                "Mr. Smith met Dr. Jones in the U.S. Army. Then left.",
                "Mr. Smith met Dr. Jones in the U.S. Army.",
            ),
            (
                "Mrs. and Ms. Lee met St. John Jr. at noon. Later.",
                "Mrs. and Ms. Lee met St. John Jr. at noon.",
            ),
            (
                "The U.K. vote, e.g. in Kent, i.e. the south, etc. was close. Yes.",
                "The U.K. vote, e.g. in Kent, i.e. the south, etc. was close.",
            ),
            ("On Sept. 8 it rained. Then sun.", "On Sept. 8 it rained."),
            (
                "J. R. R. Tolkien wrote 3.5 books. More.",
                "J. R. R. Tolkien wrote 3.5 books.",
            ),
            ("Is it? Yes.", "Is it?"),
            ("He said “stop.” Then he left.", "He said “stop.”"),
            ("She asked, \"Why?\" Nobody knew.", "She asked, \"Why?\""),
            ("No sentence end here", "No sentence end here"),
        ];
        for (paragraph, expected) in cases {
            assert_eq!(first_sentence(paragraph), expected, "{paragraph}");
        }
    }

    #[test]
    fn long_titles_and_summaries_are_cut_at_a_word_boundary() {
        let long = "word ".repeat(100);
        let title = title_from(long.trim());
        assert!(title.chars().count() <= 120, "{title}");
        assert!(title.ends_with("word…"), "{title}");
        let summary = summary_from(long.trim());
        assert!(
            summary.chars().count() <= 300 && summary.ends_with('…'),
            "{summary}"
        );
        assert_eq!(summary_from("Short."), "Short.");
    }

    #[test]
    fn noise_lines_are_dropped_and_paragraphs_kept() {
        let noise = crate::config::default_noise_lines();
        let paragraphs = paragraphs(
            "First\n  line.\nLOADING\n\nadvertisement\n\nSecond.\n",
            &noise,
        );
        assert_eq!(paragraphs, ["First line.", "Second."]);
    }

    #[test]
    fn urls_bare_picture_links_and_handles_become_links() {
        assert_eq!(
            linkify_escaped(
                "See https://t.co/abc?x=1&y=2 and pic.twitter.com/k9U — Kim (@KimK) <3 me@mail.com"
            ),
            "See <a href=\"https://t.co/abc?x=1&amp;y=2\">https://t.co/abc?x=1&amp;y=2</a> and \
             <a href=\"https://pic.twitter.com/k9U\">pic.twitter.com/k9U</a> — Kim \
             (<a href=\"https://twitter.com/KimK\">@KimK</a>) &lt;3 me@mail.com"
        );
    }
}

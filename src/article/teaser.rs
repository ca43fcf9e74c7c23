//! `full_text: auto`'s rule: whether an entry's own words are only a teaser of its article.

use crate::normalize::html_to_text;

/// Entries with fewer words than this are taken for teasers: a whole news story or blog post
/// runs to several hundred, a teaser to a sentence or two.
pub const TEASER_MAX_WORDS: usize = 150;

/// What the last words of a teaser's "read more" link say, lowercased, in the languages feeds
/// are most often written in.
const READ_MORE: [&str; 16] = [
    "read more",
    "read the full story",
    "read the full article",
    "read the rest",
    "continue reading",
    "keep reading",
    "full story",
    "weiterlesen",
    "lire la suite",
    "leer más",
    "seguir leyendo",
    "continua a leggere",
    "lees verder",
    "läs mer",
    "les mer",
    "czytaj dalej",
];

/// Arrows and marks that end a "More »" link.
const MORE_MARKS: [char; 5] = ['»', '›', '→', '…', '>'];

/// Whether an entry whose own body is `body` (its content, else its summary; HTML) is a
/// teaser: it has no text, fewer than `TEASER_MAX_WORDS` words, or ends with an ellipsis or a
/// "read more" link.
pub fn is_teaser(body: Option<&str>) -> bool {
    let text = body.map(html_to_text).unwrap_or_default();
    let text = text.trim();
    text.split_whitespace().count() < TEASER_MAX_WORDS
        || ends_with_ellipsis(text)
        || ends_with_read_more(text)
}

fn ends_with_ellipsis(text: &str) -> bool {
    let end = text.trim_end_matches([']', ')', ' ']);
    end.ends_with('…') || end.ends_with("...")
}

fn ends_with_read_more(text: &str) -> bool {
    let end = text
        .trim_end_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    READ_MORE.iter().any(|phrase| end.ends_with(phrase))
        || (end.ends_with("more") && text.trim_end().ends_with(MORE_MARKS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(count: usize) -> String {
        vec!["word"; count].join(" ")
    }

    #[test]
    fn short_or_missing_bodies_are_teasers() {
        assert!(is_teaser(None));
        assert!(is_teaser(Some("<p></p>")));
        assert!(is_teaser(Some(&format!("<p>{}</p>", words(149)))));
        assert!(!is_teaser(Some(&format!("<p>{}</p>", words(150)))));
    }

    #[test]
    fn long_bodies_that_trail_off_are_teasers() {
        let long = words(400);
        for ending in [
            "and then…",
            "and then...",
            "[…]",
            "<a href=\"/a\">Read more</a>",
            "<a href=\"/a\">Continue reading →</a>",
            "<a href=\"/a\">More »</a>",
            "<a href=\"/a\">Weiterlesen</a>",
        ] {
            assert!(
                is_teaser(Some(&format!("<p>{long} {ending}</p>"))),
                "{ending}"
            );
        }
        for ending in ["and more", "the end."] {
            assert!(
                !is_teaser(Some(&format!("<p>{long} {ending}</p>"))),
                "{ending}"
            );
        }
    }
}

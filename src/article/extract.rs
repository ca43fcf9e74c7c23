//! One web page → its article: title, plain text and sanitized HTML.
//!
//! Two extractors that work differently read every page: rs-trafilatura (trafilatura's rules:
//! scores the page's blocks, then cleans the winner) and dom_smoothie (Readability.js's: scores
//! candidate containers by their paragraphs). Each alone misses in its own way, most often by
//! taking too much: a "latest news" list after a short story, an article repeated for several
//! layouts, a sidebar. Where the shorter of the two readings is found almost whole inside the
//! longer one, both agree on the article and the longer one only adds what surrounds it, so the
//! shorter one is kept; where they disagree, rs-trafilatura's, the better of the two on its own,
//! is kept. docs/ARCHITECTURE.md gives the figures behind this choice.

use std::collections::HashMap;

use url::Url;

use crate::normalize::{collapse_whitespace, html_to_text, nesting, sanitize_html};

/// What a page holds as its article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub title: Option<String>,
    /// Plain text, paragraphs separated by blank lines.
    pub text: String,
    /// Sanitized HTML with absolute links, images kept.
    pub html: String,
}

/// The shorter reading is taken when at least this share of its 4-word runs are in the longer
/// one: both then read the same article.
const AGREEMENT: f64 = 0.9;

/// A block of readability's HTML is kept when at least this share of its word runs are in
/// trafilatura's text; a block of fewer words, when every word is.
const BLOCK_AGREEMENT: f64 = 0.5;

/// Words in a run when comparing two readings, as the extraction benchmark compares texts.
const RUN: usize = 4;

/// One extractor's reading of a page.
struct Reading {
    title: Option<String>,
    text: String,
    html: String,
}

/// The article of the page `html` (decoded), found at `url` (for resolving its links); `None`
/// when neither extractor finds any text in it.
pub fn extract(html: &str, url: Option<&Url>) -> Option<Article> {
    // Both build html5ever trees, which cost the square of the nesting depth.
    let html = &nesting::within_depth(html);
    let trafilatura = read_with_trafilatura(html, url);
    let readability = read_with_readability(html, url);
    let chosen = match (trafilatura, readability) {
        (Some(first), Some(second)) => agreed(first, second),
        (first, second) => first.or(second)?,
    };
    Some(Article {
        title: chosen.title,
        text: paragraphs(&chosen.text),
        html: sanitize_html(&chosen.html, url),
    })
}

/// `trafilatura`'s reading, unless `readability`'s is shorter and found almost whole within
/// it. trafilatura's HTML drops images; where readability's reading holds all of trafilatura's
/// text, readability's HTML is kept, cut to the blocks trafilatura took.
fn agreed(trafilatura: Reading, readability: Reading) -> Reading {
    let title = trafilatura.title.clone().or(readability.title.clone());
    let shorter = words(&readability.text).count() < words(&trafilatura.text).count();
    if shorter && share_found(&readability.text, &trafilatura.text) >= AGREEMENT {
        return Reading {
            title,
            ..readability
        };
    }
    if share_found(&trafilatura.text, &readability.text) >= AGREEMENT {
        let html = only_blocks_in(&readability.html, &trafilatura.text);
        return Reading {
            title,
            text: html_to_text(&html),
            html,
        };
    }
    Reading {
        title,
        ..trafilatura
    }
}

/// The elements that hold text of their own, which `only_blocks_in` keeps or removes whole.
const TEXT_BLOCKS: &str =
    "p, li, h1, h2, h3, h4, h5, h6, blockquote, pre, dt, dd, figcaption, td, th";

/// `html` without the text blocks whose words are mostly not in `text`; images and the
/// structure around the blocks stay.
fn only_blocks_in(html: &str, text: &str) -> String {
    let document = dom_query::Document::fragment(html);
    let kept = runs(text);
    let kept_words: std::collections::HashSet<String> =
        words(text).map(str::to_lowercase).collect();
    for block in document.select(TEXT_BLOCKS).nodes() {
        let block_text = block.text();
        let belongs = if words(&block_text).count() < RUN {
            words(&block_text).all(|word| kept_words.contains(&word.to_lowercase()))
        } else {
            share_of(&runs(&block_text), &kept) >= BLOCK_AGREEMENT
        };
        if !belongs {
            block.remove_from_parent();
        }
    }
    document.html_root().inner_html().to_string()
}

fn read_with_trafilatura(html: &str, url: Option<&Url>) -> Option<Reading> {
    let options = rs_trafilatura::Options {
        include_images: true,
        include_links: true,
        url: url.map(Url::to_string),
        ..rs_trafilatura::Options::default()
    };
    let result = rs_trafilatura::extract_with_options(html, &options).ok()?;
    let html = result.content_html?;
    (!result.content_text.trim().is_empty()).then(|| Reading {
        title: result
            .metadata
            .title
            .filter(|title| !title.trim().is_empty()),
        text: result.content_text,
        html,
    })
}

fn read_with_readability(html: &str, url: Option<&Url>) -> Option<Reading> {
    let config = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        ..dom_smoothie::Config::default()
    };
    let article = dom_smoothie::Readability::new(html, url.map(Url::as_str), Some(config))
        .ok()?
        .parse()
        .ok()?;
    (!article.text_content.trim().is_empty()).then(|| Reading {
        title: Some(article.title).filter(|title| !title.trim().is_empty()),
        text: article.text_content.to_string(),
        html: article.content.to_string(),
    })
}

/// The words of `text`: runs of letters, digits and underscores.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty())
}

/// The runs of `RUN` words in `text`, counted.
fn runs(text: &str) -> HashMap<Vec<String>, usize> {
    let words: Vec<String> = words(text).map(str::to_lowercase).collect();
    let mut runs = HashMap::new();
    for run in words.windows(RUN) {
        *runs.entry(run.to_vec()).or_insert(0) += 1;
    }
    runs
}

/// The share of `part`'s word runs that `whole` has too (each counted as often as it occurs).
fn share_found(part: &str, whole: &str) -> f64 {
    share_of(&runs(part), &runs(whole))
}

fn share_of(part: &HashMap<Vec<String>, usize>, whole: &HashMap<Vec<String>, usize>) -> f64 {
    let total: usize = part.values().sum();
    if total == 0 {
        return 0.0;
    }
    let found: usize = part
        .iter()
        .map(|(run, count)| (*count).min(whole.get(run).copied().unwrap_or(0)))
        .sum();
    found as f64 / total as f64
}

/// `text` as paragraphs separated by blank lines: each line that has text is one, its white
/// space collapsed.
fn paragraphs(text: &str) -> String {
    text.lines()
        .map(collapse_whitespace)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORY: &str = "The river rose four metres overnight and the old bridge closed at dawn. \
        Engineers said the piers held, but the road will stay shut until divers have looked at \
        the footings. Ferries run every half hour from the north quay in the meantime.";

    fn page(article: &str, around: &str) -> String {
        format!(
            "<html><head><title>Bridge closed</title></head><body>\
             <nav><a href=\"/\">Home</a> <a href=\"/news\">News</a></nav>\
             <article><h1>Bridge closed</h1><p>{article}</p>\
             <figure><img src=\"/flood.jpg\" alt=\"The flood\"><figcaption>The flood at dawn</figcaption></figure>\
             <p>See the <a href=\"/ferries\">ferry times</a> for the crossing.</p></article>\
             {around}<footer>© The Gazette</footer></body></html>"
        )
    }

    #[test]
    fn takes_the_article_with_absolute_links_and_images() {
        let url = Url::parse("https://gazette.example/2026/bridge").unwrap();
        let article = extract(&page(STORY, ""), Some(&url)).expect("an article");
        assert!(article.text.contains("Ferries run every half hour"));
        assert!(!article.text.contains("Home"));
        assert!(!article.text.contains("The Gazette"));
        assert!(article.html.contains("https://gazette.example/flood.jpg"));
        assert!(article.html.contains("https://gazette.example/ferries"));
        assert_eq!(article.title.as_deref(), Some("Bridge closed"));
    }

    #[test]
    fn the_html_is_sanitized() {
        let url = Url::parse("https://gazette.example/a").unwrap();
        let hostile = format!("{STORY}<script>steal()</script><img src=x onerror=steal()>");
        let article = extract(&page(&hostile, ""), Some(&url)).expect("an article");
        assert!(!article.html.contains("script"));
        assert!(!article.html.contains("onerror"));
    }

    #[test]
    fn a_page_without_text_has_no_article() {
        assert_eq!(extract("<html><body><nav></nav></body></html>", None), None);
    }

    /// A reading of these paragraphs.
    fn reading(paragraphs: &[&str]) -> Reading {
        Reading {
            title: None,
            text: paragraphs.join("\n\n"),
            html: paragraphs
                .iter()
                .map(|paragraph| format!("<p>{paragraph}</p>"))
                .collect(),
        }
    }

    const LIST: &str = "Latest news: budget passed; mayor resigns; rain again.";

    #[test]
    fn the_shorter_reading_wins_where_both_agree() {
        let chosen = agreed(reading(&[STORY, LIST]), reading(&[STORY]));
        assert_eq!(chosen.text, STORY);
        let elsewhere = "A different page element with words of its own that share nothing.";
        let chosen = agreed(reading(&[STORY, LIST]), reading(&[elsewhere]));
        assert_eq!(chosen.text, format!("{STORY}\n\n{LIST}"));
    }

    #[test]
    fn readability_markup_is_cut_to_what_trafilatura_took() {
        let mut readability = reading(&[STORY, LIST]);
        readability.html =
            format!("<p>{STORY}</p><figure><img src=\"a.jpg\"></figure><p>{LIST}</p>");
        let chosen = agreed(reading(&[STORY]), readability);
        assert_eq!(
            chosen.html,
            format!("<p>{STORY}</p><figure><img src=\"a.jpg\"></figure>")
        );
        assert_eq!(chosen.text.trim(), STORY);
    }

    #[test]
    fn text_is_paragraphs_separated_by_blank_lines() {
        assert_eq!(
            paragraphs("  one\n\n\n  two   words \n"),
            "one\n\ntwo words"
        );
    }
}

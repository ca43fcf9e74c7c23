//! Entry identity and content hashing.
//!
//! Two entries are the same story when their normalized body text is equal, whatever markup,
//! white space, Unicode form or letter case their publishers wrapped it in. The title is left out
//! on purpose: outlets retitle the same text. This module is pure: no I/O.

use unicode_normalization::UnicodeNormalization;

use crate::model::ContentHash;
use crate::normalize::{collapse_whitespace, html_to_text};

/// The content hash of an entry: blake3 of the normalized text of its content, else its summary.
/// `title` is the last resort, for entries that have no body at all.
///
/// ```
/// use tributary::dedup::content_hash;
///
/// let outlet = content_hash(Some("<p>Bridge <b>approved</b>.</p>"), None, "Bridge news");
/// let reposted = content_hash(Some("BRIDGE   approved."), None, "Another title");
/// assert_eq!(outlet, reposted);
/// ```
pub fn content_hash(content: Option<&str>, summary: Option<&str>, title: &str) -> ContentHash {
    let body = [content, summary]
        .into_iter()
        .flatten()
        .map(normalized_text)
        .find(|text| !text.is_empty());
    ContentHash::of_normalized_text(&body.unwrap_or_else(|| normalized_text(title)))
}

/// HTML → plain text, Unicode NFKC, white space collapsed to single spaces, case-folded.
pub fn normalized_text(html: &str) -> String {
    let folded: String = html_to_text(html)
        .nfkc()
        .flat_map(char::to_lowercase)
        .collect();
    collapse_whitespace(&folded)
}

/// Identity of an entry within its source: its guid, else its link, else its content hash.
pub fn entry_key(guid: Option<&str>, link: Option<&str>, hash: &ContentHash) -> String {
    [guid, link]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|candidate| !candidate.is_empty())
        .map_or_else(|| format!("hash:{}", hash.as_str()), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_whitespace_case_and_unicode_form_do_not_change_the_hash() {
        let plain = content_hash(Some("Hello wide world. Second line."), None, "a");
        let marked_up = content_hash(
            Some("<p>Hello <b>WIDE</b>\n\n  world.</p><p>Second&nbsp;line.</p>"),
            None,
            "b",
        );
        // U+FF37 FULLWIDTH W folds to W under NFKC.
        let fullwidth = content_hash(Some("hello \u{FF37}ide world. second line."), None, "c");
        assert_eq!(plain, marked_up);
        assert_eq!(plain, fullwidth);
    }

    #[test]
    fn different_text_gives_a_different_hash() {
        assert_ne!(
            content_hash(Some("The vote passed."), None, "t"),
            content_hash(Some("The vote failed."), None, "t")
        );
    }

    #[test]
    fn summary_then_title_stand_in_for_missing_content() {
        assert_eq!(
            content_hash(None, Some("<p>Body</p>"), "x"),
            content_hash(Some("body"), None, "y")
        );
        assert_eq!(
            content_hash(Some("  "), None, "Only a title"),
            content_hash(None, None, "only a TITLE")
        );
    }

    #[test]
    fn identity_prefers_guid_then_link_then_hash() {
        let hash = content_hash(Some("x"), None, "");
        assert_eq!(entry_key(Some("g"), Some("l"), &hash), "g");
        assert_eq!(entry_key(Some(" "), Some("l"), &hash), "l");
        assert_eq!(
            entry_key(None, None, &hash),
            format!("hash:{}", hash.as_str())
        );
    }
}

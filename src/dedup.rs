//! Entry identity and content hashing.
//!
//! Two entries are the same story when their normalized body text is equal, whatever markup,
//! white space, Unicode form, quote style or letter case their publishers wrapped it in, and
//! whatever "The post … appeared first on …" line their blog engine appended. The title is left
//! out on purpose: outlets retitle the same text. Items too short for their text to tell them
//! apart (title-only items) are hashed by title and canonical link instead. Links are compared in
//! canonical form: tracking parameters, fragments and default ports do not make a new story.
//! This module is pure: no I/O.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
use url::Url;

use crate::model::ContentHash;
use crate::normalize::html_to_text;

/// Bodies whose normalized text is shorter than this are not told apart by their text alone.
const SHORT_BODY_CHARS: usize = 40;

/// The content hash of an entry: blake3 of the normalized text of its content, else its
/// summary; for short or missing bodies, of its title and canonical link.
///
/// ```
/// use tributary::dedup::content_hash;
///
/// let outlet = content_hash(Some("<p>The bridge was <b>approved</b> by the council today.</p>"), None, "Bridge news", None);
/// let reposted = content_hash(Some("THE BRIDGE   was approved by the council today."), None, "Another title", None);
/// assert_eq!(outlet, reposted);
/// ```
pub fn content_hash(
    content: Option<&str>,
    summary: Option<&str>,
    title: &str,
    link: Option<&str>,
) -> ContentHash {
    let body = [content, summary]
        .into_iter()
        .flatten()
        .map(normalized_text)
        .find(|text| !text.is_empty())
        .unwrap_or_default();
    if body.chars().count() >= SHORT_BODY_CHARS {
        return ContentHash::of_normalized_text(&body);
    }
    let link = link.and_then(canonical_link).unwrap_or_default();
    ContentHash::of_normalized_text(&format!(
        "short\u{0}{}\u{0}{body}\u{0}{link}",
        normalized_text(title)
    ))
}

/// HTML → plain text (undecorated), Unicode NFKC, typographic quotes and dashes folded to plain
/// ones, blog-engine boilerplate removed, white space collapsed, case-folded.
pub fn normalized_text(html: &str) -> String {
    let text = html_to_text(html);
    // Most text is already in NFKC (all ASCII text is), and composing it again is costly.
    let mut folded = if is_nfkc(&text) {
        fold(&text)
    } else {
        fold(&text.nfkc().collect::<String>())
    };
    let kept = without_boilerplate(&folded).len();
    folded.truncate(kept);
    folded
}

/// Whether `text` is known to be in NFKC without normalizing it. ASCII characters are in NFKC
/// and reset the quick check's state, so only the runs of other characters are checked, rather
/// than decoding every character of the text.
fn is_nfkc(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = first_non_ascii(rest.as_bytes()) {
        let run = &rest[start..];
        let end = run
            .bytes()
            .position(|byte| byte.is_ascii())
            .unwrap_or(run.len());
        if is_nfkc_quick(run[..end].chars()) != IsNormalized::Yes {
            return false;
        }
        rest = &run[end..];
    }
    true
}

/// Where the first byte outside ASCII is. Blocks are checked with `<[u8]>::is_ascii`, which
/// reads a word at a time: most text has long ASCII stretches, and a search byte by byte was a
/// visible share of hashing every entry.
fn first_non_ascii(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 32;
    let ascii_blocks = bytes
        .chunks(BLOCK)
        .take_while(|block| block.is_ascii())
        .count();
    let from = (ascii_blocks * BLOCK).min(bytes.len());
    bytes[from..]
        .iter()
        .position(|byte| !byte.is_ascii())
        .map(|position| from + position)
}

/// `text` case-folded, with typography folded and every run of white space made one space,
/// trimmed at both ends. Every entry's body goes through it, so runs of ASCII, most of
/// any body, are folded by a table, one byte at a time without a branch on what the byte is;
/// only the other characters are decoded.
fn fold(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    // Whether the last byte written is a space, or nothing is written yet: a space after
    // either is not written.
    let mut after_space = true;
    let mut rest = text;
    while !rest.is_empty() {
        let ascii = first_non_ascii(rest.as_bytes()).unwrap_or(rest.len());
        fold_ascii(&rest.as_bytes()[..ascii], &mut out, &mut after_space);
        rest = &rest[ascii..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        if c.is_whitespace() {
            if !after_space {
                out.push(b' ');
            }
            after_space = true;
            continue;
        }
        for lower in fold_typography(c).to_lowercase() {
            out.extend_from_slice(lower.encode_utf8(&mut [0; 4]).as_bytes());
        }
        after_space = false;
    }
    if out.last() == Some(&b' ') {
        out.pop();
    }
    String::from_utf8(out).expect("ASCII bytes and whole characters")
}

/// What each ASCII byte folds to: white space (as `char::is_whitespace` says of ASCII) to a
/// space, capitals to small letters.
const ASCII_FOLDED: [u8; 128] = {
    let mut folded = [0u8; 128];
    let mut byte = 0;
    while byte < 128 {
        folded[byte] = match byte as u8 {
            b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' => b' ',
            other => other.to_ascii_lowercase(),
        };
        byte += 1;
    }
    folded
};

/// Folds a run of ASCII `bytes` onto `out`: each byte is written, and the write position
/// moves on unless the byte is a space following a space.
fn fold_ascii(bytes: &[u8], out: &mut Vec<u8>, after_space: &mut bool) {
    let start = out.len();
    out.resize(start + bytes.len(), 0);
    let written = &mut out[start..];
    let mut length = 0;
    for &byte in bytes {
        let folded = ASCII_FOLDED[usize::from(byte & 0x7F)];
        let is_space = folded == b' ';
        written[length] = folded;
        length += usize::from(!(is_space && *after_space));
        *after_space = is_space;
    }
    out.truncate(start + length);
}

fn fold_typography(c: char) -> char {
    match c {
        '‘' | '’' | '‚' | '‛' | '′' => '\'',
        '“' | '”' | '„' | '‟' | '″' | '«' | '»' => '"',
        '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' => '-',
        other => other,
    }
}

/// Drops a trailing "the post … appeared first on …" (WordPress and friends).
fn without_boilerplate(text: &str) -> &str {
    // A forward `contains` is vectorized; the reverse search for where it starts is not, and
    // runs only for the few texts that have the phrase at all.
    if !text.contains(" appeared first on ") {
        return text;
    }
    match text.rfind("the post ") {
        Some(start) if text[start..].contains(" appeared first on ") => text[..start].trim_end(),
        _ => text,
    }
}

/// Query parameters that only track where a reader came from.
fn is_tracking_parameter(name: &str) -> bool {
    name.starts_with("utm_") || matches!(name, "fbclid" | "gclid" | "mc_cid" | "mc_eid")
}

/// A link in canonical form: lowercase scheme and host, no default port, no fragment, no
/// tracking parameters, the other query parameters sorted. `None` for anything but http(s).
pub fn canonical_link(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    let mut parameters: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking_parameter(name))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    parameters.sort();
    if parameters.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(parameters);
    }
    // The url crate already lowercases the scheme and host and drops default ports.
    Some(url.to_string())
}

/// Identity of an entry within its source: its guid, else its canonical link, else its content
/// hash.
pub fn entry_key(guid: Option<&str>, link: Option<&str>, hash: &ContentHash) -> String {
    let guid = guid.map(str::trim).filter(|guid| !guid.is_empty());
    guid.map(str::to_string)
        .or_else(|| link.and_then(canonical_link))
        .unwrap_or_else(|| format!("hash:{}", hash.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20,000 strings of up to `max_length` characters drawn from `alphabet`.
    fn random_strings(
        alphabet: &str,
        max_length: usize,
        seed: u64,
    ) -> impl Iterator<Item = String> {
        let alphabet: Vec<char> = alphabet.chars().collect();
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..20_000).map(move |_| {
            (0..rng.usize(0..max_length))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect()
        })
    }

    /// `fold` is the plain character-by-character fold, only faster on ASCII runs.
    #[test]
    fn folding_by_runs_folds_as_character_by_character() {
        let by_character = |text: &str| {
            let mut folded = String::new();
            let mut space = false;
            for c in text.chars() {
                if c.is_whitespace() {
                    space = !folded.is_empty();
                    continue;
                }
                if std::mem::take(&mut space) {
                    folded.push(' ');
                }
                folded.extend(fold_typography(c).to_lowercase());
            }
            folded
        };
        let alphabet = "aZ09 \t\n\u{b}\u{c}\r\u{1c}\u{85}\u{a0}\u{2003}\u{3000}ÉéİßΣ’“—-.!";
        let words = "abcdefghijKLMNOPQRST  \n\u{a0}é’";
        for text in random_strings(alphabet, 24, 5).chain(random_strings(words, 150, 6)) {
            assert_eq!(fold(&text), by_character(&text), "{text:?}");
        }
    }

    /// Checking only the runs of non-ASCII characters answers as checking the whole text, in
    /// short texts and in texts of several ASCII blocks.
    #[test]
    fn nfkc_by_runs_answers_as_the_whole_text() {
        let alphabet = "ae \u{301}\u{308}\u{327}éﬁ\u{FF37}ÅΩ가\u{1100}\u{1161}’";
        let mostly_ascii = "abcdefghijklmnopqrstuvwxyz \u{301}éﬁ";
        let texts = random_strings(alphabet, 12, 7).chain(random_strings(mostly_ascii, 150, 8));
        for text in texts {
            let whole = is_nfkc_quick(text.chars()) == IsNormalized::Yes;
            assert_eq!(is_nfkc(&text), whole, "{text:?}");
        }
    }

    #[test]
    fn the_first_non_ascii_byte_is_found_in_any_block() {
        for text in random_strings("abcdefghijklmnopqrstuvwxyz é", 150, 9) {
            let byte_by_byte = text.bytes().position(|byte| !byte.is_ascii());
            assert_eq!(first_non_ascii(text.as_bytes()), byte_by_byte, "{text:?}");
        }
    }

    const STORY: &str = "The river council approved the new bridge on Monday.";

    #[test]
    fn markup_whitespace_case_quotes_and_unicode_form_do_not_change_the_hash() {
        let plain = content_hash(
            Some("Hello \"wide\" world - it's a second line."),
            None,
            "a",
            None,
        );
        let marked_up = content_hash(
            Some("<p>Hello “<b>WIDE</b>”\n\n  world — it’s a</p><p>second&nbsp;line.</p>"),
            None,
            "b",
            None,
        );
        // U+FF37 FULLWIDTH W folds to W under NFKC.
        let fullwidth = content_hash(
            Some("hello \"\u{FF37}ide\" world – it's a second line."),
            None,
            "c",
            None,
        );
        assert_eq!(plain, marked_up);
        assert_eq!(plain, fullwidth);
    }

    #[test]
    fn blog_engine_boilerplate_is_ignored() {
        assert_eq!(
            content_hash(Some(STORY), None, "t", None),
            content_hash(
                Some(&format!(
                    "<p>{STORY}</p><p>The post <a href=\"x\">Bridge</a> appeared first on River News.</p>"
                )),
                None,
                "t",
                None
            )
        );
    }

    #[test]
    fn one_changed_sentence_makes_a_different_story() {
        assert_ne!(
            content_hash(
                Some("The vote passed after a long debate in the chamber."),
                None,
                "t",
                None
            ),
            content_hash(
                Some("The vote failed after a long debate in the chamber."),
                None,
                "t",
                None
            )
        );
    }

    #[test]
    fn short_items_are_told_apart_by_title_and_link() {
        let a = content_hash(
            Some("Read more"),
            None,
            "Storm warning",
            Some("https://a.example/1"),
        );
        let b = content_hash(
            Some("Read more"),
            None,
            "Election night",
            Some("https://a.example/2"),
        );
        let a_again = content_hash(
            Some("read  more"),
            None,
            "STORM warning",
            Some("https://a.example/1?utm_source=x"),
        );
        assert_ne!(a, b);
        assert_eq!(a, a_again);
    }

    #[test]
    fn summary_stands_in_for_missing_content() {
        assert_eq!(
            content_hash(None, Some(&format!("<p>{STORY}</p>")), "x", None),
            content_hash(Some(STORY), None, "y", None)
        );
    }

    #[test]
    fn canonical_links_drop_tracking_fragments_and_default_ports() {
        assert_eq!(
            canonical_link("HTTPS://News.Example:443/a/b?utm_source=tw&b=2&fbclid=x&a=1#top")
                .as_deref(),
            Some("https://news.example/a/b?a=1&b=2")
        );
        assert_eq!(
            canonical_link("http://news.example:80/a?gclid=1&mc_cid=2&mc_eid=3").as_deref(),
            Some("http://news.example/a")
        );
        assert_eq!(canonical_link("mailto:a@b.example"), None);
    }

    #[test]
    fn identity_prefers_guid_then_canonical_link_then_hash() {
        let hash = content_hash(Some("x"), None, "", None);
        assert_eq!(entry_key(Some("g"), Some("https://l.example/"), &hash), "g");
        assert_eq!(
            entry_key(Some(" "), Some("https://l.example/?utm_medium=rss"), &hash),
            "https://l.example/"
        );
        assert_eq!(
            entry_key(None, None, &hash),
            format!("hash:{}", hash.as_str())
        );
    }
}

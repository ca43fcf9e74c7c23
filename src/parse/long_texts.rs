//! Entries' long texts, read here rather than by feed-rs.
//!
//! Most of a feed's bytes are its entries' bodies, usually escaped HTML with a reference every
//! few words. feed-rs reads text through quick-xml's events, which stop at every reference, and
//! that made reading bodies most of its time. So feed-rs is handed a copy of the document in
//! which each long text (found by the entry walk, `entry_extras`) is a short token, the texts are
//! decoded here with one search per reference, and the decoded texts are put back where feed-rs
//! reports the tokens.
//!
//! The decoding follows feed-rs's own: text as written, references resolved (character
//! references, the five predefined entities; other entities kept as written), CDATA sections as
//! written, comments dropped. A text holding anything this reading might settle differently (an
//! element, a processing instruction, a reference that is not well-formed) is left in place for
//! feed-rs, and so is every text of a document that holds the token's marker itself. Only the
//! elements feed-rs reads as an entry's title, summary or content are set aside, and the texts
//! are put back into those three.

use std::borrow::Cow;
use std::ops::Range;

use feed_rs::model::Feed;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::BytesRef;

/// Opens and closes each token: a Unicode noncharacter, which no feed has a reason to carry.
const MARK: char = '\u{FDD0}';

/// A document with its long texts set aside.
pub struct Hollowed<'a> {
    /// The document to hand feed-rs.
    pub document: Cow<'a, str>,
    /// The texts set aside, token `i` standing for `texts[i]`.
    texts: Vec<String>,
}

/// The parts `kept` of `document` (in order, joined), with each of `long_texts` (contents of
/// elements within them, in document order) that can be read here replaced by a token. The
/// text's leading and trailing white space stays around the token, so that feed-rs trims what
/// it trims.
pub fn hollowed<'a, 'r>(
    document: &'a str,
    kept: &[Range<usize>],
    long_texts: impl IntoIterator<Item = &'r Range<usize>>,
) -> Hollowed<'a> {
    let mut long_texts = long_texts.into_iter().peekable();
    if let [whole] = kept
        && long_texts.peek().is_none()
    {
        return Hollowed {
            document: Cow::Borrowed(&document[whole.clone()]),
            texts: Vec::new(),
        };
    }
    let mut marker = [0; 4];
    let marker = MARK.encode_utf8(&mut marker);
    let may_hollow = memchr::memmem::find(document.as_bytes(), marker.as_bytes()).is_none();
    let mut joined = String::with_capacity(kept.iter().map(ExactSizeIterator::len).sum());
    let mut texts = Vec::new();
    for part in kept {
        let mut copied_to = part.start;
        while let Some(text) = long_texts.next_if(|text| text.end <= part.end) {
            // A text outside the kept parts is not copied at all.
            if text.start < copied_to {
                continue;
            }
            let Some(decoded) = may_hollow
                .then(|| decode(&document[text.clone()]))
                .flatten()
            else {
                continue;
            };
            let core = decoded.trim();
            if core.is_empty() {
                continue;
            }
            let leading = decoded.len() - decoded.trim_start().len();
            joined.push_str(&document[copied_to..text.start]);
            joined.push_str(&decoded[..leading]);
            joined.push(MARK);
            joined.push_str(&texts.len().to_string());
            joined.push(MARK);
            joined.push_str(&decoded[leading + core.len()..]);
            texts.push(core.to_string());
            copied_to = text.end;
        }
        joined.push_str(&document[copied_to..part.end]);
    }
    Hollowed {
        document: Cow::Owned(joined),
        texts,
    }
}

impl Hollowed<'_> {
    /// Whether any text was set aside.
    pub fn is_hollow(&self) -> bool {
        !self.texts.is_empty()
    }

    /// Puts the texts back into the titles, summaries and contents of `feed`'s entries, where
    /// feed-rs puts the texts of the elements set aside. False if a token there is not one of
    /// ours (as in a document holding the marker, were it not left whole): the document must
    /// then be read whole.
    pub fn fill(&self, feed: &mut Feed) -> bool {
        feed.entries.iter_mut().all(|entry| {
            [
                entry.title.as_mut().map(|title| &mut title.content),
                entry.summary.as_mut().map(|summary| &mut summary.content),
                entry
                    .content
                    .as_mut()
                    .and_then(|content| content.body.as_mut()),
            ]
            .into_iter()
            .flatten()
            .all(|field| self.fill_field(field))
        })
    }

    fn fill_field(&self, field: &mut String) -> bool {
        match field.matches(MARK).count() {
            0 => return true,
            marks if marks % 2 == 1 => return false,
            _ => {}
        }
        let mut filled = String::with_capacity(field.len());
        // Text, token, text, token, …, text: the tokens are at the odd positions.
        for (position, piece) in field.split(MARK).enumerate() {
            if position % 2 == 0 {
                filled.push_str(piece);
                continue;
            }
            match piece.parse::<usize>().ok().and_then(|i| self.texts.get(i)) {
                Some(text) => filled.push_str(text),
                None => return false,
            }
        }
        *field = filled;
        true
    }
}

/// The text feed-rs reads from an element's content `raw`, or `None` where `raw` holds
/// anything but text, references, CDATA sections and comments, or a reference that is not a
/// plain name or number closed by `;`.
fn decode(raw: &str) -> Option<String> {
    let mut text = String::with_capacity(raw.len());
    let mut rest = raw;
    loop {
        let Some(at) = memchr::memchr2(b'&', b'<', rest.as_bytes()) else {
            text.push_str(rest);
            return Some(text);
        };
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix('&') {
            let end = memchr::memchr(b';', after.as_bytes())?;
            let name = &after[..end];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'#') {
                return None;
            }
            match BytesRef::new(name).resolve_char_ref().ok()? {
                Some(character) => text.push(character),
                None => match resolve_predefined_entity(name) {
                    Some(resolved) => text.push_str(resolved),
                    None => {
                        text.push('&');
                        text.push_str(name);
                        text.push(';');
                    }
                },
            }
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = memchr::memmem::find(after.as_bytes(), b"]]>")?;
            text.push_str(&after[..end]);
            rest = &after[end + 3..];
        } else if let Some(after) = rest.strip_prefix("<!--") {
            let end = memchr::memmem::find(after.as_bytes(), b"-->")?;
            rest = &after[end + 3..];
        } else {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_decoded_as_feed_rs_decodes_them() {
        let cases = [
            ("&lt;p&gt;a &amp;amp; b&lt;/p&gt;", Some("<p>a &amp; b</p>")),
            ("&#233;&#xE9;&#x1F600; &quot;&apos;", Some("éé😀 \"'")),
            ("&nbsp;&unknown;", Some("&nbsp;&unknown;")),
            (
                "a<![CDATA[<b>&amp;</b>]]>b<!-- gone -->c",
                Some("a<b>&amp;</b>bc"),
            ),
            ("a <b>element</b>", None),
            ("a <?pi?>", None),
            ("AT&T;", Some("AT&T;")),
            ("AT&T", None),
            ("a & b;", None),
            ("&#;", None),
            ("&#0;", None),
            ("no end &amp", None),
            ("<![CDATA[never closed", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(decode(raw).as_deref(), expected, "{raw}");
        }
    }

    #[test]
    fn tokens_keep_white_space_and_only_ours_are_filled() {
        let document = "<a>\n &#160;&lt;p&gt;text&lt;/p&gt;&#10;</a><b>kept</b><c>x&amp;y</c>";
        let texts = [3..39, 57..64];
        let hollowed = hollowed(document, std::slice::from_ref(&(0..document.len())), &texts);
        assert_eq!(
            hollowed.document,
            "<a>\n \u{a0}\u{FDD0}0\u{FDD0}\n</a><b>kept</b><c>\u{FDD0}1\u{FDD0}</c>"
        );
        let atom = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>\
                    <title>\u{FDD0}1\u{FDD0} and \u{FDD0}0\u{FDD0}</title></entry></feed>";
        let mut feed = feed_rs::parser::parse(atom.as_bytes()).unwrap();
        assert!(hollowed.fill(&mut feed));
        assert_eq!(
            feed.entries[0].title.as_ref().unwrap().content,
            "x&y and <p>text</p>"
        );
        for foreign in ["\u{FDD0}2\u{FDD0}", "\u{FDD0}0", "\u{FDD0}x\u{FDD0}"] {
            feed.entries[0].content = Some(feed_rs::model::Content {
                body: Some(foreign.into()),
                ..Default::default()
            });
            assert!(!hollowed.fill(&mut feed), "{foreign}");
        }
    }
}

//! Bytes → UTF-8 text, whatever encoding the publisher used.
//!
//! The reader works on text, and a document's bytes do not say reliably what they are, so we
//! decode first, in this order: the HTTP header's charset, a byte-order mark, the XML declaration's
//! `encoding`, then the bytes themselves: UTF-8 if they mostly are, else a `chardetng` guess (a
//! Latin-1 feed that declares nothing comes out right). The XML declaration of the result is
//! rewritten to say UTF-8, so nothing reads it as another encoding a second time.
//!
//! Like Python's feedparser, we read past two common publisher mistakes rather than fail or
//! garble the document, and say so in `Decoded::repair`. Feeds stitched together from UTF-8 and
//! windows-1252 pieces (a UTF-8 page around titles from a Latin-1 database): each byte that is
//! not part of a UTF-8 sequence is read as windows-1252 and the rest as UTF-8, where reading
//! the whole as either would garble the other half. And UTF-8 documents whose XML declaration
//! names a single-byte encoding: the bytes are believed over the label.

use std::sync::LazyLock;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// How the encoding was chosen, for `tributary parse` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingEvidence {
    HttpHeader,
    ByteOrderMark,
    XmlDeclaration,
    /// An HTML page's `<meta charset>` or `<meta http-equiv="Content-Type">`.
    MetaCharset,
    Guess,
}

/// Decoded text; `encoding` is the WHATWG name of what was decoded.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
    pub chosen_by: EncodingEvidence,
    pub repair: Option<EncodingRepair>,
}

/// Where decoding did not follow the encoding chosen: reported as a repair of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodingRepair {
    /// `count` bytes that are not UTF-8 were read as windows-1252; the first is at byte
    /// offset `first_at` of the decoded text.
    ForeignBytes { count: usize, first_at: usize },
    /// The XML declaration named `declared` (the WHATWG name its label stands for), but the
    /// bytes are UTF-8.
    DeclarationIgnored { declared: &'static str },
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const UTF8_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";

/// What windows-1252 makes of each byte, as encoding_rs reads it (the five bytes it leaves
/// undefined become the C1 controls of the same number). Looked up rather than decoded one
/// byte at a time, which would allocate for each.
static WINDOWS_1252_CHARS: LazyLock<[char; 256]> = LazyLock::new(|| {
    let every_byte: Vec<u8> = (0..=u8::MAX).collect();
    let (text, _) = WINDOWS_1252.decode_without_bom_handling(&every_byte);
    let mut chars = ['\0'; 256];
    for (slot, c) in chars.iter_mut().zip(text.chars()) {
        *slot = c;
    }
    chars
});

pub fn decode(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    let (encoding, chosen_by, repair) = choose(bytes, content_type);
    if encoding == UTF_8 {
        let (text, foreign) = decode_utf8(bytes);
        return Decoded {
            text,
            encoding: encoding.name(),
            chosen_by,
            repair: repair.or(foreign),
        };
    }
    let (text, _) = encoding.decode_with_bom_removal(bytes);
    Decoded {
        text: declare_utf8(&text),
        encoding: encoding.name(),
        chosen_by,
        repair,
    }
}

fn choose(
    bytes: &[u8],
    content_type: Option<&str>,
) -> (&'static Encoding, EncodingEvidence, Option<EncodingRepair>) {
    if let Some(encoding) = content_type.and_then(header_charset) {
        return (encoding, EncodingEvidence::HttpHeader, None);
    }
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return (encoding, EncodingEvidence::ByteOrderMark, None);
    }
    let declared = declared_encoding(bytes)
        .map(|encoding| (encoding, EncodingEvidence::XmlDeclaration))
        .or_else(|| meta_charset(bytes).map(|encoding| (encoding, EncodingEvidence::MetaCharset)));
    if let Some((declared, evidence)) = declared {
        // Text in a single-byte encoding is next to never valid UTF-8 once it has a byte above
        // 0x7F, so such bytes were written as UTF-8 under a stale label.
        if declared.is_single_byte() && !bytes.is_ascii() && is_utf8(bytes) {
            let repair = EncodingRepair::DeclarationIgnored {
                declared: declared.name(),
            };
            return (UTF_8, EncodingEvidence::Guess, Some(repair));
        }
        return (declared, evidence, None);
    }
    if is_utf8(bytes) || mostly_utf8(bytes) {
        return (UTF_8, EncodingEvidence::Guess, None);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    (
        detector.guess(None, chardetng::Utf8Detection::Allow),
        EncodingEvidence::Guess,
        None,
    )
}

/// Whether `bytes` are UTF-8 throughout. Most documents are, and encoding_rs checks that several
/// times faster than `std::str::from_utf8`.
fn is_utf8(bytes: &[u8]) -> bool {
    Encoding::utf8_valid_up_to(bytes) == bytes.len()
}

/// Whether bytes that are not all UTF-8 still mostly are: they have no fewer valid multi-byte
/// sequences than bytes outside one. Legacy text forms a few sequences by chance (KOI8-R "её"
/// is C5 A3, a valid one), but among many more bytes that form none, and reading it as UTF-8
/// would garble every line.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut sequences, mut foreign) = (0, 0);
    for (valid, invalid) in utf8_runs(bytes) {
        // Each multi-byte sequence has one lead byte, 0xC0 or above.
        sequences += valid.bytes().filter(|byte| *byte >= 0xC0).count();
        foreign += invalid.len();
    }
    sequences >= foreign
}

/// UTF-8 bytes as text, BOM dropped and XML declaration replaced; bytes that are not part of a
/// UTF-8 sequence are read as windows-1252, the encoding they nearly always turn out to be in.
fn decode_utf8(bytes: &[u8]) -> (String, Option<EncodingRepair>) {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    // The declaration is replaced before decoding, so that offsets are counted in the final
    // text and foreign bytes only where the text keeps them.
    let (declaration, body) = match declaration_len(bytes) {
        Some(len) => (UTF8_DECLARATION, &bytes[len..]),
        None => ("", bytes),
    };
    let mut text = String::with_capacity(declaration.len() + body.len());
    text.push_str(declaration);
    // Most documents are valid, and encoding_rs says so faster than the walk by runs below.
    if let Some(valid) = UTF_8.decode_without_bom_handling_and_without_replacement(body) {
        text.push_str(&valid);
        return (text, None);
    }
    let (mut count, mut first_at) = (0, 0);
    for (valid, foreign) in utf8_runs(body) {
        text.push_str(valid);
        if count == 0 && !foreign.is_empty() {
            first_at = text.len();
        }
        count += foreign.len();
        text.extend(
            foreign
                .iter()
                .map(|byte| WINDOWS_1252_CHARS[usize::from(*byte)]),
        );
    }
    let repair = (count > 0).then_some(EncodingRepair::ForeignBytes { count, first_at });
    (text, repair)
}

/// `bytes` as runs of valid UTF-8, each with the bytes after it that are not part of a UTF-8
/// sequence (none after the last run, unless the bytes end in the middle of a sequence).
/// `from_utf8` checks many bytes at a time, so runs are found in bulk; the check of each valid
/// run is repeated to get it as `str` without `unsafe`, which only mixed documents pay.
fn utf8_runs(mut bytes: &[u8]) -> impl Iterator<Item = (&str, &[u8])> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let error = match std::str::from_utf8(bytes) {
            Ok(valid) => {
                bytes = &[];
                return Some((valid, &[][..]));
            }
            Err(error) => error,
        };
        let (valid, rest) = bytes.split_at(error.valid_up_to());
        let (invalid, rest) = rest.split_at(error.error_len().unwrap_or(rest.len()));
        bytes = rest;
        let valid = std::str::from_utf8(valid).expect("from_utf8 found these bytes valid");
        Some((valid, invalid))
    })
}

/// `charset=…` of a Content-Type value, if it names an encoding we know.
fn header_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("charset"))
            .then(|| Encoding::for_label(value.trim().trim_matches('"').as_bytes()))
            .flatten()
    })
}

/// The length of the XML declaration `bytes` start with, if they start with one.
fn declaration_len(bytes: &[u8]) -> Option<usize> {
    let end = bytes
        .strip_prefix(b"<?xml")?
        .windows(2)
        .position(|pair| pair == b"?>")?;
    Some("<?xml".len() + end + "?>".len())
}

/// `encoding="…"` in an XML declaration written in an ASCII-compatible encoding.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let declaration = &bytes[..declaration_len(bytes)?];
    let declaration = std::str::from_utf8(declaration).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let value = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let label = value[1..].split(quote).next()?;
    let encoding = Encoding::for_label(label.as_bytes())?;
    // A declaration saying UTF-16 in bytes we could read as ASCII is wrong: the bytes win.
    (encoding.is_ascii_compatible()).then_some(encoding)
}

/// Browsers look for an HTML page's `<meta>` charset in its first bytes only, so do we.
const META_PRESCAN_BYTES: usize = 1024;

/// The encoding an HTML page's `<meta charset="…">` or `<meta http-equiv="Content-Type"
/// content="…; charset=…">` names in its first `META_PRESCAN_BYTES`, if ASCII-compatible (a
/// page that says UTF-16 in bytes readable as ASCII is not UTF-16).
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    static META: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r#"(?i)<meta\s[^>]*charset\s*=\s*["']?([-a-z0-9_:.]+)"#)
            .expect("the pattern is valid")
    });
    let head = &bytes[..bytes.len().min(META_PRESCAN_BYTES)];
    let label = META.captures(head)?.get(1)?.as_bytes();
    Encoding::for_label(label).filter(|encoding| encoding.is_ascii_compatible())
}

/// Replaces the XML declaration, if any, with one that says UTF-8.
fn declare_utf8(text: &str) -> String {
    match declaration_len(text.as_bytes()) {
        Some(len) => format!("{UTF8_DECLARATION}{}", &text[len..]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATIN1_CAFE: &[u8] = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>caf\xe9</t>";
    /// Two titles, the first in windows-1252 and the second in UTF-8.
    const MIXED_TITLES: &[u8] = b"<rss><item><title>Caf\xe9</title></item>\
        <item><title>Caf\xc3\xa9</title></item></rss>";
    const UTF8_HEADER: Option<&str> = Some("application/rss+xml; charset=utf-8");

    /// The text from the first foreign byte on.
    fn from_first_foreign(decoded: &Decoded) -> &str {
        match decoded.repair {
            Some(EncodingRepair::ForeignBytes { first_at, .. }) => &decoded.text[first_at..],
            ref other => panic!("no foreign bytes reported: {other:?}"),
        }
    }

    #[test]
    fn the_http_header_wins() {
        let decoded = decode(
            b"<t>caf\xe9</t>",
            Some("application/xml; charset=\"ISO-8859-1\""),
        );
        assert_eq!(decoded.text, "<t>café</t>");
        assert_eq!(decoded.chosen_by, EncodingEvidence::HttpHeader);
        assert_eq!(decoded.repair, None);
    }

    #[test]
    fn an_html_page_says_its_charset_in_a_meta_element() {
        let page = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\"></head><body>\xcc\xee\xf1\xea\xe2\xe0</body></html>";
        let decoded = decode(page, Some("text/html"));
        assert!(
            decoded.text.contains("<body>Москва</body>"),
            "{}",
            decoded.text
        );
        assert_eq!(decoded.chosen_by, EncodingEvidence::MetaCharset);
        let page = b"<meta charset=iso-8859-1><p>caf\xe9</p>";
        assert_eq!(
            decode(page, None).text,
            "<meta charset=iso-8859-1><p>café</p>"
        );
    }

    #[test]
    fn a_latin1_header_wins_over_utf8_bytes() {
        let decoded = decode(
            b"<t>caf\xc3\xa9</t>",
            Some("application/xml; charset=ISO-8859-1"),
        );
        assert_eq!(decoded.text, "<t>cafÃ©</t>");
        assert_eq!(decoded.encoding, "windows-1252");
        assert_eq!(decoded.repair, None);
    }

    #[test]
    fn the_declaration_is_read_and_rewritten_to_utf8() {
        let decoded = decode(LATIN1_CAFE, Some("text/xml"));
        assert_eq!(
            decoded.text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><t>café</t>"
        );
        assert_eq!(decoded.chosen_by, EncodingEvidence::XmlDeclaration);
        assert_eq!(decoded.encoding, "windows-1252");
        assert_eq!(decoded.repair, None);
    }

    #[test]
    fn a_latin1_declaration_over_utf8_bytes_is_ignored() {
        let decoded = decode(
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>caf\xc3\xa9</t>",
            None,
        );
        assert_eq!(
            decoded.text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><t>café</t>"
        );
        assert_eq!(decoded.encoding, "UTF-8");
        assert_eq!(
            decoded.repair,
            Some(EncodingRepair::DeclarationIgnored {
                declared: "windows-1252"
            })
        );
    }

    #[test]
    fn a_bom_names_utf16() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "<?xml version=\"1.0\" encoding=\"UTF-16\"?><t>ü</t>".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let decoded = decode(&bytes, None);
        assert_eq!(
            decoded.text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><t>ü</t>"
        );
        assert_eq!(decoded.chosen_by, EncodingEvidence::ByteOrderMark);
    }

    #[test]
    fn undeclared_latin1_is_guessed() {
        let decoded = decode(
            b"<rss><channel><title>Caf\xe9 cr\xe8me br\xfbl\xe9e \xe0 la fran\xe7aise</title></channel></rss>",
            None,
        );
        assert!(
            decoded.text.contains("Café crème brûlée à la française"),
            "{}",
            decoded.text
        );
        assert_eq!(decoded.chosen_by, EncodingEvidence::Guess);
        assert_eq!(decoded.repair, None);
    }

    #[test]
    fn undeclared_koi8r_with_chance_utf8_sequences_is_guessed() {
        // "её" is C5 A3 in KOI8-R, a valid UTF-8 sequence; the rest of the letters are not.
        let (bytes, _, _) = encoding_rs::KOI8_R
            .encode("<rss><title>Она взяла её книгу и прочитала её до конца ночью</title></rss>");
        assert!(std::str::from_utf8(&bytes[..]).is_err());
        let decoded = decode(&bytes, None);
        // chardetng names the KOI8 family by its superset.
        assert_eq!(decoded.encoding, "KOI8-U");
        assert!(decoded.text.contains("прочитала её"), "{}", decoded.text);
        assert_eq!(decoded.repair, None);
    }

    #[test]
    fn valid_utf8_is_not_repaired() {
        for bytes in [
            "<rss><title>Café</title>".as_bytes(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><title>Café</title>".as_bytes(),
        ] {
            let decoded = decode(bytes, None);
            assert!(decoded.text.ends_with("<title>Café</title>"));
            assert_eq!(decoded.encoding, "UTF-8");
            assert_eq!(decoded.repair, None);
        }
    }

    #[test]
    fn undeclared_mixed_titles_are_both_read() {
        let decoded = decode(MIXED_TITLES, None);
        assert_eq!(
            decoded.text,
            "<rss><item><title>Café</title></item><item><title>Café</title></item></rss>"
        );
        assert_eq!(decoded.encoding, "UTF-8");
        assert_eq!(decoded.chosen_by, EncodingEvidence::Guess);
        assert_eq!(
            decoded.repair,
            Some(EncodingRepair::ForeignBytes {
                count: 1,
                first_at: "<rss><item><title>Caf".len()
            })
        );
        assert!(from_first_foreign(&decoded).starts_with("é</title>"));
    }

    #[test]
    fn declared_utf8_mixed_titles_are_both_read() {
        // Longer than the declaration it is rewritten to, so offsets must be counted after.
        let declaration = b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>";
        let decoded = decode(&[&declaration[..], MIXED_TITLES].concat(), None);
        assert_eq!(
            decoded.text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
             <rss><item><title>Café</title></item><item><title>Café</title></item></rss>"
        );
        assert_eq!(decoded.chosen_by, EncodingEvidence::XmlDeclaration);
        let Some(EncodingRepair::ForeignBytes { count, first_at }) = decoded.repair else {
            panic!("{:?}", decoded.repair);
        };
        assert_eq!(count, 1);
        assert_eq!(first_at, decoded.text.find("Caf").unwrap() + "Caf".len());
        assert!(from_first_foreign(&decoded).starts_with("é</title>"));
    }

    #[test]
    fn a_sequence_cut_at_the_end_is_read_as_windows_1252() {
        // "€" is E2 82 AC; the document ends after its first two bytes.
        let decoded = decode(b"\xEF\xBB\xBF<t>caf\xc3\xa9 5\xe2\x82", UTF8_HEADER);
        assert_eq!(decoded.text, "<t>café 5â‚");
        assert_eq!(
            decoded.repair,
            Some(EncodingRepair::ForeignBytes {
                count: 2,
                first_at: "<t>café 5".len()
            })
        );
        assert_eq!(from_first_foreign(&decoded), "â‚");
    }

    #[test]
    fn undefined_windows_1252_bytes_are_c1_controls() {
        let decoded = decode(b"<t>\x80\x81\x8d\x8f\x90\x9d\x9f</t>", UTF8_HEADER);
        assert_eq!(decoded.text, "<t>€\u{81}\u{8d}\u{8f}\u{90}\u{9d}Ÿ</t>");
        assert_eq!(
            decoded.repair,
            Some(EncodingRepair::ForeignBytes {
                count: 7,
                first_at: 3
            })
        );
    }
}

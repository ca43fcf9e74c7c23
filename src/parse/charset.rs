//! Bytes → UTF-8 text, whatever encoding the publisher used.
//!
//! Neither feed-rs nor quick-xml honours the charset of the HTTP `Content-Type`, so we decode
//! first, in this order: the HTTP header's charset, a byte-order mark, the XML declaration's
//! `encoding`, then a `chardetng` guess (a Latin-1 feed that declares nothing comes out right).
//! The XML declaration of the result is rewritten to say UTF-8, so the parser does not decode a
//! second time.

use encoding_rs::{Encoding, UTF_8};

/// How the encoding was chosen, for `tributary parse` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    HttpHeader,
    ByteOrderMark,
    XmlDeclaration,
    Guess,
}

/// Decoded text; `encoding` is the WHATWG name of what was decoded.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
    pub chosen_by: Source,
}

pub fn decode(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    let (encoding, chosen_by) = choose(bytes, content_type);
    let (text, _) = encoding.decode_with_bom_removal(bytes);
    Decoded {
        text: declare_utf8(&text),
        encoding: encoding.name(),
        chosen_by,
    }
}

fn choose(bytes: &[u8], content_type: Option<&str>) -> (&'static Encoding, Source) {
    if let Some(encoding) = content_type.and_then(header_charset) {
        return (encoding, Source::HttpHeader);
    }
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return (encoding, Source::ByteOrderMark);
    }
    if let Some(encoding) = declared_encoding(bytes) {
        return (encoding, Source::XmlDeclaration);
    }
    if std::str::from_utf8(bytes).is_ok() {
        return (UTF_8, Source::Guess);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    (
        detector.guess(None, chardetng::Utf8Detection::Allow),
        Source::Guess,
    )
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

/// `encoding="…"` in an XML declaration written in an ASCII-compatible encoding.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let declaration = bytes.strip_prefix(b"<?xml")?;
    let end = declaration.windows(2).position(|pair| pair == b"?>")?;
    let declaration = std::str::from_utf8(&declaration[..end]).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let value = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let label = value[1..].split(quote).next()?;
    let encoding = Encoding::for_label(label.as_bytes())?;
    // A declaration saying UTF-16 in bytes we could read as ASCII is wrong: the bytes win.
    (encoding.is_ascii_compatible()).then_some(encoding)
}

/// Replaces the XML declaration, if any, with one that says UTF-8.
fn declare_utf8(text: &str) -> String {
    match text
        .strip_prefix("<?xml")
        .and_then(|rest| rest.find("?>").map(|end| &rest[end + 2..]))
    {
        Some(rest) => format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>{rest}"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATIN1_CAFE: &[u8] = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>caf\xe9</t>";

    #[test]
    fn the_http_header_wins() {
        let decoded = decode(
            b"<t>caf\xe9</t>",
            Some("application/xml; charset=\"ISO-8859-1\""),
        );
        assert_eq!(decoded.text, "<t>café</t>");
        assert_eq!(decoded.chosen_by, Source::HttpHeader);
    }

    #[test]
    fn the_declaration_is_read_and_rewritten_to_utf8() {
        let decoded = decode(LATIN1_CAFE, Some("text/xml"));
        assert_eq!(
            decoded.text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><t>café</t>"
        );
        assert_eq!(decoded.chosen_by, Source::XmlDeclaration);
        assert_eq!(decoded.encoding, "windows-1252");
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
        assert_eq!(decoded.chosen_by, Source::ByteOrderMark);
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
        assert_eq!(decoded.chosen_by, Source::Guess);
    }
}

//! A forward-only reader of HTML fragments: text, tags with their attributes, and the markup
//! that carries no text (comments, doctypes, processing instructions, CDATA), read as a
//! browser's tokenizer reads them but without its tree rules.
//!
//! Both readers of entry HTML share it: `text` (what a reader sees, for hashes and filters) and
//! `sanitize`'s fast path (which hands anything this reader calls irregular to a full HTML
//! parser). It never fails and never allocates: pieces are slices of the input, character
//! references still encoded; `decode_references` decodes them where a reader needs the text.
//! Searches for `<` and `&` go through memchr's vector search: every body of every new entry is
//! read here twice (sanitized, then hashed), and the standard library's search for a character
//! reads a word at a time.

use memchr::memchr;

/// One piece of a fragment.
#[derive(Debug, PartialEq)]
pub enum Token<'a> {
    /// Text up to the next markup, character references still encoded.
    Text(&'a str),
    /// A `<` that starts no markup (`a < b`), which browsers show as text.
    LessThan,
    /// A start or end tag.
    Tag(Tag<'a>),
    /// `<!-- … -->`: its body.
    Comment(&'a str),
    /// A doctype, processing instruction, CDATA section, bogus comment, or a tag the fragment
    /// ends inside: nothing a reader sees.
    Other(&'a str),
}

/// A start or end tag.
#[derive(Debug, PartialEq)]
pub struct Tag<'a> {
    /// As written: compare with `is`.
    pub name: &'a str,
    pub end: bool,
    /// Ends with `/>`.
    pub self_closing: bool,
    /// Everything between the name and the closing `>` (or `/>`).
    attributes: &'a str,
}

impl<'a> Tag<'a> {
    /// Whether this is the element `name` (lowercase), in any letter case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            rest: self.attributes,
        }
    }
}

/// One attribute of a tag, as written.
#[derive(Debug, PartialEq)]
pub struct Attribute<'a> {
    pub name: &'a str,
    /// Character references still encoded; empty when the attribute has no value.
    pub value: &'a str,
    /// The quote around the value, if any.
    pub quote: Option<char>,
    /// Something the tokenizer had to guess at follows the value: no white space before the
    /// next attribute.
    pub run_on: bool,
}

/// Reads a tag's attributes (the tokenizer's attribute states).
pub struct Attributes<'a> {
    rest: &'a str,
}

impl<'a> Attributes<'a> {
    /// The attributes written in `text`, a tag's content after its name.
    pub fn new(text: &'a str) -> Self {
        Attributes { rest: text }
    }

    /// What follows the attributes read so far: once all are read, the tag's `>` and what
    /// comes after it.
    pub fn rest(&self) -> &'a str {
        self.rest
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Attribute<'a>> {
        let rest = self
            .rest
            .trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() || rest.starts_with('>') {
            self.rest = rest;
            return None;
        }
        // A name may start with `=`; after that it runs to white space, `/`, `>` or `=`.
        let first = rest.chars().next().map_or(0, char::len_utf8);
        let name_end = rest[first..]
            .find(|c: char| c.is_ascii_whitespace() || matches!(c, '/' | '>' | '='))
            .map_or(rest.len(), |at| at + first);
        let name = &rest[..name_end];
        let after_name = rest[name_end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        let Some(after_equals) = after_name.strip_prefix('=') else {
            self.rest = after_name;
            return Some(Attribute {
                name,
                value: "",
                quote: None,
                run_on: false,
            });
        };
        let value_start = after_equals.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let (value, quote, after) = match value_start.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let inside = &value_start[1..];
                match inside.find(quote) {
                    Some(end) => (&inside[..end], Some(quote), &inside[end + 1..]),
                    None => (inside, Some(quote), ""),
                }
            }
            _ => {
                let end = value_start
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(value_start.len());
                (&value_start[..end], None, &value_start[end..])
            }
        };
        self.rest = after;
        Some(Attribute {
            name,
            value,
            quote,
            run_on: quote.is_some()
                && !after.is_empty()
                && !after.starts_with(|c: char| c.is_ascii_whitespace() || matches!(c, '/' | '>')),
        })
    }
}

/// The pieces of a fragment, in order.
pub struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    pub fn new(html: &'a str) -> Self {
        Tokens { rest: html }
    }

    /// What is left to read.
    pub fn unread(&self) -> &'a str {
        self.rest
    }

    /// Skips to just past `</name>`, or to the end: the content of an element whose content is
    /// not markup (`script`, `style`, …).
    pub fn skip_raw_text(&mut self, name: &str) {
        let mut rest = self.rest;
        while let Some(at) = rest.find("</") {
            let after_slash = &rest[at + 2..];
            let names_it = after_slash
                .get(..name.len())
                .is_some_and(|candidate| candidate.eq_ignore_ascii_case(name))
                && after_slash[name.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_ascii_whitespace() || matches!(c, '/' | '>'));
            if names_it {
                let mut attributes = Attributes {
                    rest: &after_slash[name.len()..],
                };
                attributes.by_ref().for_each(drop);
                self.rest = attributes.rest.get(1..).unwrap_or("");
                return;
            }
            rest = after_slash;
        }
        self.rest = "";
    }

    /// Reads the markup at the start of `self.rest`, which begins with `<`.
    fn markup(&mut self) -> Token<'a> {
        let html = self.rest;
        let after_bracket = &html[1..];
        let skip_to = |after: &'a str, end: &str| -> (&'a str, &'a str) {
            match after.find(end) {
                Some(at) => (&after[..at], &after[at + end.len()..]),
                None => (after, ""),
            }
        };
        if let Some(comment) = after_bracket.strip_prefix("!--") {
            let (body, rest) = skip_to(comment, "-->");
            self.rest = rest;
            return Token::Comment(body);
        }
        if let Some(cdata) = after_bracket.strip_prefix("![CDATA[") {
            let (_, rest) = skip_to(cdata, "]]>");
            self.rest = rest;
            return Token::Other(&html[..html.len() - rest.len()]);
        }
        if after_bracket.starts_with(['!', '?']) {
            let (_, rest) = skip_to(after_bracket, ">");
            self.rest = rest;
            return Token::Other(&html[..html.len() - rest.len()]);
        }
        let (end, tag) = match after_bracket.strip_prefix('/') {
            Some(tag) => (true, tag),
            None => (false, after_bracket),
        };
        if !tag.starts_with(|c: char| c.is_ascii_alphabetic()) {
            if end {
                // `</>` and `</ …>`: browsers drop them, as a comment up to the next `>`.
                let (_, rest) = skip_to(tag, ">");
                self.rest = rest;
                return Token::Other(&html[..html.len() - rest.len()]);
            }
            self.rest = after_bracket;
            return Token::LessThan;
        }
        let name_length = tag
            .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
            .unwrap_or(tag.len());
        let after_name = &tag[name_length..];
        let mut attributes = Attributes { rest: after_name };
        attributes.by_ref().for_each(drop);
        let Some(rest) = attributes.rest.strip_prefix('>') else {
            // The fragment ends inside the tag, which browsers then drop.
            self.rest = "";
            return Token::Other(html);
        };
        self.rest = rest;
        let attributes = &after_name[..after_name.len() - attributes.rest.len()];
        Token::Tag(Tag {
            name: &tag[..name_length],
            end,
            self_closing: attributes.ends_with('/'),
            attributes: attributes.strip_suffix('/').unwrap_or(attributes),
        })
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        match memchr(b'<', self.rest.as_bytes()) {
            Some(0) => Some(self.markup()),
            Some(at) => {
                let text = &self.rest[..at];
                self.rest = &self.rest[at..];
                Some(Token::Text(text))
            }
            None => Some(Token::Text(std::mem::take(&mut self.rest))),
        }
    }
}

/// Appends `raw` with its character references decoded, exactly as html_escape decodes them
/// (named and numeric references ending in `;`; anything else left as written). The references
/// feed bodies carry most are looked up here: html_escape's binary search of its 2,000 names
/// was a twentieth of reading a new document.
pub fn decode_references(raw: &str, decoded: &mut String) {
    let mut rest = raw;
    while let Some(at) = memchr(b'&', rest.as_bytes()) {
        decoded.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some((name, value)) = common_reference(after) {
            decoded.push_str(value);
            rest = &after[name.len() + 1..];
        } else {
            // A reference never spans an `&`: html_escape reads the piece up to the next one
            // just as it would have read it within the whole.
            let next = memchr(b'&', after.as_bytes()).map_or(rest.len(), |length| at + 1 + length);
            html_escape::decode_html_entities_to_string(&rest[at..next], decoded);
            rest = &rest[next..];
        }
    }
    decoded.push_str(rest);
}

/// The name and value of a reference to one of the characters feed bodies use most, when
/// `after_ampersand` starts with one (`amp;…`).
pub fn common_reference(after_ampersand: &str) -> Option<(&str, &'static str)> {
    const LONGEST_NAME: usize = 6;
    let end = after_ampersand
        .bytes()
        .take(LONGEST_NAME + 1)
        .position(|byte| byte == b';')?;
    let name = &after_ampersand[..end];
    let value = match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" => "\u{a0}",
        "mdash" => "\u{2014}",
        "ndash" => "\u{2013}",
        "lsquo" => "\u{2018}",
        "rsquo" => "\u{2019}",
        "ldquo" => "\u{201c}",
        "rdquo" => "\u{201d}",
        "hellip" => "\u{2026}",
        _ => return None,
    };
    Some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(token: Option<Token<'_>>) -> Tag<'_> {
        match token {
            Some(Token::Tag(tag)) => tag,
            other => panic!("not a tag: {other:?}"),
        }
    }

    #[test]
    fn text_tags_and_markup_without_text() {
        let mut tokens = Tokens::new("a<b>c</B><!-- x --><?pi?><![CDATA[d]]>e < f<br/></ g>");
        assert_eq!(tokens.next(), Some(Token::Text("a")));
        let start = tag(tokens.next());
        assert!(start.is("b") && !start.end);
        assert_eq!(tokens.next(), Some(Token::Text("c")));
        let end = tag(tokens.next());
        assert!(end.is("b") && end.end);
        assert_eq!(tokens.next(), Some(Token::Comment(" x ")));
        assert_eq!(tokens.next(), Some(Token::Other("<?pi?>")));
        assert_eq!(tokens.next(), Some(Token::Other("<![CDATA[d]]>")));
        assert_eq!(tokens.next(), Some(Token::Text("e ")));
        assert_eq!(tokens.next(), Some(Token::LessThan));
        assert_eq!(tokens.next(), Some(Token::Text(" f")));
        let br = tag(tokens.next());
        assert!(br.is("br") && br.self_closing);
        assert_eq!(tokens.next(), Some(Token::Other("</ g>")));
        assert_eq!(tokens.next(), None);
    }

    #[test]
    fn attributes_as_the_tokenizer_reads_them() {
        let mut tokens = Tokens::new(r#"<a href='x>y' title = "t" hidden data-x=1 b="q"c=d>"#);
        let attributes: Vec<_> = tag(tokens.next())
            .attributes()
            .map(|attribute| (attribute.name, attribute.value, attribute.run_on))
            .collect();
        assert_eq!(
            attributes,
            [
                ("href", "x>y", false),
                ("title", "t", false),
                ("hidden", "", false),
                ("data-x", "1", false),
                ("b", "q", true),
                ("c", "d", false),
            ]
        );
        assert_eq!(tokens.next(), None);
    }

    #[test]
    fn attribute_names_may_start_with_any_character() {
        let mut tokens = Tokens::new("<a \u{a0}x=1 \u{85} é=\"2\" href=/p>");
        let attributes: Vec<_> = tag(tokens.next())
            .attributes()
            .map(|attribute| (attribute.name, attribute.value))
            .collect();
        assert_eq!(
            attributes,
            [("\u{a0}x", "1"), ("\u{85}", ""), ("é", "2"), ("href", "/p")]
        );
    }

    #[test]
    fn a_fragment_ending_inside_a_tag_drops_it() {
        let mut tokens = Tokens::new("shown <b title='x");
        assert_eq!(tokens.next(), Some(Token::Text("shown ")));
        assert!(matches!(tokens.next(), Some(Token::Other(_))));
        assert_eq!(tokens.next(), None);
    }

    #[test]
    fn raw_text_ends_at_its_own_end_tag_only() {
        let mut tokens = Tokens::new("x = '</p>'; </scripts> </SCRIPT >after");
        tokens.skip_raw_text("script");
        assert_eq!(tokens.next(), Some(Token::Text("after")));
    }

    #[test]
    fn common_references_read_as_html_escape_reads_them() {
        for name in [
            "amp", "lt", "gt", "quot", "apos", "nbsp", "mdash", "ndash", "lsquo", "rsquo", "ldquo",
            "rdquo", "hellip",
        ] {
            let reference = format!("&{name};");
            let (found, value) = common_reference(&reference[1..]).expect(name);
            assert_eq!(found, name);
            assert_eq!(
                value,
                html_escape::decode_html_entities(&reference),
                "{name}"
            );
        }
        for raw in [
            "a &amp; b &mdash; c",
            "&amp &ampx; &&amp;; &#8217;s &#x2019; &#0; &bogus; &AMP; &amp",
            "trailing &",
            "&hellip;&nbsp;&eacute;&",
        ] {
            let mut decoded = String::new();
            decode_references(raw, &mut decoded);
            assert_eq!(decoded, html_escape::decode_html_entities(raw), "{raw}");
        }
    }
}

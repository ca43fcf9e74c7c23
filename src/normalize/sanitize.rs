//! Sanitizing untrusted entry HTML.
//!
//! ammonia is the sanitizer: html5ever reads the body as a browser would, into a tree, and
//! ammonia keeps only what its allowlist names. Building that tree for every body made it a
//! quarter of all the CPU of a first poll of many feeds, though most bodies are what a CMS
//! writes: allowed elements, properly nested, quoted attributes, plain character references.
//! For those, `clean_fast` writes, in one forward pass, exactly the bytes ammonia would write.
//! It gives up on anything whose reading takes the tree builder's judgment (an end tag that
//! closes more than the innermost element, an element closed by implication, tables, an
//! element off its short list, an odd comment, a character reference without `;`), and
//! ammonia takes the whole body. Tests hold the two to the same output on every body they try.

use std::borrow::Cow;
use std::cell::RefCell;

use ammonia::UrlRelative;
use memchr::memchr;
use url::Url;

use super::markup::{Tag, Token, Tokens, common_reference};
use super::nesting::{self, MAX_DEPTH, Step};
use super::{collapse_whitespace, html_to_text};

/// The elements the fast path knows, sorted by name: those kept (ammonia's defaults) with the
/// attributes each keeps besides `GENERIC_ATTRIBUTES`, and a few dropped with their content kept.
/// ammonia drops every other element, and its content too for `script` and `style`.
const ELEMENTS: &[Element] = &[
    kept("a", Kind::Link, &["href", "hreflang"]),
    kept("abbr", Kind::Inline, &[]),
    kept("acronym", Kind::Inline, &[]),
    dropped("address", Kind::Block),
    kept("area", Kind::Void, &[]),
    kept("article", Kind::Block, &[]),
    kept("aside", Kind::Block, &[]),
    kept("b", Kind::Inline, &[]),
    kept("bdi", Kind::Inline, &[]),
    kept("bdo", Kind::Inline, &["dir"]),
    dropped("big", Kind::Inline),
    kept("blockquote", Kind::Block, &["cite"]),
    kept("br", Kind::Void, &[]),
    kept("caption", Kind::TreeBuilder, &[]),
    kept("center", Kind::Block, &[]),
    kept("cite", Kind::Inline, &[]),
    kept("code", Kind::Inline, &[]),
    kept(
        "col",
        Kind::TreeBuilder,
        &["align", "char", "charoff", "span"],
    ),
    kept(
        "colgroup",
        Kind::TreeBuilder,
        &["align", "char", "charoff", "span"],
    ),
    kept("data", Kind::Inline, &[]),
    kept("dd", Kind::DefinitionItem, &[]),
    kept("del", Kind::Inline, &["cite", "datetime"]),
    kept("details", Kind::Block, &[]),
    kept("dfn", Kind::Inline, &[]),
    kept("div", Kind::Block, &[]),
    kept("dl", Kind::Block, &[]),
    kept("dt", Kind::DefinitionItem, &[]),
    kept("em", Kind::Inline, &[]),
    kept("figcaption", Kind::Block, &[]),
    kept("figure", Kind::Block, &[]),
    dropped("font", Kind::Inline),
    kept("footer", Kind::Block, &[]),
    kept("h1", Kind::Heading, &[]),
    kept("h2", Kind::Heading, &[]),
    kept("h3", Kind::Heading, &[]),
    kept("h4", Kind::Heading, &[]),
    kept("h5", Kind::Heading, &[]),
    kept("h6", Kind::Heading, &[]),
    kept("header", Kind::Block, &[]),
    kept("hgroup", Kind::Block, &[]),
    kept("hr", Kind::Rule, &["align", "size", "width"]),
    kept("i", Kind::Inline, &[]),
    kept(
        "img",
        Kind::Void,
        &["align", "alt", "height", "src", "width"],
    ),
    kept("ins", Kind::Inline, &["cite", "datetime"]),
    kept("kbd", Kind::Inline, &[]),
    kept("li", Kind::ListItem, &[]),
    dropped("main", Kind::Block),
    kept("map", Kind::Inline, &[]),
    kept("mark", Kind::Inline, &[]),
    kept("nav", Kind::Block, &[]),
    kept("ol", Kind::Block, &["start"]),
    kept("p", Kind::Block, &[]),
    kept("pre", Kind::Preformatted, &[]),
    kept("q", Kind::Inline, &["cite"]),
    kept("rp", Kind::TreeBuilder, &[]),
    kept("rt", Kind::TreeBuilder, &[]),
    kept("rtc", Kind::TreeBuilder, &[]),
    kept("ruby", Kind::TreeBuilder, &[]),
    kept("s", Kind::Inline, &[]),
    kept("samp", Kind::Inline, &[]),
    dropped("section", Kind::Block),
    kept("small", Kind::Inline, &[]),
    kept("span", Kind::Inline, &[]),
    kept("strike", Kind::Inline, &[]),
    kept("strong", Kind::Inline, &[]),
    kept("sub", Kind::Inline, &[]),
    kept("summary", Kind::Block, &[]),
    kept("sup", Kind::Inline, &[]),
    kept(
        "table",
        Kind::TreeBuilder,
        &["align", "char", "charoff", "summary"],
    ),
    kept("tbody", Kind::TreeBuilder, &["align", "char", "charoff"]),
    kept(
        "td",
        Kind::TreeBuilder,
        &["align", "char", "charoff", "colspan", "headers", "rowspan"],
    ),
    kept(
        "th",
        Kind::TreeBuilder,
        &[
            "align", "char", "charoff", "colspan", "headers", "rowspan", "scope",
        ],
    ),
    kept("thead", Kind::TreeBuilder, &["align", "char", "charoff"]),
    kept("time", Kind::Inline, &[]),
    kept("tr", Kind::TreeBuilder, &["align", "char", "charoff"]),
    kept("tt", Kind::Inline, &[]),
    kept("u", Kind::Inline, &[]),
    kept("ul", Kind::Block, &[]),
    kept("var", Kind::Inline, &[]),
    kept("wbr", Kind::Void, &[]),
];

/// Attributes every kept element keeps.
const GENERIC_ATTRIBUTES: [&str; 2] = ["lang", "title"];

/// The URL schemes links and images keep: ammonia's defaults, and `data` (for inline images
/// only, see `allows_value`).
const URL_SCHEMES: [&str; 26] = [
    "bitcoin",
    "data",
    "ftp",
    "ftps",
    "geo",
    "http",
    "https",
    "im",
    "irc",
    "ircs",
    "magnet",
    "mailto",
    "mms",
    "mx",
    "news",
    "nntp",
    "openpgp4fpr",
    "sip",
    "sms",
    "smsto",
    "ssh",
    "tel",
    "url",
    "webcal",
    "wtai",
    "xmpp",
];

/// Added to every link: the linked page gets no handle on the reader's window, nor the address
/// it was read at.
const LINK_REL: &str = "noopener noreferrer";

/// Sanitizes untrusted HTML: no scripts, event handlers, forms or frames, no `javascript:`
/// URLs, and `data:` URLs only as image sources; relative links and image sources become
/// absolute against `base` (or are dropped when there is no base).
pub fn sanitize_html(html: &str, base: Option<&Url>) -> String {
    clean_fast(html, base).unwrap_or_else(|| {
        if too_big_for_a_tree(html) {
            html_escape::encode_text(&collapse_whitespace(&html_to_text(html))).into_owned()
        } else {
            clean_with_ammonia(html, base)
        }
    })
}

/// Markup the fast path cannot take, with more tags than this, is kept as its text alone: the
/// tree builder's nodes take 30 to 50 times the bytes of the tags (a stray `</p>` is an empty
/// paragraph).
const MAX_TREE_TAGS: usize = 100_000;

/// Whether building a tree of `html` would take more than `MAX_TREE_TAGS` tags or open more
/// than `MAX_DEPTH` elements at once.
fn too_big_for_a_tree(html: &str) -> bool {
    let mut depth = 0usize;
    for (count, (_, step)) in nesting::tags(html).enumerate() {
        if count >= MAX_TREE_TAGS {
            return true;
        }
        match step {
            Step::Deeper if depth == MAX_DEPTH => return true,
            Step::Deeper => depth += 1,
            Step::Shallower => depth = depth.saturating_sub(1),
            Step::Level => {}
        }
    }
    false
}

fn clean_with_ammonia(html: &str, base: Option<&Url>) -> String {
    thread_local! {
        // Building the sanitizer (its sets of allowed tags and attributes) cost a fifth as much
        // as sanitizing a typical body; entries of one document share their base.
        static SANITIZER: RefCell<Option<(Option<Url>, ammonia::Builder<'static>)>> =
            const { RefCell::new(None) };
    }
    SANITIZER.with_borrow_mut(|cached| {
        if cached
            .as_ref()
            .is_none_or(|(built_for, _)| built_for.as_ref() != base)
        {
            *cached = Some((base.cloned(), ammonia_sanitizer(base)));
        }
        let (_, builder) = cached.as_ref().expect("built above");
        builder.clean(html).to_string()
    })
}

fn ammonia_sanitizer(base: Option<&Url>) -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder
        .tags(kept_elements().map(|(name, _)| name).collect())
        .tag_attributes(
            kept_elements()
                .map(|(name, attributes)| (name, attributes.iter().copied().collect()))
                .collect(),
        )
        .generic_attributes(GENERIC_ATTRIBUTES.into_iter().collect())
        .url_schemes(URL_SCHEMES.into_iter().collect())
        .link_rel(Some(LINK_REL))
        .url_relative(match base {
            Some(base) => UrlRelative::RewriteWithBase(base.clone()),
            None => UrlRelative::Deny,
        })
        .attribute_filter(|element, attribute, value| {
            allows_value(element, attribute, value).then_some(Cow::Borrowed(value))
        });
    builder
}

fn kept_elements() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
    ELEMENTS
        .iter()
        .filter_map(|element| Some((element.name, element.attributes?)))
}

/// `data:` URLs stay only as image sources: elsewhere they can carry whole pages and scripts.
fn allows_value(element: &str, attribute: &str, value: &str) -> bool {
    let starts_with = |prefix: &str| {
        value
            .trim_start()
            .get(..prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
    };
    !starts_with("data:") || (element == "img" && attribute == "src" && starts_with("data:image/"))
}

/// What the tree builder does with an element, as far as the fast path follows it.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// No rule of its own: opened where it stands.
    Inline,
    /// `a`: a second link inside an open one is taken apart by the tree builder.
    Link,
    /// Closes an open `p`.
    Block,
    /// `h1`–`h6`: closes an open `p` and an open heading that is the innermost element.
    Heading,
    /// `pre`: a block that also drops a line feed just after its start tag.
    Preformatted,
    /// `li`, `dd`/`dt`: close an open item of their kind.
    ListItem,
    DefinitionItem,
    /// No content, no end tag: `br`, `img`, …; `hr` also closes an open `p`.
    Void,
    Rule,
    /// Tables and ruby: rules the fast path leaves to the tree builder.
    TreeBuilder,
}

/// An element the fast path knows.
#[derive(Clone, Copy)]
struct Element {
    name: &'static str,
    /// `name` as a number that sorts as the name does (`name_key`).
    key: u128,
    kind: Kind,
    /// What it keeps besides `GENERIC_ATTRIBUTES`; `None`: dropped, with its content kept.
    attributes: Option<&'static [&'static str]>,
}

const fn kept(name: &'static str, kind: Kind, attributes: &'static [&'static str]) -> Element {
    Element {
        name,
        key: name_key(name.as_bytes()),
        kind,
        attributes: Some(attributes),
    }
}

const fn dropped(name: &'static str, kind: Kind) -> Element {
    Element {
        name,
        key: name_key(name.as_bytes()),
        kind,
        attributes: None,
    }
}

/// The first 16 bytes of `name`, big-endian, padded with zeros: names compare as their keys do.
/// Every tag of every new body is looked up, and comparing numbers in the binary search was
/// cheaper than comparing the names' bytes (a `memcmp` call each).
const fn name_key(name: &[u8]) -> u128 {
    let mut padded = [0u8; 16];
    let mut at = 0;
    while at < name.len() && at < padded.len() {
        padded[at] = name[at];
        at += 1;
    }
    u128::from_be_bytes(padded)
}

impl Element {
    /// The element named `name` (in any letter case), if the fast path can open it.
    fn named(name: &str) -> Option<Element> {
        let mut lowercase = [0u8; 16];
        lowercase
            .get_mut(..name.len())?
            .copy_from_slice(name.as_bytes());
        lowercase.make_ascii_lowercase();
        let key = name_key(&lowercase);
        let at = ELEMENTS
            .binary_search_by_key(&key, |element| element.key)
            .ok()?;
        // A name with NUL bytes at its end has the key of the name without them.
        Some(ELEMENTS[at])
            .filter(|element| element.name.len() == name.len() && element.kind != Kind::TreeBuilder)
    }

    /// Elements whose start tag the tree builder reads in a way of its own (the "special"
    /// category of the HTML standard), which bounds its search for an open list item.
    fn is_special(&self) -> bool {
        !matches!(self.kind, Kind::Inline | Kind::Link)
    }

    /// Whether the tree builder would open this element inside `open` just as it stands
    /// (closing nothing, reparenting nothing).
    fn opens_plainly_in(&self, open: &[Element]) -> bool {
        let is_open = |name: &str| open.iter().any(|element| element.name == name);
        let item_is_open = |items: &[&str]| {
            for element in open.iter().rev() {
                if items.contains(&element.name) {
                    return true;
                }
                if element.is_special() && !matches!(element.name, "address" | "div" | "p") {
                    return false;
                }
            }
            false
        };
        match self.kind {
            Kind::Inline | Kind::Void => true,
            Kind::Link => !is_open("a"),
            Kind::Block | Kind::Preformatted | Kind::Rule => !is_open("p"),
            Kind::Heading => {
                !is_open("p") && open.last().is_none_or(|last| last.kind != Kind::Heading)
            }
            Kind::ListItem => !is_open("p") && !item_is_open(&["li"]),
            Kind::DefinitionItem => !is_open("p") && !item_is_open(&["dd", "dt"]),
            Kind::TreeBuilder => false,
        }
    }
}

/// What ammonia writes for `html`, in one pass; `None` where the input needs the tree builder.
fn clean_fast(html: &str, base: Option<&Url>) -> Option<String> {
    let mut clean = String::with_capacity(html.len() + html.len() / 8);
    let mut open: Vec<Element> = Vec::new();
    let mut after_pre_start = false;
    for token in Tokens::new(html) {
        let follows_pre_start = std::mem::take(&mut after_pre_start);
        match token {
            Token::Text(text) => {
                if follows_pre_start && text.starts_with('\n') {
                    return None;
                }
                push_escaped(&mut clean, &decode_references(text)?, false)?;
            }
            Token::LessThan => clean.push_str("&lt;"),
            Token::Comment(body) => {
                // Comments are dropped; these forms end elsewhere than at the first `-->`.
                if body.starts_with('>') || body.starts_with("->") || body.contains("--!>") {
                    return None;
                }
            }
            Token::Other(_) => return None,
            Token::Tag(tag) if tag.end => {
                // The end tag of a block first closes the paragraphs and list items left
                // open inside it ("implied end tags"); any other must close the innermost.
                let closes_implied = Element::named(tag.name)?.is_special();
                loop {
                    let innermost = open.pop()?;
                    push_end_tag(&mut clean, innermost);
                    if tag.is(innermost.name) {
                        break;
                    }
                    let implied = matches!(innermost.name, "p" | "li" | "dd" | "dt");
                    if !(closes_implied && implied) {
                        return None;
                    }
                }
            }
            Token::Tag(tag) => {
                let element = Element::named(tag.name)?;
                if open.len() == MAX_DEPTH || !element.opens_plainly_in(&open) {
                    return None;
                }
                if let Some(attributes) = element.attributes {
                    push_start_tag(&mut clean, element.name, attributes, &tag, base)?;
                }
                if !matches!(element.kind, Kind::Void | Kind::Rule) {
                    open.push(element);
                }
                after_pre_start = element.kind == Kind::Preformatted;
            }
        }
    }
    for element in open.into_iter().rev() {
        push_end_tag(&mut clean, element);
    }
    Some(clean)
}

fn push_end_tag(clean: &mut String, element: Element) {
    if element.attributes.is_some() {
        clean.push_str("</");
        clean.push_str(element.name);
        clean.push('>');
    }
}

/// Writes the start tag of a kept element with the attributes it keeps, as ammonia does.
fn push_start_tag(
    clean: &mut String,
    name: &'static str,
    allowed: &'static [&'static str],
    tag: &Tag<'_>,
    base: Option<&Url>,
) -> Option<()> {
    clean.push('<');
    clean.push_str(name);
    let mut seen: Vec<&str> = Vec::new();
    for attribute in tag.attributes() {
        let plain_name = !attribute.name.is_empty()
            && attribute
                .name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'));
        let odd_unquoted =
            attribute.quote.is_none() && attribute.value.contains(['"', '\'', '<', '=', '`']);
        if attribute.run_on || !plain_name || odd_unquoted {
            return None;
        }
        // The first of two attributes of one name wins.
        if seen
            .iter()
            .any(|earlier| earlier.eq_ignore_ascii_case(attribute.name))
        {
            continue;
        }
        seen.push(attribute.name);
        let Some(attribute_name) = allowed
            .iter()
            .chain(&GENERIC_ATTRIBUTES)
            .find(|known| known.eq_ignore_ascii_case(attribute.name))
        else {
            continue;
        };
        let value = decode_references(attribute.value)?;
        // Links and image sources keep an allowed scheme, or are relative and resolved.
        let mut relative = false;
        if matches!(*attribute_name, "href" | "src") {
            match Url::parse(&value) {
                Ok(url) if URL_SCHEMES.contains(&url.scheme()) => {}
                Err(url::ParseError::RelativeUrlWithoutBase) if base.is_some() => relative = true,
                _ => continue,
            }
        }
        if !allows_value(name, attribute_name, &value) {
            // ammonia drops it by moving the last attribute into its place.
            return None;
        }
        let value = match base.filter(|_| relative) {
            // As with a value dropped above, ammonia reorders what is left when this fails.
            Some(base) => Cow::Owned(String::from(base.join(&value).ok()?)),
            None => value,
        };
        clean.push(' ');
        clean.push_str(attribute_name);
        clean.push_str("=\"");
        push_escaped(clean, &value, true)?;
        clean.push('"');
    }
    if name == "a" {
        clean.push_str(" rel=\"");
        clean.push_str(LINK_REL);
        clean.push('"');
    }
    clean.push('>');
    Some(())
}

/// Decodes character references as html5ever does, or `None` for the forms where its rules
/// are subtle (no `;`, unknown names, control characters).
fn decode_references(raw: &str) -> Option<Cow<'_, str>> {
    let Some(first) = memchr(b'&', raw.as_bytes()) else {
        return Some(Cow::Borrowed(raw));
    };
    let mut decoded = String::with_capacity(raw.len());
    decoded.push_str(&raw[..first]);
    let mut rest = &raw[first..];
    while let Some(at) = memchr(b'&', rest.as_bytes()) {
        decoded.push_str(&rest[..at]);
        let reference = &rest[at + 1..];
        if let Some((name, value)) = common_reference(reference) {
            decoded.push_str(value);
            rest = &reference[name.len() + 1..];
            continue;
        }
        let length = match reference.as_bytes().first() {
            Some(b'#') => decode_numeric(reference, &mut decoded)?,
            Some(byte) if byte.is_ascii_alphanumeric() => {
                let name_length = reference
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|end| reference[*end..].starts_with(';'))?;
                let written = decoded.len();
                html_escape::decode_html_entities_to_string(
                    &rest[at..at + name_length + 2],
                    &mut decoded,
                );
                // Unknown (left as it was), or known only by a shorter name (a `;` left after
                // it, as `&semi;` alone decodes to): html5ever has rules of its own.
                let decoding = &decoded[written..];
                if decoding == &rest[at..at + name_length + 2]
                    || (decoding.ends_with(';') && decoding != ";")
                {
                    return None;
                }
                name_length + 1
            }
            _ => {
                decoded.push('&');
                0
            }
        };
        rest = &reference[length..];
    }
    decoded.push_str(rest);
    Some(Cow::Owned(decoded))
}

/// Decodes `#…;` (after the `&`) into `decoded`: the length read.
fn decode_numeric(reference: &str, decoded: &mut String) -> Option<usize> {
    let (digits, radix, prefix) = match reference[1..].strip_prefix(['x', 'X']) {
        Some(hex) => (hex, 16, 2),
        None => (&reference[1..], 10, 1),
    };
    let length = digits
        .find(|c: char| !c.is_digit(radix))
        .filter(|end| (1..=6).contains(end) && digits[*end..].starts_with(';'))?;
    let code = u32::from_str_radix(&digits[..length], radix).ok()?;
    let noncharacter = (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE;
    let character = char::from_u32(code)
        .filter(|c| !noncharacter && (!c.is_control() || matches!(c, '\t' | '\n')))?;
    decoded.push(character);
    Some(prefix + length + 1)
}

/// The bytes `push_escaped` stops at: what html5ever escapes (NBSP starts with 0xC2), and what
/// its tokenizer changes.
const STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let bytes = b"&<>\"\xC2\0\r";
    let mut at = 0;
    while at < bytes.len() {
        stops[bytes[at] as usize] = true;
        at += 1;
    }
    stops
};

/// Appends `text` escaped as html5ever's serializer escapes it; `None` for the characters its
/// tokenizer changes (NUL, CR).
fn push_escaped(clean: &mut String, text: &str, in_attribute: bool) -> Option<()> {
    let bytes = text.as_bytes();
    let mut written = 0;
    let mut at = 0;
    while let Some(offset) = bytes[at..]
        .iter()
        .position(|byte| STOPS[usize::from(*byte)])
    {
        at += offset;
        let (replacement, width) = match bytes[at] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' if in_attribute => ("&quot;", 1),
            0xC2 if bytes.get(at + 1) == Some(&0xA0) => ("&nbsp;", 2),
            b'\0' | b'\r' => return None,
            _ => {
                at += 1;
                continue;
            }
        };
        clean.push_str(&text[written..at]);
        clean.push_str(replacement);
        at += width;
        written = at;
    }
    clean.push_str(&text[written..]);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the fast path answers, it answers as ammonia does; returns whether it answered.
    fn agrees_with_ammonia(html: &str, base: Option<&Url>) -> bool {
        let Some(fast) = clean_fast(html, base) else {
            return false;
        };
        assert_eq!(
            fast,
            clean_with_ammonia(html, base),
            "the fast path and ammonia differ on {html:?} (base {base:?})"
        );
        true
    }

    fn base() -> Url {
        Url::parse("https://example.org/blog/post").unwrap()
    }

    #[test]
    fn the_element_table_is_sorted_for_lookup() {
        assert!(ELEMENTS.windows(2).all(|pair| pair[0].name < pair[1].name));
        assert!(ELEMENTS.windows(2).all(|pair| pair[0].key < pair[1].key));
    }

    #[test]
    fn elements_are_found_by_name_in_any_case_and_only_by_their_name() {
        for element in ELEMENTS.iter().filter(|e| e.kind != Kind::TreeBuilder) {
            for name in [element.name.to_string(), element.name.to_ascii_uppercase()] {
                let found = Element::named(&name).map(|found| found.name);
                assert_eq!(found, Some(element.name), "{name}");
            }
            for other in [format!("{}\0", element.name), format!("{}x", element.name)] {
                let found = Element::named(&other).map(|found| found.name);
                assert!(found.is_none_or(|found| found != element.name), "{other:?}");
            }
        }
        for unknown in [
            "",
            "script",
            "blockquotes",
            "abbreviation-too-long-for-a-key",
        ] {
            assert!(Element::named(unknown).is_none(), "{unknown}");
        }
    }

    #[test]
    fn what_a_cms_writes_takes_the_fast_path() {
        for html in [
            "<p>Caf&eacute; &amp; bar &#8217;s &ldquo;quote&rdquo; &#x2014; done.</p>",
            r#"<p>See <a href="../about" title="About &quot;us&quot;">us</a> and <img src="/i.png" alt="An image" width=20></p>"#,
            "<h2>Head</h2><ul><li>one</li><li>two <b>bold</b></li></ul><blockquote><p>q</p></blockquote>",
            "<div><p>a<br>b</p><p>unclosed</div>",
            "<section><p>dropped section, kept text</p></section><font>f</font>",
            "<pre>code &lt;here&gt;</pre><hr><p>x\u{a0}y</p>",
            "<!-- note --><p>after a comment</p>",
            "<ul><li>outer<ul><li>inner</li></ul></li></ul><dl><dt>t</dt><dd>d</dd></dl>",
            r#"<img src="data:image/png;base64,AAAA"><a href="mailto:a@b.c">mail</a>"#,
            r#"<a href="javascript:alert(1)" HREF="x">dropped href, first one wins</a>"#,
            "1 < 2 > 0 & so on",
        ] {
            assert!(agrees_with_ammonia(html, Some(&base())), "{html}");
        }
    }

    #[test]
    fn what_needs_the_tree_builder_goes_to_ammonia() {
        for html in [
            "<p>a<p>b",
            "<b><i>misnested</b></i>",
            "<table><tr><td>cell</td></tr></table>",
            "<p>x<div>y</div></p>",
            "<script>alert(1)</script>",
            "<p onclick=x>a</p><iframe src=x></iframe>",
            "<li>a<li>b",
            "a &amp b",
            "<!-->x",
            "<pre>\nfirst line</pre>",
            "<a href=x>a<a href=y>b</a></a>",
            r#"<a href="data:text/html,x" title="t">x</a>"#,
            "<p>\r\n</p>",
            "<svg><script>x</script></svg>",
            "<p \u{a0}x=1 é=2>attributes named from a character beyond ASCII</p>",
        ] {
            assert!(clean_fast(html, Some(&base())).is_none(), "{html}");
            // And ammonia's answer is still safe.
            let clean = sanitize_html(html, Some(&base()));
            assert!(
                !clean.contains("<script") && !clean.contains("onclick"),
                "{clean}"
            );
        }
    }

    #[test]
    fn relative_links_are_dropped_without_a_base() {
        assert!(agrees_with_ammonia(
            r#"<a href="/x" title="t">x</a><img src="y.png" alt="y">"#,
            None
        ));
    }

    #[test]
    fn markup_too_big_for_a_tree_is_kept_as_its_text() {
        let nested =
            |depth: usize, tag: &str| format!("{}a &amp; b", format!("<{tag}>x ").repeat(depth));
        let deep = sanitize_html(&nested(100_000, "div"), None);
        assert_eq!(deep, format!("{}a &amp; b", "x ".repeat(100_000)));
        // HTML ignores the slash of `<div/>`: it nests all the same.
        assert!(!sanitize_html(&nested(MAX_DEPTH + 1, "div/"), None).contains('<'));
        assert!(!sanitize_html(&nested(MAX_DEPTH + 1, "em"), None).contains('<'));
        // Stray end tags, which the fast path leaves to the tree builder.
        let stray = "</p>x ".repeat(MAX_TREE_TAGS + 1);
        assert_eq!(
            sanitize_html(&stray, None),
            "x ".repeat(MAX_TREE_TAGS + 1).trim_end()
        );

        // As deep as browsers nest, and elements that the next of their kind closes, stay markup.
        let kept = [
            nested(MAX_DEPTH, "div"),
            nested(5_000, "p"),
            format!("<ul>{}</ul>", nested(5_000, "li")),
            format!("<table>{}</table>", nested(5_000, "tr><td")),
            nested(5_000, "br"),
            "<div>x </div>".repeat(5_000),
            "<b>x</b></a>".repeat(MAX_TREE_TAGS / 3),
        ];
        for html in kept {
            let clean = sanitize_html(&html, None);
            assert!(!too_big_for_a_tree(&html), "{}", &html[..40]);
            assert!(clean.contains('<'), "{} -> {}", &html[..40], &clean[..40]);
        }
        // The content of a raw-text element is not markup.
        let script = format!("<script>{}</script>ok", "<div>".repeat(MAX_DEPTH + 1));
        assert!(!too_big_for_a_tree(&script));
    }

    /// Random fragments built from `pieces`: wherever the fast path takes one, its output must
    /// be ammonia's, byte for byte. Returns how many it took.
    fn compare_random_fragments(pieces: &[&str], seed: u64, fragments: usize) -> usize {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..fragments)
            .filter(|_| {
                let html: String = (0..rng.usize(1..16))
                    .map(|_| pieces[rng.usize(..pieces.len())])
                    .collect();
                let base = rng.bool().then(base);
                agrees_with_ammonia(&html, base.as_ref())
            })
            .count()
    }

    /// Pieces of HTML that CMSes, careless hands and attackers write.
    const CARELESS_PIECES: &[&str] = &[
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<b>",
        "</b>",
        "<i>",
        "</i>",
        "<em>",
        "</em>",
        "<a href=\"/rel\">",
        "<a href='https://x.org/?a=1&amp;b=2'>",
        "<A HREF=x TITLE=t>",
        "</a>",
        "<ul>",
        "</ul>",
        "<ol start=3>",
        "</ol>",
        "<li>",
        "</li>",
        "<dl>",
        "<dt>",
        "<dd>",
        "</dl>",
        "<h1>",
        "</h1>",
        "<h2 id=x>",
        "</h2>",
        "<br>",
        "<br/>",
        "<hr>",
        "<img src=\"i.png\" alt=\"a &amp; b\">",
        "<img src=\"data:image/gif;base64,R0\">",
        "<img src=\"data:text/html,x\">",
        "<pre>",
        "</pre>",
        "\n",
        "<blockquote cite=\"q\">",
        "</blockquote>",
        "<span lang=en title=\"t&quot;\">",
        "</span>",
        "<section>",
        "</section>",
        "<font color=red>",
        "</font>",
        "<table>",
        "<td>",
        "</table>",
        "<script>",
        "</script>",
        "<style>",
        "<!-- c -->",
        "<!-->",
        "<![CDATA[x]]>",
        "<?pi?>",
        "</ x>",
        "text",
        " words ",
        "&amp;",
        "&lt;",
        "&eacute;",
        "&#8217;",
        "&#x41;",
        "&#0;",
        "&#128;",
        "&amp",
        "&notit;",
        "&bogus;",
        "&semi;",
        "&",
        "<",
        ">",
        "\"",
        "'",
        "\u{a0}",
        "\r",
        "caf\u{e9}",
        "<p onclick=\"x()\">",
        "<a href=\"javascript:x\">",
        "<a href=\" https://y.org \" href=z>",
        "<img src=//cdn.org/x.png>",
        "<wbr>",
        "<details>",
        "<summary>",
        "</summary>",
        "</details>",
        "<q>",
        "</q>",
        "<sub>",
        "<b/>",
        "<x-custom>",
        "</x-custom>",
        "<iframe>",
        "<textarea>",
        "<svg>",
        "<p a=b=c>",
        "<p a=\"b\"c=d>",
        "<code>",
        "</code>",
        "<tt>",
        "<main>",
        "</main>",
        "<center>",
        "<a href=\"http://[::1\">",
    ];

    #[test]
    fn random_fragments_read_as_ammonia_reads_them() {
        let fast = compare_random_fragments(CARELESS_PIECES, 9, 20_000);
        // Enough fragments take the fast path for the comparison to mean something.
        assert!(fast > 1_000, "only {fast} of 20,000 took the fast path");
    }

    /// Pieces a CMS writes, nested deep (random end tags still misnest most fragments).
    #[test]
    fn random_regular_fragments_read_as_ammonia_reads_them() {
        const PIECES: &[&str] = &[
            "<p>",
            "</p>",
            "<div>",
            "</div>",
            "<b>",
            "</b>",
            "<i>",
            "</i>",
            "<strong>",
            "</strong>",
            "<a href=\"x/y?q=1\">",
            "</a>",
            "<ul>",
            "</ul>",
            "<li>",
            "</li>",
            "<h3>",
            "</h3>",
            "<blockquote>",
            "</blockquote>",
            "<br>",
            "<img src=\"a.png\">",
            "<span>",
            "</span>",
            "<dl>",
            "<dt>",
            "<dd>",
            "</dd>",
            "</dl>",
            "<figure>",
            "</figure>",
            "<figcaption>",
            "text ",
            "caf&eacute; ",
            "&amp; ",
            "&#8220;q&#8221; ",
            "\u{a0}",
            "<!-- c -->",
            "\n",
        ];
        let fast = compare_random_fragments(PIECES, 11, 20_000);
        assert!(fast > 1_500, "only {fast} of 20,000 took the fast path");
    }

    /// Every body of the test fixtures, as their feeds carry them.
    #[test]
    fn fixture_bodies_read_as_ammonia_reads_them() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut bodies = 0;
        for file in std::fs::read_dir(fixtures).unwrap() {
            // Only files: the pages without a feed have a folder of their own.
            let Ok(bytes) = std::fs::read(file.unwrap().path()) else {
                continue;
            };
            let Ok(feed) = feed_rs::parser::parse(&bytes[..]) else {
                continue;
            };
            for entry in feed.entries {
                let content = entry.content.and_then(|content| content.body);
                for body in content
                    .into_iter()
                    .chain(entry.summary.map(|text| text.content))
                {
                    agrees_with_ammonia(&body, Some(&base()));
                    bodies += 1;
                }
            }
        }
        assert!(bodies >= 10, "only {bodies} bodies read");
    }
}

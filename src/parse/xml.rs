//! A forgiving XML reader: a feed document's text → a tree of elements and texts, never an
//! error, with every repair it had to make noted.
//!
//! Feeds in the wild are often not well-formed: a bare `&` in a link, HTML entities nobody
//! declared, raw HTML in a description with `<br>` and unclosed `<p>`, an item never closed, a
//! transfer cut short, a PHP warning printed before the root. A strict XML parser refuses the
//! whole document for any of these, and the source's later entries are lost until its publisher
//! fixes it. Like feedparser's loose parser and the HTML parsers before it, this reader keeps
//! going:
//!
//! - markup before the feed's root element (`rss`, `rdf:RDF`, `feed`, `channel`) is skipped,
//!   and anything after the root is closed;
//! - an end tag closes the open element it names and every element opened inside it; an end tag
//!   naming no open element is dropped; names are matched in any letter case when no exact
//!   match is open;
//! - an `item` or `entry` starting inside another of the same name closes that one first;
//! - HTML's empty elements (`<br>`, `<img>`, …) are empty when no end tag follows at once;
//! - at the end of the text every open element is closed and marked `cut`;
//! - prefixes nobody declared are read as the vocabulary they name by convention (`dc:`,
//!   `content:`, `media:`, …);
//! - elements nested deeper than `MAX_DEPTH` are flattened into the one at that depth.
//!
//! Texts and attribute values are kept as ranges of the document and decoded only when the
//! mapping asks for them (`Tree::text_of`, `Tree::attribute`): a poll whose entries are all
//! known reads no text at all. Decoding resolves the XML references, every HTML5 named entity
//! (feeds use `&nbsp;` and `&eacute;` without declaring them), and takes an `&` that starts no
//! reference as itself. Entities a document declares are never expanded, so neither a billion
//! laughs nor an external entity can be smuggled through.

use std::ops::Range;

use memchr::{memchr, memmem};

use super::repairs::Repairs;
use crate::normalize::{Attributes, common_reference};

/// Deeper elements are flattened: no feed nests this deep, and a hostile document that does
/// must not cost more than a flat one.
pub const MAX_DEPTH: usize = 256;
/// The document is read no further than this many elements and texts, about 100 MB of tree:
/// 100,000 entries of a guid and a title fit (ten times what is read of a document, so the
/// entries left unread are still counted), and a body cap's worth of `<a/>` (10 MiB) would
/// otherwise take nearly 300 MB.
pub const MAX_NODES: usize = 1_000_000;

/// The vocabularies the mapping knows, by namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    /// No namespace, or one of RSS's (RSS 2.0's Userland and Harvard, RSS 1.0, RSS 0.90).
    Rss,
    /// Atom 1.0 or 0.3.
    Atom,
    Rdf,
    Dc,
    Dcterms,
    Content,
    Media,
    Itunes,
    Xhtml,
    Other,
}

impl Ns {
    fn of_uri(uri: &str) -> Ns {
        match uri.trim() {
            ""
            | "http://backend.userland.com/rss2"
            | "http://backend.userland.com/rss"
            | "http://blogs.law.harvard.edu/tech/rss"
            | "http://purl.org/rss/1.0/"
            | "http://my.netscape.com/rdf/simple/0.9/" => Ns::Rss,
            "http://www.w3.org/2005/Atom" | "http://purl.org/atom/ns#" => Ns::Atom,
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#" => Ns::Rdf,
            "http://purl.org/dc/elements/1.1/" | "http://purl.org/dc/elements/1.0/" => Ns::Dc,
            "http://purl.org/dc/terms/" => Ns::Dcterms,
            "http://purl.org/rss/1.0/modules/content/" => Ns::Content,
            "http://search.yahoo.com/mrss/"
            | "http://search.yahoo.com/mrss"
            | "http://video.search.yahoo.com/mrss" => Ns::Media,
            "http://www.itunes.com/dtds/podcast-1.0.dtd"
            | "http://www.itunes.com/DTDs/Podcast-1.0.dtd" => Ns::Itunes,
            "http://www.w3.org/1999/xhtml" => Ns::Xhtml,
            _ => Ns::Other,
        }
    }

    /// The vocabulary a prefix nobody declared names by convention.
    fn of_conventional_prefix(prefix: &str) -> Option<Ns> {
        Some(match prefix.to_ascii_lowercase().as_str() {
            "dc" => Ns::Dc,
            "dcterms" => Ns::Dcterms,
            "content" => Ns::Content,
            "media" => Ns::Media,
            "itunes" => Ns::Itunes,
            "atom" => Ns::Atom,
            "rdf" => Ns::Rdf,
            "xhtml" => Ns::Xhtml,
            _ => return None,
        })
    }
}

pub type NodeId = usize;
/// Node 0 is the document; as a link it means "none", since it is nobody's child or sibling.
const NONE: NodeId = 0;

#[derive(Debug)]
enum Kind {
    Document,
    Element(Element),
    /// Text with its references still encoded.
    Text(Range<usize>),
    /// A CDATA section's content.
    CData(Range<usize>),
}

#[derive(Debug)]
pub struct Element {
    /// The qualified name, as written.
    name: Range<usize>,
    /// Where the local name starts, after the prefix's colon.
    local_from: usize,
    /// Everything between the name and the tag's `>` (or `/>`).
    attributes: Range<usize>,
    pub ns: Ns,
    /// From the start tag's `<` to the end of its end tag, or to where it was closed.
    pub span: Range<usize>,
    /// Closed by the end of the text, not by an end tag: its content may be cut short.
    pub cut: bool,
    /// The node after its last descendant: its descendants are the nodes in between, since
    /// nodes are numbered in document order.
    subtree_end: NodeId,
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    parent: NodeId,
    first_child: NodeId,
    last_child: NodeId,
    next_sibling: NodeId,
}

/// A read document: nodes in document order, each naming the text it was read from.
pub struct Tree<'a> {
    text: &'a str,
    nodes: Vec<Node>,
    root: Option<NodeId>,
}

/// The root elements a feed document can have.
const FEED_ROOTS: [&str; 4] = ["rss", "rdf", "feed", "channel"];
/// HTML's elements that have no content, empty when written without `/>` or an end tag.
const HTML_EMPTY: [&str; 10] = [
    "br", "hr", "img", "wbr", "area", "col", "embed", "input", "param", "track",
];

/// Reads `text` into a tree, noting what it repaired. Never fails: a text without a feed root
/// gives a tree without a root.
pub fn read<'a>(text: &'a str, repairs: &mut Repairs) -> Tree<'a> {
    let mut builder = Builder {
        tree: Tree {
            text,
            nodes: vec![Node {
                kind: Kind::Document,
                parent: NONE,
                first_child: NONE,
                last_child: NONE,
                next_sibling: NONE,
            }],
            root: None,
        },
        open: Vec::new(),
        scopes: Vec::new(),
        flattened: 0,
        pending_empty: None,
        before_root_noted: false,
        repairs,
    };
    builder.run();
    builder.tree
}

/// An open element.
struct Open<'a> {
    node: NodeId,
    name: &'a str,
    /// How many namespace declarations were in scope before it.
    scopes: usize,
}

struct Builder<'a, 'r> {
    tree: Tree<'a>,
    open: Vec<Open<'a>>,
    /// Namespace declarations in scope, innermost last: (prefix, vocabulary).
    scopes: Vec<(&'a str, Ns)>,
    /// Start tags below `MAX_DEPTH` not made into elements, still open.
    flattened: usize,
    /// An HTML empty element just read without `/>`, and where: its end tag may follow at once.
    pending_empty: Option<(&'a str, usize)>,
    /// Whether something before the root was noted: a PHP warning is one repair, not one per
    /// tag and text in it.
    before_root_noted: bool,
    repairs: &'r mut Repairs,
}

impl<'a> Builder<'a, '_> {
    fn run(&mut self) {
        let text = self.tree.text;
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < text.len() {
            if self.tree.nodes.len() >= MAX_NODES {
                self.repairs.note(at, || {
                    format!("more than {MAX_NODES} elements and texts: the rest is not read")
                });
                break;
            }
            let Some(length) = memchr(b'<', &bytes[at..]) else {
                self.text(at..text.len());
                break;
            };
            if length > 0 {
                self.text(at..at + length);
            }
            at += length;
            match self.markup(at) {
                Some(next) => at = next,
                None => {
                    self.repairs
                        .note(at, || "the document ends inside markup".into());
                    break;
                }
            }
            if self.tree.root.is_some() && self.open.is_empty() {
                // Comments after the root are common (caches sign their pages), and allowed.
                if !only_comments(&text[at..]) {
                    self.repairs.note(at, || {
                        "content after the feed's root element ignored".into()
                    });
                }
                return;
            }
        }
        self.close_at_end();
    }

    /// Reads the markup starting at `at` (a `<`); returns where the next piece starts, or
    /// `None` where the text ends inside it.
    fn markup(&mut self, at: usize) -> Option<usize> {
        let text = self.tree.text;
        let rest = &text[at..];
        let closed_by = |end: &str, from: usize| {
            memmem::find(&rest.as_bytes()[from..], end.as_bytes())
                .map(|i| at + from + i + end.len())
        };
        if rest.starts_with("<!--") {
            return closed_by("-->", 4);
        }
        if rest.starts_with("<![CDATA[") {
            let end = closed_by("]]>", 9);
            let content_end = end.map_or(text.len(), |end| end - 3);
            if end.is_none() {
                self.repairs.note(at, || {
                    "a CDATA section never closed, ended at the end".into()
                });
            }
            if self.tree.root.is_some() {
                self.child(Kind::CData(at + 9..content_end));
            }
            return Some(end.unwrap_or(text.len()));
        }
        if rest.starts_with("<?") {
            if at > 0
                && !self.before_root_noted
                && rest.starts_with("<?xml")
                && rest[5..].starts_with(char::is_whitespace)
            {
                self.repairs
                    .note(at, || "an XML declaration not at the start ignored".into());
            }
            return closed_by("?>", 2);
        }
        if rest.starts_with("<!") {
            return declaration_length(rest).map(|length| at + length);
        }
        if let Some(end_tag) = rest.strip_prefix("</") {
            let close = memchr(b'>', end_tag.as_bytes())?;
            let name = end_tag[..close].trim_end();
            self.end_tag(name, at, at + 2 + close + 1);
            return Some(at + 2 + close + 1);
        }
        let after = &rest[1..];
        if !after.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == ':') {
            // `a < b`: a `<` that starts no markup is text.
            self.repairs.note(at, || "a bare < read as text".into());
            self.text(at..at + 1);
            return Some(at + 1);
        }
        let name_length = after
            .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
            .unwrap_or(after.len());
        let after_name = &after[name_length..];
        let mut attributes = Attributes::new(after_name);
        attributes.by_ref().for_each(drop);
        let attributes_end = match attributes.rest() {
            closing if closing.starts_with('>') => at + 1 + after.len() - closing.len(),
            // A quote never closed (`<a href="x>`) would take the rest of the document: the
            // tag ends at its first `>` instead.
            _ => {
                let close = at + 1 + name_length + memchr(b'>', after_name.as_bytes())?;
                self.repairs.note(at, || {
                    "a tag with a quote never closed ended at its first >".into()
                });
                close
            }
        };
        let empty = text[..attributes_end].ends_with('/');
        let attributes = at + 1 + name_length..attributes_end - usize::from(empty);
        self.start_tag(at, at + 1..at + 1 + name_length, attributes, empty);
        Some(attributes_end + 1)
    }

    fn text(&mut self, range: Range<usize>) {
        self.settle_empty(None);
        if self.tree.root.is_none() {
            if !self.before_root_noted && !self.tree.text[range.clone()].trim().is_empty() {
                self.before_root_noted = true;
                self.repairs.note(range.start, || {
                    "text before the feed's root element ignored".into()
                });
            }
            return;
        }
        let parent = self.current();
        let last = self.tree.nodes[parent].last_child;
        // A text interrupted by a bare `<` goes on in the same node.
        if last != NONE
            && let Kind::Text(previous) = &mut self.tree.nodes[last].kind
            && previous.end == range.start
        {
            previous.end = range.end;
            return;
        }
        self.child(Kind::Text(range));
    }

    fn start_tag(&mut self, at: usize, name: Range<usize>, attributes: Range<usize>, empty: bool) {
        self.settle_empty(None);
        let text = self.tree.text;
        let qualified = &text[name.clone()];
        let local_from = qualified.find(':').map_or(0, |colon| colon + 1);
        let local = &qualified[local_from..];
        if self.skips_start_tag(at, qualified, local, empty) {
            return;
        }
        if matches!(local, "item" | "entry")
            && let Some(depth) = self.open.iter().rposition(|open| open.name == qualified)
        {
            self.repairs.note(at, || {
                format!("unclosed <{qualified}> closed by the next one")
            });
            self.close_to(depth, at, false);
        }
        let scopes = self.scopes.len();
        self.declare_namespaces(&text[attributes.clone()]);
        let prefix = &qualified[..local_from.saturating_sub(1)];
        let ns = self.namespace(prefix, at);
        let node = self.child(Kind::Element(Element {
            name: name.clone(),
            local_from: name.start + local_from,
            attributes,
            ns,
            span: at..at,
            cut: false,
            subtree_end: NONE,
        }));
        if self.tree.root.is_none() {
            self.tree.root = Some(node);
        }
        let html_empty = prefix.is_empty()
            && !self.open.is_empty()
            && HTML_EMPTY
                .iter()
                .any(|name| local.eq_ignore_ascii_case(name));
        if empty || html_empty {
            self.set_end(node, self.after_tag(at));
            self.scopes.truncate(scopes);
            if !empty {
                self.pending_empty = Some((qualified, at));
            }
            return;
        }
        self.open.push(Open {
            node,
            name: qualified,
            scopes,
        });
    }

    /// Whether the start tag `qualified` at `at` is left out of the tree: before the feed's
    /// root (a PHP warning, an HTML page's head), or nested past `MAX_DEPTH`, where its
    /// content is read into the element at that depth.
    fn skips_start_tag(&mut self, at: usize, qualified: &str, local: &str, empty: bool) -> bool {
        if self.tree.root.is_none() {
            if FEED_ROOTS
                .iter()
                .any(|root| local.eq_ignore_ascii_case(root))
            {
                return false;
            }
            if !self.before_root_noted {
                self.before_root_noted = true;
                self.repairs.note(at, || {
                    format!("<{qualified}> and what follows before the feed's root ignored")
                });
            }
            return true;
        }
        if self.open.len() < MAX_DEPTH {
            return false;
        }
        if self.flattened == 0 {
            self.repairs.note(at, || {
                format!("elements nested deeper than {MAX_DEPTH} read as one")
            });
        }
        if !empty {
            self.flattened += 1;
        }
        true
    }

    /// Opens the scopes of the namespaces a start tag's attributes (`declared`) declare.
    fn declare_namespaces(&mut self, declared: &'a str) {
        if memmem::find(declared.as_bytes(), b"xmlns").is_none() {
            return;
        }
        for attribute in Attributes::new(declared) {
            let prefix = match attribute.name.strip_prefix("xmlns") {
                Some("") => "",
                Some(prefixed) => match prefixed.strip_prefix(':') {
                    Some(prefix) => prefix,
                    None => continue,
                },
                None => continue,
            };
            self.scopes.push((prefix, Ns::of_uri(attribute.value)));
        }
    }

    /// Where the tag starting at `at` ends.
    fn after_tag(&self, at: usize) -> usize {
        memchr(b'>', &self.tree.text.as_bytes()[at..]).map_or(self.tree.text.len(), |i| at + i + 1)
    }

    /// After `<br>` without `/>`: its end tag may follow at once (XHTML written as HTML), which
    /// is well-formed; anything else makes it a repair.
    fn settle_empty(&mut self, end_tag: Option<&str>) -> bool {
        let Some((name, started)) = self.pending_empty.take() else {
            return false;
        };
        if end_tag == Some(name) {
            return true;
        }
        self.repairs.note(started, || {
            format!("<{name}> with no end tag read as empty")
        });
        false
    }

    fn end_tag(&mut self, name: &'a str, at: usize, end: usize) {
        if self.settle_empty(Some(name)) {
            return;
        }
        if self.tree.root.is_none() {
            return;
        }
        if self.flattened > 0 {
            self.flattened -= 1;
            return;
        }
        let exact = self.open.iter().rposition(|open| open.name == name);
        let depth = exact.or_else(|| {
            self.open
                .iter()
                .rposition(|open| open.name.eq_ignore_ascii_case(name))
        });
        let Some(depth) = depth else {
            // `</br>` after a `<br>` read as empty is how XHTML-minded writers close it.
            if !HTML_EMPTY
                .iter()
                .any(|empty| name.eq_ignore_ascii_case(empty))
            {
                self.repairs
                    .note(at, || format!("</{name}> closing nothing open ignored"));
            }
            return;
        };
        if exact.is_none() {
            let opened = self.open[depth].name;
            self.repairs
                .note(at, || format!("</{name}> read as closing <{opened}>"));
        }
        if depth + 1 < self.open.len() {
            let unclosed: Vec<&str> = self.open[depth + 1..]
                .iter()
                .rev()
                .map(|open| open.name)
                .collect();
            self.repairs.note(at, || {
                format!("unclosed <{}> closed by </{name}>", unclosed.join(">, <"))
            });
        }
        self.close_to(depth + 1, at, false);
        // The element itself ends with its end tag.
        self.close_to(depth, end, false);
    }

    /// Closes the open elements from the innermost down to the one at `depth`, included, at
    /// `at`.
    fn close_to(&mut self, depth: usize, at: usize, cut: bool) {
        while self.open.len() > depth {
            let open = self.open.pop().expect("an open element");
            self.scopes.truncate(open.scopes);
            self.set_end(open.node, at);
            if cut && let Kind::Element(element) = &mut self.tree.nodes[open.node].kind {
                element.cut = true;
            }
        }
    }

    fn close_at_end(&mut self) {
        let end = self.tree.text.len();
        self.settle_empty(None);
        if self.open.is_empty() {
            return;
        }
        let unclosed: Vec<&str> = self.open.iter().rev().map(|open| open.name).collect();
        self.repairs.note(end, || {
            format!(
                "the document ends inside <{}>: closed at its end",
                unclosed.join(">, <")
            )
        });
        self.close_to(0, end, true);
    }

    fn namespace(&mut self, prefix: &str, at: usize) -> Ns {
        if let Some((_, ns)) = self
            .scopes
            .iter()
            .rev()
            .find(|(declared, _)| *declared == prefix)
        {
            return *ns;
        }
        if prefix.is_empty() {
            return Ns::Rss;
        }
        if prefix == "xml" {
            return Ns::Other;
        }
        let conventional = Ns::of_conventional_prefix(prefix);
        self.repairs.note(at, || match conventional {
            Some(_) => format!("undeclared prefix {prefix}: read as its usual namespace"),
            None => format!("undeclared prefix {prefix}: its elements are not read"),
        });
        conventional.unwrap_or(Ns::Other)
    }

    fn current(&self) -> NodeId {
        self.open.last().map_or(NONE, |open| open.node)
    }

    fn child(&mut self, kind: Kind) -> NodeId {
        let parent = self.current();
        let id = self.tree.nodes.len();
        self.tree.nodes.push(Node {
            kind,
            parent,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
        });
        let parent_node = &mut self.tree.nodes[parent];
        let previous = parent_node.last_child;
        parent_node.last_child = id;
        if previous == NONE {
            parent_node.first_child = id;
        } else {
            self.tree.nodes[previous].next_sibling = id;
        }
        id
    }

    fn set_end(&mut self, node: NodeId, end: usize) {
        let subtree_end = self.tree.nodes.len();
        if let Kind::Element(element) = &mut self.tree.nodes[node].kind {
            element.span.end = end;
            element.subtree_end = subtree_end;
        }
    }
}

/// Whether `rest` holds nothing but white space, comments and processing instructions.
fn only_comments(mut rest: &str) -> bool {
    loop {
        rest = rest.trim_start();
        let end = if rest.starts_with("<!--") {
            "-->"
        } else if rest.starts_with("<?") {
            "?>"
        } else {
            return rest.is_empty();
        };
        match rest.find(end) {
            Some(at) => rest = &rest[at + end.len()..],
            None => return false,
        }
    }
}

/// The length of a `<!DOCTYPE …>` declaration at the start of `rest`, its internal subset
/// (which holds markup of its own) included.
fn declaration_length(rest: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    for (at, byte) in rest.bytes().enumerate() {
        match (quote, byte) {
            (Some(open), _) if byte == open => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') if depth > 1 => quote = Some(byte),
            (None, b'<') => depth += 1,
            (None, b'>') => {
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
    }
    None
}

impl<'a> Tree<'a> {
    /// The feed's root element, if the text has one.
    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    /// The element `id`; `None` for a text.
    pub fn element(&self, id: NodeId) -> Option<&Element> {
        match &self.nodes[id].kind {
            Kind::Element(element) => Some(element),
            _ => None,
        }
    }

    /// The child elements of `id`, in order.
    pub fn elements(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let mut next = self.nodes[id].first_child;
        std::iter::from_fn(move || {
            while next != NONE {
                let current = next;
                next = self.nodes[current].next_sibling;
                if self.element(current).is_some() {
                    return Some(current);
                }
            }
            None
        })
    }

    /// The elements inside `id` at any depth, in document order.
    pub fn descendants(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let end = self.element(id).map_or(self.nodes.len(), |e| e.subtree_end);
        (id + 1..end).filter(|node| self.element(*node).is_some())
    }

    /// The elements inside `id` for which `wanted` holds, in document order, without looking
    /// inside those it found.
    pub fn outermost(&self, id: NodeId, wanted: impl Fn(NodeId) -> bool) -> Vec<NodeId> {
        let end = self.element(id).map_or(self.nodes.len(), |e| e.subtree_end);
        let mut found = Vec::new();
        let mut node = id + 1;
        while node < end {
            match self.element(node) {
                Some(element) if wanted(node) => {
                    found.push(node);
                    node = element.subtree_end.max(node + 1);
                }
                _ => node += 1,
            }
        }
        found
    }

    /// The name as written, prefix included.
    pub fn qualified_name(&self, id: NodeId) -> &'a str {
        self.element(id)
            .map_or("", |element| &self.text[element.name.clone()])
    }

    pub fn local_name(&self, id: NodeId) -> &'a str {
        self.element(id).map_or("", |element| {
            &self.text[element.local_from..element.name.end]
        })
    }

    /// The value of the attribute `name` (as written, prefix included; matched in any letter
    /// case), references decoded and white space normalized as XML does.
    pub fn attribute(&self, id: NodeId, name: &str, repairs: &mut Repairs) -> Option<String> {
        let element = self.element(id)?;
        let attribute = Attributes::new(&self.text[element.attributes.clone()])
            .find(|attribute| attribute.name.eq_ignore_ascii_case(name))?;
        // An attribute written without a value has none in the text to point into.
        let Some(at) = offset_in(self.text, attribute.value) else {
            return Some(String::new());
        };
        let mut value = String::with_capacity(attribute.value.len());
        decode(
            self.text,
            at..at + attribute.value.len(),
            &mut value,
            repairs,
        );
        Some(value.replace(['\t', '\n', '\r'], " "))
    }

    /// Notes the repairs that decoding every text and attribute inside `id` would note, without
    /// decoding them: a poll that skips the entries it knows still reports what they need.
    pub fn note_reference_repairs(&self, id: NodeId, repairs: &mut Repairs) {
        let end = self.element(id).map_or(self.nodes.len(), |e| e.subtree_end);
        let mut scratch = String::new();
        for node in &self.nodes[id..end] {
            let range = match &node.kind {
                Kind::Text(range) => range,
                Kind::Element(element) => &element.attributes,
                Kind::CData(_) | Kind::Document => continue,
            };
            for ampersand in memchr::memchr_iter(b'&', self.text[range.clone()].as_bytes()) {
                let at = range.start + ampersand;
                let after = &self.text[at + 1..range.end];
                // Escaped HTML has one of these every few words: they need no repair.
                if matches!(
                    after.as_bytes(),
                    [b'l' | b'g', b't', b';', ..]
                        | [b'a', b'm', b'p', b';', ..]
                        | [b'q', b'u', b'o', b't', b';', ..]
                        | [b'a', b'p', b'o', b's', b';', ..]
                ) {
                    continue;
                }
                reference(after, at, &mut scratch, repairs);
                scratch.clear();
            }
        }
    }

    /// The text inside `id`, its descendants' included, references decoded; markup left out.
    pub fn text_of(&self, id: NodeId, repairs: &mut Repairs) -> String {
        let end = self.element(id).map_or(self.nodes.len(), |e| e.subtree_end);
        let mut text = String::new();
        for node in &self.nodes[id + 1..end] {
            match &node.kind {
                Kind::Text(range) => decode(self.text, range.clone(), &mut text, repairs),
                Kind::CData(range) => text.push_str(&self.text[range.clone()]),
                Kind::Element(_) | Kind::Document => {}
            }
        }
        text
    }

    /// The content of `id` as markup: its text where it holds no element (an escaped or CDATA
    /// body), else its children written out as HTML (a body written as raw markup, or XHTML).
    pub fn markup_of(&self, id: NodeId, repairs: &mut Repairs) -> String {
        if self.descendants(id).next().is_none() {
            return self.text_of(id, repairs);
        }
        let mut markup = String::new();
        self.write_children(id, &mut markup, repairs);
        markup
    }

    fn write_children(&self, id: NodeId, markup: &mut String, repairs: &mut Repairs) {
        let mut child = self.nodes[id].first_child;
        while child != NONE {
            match &self.nodes[child].kind {
                Kind::Text(range) => {
                    let mut text = String::new();
                    decode(self.text, range.clone(), &mut text, repairs);
                    markup.push_str(&html_escape::encode_text(&text));
                }
                Kind::CData(range) => {
                    markup.push_str(&html_escape::encode_text(&self.text[range.clone()]));
                }
                Kind::Element(element) => {
                    // XHTML's prefix means nothing to an HTML reader.
                    let name = match element.ns {
                        Ns::Xhtml => self.local_name(child),
                        _ => self.qualified_name(child),
                    };
                    markup.push('<');
                    markup.push_str(name);
                    markup.push_str(&self.text[element.attributes.clone()]);
                    markup.push('>');
                    if !HTML_EMPTY
                        .iter()
                        .any(|empty| name.eq_ignore_ascii_case(empty))
                    {
                        self.write_children(child, markup, repairs);
                        markup.push_str("</");
                        markup.push_str(name);
                        markup.push('>');
                    }
                }
                Kind::Document => {}
            }
            child = self.nodes[child].next_sibling;
        }
    }

    /// The base URL in scope at `id`: `document_url`, then every enclosing `xml:base`,
    /// `id`'s own included. What reading those attributes repairs is noted by
    /// `note_reference_repairs`, which checks every attribute.
    pub fn base(&self, id: NodeId, document_url: &url::Url) -> url::Url {
        let mut declaring = Vec::new();
        let mut node = id;
        while node != NONE {
            if let Some(element) = self.element(node)
                && memmem::find(
                    self.text[element.attributes.clone()].as_bytes(),
                    b"xml:base",
                )
                .is_some()
            {
                declaring.push(node);
            }
            node = self.nodes[node].parent;
        }
        let mut base = document_url.clone();
        for node in declaring.into_iter().rev() {
            if let Some(declared) = self.attribute(node, "xml:base", &mut Repairs::default())
                && let Ok(joined) = base.join(declared.trim())
            {
                base = joined;
            }
        }
        base
    }
}

/// Where `part` starts in `whole`, if it is a slice of it.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
}

/// Appends the text at `range` of `text` with its references decoded, noting what is not
/// well-formed: an `&` that starts no reference is itself; HTML's named entities are their
/// characters; other names stay as written.
fn decode(text: &str, range: Range<usize>, decoded: &mut String, repairs: &mut Repairs) {
    let mut rest = &text[range.clone()];
    let mut offset = range.start;
    while let Some(i) = memchr(b'&', rest.as_bytes()) {
        decoded.push_str(&rest[..i]);
        let at = offset + i;
        let after = &rest[i + 1..];
        let consumed = reference(after, at, decoded, repairs);
        rest = &after[consumed..];
        offset = at + 1 + consumed;
    }
    decoded.push_str(rest);
}

/// Decodes the reference after an `&` at `at` into `decoded`; returns how many bytes after the
/// `&` it took.
fn reference(after: &str, at: usize, decoded: &mut String, repairs: &mut Repairs) -> usize {
    /// No entity name is longer (`CounterClockwiseContourIntegral`).
    const LONGEST: usize = 32;
    let end = after
        .bytes()
        .take(LONGEST + 1)
        .position(|byte| !(byte.is_ascii_alphanumeric() || byte == b'#'));
    let name = match end {
        Some(end) if end > 0 && after.as_bytes()[end] == b';' => &after[..end],
        _ => {
            repairs.note(at, || "a bare & read as itself".into());
            decoded.push('&');
            return 0;
        }
    };
    if let Some(number) = name.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse().ok(),
        };
        match value.and_then(char::from_u32).filter(|c| *c != '\0') {
            Some(character) => decoded.push(character),
            None => {
                repairs.note(at, || format!("&{name}; names no character: dropped"));
            }
        }
        return name.len() + 1;
    }
    if let Some((_, value)) = common_reference(after) {
        if !matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
            repairs.note(at, || format!("HTML entity &{name}; read as its character"));
        }
        decoded.push_str(value);
        return name.len() + 1;
    }
    let written = &after[..name.len() + 1];
    let mut with_ampersand = String::with_capacity(written.len() + 1);
    with_ampersand.push('&');
    with_ampersand.push_str(written);
    match html_escape::decode_html_entities(&with_ampersand) {
        std::borrow::Cow::Owned(value) => {
            repairs.note(at, || format!("HTML entity &{name}; read as its character"));
            decoded.push_str(&value);
        }
        std::borrow::Cow::Borrowed(_) => {
            repairs.note(at, || format!("unknown entity &{name}; kept as written"));
            decoded.push_str(&with_ampersand);
        }
    }
    name.len() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree read from `text` as a compact string (elements with their children, texts as
    /// decoded), and the repairs' messages.
    fn read_back(text: &str) -> (String, Vec<String>) {
        let mut repairs = Repairs::default();
        let tree = read(text, &mut repairs);
        let mut shown = String::new();
        if let Some(root) = tree.root() {
            show(&tree, root, &mut shown, &mut repairs);
        }
        let (listed, _) = repairs.finish(text);
        (
            shown,
            listed.into_iter().map(|repair| repair.what).collect(),
        )
    }

    fn show(tree: &Tree, id: NodeId, shown: &mut String, repairs: &mut Repairs) {
        shown.push_str(tree.qualified_name(id));
        let children: Vec<NodeId> = tree.elements(id).collect();
        if children.is_empty() {
            shown.push_str(&format!("={:?}", tree.text_of(id, repairs)));
            return;
        }
        shown.push('(');
        for (index, child) in children.into_iter().enumerate() {
            if index > 0 {
                shown.push(' ');
            }
            show(tree, child, shown, repairs);
        }
        shown.push(')');
    }

    #[test]
    fn a_well_formed_document_needs_no_repair() {
        let (tree, repairs) = read_back(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY e \"<item>\">]>\n<rss><channel>\
             <title>A &amp; B &#233;</title><item><title><![CDATA[<b>x</b>]]></title><br/></item>\
             </channel></rss>\n<!-- cached 0.2 s -->\n",
        );
        assert_eq!(
            tree,
            "rss(channel(title=\"A & B é\" item(title=\"<b>x</b>\" br=\"\")))"
        );
        assert_eq!(repairs, Vec::<String>::new());
    }

    #[test]
    fn faults_are_repaired_and_named() {
        let cases = [
            (
                "<rss><title>Q&A &nbsp;&eacute; &bogus;</title></rss>",
                "rss(title=\"Q&A \\u{a0}é &bogus;\")",
                &[
                    "a bare & read as itself",
                    "HTML entity &nbsp; read as its character",
                    "HTML entity &eacute; read as its character",
                    "unknown entity &bogus; kept as written",
                ][..],
            ),
            (
                "<rss><item><title>a</item><item><title>b</Title></item></rss>",
                "rss(item(title=\"a\") item(title=\"b\"))",
                &[
                    "unclosed <title> closed by </item>",
                    "</Title> read as closing <title>",
                ],
            ),
            (
                "<rss><item><title>a</title><item><title>b</title></channel></rss>",
                "rss(item(title=\"a\") item(title=\"b\"))",
                &[
                    "unclosed <item> closed by the next one",
                    "</channel> closing nothing open ignored",
                    "unclosed <item> closed by </rss>",
                ],
            ),
            (
                "Warning: oops<br />\n<rss><d>x<br>y<p>z</d></rss>",
                "rss(d(br=\"\" p=\"z\"))",
                &[
                    "text before the feed's root element ignored",
                    "<br> with no end tag read as empty",
                    "unclosed <p> closed by </d>",
                ],
            ),
            (
                "<rss><item><title>cut sh",
                "rss(item(title=\"cut sh\"))",
                &["the document ends inside <title>, <item>, <rss>: closed at its end"],
            ),
            (
                "<rss><a href=\"x>text</a></rss>",
                "rss(a=\"text\")",
                &["a tag with a quote never closed ended at its first >"],
            ),
            (
                "<rss><dc:creator>Ann</dc:creator><foo:bar>x</foo:bar></rss>x",
                "rss(dc:creator=\"Ann\" foo:bar=\"x\")",
                &[
                    "undeclared prefix dc: read as its usual namespace",
                    "undeclared prefix foo: its elements are not read",
                    "content after the feed's root element ignored",
                ],
            ),
        ];
        for (text, tree, expected) in cases {
            let (got_tree, got_repairs) = read_back(text);
            assert_eq!(got_tree, tree, "{text}");
            assert_eq!(got_repairs, expected, "{text}");
        }
    }

    #[test]
    fn an_attribute_without_a_value_reads_as_empty() {
        let mut repairs = Repairs::default();
        let tree = read("<rss><link href rel=\"a&b\"/></rss>", &mut repairs);
        let link = tree.elements(tree.root().unwrap()).next().unwrap();
        assert_eq!(
            tree.attribute(link, "href", &mut repairs).as_deref(),
            Some("")
        );
        assert_eq!(
            tree.attribute(link, "rel", &mut repairs).as_deref(),
            Some("a&b")
        );
    }

    #[test]
    fn cut_elements_are_marked_and_deep_nesting_is_flattened() {
        let mut repairs = Repairs::default();
        let tree = read(
            "<rss><item><title>whole</title><link>http://cut",
            &mut repairs,
        );
        let item = tree.elements(tree.root().unwrap()).next().unwrap();
        let cut: Vec<(&str, bool)> = tree
            .elements(item)
            .map(|child| (tree.qualified_name(child), tree.element(child).unwrap().cut))
            .collect();
        assert_eq!(cut, [("title", false), ("link", true)]);

        let deep = format!(
            "<rss>{}x{}</rss>",
            "<x>".repeat(1_000),
            "</x>".repeat(1_000)
        );
        let mut repairs = Repairs::default();
        let tree = read(&deep, &mut repairs);
        let root = tree.root().unwrap();
        assert_eq!(tree.descendants(root).count(), MAX_DEPTH - 1);
        assert_eq!(tree.text_of(root, &mut repairs), "x");
        assert_eq!(repairs.finish(&deep).0.len(), 1);
    }
}

//! RSS 0.90 / 0.9x / 1.0 / 2.0 and Atom 0.3 / 1.0 documents, read from the forgiving reader's
//! tree (`xml`) with feedparser's rules.
//!
//! Like feedparser, the mapping goes by what an element is, not where a schema says it may be:
//! entries are the outermost `item` (RSS) or `entry` (Atom) elements wherever they are (RSS 1.0
//! puts them beside the channel, broken feeds inside each other); the feed's own fields are the
//! children of `channel` (or of the root). Element names match in any letter case. Beside each
//! format's own elements it reads what publishers mix in: Dublin Core and DCMI terms (titles,
//! creators, dates, subjects), `content:encoded`, Media RSS, iTunes authors and images, Atom
//! links in RSS.
//!
//! Where a document is silent it fills what feedparser fills: an RSS guid that is a permalink
//! (and an absolute URL) is the link of an item without one, and an RDF item known only by
//! `rdf:about` has that as id and link. Values of elements cut short by the end of the document
//! are not trusted, and an entry cut short before its id and link is left out: stored, it could
//! never be replaced by its complete version. docs/reading-feeds.md lists every rule, and where
//! they differ from feedparser's on purpose.

use std::ops::Range;

use chrono::{DateTime, Utc};
use url::Url;

use super::dates::parse_date;
use super::repairs::Repairs;
use super::xml::{self, NodeId, Ns, Tree};
use super::{ParseError, RawEntry, RawFeed, RawPerson, Text, WebSubLinks};
use crate::model::Enclosure;
use crate::normalize::absolute_url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// Root `rss` (RSS 0.9x, 2.0), `rdf:RDF` (RSS 0.90, 1.0) or a bare `channel`.
    Rss {
        rss_root: bool,
    },
    Atom,
}

/// A document read into a tree, with its feed and entry elements found.
pub struct Syndication<'a> {
    tree: Tree<'a>,
    family: Family,
    /// The element whose children are the feed's own fields.
    channel: NodeId,
    entries: Vec<NodeId>,
    document_url: &'a Url,
}

/// Reads `text` as an RSS or Atom document; an error only when it holds no feed at all.
pub fn open<'a>(
    text: &'a str,
    document_url: &'a Url,
    repairs: &mut Repairs,
) -> Result<Syndication<'a>, ParseError> {
    let tree = xml::read(text, repairs);
    let Some(root) = tree.root() else {
        return Err(ParseError::no_feed(text));
    };
    let root_name = tree.local_name(root);
    let family = if root_name.eq_ignore_ascii_case("feed") {
        Family::Atom
    } else {
        Family::Rss {
            rss_root: root_name.eq_ignore_ascii_case("rss"),
        }
    };
    let channel = match family {
        Family::Atom => root,
        Family::Rss { .. } => tree
            .elements(root)
            .find(|child| tree.local_name(*child).eq_ignore_ascii_case("channel"))
            .unwrap_or(root),
    };
    let mut syndication = Syndication {
        tree,
        family,
        channel,
        entries: Vec::new(),
        document_url,
    };
    syndication.entries = syndication
        .tree
        .outermost(root, |node| syndication.is_entry(node));
    Ok(syndication)
}

impl Syndication<'_> {
    /// Asked of every element of the document, so it looks at the name before anything else.
    fn is_entry(&self, node: NodeId) -> bool {
        let (name, ns) = match self.family {
            Family::Rss { .. } => ("item", Ns::Rss),
            Family::Atom => ("entry", Ns::Atom),
        };
        self.tree.local_name(node).eq_ignore_ascii_case(name) && self.vocabulary(node) == ns
    }

    /// Notes what decoding the whole document would repair, without decoding it.
    pub fn note_reference_repairs(&self, repairs: &mut Repairs) {
        if let Some(root) = self.tree.root() {
            self.tree.note_reference_repairs(root, repairs);
        }
    }

    /// How many entry elements the document has.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Where entry `index`'s bytes are in the text, and the base URL they resolve against.
    pub fn entry_bytes(&self, index: usize) -> (Range<usize>, Url) {
        let node = self.entries[index];
        let span = self
            .tree
            .element(node)
            .expect("an entry element")
            .span
            .clone();
        (span, self.tree.base(node, self.document_url))
    }

    /// The vocabulary and lowercase local name of element `node`. In an Atom document written
    /// without its namespace, unprefixed elements are Atom's.
    fn term(&self, node: NodeId) -> (Ns, &'static str) {
        (
            self.vocabulary(node),
            known_name(self.tree.local_name(node)),
        )
    }

    fn vocabulary(&self, node: NodeId) -> Ns {
        match (self.tree.element(node).map(|e| e.ns), self.family) {
            (Some(Ns::Rss), Family::Atom) => Ns::Atom,
            (Some(ns), _) => ns,
            (None, _) => Ns::Other,
        }
    }

    /// The feed's own fields.
    pub fn read_feed(&self, repairs: &mut Repairs) -> RawFeed {
        let mut feed = RawFeed::default();
        let mut fallback = Fallbacks::default();
        let base = |node| self.tree.base(node, self.document_url);
        for child in self.tree.elements(self.channel) {
            if self.is_cut(child) {
                continue;
            }
            match self.term(child) {
                (Ns::Rss, "title") => set_once(&mut feed.title, self.html(child, repairs)),
                (Ns::Atom, "title") => {
                    set_once(&mut feed.title, self.text_construct(child, repairs))
                }
                (Ns::Dc, "title") => set_once(&mut fallback.title, self.plain(child, repairs)),
                (Ns::Rss, "link") => {
                    set_once(&mut feed.link, self.url(child, &base(child), repairs))
                }
                (Ns::Atom, "link") => {
                    if let Some(AtomLink::Alternate(href)) = self.atom_link(child, repairs) {
                        set_once(&mut feed.link, absolute_url(&href, Some(&base(child))));
                    }
                }
                (Ns::Atom, "id") => set_once(&mut feed.id, self.value(child, repairs)),
                (Ns::Rss, "description") => set_once(&mut feed.subtitle, self.html(child, repairs)),
                (Ns::Atom, "subtitle" | "tagline") => {
                    set_once(&mut feed.subtitle, self.text_construct(child, repairs));
                }
                (Ns::Rss, "pubdate") | (Ns::Atom, "published" | "issued") => {
                    set_once(&mut feed.published, self.date(child, repairs));
                }
                (Ns::Rss, "lastbuilddate" | "updated") | (Ns::Atom, "updated" | "modified") => {
                    set_once(&mut feed.updated, self.date(child, repairs));
                }
                (Ns::Dc, "date") | (Ns::Dcterms, "modified") => {
                    set_once(&mut fallback.updated, self.date(child, repairs));
                }
                (Ns::Dcterms, "issued" | "created" | "date") => {
                    set_once(&mut fallback.published, self.date(child, repairs));
                }
                (Ns::Atom, "author") => feed.authors.extend(self.atom_person(child, repairs)),
                // webMaster is who runs the site (feedparser's "publisher"), not an author.
                (Ns::Rss, "author" | "managingeditor") | (Ns::Dc, "creator") => {
                    feed.authors.extend(self.written_person(child, repairs));
                }
                (Ns::Itunes, "author") => {
                    fallback.authors.extend(self.written_person(child, repairs));
                }
                _ => {}
            }
        }
        fallback.fill(
            &mut feed.title,
            &mut feed.published,
            &mut feed.updated,
            &mut feed.authors,
        );
        feed
    }

    /// The hubs the feed names and its self link (Atom `link`, RSS `atom:link`).
    pub fn websub_links(&self) -> WebSubLinks {
        let mut links = WebSubLinks::default();
        for child in self.tree.elements(self.channel) {
            if self.is_cut(child) || self.term(child) != (Ns::Atom, "link") {
                continue;
            }
            // Repairs in these values are not noted: the document's repairs are those of its
            // entries and `read_feed`'s fields, whether its links are looked at or not.
            let attribute = |name| self.tree.attribute(child, name, &mut Repairs::default());
            if let (Some(rel), Some(href)) = (attribute("rel"), attribute("href")) {
                links.add(&rel, &href, &self.tree.base(child, self.document_url));
            }
        }
        links
    }

    /// Entry `index`, or `None` where it was cut short before its id and link.
    pub fn read_entry(&self, index: usize, repairs: &mut Repairs) -> Option<RawEntry> {
        let node = self.entries[index];
        let entry_base = self.tree.base(node, self.document_url);
        let mut entry = RawEntry::at(entry_base.clone());
        let mut aside = EntryAside::default();
        for child in self.tree.elements(node) {
            if !self.is_cut(child) {
                self.read_entry_element(child, &mut entry, &mut aside, repairs);
            }
        }
        self.settle_entry(node, entry, aside, &entry_base, repairs)
    }

    /// Reads one element of an entry: its title, link, id, summary or content here, the rest
    /// in `read_entry_metadata`.
    fn read_entry_element(
        &self,
        child: NodeId,
        entry: &mut RawEntry,
        aside: &mut EntryAside,
        repairs: &mut Repairs,
    ) {
        let base = |node| self.tree.base(node, self.document_url);
        match self.term(child) {
            (Ns::Rss, "title") => set_once(&mut entry.title, self.html(child, repairs)),
            (Ns::Atom, "title") => {
                set_once(&mut entry.title, self.text_construct(child, repairs));
            }
            (Ns::Dc, "title") => set_once(&mut aside.fallback.title, self.plain(child, repairs)),
            (Ns::Rss, "link") => {
                set_once(&mut entry.link, self.url(child, &base(child), repairs));
            }
            (Ns::Atom, "link") => match self.atom_link(child, repairs) {
                Some(AtomLink::Alternate(href)) => {
                    set_once(&mut entry.link, absolute_url(&href, Some(&base(child))));
                }
                Some(AtomLink::Enclosure(enclosure)) => {
                    entry.enclosures.extend(enclosure.resolved(&base(child)));
                }
                None => {}
            },
            (Ns::Rss, "guid") => {
                if aside.guid.is_none()
                    && let Some(value) = self.value(child, repairs)
                {
                    let permalink = self
                        .tree
                        .attribute(child, "isPermaLink", repairs)
                        .is_none_or(|value| !value.trim().eq_ignore_ascii_case("false"));
                    aside.guid = Some((value, permalink));
                }
            }
            (Ns::Atom, "id") => set_once(&mut entry.id, self.value(child, repairs)),
            (Ns::Rss, "description") => {
                set_once(&mut entry.summary, self.html(child, repairs));
            }
            (Ns::Atom, "summary") => {
                set_once(&mut entry.summary, self.text_construct(child, repairs));
            }
            (Ns::Content, "encoded") if entry.content.is_none() => {
                entry.content = self.html(child, repairs);
                entry.base = base(child);
            }
            // Content given by `src` is elsewhere: the entry has none of its own.
            (Ns::Atom, "content")
                if entry.content.is_none()
                    && self.tree.attribute(child, "src", repairs).is_none() =>
            {
                entry.content = self.text_construct(child, repairs);
                entry.base = base(child);
            }
            _ => self.read_entry_metadata(child, entry, aside, repairs),
        }
    }

    /// Reads one element of an entry about it: dates, persons, categories, enclosures, media.
    fn read_entry_metadata(
        &self,
        child: NodeId,
        entry: &mut RawEntry,
        aside: &mut EntryAside,
        repairs: &mut Repairs,
    ) {
        let base = |node| self.tree.base(node, self.document_url);
        match self.term(child) {
            (Ns::Rss, "pubdate") | (Ns::Atom, "published" | "issued") | (Ns::Dc, "date") => {
                set_once(&mut entry.published, self.date(child, repairs));
            }
            (Ns::Rss, "updated") | (Ns::Atom, "updated" | "modified") => {
                set_once(&mut entry.updated, self.date(child, repairs));
            }
            (Ns::Dcterms, "created" | "issued" | "date") | (Ns::Atom, "created") => {
                set_once(&mut aside.fallback.published, self.date(child, repairs));
            }
            (Ns::Dcterms, "modified") => {
                set_once(&mut aside.fallback.updated, self.date(child, repairs));
            }
            (Ns::Atom, "author") => entry.authors.extend(self.atom_person(child, repairs)),
            (Ns::Rss, "author") | (Ns::Dc, "creator") => {
                entry.authors.extend(self.written_person(child, repairs));
            }
            (Ns::Itunes, "author") => {
                aside
                    .fallback
                    .authors
                    .extend(self.written_person(child, repairs));
            }
            (Ns::Rss, "category") | (Ns::Dc, "subject") => {
                entry.categories.extend(self.value(child, repairs));
            }
            (Ns::Atom, "category") => entry.categories.extend(
                self.tree
                    .attribute(child, "label", repairs)
                    .filter(|label| !label.trim().is_empty())
                    .or_else(|| self.tree.attribute(child, "term", repairs)),
            ),
            (Ns::Rss, "enclosure") => {
                let enclosure = self.enclosure(child, "length", repairs);
                entry.enclosures.extend(enclosure.resolved(&base(child)));
            }
            (Ns::Media, "content" | "group" | "thumbnail") => {
                self.media(child, &base(child), entry, repairs);
            }
            (Ns::Itunes, "image") => {
                set_once(
                    &mut aside.itunes_image,
                    self.tree.attribute(child, "href", repairs),
                );
            }
            _ => {}
        }
    }

    /// Completes an entry once all its elements are read: the guid or `rdf:about` as its id and
    /// link, the fallbacks where its own elements are missing, and `None` where it was cut
    /// short before its id and link.
    fn settle_entry(
        &self,
        node: NodeId,
        mut entry: RawEntry,
        aside: EntryAside,
        entry_base: &Url,
        repairs: &mut Repairs,
    ) -> Option<RawEntry> {
        if let Some((guid, permalink)) = aside.guid {
            if permalink && entry.link.is_none() {
                entry.link = absolute_url(&guid, None);
            }
            set_once(&mut entry.id, Some(guid));
        }
        if let Some(about) = self.tree.attribute(node, "rdf:about", repairs) {
            let about = about.trim();
            if !about.is_empty() {
                if entry.link.is_none() {
                    entry.link = absolute_url(about, None);
                }
                set_once(&mut entry.id, Some(about.to_string()));
            }
        }
        aside.fallback.fill(
            &mut entry.title,
            &mut entry.published,
            &mut entry.updated,
            &mut entry.authors,
        );
        if self.family == (Family::Rss { rss_root: true }) {
            // As feed-rs did for RSS 2.0, which the stored entries were read by.
            entry.updated = entry.updated.or(entry.published);
        }
        if entry.image.is_none() {
            entry.image = aside
                .itunes_image
                .and_then(|href| absolute_url(&href, Some(entry_base)));
        }
        if self.is_cut(node) && entry.id.is_none() && entry.link.is_none() {
            let at = self
                .tree
                .element(node)
                .map_or(0, |element| element.span.start);
            repairs.note(at, || {
                "an entry cut short before its id and link left out".into()
            });
            return None;
        }
        Some(entry)
    }

    /// Whether `node` was closed by the end of the document: its value may be cut short.
    fn is_cut(&self, node: NodeId) -> bool {
        self.tree.element(node).is_some_and(|element| element.cut)
    }

    /// The trimmed text of `node`, if any.
    fn value(&self, node: NodeId, repairs: &mut Repairs) -> Option<String> {
        let text = self.tree.text_of(node, repairs);
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_string())
    }

    fn url(&self, node: NodeId, base: &Url, repairs: &mut Repairs) -> Option<String> {
        absolute_url(&self.value(node, repairs)?, Some(base))
    }

    fn date(&self, node: NodeId, repairs: &mut Repairs) -> Option<DateTime<Utc>> {
        parse_date(&self.value(node, repairs)?)
    }

    fn plain(&self, node: NodeId, repairs: &mut Repairs) -> Option<Text> {
        Some(Text::plain(self.value(node, repairs)?))
    }

    /// An RSS text: HTML, escaped, in CDATA or written as raw markup.
    fn html(&self, node: NodeId, repairs: &mut Repairs) -> Option<Text> {
        let markup = self.tree.markup_of(node, repairs);
        (!markup.trim().is_empty()).then(|| Text::html(markup.trim().to_string()))
    }

    /// An Atom text construct: `type` text, html or xhtml (Atom 0.3: a MIME type, and `mode`).
    fn text_construct(&self, node: NodeId, repairs: &mut Repairs) -> Option<Text> {
        let kind = self
            .tree
            .attribute(node, "type", repairs)
            .map(|kind| kind.trim().to_ascii_lowercase());
        let mode = self.tree.attribute(node, "mode", repairs);
        match kind.as_deref() {
            Some("html" | "text/html") => self.html(node, repairs),
            Some("xhtml" | "application/xhtml+xml") => self.xhtml(node, repairs),
            _ if mode.as_deref() == Some("xml") => self.xhtml(node, repairs),
            // Text that holds markup is a publisher's HTML mislabelled, as feedparser reads it.
            _ if self.tree.descendants(node).next().is_some() => self.html(node, repairs),
            _ => self.plain(node, repairs),
        }
    }

    /// XHTML content: the children of its `div`, written out as HTML.
    fn xhtml(&self, node: NodeId, repairs: &mut Repairs) -> Option<Text> {
        let mut children = self.tree.elements(node);
        let only_div = match (children.next(), children.next()) {
            (Some(div), None) if self.tree.local_name(div).eq_ignore_ascii_case("div") => Some(div),
            _ => None,
        };
        self.html(only_div.unwrap_or(node), repairs)
    }

    fn atom_link(&self, node: NodeId, repairs: &mut Repairs) -> Option<AtomLink> {
        let href = self
            .tree
            .attribute(node, "href", repairs)
            .map(|href| href.trim().to_string())
            .filter(|href| !href.is_empty())?;
        let rel = self.tree.attribute(node, "rel", repairs);
        match rel.as_deref().map(str::trim) {
            None | Some("alternate") => {
                let media_type = self.tree.attribute(node, "type", repairs);
                // A link to a non-HTML file without rel is an attachment (JSON-style).
                match media_type {
                    Some(media_type)
                        if !media_type.trim().is_empty()
                            && !media_type.contains("html")
                            && rel.is_none() =>
                    {
                        Some(AtomLink::Enclosure(self.enclosure(node, "length", repairs)))
                    }
                    _ => Some(AtomLink::Alternate(href)),
                }
            }
            Some("enclosure") => Some(AtomLink::Enclosure(self.enclosure(node, "length", repairs))),
            _ => None,
        }
    }

    /// An RSS enclosure, Atom enclosure link or Media RSS content: its URL (`url` or `href`),
    /// type, and length in the attribute `length_attribute`.
    fn enclosure(
        &self,
        node: NodeId,
        length_attribute: &str,
        repairs: &mut Repairs,
    ) -> RawEnclosure {
        let attribute = |name: &str, repairs: &mut Repairs| {
            self.tree
                .attribute(node, name, repairs)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        RawEnclosure {
            url: attribute("url", repairs).or_else(|| attribute("href", repairs)),
            mime_type: attribute("type", repairs),
            length: attribute(length_attribute, repairs).and_then(|length| length.parse().ok()),
        }
    }

    /// `media:content`, `media:group` and `media:thumbnail`: enclosures and the first thumbnail.
    fn media(&self, node: NodeId, base: &Url, entry: &mut RawEntry, repairs: &mut Repairs) {
        match self.term(node) {
            (Ns::Media, "content") => {
                let enclosure = self.enclosure(node, "fileSize", repairs);
                if let Some(enclosure) = enclosure.resolved(base)
                    && !entry
                        .enclosures
                        .iter()
                        .any(|known| known.url == enclosure.url)
                {
                    entry.enclosures.push(enclosure);
                }
                for child in self.tree.elements(node) {
                    self.media(child, base, entry, repairs);
                }
            }
            (Ns::Media, "group") => {
                for child in self.tree.elements(node) {
                    self.media(child, base, entry, repairs);
                }
            }
            (Ns::Media, "thumbnail") if entry.image.is_none() => {
                entry.image = self
                    .tree
                    .attribute(node, "url", repairs)
                    .and_then(|url| absolute_url(url.trim(), Some(base)));
            }
            _ => {}
        }
    }

    /// An Atom person: `name`, `email`, `uri` (Atom 0.3: `url`); any one of them makes one.
    fn atom_person(&self, node: NodeId, repairs: &mut Repairs) -> Option<RawPerson> {
        let mut person = RawPerson::default();
        for child in self.tree.elements(node) {
            let field = match self.term(child) {
                (Ns::Atom, "name") => &mut person.name,
                (Ns::Atom, "email") => &mut person.email,
                (Ns::Atom, "uri" | "url") => &mut person.uri,
                _ => continue,
            };
            set_once(field, self.value(child, repairs));
        }
        if person.name.is_none() && person.email.is_none() && person.uri.is_none() {
            // `<author>Ann</author>`: a name written without its element.
            person.name = self.value(node, repairs);
        }
        (person != RawPerson::default()).then_some(person)
    }

    /// A person written as one text (`a@b (Name)`, `Name <a@b>`, `Name`).
    fn written_person(&self, node: NodeId, repairs: &mut Repairs) -> Option<RawPerson> {
        Some(RawPerson {
            name: Some(self.value(node, repairs)?),
            ..RawPerson::default()
        })
    }
}

/// What an entry's elements say beside its own fields, settled once all are read.
#[derive(Default)]
struct EntryAside {
    fallback: Fallbacks,
    /// The guid, and whether it is a permalink.
    guid: Option<(String, bool)>,
    itunes_image: Option<String>,
}

/// What Dublin Core, DCMI terms and iTunes say, used where the format's own elements are
/// missing.
#[derive(Default)]
struct Fallbacks {
    title: Option<Text>,
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    authors: Vec<RawPerson>,
}

impl Fallbacks {
    fn fill(
        self,
        title: &mut Option<Text>,
        published: &mut Option<DateTime<Utc>>,
        updated: &mut Option<DateTime<Utc>>,
        authors: &mut Vec<RawPerson>,
    ) {
        set_once(title, self.title);
        set_once(published, self.published);
        set_once(updated, self.updated);
        if authors.is_empty() {
            *authors = self.authors;
        }
    }
}

enum AtomLink {
    Alternate(String),
    Enclosure(RawEnclosure),
}

struct RawEnclosure {
    url: Option<String>,
    mime_type: Option<String>,
    length: Option<u64>,
}

impl RawEnclosure {
    fn resolved(self, base: &Url) -> Option<Enclosure> {
        Some(Enclosure {
            url: absolute_url(&self.url?, Some(base))?,
            mime_type: self.mime_type,
            length: self.length,
        })
    }
}

/// Keeps the first value found: feeds repeat elements, and the first is the one meant.
fn set_once<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// The lowercase spelling of the element names the mapping reads, for matching in any case;
/// `""` for every other name.
fn known_name(local: &str) -> &'static str {
    const NAMES: [&str; 31] = [
        "title",
        "link",
        "guid",
        "id",
        "description",
        "summary",
        "content",
        "encoded",
        "pubdate",
        "published",
        "issued",
        "updated",
        "modified",
        "lastbuilddate",
        "created",
        "date",
        "author",
        "creator",
        "managingeditor",
        "category",
        "subject",
        "enclosure",
        "group",
        "thumbnail",
        "image",
        "name",
        "email",
        "uri",
        "url",
        "subtitle",
        "tagline",
    ];
    NAMES
        .iter()
        .find(|name| name.eq_ignore_ascii_case(local))
        .copied()
        .unwrap_or("")
}

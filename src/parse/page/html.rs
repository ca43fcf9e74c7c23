//! An HTML page read with CSS selectors: `item` finds the entries, and each field's selector
//! is looked up inside an item, the first match taken.
//!
//! A field is written `css@attribute` to take an attribute rather than the text, `@href` alone
//! for the item's own attribute (a card that is itself the link), and `""` for the item's own
//! text. Without `@`, `link`
//! and `image` still take `href` and `src` where the element has one, and `date` a `<time>`'s
//! `datetime`: the selector names the element, the obvious attribute is meant.

use dom_query::{Document, Matcher, NodeRef, Selection};
use url::Url;

use super::{Items, PageError, identify, page_date, with_title_or_link};
use crate::normalize::nesting::within_depth;
use crate::normalize::{absolute_url, collapse_whitespace};
use crate::parse::{MAX_ENTRIES_PER_DOCUMENT, RawEntry, RawPerson, Text};

/// An `html:` recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct HtmlRecipe {
    pub item: Pick,
    pub title: Pick,
    pub link: Pick,
    pub date: Option<Pick>,
    pub summary: Option<Pick>,
    pub content: Option<Pick>,
    pub author: Option<Pick>,
    pub image: Option<Pick>,
}

/// One field's selector: CSS inside the item (none: the item itself), and the attribute to
/// take instead of the text.
#[derive(Debug, Clone)]
pub struct Pick {
    written: String,
    within: Option<Matcher>,
    attribute: Option<String>,
}

/// Equal when written alike: the same text parses to the same selector.
impl PartialEq for Pick {
    fn eq(&self, other: &Pick) -> bool {
        self.written == other.written
    }
}

impl Pick {
    /// Reads `css@attribute`, `css`, `@attribute`, or `""` (the item's own text); says what is
    /// wrong with one that is none of these.
    pub fn parse(written: &str) -> Result<Pick, String> {
        let (css, attribute) = match split_attribute(written) {
            Some((css, attribute)) => (css.trim(), Some(attribute.to_ascii_lowercase())),
            None => (written.trim(), None),
        };
        let within =
            if css.is_empty() {
                None
            } else {
                Some(Matcher::new(css).map_err(|error| {
                    format!("{written:?} is not a CSS selector ({:?})", error.kind)
                })?)
            };
        Ok(Pick {
            written: written.to_string(),
            within,
            attribute,
        })
    }

    /// As the config wrote it.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// Whether it selects elements by CSS and takes no attribute: what an `item` must be.
    pub fn is_plain_css(&self) -> bool {
        self.within.is_some() && self.attribute.is_none()
    }

    /// The element this field is read from: the first match inside `item`, or `item` itself.
    fn element<'a>(&self, item: &NodeRef<'a>) -> Option<NodeRef<'a>> {
        match &self.within {
            None => Some(*item),
            Some(matcher) => Selection::from(*item)
                .select_single_matcher(matcher)
                .nodes()
                .first()
                .cloned(),
        }
    }

    /// The field's value in `item`: the attribute asked for; else `usual`, the attribute the
    /// field means where the element has it; else the element's text. `None` when empty.
    fn value(&self, item: &NodeRef, usual: Option<&str>) -> Option<String> {
        let element = self.element(item)?;
        let value = match (&self.attribute, usual) {
            (Some(attribute), _) => element.attr(attribute)?.to_string(),
            (None, Some(usual)) => element
                .attr(usual)
                .map_or_else(|| element.text().to_string(), |value| value.to_string()),
            (None, None) => element.text().to_string(),
        };
        let value = collapse_whitespace(&value);
        (!value.is_empty()).then_some(value)
    }

    /// The field as a body: the element's inner HTML, or the attribute asked for as text.
    fn body(&self, item: &NodeRef) -> Option<Text> {
        if self.attribute.is_some() {
            return self.value(item, None).map(Text::plain);
        }
        let html = self.element(item)?.inner_html().to_string();
        (!html.trim().is_empty()).then(|| Text::html(html))
    }
}

/// `css@attribute` split at its last `@` outside brackets and quotes (an attribute selector
/// may hold one: `a[href^="mailto:a@b"]`), when what follows is an attribute name.
fn split_attribute(written: &str) -> Option<(&str, &str)> {
    let (mut depth, mut quote, mut at) = (0_i32, None, None);
    for (index, character) in written.char_indices() {
        match (quote, character) {
            (Some(open), _) if character == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(character),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth -= 1,
            (None, '@') if depth == 0 => at = Some(index),
            _ => {}
        }
    }
    let at = at?;
    let attribute = written[at + 1..].trim();
    let is_name = !attribute.is_empty()
        && attribute
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    is_name.then(|| (&written[..at], attribute))
}

/// Reads the items of the page `text`, fetched from `page_url`.
pub(in crate::parse) fn read(
    text: &str,
    page_url: &Url,
    recipe: &HtmlRecipe,
) -> Result<Items, PageError> {
    // html5ever's tree costs the square of the nesting depth: a hostile page is cut to depth.
    let document = Document::from(within_depth(text).as_ref());
    let base = base_of(&document, page_url);
    let items = Selection::from(document.root()).select_matcher(
        recipe
            .item
            .within
            .as_ref()
            .expect("config accepts only CSS for item"),
    );
    let nodes = items.nodes();
    if nodes.is_empty() {
        return Err(PageError::NoItems {
            what: "selector",
            query: recipe.item.as_str().to_string(),
        });
    }
    let read = nodes.len().min(MAX_ENTRIES_PER_DOCUMENT);
    let entries = nodes[..read]
        .iter()
        .map(|item| read_item(item, recipe, &base))
        .collect();
    Ok(Items {
        entries: with_title_or_link(entries, "selector", recipe.item.as_str())?,
        unread: nodes.len() - read,
    })
}

/// What relative links resolve against: the page's `<base href>`, else its own URL.
fn base_of(document: &Document, page_url: &Url) -> Url {
    document
        .select_single("base[href]")
        .attr("href")
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone())
}

fn read_item(item: &NodeRef, recipe: &HtmlRecipe, base: &Url) -> RawEntry {
    let optional = |pick: &Option<Pick>, usual| pick.as_ref()?.value(item, usual);
    let mut entry = RawEntry::at(base.clone());
    entry.title = recipe.title.value(item, None).map(Text::plain);
    entry.link = recipe
        .link
        .value(item, Some("href"))
        .and_then(|href| absolute_url(&href, Some(base)));
    entry.published = optional(&recipe.date, Some("datetime")).and_then(|date| page_date(&date));
    entry.summary = recipe.summary.as_ref().and_then(|pick| pick.body(item));
    entry.content = recipe.content.as_ref().and_then(|pick| pick.body(item));
    entry.authors = optional(&recipe.author, None)
        .map(|name| RawPerson {
            name: Some(name),
            ..RawPerson::default()
        })
        .into_iter()
        .collect();
    entry.image =
        optional(&recipe.image, Some("src")).and_then(|src| absolute_url(&src, Some(base)));
    identify(&mut entry);
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(item: &str, title: &str, link: &str) -> HtmlRecipe {
        HtmlRecipe {
            item: Pick::parse(item).unwrap(),
            title: Pick::parse(title).unwrap(),
            link: Pick::parse(link).unwrap(),
            date: Some(Pick::parse("time").unwrap()),
            summary: Some(Pick::parse(".excerpt").unwrap()),
            content: None,
            author: Some(Pick::parse(".by").unwrap()),
            image: Some(Pick::parse("img").unwrap()),
        }
    }

    const PAGE: &str = r#"<html><head><base href="https://cdn.example/blog/"></head><body>
        <nav><a href="/">Home</a></nav>
        <article class="post"><h2><a href="one.html">  First
            post </a></h2><time datetime="2026-11-03T10:00:00Z">Nov 3</time>
            <p class="excerpt">The <b>first</b> one.</p><span class="by">Ann</span>
            <img src="i/1.png"></article>
        <article class="post"><h2>No link here</h2><time>November 2, 2026</time></article>
        <article class="post"><p>neither</p></article>
        </body></html>"#;

    #[test]
    fn items_are_read_with_the_base_and_the_usual_attributes() {
        let url = Url::parse("https://site.example/news/").unwrap();
        let items = read(PAGE, &url, &recipe("article.post", "h2", "h2 a")).unwrap();
        assert_eq!(items.entries.len(), 2, "the item with neither is left out");
        let first = &items.entries[0];
        assert_eq!(first.title, Some(Text::plain("First post".into())));
        assert_eq!(
            first.link.as_deref(),
            Some("https://cdn.example/blog/one.html")
        );
        assert_eq!(first.id, None, "known by its link");
        assert_eq!(
            first.published.unwrap().to_rfc3339(),
            "2026-11-03T10:00:00+00:00"
        );
        assert_eq!(
            first.summary,
            Some(Text::html("The <b>first</b> one.".into()))
        );
        assert_eq!(first.authors[0].name.as_deref(), Some("Ann"));
        assert_eq!(
            first.image.as_deref(),
            Some("https://cdn.example/blog/i/1.png")
        );
        let second = &items.entries[1];
        assert_eq!(second.link, None);
        assert_eq!(
            second.id.as_deref(),
            Some("page:No link here|2026-11-02T00:00:00+00:00")
        );
    }

    #[test]
    fn a_recipe_that_finds_nothing_says_so() {
        let url = Url::parse("https://site.example/").unwrap();
        let error = read(PAGE, &url, &recipe("div.entry", "h2", "a")).unwrap_err();
        assert_eq!(error.to_string(), r#"selector "div.entry" matched nothing"#);
        let error = read(PAGE, &url, &recipe("article", "h5", "a.none")).unwrap_err();
        assert!(
            error.to_string().starts_with(
                r#"selector "article" matched 3 item(s), but none has a title or a link"#
            ),
            "{error}"
        );
    }

    #[test]
    fn a_card_that_is_its_own_link_is_read_with_at_href() {
        let page = r#"<a class="card" href="/p/1"><h3>Lamp</h3></a><a class="card" href="/p/2"><h3>Desk</h3></a>"#;
        let url = Url::parse("https://shop.example/new").unwrap();
        let items = read(page, &url, &recipe("a.card", "h3", "@href")).unwrap();
        let links: Vec<_> = items.entries.iter().map(|e| e.link.clone()).collect();
        assert_eq!(
            links,
            [
                Some("https://shop.example/p/1".to_string()),
                Some("https://shop.example/p/2".to_string())
            ]
        );
    }

    #[test]
    fn selectors_are_split_from_their_attribute_and_checked() {
        let pick = Pick::parse(r#"a[href^="mailto:x@y"]@data-id"#).unwrap();
        assert_eq!(pick.attribute.as_deref(), Some("data-id"));
        assert!(
            Pick::parse(r#"a[href^="mailto:x@y"]"#)
                .unwrap()
                .is_plain_css()
        );
        assert!(!Pick::parse("@href").unwrap().is_plain_css());
        let error = Pick::parse("h2 >> a").unwrap_err();
        assert!(
            error.starts_with(r#""h2 >> a" is not a CSS selector ("#),
            "{error}"
        );
        assert!(
            Pick::parse(" ").unwrap().within.is_none(),
            "the item itself"
        );
    }

    #[test]
    fn deep_nesting_and_many_matches_are_bounded() {
        // Quadratic in html5ever, were it not cut to depth: minutes for this.
        let deep = format!(
            "{}{}<p class=x><a href=/a>after the deep part</a></p>",
            "<div>".repeat(50_000),
            "</div>".repeat(50_000)
        );
        let url = Url::parse("https://site.example/").unwrap();
        let items = read(&deep, &url, &recipe("p.x", "a", "a")).unwrap();
        assert_eq!(items.entries.len(), 1);
        let many = "<li><a href=/x>x</a></li>".repeat(MAX_ENTRIES_PER_DOCUMENT + 5);
        let items = read(&many, &url, &recipe("li", "a", "a")).unwrap();
        assert_eq!(items.entries.len(), MAX_ENTRIES_PER_DOCUMENT);
        assert_eq!(items.unread, 5);
    }
}

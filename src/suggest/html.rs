//! Suggesting an `html:` recipe: which repeated structure of a page holds its entries, and
//! the selectors that read them.
//!
//! The page is parsed once and its elements are copied into a flat index in document order
//! (an iterative walk, bounded by `MAX_ELEMENTS` and `MAX_DEPTH`), with the few facts the
//! ranking needs: tag, id, classes, words of text below, whether it sits in boilerplate
//! (navigation, header, footer, sidebar, comments...) or in the main content. Every later step
//! works on that index: a subtree is a range of it, so nothing recurses and nothing walks the
//! document again. Selectors are verified with dom_query's matcher on the indexed elements.

use std::collections::{HashMap, HashSet};

use dom_query::{Document, Matcher, NodeRef};

use crate::normalize::collapse_whitespace;
use crate::normalize::nesting::within_depth;
use crate::parse::page::{HtmlRecipe, Pick, Recipe};
use crate::parse::parse_date;

/// Elements indexed at most; the rest of a larger page is not looked at.
const MAX_ELEMENTS: usize = 50_000;
/// Elements deeper than this are not indexed (nor their descendants).
const MAX_DEPTH: usize = 256;
/// Sibling groups taken to the (more expensive) selector stage.
const MAX_GROUPS: usize = 24;
/// Items of a candidate looked at when choosing the item-relative selectors.
const MAX_SAMPLE: usize = 60;
/// Classes of one element tried in selectors.
const MAX_CLASSES: usize = 6;
/// Item-relative selectors tried for one field.
const MAX_RELATIVE: usize = 100;

/// A candidate way to read a page's entries, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct HtmlSuggestion {
    /// CSS selector matching each entry's element.
    pub item: String,
    /// Item-relative selector of the title (its text); `""` is the item's own text.
    pub title: String,
    /// Item-relative selector of the link, with an `@href` suffix; `@href` alone is the item's
    /// own `href` (an item that is a link).
    pub link: String,
    /// Item-relative selector of the date: `…@datetime` for `<time datetime>`, else an element
    /// whose text is the date.
    pub date: Option<String>,
    /// Item-relative selector of the summary (inner HTML).
    pub summary: Option<String>,
    /// Higher is better; only comparable within one page.
    pub score: f64,
    /// How many elements of the page `item` matches.
    pub items: usize,
}

impl HtmlSuggestion {
    /// The suggestion as the recipe a page source reads with; an error names a selector the
    /// reader would not take.
    pub fn recipe(&self) -> Result<Recipe, String> {
        let optional = |written: &Option<String>| written.as_deref().map(Pick::parse).transpose();
        Ok(Recipe::Html(HtmlRecipe {
            item: Pick::parse(&self.item)?,
            title: Pick::parse(&self.title)?,
            link: Pick::parse(&self.link)?,
            date: optional(&self.date)?,
            summary: optional(&self.summary)?,
            content: None,
            author: None,
            image: None,
        }))
    }
}

/// Ranked suggestions for reading the entries of `html`, best first (possibly none).
pub fn suggest_html(html: &str) -> Vec<HtmlSuggestion> {
    let document = Document::from(within_depth(html).as_ref());
    let index = Index::build(&document);
    let mut groups = index.sibling_groups();
    groups.sort_by(|a, b| b.1.total_cmp(&a.1));
    groups.truncate(MAX_GROUPS);

    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    let mut candidates: Vec<(HtmlSuggestion, HashSet<usize>)> = Vec::new();
    for (members, _) in groups {
        let Some((item, items)) = index.item_selector(&members) else {
            continue;
        };
        if !seen.insert(items.clone()) {
            continue;
        }
        if let Some(suggestion) = index.suggestion(item, &items) {
            candidates.push((suggestion, items.into_iter().collect()));
        }
    }
    candidates.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
    // One suggestion per list: a better-ranked one sharing most items with this one is it.
    let mut kept: Vec<(HtmlSuggestion, HashSet<usize>)> = Vec::new();
    for (suggestion, items) in candidates {
        let same_list = kept.iter().any(|(_, better)| {
            let shared = items.intersection(better).count();
            shared * 2 > items.len().min(better.len())
        });
        if !same_list {
            kept.push((suggestion, items));
        }
    }
    kept.into_iter().map(|(suggestion, _)| suggestion).collect()
}

/// One indexed element.
struct El<'a> {
    node: NodeRef<'a>,
    parent: Option<usize>,
    /// One past the index of its last indexed descendant.
    end: usize,
    tag: String,
    id: Option<String>,
    classes: Vec<String>,
    role: Option<String>,
    href: Option<String>,
    has_datetime: bool,
    children: Vec<usize>,
    /// Words of text in the subtree (scripts, styles and the like left out).
    words: usize,
    /// In navigation, header, footer, sidebar, comments and the like (itself or an ancestor).
    boilerplate: bool,
    /// In `main`, an `article`, or an element named main / content.
    main: bool,
}

impl El<'_> {
    fn is_heading(&self) -> bool {
        matches!(self.tag.as_str(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
            || self.role.as_deref() == Some("heading")
    }

    /// An `a` with an `href` that leads somewhere else than this page.
    fn is_link(&self) -> bool {
        self.tag == "a" && self.href.as_deref().is_some_and(leads_away)
    }

    fn usable_classes(&self) -> impl Iterator<Item = &str> {
        self.classes
            .iter()
            .map(String::as_str)
            .filter(|class| usable_class(class))
    }

    fn usable_id(&self) -> Option<&str> {
        self.id.as_deref().filter(|id| usable_class(id))
    }
}

/// Subtrees not worth indexing: no entry text in them.
const SKIPPED: &[&str] = &[
    "head", "script", "style", "noscript", "template", "svg", "math", "select", "textarea",
    "iframe", "object", "canvas",
];

/// Tags that say little about what they hold: their classes say more.
const GENERIC: &[&str] = &[
    "div", "span", "a", "p", "li", "ul", "ol", "section", "article", "header", "footer", "main",
    "aside", "figure", "b", "i", "em", "strong", "td", "tr", "font", "center",
];

/// Tags that are not entries even when repeated.
const NOT_ITEMS: &[&str] = &[
    "td", "th", "option", "br", "hr", "img", "input", "button", "meta", "link", "source", "track",
    "col", "colgroup", "thead", "tbody", "tfoot", "wbr", "path", "label", "body", "html", "head",
    "picture", "audio", "video",
];

struct Index<'a> {
    els: Vec<El<'a>>,
    ids: HashMap<String, usize>,
    by_tag: HashMap<String, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn build(document: &'a Document) -> Index<'a> {
        let mut els: Vec<El<'a>> = Vec::new();
        let mut own_words: Vec<usize> = Vec::new();
        // (node, parent index, depth); children pushed in reverse for document order.
        let mut stack: Vec<(NodeRef<'a>, Option<usize>, usize)> = document
            .root()
            .element_children()
            .into_iter()
            .rev()
            .map(|node| (node, None, 0))
            .collect();
        while let Some((node, parent, depth)) = stack.pop() {
            if els.len() >= MAX_ELEMENTS {
                break;
            }
            let tag = node
                .node_name()
                .map(|name| name.to_ascii_lowercase())
                .unwrap_or_default();
            if SKIPPED.contains(&tag.as_str()) {
                continue;
            }
            let classes = node
                .class()
                .map(|class| class.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            let index = els.len();
            let (boilerplate, main) = match parent {
                Some(parent) => (els[parent].boilerplate, els[parent].main),
                None => (false, false),
            };
            let mut el = El {
                node,
                parent,
                end: index + 1,
                id: node.id_attr().map(|id| id.to_string()),
                classes,
                role: node.attr("role").map(|role| role.to_ascii_lowercase()),
                href: (tag == "a")
                    .then(|| node.attr("href").map(|href| href.trim().to_owned()))
                    .flatten(),
                has_datetime: node.has_attr("datetime"),
                tag,
                children: Vec::new(),
                words: 0,
                boilerplate,
                main,
            };
            if !matches!(el.tag.as_str(), "html" | "body") {
                el.boilerplate |= is_boilerplate(&el);
                el.main |= !el.boilerplate && is_main(&el);
            }
            own_words.push(
                node.children_it(false)
                    .filter(|child| child.is_text())
                    .map(|child| child.text().split_whitespace().count())
                    .sum(),
            );
            if let Some(parent) = parent {
                els[parent].children.push(index);
            }
            els.push(el);
            if depth < MAX_DEPTH {
                for child in node.element_children().into_iter().rev() {
                    stack.push((child, Some(index), depth + 1));
                }
            }
        }
        // Subtree sizes and words, children before parents.
        for index in (0..els.len()).rev() {
            els[index].words += own_words[index];
            if let Some(parent) = els[index].parent {
                let (end, words) = (els[index].end, els[index].words);
                let parent = &mut els[parent];
                parent.end = parent.end.max(end);
                parent.words += words;
            }
        }
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut by_tag: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, el) in els.iter().enumerate() {
            if let Some(id) = &el.id {
                *ids.entry(id.clone()).or_default() += 1;
            }
            by_tag.entry(el.tag.clone()).or_default().push(index);
        }
        Index { els, ids, by_tag }
    }

    fn descendants(&self, index: usize) -> std::ops::Range<usize> {
        index + 1..self.els[index].end
    }

    fn is_within(&self, index: usize, ancestor: usize) -> bool {
        index >= ancestor && index < self.els[ancestor].end
    }

    /// Groups of three or more siblings with the same tag and a shared class (or all the
    /// siblings with that tag), each with a first, cheap score.
    fn sibling_groups(&self) -> Vec<(Vec<usize>, f64)> {
        let mut groups: Vec<(Vec<usize>, f64)> = Vec::new();
        let mut seen: HashSet<Vec<usize>> = HashSet::new();
        for parent in &self.els {
            if parent.children.len() < 3 {
                continue;
            }
            let mut by_tag: HashMap<&str, Vec<usize>> = HashMap::new();
            for &child in &parent.children {
                let tag = self.els[child].tag.as_str();
                if !NOT_ITEMS.contains(&tag) {
                    by_tag.entry(tag).or_default().push(child);
                }
            }
            for siblings in by_tag.into_values().filter(|s| s.len() >= 3) {
                let mut clusters = vec![siblings.clone()];
                let mut class_count: HashMap<&str, usize> = HashMap::new();
                for &sibling in &siblings {
                    for class in self.els[sibling].usable_classes().take(MAX_CLASSES) {
                        *class_count.entry(class).or_default() += 1;
                    }
                }
                for (class, count) in class_count {
                    if count >= 3 && count < siblings.len() {
                        clusters.push(
                            siblings
                                .iter()
                                .copied()
                                .filter(|&s| self.els[s].classes.iter().any(|c| c == class))
                                .collect(),
                        );
                    }
                }
                for cluster in clusters {
                    if seen.insert(cluster.clone()) {
                        let score = self.rough_score(&cluster);
                        groups.push((cluster, score));
                    }
                }
            }
        }
        groups
    }

    /// From the index alone: repetition, a link in most, some text, not boilerplate.
    fn rough_score(&self, members: &[usize]) -> f64 {
        let n = members.len() as f64;
        let linked = members
            .iter()
            .filter(|&&m| {
                self.els[m].is_link() || self.descendants(m).any(|d| self.els[d].is_link())
            })
            .count() as f64;
        let words = members.iter().map(|&m| self.els[m].words).sum::<usize>() as f64 / n;
        let region = if self.els[members[0]].boilerplate {
            0.05
        } else {
            1.0
        };
        n.ln() * (0.2 + linked / n) * (1.0 + words.min(60.0).ln_1p()) * region
    }

    fn matches(&self, matcher: &Matcher, index: usize) -> bool {
        self.els[index].node.is_match(matcher)
    }

    /// Indexed elements with `tag` that `selector` matches.
    fn select(&self, selector: &str, tag: &str) -> Option<Vec<usize>> {
        let matcher = Matcher::new(selector).ok()?;
        Some(
            self.by_tag
                .get(tag)
                .map(|candidates| {
                    candidates
                        .iter()
                        .copied()
                        .filter(|&index| self.matches(&matcher, index))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// A selector for `members`, and what it matches: the members, and possibly more elements
    /// of the same kind elsewhere in the main content (a lead story above a grid of stories,
    /// the lists of two years under their headings). The simplest selector matching the most
    /// such elements and nothing else wins.
    fn item_selector(&self, members: &[usize]) -> Option<(String, Vec<usize>)> {
        let first = &self.els[members[0]];
        let tag = first.tag.as_str();
        let mut shared: Vec<&str> = first.usable_classes().take(MAX_CLASSES).collect();
        shared.retain(|class| {
            members[1..]
                .iter()
                .all(|&m| self.els[m].classes.iter().any(|c| c == class))
        });
        // Rarest classes first: the most telling.
        let class_frequency = |class: &str| {
            self.by_tag.get(tag).map_or(0, |all| {
                all.iter()
                    .filter(|&&i| self.els[i].classes.iter().any(|c| c == class))
                    .count()
            })
        };
        shared.sort_by_key(|class| class_frequency(class));

        let mut bases: Vec<String> = shared
            .iter()
            .map(|class| format!("{tag}.{class}"))
            .collect();
        if shared.len() > 1 {
            bases.push(format!("{tag}.{}", shared.join(".")));
        }
        let bare = tag.to_owned();
        let mut candidates: Vec<String> = bases.clone();
        bases.push(bare.clone());
        // Scoped by an ancestor with an id, a class, or a telling tag.
        let mut ancestor = first.parent;
        let mut level = 0;
        while let Some(a) = ancestor {
            let el = &self.els[a];
            if matches!(el.tag.as_str(), "body" | "html") || level >= 8 {
                break;
            }
            let mut anchors: Vec<String> = Vec::new();
            if let Some(id) = el.usable_id().filter(|id| self.ids.get(*id) == Some(&1)) {
                anchors.push(format!("#{id}"));
            }
            anchors.extend(
                el.usable_classes()
                    .take(MAX_CLASSES)
                    .map(|class| format!("{}.{class}", el.tag)),
            );
            if matches!(el.tag.as_str(), "main" | "article" | "table" | "dl" | "ol") {
                anchors.push(el.tag.clone());
            }
            for anchor in &anchors {
                for base in &bases {
                    if level == 0 {
                        candidates.push(format!("{anchor} > {base}"));
                    }
                    candidates.push(format!("{anchor} {base}"));
                }
            }
            // Items without a class of their own: by their parent first, then bare.
            if level == 0 && shared.is_empty() {
                candidates.push(bare.clone());
            }
            ancestor = el.parent;
            level += 1;
        }
        if !candidates.contains(&bare) {
            candidates.push(bare);
        }

        let typical = self.typical_signature(members);
        let group_tags = self.group_signature(members);
        // Lookalikes elsewhere join a group only from the main content, by a selector that
        // says more than a tag name, and when there is something to compare them by.
        let may_grow = !first.boilerplate && !typical.is_empty();
        // Bounded: elements matched against candidates, and extras looked at.
        let same_tag = self.by_tag.get(tag).map_or(0, Vec::len);
        let mut budget = 40 * MAX_ELEMENTS;
        let mut best: Option<(String, Vec<usize>)> = None;
        for candidate in candidates {
            if budget < same_tag {
                break;
            }
            budget -= same_tag;
            let Some(matched) = self.select(&candidate, tag) else {
                continue;
            };
            if matched.len() <= best.as_ref().map_or(0, |(_, m)| m.len())
                || !members.iter().all(|m| matched.binary_search(m).is_ok())
            {
                continue;
            }
            if budget < matched.len() * 20 {
                break;
            }
            budget -= matched.len() * 20;
            let nested = self.nested(&matched);
            let acceptable = matched.iter().enumerate().all(|(position, &extra)| {
                members.binary_search(&extra).is_ok()
                    || (may_grow
                        && candidate != tag
                        && !nested[position]
                        && self.fits(extra, &typical, &group_tags))
            });
            if acceptable {
                best = Some((candidate, matched));
            }
        }
        best
    }

    /// Whether `extra`, matched by a selector besides a group, is one more item like them.
    /// It has most of what the group's items typically have, and what it has is mostly found
    /// in the group's items too (by tag and class, or by tag alone).
    fn fits(&self, extra: usize, typical: &HashSet<String>, group: &HashSet<String>) -> bool {
        let el = &self.els[extra];
        if el.boilerplate
            || !el.is_link() && !self.descendants(extra).any(|d| self.els[d].is_link())
        {
            return false;
        }
        let signature = self.signature(extra);
        let covers = typical.iter().filter(|s| signature.contains(*s)).count();
        if (covers as f64) < 0.6 * typical.len() as f64 {
            return false;
        }
        let known = signature.iter().filter(|s| group.contains(*s)).count();
        let tags: HashSet<&str> = signature
            .iter()
            .filter(|s| !s.contains('.'))
            .map(String::as_str)
            .collect();
        let known_tags = tags.iter().filter(|tag| group.contains(**tag)).count();
        let fraction = |part: usize, whole: usize| part as f64 / whole.max(1) as f64;
        fraction(known, signature.len()).max(fraction(known_tags, tags.len())) >= 0.5
    }

    /// Everything found below any of the members.
    fn group_signature(&self, members: &[usize]) -> HashSet<String> {
        members
            .iter()
            .take(MAX_SAMPLE)
            .flat_map(|&m| self.signature(m))
            .collect()
    }

    /// For each of `matched` (in document order), whether it is nested in another one or
    /// holds another one.
    fn nested(&self, matched: &[usize]) -> Vec<bool> {
        let mut nested = vec![false; matched.len()];
        let mut open: Vec<usize> = Vec::new(); // positions whose subtree is still open
        for (position, &index) in matched.iter().enumerate() {
            while open
                .last()
                .is_some_and(|&p| self.els[matched[p]].end <= index)
            {
                open.pop();
            }
            if !open.is_empty() {
                nested[position] = true;
                for &outer in &open {
                    nested[outer] = true;
                }
            }
            open.push(position);
        }
        nested
    }

    /// The tags and tag.classes found below an element (a bounded number of them).
    fn signature(&self, index: usize) -> HashSet<String> {
        let mut signature = HashSet::new();
        for d in self.descendants(index).take(200) {
            let el = &self.els[d];
            signature.insert(el.tag.clone());
            for class in el.usable_classes().take(MAX_CLASSES) {
                signature.insert(format!("{}.{class}", el.tag));
            }
        }
        signature
    }

    /// What at least half the members have below them.
    fn typical_signature(&self, members: &[usize]) -> HashSet<String> {
        let mut count: HashMap<String, usize> = HashMap::new();
        for &m in members.iter().take(MAX_SAMPLE) {
            for s in self.signature(m) {
                *count.entry(s).or_default() += 1;
            }
        }
        let half = members.len().min(MAX_SAMPLE).div_ceil(2);
        count
            .into_iter()
            .filter(|(_, c)| *c >= half)
            .map(|(s, _)| s)
            .collect()
    }

    /// What an item holds: its main link, its heading, its title element.
    fn read_item(&self, item: usize) -> ItemReading {
        let el = &self.els[item];
        let heading = std::iter::once(item)
            .filter(|&i| self.els[i].is_heading())
            .chain(self.descendants(item).filter(|&d| self.els[d].is_heading()))
            .find(|&h| self.els[h].words > 0);
        if el.is_link() {
            let inner_heading = heading.filter(|&h| h != item);
            let title_words = inner_heading.map_or(el.words, |h| self.els[h].words);
            return ItemReading {
                link: Some(item),
                title: inner_heading.unwrap_or(item),
                title_words,
                ambiguous: false,
                in_heading: inner_heading.is_some(),
            };
        }
        let mut scored: Vec<(usize, f64)> = Vec::new();
        for (position, link) in self
            .descendants(item)
            .filter(|&d| self.els[d].is_link())
            .enumerate()
        {
            scored.push((link, self.link_score(item, link, position)));
        }
        let Some(&(main, main_score)) =
            scored
                .iter()
                .fold(None, |best: Option<&(usize, f64)>, candidate| match best {
                    Some(best) if best.1 >= candidate.1 => Some(best),
                    _ => Some(candidate),
                })
        else {
            return ItemReading {
                link: None,
                title: heading.unwrap_or(item),
                title_words: heading.map_or(0, |h| self.els[h].words),
                ambiguous: false,
                in_heading: false,
            };
        };
        let main_href = self.els[main].href.as_deref();
        let ambiguous = scored.iter().any(|&(other, score)| {
            self.els[other].href.as_deref() != main_href
                && self.els[other].words >= 2
                && score >= main_score * 0.75
        });
        let heading_inside = self.descendants(main).find(|&d| self.els[d].is_heading());
        let link_in_heading = self.heading_between(item, main);
        let (title, in_heading) = if let Some(h) = heading_inside {
            (h, true)
        } else if self.els[main].words > 0 {
            (main, link_in_heading)
        } else {
            (heading.unwrap_or(item), heading.is_some())
        };
        ItemReading {
            link: Some(main),
            title,
            title_words: if title == item {
                0
            } else {
                self.els[title].words
            },
            ambiguous,
            in_heading,
        }
    }

    /// Whether a heading holds `index` (itself included), up to the item.
    fn heading_between(&self, item: usize, index: usize) -> bool {
        let mut current = Some(index);
        while let Some(i) = current {
            if self.els[i].is_heading() {
                return true;
            }
            if i == item {
                break;
            }
            current = self.els[i].parent;
        }
        false
    }

    /// How much a link inside an item looks like the item's own link.
    fn link_score(&self, item: usize, link: usize, position: usize) -> f64 {
        let el = &self.els[link];
        let mut score = el.words.min(12) as f64;
        if self.heading_between(item, link)
            || self.descendants(link).any(|d| self.els[d].is_heading())
        {
            score += 5.0;
        }
        if el.classes.iter().any(|class| {
            let class = class.to_ascii_lowercase();
            ["title", "headline", "heading", "primary", "permalink"]
                .iter()
                .any(|word| class.contains(word))
        }) {
            score += 3.0;
        }
        // Inside running text (a paragraph, a list of notes): a mention, not the item's link.
        let mut current = el.parent;
        while let Some(i) = current {
            if i == item {
                break;
            }
            if matches!(self.els[i].tag.as_str(), "p" | "li" | "blockquote") {
                score -= 4.0;
                break;
            }
            current = self.els[i].parent;
        }
        let text_start = el.node.text();
        let text_start = text_start.trim_start();
        if text_start.starts_with('#') || text_start.starts_with('@') {
            score -= 2.0;
        }
        if el.words == 0 {
            score -= 1.0;
        }
        if position == 0 {
            score += 0.5;
        }
        score
    }

    /// The full suggestion for an item selector and the items it matches.
    fn suggestion(&self, item: String, items: &[usize]) -> Option<HtmlSuggestion> {
        let sample: Vec<usize> = items.iter().copied().take(MAX_SAMPLE).collect();
        let readings: Vec<ItemReading> = sample.iter().map(|&i| self.read_item(i)).collect();
        let n = sample.len() as f64;

        // Score.
        let linked = readings
            .iter()
            .filter(|r| r.link.is_some() && !r.ambiguous)
            .count() as f64
            / n;
        let mut title_words: Vec<usize> = readings.iter().map(|r| r.title_words).collect();
        title_words.sort_unstable();
        let title_words = title_words[title_words.len() / 2] as f64;
        let headed = readings.iter().filter(|r| r.in_heading).count() as f64 / n;
        let mut title_score = title_words.min(8.0) / 8.0;
        if headed >= 0.5 {
            title_score = title_score.max(0.6);
        }
        let mut words: Vec<usize> = sample.iter().map(|&i| self.els[i].words).collect();
        words.sort_unstable();
        let words = words[words.len() / 2] as f64;
        let text_score = words.min(200.0).ln_1p() / 201f64.ln();
        let boilerplate = sample.iter().filter(|&&i| self.els[i].boilerplate).count() as f64 / n;
        let main = sample.iter().filter(|&&i| self.els[i].main).count() as f64 / n;
        let position = items[0] as f64 / self.els.len().max(1) as f64;
        let mut region = 1.0 + 0.3 * main;
        if boilerplate >= 0.5 {
            region *= 0.05;
        }
        if !(0.05..=0.95).contains(&position) {
            region *= 0.8;
        }
        let repetition = (items.len().min(100) as f64).ln();
        let score = repetition * (0.5 + linked) * (0.3 + title_score + 0.5 * text_score) * region;

        // Selectors.
        let links: Vec<Option<usize>> = readings.iter().map(|r| r.link).collect();
        let link = self.relative_selector(&sample, &links)?;
        let titles: Vec<Option<usize>> = readings.iter().map(|r| Some(r.title)).collect();
        let title = if titles == links {
            link.clone()
        } else {
            self.relative_selector(&sample, &titles)?
        };
        let (date, date_attribute) = self.date(&sample, &readings);
        let summary = self.summary(&sample, &readings);
        Some(HtmlSuggestion {
            item,
            title,
            link: format!("{link}@href"),
            date: date.map(|date| match date_attribute {
                true => format!("{date}@datetime"),
                false => date,
            }),
            summary,
            score,
            items: items.len(),
        })
    }

    /// The simplest item-relative selector whose first match is, in most items, the wanted
    /// element (`None` in an item: that item has none). `""` is the item itself.
    fn relative_selector(&self, items: &[usize], wanted: &[Option<usize>]) -> Option<String> {
        let present = wanted.iter().filter(|w| w.is_some()).count();
        if present == 0 {
            return None;
        }
        if wanted
            .iter()
            .zip(items)
            .filter(|(w, _)| w.is_some())
            .all(|(w, i)| *w == Some(*i))
        {
            return Some(String::new());
        }
        let mut candidates: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for (&item, target) in items.iter().zip(wanted) {
            let Some(target) = *target else { continue };
            if target == item {
                continue;
            }
            for candidate in self.relative_candidates(item, target) {
                if seen.insert(candidate.clone()) {
                    candidates.push(candidate);
                }
            }
            if candidates.len() >= MAX_RELATIVE {
                candidates.truncate(MAX_RELATIVE);
                break;
            }
        }
        let mut best: Option<(String, usize, usize)> = None;
        for candidate in candidates {
            let Ok(matcher) = Matcher::new(&candidate) else {
                continue;
            };
            let (mut hits, mut wrong) = (0, 0);
            for (&item, target) in items.iter().zip(wanted) {
                let found = self.descendants(item).find(|&d| self.matches(&matcher, d));
                match (found, target) {
                    (Some(found), Some(target)) if found == *target => hits += 1,
                    (Some(_), _) => wrong += 1,
                    (None, _) => {}
                }
            }
            let better = match &best {
                None => true,
                Some((_, best_hits, best_wrong)) => {
                    hits > *best_hits || (hits == *best_hits && wrong < *best_wrong)
                }
            };
            if better {
                best = Some((candidate, hits, wrong));
            }
        }
        let (selector, hits, _) = best?;
        (hits * 2 >= present).then_some(selector)
    }

    /// Selectors that may pick `target` inside `item`, simplest first: `tag.class`, `.class`,
    /// `tag`, then with the parent or grandparent in front.
    fn relative_candidates(&self, item: usize, target: usize) -> Vec<String> {
        let el = &self.els[target];
        let mut own: Vec<String> = Vec::new();
        // A tag that says what it holds (`time`, `h2`, `dt`) before its classes.
        if !GENERIC.contains(&el.tag.as_str()) {
            own.push(el.tag.clone());
        }
        for class in el.usable_classes().take(MAX_CLASSES) {
            own.push(format!("{}.{class}", el.tag));
        }
        for class in el.usable_classes().take(MAX_CLASSES) {
            own.push(format!(".{class}"));
        }
        if GENERIC.contains(&el.tag.as_str()) {
            own.push(el.tag.clone());
        }
        let mut candidates = own.clone();
        let mut ancestor = el.parent;
        for _ in 0..2 {
            let Some(a) = ancestor.filter(|&a| a != item && self.is_within(a, item)) else {
                break;
            };
            let parent = &self.els[a];
            let mut fronts: Vec<String> = parent
                .usable_classes()
                .take(MAX_CLASSES)
                .map(|class| format!("{}.{class}", parent.tag))
                .collect();
            fronts.extend(
                parent
                    .usable_classes()
                    .take(MAX_CLASSES)
                    .map(|class| format!(".{class}")),
            );
            fronts.push(parent.tag.clone());
            for front in &fronts {
                for own in &own {
                    candidates.push(format!("{front} {own}"));
                }
            }
            ancestor = parent.parent;
        }
        candidates
    }

    /// The date: `<time datetime>` (or `relative-time`) in most items, else an element named
    /// for a date, else an element whose text reads as a date. The flag: read `datetime`.
    fn date(&self, items: &[usize], readings: &[ItemReading]) -> (Option<String>, bool) {
        let half = items.len().div_ceil(2);
        let timed: Vec<Option<usize>> = items
            .iter()
            .map(|&i| {
                self.descendants(i)
                    .find(|&d| self.els[d].has_datetime && self.els[d].tag.contains("time"))
            })
            .collect();
        if timed.iter().filter(|t| t.is_some()).count() >= half
            && let Some(selector) = self.relative_selector(items, &timed)
        {
            return (Some(selector), true);
        }
        let named: Vec<Option<usize>> = items
            .iter()
            .zip(readings)
            .map(|(&i, reading)| {
                self.descendants(i).find(|&d| {
                    let el = &self.els[d];
                    d != reading.title
                        && el.words > 0
                        && el.words <= 8
                        && !el.is_link()
                        && el.classes.iter().chain(el.id.iter()).any(|name| {
                            let name = name.to_ascii_lowercase();
                            ["date", "time", "published", "posted", "ago"]
                                .iter()
                                .any(|word| name.contains(word))
                        })
                })
            })
            .collect();
        if named.iter().filter(|t| t.is_some()).count() >= half
            && let Some(selector) = self.relative_selector(items, &named)
        {
            return (Some(selector), false);
        }
        let dated: Vec<Option<usize>> = items
            .iter()
            .map(|&i| {
                self.descendants(i).find(|&d| {
                    let el = &self.els[d];
                    (1..=6).contains(&el.words)
                        && el.children.is_empty()
                        && parse_date(&collapse_whitespace(&el.node.text())).is_some()
                })
            })
            .collect();
        if dated.iter().filter(|t| t.is_some()).count() >= half
            && let Some(selector) = self.relative_selector(items, &dated)
        {
            return (Some(selector), false);
        }
        (None, false)
    }

    /// The summary: the longest paragraph-like element (a `p`, or one named excerpt, summary,
    /// description, content...) that is not the title, in most items.
    fn summary(&self, items: &[usize], readings: &[ItemReading]) -> Option<String> {
        const NAMES: &[&str] = &[
            "excerpt",
            "summary",
            "description",
            "teaser",
            "standfirst",
            "dek",
            "lede",
            "intro",
            "content",
            "body",
            "text",
            "abstract",
        ];
        let longest: Vec<Option<usize>> = items
            .iter()
            .zip(readings)
            .map(|(&i, reading)| {
                self.descendants(i)
                    .filter(|&d| {
                        let el = &self.els[d];
                        let named = el.classes.iter().any(|class| {
                            let class = class.to_ascii_lowercase();
                            NAMES.iter().any(|name| class.contains(name))
                        });
                        (el.tag == "p" || named)
                            && el.words >= 5
                            && d != reading.title
                            && !self.is_within(reading.title, d)
                            && !self.is_within(d, reading.title)
                            && reading.link.is_none_or(|link| !self.is_within(link, d))
                    })
                    .fold(None, |best: Option<usize>, d| match best {
                        Some(b) if self.els[b].words >= self.els[d].words => Some(b),
                        _ => Some(d),
                    })
            })
            .collect();
        if longest.iter().filter(|l| l.is_some()).count() * 2 < items.len() {
            return None;
        }
        self.relative_selector(items, &longest)
    }
}

/// What `Index::read_item` found in one item.
struct ItemReading {
    link: Option<usize>,
    /// The element whose text is the title (the item itself if nothing better).
    title: usize,
    title_words: usize,
    /// Another link as likely as the main one.
    ambiguous: bool,
    /// The title is (in) a heading.
    in_heading: bool,
}

/// Navigation, headers, footers, sidebars, comments, pagination and the like.
fn is_boilerplate(el: &El) -> bool {
    if matches!(
        el.tag.as_str(),
        "nav" | "footer" | "header" | "aside" | "menu"
    ) {
        return true;
    }
    if el.role.as_deref().is_some_and(|role| {
        matches!(
            role,
            "navigation" | "contentinfo" | "banner" | "complementary" | "menu" | "menubar"
        )
    }) {
        return true;
    }
    const WORDS: &[&str] = &[
        "nav",
        "menu",
        "footer",
        "sidebar",
        "widget",
        "comment",
        "breadcrumb",
        "pagination",
        "pager",
        "social",
        "share",
        "sharing",
        "tagcloud",
        "cookie",
        "consent",
    ];
    el.classes.iter().chain(el.id.iter()).any(|name| {
        let name = name.to_ascii_lowercase();
        let tokens: Vec<&str> = name
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|token| !token.is_empty())
            .collect();
        tokens
            .iter()
            .any(|token| WORDS.iter().any(|word| token.starts_with(word)))
            || tokens.windows(2).any(|pair| pair == ["tag", "cloud"])
    })
}

/// The page's main content: `main`, an `article`, or something named main or content.
fn is_main(el: &El) -> bool {
    if matches!(el.tag.as_str(), "main" | "article") || el.role.as_deref() == Some("main") {
        return true;
    }
    el.classes.iter().chain(el.id.iter()).any(|name| {
        name.to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|token| token == "main" || token == "content")
    })
}

/// An `href` that is not a jump within the page nor a script, mail or phone link.
fn leads_away(href: &str) -> bool {
    let lower = href.trim().to_ascii_lowercase();
    !(lower.is_empty()
        || lower.starts_with('#')
        || lower.starts_with("javascript:")
        || lower.starts_with("mailto:")
        || lower.starts_with("tel:")
        || lower.starts_with("data:"))
}

/// A class or id that can be written as is in a selector and looks stable: an identifier,
/// not a state (`active`, `is-open`), not a number-bearing one-off (`post-412`), not a
/// build hash (`docItemCol_VOVn`).
fn usable_class(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '_' || first == '-')
        || name.len() > 40
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || name.starts_with("--")
        || name.starts_with("-") && name[1..].starts_with(|c: char| c.is_ascii_digit())
    {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "active"
            | "current"
            | "selected"
            | "open"
            | "hidden"
            | "visible"
            | "show"
            | "first"
            | "last"
            | "odd"
            | "even"
            | "clearfix"
    ) || lower.starts_with("is-")
        || lower.starts_with("has-")
    {
        return false;
    }
    // Three digits in a row: an id baked into the name.
    let mut run = 0;
    for c in name.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 3 {
            return false;
        }
    }
    // A CSS-modules hash suffix: `_` and 4 to 6 mixed-case letters and digits.
    if let Some((_, suffix)) = name.rsplit_once('_')
        && (4..=6).contains(&suffix.len())
        && suffix.chars().any(|c| c.is_ascii_uppercase())
        && suffix
            .chars()
            .any(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && suffix.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return false;
    }
    // A long run of hex: generated.
    let hexish = name.split(['-', '_']).any(|part| {
        part.len() >= 6
            && part.chars().any(|c| c.is_ascii_digit())
            && part.chars().all(|c| c.is_ascii_hexdigit())
    });
    !hexish
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(html: &str) -> HtmlSuggestion {
        suggest_html(html).into_iter().next().expect("a suggestion")
    }

    #[test]
    fn posts_win_over_the_navigation() {
        let html = r#"<html><body>
            <nav><ul>
              <li><a href="/">Home</a></li><li><a href="/about">About</a></li>
              <li><a href="/archive">Archive</a></li><li><a href="/contact">Contact</a></li>
              <li><a href="/tags">Tags</a></li>
            </ul></nav>
            <main><div class="posts">
              <div class="post"><h2><a href="/p/1">The first post of the year</a></h2><p>Some words about the first post, long enough.</p></div>
              <div class="post"><h2><a href="/p/2">A second post about gardens</a></h2><p>Some words about the second post, long enough.</p></div>
              <div class="post"><h2><a href="/p/3">Third: the compost heap</a></h2><p>Some words about the third post, long enough.</p></div>
            </div></main>
            </body></html>"#;
        let suggestion = top(html);
        assert_eq!(suggestion.item, "div.post");
        assert_eq!(suggestion.title, "a");
        assert_eq!(suggestion.link, "a@href");
        assert_eq!(suggestion.summary.as_deref(), Some("p"));
        assert_eq!(suggestion.items, 3);
    }

    #[test]
    fn a_comment_list_is_not_picked() {
        let html = r#"<html><body><main>
            <article><h1>A post</h1><p>The post's text goes here and on.</p></article>
            <section class="related"><h2>Related</h2><ul>
              <li><a href="/r/1">Winter pruning for beginners</a></li>
              <li><a href="/r/2">What to sow in February</a></li>
              <li><a href="/r/3">A cheap cold frame from old windows</a></li>
            </ul></section>
            <div id="comments"><ol class="comment-list">
              <li class="comment"><a href="https://ann.example">Ann</a> <p>I tried this last year and the results were wonderful, thank you for writing it up in such detail.</p> <a href="/post#c1">reply</a></li>
              <li class="comment"><a href="https://bob.example">Bob</a> <p>Does this work for clay soil as well? Ours is heavy and wet most of the winter months.</p> <a href="/post#c2">reply</a></li>
              <li class="comment"><a href="https://cy.example">Cy</a> <p>Great photos. Which camera do you use for the close-ups of the seedlings and the frames?</p> <a href="/post#c3">reply</a></li>
              <li class="comment"><a href="https://di.example">Di</a> <p>We did the same with pallets and it lasted three years before the wood gave up, worth it.</p> <a href="/post#c4">reply</a></li>
            </ol></div>
            </main></body></html>"#;
        let suggestion = top(html);
        assert_eq!(suggestion.item, "section.related li");
        assert_eq!(suggestion.link, "a@href");
    }

    #[test]
    fn cards_that_are_links_read_their_own_href() {
        let html = r#"<html><body><main><div class="grid">
            <a class="card" href="/p/mug"><img src="m.jpg"><h3>Blue mug</h3><span class="price">$12</span></a>
            <a class="card" href="/p/bowl"><img src="b.jpg"><h3>Small bowl</h3><span class="price">$15</span></a>
            <a class="card" href="/p/jar"><img src="j.jpg"><h3>Storage jar</h3><span class="price">$22</span></a>
            <a class="card" href="/p/pot"><img src="p.jpg"><h3>Tea pot</h3><span class="price">$40</span></a>
            </div></main></body></html>"#;
        let suggestion = top(html);
        assert_eq!(suggestion.item, "a.card");
        assert_eq!(suggestion.title, "h3");
        assert_eq!(suggestion.link, "@href");
        assert_eq!(suggestion.items, 4);
    }

    #[test]
    fn a_date_is_read_from_time_elements() {
        let html = r#"<html><body><main><ul class="news">
            <li><a href="/1">One piece of news today</a> <time datetime="2026-01-01">Jan 1</time></li>
            <li><a href="/2">Another piece of news</a> <time datetime="2026-01-02">Jan 2</time></li>
            <li><a href="/3">Yet more news arrives</a> <time datetime="2026-01-03">Jan 3</time></li>
            </ul></main></body></html>"#;
        let suggestion = top(html);
        assert_eq!(suggestion.item, "ul.news > li");
        assert_eq!(suggestion.date.as_deref(), Some("time@datetime"));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 100_000;
        let mut html = String::with_capacity(depth * 11 + 200);
        html.push_str("<html><body>");
        for _ in 0..depth {
            html.push_str("<div>");
        }
        html.push_str("<ul><li><a href='/a'>one two three</a></li><li><a href='/b'>four five six</a></li><li><a href='/c'>seven eight nine</a></li></ul>");
        for _ in 0..depth {
            html.push_str("</div>");
        }
        html.push_str("</body></html>");
        // Beyond the depth bound: nothing to suggest, and no crash.
        let suggestions = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || suggest_html(&html))
            .expect("a thread")
            .join()
            .expect("no panic");
        assert!(suggestions.is_empty());
    }

    #[test]
    fn many_classes_are_bounded() {
        let classes: Vec<String> = (0..500).map(|i| format!("c{i}x")).collect();
        let mut html = format!(
            "<html><body><main class='{}'><div class='{}'>",
            classes.join(" "),
            classes.join(" ")
        );
        for i in 0..300 {
            html.push_str(&format!(
                "<div class='{}'><a href='/{i}'>entry number {i} here</a></div>",
                classes.join(" ")
            ));
        }
        html.push_str("</div></main></body></html>");
        assert_eq!(suggest_html(&html)[0].items, 300);
    }

    #[test]
    fn wide_pages_are_bounded() {
        let mut html = String::from("<html><body><main><ul class='big'>");
        for i in 0..80_000 {
            html.push_str(&format!("<li><a href='/{i}'>entry number {i}</a></li>"));
        }
        html.push_str("</ul></main></body></html>");
        let suggestions = suggest_html(&html);
        assert!(suggestions[0].items <= MAX_ELEMENTS);
    }

    #[test]
    fn class_names_that_do_not_make_good_selectors() {
        assert!(usable_class("entry-title"));
        assert!(usable_class("Link--primary"));
        assert!(usable_class("story__headline"));
        assert!(!usable_class("post-412"));
        assert!(!usable_class("docItemCol_VOVn"));
        assert!(!usable_class("md:flex"));
        assert!(!usable_class("9col"));
        assert!(!usable_class("active"));
        assert!(!usable_class("hd-9f1c2a10"));
    }
}

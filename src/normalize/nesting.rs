//! How deep HTML nests, counted about as a browser's tree builder nests it, and a bound on it.
//!
//! html5ever's tree builder looks through the open elements at each tag, so markup of nothing
//! but start tags costs the square of its length: seconds for tens of thousands of `<div>`s,
//! hours for the 10 MiB a document may have. Browsers stop nesting at 512 (Chromium), and so
//! do we, before any tree is built: an entry's body nested deeper is kept as its text
//! (`sanitize`), and a whole page (a page source, an article) loses the start tags past the
//! limit, whose content Chromium too adds beside rather than inside.

use std::borrow::Cow;
use std::ops::Range;

use super::markup::{Token, Tokens};
use super::text::is_unreadable;

/// The deepest nesting a tree is built for.
pub const MAX_DEPTH: usize = 512;

/// Elements that never hold others (void elements), or are closed by the next of their kind
/// (a paragraph, a list item, a table cell): neither deepens the tree.
const NOT_NESTING: [&str; 32] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "rb", "rp", "rt", "rtc", "optgroup", "option",
    "colgroup", "caption", "thead", "tbody", "tfoot", "tr", "td", "th",
];

/// What a tag does to the depth.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    Deeper,
    Shallower,
    Level,
}

/// Reads the tags of `html` in order: where each is, and what it does to the depth.
pub(super) fn tags(html: &str) -> impl Iterator<Item = (Range<usize>, Step)> {
    let mut tokens = Tokens::new(html);
    std::iter::from_fn(move || {
        loop {
            let start = html.len() - tokens.unread().len();
            let Token::Tag(tag) = tokens.next()? else {
                continue;
            };
            // `<div/>` opens a `div` all the same: HTML ignores the slash but on void elements.
            let step = if NOT_NESTING.iter().any(|name| tag.is(name)) {
                Step::Level
            } else if tag.end {
                Step::Shallower
            } else if is_unreadable(tag.name) {
                // Its content is no markup: it opens and closes at once.
                tokens.skip_raw_text(tag.name);
                Step::Level
            } else {
                Step::Deeper
            };
            let end = html.len() - tokens.unread().len();
            return Some((start..end, step));
        }
    })
}

/// `html` with the start tags that would nest deeper than `MAX_DEPTH` left out, and as many
/// end tags after them, so that the content stays and no tree goes deeper. Borrowed, as almost
/// every page is, when nothing is left out.
pub fn within_depth(html: &str) -> Cow<'_, str> {
    let mut kept = String::new();
    let mut copied_to = 0;
    let (mut depth, mut left_open) = (0usize, 0usize);
    for (tag, step) in tags(html) {
        let leave_out = match step {
            Step::Deeper if depth == MAX_DEPTH => {
                left_open += 1;
                true
            }
            Step::Deeper => {
                depth += 1;
                false
            }
            Step::Shallower if left_open > 0 => {
                left_open -= 1;
                true
            }
            Step::Shallower => {
                depth = depth.saturating_sub(1);
                false
            }
            Step::Level => false,
        };
        if leave_out {
            kept.push_str(&html[copied_to..tag.start]);
            copied_to = tag.end;
        }
    }
    if copied_to == 0 {
        return Cow::Borrowed(html);
    }
    kept.push_str(&html[copied_to..]);
    Cow::Owned(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_nested_no_deeper_than_browsers_nest_are_kept_as_they_are() {
        let page = format!(
            "<html><body>{}<ul><li>a<li>b</ul><p>x<p>y<br><img src=i><script>if (a<b) {{}}</script>{}</body></html>",
            "<div>".repeat(MAX_DEPTH - 3),
            "</div>".repeat(MAX_DEPTH - 3)
        );
        assert!(matches!(within_depth(&page), Cow::Borrowed(_)));
        assert!(matches!(
            within_depth(&"<p>x".repeat(5_000)),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn deeper_start_tags_and_their_end_tags_are_left_out_and_the_content_kept() {
        let page = format!(
            "{}<span class=x>deep</span>{}<a>after</a>",
            "<div>".repeat(MAX_DEPTH + 100),
            "</div>".repeat(MAX_DEPTH + 100)
        );
        let kept = within_depth(&page);
        assert_eq!(kept.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(kept.matches("</div>").count(), MAX_DEPTH);
        assert!(
            kept.contains("deep</div>"),
            "the span left out, its text kept"
        );
        assert!(kept.ends_with("</div><a>after</a>"));
        let depth = tags(&kept).fold((0usize, 0usize), |(depth, deepest), (_, step)| {
            let depth = match step {
                Step::Deeper => depth + 1,
                Step::Shallower => depth - 1,
                Step::Level => depth,
            };
            (depth, deepest.max(depth))
        });
        assert_eq!(depth, (0, MAX_DEPTH));
    }
}

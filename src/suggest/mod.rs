//! Suggesting how to read a page that has no feed: given an HTML page (or a JSON API
//! response), propose the recipes a `html:` (or JSON) page source could use, best first.
//!
//! A person writing a page source otherwise has to open the page's markup, find the list of
//! entries among the menus, sidebars and footers, and write CSS selectors that pick exactly
//! those entries. `html::suggest_html` does that search: it finds repeated sibling structures
//! (same tag, similar classes, three or more), leaves out the ones in navigation, footers,
//! sidebars and comment lists, ranks the rest by repetition, a main link per item, text and
//! position, and for each writes an `item` selector checked against the page to match that
//! list and nothing else, then the item-relative `title`, `link`, `date` and `summary`
//! selectors. `json::suggest_json` does the same for JSON: arrays of objects, and the fields
//! that look like a title, a link, a date and a content, as RFC 9535 JSONPath.
//!
//! Nothing here fetches or stores anything, and nothing here reads a page by its recipe: that
//! is the page source reader's. The two agree on the recipe's conventions:
//!
//! - an item-relative selector is a CSS selector matched against the item's descendants, the
//!   first match in document order being the one used;
//! - an optional `@name` suffix takes that attribute instead of the element's text;
//! - an empty CSS part means the item itself: `@href` is the item's own link (items that are
//!   `<a class="card">`), and `""` as a title is the item's own text.
//!
//! Both walks are bounded (elements examined, depth, JSON values visited), so a hostile page
//! gives fewer suggestions, not an overflowed stack or a long stall.

mod html;
mod json;

pub use html::{HtmlSuggestion, suggest_html};
pub use json::{JsonSuggestion, suggest_json};

//! What the reader repaired in a document, with where: the report behind `tributary parse`'s
//! `"repairs"` and the per-source flag on `/status` (feedparser calls such a document "bozo").
//!
//! A feed that a forgiving reader can make sense of is read, not refused; but its publisher, and
//! whoever debugs a source, should see what was guessed. Repairs are noted by byte offset while
//! reading, and turned into line and column once, at the end.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

/// At most this many repairs are listed one by one; the rest are only counted. A hostile
/// document can hold millions of bare ampersands.
const LISTED: usize = 100;
/// Past this many, repairs are counted without checking for one noted twice: the count of a
/// hostile document may then be high, but its memory stays bounded.
const REMEMBERED: usize = 100_000;

/// One repair: what was done, at which line and column (both from 1, columns in characters) of
/// the decoded document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repair {
    pub what: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}:{}", self.what, self.line, self.column)
    }
}

/// The repairs of one document, as they are noted.
#[derive(Debug, Default)]
pub struct Repairs {
    noted: Vec<(usize, String)>,
    /// Offsets already noted: a value read twice (an attribute looked up by two rules) is one
    /// repair.
    seen: HashSet<usize>,
    not_listed: usize,
}

impl Repairs {
    /// Notes a repair at byte offset `at`; `what` is only called when it is listed.
    pub fn note(&mut self, at: usize, what: impl FnOnce() -> String) {
        if self.seen.len() < REMEMBERED && !self.seen.insert(at) {
            return;
        }
        if self.noted.len() < LISTED {
            self.noted.push((at, what()));
        } else {
            self.not_listed += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.noted.is_empty()
    }

    /// The repairs in document order with their positions in `text`, and how many more there
    /// were.
    pub fn finish(mut self, text: &str) -> (Vec<Repair>, usize) {
        self.noted.sort_by_key(|(at, _)| *at);
        let mut line = 1;
        let mut line_start = 0;
        let mut counted_to = 0;
        let repairs = self
            .noted
            .into_iter()
            .map(|(at, what)| {
                let at = text.floor_char_boundary(at.min(text.len()));
                for newline in memchr::memchr_iter(b'\n', &text.as_bytes()[counted_to..at]) {
                    line += 1;
                    line_start = counted_to + newline + 1;
                }
                counted_to = at;
                Repair {
                    what,
                    line,
                    column: text[line_start..at].chars().count() + 1,
                }
            })
            .collect();
        (repairs, self.not_listed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_are_placed_by_line_and_character_and_noted_once() {
        let text = "ab\ncé&d\n&";
        let mut repairs = Repairs::default();
        repairs.note(9, || "last".into());
        repairs.note(6, || "bare ampersand".into());
        repairs.note(6, || "again".into());
        repairs.note(0, || "first".into());
        let (listed, more) = repairs.finish(text);
        let shown: Vec<String> = listed.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["first at 1:1", "bare ampersand at 2:3", "last at 3:1"]
        );
        assert_eq!(more, 0);
    }

    #[test]
    fn past_the_listed_ones_repairs_are_counted() {
        let mut repairs = Repairs::default();
        for at in 0..LISTED + 5 {
            repairs.note(at, || "x".into());
        }
        let (listed, more) = repairs.finish(&"x".repeat(LISTED + 5));
        assert_eq!((listed.len(), more), (LISTED, 5));
    }
}

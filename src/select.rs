//! Which stored entries each published feed shows: the `filters`, `max_age`, `title_prefix`
//! and fair merge (`feed.max_per_source`) of config.yaml, applied over what is stored when the
//! feeds are rendered. Editing a rule therefore takes effect without fetching anything, and
//! removing one brings back what it hid: nothing is dropped at ingest.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::config::{Config, Contribution, Field, Rule};
use crate::model::Entry;
use crate::normalize::html_to_text;
use crate::store::{Store, StoreError};

/// The rules of one configuration at one moment.
pub struct Selection<'a> {
    config: &'a Config,
    now: DateTime<Utc>,
}

impl<'a> Selection<'a> {
    pub fn new(config: &'a Config, now: DateTime<Utc>) -> Selection<'a> {
        Selection { config, now }
    }

    fn source_rules(&self, source: &str) -> Option<&'a Contribution> {
        self.config
            .source(source)
            .map(|source| &source.contribution)
    }

    /// The feed's rules, then those of `source`.
    fn levels(&self, source: &str) -> impl Iterator<Item = &'a Contribution> {
        std::iter::once(&self.config.feed.contribution).chain(self.source_rules(source))
    }

    /// Whether any filter applies to the entries of `source`.
    fn filters(&self, source: &str) -> bool {
        self.levels(source)
            .any(|rules| !rules.include.is_empty() || !rules.exclude.is_empty())
    }

    /// Whether the filters (the feed's and the entry's source's) hide `entry`: an exclude rule
    /// matches, or there are include rules and none matches.
    pub fn filters_hide(&self, entry: &Entry) -> bool {
        let mut text = None;
        let mut matches = |rule: &Rule| rule_matches(rule, entry, &mut text);
        let levels = || self.levels(&entry.source);
        if levels().any(|rules| rules.exclude.iter().any(&mut matches)) {
            return true;
        }
        levels().any(|rules| !rules.include.is_empty() && !rules.include.iter().any(&mut matches))
    }

    /// Whether `entry` is published: not hidden by a filter, nor older than its `max_age`.
    pub fn shows(&self, entry: &Entry) -> bool {
        let max_age = self
            .source_rules(&entry.source)
            .and_then(|rules| rules.max_age)
            .or(self.config.feed.contribution.max_age);
        let too_old = max_age.zip(entry.date()).is_some_and(|(max_age, date)| {
            chrono::Duration::from_std(max_age).is_ok_and(|age| date < self.now - age)
        });
        !too_old && !self.filters_hide(entry)
    }

    /// `entry` with its `title_prefix` (the source's, else the feed's) before the title.
    fn prefixed(&self, mut entry: Entry) -> Entry {
        let prefix = self
            .source_rules(&entry.source)
            .and_then(|rules| rules.title_prefix.as_deref())
            .or(self.config.feed.contribution.title_prefix.as_deref());
        if let Some(prefix) = prefix {
            entry.title = format!(
                "{}{}",
                prefix.replace("{source}", &entry.source),
                entry.title
            );
        }
        entry
    }
}

/// How a feed is made from the store.
pub struct Picking<'a> {
    /// The producers whose entries (or entries they also carried) the feed holds.
    pub sources: &'a [&'a str],
    pub limit: usize,
    /// At most this many entries per source (the merged feed's fair merge).
    pub per_source: Option<usize>,
    /// Put the `title_prefix`es before the titles (not in a source's own feed, where every
    /// entry is from that source).
    pub prefix_titles: bool,
}

/// The newest entries `picking` asks for that `selection` shows, newest first. Reads the store
/// page by page until the feed is full, so hidden entries do not leave it short.
pub async fn pick(
    store: &Store,
    selection: &Selection<'_>,
    picking: &Picking<'_>,
) -> Result<Vec<Entry>, StoreError> {
    let page = (picking.limit * 2).max(64);
    let mut picked = Vec::with_capacity(picking.limit);
    let mut per_source: HashMap<String, usize> = HashMap::new();
    let mut offset = 0;
    while picked.len() < picking.limit {
        let batch = store.latest_from(picking.sources, page, offset).await?;
        let exhausted = batch.len() < page;
        offset += batch.len();
        for entry in batch {
            if picked.len() == picking.limit {
                break;
            }
            if !selection.shows(&entry) {
                continue;
            }
            if let Some(cap) = picking.per_source {
                let taken = per_source.entry(entry.source.clone()).or_default();
                if *taken >= cap {
                    continue;
                }
                *taken += 1;
            }
            picked.push(if picking.prefix_titles {
                selection.prefixed(entry)
            } else {
                entry
            });
        }
        if exhausted {
            break;
        }
    }
    Ok(picked)
}

/// How many stored entries of `source` the filters hide now.
pub async fn hidden_count(
    store: &Store,
    selection: &Selection<'_>,
    source: &str,
) -> Result<usize, StoreError> {
    // Reading every stored entry of every source is what a daemon without filters (most of
    // them) would pay at start and after each changed poll, for nothing.
    if !selection.filters(source) {
        return Ok(0);
    }
    let entries = store.entries_of(source).await?;
    Ok(entries
        .iter()
        .filter(|entry| selection.filters_hide(entry))
        .count())
}

/// `text` holds the content's text once a content rule needed it: HTML to text is the
/// costly part, done at most once per entry.
fn rule_matches(rule: &Rule, entry: &Entry, text: &mut Option<String>) -> bool {
    let pattern = &rule.pattern;
    match rule.field {
        Field::Title => pattern.matches(&entry.title),
        Field::Content => {
            let text = text.get_or_insert_with(|| {
                entry
                    .content
                    .as_deref()
                    .or(entry.summary.as_deref())
                    .map(html_to_text)
                    .unwrap_or_default()
            });
            pattern.matches(text)
        }
        Field::Author => entry.authors.iter().any(|author| {
            pattern.matches(&author.name)
                || author
                    .email
                    .as_deref()
                    .is_some_and(|email| pattern.matches(email))
        }),
        Field::Category => entry
            .categories
            .iter()
            .any(|category| pattern.matches(category)),
        Field::Link => entry
            .link
            .as_deref()
            .is_some_and(|link| pattern.matches(link)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntryId, Person};
    use chrono::TimeZone;
    use std::path::Path;

    fn config(yaml: &str) -> Config {
        Config::parse(Path::new("/srv/config.yaml"), yaml).expect("a valid config")
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
    }

    fn entry(source: &str, title: &str) -> Entry {
        Entry {
            id: EntryId::derive(source, title),
            source: source.to_string(),
            key: title.to_string(),
            title: title.to_string(),
            link: Some(format!("https://{source}.example/posts/{title}")),
            authors: vec![Person {
                name: "Ann Author".to_string(),
                email: Some("ann@writers.example".to_string()),
                uri: None,
            }],
            published: Some(now() - chrono::Duration::days(1)),
            updated: None,
            summary: None,
            content: Some("<p>Body about <b>Rust</b> &amp; rivers.</p>".to_string()),
            categories: vec!["Programming".to_string()],
            enclosures: Vec::new(),
            image: None,
            content_hash: crate::dedup::content_hash(None, None, title, None),
            also_in: Vec::new(),
        }
    }

    /// Whether a top-level exclude rule `rule` hides the default entry.
    fn excluded_by(rule: &str) -> bool {
        let config = config(&format!("filters:\n  exclude: [{rule}]\n"));
        Selection::new(&config, now()).filters_hide(&entry("a", "Weekly news"))
    }

    #[test]
    fn every_field_matches_by_substring_and_by_regex_ignoring_case() {
        for (rule, hides) in [
            ("{title: \"WEEKLY\"}", true),
            ("{title: \"monthly\"}", false),
            ("{title: \"/^weekly\\\\s+n/\"}", true),
            ("{title: \"/^news/\"}", false),
            // Content is matched as text: tags and entities are gone.
            ("{content: \"rust & rivers\"}", true),
            ("{content: \"<b>\"}", false),
            ("{content: \"/about\\\\s+rust/\"}", true),
            ("{author: \"ann author\"}", true),
            ("{author: \"writers.example\"}", true),
            ("{author: \"bob\"}", false),
            ("{category: \"programming\"}", true),
            ("{category: \"/^gram/\"}", false),
            ("{link: \"a.example/posts\"}", true),
            ("{link: \"/^http:/\"}", false),
        ] {
            assert_eq!(excluded_by(rule), hides, "{rule}");
        }
    }

    #[test]
    fn exclude_wins_over_include_and_include_keeps_only_matches() {
        let config = config(
            "filters:\n  exclude: [{title: \"sponsored\"}]\n\
             sources:\n  - name: \"a\"\n    url: \"https://a.example/\"\n    \
             filters:\n      include: [{title: \"rust\"}, {category: \"releases\"}]\n  \
             - name: \"b\"\n    url: \"https://b.example/\"\n",
        );
        let selection = Selection::new(&config, now());
        let hidden = |source: &str, title: &str| selection.filters_hide(&entry(source, title));
        assert!(!hidden("a", "Rust 2.0"));
        assert!(
            hidden("a", "Python 4.0"),
            "a keeps only what an include rule matches"
        );
        assert!(hidden("a", "Rust, sponsored"), "exclude wins");
        assert!(!hidden("b", "Python 4.0"), "a's rules are a's alone");
        assert!(
            hidden("b", "Sponsored post"),
            "top-level rules apply to every source"
        );
        let mut released = entry("a", "Python 4.0");
        released.categories = vec!["Releases".to_string()];
        assert!(!selection.filters_hide(&released), "any include rule keeps");
    }

    #[test]
    fn max_age_of_the_source_else_of_the_feed_leaves_older_entries_out() {
        let config = config(
            "max_age: \"7d\"\nsources:\n  - name: \"a\"\n    url: \"https://a.example/\"\n    max_age: \"2d\"\n",
        );
        let selection = Selection::new(&config, now());
        let aged = |source: &str, days: i64| {
            let mut entry = entry(source, "Post");
            entry.published = Some(now() - chrono::Duration::days(days));
            selection.shows(&entry)
        };
        assert!(aged("a", 1));
        assert!(!aged("a", 3), "older than a's 2 days");
        assert!(aged("b", 3), "within the feed's 7 days");
        assert!(!aged("b", 8));
        // Age is not a filter: it is not counted as hidden by one.
        let mut old = entry("b", "Post");
        old.published = Some(now() - chrono::Duration::days(30));
        assert!(!selection.filters_hide(&old));
    }

    #[test]
    fn title_prefixes_name_the_source() {
        let config = config(
            "title_prefix: \"[{source}] \"\nsources:\n  - name: \"a\"\n    url: \"https://a.example/\"\n    title_prefix: \"A: \"\n",
        );
        let selection = Selection::new(&config, now());
        assert_eq!(selection.prefixed(entry("a", "Post")).title, "A: Post");
        assert_eq!(selection.prefixed(entry("b", "Post")).title, "[b] Post");
    }
}

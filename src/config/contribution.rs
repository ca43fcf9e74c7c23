//! What each source, and all of them together, contribute to the published feeds: `filters`
//! (include / exclude rules), `max_age` and `title_prefix`.
//!
//! Rules are checked here, where their line and column are known, so a bad regex is a config
//! error and not a surprise at render time. Applying them to entries is `select`'s job.

use std::time::Duration;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::{ConfigError, Expanded, duration_setting};

/// Which stored entries a source (or the merged feed) shows, and how their titles read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contribution {
    /// When not empty, only entries matching one of these are shown.
    pub include: Vec<Rule>,
    /// Entries matching one of these are never shown (exclude wins over include).
    pub exclude: Vec<Rule>,
    /// Entries older than this are left out.
    pub max_age: Option<Duration>,
    /// Put before each title in the merged and tag feeds; `{source}` is the source's name.
    pub title_prefix: Option<String>,
}

/// One rule: a field of the entry and what to look for in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub field: Field,
    pub pattern: Pattern,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    /// The text of the content (or the summary when there is no content).
    Content,
    /// Any author's name or e-mail address.
    Author,
    /// Any category.
    Category,
    Link,
}

#[derive(Debug, Clone)]
pub enum Pattern {
    /// A case-insensitive substring, kept lowercased.
    Text(String),
    /// `/regex/`, case-insensitive.
    Regex(Regex),
}

/// Two patterns are the same when written the same.
impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        match (self, other) {
            (Pattern::Text(a), Pattern::Text(b)) => a == b,
            (Pattern::Regex(a), Pattern::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Pattern {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Text(needle) => text.to_lowercase().contains(needle.as_str()),
            Pattern::Regex(regex) => regex.is_match(text),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFilters {
    #[serde(default)]
    include: Vec<Spanned<RawRule>>,
    #[serde(default)]
    exclude: Vec<Spanned<RawRule>>,
}

/// A rule as written: one of its keys names the field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    title: Option<Expanded>,
    content: Option<Expanded>,
    author: Option<Expanded>,
    category: Option<Expanded>,
    link: Option<Expanded>,
}

/// The keys of a source or of `feed` that make its contribution.
pub(super) struct RawContribution {
    pub filters: Option<RawFilters>,
    pub max_age: Option<Spanned<Expanded>>,
    pub title_prefix: Option<Expanded>,
}

/// Checks the rules, `max_age` and `title_prefix` under `key` (`sources[N]`, or empty at the
/// top level).
pub(super) fn validate_contribution(
    raw: RawContribution,
    key: &str,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<Contribution, ConfigError> {
    let filters = raw.filters.unwrap_or_default();
    let rules = |raw_rules: Vec<Spanned<RawRule>>, list: &str| {
        raw_rules
            .into_iter()
            .enumerate()
            .map(|(index, rule)| {
                validate_rule(
                    rule,
                    &format!("{}filters.{list}[{index}]", dotted(key)),
                    error,
                )
            })
            .collect::<Result<Vec<Rule>, ConfigError>>()
    };
    let max_age = match raw.max_age {
        None => None,
        Some(spanned) => Some(duration_setting(
            Some(spanned),
            &format!("{}max_age", dotted(key)),
            Duration::ZERO,
            false,
            error,
        )?),
    };
    Ok(Contribution {
        include: rules(filters.include, "include")?,
        exclude: rules(filters.exclude, "exclude")?,
        max_age,
        title_prefix: raw.title_prefix.map(|prefix| prefix.0),
    })
}

/// `key.`, or nothing at the top level.
fn dotted(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}.")
    }
}

fn validate_rule(
    rule: Spanned<RawRule>,
    key: &str,
    error: &impl Fn(Location, String) -> ConfigError,
) -> Result<Rule, ConfigError> {
    let RawRule {
        title,
        content,
        author,
        category,
        link,
    } = rule.value;
    let mut given = [
        (Field::Title, "title", title),
        (Field::Content, "content", content),
        (Field::Author, "author", author),
        (Field::Category, "category", category),
        (Field::Link, "link", link),
    ]
    .into_iter()
    .filter_map(|(field, name, value)| Some((field, name, value?.0)));
    let (Some((field, name, text)), None) = (given.next(), given.next()) else {
        return Err(error(
            rule.referenced,
            format!(
                "{key}: a rule names exactly one of title, content, author, category or link, e.g. {{title: \"sponsored\"}}"
            ),
        ));
    };
    let pattern = match text
        .strip_prefix('/')
        .and_then(|rest| rest.strip_suffix('/'))
    {
        Some(expression) if text.len() >= 2 => {
            let regex = RegexBuilder::new(expression)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|why| {
                    let why = why.to_string();
                    let why = why.lines().last().unwrap_or_default().trim();
                    error(
                        rule.referenced,
                        format!("{key}.{name}: {text:?} is not a valid regex ({why})"),
                    )
                })?;
            Pattern::Regex(regex)
        }
        _ if text.is_empty() => {
            return Err(error(
                rule.referenced,
                format!("{key}.{name}: an empty rule would match every entry"),
            ));
        }
        _ => Pattern::Text(text.to_lowercase()),
    };
    Ok(Rule { field, pattern })
}

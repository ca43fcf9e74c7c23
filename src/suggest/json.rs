//! Suggesting a JSON recipe: which array of objects in an API response holds the entries, and
//! which of their fields are the title, link, date and content.
//!
//! The document is walked iteratively, at most `MAX_VALUES` values and `MAX_DEPTH` levels
//! deep. Arrays met under an array are gathered under one `[*]` path (`$[*].assets[*]`), as
//! RFC 9535 JSONPath would select them. Field paths are item-relative (`$.title`) and go one
//! object deeper at most (`$.author.name`, `$.title.rendered`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::parse::page::{JsonPick, JsonRecipe, Recipe};
use crate::parse::parse_date;

/// JSON values looked at, at most.
const MAX_VALUES: usize = 200_000;
/// Levels of nesting walked, at most.
const MAX_DEPTH: usize = 32;
/// Objects of an array looked at when choosing its fields.
const MAX_SAMPLE: usize = 100;

/// A candidate way to read a JSON document's entries, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonSuggestion {
    /// JSONPath of the entries, e.g. `$.data.posts[*]`.
    pub items: String,
    /// Item-relative JSONPath of the title (`$.title`); empty if none was found.
    pub title: String,
    /// Item-relative JSONPath of the link (`$.url`); empty if none was found.
    pub link: String,
    pub date: Option<String>,
    pub content: Option<String>,
    /// Higher is better; only comparable within one document.
    pub score: f64,
    /// How many objects `items` selects.
    pub items_count: usize,
}

impl JsonSuggestion {
    /// The suggestion as the recipe a page source reads with; an error names a path the
    /// reader would not take (an empty title or link: none was found).
    pub fn recipe(&self) -> Result<Recipe, String> {
        let optional =
            |written: &Option<String>| written.as_deref().map(JsonPick::parse).transpose();
        Ok(Recipe::Json(JsonRecipe {
            items: JsonPick::parse(&self.items)?,
            title: JsonPick::parse(&self.title)?,
            link: JsonPick::parse(&self.link)?,
            date: optional(&self.date)?,
            summary: None,
            content: optional(&self.content)?,
            author: None,
            image: None,
        }))
    }
}

/// Ranked suggestions for reading the entries of `document`, best first (possibly none).
pub fn suggest_json(document: &Value) -> Vec<JsonSuggestion> {
    let mut arrays: Vec<(String, Vec<&Map<String, Value>>)> = Vec::new();
    let mut by_path: HashMap<String, usize> = HashMap::new();
    let mut stack: Vec<(&Value, String, usize)> = vec![(document, "$".to_owned(), 0)];
    let mut visited = 0;
    while let Some((value, path, depth)) = stack.pop() {
        visited += 1;
        if visited > MAX_VALUES {
            break;
        }
        match value {
            Value::Array(elements) => {
                let objects: Vec<&Map<String, Value>> =
                    elements.iter().filter_map(Value::as_object).collect();
                let items_path = format!("{path}[*]");
                if elements.len() >= 2 && objects.len() * 2 >= elements.len() {
                    let slot = *by_path.entry(items_path.clone()).or_insert_with(|| {
                        arrays.push((items_path.clone(), Vec::new()));
                        arrays.len() - 1
                    });
                    arrays[slot].1.extend(objects);
                }
                if depth < MAX_DEPTH {
                    for element in elements.iter().rev() {
                        stack.push((element, items_path.clone(), depth + 1));
                    }
                }
            }
            Value::Object(object) if depth < MAX_DEPTH => {
                for (key, child) in object.iter().rev() {
                    if child.is_array() || child.is_object() {
                        stack.push((child, format!("{path}{}", segment(key)), depth + 1));
                    }
                }
            }
            _ => {}
        }
    }

    let mut suggestions: Vec<JsonSuggestion> = arrays
        .into_iter()
        .filter(|(_, objects)| objects.len() >= 2)
        .filter_map(|(items, objects)| suggestion(items, &objects))
        .collect();
    suggestions.sort_by(|a, b| b.score.total_cmp(&a.score));
    suggestions
}

/// One field path's string values across the sampled objects.
struct Field<'a> {
    path: String,
    /// The key itself, or the parent key for `title.rendered` and the like.
    name: String,
    depth: usize,
    values: Vec<&'a str>,
}

fn suggestion(items: String, objects: &[&Map<String, Value>]) -> Option<JsonSuggestion> {
    let sample = &objects[..objects.len().min(MAX_SAMPLE)];
    let mut fields: Vec<Field> = Vec::new();
    let mut slots: HashMap<String, usize> = HashMap::new();
    let mut add = |path: String, name: &str, depth: usize| {
        *slots.entry(path.clone()).or_insert_with(|| {
            fields.push(Field {
                path,
                name: name.to_ascii_lowercase(),
                depth,
                values: Vec::new(),
            });
            fields.len() - 1
        })
    };
    let mut values: Vec<(usize, &str)> = Vec::new();
    for object in sample {
        for (key, value) in object.iter() {
            match value {
                Value::String(text) => {
                    let slot = add(format!("${}", segment(key)), key, 1);
                    values.push((slot, text));
                }
                Value::Object(inner) => {
                    for (inner_key, inner_value) in inner {
                        if let Value::String(text) = inner_value {
                            // `title.rendered`: named by the outer key.
                            let name = if matches!(
                                inner_key.as_str(),
                                "rendered" | "text" | "value" | "raw" | "html" | "en"
                            ) {
                                key.as_str()
                            } else {
                                inner_key.as_str()
                            };
                            let slot =
                                add(format!("${}{}", segment(key), segment(inner_key)), name, 2);
                            values.push((slot, text));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for (slot, text) in values {
        fields[slot].values.push(text);
    }
    let n = sample.len();
    let common = |field: &&Field| field.values.len() * 2 >= n;

    let title = best(&fields, common, |field| {
        let rank = ["title", "headline", "name", "subject", "label", "caption"]
            .iter()
            .position(|key| field.name == *key)
            .or_else(|| field.name.contains("title").then_some(6))?;
        if field.values.iter().any(|value| looks_like_url(value)) {
            return None;
        }
        Some(rank as f64 + depth_penalty(field))
    });
    let link = best(&fields, common, |field| {
        let urls = field
            .values
            .iter()
            .filter(|value| looks_like_url(value) || value.starts_with('/'))
            .count();
        if urls * 2 < field.values.len() {
            return None;
        }
        let rank = [
            "permalink",
            "html_url",
            "web_url",
            "canonical_url",
            "link",
            "url",
            "href",
            "share_url",
        ]
        .iter()
        .position(|key| field.name == *key)
        .unwrap_or(
            if field.name.contains("url") || field.name.contains("link") {
                10
            } else {
                12
            },
        );
        let api = field
            .values
            .iter()
            .filter(|value| looks_like_api(value))
            .count();
        let api_penalty = if api * 2 > field.values.len() {
            20.0
        } else {
            0.0
        };
        Some(rank as f64 + api_penalty + depth_penalty(field))
    });
    let date = best(&fields, common, |field| {
        let dated = field
            .values
            .iter()
            .filter(|value| value.len() >= 8 && parse_date(value).is_some())
            .count();
        if dated * 2 < field.values.len() {
            return None;
        }
        let name = field.name.as_str();
        let rank = if name.contains("publish") {
            0
        } else if name == "date" || name.contains("date") {
            1
        } else if name.contains("created") {
            2
        } else if name.contains("time") {
            3
        } else if name.contains("updated") || name.contains("modified") {
            4
        } else {
            5
        };
        Some(rank as f64 + depth_penalty(field))
    });
    let content = best(&fields, common, |field| {
        const NAMES: &[&str] = &[
            "content",
            "body",
            "html",
            "description",
            "summary",
            "excerpt",
            "text",
            "abstract",
        ];
        if !NAMES.iter().any(|name| field.name.contains(name)) {
            return None;
        }
        // Text, not a type or an identifier.
        let texts = field
            .values
            .iter()
            .filter(|value| value.contains(char::is_whitespace) || value.contains('<'))
            .count();
        if texts * 2 < field.values.len() {
            return None;
        }
        let length = field.values.iter().map(|value| value.len()).sum::<usize>() as f64
            / field.values.len().max(1) as f64;
        // The longest wins: the whole text over its excerpt.
        Some(-length.ln_1p() + depth_penalty(field))
    });

    if title.is_none() && link.is_none() {
        return None;
    }
    let fraction = |field: &Option<&Field>| {
        field.map_or(0.0, |field| field.values.len().min(n) as f64 / n as f64)
    };
    // Titles in words, not file names or identifiers.
    let worded = title.map_or(0.0, |field| {
        field
            .values
            .iter()
            .filter(|value| value.trim().contains(char::is_whitespace))
            .count() as f64
            / field.values.len().max(1) as f64
    });
    // An array inside each item of another array: parts of items (assets, tags), not items.
    let nested = if items.matches("[*]").count() > 1 {
        0.7
    } else {
        1.0
    };
    let score = (objects.len() as f64).ln_1p()
        * nested
        * (0.5
            + fraction(&title) * (0.5 + 0.5 * worded)
            + fraction(&link)
            + 0.5 * fraction(&date)
            + 0.5 * fraction(&content));
    Some(JsonSuggestion {
        items,
        title: title.map(|field| field.path.clone()).unwrap_or_default(),
        link: link.map(|field| field.path.clone()).unwrap_or_default(),
        date: date.map(|field| field.path.clone()),
        content: content.map(|field| field.path.clone()),
        score,
        items_count: objects.len(),
    })
}

/// The field with the lowest rank among those `keep` keeps and `rank` ranks.
fn best<'f, 'a>(
    fields: &'f [Field<'a>],
    keep: impl Fn(&&Field) -> bool,
    rank: impl Fn(&Field) -> Option<f64>,
) -> Option<&'f Field<'a>> {
    fields
        .iter()
        .filter(keep)
        .filter_map(|field| rank(field).map(|rank| (field, rank)))
        .fold(
            None,
            |best: Option<(&Field, f64)>, (field, rank)| match best {
                Some((_, best_rank)) if best_rank <= rank => best,
                _ => Some((field, rank)),
            },
        )
        .map(|(field, _)| field)
}

fn depth_penalty(field: &Field) -> f64 {
    if field.depth > 1 { 0.5 } else { 0.0 }
}

fn looks_like_url(value: &str) -> bool {
    value.starts_with("http://") || value.starts_with("https://")
}

/// A URL for programs, not people: `api.` hosts and `/api/` paths.
fn looks_like_api(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .unwrap_or(value);
    rest.starts_with("api.") || rest.contains("/api/")
}

/// One JSONPath step for an object key: `.key`, or `['key']` for anything but a plain
/// identifier.
fn segment(key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!(".{key}")
    } else {
        format!("['{}']", key.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn posts_nested_in_an_envelope() {
        let document = json!({
            "data": {"posts": [
                {"title": "One", "url": "https://x.example/1", "published_at": "2026-01-01T00:00:00Z", "body_html": "<p>one</p>", "tags": [{"name": "a"}, {"name": "b"}]},
                {"title": "Two", "url": "https://x.example/2", "published_at": "2026-01-02T00:00:00Z", "body_html": "<p>two</p>", "tags": [{"name": "c"}, {"name": "d"}]},
                {"title": "Three", "url": "https://x.example/3", "published_at": "2026-01-03T00:00:00Z", "body_html": "<p>three</p>", "tags": []}
            ]},
            "meta": {"links": [{"rel": "next", "href": "https://x.example/api/posts?page=2"}, {"rel": "last", "href": "https://x.example/api/posts?page=9"}]}
        });
        let suggestions = suggest_json(&document);
        let top = &suggestions[0];
        assert_eq!(top.items, "$.data.posts[*]");
        assert_eq!(top.title, "$.title");
        assert_eq!(top.link, "$.url");
        assert_eq!(top.date.as_deref(), Some("$.published_at"));
        assert_eq!(top.content.as_deref(), Some("$.body_html"));
        assert_eq!(top.items_count, 3);
        // The tags of all posts are one more (weaker) candidate.
        assert!(
            suggestions
                .iter()
                .any(|s| s.items == "$.data.posts[*].tags[*]" && s.items_count == 4)
        );
    }

    #[test]
    fn nested_arrays_and_odd_keys() {
        let document = json!([
            {"name": "v2", "url": "https://api.example.com/r/2", "html_url": "https://example.com/r/2", "author": {"login": "a"}, "created_at": "2026-02-01T00:00:00Z",
             "assets": [{"name": "x.tgz", "url": "https://api.example.com/a/1"}, {"name": "y.tgz", "url": "https://api.example.com/a/2"}]},
            {"name": "v1", "url": "https://api.example.com/r/1", "html_url": "https://example.com/r/1", "author": {"login": "b"}, "created_at": "2026-01-01T00:00:00Z",
             "assets": []}
        ]);
        let top = &suggest_json(&document)[0];
        assert_eq!(top.items, "$[*]");
        assert_eq!(top.title, "$.name");
        assert_eq!(top.link, "$.html_url");
        assert_eq!(top.date.as_deref(), Some("$.created_at"));

        let document = json!({"the list": [
            {"headline": {"rendered": "A"}, "link": "https://e.example/a"},
            {"headline": {"rendered": "B"}, "link": "https://e.example/b"}
        ]});
        let top = &suggest_json(&document)[0];
        assert_eq!(top.items, "$['the list'][*]");
        assert_eq!(top.title, "$.headline.rendered");
    }

    #[test]
    fn deep_documents_are_bounded() {
        let mut value = json!([{"title": "t", "url": "https://e.example/"}, {"title": "u", "url": "https://e.example/u"}]);
        // serde_json reads at most 128 levels; deeper than the walk goes is enough here.
        for _ in 0..100 {
            value = json!({ "next": value });
        }
        assert!(suggest_json(&value).is_empty());
    }

    #[test]
    fn keys_that_need_brackets() {
        assert_eq!(segment("posts"), ".posts");
        assert_eq!(segment("_x1"), "._x1");
        assert_eq!(segment("a-b"), "['a-b']");
        assert_eq!(segment("it's"), "['it\\'s']");
        assert_eq!(segment("1st"), "['1st']");
    }
}

//! The suggesters against the fixtures in `tests/fixtures/pages/`: each `NAME.html` or
//! `NAME.json` has a `NAME.expected.json` with the URL it is served at, a hand-written recipe
//! and the entries that recipe yields. Two checks: every recipe yields exactly its entries
//! (the fixtures are right), and the top suggestion yields them too (the suggester is).
//!
//! `apply_html` / `apply_json` are a stand-in for the page source reader, with its
//! conventions: first match inside the item, `@attr` for an attribute, empty CSS for the
//! item itself, links resolved against `<base href>` or the page URL, titles trimmed with
//! whitespace collapsed, dates normalized to RFC 3339 UTC.

use std::path::{Path, PathBuf};

use chrono::SecondsFormat;
use dom_query::{Document, NodeRef, Selection};
use serde_json::Value;
use url::Url;

use super::html::collapse;
use super::{suggest_html, suggest_json};
use crate::parse::parse_date;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Entry {
    title: String,
    link: String,
    date: Option<String>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pages")
}

/// (name, document path, expected) for each fixture, sorted by name.
fn fixtures(extension: &str) -> Vec<(String, PathBuf, Value)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir()).expect("the fixtures folder") {
        let path = entry.expect("a fixture").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(&format!(".{extension}")) else {
            continue;
        };
        if stem.ends_with(".expected") {
            continue;
        }
        let expected_path = fixtures_dir().join(format!("{stem}.expected.json"));
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|_| panic!("{} is missing", expected_path.display())),
        )
        .expect("expected.json is JSON");
        found.push((stem.to_owned(), path, expected));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn expected_entries(expected: &Value) -> Vec<Entry> {
    expected["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| Entry {
            title: entry["title"].as_str().expect("a title").to_owned(),
            link: entry["link"].as_str().expect("a link").to_owned(),
            date: entry["date"].as_str().map(str::to_owned),
        })
        .collect()
}

fn normalize_date(text: &str) -> Option<String> {
    parse_date(text).map(|date| date.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The node a field selector picks in an item, and the attribute to read (text if none).
fn pick<'a>(item: NodeRef<'a>, spec: &str) -> Option<(NodeRef<'a>, Option<String>)> {
    let (css, attribute) = match spec.rsplit_once('@') {
        Some((css, attribute)) if !attribute.contains([' ', ']', '"', '\'']) => {
            (css.trim(), Some(attribute.to_owned()))
        }
        _ => (spec.trim(), None),
    };
    if css.is_empty() {
        return Some((item, attribute));
    }
    let found = Selection::from(item).try_select(css)?;
    found.nodes().first().map(|node| (*node, attribute))
}

fn read(item: NodeRef, spec: &str) -> Option<String> {
    let (node, attribute) = pick(item, spec)?;
    match attribute {
        Some(attribute) => node.attr(&attribute).map(|value| value.trim().to_owned()),
        None => Some(collapse(&node.text())),
    }
}

fn apply_html(
    html: &str,
    page_url: &str,
    item: &str,
    title: &str,
    link: &str,
    date: Option<&str>,
) -> Vec<Entry> {
    let document = Document::from(html);
    let page = Url::parse(page_url).expect("page_url");
    let base = document
        .select("base[href]")
        .nodes()
        .first()
        .and_then(|base| base.attr("href"))
        .and_then(|href| page.join(href.trim()).ok())
        .unwrap_or(page);
    let Some(items) = document.try_select(item) else {
        return Vec::new();
    };
    items
        .nodes()
        .iter()
        .filter_map(|&node| {
            let link = base.join(&read(node, link)?).ok()?.to_string();
            Some(Entry {
                title: read(node, title).unwrap_or_default(),
                link,
                date: date
                    .and_then(|date| read(node, date))
                    .and_then(|d| normalize_date(&d)),
            })
        })
        .collect()
}

/// One step of a JSONPath.
enum Step {
    Wildcard,
    Key(String),
    Index(usize),
}

/// RFC 9535 JSONPath, the part the recipes use: `$`, `.name`, `['name']`, `[*]`, `[n]`.
fn json_path<'a>(value: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut steps = Vec::new();
    let mut rest = path.strip_prefix('$').expect("a path starting with $");
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[*]") {
            steps.push(Step::Wildcard);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']").expect("a closing ']");
            let key = after[..end].replace("\\'", "'").replace("\\\\", "\\");
            steps.push(Step::Key(key));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').expect("a closing ]");
            steps.push(Step::Index(after[..end].parse().expect("an index")));
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            steps.push(Step::Key(after[..end].to_owned()));
            rest = &after[end..];
        } else {
            panic!("cannot read the path {path}");
        }
    }
    let mut nodes = vec![value];
    for step in &steps {
        nodes = nodes
            .into_iter()
            .flat_map(|node| -> Vec<&'a Value> {
                match (step, node) {
                    (Step::Wildcard, Value::Array(array)) => array.iter().collect(),
                    (Step::Wildcard, Value::Object(object)) => object.values().collect(),
                    (Step::Key(key), _) => node.get(key).into_iter().collect(),
                    (Step::Index(index), _) => node.get(index).into_iter().collect(),
                    _ => Vec::new(),
                }
            })
            .collect();
    }
    nodes
}

fn json_string(item: &Value, path: Option<&str>) -> Option<String> {
    let path = path.filter(|path| !path.is_empty())?;
    json_path(item, path)
        .first()
        .and_then(|value| value.as_str())
        .map(str::to_owned)
}

fn apply_json(
    document: &Value,
    page_url: &str,
    items: &str,
    title: &str,
    link: &str,
    date: Option<&str>,
) -> Vec<Entry> {
    let page = Url::parse(page_url).expect("page_url");
    json_path(document, items)
        .into_iter()
        .filter_map(|item| {
            let link = page.join(&json_string(item, Some(link))?).ok()?.to_string();
            Some(Entry {
                title: json_string(item, Some(title))
                    .map(|t| collapse(&t))
                    .unwrap_or_default(),
                link,
                date: json_string(item, date).and_then(|d| normalize_date(&d)),
            })
        })
        .collect()
}

fn recipe<'a>(expected: &'a Value, key: &str) -> Option<&'a str> {
    expected["recipe"][key].as_str()
}

#[test]
fn every_fixture_recipe_yields_its_entries() {
    for (name, path, expected) in fixtures("html") {
        let html = std::fs::read_to_string(&path).unwrap();
        let got = apply_html(
            &html,
            expected["page_url"].as_str().unwrap(),
            recipe(&expected, "item").unwrap(),
            recipe(&expected, "title").unwrap(),
            recipe(&expected, "link").unwrap(),
            recipe(&expected, "date"),
        );
        assert_eq!(got, expected_entries(&expected), "{name}");
        let titles: std::collections::HashSet<_> = got.iter().map(|e| &e.title).collect();
        assert_eq!(titles.len(), got.len(), "{name}: titles are unique");
        assert!((5..=25).contains(&got.len()), "{name}: 5 to 25 entries");
    }
    for (name, path, expected) in fixtures("json") {
        let document: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let got = apply_json(
            &document,
            expected["page_url"].as_str().unwrap(),
            recipe(&expected, "items").unwrap(),
            recipe(&expected, "title").unwrap(),
            recipe(&expected, "link").unwrap(),
            recipe(&expected, "date"),
        );
        assert_eq!(got, expected_entries(&expected), "{name}");
    }
}

/// Precision and recall of (title, link) pairs.
fn compare(got: &[Entry], expected: &[Entry]) -> (usize, usize, usize) {
    let pairs = |entries: &[Entry]| -> Vec<(String, String)> {
        let mut pairs: Vec<_> = entries
            .iter()
            .map(|e| (e.title.clone(), e.link.clone()))
            .collect();
        pairs.sort();
        pairs
    };
    let (got, expected) = (pairs(got), pairs(expected));
    let correct = got.iter().filter(|pair| expected.contains(pair)).count();
    (correct, got.len(), expected.len())
}

#[test]
fn top_suggestions_read_the_fixtures() {
    let (mut correct, mut got_total, mut expected_total, mut right, mut pages) = (0, 0, 0, 0, 0);
    println!("{:<20} {:>5} {:>5}  top suggestion", "page", "P", "R");
    for (name, path, expected) in fixtures("html") {
        pages += 1;
        let html = std::fs::read_to_string(&path).unwrap();
        let want = expected_entries(&expected);
        let suggestions = suggest_html(&html);
        let got = suggestions.first().map_or_else(Vec::new, |top| {
            apply_html(
                &html,
                expected["page_url"].as_str().unwrap(),
                &top.item,
                &top.title,
                &top.link,
                top.date.as_deref(),
            )
        });
        let (c, g, e) = compare(&got, &want);
        correct += c;
        got_total += g;
        expected_total += e;
        if c == g && c == e {
            right += 1;
        }
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        println!(
            "{name:<20} {:>5.2} {:>5.2}  {:?}",
            ratio(c, g),
            ratio(c, e),
            suggestions.first()
        );
    }
    let precision = correct as f64 / got_total.max(1) as f64;
    let recall = correct as f64 / expected_total.max(1) as f64;
    println!(
        "overall: precision {precision:.3}, recall {recall:.3}, {right} of {pages} pages exactly right"
    );
    assert!(precision >= 0.95, "precision {precision:.3}");
    assert!(recall >= 0.95, "recall {recall:.3}");
    assert!(right * 12 >= pages * 10, "{right} of {pages} pages right");
}

#[test]
fn top_json_suggestions_read_the_fixtures() {
    for (name, path, expected) in fixtures("json") {
        let document: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let top = suggest_json(&document)
            .into_iter()
            .next()
            .expect("a suggestion");
        println!("{name}: {top:?}");
        let got = apply_json(
            &document,
            expected["page_url"].as_str().unwrap(),
            &top.items,
            &top.title,
            &top.link,
            top.date.as_deref(),
        );
        assert_eq!(got, expected_entries(&expected), "{name}");
    }
}

/// Writes the entries each fixture's recipe yields into its expected.json: for making a new
/// fixture (`FIXTURES_WRITE=1 cargo test --lib suggest::check::write -- --ignored`); read
/// what it wrote before committing it.
#[test]
#[ignore]
fn write_expected_entries() {
    if std::env::var_os("FIXTURES_WRITE").is_none() {
        return;
    }
    // page_url, recipe, entries, in that order, for people to read.
    let write = |name: &str, expected: Value, entries: Vec<Entry>| {
        let string = |value: &str| serde_json::to_string(value).unwrap();
        let recipe: Vec<String> = [
            "item", "items", "title", "link", "date", "summary", "content",
        ]
        .iter()
        .filter_map(|key| {
            recipe(&expected, key).map(|value| format!("{}: {}", string(key), string(value)))
        })
        .collect();
        let entries: Vec<String> = entries
            .iter()
            .map(|entry| {
                format!(
                    "    {{\"title\": {}, \"link\": {}, \"date\": {}}}",
                    string(&entry.title),
                    string(&entry.link),
                    entry.date.as_deref().map_or("null".to_owned(), string)
                )
            })
            .collect();
        let text = format!(
            "{{\n  \"page_url\": {},\n  \"recipe\": {{{}}},\n  \"entries\": [\n{}\n  ]\n}}\n",
            string(expected["page_url"].as_str().unwrap()),
            recipe.join(", "),
            entries.join(",\n")
        );
        let path = fixtures_dir().join(format!("{name}.expected.json"));
        std::fs::write(path, text).unwrap();
    };
    for (name, path, expected) in fixtures("html") {
        let html = std::fs::read_to_string(&path).unwrap();
        let entries = apply_html(
            &html,
            expected["page_url"].as_str().unwrap(),
            recipe(&expected, "item").unwrap(),
            recipe(&expected, "title").unwrap(),
            recipe(&expected, "link").unwrap(),
            recipe(&expected, "date"),
        );
        write(&name, expected, entries);
    }
    for (name, path, expected) in fixtures("json") {
        let document: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let entries = apply_json(
            &document,
            expected["page_url"].as_str().unwrap(),
            recipe(&expected, "items").unwrap(),
            recipe(&expected, "title").unwrap(),
            recipe(&expected, "link").unwrap(),
            recipe(&expected, "date"),
        );
        write(&name, expected, entries);
    }
}

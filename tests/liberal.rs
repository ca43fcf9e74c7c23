//! Differential test: the real binary's `tributary parse FILE --json` against Python's feedparser
//! (tests/common/feedparser_view.py) on every document in tests/liberal/ and on damaged
//! variants of the well-formed XML ones (cut short, `&amp;` written bare, junk before the XML
//! declaration). feedparser is the oracle: for each document, the same entries in the same
//! order, with the same title, link, date and first author, and the same feed title,
//! subtitle, link, dates and author. Where tributary reads differently on purpose, the difference is named
//! once, with its reason, in `KNOWN_DIFFERENCES`, and applied by rule; everything else is a
//! mismatch, and the failure lists every one of them.
//!
//! `fault_*` documents carry a well-formedness fault and must each report a repair; `rule_*`
//! documents are well-formed and must report none (checked once the report has `"repairs"`).
//!
//! feedparser comes from `pip install feedparser`, as `.ci/run` installs it; outside CI a
//! machine without it skips this test, under CI (`CI=true`) its absence is a failure.

mod common;

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::DateTime;
use regex::Regex;
use serde_json::Value;
use url::Url;

const VIEW: &str = "tests/common/feedparser_view.py";
const FIXTURES: &str = "tests/liberal";

/// A way tributary reads a document differently from feedparser on purpose.
struct Known {
    name: &'static str,
    why: &'static str,
}

const CUT_ENTRY_DROPPED: Known = Known {
    name: "cut entry dropped",
    why: "an entry cut short by the end of the document, with no guid and no link, is dropped: \
          stored, it could never be replaced by its complete version",
};
const TITLE_FROM_BODY: Known = Known {
    name: "title from the body",
    why: "an entry feedparser gives no title is titled from its body, or \"(untitled)\": a \
          reader needs something to show",
};
const RELATIVE_LINK_RESOLVED: Known = Known {
    name: "relative link resolved",
    why: "feedparser is handed bytes with no address, so it leaves a relative link relative; \
          tributary resolves it against the document's address (here its file:// URL), as \
          feedparser does against the URL it fetched",
};
const URL_SERIALISED: Known = Known {
    name: "URL serialised",
    why: "tributary keeps a link as a parsed URL, written the WHATWG way (an empty path as `/`, \
          the scheme and host in lower case, spaces and non-ASCII percent-encoded, an IDN in \
          punycode); feedparser keeps the text as written",
};
const BARE_AMPERSAND: Known = Known {
    name: "bare ampersand",
    why: "a bare & before a name is the character &: feedparser's loose parser either appends \
          a ';' (`Q&A` becomes `Q&A;`) or decodes an HTML entity name that has no ';' \
          (`?p=1&lang=de` becomes `?p=1〈=de`)",
};
const LEFT_ESCAPED: Known = Known {
    name: "reference left escaped",
    why: "in a document that is not well-formed, feedparser's loose parser leaves `&amp;` \
          escaped in some fields (an itunes:author `Lena &amp; Tomás` stays `&amp;`); \
          tributary unescapes it",
};
const CHARSET_PER_STRETCH: Known = Known {
    name: "charset per stretch",
    why: "feedparser decodes a whole document in one encoding (windows-1252 once one byte is \
          not UTF-8) and shows the real UTF-8 around that byte as mojibake (`Soirée` as \
          `SoirÃ©e`); tributary decodes the UTF-8 as UTF-8 and only the stray byte as \
          windows-1252",
};
const AUTHOR_INHERITED: Known = Known {
    name: "author inherited",
    why: "an Atom entry or JSON Feed item with no author of its own has the feed's (Atom \
          RFC 4287 §4.2.1, JSON Feed 1.1 `authors`); feedparser leaves it without one",
};
const PERSON_NAMED_BY_ADDRESS: Known = Known {
    name: "person named by address",
    why: "a person in tributary has a name: one given only by an e-mail address or a URI is \
          named by it, where feedparser has no name",
};
const SPACES_COLLAPSED: Known = Known {
    name: "spaces collapsed",
    why: "a title is one line: every run of white space in it, no-break spaces (`&nbsp;`) \
          included, is one space; feedparser keeps U+00A0",
};
const GUID_NOT_A_LINK: Known = Known {
    name: "guid that is no URL",
    why: "a guid that is a permalink becomes the link of an item without one only when it is \
          an absolute http(s) URL: feedparser takes any guid (`b7e2c0d4-…`), which would send \
          readers nowhere",
};
const RDF_ABOUT_LINK: Known = Known {
    name: "rdf:about as link",
    why: "an RSS 1.0 item without <link> is linked to its rdf:about, the URL RSS 1.0 names \
          each item by, when that is an http(s) URL; feedparser takes it as the id only",
};
const NO_JSON_FEED_IN_FEEDPARSER: Known = Known {
    name: "no JSON Feed in feedparser",
    why: "feedparser 6.0 has no JSON Feed reader (one is in its unreleased development \
          branch): for a .json document feedparser recognises no format in, only the entry \
          count is compared, against the objects in `items`",
};

/// Every known difference, in the order the report lists them.
const KNOWN_DIFFERENCES: &[&Known] = &[
    &CUT_ENTRY_DROPPED,
    &TITLE_FROM_BODY,
    &RELATIVE_LINK_RESOLVED,
    &URL_SERIALISED,
    &BARE_AMPERSAND,
    &LEFT_ESCAPED,
    &CHARSET_PER_STRETCH,
    &AUTHOR_INHERITED,
    &PERSON_NAMED_BY_ADDRESS,
    &SPACES_COLLAPSED,
    &GUID_NOT_A_LINK,
    &RDF_ABOUT_LINK,
    &NO_JSON_FEED_IN_FEEDPARSER,
];

/// What a document is, by its file name.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// `fault_*`: carries a well-formedness fault.
    Fault,
    /// `rule_*`: well-formed, exercises a mapping rule.
    Rule,
    /// Made by feedparser_view.py from a `rule_*` document.
    Variant,
}

struct Document {
    path: PathBuf,
    label: String,
    kind: Kind,
}

/// What one comparison found.
#[derive(Default)]
struct Findings {
    mismatches: Vec<String>,
    known: BTreeMap<&'static str, Vec<String>>,
    fixture_problems: Vec<String>,
    repairs_checked: usize,
    repairs_skipped: Vec<String>,
}

impl Findings {
    fn mismatch(&mut self, at: &str, field: &str, ours: impl Display, theirs: impl Display) {
        self.mismatches
            .push(format!("{at} {field}: ours {ours} | feedparser {theirs}"));
    }

    fn known(&mut self, known: &Known, line: String) {
        self.known.entry(known.name).or_default().push(line);
    }
}

#[test]
fn tributary_reads_feeds_as_feedparser_does() {
    if !feedparser_installed() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workdir = tempfile::tempdir().unwrap();
    let variants_dir = workdir.path().join("variants");
    std::fs::create_dir(&variants_dir).unwrap();

    let mut documents = fixtures(root);
    let variants = variants(root, &documents, &variants_dir);
    let fixtures = documents.len();
    documents.extend(variants);

    let paths: Vec<&Path> = documents.iter().map(|d| d.path.as_path()).collect();
    let views: Value = serde_json::from_slice(&python(root, &paths)).unwrap();

    let mut findings = Findings::default();
    let mut feedparser_version = String::new();
    for document in &documents {
        let key = document.path.to_str().unwrap();
        let view = views
            .get(key)
            .unwrap_or_else(|| panic!("feedparser_view.py said nothing of {key}"));
        feedparser_version = text(&view["feedparser"]).unwrap_or_default().to_string();
        let ours = tributary_parse(&document.path, workdir.path());
        check_fixture(document, view, &mut findings);
        compare(document, view, &ours, &mut findings);
        check_repairs(document, view, &ours, &mut findings);
    }

    let report = report(
        &findings,
        &feedparser_version,
        fixtures,
        documents.len() - fixtures,
    );
    if findings.mismatches.is_empty() && findings.fixture_problems.is_empty() {
        eprintln!("{report}");
    }
    assert!(
        findings.mismatches.is_empty() && findings.fixture_problems.is_empty(),
        "tributary reads {} place(s) differently from feedparser; {} fixture problem(s):\n{report}",
        findings.mismatches.len(),
        findings.fixture_problems.len(),
    );
}

/// Whether python3 can import feedparser; outside CI, when it cannot, the test says so and passes.
fn feedparser_installed() -> bool {
    let installed = Command::new("python3")
        .args(["-c", "import feedparser"])
        .output()
        .is_ok_and(|output| output.status.success());
    installed
        || common::skip_unless_ci::<()>(
            "python3 cannot import feedparser (`pip install feedparser`, as .ci/run does)",
        )
        .is_some()
}

/// Runs feedparser_view.py with `args` and returns its stdout.
fn python(root: &Path, args: &[&Path]) -> Vec<u8> {
    let output = Command::new("python3")
        .arg(root.join(VIEW))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "feedparser_view.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// tributary's JSON report on `path`, or what it said when it refused the document.
fn tributary_parse(path: &Path, workdir: &Path) -> Result<Value, String> {
    let output = common::tributary()
        .arg("parse")
        .arg(path)
        .arg("--json")
        .current_dir(workdir)
        .output()
        .unwrap();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("(nothing)");
        return Err(said.replace(path.to_str().unwrap(), "FILE"));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("printed a report that is not JSON: {error}"))
}

/// The fixtures must be what their names say, or the comparison proves nothing.
fn check_fixture(document: &Document, view: &Value, findings: &mut Findings) {
    let fault = text(&view["fault"]);
    let problem = match document.kind {
        Kind::Fault if fault.is_none() => {
            Some("is named fault_ but expat finds no fault in it".to_string())
        }
        Kind::Rule if fault.is_some() => Some(format!(
            "is named rule_ but is not well-formed: {}",
            fault.unwrap()
        )),
        Kind::Rule if view["bozo"] == true && !is_unread_json(document, view) => Some(format!(
            "is named rule_ but feedparser flags it: {}",
            text(&view["bozo_exception"]).unwrap_or("bozo")
        )),
        _ => None,
    };
    if let Some(problem) = problem {
        findings
            .fixture_problems
            .push(format!("{} {problem}", document.label));
    }
}

/// The fixtures of tests/liberal: the faults (`fault_*`) and the rules (`rule_*`), by name.
fn fixtures(root: &Path) -> Vec<Document> {
    let mut documents: Vec<Document> = std::fs::read_dir(root.join(FIXTURES))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let label = path.file_name()?.to_str()?.to_string();
            let kind = if label.starts_with("fault_") {
                Kind::Fault
            } else if label.starts_with("rule_") {
                Kind::Rule
            } else {
                return None;
            };
            Some(Document { path, label, kind })
        })
        .collect();
    documents.sort_by(|a, b| a.label.cmp(&b.label));
    assert!(documents.len() >= 30, "tests/liberal holds the fixtures");

    documents
}

/// The variants feedparser_view.py makes of the rule fixtures among `documents`, in `dir`.
fn variants(root: &Path, documents: &[Document], dir: &Path) -> Vec<Document> {
    let rules: Vec<&Path> = documents
        .iter()
        .filter(|document| document.kind == Kind::Rule)
        .map(|document| document.path.as_path())
        .collect();
    let mut args = vec![Path::new("--variants"), dir];
    args.extend(rules);
    let made = python(root, &args);
    let mut variants: Vec<Document> = String::from_utf8(made)
        .unwrap()
        .lines()
        .map(|line| {
            let path = PathBuf::from(line);
            let label = format!("{} (variant)", path.file_name().unwrap().to_str().unwrap());
            Document {
                path,
                label,
                kind: Kind::Variant,
            }
        })
        .collect();
    variants.sort_by(|a, b| a.label.cmp(&b.label));
    assert!(!variants.is_empty(), "feedparser_view.py made no variants");
    variants
}

fn is_unread_json(document: &Document, view: &Value) -> bool {
    document.path.extension().is_some_and(|ext| ext == "json")
        && !text(&view["version"]).unwrap_or("").starts_with("json")
}

fn compare(
    document: &Document,
    view: &Value,
    ours: &Result<Value, String>,
    findings: &mut Findings,
) {
    let at = &document.label;
    let theirs: &[Value] = view["entries"].as_array().map_or(&[], Vec::as_slice);
    if is_unread_json(document, view) {
        compare_count_only(at, view, ours, findings);
        return;
    }
    let ours = match ours {
        Ok(ours) => ours,
        Err(said) => {
            // Refusing is right only where feedparser recognises no feed either.
            let version = text(&view["version"]).unwrap_or("");
            if !version.is_empty() || !theirs.is_empty() {
                findings.mismatch(
                    at,
                    "document",
                    format!("refused it: {said}"),
                    format!(
                        "reads it as {version:?}: {}",
                        count(theirs.len(), "entry", "entries")
                    ),
                );
            }
            return;
        }
    };
    let context = Context::new(document, view);
    compare_feed(&context, at, &ours["feed"], &view["feed"], findings);
    compare_entries(&context, at, ours, theirs, findings);
}

/// A JSON Feed feedparser does not read: only the number of its items can be compared.
fn compare_count_only(
    at: &str,
    view: &Value,
    ours: &Result<Value, String>,
    findings: &mut Findings,
) {
    let items = view["json_items"].as_u64().unwrap_or(0) as usize;
    findings.known(
        &NO_JSON_FEED_IN_FEEDPARSER,
        format!("{at}: compared by count only ({items} items)"),
    );
    match ours {
        Err(said) => findings.mismatch(
            at,
            "document",
            format!("refused it: {said}"),
            format!("none, and the JSON has {items} items"),
        ),
        Ok(ours) => {
            let count = entries(ours).len();
            if count != items {
                findings.mismatch(
                    at,
                    "entry count",
                    count,
                    format!("{items} items in the JSON"),
                );
            }
        }
    }
}

fn compare_feed(
    context: &Context,
    at: &str,
    feed: &Value,
    their_feed: &Value,
    findings: &mut Findings,
) {
    context.text(
        findings,
        at,
        "feed.title",
        shown(&feed["title"]),
        text(&their_feed["title"]),
    );
    context.text(
        findings,
        at,
        "feed.subtitle",
        shown(&feed["subtitle"]),
        text(&their_feed["subtitle"]),
    );
    context.link(
        findings,
        at,
        "feed.link",
        text(&feed["link"]),
        text(&their_feed["link"]),
    );
    for date in ["published", "updated"] {
        context.date(
            findings,
            at,
            &format!("feed.{date}"),
            text(&feed[date]),
            text(&their_feed[date]),
        );
    }
    context.person(
        findings,
        at,
        "feed.author",
        first_person(&feed["authors"]),
        &their_feed["author"],
        None,
    );
}

/// The entries, in order.
fn compare_entries(
    context: &Context,
    at: &str,
    ours: &Value,
    mut theirs: &[Value],
    findings: &mut Findings,
) {
    let feed = &ours["feed"];
    let ours_entries = entries(ours);
    if context.cut_short && theirs.len() == ours_entries.len() + 1 {
        let last = theirs.last().unwrap();
        if text(&last["id"]).is_none() && text(&last["link"]).is_none() {
            findings.known(
                &CUT_ENTRY_DROPPED,
                format!(
                    "{at} entries[{}]: feedparser keeps one titled {} (no id, no link)",
                    theirs.len() - 1,
                    quoted(text(&last["title"]))
                ),
            );
            theirs = &theirs[..theirs.len() - 1];
        }
    }
    if ours_entries.len() != theirs.len() {
        findings.mismatch(at, "entry count", ours_entries.len(), theirs.len());
    }
    let feed_author = first_person(&feed["authors"]);
    for (index, (mine, their)) in ours_entries.iter().zip(theirs).enumerate() {
        let at = format!("{at} entries[{index}]");
        let title = shown(&mine["title"]);
        match text(&their["title"]) {
            None => findings.known(
                &TITLE_FROM_BODY,
                format!("{at} title: ours {} | feedparser none", quoted(title)),
            ),
            Some(their_title) => context.text(findings, &at, "title", title, Some(their_title)),
        }
        match (text(&mine["link"]), text(&their["link"])) {
            (Some(ours), None) if text(&their["id"]) == Some(ours) => findings.known(
                &RDF_ABOUT_LINK,
                format!("{at} link: ours {ours:?} | feedparser none, its id {ours:?}"),
            ),
            (None, Some(theirs)) if Url::parse(theirs).is_err() => findings.known(
                &GUID_NOT_A_LINK,
                format!("{at} link: ours none | feedparser {theirs:?}"),
            ),
            (ours, theirs) => context.link(findings, &at, "link", ours, theirs),
        }
        let date = text(&mine["published"]).or(text(&mine["updated"]));
        context.date(findings, &at, "date", date, text(&their["date"]));
        context.person(
            findings,
            &at,
            "author",
            first_person(&mine["authors"]),
            &their["author"],
            feed_author,
        );
    }
}

/// Facts about one document that the known differences are applied by.
struct Context {
    /// The document's address as tributary sees it.
    base: Url,
    /// It ends before its root element is closed.
    cut_short: bool,
    /// feedparser read it with its loose parser.
    bozo: bool,
    /// Atom or JSON Feed: formats where an entry inherits the feed's authors.
    authors_inherited: bool,
}

impl Context {
    fn new(document: &Document, view: &Value) -> Context {
        let bytes = std::fs::read(&document.path).unwrap();
        let root_closed =
            regex::bytes::Regex::new(r"(?i-u)</(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF)\s*>\s*$")
                .unwrap();
        let version = text(&view["version"]).unwrap_or("");
        Context {
            base: Url::from_file_path(&document.path).unwrap(),
            cut_short: document.path.extension().is_none_or(|ext| ext != "json")
                && !root_closed.is_match(&bytes),
            bozo: view["bozo"] == true,
            authors_inherited: version.starts_with("atom") || version.starts_with("json"),
        }
    }

    /// The known difference that explains `ours` against `theirs` in a text field, if any.
    fn explain_text(&self, ours: &str, theirs: &str) -> Option<&'static Known> {
        if bare_ampersand_read_by_feedparser(ours).is_match(theirs) {
            return Some(&BARE_AMPERSAND);
        }
        if self.bozo && ours.contains('&') && ours.replace('&', "&amp;") == theirs {
            return Some(&LEFT_ESCAPED);
        }
        if mojibake(ours) == theirs {
            return Some(&CHARSET_PER_STRETCH);
        }
        if theirs.contains('\u{a0}')
            && theirs
                .replace('\u{a0}', " ")
                .split_whitespace()
                .eq(ours.split(' '))
        {
            return Some(&SPACES_COLLAPSED);
        }
        None
    }

    fn text(
        &self,
        findings: &mut Findings,
        at: &str,
        field: &str,
        ours: Option<&str>,
        theirs: Option<&str>,
    ) {
        if ours == theirs {
            return;
        }
        if let (Some(o), Some(t)) = (ours, theirs)
            && let Some(known) = self.explain_text(o, t)
        {
            findings.known(
                known,
                format!("{at} {field}: ours {o:?} | feedparser {t:?}"),
            );
            return;
        }
        findings.mismatch(at, field, quoted(ours), quoted(theirs));
    }

    fn link(
        &self,
        findings: &mut Findings,
        at: &str,
        field: &str,
        ours: Option<&str>,
        theirs: Option<&str>,
    ) {
        let ours = ours.map(str::trim).filter(|link| !link.is_empty());
        let theirs = theirs.map(str::trim).filter(|link| !link.is_empty());
        if ours == theirs {
            return;
        }
        if let (Some(o), Some(t)) = (ours, theirs) {
            let known = match Url::parse(t) {
                Ok(url) => (url.as_str() == o).then_some(&URL_SERIALISED),
                Err(_) => self
                    .base
                    .join(t)
                    .is_ok_and(|joined| joined.as_str() == o)
                    .then_some(&RELATIVE_LINK_RESOLVED),
            };
            if let Some(known) = known {
                findings.known(
                    known,
                    format!("{at} {field}: ours {o:?} | feedparser {t:?}"),
                );
                return;
            }
        }
        self.text(findings, at, field, ours, theirs);
    }

    fn date(
        &self,
        findings: &mut Findings,
        at: &str,
        field: &str,
        ours: Option<&str>,
        theirs: Option<&str>,
    ) {
        if second(ours) != second(theirs) {
            findings.mismatch(at, field, quoted(ours), quoted(theirs));
        }
    }

    /// Compares a first author: name, e-mail and URI.
    fn person(
        &self,
        findings: &mut Findings,
        at: &str,
        field: &str,
        ours: Option<&Value>,
        theirs: &Value,
        feed_author: Option<&Value>,
    ) {
        if theirs.is_null() {
            let Some(ours) = ours else { return };
            if self.authors_inherited && feed_author == Some(ours) {
                findings.known(
                    &AUTHOR_INHERITED,
                    format!("{at} {field}: ours {} | feedparser none", person_line(ours)),
                );
            } else {
                findings.mismatch(at, field, person_line(ours), "none");
            }
            return;
        }
        let Some(ours) = ours else {
            findings.mismatch(at, field, "none", person_line(theirs));
            return;
        };
        let name = shown(&ours["name"]);
        match text(&theirs["name"]) {
            None if name.is_some()
                && (name == text(&theirs["email"]) || name == text(&theirs["uri"])) =>
            {
                findings.known(
                    &PERSON_NAMED_BY_ADDRESS,
                    format!(
                        "{at} {field}.name: ours {:?} | feedparser none",
                        name.unwrap()
                    ),
                );
            }
            their_name => self.text(findings, at, &format!("{field}.name"), name, their_name),
        }
        self.text(
            findings,
            at,
            &format!("{field}.email"),
            shown(&ours["email"]),
            text(&theirs["email"]),
        );
        self.link(
            findings,
            at,
            &format!("{field}.uri"),
            text(&ours["uri"]),
            text(&theirs["uri"]),
        );
    }
}

/// A pattern matching what feedparser's loose parser makes of `ours` when each bare `&name` in
/// it was written bare in the document: `&name`, `&name;`, or the one character of an entity.
fn bare_ampersand_read_by_feedparser(ours: &str) -> Regex {
    let bare = Regex::new(r"&([A-Za-z][A-Za-z0-9]*)").unwrap();
    let mut pattern = String::from("^");
    let mut last = 0;
    for found in bare.find_iter(ours) {
        pattern.push_str(&regex::escape(&ours[last..found.start()]));
        let name = regex::escape(found.as_str());
        write!(pattern, "(?:{name};?|.)").unwrap();
        last = found.end();
    }
    if last == 0 {
        return Regex::new("^$.").unwrap(); // no bare & to explain anything by
    }
    pattern.push_str(&regex::escape(&ours[last..]));
    pattern.push('$');
    Regex::new(&pattern).unwrap()
}

/// A date to the second, or the text that is no RFC 3339 date.
fn second(date: Option<&str>) -> Option<Result<i64, &str>> {
    date.map(|date| {
        DateTime::parse_from_rfc3339(date)
            .map(|date| date.timestamp())
            .map_err(|_| date)
    })
}

/// `text` as it shows when its UTF-8 bytes are decoded as windows-1252.
fn mojibake(text: &str) -> String {
    encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(text.as_bytes())
        .0
        .into_owned()
}

fn check_repairs(
    document: &Document,
    view: &Value,
    ours: &Result<Value, String>,
    findings: &mut Findings,
) {
    let Ok(ours) = ours else { return };
    let Some(repairs) = ours.get("repairs") else {
        findings.repairs_skipped.push(document.label.clone());
        return;
    };
    findings.repairs_checked += 1;
    let count = repairs.as_array().map_or(0, Vec::len);
    let faulty = match document.kind {
        Kind::Fault => true,
        Kind::Rule => false,
        // A variant is faulty when expat finds a fault in it.
        Kind::Variant => !view["fault"].is_null(),
    };
    if faulty && count == 0 {
        findings.mismatch(
            &document.label,
            "repairs",
            "none",
            format!("a fault: {}", text(&view["fault"]).unwrap_or("?")),
        );
    }
    if !faulty && count > 0 {
        findings.mismatch(
            &document.label,
            "repairs",
            repairs,
            "none: it is well-formed",
        );
    }
}

fn report(findings: &Findings, feedparser: &str, fixtures: usize, variants: usize) -> String {
    let mut out = format!(
        "feedparser {feedparser} against `tributary parse --json` on {fixtures} documents in {FIXTURES} \
         and {variants} variants of the rule_* XML ones\n"
    );
    writeln!(out, "\nMISMATCHES ({}):", findings.mismatches.len()).unwrap();
    for line in &findings.mismatches {
        writeln!(out, "  {line}").unwrap();
    }
    if !findings.fixture_problems.is_empty() {
        writeln!(
            out,
            "\nFIXTURE PROBLEMS ({}):",
            findings.fixture_problems.len()
        )
        .unwrap();
        for line in &findings.fixture_problems {
            writeln!(out, "  {line}").unwrap();
        }
    }
    writeln!(out, "\nKNOWN DIFFERENCES (on purpose; applied by rule):").unwrap();
    for known in KNOWN_DIFFERENCES {
        let seen = findings
            .known
            .get(known.name)
            .map_or(&[][..], Vec::as_slice);
        writeln!(out, "  {} ({} here): {}", known.name, seen.len(), known.why).unwrap();
        for line in seen {
            writeln!(out, "    {line}").unwrap();
        }
    }
    if findings.repairs_skipped.is_empty() {
        writeln!(
            out,
            "\nrepairs: checked on {} documents",
            findings.repairs_checked
        )
        .unwrap();
    } else {
        writeln!(
            out,
            "\nrepairs: check SKIPPED on {} documents whose report has no \"repairs\" (checked on {})",
            findings.repairs_skipped.len(),
            findings.repairs_checked
        )
        .unwrap();
    }
    out
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn entries(report: &Value) -> &[Value] {
    report["entries"].as_array().map_or(&[], Vec::as_slice)
}

fn first_person(authors: &Value) -> Option<&Value> {
    authors.as_array().and_then(|authors| authors.first())
}

fn person_line(person: &Value) -> String {
    let part = |key| text(&person[key]).unwrap_or("-");
    format!("{} <{}> {}", part("name"), part("email"), part("uri"))
}

/// A JSON string, trimmed; an empty one is none. For feedparser's views (already trimmed by
/// feedparser_view.py) and for our links and dates.
fn text(value: &Value) -> Option<&str> {
    value
        .as_str()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// One of our texts as a reader shows it: exactly as reported (white space around it is a
/// difference); an empty one is none.
fn shown(value: &Value) -> Option<&str> {
    value.as_str().filter(|text| !text.is_empty())
}

fn quoted(text: Option<&str>) -> String {
    text.map_or_else(|| "none".to_string(), |text| format!("{text:?}"))
}

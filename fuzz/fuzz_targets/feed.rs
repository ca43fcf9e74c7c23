//! Feed documents: any bytes, under any of the content types a server may claim, are read into
//! entries or refused with an error, never a panic; what is read keeps the bounds the daemon
//! promises (entries per document, title length, no character XML forbids, at most 100 repairs
//! listed), reading only the changes of a document whose entries are all known reads nothing
//! new, and a document that quick-xml reads as well-formed XML is read without any repair to
//! its structure (no element closed but by its own end tag, no end tag ignored), unless it
//! nests an entry in an entry, which the reader takes as the next entry, as feedparser does.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;
use tributary::normalize::forbidden_in_xml;
use tributary::parse::{MAX_ENTRIES_PER_DOCUMENT, parse_changes, parse_document};

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/rss+xml"),
    Some("text/xml; charset=iso-8859-1"),
    Some("application/feed+json"),
];

/// The repairs only a document that is not well-formed can need.
const STRUCTURAL_REPAIRS: [&str; 4] = ["unclosed <", "closing nothing", "ends inside", "read as closing"];

/// Whether quick-xml reads `text` to its end as one well-formed element tree, attributes
/// included (its reader alone does not check them), with no entry inside an entry.
fn well_formed(text: &str) -> bool {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0;
    let mut entries_open = 0;
    let is_entry = |name: &str| matches!(name, "item" | "entry");
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return depth == 0 && roots == 1,
            Ok(Event::Start(start)) => {
                if !attributes_well_formed(&start) {
                    return false;
                }
                if is_entry(start.local_name().as_ref()) {
                    if entries_open > 0 {
                        return false;
                    }
                    entries_open += 1;
                }
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Ok(Event::End(end)) => {
                entries_open -= usize::from(is_entry(end.local_name().as_ref()));
                depth -= 1;
            }
            Ok(Event::Empty(empty)) => {
                if !attributes_well_formed(&empty) {
                    return false;
                }
                roots += usize::from(depth == 0);
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

fn attributes_well_formed(tag: &quick_xml::events::BytesStart) -> bool {
    tag.attributes().with_checks(true).all(|attribute| attribute.is_ok())
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, document)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(choice) % CONTENT_TYPES.len()];
    let url = url::Url::parse("https://fuzz.example/feed.xml").unwrap();
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let Ok(parsed) = parse_document("fuzz", document, content_type, &url, now) else {
        return;
    };
    assert!(parsed.entries.len() <= MAX_ENTRIES_PER_DOCUMENT);
    assert!(parsed.repairs.len() <= 100);
    if let Ok(text) = std::str::from_utf8(document)
        && well_formed(text)
    {
        for repair in &parsed.repairs {
            assert!(
                !STRUCTURAL_REPAIRS.iter().any(|kind| repair.what.contains(kind)),
                "a well-formed document repaired: {repair}"
            );
        }
    }
    for entry in &parsed.entries {
        assert!(
            entry.title.chars().count() <= 1_000,
            "{}",
            entry.title.len()
        );
        for text in [
            Some(&entry.title),
            entry.summary.as_ref(),
            entry.content.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(!text.contains(forbidden_in_xml), "{text:?}");
        }
    }
    let changes = parse_changes("fuzz", document, content_type, &url, now, &HashMap::new())
        .expect("a document read whole is read in parts too");
    let known: HashMap<_, _> = changes
        .raw_hashes
        .iter()
        .zip(&changes.entries)
        .filter_map(|(hash, entry)| Some(((*hash)?, entry.key.clone())))
        .collect();
    if known.len() == changes.entries.len() && !known.is_empty() {
        let again = parse_changes("fuzz", document, content_type, &url, now, &known)
            .expect("read a second time");
        assert!(again.entries.is_empty(), "known entries read again");
    }
});

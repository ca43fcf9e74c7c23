//! Feed documents: any bytes, under any of the content types a server may claim, are read into
//! entries or refused with an error, never a panic; what is read keeps the bounds the daemon
//! promises (entries per document, title length, no character XML forbids), and reading only
//! the changes of a document whose entries are all known reads nothing new.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use tributary::normalize::forbidden_in_xml;
use tributary::parse::{MAX_ENTRIES_PER_DOCUMENT, parse_changes, parse_document};

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/rss+xml"),
    Some("text/xml; charset=iso-8859-1"),
    Some("application/feed+json"),
];

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

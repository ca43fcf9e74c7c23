//! Ingest throughput: how fast feed XML becomes normalized entries, beside the feed readers it
//! could be built on, on the same files in the same run; and the per-entry steps after
//! parsing (content hash, HTML sanitizing) and the rendering of the merged feed.
//!
//! The target is parse + normalize at 50 MB/s of feed XML or more per core. `tributary` runs
//! `parse_document` (decode, the forgiving XML reader and feedparser's mapping, sanitize, hash,
//! ids) on documents never seen; `tributary-repaired` on the same documents damaged as sloppy
//! publishers damage them (a PHP warning before the root, entries never closed, bare `&`), which
//! need repairs; `tributary-known` runs `parse_changes` on documents whose entries are all
//! stored, the common poll (every entry is recognized by the hash of its bytes, none is read);
//! `feed-rs`, `rss` and `atom_syndication` only read the XML into their own models.
//! `bench/ingest_feedparser.py` times Python's feedparser on the same files for comparison
//! (`--damaged` on the damaged ones).
//!
//!     cargo bench --bench ingest                 # about 50 seconds
//!     cargo bench --bench ingest -- --quick      # rougher figures, in seconds
//!     cargo bench --bench ingest -- ingest/      # one group
//!
//! The corpus is generated at start unless `TRIBUTARY_BENCH_CORPUS` names one (see
//! `benches/corpus/mod.rs`); to compare with feedparser on the very same bytes:
//!
//!     python3 bench/generate.py --atom /tmp/corpus 40 25
//!     TRIBUTARY_BENCH_CORPUS=/tmp/corpus cargo bench --bench ingest
//!     python3 bench/ingest_feedparser.py /tmp/corpus
//!     python3 bench/ingest_feedparser.py --damaged /tmp/corpus

mod corpus;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tributary::config::Config;
use tributary::dedup::content_hash;
use tributary::model::Entry;
use tributary::normalize::sanitize_html;
use tributary::parse::{Changes, RawHash, parse_changes};
use tributary::publish::{Feeds, Slice};

use corpus::{Corpus, Document};

/// Entries in the rendered feed, as with `max_entries: 200`.
const RENDERED_ENTRIES: usize = 200;

fn total_bytes(documents: &[Document]) -> u64 {
    documents
        .iter()
        .map(|document| document.bytes.len() as u64)
        .sum()
}

/// Reads one document and drops what it read.
type Reader = fn(&Document);

fn with_tributary(document: &Document) {
    black_box(document.parse(&document.source));
}

fn with_feed_rs(document: &Document) {
    black_box(feed_rs::parser::parse(&document.bytes[..]).expect("a feed"));
}

fn with_rss(document: &Document) {
    black_box(rss::Channel::read_from(&document.bytes[..]).expect("an RSS channel"));
}

fn with_atom_syndication(document: &Document) {
    black_box(atom_syndication::Feed::read_from(&document.bytes[..]).expect("an Atom feed"));
}

/// What a poll reads of `document` when the store holds `known` for its source.
fn changes(document: &Document, known: &HashMap<RawHash, String>) -> Changes {
    parse_changes(
        &document.source,
        &document.bytes,
        None,
        &document.url,
        corpus::now(),
        known,
    )
    .unwrap_or_else(|error| panic!("{}: {error}", document.source))
}

/// What the store holds for `document`'s source once it was stored: every entry.
fn known(document: &Document) -> HashMap<RawHash, String> {
    let changes = changes(document, &HashMap::new());
    let hashes = changes
        .raw_hashes
        .into_iter()
        .map(|hash| hash.expect("XML"));
    hashes
        .zip(changes.entries.into_iter().map(|entry| entry.key))
        .collect()
}

/// A PHP warning, as servers print it before a feed.
const PHP_WARNING: &str = "<br />\n<b>Warning</b>:  Cannot modify header information - headers already sent in <b>/var/www/feed.php</b> on line <b>12</b><br />\n";

/// The document as sloppy publishers serve it, needing repairs to be read: a PHP warning before
/// it, every entry's end tag missing, and every `&amp;` written as a bare `&`.
/// `bench/ingest_feedparser.py --damaged` makes the same bytes.
fn damaged(document: &Document) -> Document {
    let text = String::from_utf8_lossy(&document.bytes)
        .replace("</item>", "")
        .replace("</entry>", "")
        .replace("&amp;", "&");
    Document {
        source: document.source.clone(),
        url: document.url.clone(),
        bytes: format!("{PHP_WARNING}{text}").into_bytes(),
    }
}

/// Each reader over every document of the formats it reads.
fn ingest(c: &mut Criterion, corpus: &Corpus) {
    let readers: [(&str, &[Document], Reader); 6] = [
        ("tributary/rss", &corpus.rss, with_tributary),
        ("feed-rs/rss", &corpus.rss, with_feed_rs),
        ("rss/rss", &corpus.rss, with_rss),
        ("tributary/atom", &corpus.atom, with_tributary),
        ("feed-rs/atom", &corpus.atom, with_feed_rs),
        ("atom_syndication/atom", &corpus.atom, with_atom_syndication),
    ];
    let mut group = c.benchmark_group("ingest");
    // Ten passes of tributary over the corpus take about three seconds.
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(4));
    for (name, documents, read) in readers {
        group.throughput(Throughput::BytesDecimal(total_bytes(documents)));
        group.bench_function(name, |b| b.iter(|| documents.iter().for_each(read)));
    }
    // Documents that are not well-formed, read with repairs (feed-rs and the others refuse them).
    for (name, documents) in [
        ("tributary-repaired/rss", &corpus.rss),
        ("tributary-repaired/atom", &corpus.atom),
    ] {
        let damaged: Vec<Document> = documents.iter().map(damaged).collect();
        group.throughput(Throughput::BytesDecimal(total_bytes(&damaged)));
        group.bench_function(name, |b| {
            b.iter(|| {
                for document in &damaged {
                    let parsed = document.parse(&document.source);
                    assert!(!parsed.repairs.is_empty(), "read with repairs");
                    black_box(parsed);
                }
            })
        });
    }
    // The common poll: a document whose entries are all stored already, known by their bytes.
    for (name, documents) in [
        ("tributary-known/rss", &corpus.rss),
        ("tributary-known/atom", &corpus.atom),
    ] {
        let known: Vec<_> = documents.iter().map(known).collect();
        group.throughput(Throughput::BytesDecimal(total_bytes(documents)));
        group.bench_function(name, |b| {
            b.iter(|| {
                for (document, known) in documents.iter().zip(&known) {
                    let changes = changes(document, known);
                    assert!(changes.entries.is_empty(), "every entry is known");
                    black_box(changes);
                }
            })
        });
    }
    group.finish();
}

/// The per-entry steps: hashing a normalized entry's body, and sanitizing a body as published.
fn hash(c: &mut Criterion, corpus: &Corpus, entries: &[Entry]) {
    let mut group = c.benchmark_group("hash");
    group.sampling_mode(SamplingMode::Flat);
    let bodies: u64 = entries
        .iter()
        .filter_map(|entry| entry.content.as_ref().or(entry.summary.as_ref()))
        .map(|body| body.len() as u64)
        .sum();
    group.throughput(Throughput::BytesDecimal(bodies));
    group.bench_function("content_hash", |b| {
        b.iter(|| {
            for entry in entries {
                black_box(content_hash(
                    entry.content.as_deref(),
                    entry.summary.as_deref(),
                    &entry.title,
                    entry.link.as_deref(),
                ));
            }
        })
    });
    // The raw HTML of every RSS item, with the URL of its document as the base.
    let published: Vec<(String, &url::Url)> = corpus
        .rss
        .iter()
        .flat_map(|document| {
            let channel = rss::Channel::read_from(&document.bytes[..]).expect("an RSS channel");
            let items = channel.into_items().into_iter();
            items.filter_map(move |item| Some((item.description?, &document.url)))
        })
        .collect();
    group.throughput(Throughput::BytesDecimal(
        published.iter().map(|(html, _)| html.len() as u64).sum(),
    ));
    group.bench_function("sanitize_html", |b| {
        b.iter(|| {
            for (html, base) in &published {
                black_box(sanitize_html(html, Some(base)));
            }
        })
    });
    group.finish();
}

/// The merged feed in Atom, RSS and JSON Feed, as after every poll that changed something;
/// throughput is in bytes of the three documents.
fn render(c: &mut Criterion, entries: &[Entry]) {
    let config = Config::parse(
        std::path::Path::new("/srv/config.yaml"),
        "feed:\n  title: \"Bench river\"\n  base_url: \"https://feeds.example\"\n  \
         max_entries: 200\n",
    )
    .expect("a valid config");
    let slice = Slice {
        settings: &config.feed,
        prefix: String::new(),
        title: config.feed.title.clone(),
        query: String::new(),
    };
    let entries: Arc<[Entry]> = entries[..RENDERED_ENTRIES].into();
    let feeds = Feeds::render(&slice, Arc::clone(&entries));
    let written = [&feeds.atom, &feeds.rss, &feeds.json]
        .iter()
        .map(|document| document.body.len() as u64)
        .sum();
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::BytesDecimal(written));
    group.bench_function(format!("feeds/{RENDERED_ENTRIES}"), |b| {
        b.iter(|| black_box(Feeds::render(&slice, Arc::clone(&entries))))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let corpus = Corpus::load();
    let entries: Vec<Entry> = corpus
        .rss
        .iter()
        .flat_map(|document| document.parse(&document.source).entries)
        .collect();
    assert!(
        entries.len() >= RENDERED_ENTRIES,
        "the corpus has {} entries, fewer than the {RENDERED_ENTRIES} rendered",
        entries.len()
    );
    ingest(c, &corpus);
    hash(c, &corpus, &entries);
    render(c, &entries);
}

criterion_group! {
    name = ingest_benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(ingest_benches);

//! The store's steady-state paths on a real SQLite file: what every poll of an unchanged feed
//! pays per entry (the dedup lookup), what a feed that syndicates stories stored from another
//! source pays, and the query behind the merged feed.
//!
//! The corpus (`benches/corpus/mod.rs`) is parsed once and each feed is stored under its own
//! source name. Then, one ingest per source as a poll does:
//!
//! - `ingest/unchanged`: every feed again. Most entries are found by id with the same hash;
//!   the few the generator copied from another feed go down the duplicate path every time.
//! - `ingest/duplicates`: the Atom copy of every feed, under another source name (`-mirror`):
//!   every entry is found as a duplicate of a stored story whose sources already list the
//!   mirror, so nothing is written. A first pass before timing lists them.
//! - `latest_from/merged`: the newest 200 entries of all sources (as many as the merged feed
//!   asks for); `latest_from/one_source`: those of one source, as its own feed (all 25 of a
//!   feed of the default corpus).
//!
//! Each ingest passes no source record, so the retention step of remote polls is left out.
//!
//! Throughput is in entries (ingested or read back).
//!
//!     cargo bench --bench store                  # about 20 seconds
//!     cargo bench --bench store -- --quick

mod corpus;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tributary::model::Entry;
use tributary::store::{Policy, Store};

use corpus::{Corpus, Document, now};

/// Entries asked for, as by the merged feed with `max_entries: 200`.
const LATEST: usize = 200;

/// Each document's entries under `source_of` its document.
fn polls(documents: &[Document], source_of: impl Fn(&Document) -> String) -> Vec<Vec<Entry>> {
    documents
        .iter()
        .map(|document| document.parse(&source_of(document)).entries)
        .collect()
}

fn entry_count(polls: &[Vec<Entry>]) -> u64 {
    polls.iter().map(|entries| entries.len() as u64).sum()
}

/// Stores each poll in its own transaction, as the pipeline does; returns how many entries
/// were written (new, updated, or newly listed under another source).
async fn ingest_all(store: &Store, polls: &[Vec<Entry>]) -> usize {
    let mut written = 0;
    for entries in polls {
        let counts = store.ingest(entries, None, now()).await.expect("ingest");
        written += counts.new + counts.updated + counts.newly_also_in;
    }
    written
}

fn benches(c: &mut Criterion) {
    let corpus = Corpus::load();
    let originals = polls(&corpus.rss, |document| document.source.clone());
    let mirrors = polls(&corpus.atom, |document| {
        format!("{}-mirror", document.source)
    });
    let runtime = Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = runtime
        .block_on(Store::open(&dir.path().join("bench.db"), Policy::default()))
        .expect("a new store");
    runtime.block_on(async {
        for polls in [&originals, &mirrors] {
            assert!(ingest_all(&store, polls).await > 0, "the first pass stores");
            assert_eq!(
                ingest_all(&store, polls).await,
                0,
                "the next ones write nothing"
            );
        }
    });

    let mut group = c.benchmark_group("ingest");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(entry_count(&originals)));
    group.bench_function("unchanged", |b| {
        b.iter(|| black_box(runtime.block_on(ingest_all(&store, &originals))))
    });
    group.throughput(Throughput::Elements(entry_count(&mirrors)));
    group.bench_function("duplicates", |b| {
        b.iter(|| black_box(runtime.block_on(ingest_all(&store, &mirrors))))
    });
    group.finish();

    let sources: Vec<&str> = corpus
        .rss
        .iter()
        .map(|document| document.source.as_str())
        .collect();
    let latest = |sources: &[&str]| {
        runtime
            .block_on(store.latest_from(sources, LATEST, 0))
            .expect("a query")
    };
    let mut group = c.benchmark_group("latest_from");
    for (name, sources) in [("merged", &sources[..]), ("one_source", &sources[..1])] {
        group.throughput(Throughput::Elements(latest(sources).len() as u64));
        group.bench_function(name, |b| b.iter(|| black_box(latest(sources))));
    }
    group.finish();
    runtime.block_on(store.close());
}

criterion_group! {
    name = store_benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(store_benches);

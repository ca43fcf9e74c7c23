//! What answering one request costs inside the process: the work `Server` does between hyper
//! handing it a parsed request and hyper writing the answer. Hyper's parsing and writing and the
//! kernel's sockets are not in it: `bench/http.sh` measures all of that against nginx.
//!
//! The merged feed holds 200 entries of 3-4 KB (about 700 KB of Atom), as in `bench/http.sh`.
//!
//! - `answer/304`: `GET /feed.atom` with `If-None-Match:` its ETag, as a polling reader sends.
//! - `answer/200`: the same without `If-None-Match`: headers and a reference to the bytes.
//! - `answer/head`: `HEAD /feed.atom`.
//! - `answer/304_routed`: `GET /feed.atom?` with the ETag: the same document through axum's
//!   router, its extractors and the `/metrics` middleware, the way every request went before
//!   issue #28 (behind one more middleware then, for the length of the URI).
//! - `answer/healthz`: `GET /healthz`: the router and a ping of the store.
//!
//! Run with:
//!
//!     cargo bench --bench serve                  # about 20 seconds
//!     cargo bench --bench serve -- --quick

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hyper::service::Service;
use tokio::runtime::Runtime;
use tributary::Config;
use tributary::config::FetchSettings;
use tributary::dedup::content_hash;
use tributary::fetch::Fetcher;
use tributary::metrics::Metrics;
use tributary::model::{Entry, EntryId};
use tributary::publish::Publisher;
use tributary::server::{Server, ServerState};
use tributary::status::{Snapshot, StatusBoard};
use tributary::store::{Policy, Store};
use tributary::websub::hub::Hub;
use tributary::websub::subscriber::Subscriber;

const ENTRIES: usize = 200;

/// An entry of 11 to 14 paragraphs of 40 words, 3-4 KB of HTML, like `bench/http.sh`'s origin.
fn entry(number: usize) -> Entry {
    const WORDS: [&str; 12] = [
        "feed", "reader", "cache", "poll", "origin", "entry", "source", "merge", "river", "header",
        "request", "answer",
    ];
    let mut state = number as u64 * 2_654_435_761 + 1;
    let mut word = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        WORDS[(state >> 33) as usize % WORDS.len()]
    };
    let paragraphs = 11 + number % 4;
    let content: String = (0..paragraphs)
        .map(|_| {
            let words: Vec<&str> = (0..40).map(|_| word()).collect();
            format!("<p>{}.</p>", words.join(" "))
        })
        .collect();
    let title = format!("Post number {number}");
    let key = format!("http://origin.test/posts/{number}");
    Entry {
        id: EntryId::derive("origin", &key),
        source: "origin".to_string(),
        link: Some(key.clone()),
        key,
        authors: Vec::new(),
        published: Some(
            Utc.timestamp_opt(1_780_000_000 + number as i64 * 3600, 0)
                .unwrap(),
        ),
        updated: None,
        summary: None,
        content_hash: content_hash(Some(&content), None, &title, None),
        content: Some(content),
        title,
        categories: Vec::new(),
        enclosures: Vec::new(),
        image: None,
        also_in: Vec::new(),
    }
}

/// One kind of request and the status it must be answered with.
struct Case<'a> {
    name: &'static str,
    method: Method,
    uri: &'static str,
    headers: &'a [(&'a str, &'a str)],
    status: StatusCode,
}

impl<'a> Case<'a> {
    fn new(
        name: &'static str,
        method: Method,
        uri: &'static str,
        headers: &'a [(&'a str, &'a str)],
        status: u16,
    ) -> Case<'a> {
        let status = StatusCode::from_u16(status).expect("a status code");
        Case {
            name,
            method,
            uri,
            headers,
            status,
        }
    }
}

fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).expect("a valid request")
}

fn benches(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = runtime
        .block_on(Store::open(&dir.path().join("bench.db"), Policy::default()))
        .expect("a new store");
    let config = Config::parse(
        Path::new("/bench/config.yaml"),
        "feed:\n  title: Bench\n  base_url: \"http://127.0.0.1:8080\"\n  max_entries: 200\n",
    )
    .expect("a valid config");
    // Newest first, as the store gives them.
    let entries: Vec<Entry> = (0..ENTRIES).rev().map(entry).collect();
    let publisher = Publisher::new(
        store.clone(),
        Arc::new(config),
        &entries,
        &Snapshot::default(),
    );
    let atom = &publisher.current().merged.atom;
    assert!(
        (700_000..800_000).contains(&atom.body.len()),
        "the merged Atom feed is {} bytes",
        atom.body.len()
    );
    let etag = atom.etag(tributary::publish::Encoding::Identity).clone();
    let etag = etag.to_str().expect("an ASCII ETag").to_string();
    let (publisher, status, metrics) = (
        Arc::new(publisher),
        Arc::new(StatusBoard::default()),
        Arc::new(Metrics::default()),
    );
    let fetcher = Arc::new(ArcSwap::from_pointee(Fetcher::new(
        &FetchSettings::default(),
        "http://127.0.0.1:8080",
    )));
    let hub = Hub::new(
        store.clone(),
        Arc::clone(&publisher),
        Arc::clone(&fetcher),
        Arc::clone(&status),
        Arc::clone(&metrics),
    );
    // No hub pushes here: what one would push is never read.
    let (pushes, _unread) = tokio::sync::mpsc::channel(1);
    let subscriber = Subscriber::new(store.clone(), fetcher, Arc::clone(&status), pushes);
    let server = Server::new(ServerState {
        publisher,
        store: store.clone(),
        status,
        metrics,
        last_ping: Default::default(),
        hub: Arc::new(hub),
        subscriber: Arc::new(subscriber),
    });
    let answer = |request: Request<Body>| {
        runtime
            .block_on(server.call(request))
            .expect("the server answers")
    };

    let mut group = c.benchmark_group("answer");
    let if_none_match = [("if-none-match", etag.as_str())];
    let cases = [
        Case::new("304", Method::GET, "/feed.atom", &if_none_match, 304),
        Case::new("200", Method::GET, "/feed.atom", &[], 200),
        Case::new("head", Method::HEAD, "/feed.atom", &[], 200),
        Case::new(
            "304_routed",
            Method::GET,
            "/feed.atom?",
            &if_none_match,
            304,
        ),
        Case::new("healthz", Method::GET, "/healthz", &[], 200),
    ];
    for case in &cases {
        let make = || request(case.method.clone(), case.uri, case.headers);
        assert_eq!(answer(make()).status(), case.status, "{}", case.name);
        group.bench_function(case.name, |b| {
            b.iter_batched(
                make,
                |request| black_box(answer(request)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
    runtime.block_on(store.close());
}

criterion_group! {
    name = serve_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(serve_benches);

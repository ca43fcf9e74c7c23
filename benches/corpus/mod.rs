//! The feeds every bench reads: `bench/generate.py --atom` output, RSS 2.0 and Atom 1.0 copies
//! of the same entries, loaded into memory once.
//!
//! Set `TRIBUTARY_BENCH_CORPUS=DIR` to read a folder made beforehand with
//! `python3 bench/generate.py --atom DIR SOURCES [ENTRIES]`; otherwise the corpus is generated into
//! a temporary folder at start, `FEEDS` feeds of `ENTRIES` entries (about 3.4 MB per format).

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use tributary::parse::{ParsedFeed, parse_document};
use url::Url;

/// Enough sources for the merged-feed query to take the plan it takes for many sources.
const FEEDS: &str = "40";
const ENTRIES: &str = "25";

/// One feed document, named as a source.
pub struct Document {
    /// The source name: the file name without its extension (`feed00007`).
    pub source: String,
    /// Where the document is said to come from (its entries' base URL).
    pub url: Url,
    pub bytes: Vec<u8>,
}

impl Document {
    /// Parses and normalizes the document as tributary does, its entries stored under `source`.
    pub fn parse(&self, source: &str) -> ParsedFeed {
        parse_document(source, &self.bytes, None, &self.url, now())
            .unwrap_or_else(|error| panic!("{}: {error}", self.source))
    }
}

pub struct Corpus {
    pub rss: Vec<Document>,
    pub atom: Vec<Document>,
}

impl Corpus {
    pub fn load() -> Corpus {
        match std::env::var_os("TRIBUTARY_BENCH_CORPUS") {
            Some(dir) => Corpus::read(Path::new(&dir)),
            None => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/generate.py");
                let status = Command::new("python3")
                    .arg(&script)
                    .arg("--atom")
                    .arg(dir.path())
                    .args([FEEDS, ENTRIES])
                    .status()
                    .expect("python3 runs bench/generate.py");
                assert!(status.success(), "{} failed: {status}", script.display());
                Corpus::read(dir.path())
            }
        }
    }

    fn read(dir: &Path) -> Corpus {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|item| item.expect("a readable folder").path())
            .collect();
        files.sort();
        let documents = |extension: &str| -> Vec<Document> {
            let documents: Vec<Document> = files
                .iter()
                .filter(|path| path.extension().is_some_and(|found| found == extension))
                .map(|path| {
                    let source = path.file_stem().expect("a file name").to_string_lossy();
                    Document {
                        url: Url::parse(&format!("https://{source}.example/feed.{extension}"))
                            .expect("a valid URL"),
                        source: source.into_owned(),
                        bytes: std::fs::read(path)
                            .unwrap_or_else(|error| panic!("{}: {error}", path.display())),
                    }
                })
                .collect();
            assert!(
                !documents.is_empty(),
                "no *.{extension} feeds in {}: make them with bench/generate.py --atom",
                dir.display()
            );
            documents
        };
        Corpus {
            rss: documents("xml"),
            atom: documents("atom"),
        }
    }
}

/// The fixed "now" every document is parsed and stored at, after all the generated dates.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_100_000, 0).expect("a valid time")
}

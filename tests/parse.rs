//! The fixture corpus in tests/fixtures: one small document per tricky case, each with what a
//! careful reader takes from it.

use chrono::{DateTime, TimeZone, Utc};
use tributary::parse::{ParsedFeed, charset, parse_document};
use url::Url;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn parse_fixture(name: &str, content_type: Option<&str>) -> ParsedFeed {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap();
    let url = Url::parse(&format!("https://origin.example/feeds/{name}")).unwrap();
    parse_document("fixture", &bytes, content_type, &url, now())
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn titles(feed: &ParsedFeed) -> Vec<&str> {
    feed.entries
        .iter()
        .map(|entry| entry.title.as_str())
        .collect()
}

fn rfc3339(date: Option<DateTime<Utc>>) -> Option<String> {
    date.map(|date| date.to_rfc3339())
}

#[test]
fn rss_090_is_read_as_its_successor() {
    let feed = parse_fixture("rss090.rdf", Some("application/rdf+xml"));
    assert_eq!(feed.title.as_deref(), Some("Mozilla Dot Org"));
    assert_eq!(
        titles(&feed),
        ["New Status Updates", "Bugzilla Reorganized"]
    );
    assert_eq!(
        feed.entries[0].link.as_deref(),
        Some("http://www.mozilla.org/status/")
    );
    // No guid: the link is the identity.
    assert_eq!(feed.entries[0].key, "http://www.mozilla.org/status/");
}

#[test]
fn rss_091_and_092_are_read_with_enclosures() {
    let feed = parse_fixture("rss091.xml", None);
    assert_eq!(titles(&feed), ["Giving the world a pluggable Gnutella"]);
    assert_eq!(
        feed.entries[0].summary.as_deref(),
        Some("WorldOS is a framework on which to build programs.")
    );
    let feed = parse_fixture("rss092.xml", None);
    let entry = &feed.entries[0];
    assert_eq!(entry.title, "It's been a few days since I added a song.");
    assert_eq!(
        entry.enclosures[0].url,
        "http://www.scripting.com/mp3s/weatherReportDicksPicsVol7.mp3"
    );
    assert_eq!(entry.enclosures[0].length, Some(6182912));
    assert_eq!(entry.enclosures[0].mime_type.as_deref(), Some("audio/mpeg"));
}

#[test]
fn rss_10_takes_rdf_about_dc_date_and_dc_creator() {
    let feed = parse_fixture("rss10.rdf", None);
    let entry = &feed.entries[0];
    assert_eq!(entry.key, "http://xml.com/pub/2000/08/09/xslt/xslt.html");
    assert_eq!(
        rfc3339(entry.published).as_deref(),
        Some("2000-08-09T17:30:00+00:00")
    );
    assert_eq!(entry.authors[0].name, "Bob DuCharme");
}

#[test]
fn rss_20_keeps_content_authors_categories_media_and_strips_control_characters() {
    let feed = parse_fixture("rss20.xml", Some("application/rss+xml"));
    let star = &feed.entries[0];
    assert_eq!(
        star.key,
        "http://liftoff.msfc.nasa.gov/2003/06/03.html#item573"
    );
    assert_eq!(
        star.content.as_deref(),
        Some(
            "<p>How do Americans get ready to work with Russians aboard the International Space Station?</p>"
        )
    );
    assert_eq!(star.summary.as_deref(), Some("Short summary."));
    assert_eq!(star.authors[0].name, "Jane Editor");
    assert_eq!(star.authors[0].email.as_deref(), Some("editor@example.com"));
    assert_eq!(star.categories, ["space", "russia"]);
    assert_eq!(
        rfc3339(star.published).as_deref(),
        Some("2003-06-03T09:39:21+00:00")
    );
    assert_eq!(star.enclosures.len(), 1);
    assert_eq!(star.enclosures[0].length, Some(24986239));
    assert_eq!(
        star.image.as_deref(),
        Some("http://liftoff.msfc.nasa.gov/img/starcity.jpg")
    );

    let relative = &feed.entries[1];
    // Relative links resolve against the document's URL.
    assert_eq!(
        relative.link.as_deref(),
        Some("https://origin.example/news/relative.asp")
    );
    assert_eq!(
        relative.summary.as_deref(),
        Some("Control characters are stripped.")
    );
}

#[test]
fn rss_without_a_version_is_read_as_rss_20() {
    let feed = parse_fixture("rss_noversion.xml", None);
    assert_eq!(titles(&feed), ["Still read"]);
    assert_eq!(
        rfc3339(feed.entries[0].published).as_deref(),
        Some("2024-01-01T10:00:00+00:00")
    );
}

#[test]
fn atom_03_keeps_issued_and_modified_and_escaped_content() {
    let feed = parse_fixture("atom03.xml", Some("application/atom+xml"));
    assert_eq!(feed.title.as_deref(), Some("dive into mark"));
    assert_eq!(
        feed.subtitle.as_deref(),
        Some("A lot of effort went into making this effortless")
    );
    assert_eq!(
        feed.authors[0].uri.as_deref(),
        Some("http://diveintomark.org/")
    );
    let entry = &feed.entries[0];
    assert_eq!(entry.key, "tag:diveintomark.org,2003:3.2397");
    assert_eq!(
        rfc3339(entry.published).as_deref(),
        Some("2003-12-13T12:29:29+00:00")
    );
    assert_eq!(
        rfc3339(entry.updated).as_deref(),
        Some("2003-12-13T18:30:02+00:00")
    );
    assert_eq!(
        entry.content.as_deref(),
        Some("<p>Escaped <b>HTML</b> content.</p>")
    );
    assert_eq!(entry.summary.as_deref(), Some("This is a summary."));
}

#[test]
fn atom_10_resolves_xml_base_and_reads_html_titles() {
    let feed = parse_fixture("atom10_xmlbase.xml", None);
    assert_eq!(
        feed.id.as_deref(),
        Some("urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6")
    );
    assert_eq!(feed.authors[0].email.as_deref(), Some("john@example.org"));
    let entry = &feed.entries[0];
    assert_eq!(entry.title, "Atom-Powered Robots Run Amok");
    assert_eq!(
        entry.link.as_deref(),
        Some("http://example.org/blog/2003/robots.html")
    );
    assert_eq!(
        entry.enclosures[0].url,
        "http://example.org/blog/2003/robots.ogg"
    );
    assert_eq!(entry.enclosures[0].length, Some(1337));
    let content = entry.content.as_deref().unwrap();
    assert!(
        content.contains("href=\"http://example.org/blog/about.html\""),
        "{content}"
    );
    assert!(
        content.contains("src=\"http://example.org/blog/2003/img/r.png\""),
        "{content}"
    );
    assert_eq!(entry.categories, ["robots"]);
}

#[test]
fn json_feed_10_and_11_are_read() {
    let feed = parse_fixture("jsonfeed10.json", Some("application/json"));
    let entry = &feed.entries[0];
    assert_eq!(entry.title, "One point oh");
    assert_eq!(
        rfc3339(entry.published).as_deref(),
        Some("2016-02-09T21:22:00+00:00")
    );
    assert_eq!(
        entry.content.as_deref(),
        Some("Plain &lt;text&gt; &amp; more")
    );
    assert_eq!(entry.categories, ["a", "b"]);

    let feed = parse_fixture("jsonfeed11.json", Some("application/feed+json"));
    let entry = &feed.entries[0];
    assert_eq!(entry.content.as_deref(), Some("<p>Hi there</p>"));
    assert_eq!(entry.authors[0].name, "Ann");
    assert_eq!(entry.enclosures[0].url, "https://example.org/a.mp3");
}

#[test]
fn every_charset_path_decodes_the_same_text() {
    let expected = "Crème brûlée à la française, déjà vu";
    let cases = [
        (
            "latin1_declared.xml",
            None,
            charset::EncodingEvidence::XmlDeclaration,
        ),
        (
            "latin1_undeclared.xml",
            None,
            charset::EncodingEvidence::Guess,
        ),
        (
            "latin1_undeclared.xml",
            Some("text/xml; charset=iso-8859-1"),
            charset::EncodingEvidence::HttpHeader,
        ),
        (
            "utf16le_bom.xml",
            None,
            charset::EncodingEvidence::ByteOrderMark,
        ),
    ];
    for (name, content_type, chosen_by) in cases {
        let feed = parse_fixture(name, content_type);
        assert_eq!(titles(&feed), [expected], "{name} {content_type:?}");
        assert_eq!(feed.title.as_deref(), Some("Café crème"), "{name}");
        assert_eq!(
            feed.encoding_chosen_by, chosen_by,
            "{name} {content_type:?}"
        );
    }
    let feed = parse_fixture(
        "windows1252_header.xml",
        Some("application/rss+xml; charset=windows-1252"),
    );
    assert_eq!(titles(&feed), ["Crème brûlée à la française, “quoted”"]);
}

#[test]
fn date_variants_are_read_and_bad_or_future_dates_are_dropped() {
    let feed = parse_fixture("dates.xml", None);
    let dates: Vec<(&str, Option<String>)> = feed
        .entries
        .iter()
        .map(|entry| (entry.key.as_str(), rfc3339(entry.published)))
        .collect();
    let expected = [
        ("named-zone", Some("2003-06-10T12:00:00+00:00")),
        ("wrong-weekday", Some("2003-06-10T04:00:00+00:00")),
        ("two-digit-year", Some("2003-06-10T09:00:00+00:00")),
        ("iso-no-zone", Some("2003-06-10T04:00:00+00:00")),
        ("dc-date", Some("2003-06-10T02:00:00+00:00")),
        ("dcterms", Some("2003-06-10T04:00:00+00:00")),
        // Unreadable and far-future dates give way to the first-seen time, never 1970.
        ("garbage", None),
        ("future", None),
    ];
    let expected: Vec<(&str, Option<String>)> = expected
        .iter()
        .map(|(key, date)| (*key, date.map(str::to_string)))
        .collect();
    assert_eq!(dates, expected);
    let dcterms = feed
        .entries
        .iter()
        .find(|entry| entry.key == "dcterms")
        .unwrap();
    assert_eq!(
        rfc3339(dcterms.updated).as_deref(),
        Some("2003-06-11T04:00:00+00:00")
    );
}

#[test]
fn titles_with_entities_double_escapes_and_cdata_read_as_a_reader_shows_them() {
    let feed = parse_fixture("titles.xml", None);
    assert_eq!(
        titles(&feed),
        [
            "Tom & Jerry",
            "Tom & Jerry ’s",
            "Q&A: bold answers",
            "café — ok"
        ]
    );
}

#[test]
fn sanitization_removes_every_attack_and_keeps_images_and_links() {
    let feed = parse_fixture("sanitize.xml", None);
    let html = feed.entries[0].summary.as_deref().unwrap();
    for banned in [
        "<script",
        "onclick",
        "onerror",
        "javascript:",
        "data:text",
        "<iframe",
        "<form",
        "<input",
        "style=",
    ] {
        assert!(!html.contains(banned), "{banned} survived: {html}");
    }
    assert!(
        html.contains("src=\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\""),
        "{html}"
    );
    assert!(
        html.contains("src=\"https://origin.example/pic.png\""),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://origin.example/rel\""),
        "{html}"
    );
}

#[test]
fn documents_that_are_not_feeds_are_errors() {
    let url = Url::parse("https://origin.example/").unwrap();
    for document in [
        &b"<html><body>not a feed</body></html>"[..],
        b"",
        b"{\"not\": \"a feed\"}",
        b"Warning: cannot connect to the database",
    ] {
        let error = parse_document("x", document, None, &url, now()).unwrap_err();
        assert!(
            error.to_string().starts_with("not a feed document"),
            "{error}"
        );
    }
}

/// Every input on which a fuzzer found the reader failing (tests/fuzz_findings/feed-*) is read
/// or refused with an error under every content type, never a panic, and read in parts
/// wherever it is read whole.
#[test]
fn inputs_that_crashed_the_fuzzer_are_read_or_refused() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz_findings");
    let url = url::Url::parse("https://fuzz.example/feed.xml").unwrap();
    let mut crashers = 0;
    for file in std::fs::read_dir(folder).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with("feed-") {
            continue;
        }
        crashers += 1;
        // The fuzz target's first byte picks the content type; the rest is the document.
        let bytes = std::fs::read(&path).unwrap();
        for content_type in [
            None,
            Some("text/xml; charset=iso-8859-1"),
            Some("application/feed+json"),
        ] {
            let whole = parse_document("fuzz", &bytes[1..], content_type, &url, now());
            let changes = tributary::parse::parse_changes(
                "fuzz",
                &bytes[1..],
                content_type,
                &url,
                now(),
                &Default::default(),
            );
            assert_eq!(whole.is_ok(), changes.is_ok(), "{name}");
        }
    }
    assert!(crashers > 0, "no inputs in {folder}");
    // feed-rs's XML reader panicked on an encoding declared in the middle of the document;
    // ours reads what it can of it, and says what it repaired.
    let late_declaration =
        std::fs::read(format!("{folder}/feed-late-encoding-declaration.bin")).unwrap();
    let read = parse_document("fuzz", &late_declaration[1..], None, &url, now()).unwrap();
    assert_eq!(
        read.entries[0].title,
        "Giving the world a pluggable Gnutella"
    );
    assert!(!read.repairs.is_empty());
}

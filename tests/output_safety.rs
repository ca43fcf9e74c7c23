//! What a hostile publisher or seed writes can do nothing in what we serve: scripts, `on*`
//! handlers, `javascript:` links, a `]]>` and characters XML forbids, in titles and bodies of
//! an RSS feed, a JSON Feed and seeds in text, Markdown and HTML, are neutralized in every
//! output format and HTML page. The outputs are read by parsers, not searched for strings:
//! Python's expat (strict XML), its `json` and its `html.parser`.

mod common;

use std::process::Command;

use common::*;

/// Text that must come through every output as text.
const TITLE: &str = "<script>alert(1)</script> ]]> & \"caught\"";

/// HTML meant to run something, in every way a sanitizer must refuse.
const ATTACK: &str = "<p onclick=\"steal()\">Body ]]> &amp; more</p><script>alert(1)</script>\
     <a href=\"javascript:alert(2)\">js</a><a href=\" JaVaScRiPt:alert(3)\">js</a>\
     <a href=\"data:text/html,&lt;script&gt;alert(4)&lt;/script&gt;\">data</a>\
     <img src=\"https://img.example/x.png\" onerror=\"alert(5)\"><svg onload=\"alert(6)\"></svg>\
     <iframe src=\"https://evil.example/\"></iframe><form action=\"https://evil.example/\">\
     <input name=\"x\"></form><style>body{display:none}</style>\
     <object data=\"https://evil.example/x.swf\"></object>";

/// Reads every output a running daemon serves under `base` (feeds, per-source feeds, the OPML
/// list, the index page and each entry page it links to) and prints, as JSON, what could run in a browser or
/// feed reader, and the entry titles as each format gives them.
const CHECKER: &str = r#"
import html.parser, json, sys, urllib.request
import xml.etree.ElementTree as ET

base, public, sources = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
violations, titles = [], {}
FORBIDDEN = {"script", "iframe", "object", "embed", "form", "input", "frame", "frameset", "base", "svg", "math"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "cite", "background", "xlink:href"}

class Html(html.parser.HTMLParser):
    def __init__(self, where, page):
        super().__init__(convert_charrefs=True)
        self.where, self.page, self.styles, self.text = where, page, 0, []
        self.entry_links = []
    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN:
            violations.append(f"{self.where}: <{tag}>")
        if tag == "style":
            self.styles += 1
        for name, value in attrs:
            if name.startswith("on"):
                violations.append(f"{self.where}: <{tag} {name}>")
            if name in URL_ATTRIBUTES and value is not None:
                scheme = "".join(value.split()).lower().split(":", 1)[0]
                if scheme in ("javascript", "vbscript") or (scheme == "data" and tag != "img"):
                    violations.append(f"{self.where}: <{tag} {name}={value!r}>")
            if name == "href" and value and value.startswith(public + "/entries/"):
                self.entry_links.append(value[len(public):])
    def handle_data(self, data):
        self.text.append(data)

def check_html(where, text, page=False):
    parser = Html(where, page)
    parser.feed(text)
    parser.close()
    # Our pages carry one style sheet of their own; bodies none.
    if parser.styles > (1 if page else 0):
        violations.append(f"{where}: {parser.styles} <style> elements")
    return parser

def get(path):
    with urllib.request.urlopen(base + path) as response:
        return response.read()

def xml_feed(path):
    try:
        root = ET.fromstring(get(path))
    except ET.ParseError as error:
        violations.append(f"{path}: not well-formed XML: {error}")
        return
    atom = "{http://www.w3.org/2005/Atom}"
    items = root.findall(f"{atom}entry") or root.findall("channel/item")
    found = []
    for item in items:
        title = item.find(f"{atom}title")
        if title is None:
            title = item.find("title")
        found.append(title.text)
        for name in (f"{atom}content", f"{atom}summary", "description",
                     "{http://purl.org/rss/1.0/modules/content/}encoded"):
            for body in item.findall(name):
                check_html(f"{path} {name}", body.text or "")
        for link in item.findall(f"{atom}link") + item.findall("link"):
            href = link.get("href") or link.text or ""
            if not href.startswith(("http://", "https://")):
                violations.append(f"{path}: link {href!r}")
    titles[path] = found

def json_feed(path):
    feed = json.loads(get(path))
    found = []
    for item in feed["items"]:
        found.append(item.get("title"))
        # `summary` is plain text in JSON Feed: markup in it is shown, never run.
        check_html(f"{path} content_html", item.get("content_html", ""))
        for name in ("url", "external_url"):
            if item.get(name) and not item[name].startswith(("http://", "https://")):
                violations.append(f"{path}: {name} {item[name]!r}")
    titles[path] = found

for prefix in [""] + [f"/sources/{source}" for source in sources]:
    xml_feed(prefix + "/feed.atom")
    xml_feed(prefix + "/feed.rss")
    json_feed(prefix + "/feed.json")
try:
    ET.fromstring(get("/opml.xml"))
except ET.ParseError as error:
    violations.append(f"/opml.xml: not well-formed XML: {error}")
index = check_html("/", get("/").decode(), page=True)
pages = sorted(set(index.entry_links))
for path in pages:
    page = check_html(path, get(path).decode(), page=True)
    titles[path] = " ".join(page.text)
print(json.dumps({"violations": violations, "titles": titles, "pages": len(pages)}))
"#;

fn rss_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One origin and one daemon serve every hostile construct; the length is the list of outputs each
/// is checked in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_handlers_and_javascript_links_are_neutralized_in_every_output() {
    let origin = Origin::start().await;
    // RSS titles are read as HTML: the escaped title's script element is dropped, its text
    // kept. The control character and the U+FFFF are not XML at all.
    let rss = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>R</title>\
         <link>https://rss.example/</link><description>d</description><item><guid>rss-1</guid>\
         <title>RSS {} &lt;b&gt;bold&lt;/b&gt;</title><link>javascript:alert(7)</link>\
         <description>{}\u{1}\u{FFFF}</description></item></channel></rss>",
        rss_escaped(&rss_escaped(TITLE)),
        rss_escaped(ATTACK),
    );
    origin.serve("/rss", "application/rss+xml", rss);
    let json = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "items": [{
            "id": "json-1",
            "url": "javascript:alert(8)",
            "title": format!("JSON {TITLE}\u{1}\u{FFFE}"),
            "content_html": format!("{ATTACK}\u{2}"),
        }],
    });
    origin.serve("/json", "application/feed+json", json.to_string());

    let workspace = Workspace::new();
    workspace.add_seed(
        "evil.txt",
        &format!("title: Text {TITLE}\n\nA body with javascript:alert(9) and {ATTACK}\n"),
    );
    workspace.add_seed(
        "evil.md",
        &format!(
            "---\ntitle: \"Markdown <script>alert(1)</script> ]]>\"\n---\n\
             [click](javascript:alert(10)) and raw HTML:\n\n{ATTACK}\n"
        ),
    );
    workspace.add_seed(
        "evil.html",
        &format!(
            "<html><head><title>HTML {}</title></head><body>{ATTACK}</body></html>",
            rss_escaped(TITLE)
        ),
    );
    let (rss_url, json_url) = (origin.url("/rss"), origin.url("/json"));
    workspace.write_config(&[
        ("evil-rss", &rss_url, "0 0 1 1 *"),
        ("evil-json", &json_url, "0 0 1 1 *"),
    ]);
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 5).await;

    let output = Command::new("python3")
        .args([
            "-c",
            CHECKER,
            &format!("http://{}", running.addr),
            "http://feeds.test",
            "evil-rss,evil-json,seeds",
        ])
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "the checker failed: {output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["violations"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["pages"], 5, "{report:#}");

    // Every format gives the titles back as the text they are.
    let expected = [
        "RSS <script>alert(1)</script> ]]> & \"caught\" bold",
        &format!("JSON {TITLE}"),
        &format!("Text {TITLE}"),
        "Markdown <script>alert(1)</script> ]]>",
        &format!("HTML {TITLE}"),
    ];
    for format in ["/feed.atom", "/feed.rss", "/feed.json"] {
        let mut titles: Vec<&str> = report["titles"][format]
            .as_array()
            .unwrap_or_else(|| panic!("no titles from {format}: {report:#}"))
            .iter()
            .map(|title| title.as_str().unwrap())
            .collect();
        titles.sort_unstable();
        let mut want = expected.to_vec();
        want.sort_unstable();
        assert_eq!(titles, want, "{format}");
    }
    // Each entry page shows its title as text.
    let pages = report["titles"].as_object().unwrap();
    for (path, text) in pages
        .iter()
        .filter(|(path, _)| path.starts_with("/entries/"))
    {
        let text = text.as_str().unwrap();
        assert!(
            expected.iter().any(|title| text.contains(title)),
            "{path}: {text}"
        );
    }
    running.shutdown().await;
}

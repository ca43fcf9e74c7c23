//! HTTP routes: the merged feeds, the HTML index, entry permalinks and health.
//!
//! Feed routes only copy the current rendering (see `publish`) and answer `If-None-Match` with
//! 304, so a reader polling every minute costs us a memory copy or less. Nothing renders a feed
//! on the request path.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::{Either, Ready, ready};
use serde::Deserialize;

use axum::BoxError;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Form};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LINK, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::routing::{get, post};
use tower::Service as _;

use crate::metrics::{self, Metrics, RequestSeries};
use crate::model::EntryId;
use crate::publish::{
    self, ATOM_PATH, Document, Encoding, HTML_CONTENT_TYPE, JSON_PATH, OPML_PATH, Publisher,
    RSS_PATH,
};
use crate::status::StatusBoard;
use crate::store::Store;
use crate::websub::hub::{Hub, Refusal, SubscriptionForm};
use crate::websub::subscriber::{CallbackError, Subscriber};

/// What the routes need; cheap to clone.
#[derive(Clone)]
pub struct ServerState {
    pub publisher: Arc<Publisher>,
    pub store: Store,
    pub status: Arc<StatusBoard>,
    pub metrics: Arc<Metrics>,
    pub last_ping: LastPing,
    pub hub: Arc<Hub>,
    pub subscriber: Arc<Subscriber>,
}

/// When the store last answered a ping from `/healthz`, or failed to, and how: one ping answers
/// `/healthz` for `PING_FRESH_FOR`, so that a health check polled hard does not put a query on
/// the database for every request.
#[derive(Clone, Default)]
pub struct LastPing(Arc<Mutex<Option<Ping>>>);

/// When a ping was answered, and what it found.
type Ping = (Instant, Result<(), String>);

const PING_FRESH_FOR: Duration = Duration::from_secs(1);

impl LastPing {
    /// Whether `store` answers, as a ping at most `PING_FRESH_FOR` ago found.
    async fn store_answers(&self, store: &Store) -> Result<(), String> {
        let last = || self.0.lock().expect("no code panics holding it");
        if let Some((at, answer)) = &*last()
            && at.elapsed() < PING_FRESH_FOR
        {
            return answer.clone();
        }
        let answer = store.ping().await.map_err(|error| error.to_string());
        *last() = Some((Instant::now(), answer.clone()));
        answer
    }
}

const INDEX: &str = "/";
const MERGED_FEED: &str = "/{file}";
const SOURCE_FEED: &str = "/sources/{name}/{file}";
const TAG_FEED: &str = "/tags/{tag}/{file}";
const ENTRY: &str = "/entries/{id}";
const HEALTHZ: &str = "/healthz";
const STATUS: &str = "/status";
const METRICS: &str = "/metrics";
const WEBSUB: &str = "/websub";
const WEBSUB_CALLBACK: &str = "/websub/callback/{source}/{token}";

/// Every route, as `/metrics` labels requests.
const ROUTES: [&str; 11] = [
    INDEX,
    MERGED_FEED,
    OPML_PATH,
    SOURCE_FEED,
    TAG_FEED,
    ENTRY,
    HEALTHZ,
    STATUS,
    METRICS,
    WEBSUB,
    WEBSUB_CALLBACK,
];

/// What each connection runs. The documents of the current rendering that have a path of their
/// own (the merged feeds, the index, the OPML list), asked for with GET or HEAD and no query, are
/// answered here at once: readers poll them all day, and for a 304, a few headers, axum's
/// routing, extractors and middleware cost more than the answer (issue #28). Every other request
/// goes to the router, which serves these paths too (with `?limit=`, or percent-encoded) and
/// answers them the same way: same headers, same `/metrics` series.
#[derive(Clone)]
pub struct Server {
    state: ServerState,
    router: Router,
    counted: Arc<DocumentSeries>,
}

/// The routes of the documents `Server` answers itself, as `/metrics` labels them.
const DOCUMENT_ROUTES: [&str; 3] = [INDEX, MERGED_FEED, OPML_PATH];

/// The `/metrics` series of the answers `Server` gives (route × 200 or 304), taken from the
/// family at the first such answer and kept: counting one is then an atomic increment, not a
/// lock, a hash of the labels and a lookup.
#[derive(Default)]
struct DocumentSeries([[OnceLock<RequestSeries>; 2]; DOCUMENT_ROUTES.len()]);

impl DocumentSeries {
    fn count(&self, metrics: &Metrics, route: usize, status: StatusCode) {
        let slot = match status {
            StatusCode::OK => 0,
            StatusCode::NOT_MODIFIED => 1,
            _ => return metrics.request(DOCUMENT_ROUTES[route], status.as_u16()),
        };
        self.0[route][slot]
            .get_or_init(|| metrics.request_series(DOCUMENT_ROUTES[route], status.as_u16()))
            .inc();
    }
}

impl Server {
    pub fn new(state: ServerState) -> Server {
        Server {
            router: router(state.clone()),
            state,
            counted: Arc::default(),
        }
    }

    /// The answer for a document at a path of its own, as the router would give it; `None` for
    /// anything else.
    fn document<B>(&self, request: &Request<B>) -> Option<Response> {
        let method = request.method();
        if !(method == Method::GET || method == Method::HEAD) || request.uri().query().is_some() {
            return None;
        }
        let rendered = self.state.publisher.peek();
        // Indexes into DOCUMENT_ROUTES.
        let (route, document) = match request.uri().path() {
            ATOM_PATH => (1, &rendered.merged.atom),
            RSS_PATH => (1, &rendered.merged.rss),
            JSON_PATH => (1, &rendered.merged.json),
            INDEX => (0, &rendered.index),
            OPML_PATH => (2, &*rendered.opml),
            _ => return None,
        };
        let mut response = serve_document(request.headers(), document, &rendered.cache_control);
        // What axum's router does last to every answer: the length, then no body for HEAD.
        if let Some(length) = HttpBody::size_hint(response.body()).exact() {
            response
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(length));
        }
        if method == Method::HEAD {
            *response.body_mut() = Body::empty();
        }
        self.counted
            .count(&self.state.metrics, route, response.status());
        Some(response)
    }
}

/// Requests with any body, as the router takes: hyper's, or a test's or bench's.
impl<B> hyper::service::Service<Request<B>> for Server
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, RouteFuture<Infallible>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        match self.document(&request) {
            Some(response) => Either::Left(ready(Ok(response))),
            None => Either::Right(self.router.clone().call(request)),
        }
    }
}

pub fn router(state: ServerState) -> Router {
    // A pushed document may be as large as a fetched one (read at start: a reload's new limit
    // applies to pushes after a restart).
    let max_push = state.publisher.current().config.fetch.max_body_bytes;
    Router::new()
        .route(INDEX, get(index))
        .route(MERGED_FEED, get(merged_feed))
        .route(OPML_PATH, get(opml))
        .route(SOURCE_FEED, get(source_feed))
        .route(TAG_FEED, get(tag_feed))
        .route(ENTRY, get(entry))
        .route(HEALTHZ, get(healthz))
        .route(STATUS, get(status))
        .route(METRICS, get(metrics))
        .route(
            WEBSUB,
            post(websub_request).layer(DefaultBodyLimit::max(MAX_SUBSCRIPTION_REQUEST)),
        )
        .route(
            WEBSUB_CALLBACK,
            get(websub_verification)
                .post(websub_push)
                .layer(DefaultBodyLimit::max(max_push)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), count_request))
        .with_state(state)
}

/// Counts every routed request by its route pattern and status.
async fn count_request(
    State(state): State<ServerState>,
    route: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    // A &'static label: no allocation on the hot path.
    if let Some(route) = ROUTES.iter().find(|known| **known == route.as_str()) {
        state.metrics.request(route, response.status().as_u16());
    }
    response
}

async fn index(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    let rendered = state.publisher.current();
    serve_document(&headers, &rendered.index, &rendered.cache_control)
}

/// `?limit=N` on any feed: at most N entries (never more than `feed.max_entries`).
#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn merged_feed(
    State(state): State<ServerState>,
    Path(file): Path<String>,
    Query(limit): Query<Limit>,
    headers: HeaderMap,
) -> Response {
    serve_feed(&state, "", &file, limit, &headers).await
}

async fn source_feed(
    State(state): State<ServerState>,
    Path((name, file)): Path<(String, String)>,
    Query(limit): Query<Limit>,
    headers: HeaderMap,
) -> Response {
    serve_feed(&state, &format!("/sources/{name}"), &file, limit, &headers).await
}

async fn tag_feed(
    State(state): State<ServerState>,
    Path((tag, file)): Path<(String, String)>,
    Query(limit): Query<Limit>,
    headers: HeaderMap,
) -> Response {
    serve_feed(&state, &format!("/tags/{tag}"), &file, limit, &headers).await
}

/// One feed document, or 404 for an unknown source, tag or file name.
async fn serve_feed(
    state: &ServerState,
    prefix: &str,
    file: &str,
    limit: Limit,
    headers: &HeaderMap,
) -> Response {
    let feeds = match state.publisher.feeds(prefix, limit.limit).await {
        Ok(feeds) => feeds,
        Err(error) => {
            tracing::error!("cannot read the store to render the feeds under {prefix}: {error}");
            return store_unavailable();
        }
    };
    match feeds.as_deref().and_then(|feeds| feeds.by_file_name(file)) {
        Some(document) => {
            serve_document(headers, document, &state.publisher.current().cache_control)
        }
        None => html(
            StatusCode::NOT_FOUND,
            "<!DOCTYPE html><title>Not found</title><p>No such feed.</p>".to_string(),
        ),
    }
}

async fn opml(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    let rendered = state.publisher.current();
    serve_document(&headers, &rendered.opml, &rendered.cache_control)
}

/// Serves one document of the current rendering in the best encoding the client accepts, or
/// 304 when the client already has it. Only headers are built here, from values made at render
/// time: the bytes, compressed or not, were made then too.
fn serve_document(
    headers: &HeaderMap,
    document: &Document,
    cache_control: &HeaderValue,
) -> Response {
    let encoding = negotiate(headers);
    // Room for every field below and the length, made once.
    let mut fields = HeaderMap::with_capacity(8);
    let (status, body) = if not_modified(headers, document, encoding) {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        fields.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(document.content_type),
        );
        match encoding {
            Encoding::Identity => {}
            Encoding::Gzip => {
                fields.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            Encoding::Brotli => {
                fields.insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
            }
        }
        (StatusCode::OK, Body::from(document.bytes(encoding).clone()))
    };
    fields.insert(ETAG, document.etag(encoding).clone());
    fields.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    fields.insert(CACHE_CONTROL, cache_control.clone());
    if let Some(changed) = &document.last_modified_header {
        fields.insert(LAST_MODIFIED, changed.clone());
    }
    if let Some(links) = &document.links {
        fields.insert(LINK, links.clone());
    }
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = fields;
    response
}

/// Brotli if the client takes it, else gzip, else the bytes as they are. Runs on every request,
/// so it reads the header in place.
fn negotiate(headers: &HeaderMap) -> Encoding {
    let (mut brotli, mut gzip) = (false, false);
    let codings = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for coding in codings {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|parameter| {
            parameter
                .trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        brotli |= name.eq_ignore_ascii_case("br");
        gzip |= name.eq_ignore_ascii_case("gzip") || name == "*";
    }
    if brotli {
        Encoding::Brotli
    } else if gzip {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// `If-None-Match` decides when present (RFC 9110 §13.1.3); else `If-Modified-Since`.
fn not_modified(headers: &HeaderMap, document: &Document, encoding: Encoding) -> bool {
    if let Some(first) = headers.get(IF_NONE_MATCH) {
        // Most clients send back the ETag they were given: one comparison of bytes.
        if first == document.etag(encoding) {
            return true;
        }
        return client_has(headers, &document.hash);
    }
    let since = headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| chrono::DateTime::parse_from_rfc2822(value).ok());
    match (since, document.last_modified) {
        (Some(since), Some(changed)) => changed.timestamp() <= since.timestamp(),
        _ => false,
    }
}

/// Whether `If-None-Match` lists one of the document's ETags (or `*`). Weak comparison, as
/// RFC 9110 asks for If-None-Match, and any encoding of the same bytes matches.
fn client_has(headers: &HeaderMap, hash: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| {
            // `strip_*` in loops, not `trim_*_matches` with a &str: those build a substring
            // searcher for each call, a third of this function's cost on every 304.
            let mut tag = tag.trim();
            while let Some(strong) = tag.strip_prefix("W/") {
                tag = strong;
            }
            let mut tag = tag.trim_matches('"');
            while let Some(plain) = tag.strip_suffix("-gzip") {
                tag = plain;
            }
            while let Some(plain) = tag.strip_suffix("-br") {
                tag = plain;
            }
            tag
        })
        .any(|tag| tag == "*" || tag == hash)
}

async fn entry(State(state): State<ServerState>, Path(id): Path<String>) -> Response {
    let not_found = || {
        html(
            StatusCode::NOT_FOUND,
            "<!DOCTYPE html><title>Not found</title><p>No entry has this id.</p>".to_string(),
        )
    };
    let Some(id) = EntryId::parse(&id) else {
        return not_found();
    };
    match state.store.entry(&id).await {
        Ok(Some(entry)) => html(
            StatusCode::OK,
            publish::entry_page(state.publisher.current().settings(), &entry),
        ),
        Ok(None) => not_found(),
        Err(error) => {
            tracing::error!("reading entry {id} from the store failed: {error}");
            store_unavailable()
        }
    }
}

fn store_unavailable() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        "<!DOCTYPE html><title>Unavailable</title><p>The store did not answer; try again shortly.</p>".to_string(),
    )
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, HTML_CONTENT_TYPE)], body).into_response()
}

/// The most of a subscription request's body read: its five fields fit in a few kilobytes.
const MAX_SUBSCRIPTION_REQUEST: usize = 16 * 1024;

/// A WebSub subscription request to our hub (§5.1): 202 and verified with the subscriber
/// afterwards, or 4xx saying what is wrong with it.
async fn websub_request(
    State(state): State<ServerState>,
    Form(form): Form<SubscriptionForm>,
) -> Response {
    match state.hub.request(form).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(refusal) => {
            let status = match refusal {
                Refusal::NotAHub => StatusCode::NOT_FOUND,
                Refusal::Full(_) | Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, format!("{refusal}\n")).into_response()
        }
    }
}

/// The fields of a hub's verification of intent (§5.3).
#[derive(Debug, Deserialize)]
struct Verification {
    #[serde(rename = "hub.mode", default)]
    mode: String,
    #[serde(rename = "hub.topic", default)]
    topic: String,
    #[serde(rename = "hub.challenge", default)]
    challenge: String,
    #[serde(rename = "hub.lease_seconds")]
    lease_seconds: Option<u64>,
}

/// A hub asks whether a source of ours wants what it asked for: the challenge echoed when it
/// does, 404 when it does not.
async fn websub_verification(
    State(state): State<ServerState>,
    Path((source, token)): Path<(String, String)>,
    Query(asked): Query<Verification>,
) -> Response {
    let verified = state
        .subscriber
        .verify(
            &source,
            &token,
            &asked.mode,
            &asked.topic,
            asked.lease_seconds,
            Utc::now(),
        )
        .await;
    match verified {
        Ok(()) => (StatusCode::OK, asked.challenge).into_response(),
        Err(error) => (error.status(), format!("{error}\n")).into_response(),
    }
}

/// A hub pushes a source's new document: 202 once taken (or dropped for its signature, §8).
async fn websub_push(
    State(state): State<ServerState>,
    Path((source, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match state
        .subscriber
        .receive(&source, &token, &headers, body, Utc::now())
        .await
    {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        // Gone: the hub may drop a subscription we no longer know (§7).
        Err(CallbackError::Unknown) => StatusCode::GONE.into_response(),
        Err(error) => (error.status(), format!("{error}\n")).into_response(),
    }
}

/// Every source's health as JSON: `{"sources": [...]}`.
async fn status(State(state): State<ServerState>) -> Response {
    axum::Json(state.status.snapshot()).into_response()
}

async fn metrics(State(state): State<ServerState>) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(metrics::CONTENT_TYPE),
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn healthz(State(state): State<ServerState>) -> Response {
    match state.last_ping.store_answers(&state.store).await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the store does not answer: {error}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_other_encodings_and_star() {
        let mut headers = HeaderMap::new();
        assert!(!client_has(&headers, "a"));
        headers.insert(
            IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"a-gzip\""),
        );
        assert!(client_has(&headers, "a"));
        assert!(!client_has(&headers, "b"));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(client_has(&headers, "b"));
    }

    #[test]
    fn accept_encoding_prefers_brotli_then_gzip_and_honours_q_zero() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(value));
            negotiate(&headers)
        };
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
        assert_eq!(with("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(with("gzip"), Encoding::Gzip);
        assert_eq!(with("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(with("identity"), Encoding::Identity);
    }
}

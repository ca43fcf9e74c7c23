//! HTTP fetching of remote feeds: polite to publishers, defensive against hostile servers.
//!
//! Polite: conditional GET with the validators of the last fetch (a 304 costs nobody a parse),
//! at most `max_per_host` requests to one host and `max_concurrent` in all, a User-Agent that
//! says who we are. Defensive: connect and total timeouts, at most `max_redirects` hops
//! (followed here, so a permanent move can be reported), at most `max_body_bytes` of
//! decompressed body, so a gzip bomb stops at the cap. The fetcher hands back bytes and the
//! headers the parser and scheduler need; it knows nothing about entries.
//!
//! Feeds come from the config, and are trusted to be where they say. Pages whose links were
//! found inside documents (articles, `fetch_page`) are not: `guard` keeps them to public
//! addresses, at connect time and after every redirect.

pub mod guard;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LINK, LOCATION,
    RETRY_AFTER, USER_AGENT,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::{FetchSettings, Source};
use guard::{AddressRule, GuardedResolver, Refused};

/// What the last successful fetch of a source said about its version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful answer.
#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the document did not change since `Validators`.
    NotModified,
    Fetched(Box<Fetched>),
}

#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    /// The URL after redirects: relative links in the document resolve against it.
    pub final_url: Url,
    /// Set when every redirect on the way was permanent (301 / 308): the source has moved.
    pub moved_permanently: Option<Url>,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// The response's `Link` header values, where a feed may name its WebSub hub.
    pub links: Vec<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request failed: {}", describe(.0))]
    Request(reqwest::Error),
    #[error("the server answered HTTP {status}{}", retry_after.map_or(String::new(), |after| format!(" (Retry-After: {}s)", after.as_secs())))]
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    #[error("the body is larger than {limit} bytes (fetch.max_body_bytes); giving up on it")]
    TooLarge { limit: usize },
    #[error("more than {limit} redirects (fetch.max_redirects)")]
    TooManyRedirects { limit: usize },
    #[error("redirect to an unusable location {location:?}")]
    BadRedirect { location: String },
    #[error(transparent)]
    Refused(#[from] Refused),
}

impl From<reqwest::Error> for FetchError {
    /// The URL is dropped from the message: every log line names the source and its URL already.
    fn from(error: reqwest::Error) -> FetchError {
        FetchError::Request(error.without_url())
    }
}

impl FetchError {
    /// The HTTP status, when the server answered one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the server asked us to wait (429 and 503 only).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// reqwest's own message stops at "error sending request"; the cause (DNS, refused, TLS,
/// timeout) is further down the source chain, and it is what a user needs to see.
fn describe(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        cause = inner.source();
    }
    message
}

/// Documents held in memory, from fetch until stored, per fetch allowed at once. Polls that
/// wait for the store's writer hold their documents; with one document per fetch, they held
/// every place, and fetching and parsing stopped while they waited. Four per fetch keep fetching
/// and parsing going while the writer works, for a little more memory at the peak.
const DOCUMENTS_PER_FETCH: usize = 4;

/// The most of a callback's answer read: a verification echoes a challenge of a few dozen
/// bytes, a delivery's answer is not read at all.
const MAX_CALLBACK_ANSWER: usize = 64 * 1024;

/// What is fetched, which decides the client, the Accept header and whether the address rule
/// applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// A source's feed, from the config.
    Feed,
    /// A page whose link was found inside a document.
    Page,
}

/// The headers a source adds to its requests (`headers:`, `user_agent:`). All of them go to the
/// source's own host; elsewhere (a redirect away, an article link found in its feed) only its
/// User-Agent does: a token or cookie meant for one site is not handed to the hosts a document
/// names.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceHeaders<'a> {
    headers: Option<&'a HeaderMap>,
    host: Option<&'a str>,
}

impl<'a> SourceHeaders<'a> {
    /// None: what the CLI and tests fetch.
    pub const NONE: SourceHeaders<'static> = SourceHeaders {
        headers: None,
        host: None,
    };

    pub fn of(source: &'a Source) -> SourceHeaders<'a> {
        SourceHeaders {
            headers: Some(&source.headers),
            host: source.url.host_str(),
        }
    }

    fn add_to(self, mut request: reqwest::RequestBuilder, url: &Url) -> reqwest::RequestBuilder {
        let Some(headers) = self.headers else {
            return request;
        };
        let home = url.host_str() == self.host;
        for (name, value) in headers {
            if home || name == USER_AGENT {
                request = request.header(name, value);
            }
        }
        request
    }
}

/// A shared HTTP client: connection pools and concurrency limits span every source.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    /// For pages: resolves names through the address rule.
    pages: reqwest::Client,
    rule: Arc<AddressRule>,
    max_body_bytes: usize,
    max_redirects: usize,
    max_per_host: usize,
    all_hosts: Arc<Semaphore>,
    per_host: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    /// Documents fetched or being fetched and not yet read (`document_slot`).
    documents: Arc<Semaphore>,
}

impl Fetcher {
    /// `base_url` goes into the User-Agent so publishers can see who polls them and where.
    pub fn new(settings: &FetchSettings, base_url: &str) -> Fetcher {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(format!(
                    "tributary/{} (+{base_url})",
                    env!("CARGO_PKG_VERSION")
                ))
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.timeout)
                // Redirects are followed in `follow`, to tell permanent moves from temporary
                // ones and to check where each leads.
                .redirect(reqwest::redirect::Policy::none())
        };
        let built = "the TLS backend and settings are valid";
        let rule = Arc::new(AddressRule::new(settings.allow_private_addresses.clone()));
        Fetcher {
            client: builder().build().expect(built),
            pages: builder()
                .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(&rule))))
                .build()
                .expect(built),
            rule,
            max_body_bytes: settings.max_body_bytes,
            max_redirects: settings.max_redirects,
            max_per_host: settings.max_per_host,
            all_hosts: Arc::new(Semaphore::new(settings.max_concurrent)),
            per_host: Arc::new(Mutex::new(HashMap::new())),
            documents: Arc::new(Semaphore::new(
                DOCUMENTS_PER_FETCH * settings.max_concurrent,
            )),
        }
    }

    /// A place for one document in memory, taken before fetching it and held until its entries
    /// are stored: at most `DOCUMENTS_PER_FETCH` × `max_concurrent` documents, fetched or read,
    /// are held at once.
    /// Without it, fast origins filled memory with thousands of bodies waiting for a parser,
    /// then of read entries waiting for the store.
    pub async fn document_slot(&self) -> OwnedSemaphorePermit {
        Arc::clone(&self.documents)
            .acquire_owned()
            .await
            .expect("never closed")
    }

    /// GETs the feed (or page with a recipe) at `url`, conditionally when `validators` are
    /// known, following redirects.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        headers: SourceHeaders<'_>,
    ) -> Result<FetchOutcome, FetchError> {
        self.follow(Wanted::Feed, url, validators, headers).await
    }

    /// GETs the web page at `url`, a link found inside a document: only at addresses the
    /// address rule permits, on every hop.
    pub async fn fetch_page(
        &self,
        url: &Url,
        headers: SourceHeaders<'_>,
    ) -> Result<Box<Fetched>, FetchError> {
        match self
            .follow(Wanted::Page, url, &Validators::default(), headers)
            .await?
        {
            FetchOutcome::Fetched(fetched) => Ok(fetched),
            // Only a conditional request is answered 304; a page's is not conditional.
            FetchOutcome::NotModified => Err(FetchError::Status {
                status: StatusCode::NOT_MODIFIED,
                retry_after: None,
            }),
        }
    }

    /// A request to a URL someone handed us to call back (a WebSub subscriber's callback, a
    /// hub named in a feed): a GET, or a POST of `post`'s headers and body. It goes through the
    /// address rule, follows no redirect (a callback that moves is one that fails), and reads
    /// at most `MAX_CALLBACK_ANSWER` bytes of the answer, which only says yes or no.
    pub async fn call_back(
        &self,
        url: &Url,
        post: Option<(HeaderMap, Bytes)>,
    ) -> Result<(StatusCode, Vec<u8>), FetchError> {
        self.rule.check_url(url)?;
        let _permits = self.permits(url).await;
        let request = match post {
            None => self.pages.get(url.clone()),
            Some((headers, body)) => self.pages.post(url.clone()).headers(headers).body(body),
        };
        let mut response = request.send().await?;
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if answer.len() + chunk.len() > MAX_CALLBACK_ANSWER {
                return Err(FetchError::TooLarge {
                    limit: MAX_CALLBACK_ANSWER,
                });
            }
            answer.extend_from_slice(&chunk);
        }
        Ok((response.status(), answer))
    }

    /// GETs `url` as `wanted`, following redirects.
    async fn follow(
        &self,
        wanted: Wanted,
        url: &Url,
        validators: &Validators,
        headers: SourceHeaders<'_>,
    ) -> Result<FetchOutcome, FetchError> {
        let mut current = url.clone();
        let mut all_permanent = true;
        for _ in 0..=self.max_redirects {
            if wanted == Wanted::Page {
                self.rule.check_url(&current)?;
            }
            let _permits = self.permits(&current).await;
            let request = self.request(wanted, &current, validators);
            let mut response = headers.add_to(request, &current).send().await?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                all_permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                current = redirect_target(&current, response.headers())?;
                continue;
            }
            if status == StatusCode::NOT_MODIFIED {
                return Ok(FetchOutcome::NotModified);
            }
            if !status.is_success() {
                return Err(status_error(status, response.headers()));
            }
            let headers = response.headers().clone();
            let body = self.read_body(&mut response).await?;
            return Ok(FetchOutcome::Fetched(Box::new(Fetched {
                status,
                moved_permanently: (all_permanent && current != *url).then(|| current.clone()),
                final_url: current,
                content_type: header(&headers, CONTENT_TYPE),
                validators: Validators {
                    etag: header(&headers, ETAG),
                    last_modified: header(&headers, LAST_MODIFIED),
                },
                // Read lossily: a title in UTF-8 (obs-text to HTTP) must not cost a value
                // its hub.
                links: headers
                    .get_all(LINK)
                    .iter()
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                    .collect(),
                body,
            })));
        }
        Err(FetchError::TooManyRedirects {
            limit: self.max_redirects,
        })
    }

    /// The body of `response`, refused past `max_body_bytes` (counted after decompression).
    async fn read_body(&self, response: &mut reqwest::Response) -> Result<Vec<u8>, FetchError> {
        // Room for the length the server announces, within the cap: growing the body by
        // doubling copied what it held at every doubling.
        let announced = response.content_length().unwrap_or(0);
        let room = usize::try_from(announced).map_or(0, |length| length.min(self.max_body_bytes));
        let mut body = Vec::with_capacity(room);
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(FetchError::TooLarge {
                    limit: self.max_body_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn request(
        &self,
        wanted: Wanted,
        url: &Url,
        validators: &Validators,
    ) -> reqwest::RequestBuilder {
        let (client, accept) = match wanted {
            Wanted::Feed => (
                &self.client,
                "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
            ),
            Wanted::Page => (
                &self.pages,
                "text/html, application/xhtml+xml;q=0.9, */*;q=0.8",
            ),
        };
        let mut request = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, accept);
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(last_modified) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, last_modified);
        }
        request
    }

    /// Waits for a slot on `url`'s host, then for one overall; held for the whole exchange.
    async fn permits(&self, url: &Url) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        let host_slots = Arc::clone(
            self.per_host
                .lock()
                .expect("the host table is never poisoned")
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.max_per_host))),
        );
        let host_permit = host_slots.acquire_owned().await.expect("never closed");
        let permit = Arc::clone(&self.all_hosts)
            .acquire_owned()
            .await
            .expect("never closed");
        (host_permit, permit)
    }
}

/// Where a redirect from `current` leads: its Location, resolved, if http(s).
fn redirect_target(current: &Url, headers: &HeaderMap) -> Result<Url, FetchError> {
    let location = header(headers, LOCATION).unwrap_or_default();
    current
        .join(&location)
        .ok()
        .filter(|next| matches!(next.scheme(), "http" | "https"))
        .ok_or(FetchError::BadRedirect { location })
}

/// The error for an answer that is not a success, with how long to wait when a 429 or 503
/// says.
fn status_error(status: StatusCode, headers: &HeaderMap) -> FetchError {
    let retry_after = matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    )
    .then(|| header(headers, RETRY_AFTER))
    .flatten()
    .and_then(|value| parse_retry_after(&value, Utc::now()));
    FetchError::Status {
        status,
        retry_after,
    }
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// `Retry-After` is either seconds or an HTTP date.
fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:10:00 GMT", now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}

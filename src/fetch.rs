//! HTTP fetching of remote feeds, with limits a hostile server cannot get around.
//!
//! Every request has a connect and a total timeout, follows at most a few redirects, and reads
//! at most `MAX_BODY_BYTES` of (decompressed) body. The fetcher hands back bytes and the headers
//! the parser needs; it knows nothing about entries.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use url::Url;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAX_REDIRECTS: usize = 5;
/// The largest body we read, after decompression, so a gzip bomb stops here.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// A successful response.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    /// The URL after redirects: relative links in the document resolve against it.
    pub final_url: Url,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request failed: {}", describe(.0))]
    Request(reqwest::Error),
    #[error("the server answered HTTP {0}")]
    Status(StatusCode),
    #[error("the body is larger than {MAX_BODY_BYTES} bytes; giving up on it")]
    TooLarge,
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
            FetchError::Status(status) => Some(*status),
            FetchError::Request(error) => error.status(),
            FetchError::TooLarge => None,
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

/// A shared HTTP client: connection pools are per client, so one serves every source.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// `base_url` goes into the User-Agent so publishers can see who polls them and where.
    pub fn new(base_url: &str) -> Fetcher {
        let client = reqwest::Client::builder()
            .user_agent(format!(
                "tributary/{} (+{base_url})",
                env!("CARGO_PKG_VERSION")
            ))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .build()
            .expect("the TLS backend and settings are valid");
        Fetcher { client }
    }

    pub async fn fetch(&self, url: &Url) -> Result<Fetched, FetchError> {
        let mut response = self
            .client
            .get(url.clone())
            .header(
                reqwest::header::ACCEPT,
                "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
            )
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status(status));
        }
        let final_url = response.url().clone();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            final_url,
            content_type,
            body,
        })
    }
}

//! HTTP routes: the merged feeds, the HTML index, entry permalinks and health.
//!
//! Feed routes only copy the current rendering (see `publish`) and answer `If-None-Match` with
//! 304, so a reader polling every minute costs us a memory copy or less. Nothing renders a feed
//! on the request path.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::Config;
use crate::model::EntryId;
use crate::publish::{self, ATOM_PATH, Document, HTML_CONTENT_TYPE, Publisher, RSS_PATH, Rendered};
use crate::status::StatusBoard;
use crate::store::Store;

/// What the routes need; cheap to clone.
#[derive(Clone)]
pub struct ServerState {
    pub publisher: Arc<Publisher>,
    pub store: Store,
    pub config: Arc<Config>,
    pub status: Arc<StatusBoard>,
}

pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/", get(index))
        .route(ATOM_PATH, get(atom))
        .route(RSS_PATH, get(rss))
        .route("/entries/{id}", get(entry))
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .with_state(state)
}

async fn index(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    serve_document(&state, &headers, |rendered| &rendered.index)
}

async fn atom(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    serve_document(&state, &headers, |rendered| &rendered.atom)
}

async fn rss(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    serve_document(&state, &headers, |rendered| &rendered.rss)
}

/// Serves one document of the current rendering, or 304 when the client already has it.
fn serve_document(
    state: &ServerState,
    headers: &HeaderMap,
    pick: impl Fn(&Rendered) -> &Document,
) -> Response {
    let rendered = state.publisher.current();
    let document = pick(&rendered);
    let etag = HeaderValue::from_str(&document.etag).expect("an ETag is quoted hex");
    let cache = HeaderValue::from_static("no-cache");
    if client_has(headers, &document.etag) {
        return (
            StatusCode::NOT_MODIFIED,
            [(ETAG, etag), (CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static(document.content_type),
            ),
            (ETAG, etag),
            (CACHE_CONTROL, cache),
        ],
        document.body.clone(),
    )
        .into_response()
}

/// Whether `If-None-Match` lists `etag` (or `*`); weak validators compare equal too (RFC 9110).
fn client_has(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
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
            publish::entry_page(&state.config.feed, &entry),
        ),
        Ok(None) => not_found(),
        Err(error) => {
            tracing::error!("reading entry {id} from the store failed: {error}");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                "<!DOCTYPE html><title>Unavailable</title><p>The store did not answer; try again shortly.</p>".to_string(),
            )
        }
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, HTML_CONTENT_TYPE)], body).into_response()
}

/// Every source's health as JSON: `{"sources": [...]}`.
async fn status(State(state): State<ServerState>) -> Response {
    axum::Json(serde_json::json!({ "sources": state.status.snapshot() })).into_response()
}

async fn healthz(State(state): State<ServerState>) -> Response {
    match state.store.ping().await {
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
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let mut headers = HeaderMap::new();
        assert!(!client_has(&headers, "\"a\""));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"a\""));
        assert!(client_has(&headers, "\"a\""));
        assert!(!client_has(&headers, "\"b\""));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(client_has(&headers, "\"b\""));
    }
}

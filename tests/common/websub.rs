//! The other parties of WebSub, on loopback: a reader's callback server (`Subscriber`) that
//! confirms (or not) what our hub asks and records what it delivers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// A reader's callback: it echoes `hub.challenge` while `confirms`, answers the first
/// `failures` deliveries with 500 and the rest with 202, and records everything.
pub struct Subscriber {
    pub addr: SocketAddr,
    state: Arc<SubscriberState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct SubscriberState {
    confirms: AtomicBool,
    failures: AtomicUsize,
    verifications: Mutex<Vec<HashMap<String, String>>>,
    deliveries: Mutex<Vec<Delivery>>,
}

/// One POST our hub made.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// What the callback answered.
    pub status: StatusCode,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Subscriber {
    pub async fn start() -> Subscriber {
        let state = Arc::new(SubscriberState::default());
        state.confirms.store(true, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Subscriber { addr, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn confirm(&self, confirms: bool) {
        self.state.confirms.store(confirms, Ordering::SeqCst);
    }

    /// The next `count` deliveries are answered 500.
    pub fn fail_next(&self, count: usize) {
        self.state.failures.store(count, Ordering::SeqCst);
    }

    /// The query of every verification GET, in order.
    pub fn verifications(&self) -> Vec<HashMap<String, String>> {
        self.state.verifications.lock().unwrap().clone()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.deliveries.lock().unwrap().clone()
    }

    /// Every request it got, of either kind.
    pub fn requests(&self) -> usize {
        self.verifications().len() + self.deliveries().len()
    }

    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn answer(
    State(state): State<Arc<SubscriberState>>,
    method: Method,
    uri: axum::http::Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::GET {
        state.verifications.lock().unwrap().push(query.clone());
        return match query.get("hub.challenge") {
            Some(challenge) if state.confirms.load(Ordering::SeqCst) => {
                challenge.clone().into_response()
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let failing = state
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    let status = if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::ACCEPTED
    };
    state.deliveries.lock().unwrap().push(Delivery {
        path: uri.path().to_string(),
        headers,
        body,
        status,
    });
    status.into_response()
}

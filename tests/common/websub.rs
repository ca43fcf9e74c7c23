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

/// A source's WebSub hub: takes subscription requests at `/`, verifies them with the
/// subscriber's callback (granting `lease` seconds), and pushes what `publish` is given to
/// every verified subscriber, signed with its secret.
pub struct HubParty {
    pub addr: SocketAddr,
    state: Arc<HubState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct HubState {
    lease: AtomicUsize,
    requests: Mutex<Vec<HashMap<String, String>>>,
    /// Verified subscriptions: callback → secret.
    subscribers: Mutex<Vec<(String, String)>>,
}

impl HubParty {
    /// A hub granting leases of `lease` seconds.
    pub async fn start(lease: usize) -> HubParty {
        let state = Arc::new(HubState::default());
        state.lease.store(lease, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .fallback(take_request)
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        HubParty { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Every subscription request it got, in order.
    pub fn requests(&self) -> Vec<HashMap<String, String>> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The callbacks that confirmed a subscription, with their secrets.
    pub fn subscribers(&self) -> Vec<(String, String)> {
        self.state.subscribers.lock().unwrap().clone()
    }

    /// Pushes `body` to every subscriber, signed as `signing` says, and returns what each
    /// answered.
    pub async fn publish(&self, content_type: &str, body: &str, signing: Signing<'_>) -> Vec<u16> {
        let mut answers = Vec::new();
        for (callback, own_secret) in self.subscribers() {
            let mut request = reqwest::Client::new()
                .post(&callback)
                .header("content-type", content_type)
                .body(body.to_string());
            let secret = match signing {
                Signing::Own => Some(own_secret.as_str()),
                Signing::With(secret) => Some(secret),
                Signing::Unsigned => None,
            };
            if let Some(secret) = secret {
                request = request.header("x-hub-signature", sign(secret, body.as_bytes()));
            }
            answers.push(request.send().await.unwrap().status().as_u16());
        }
        answers
    }

    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// How a `HubParty` signs what it pushes.
#[derive(Clone, Copy)]
pub enum Signing<'a> {
    /// With the subscriber's secret, as a hub does.
    Own,
    /// With another secret: a forgery.
    With(&'a str),
    Unsigned,
}

/// `sha256=` and the HMAC of `body` under `secret`, computed here, independently of tributary.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    )
}

async fn take_request(State(state): State<Arc<HubState>>, body: Bytes) -> Response {
    let fields: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    state.requests.lock().unwrap().push(fields.clone());
    let (Some(mode), Some(callback), Some(topic)) = (
        fields.get("hub.mode").cloned(),
        fields.get("hub.callback").cloned(),
        fields.get("hub.topic").cloned(),
    ) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let secret = fields.get("hub.secret").cloned().unwrap_or_default();
    let lease = state.lease.load(Ordering::SeqCst).to_string();
    // Verifies after answering, as hubs do.
    tokio::spawn(async move {
        let challenge = format!(
            "challenge-{}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap()
        );
        let mut url = url::Url::parse(&callback).unwrap();
        url.query_pairs_mut()
            .append_pair("hub.mode", &mode)
            .append_pair("hub.topic", &topic)
            .append_pair("hub.challenge", &challenge)
            .append_pair("hub.lease_seconds", &lease);
        let Ok(answer) = reqwest::get(url).await else {
            return;
        };
        let echoed = answer.status().is_success() && answer.text().await.unwrap() == challenge;
        if !echoed {
            return;
        }
        let mut subscribers = state.subscribers.lock().unwrap();
        subscribers.retain(|(known, _)| *known != callback);
        if mode == "subscribe" {
            subscribers.push((callback, secret));
        }
    });
    StatusCode::ACCEPTED.into_response()
}

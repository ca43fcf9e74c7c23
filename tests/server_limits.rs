//! The server's limits against clients that misbehave: request heads that never end or are too
//! large, URIs too long, idle and excess connections, and paths that try to climb out of
//! `/entries/…` and `/sources/…`. Requests are written by hand on raw sockets, as such a
//! client would: an HTTP client library would refuse or normalize them.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tributary::connections::{HEAD_TIMEOUT, MAX_CONNECTIONS, MAX_HEAD_BYTES, MAX_URI_BYTES};

/// Sends `request` as written and returns the response's status code and bytes, read until
/// the server closes the connection.
async fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut response))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    (status, response)
}

fn get_request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: feeds.test\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Waits until the server closes `stream` (a read returns end of file or an error).
async fn closed_by_server(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

async fn app_with_a_seed() -> (Workspace, tributary::RunningApp) {
    let workspace = Workspace::new();
    workspace.add_seed("note.txt", "title: A note\n\nThe body.\n");
    workspace.write_config(&[]);
    let running = start_app(&workspace).await;
    wait_for_entries(running.addr, 1).await;
    (workspace, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_and_uris_too_large_are_refused_and_paths_stay_inside_their_routes() {
    let (_workspace, running) = app_with_a_seed().await;
    let addr = running.addr;

    let (status, _) = exchange(addr, &get_request("/healthz")).await;
    assert_eq!(status, 200);

    let long_query = format!("/feed.atom?q={}", "a".repeat(MAX_URI_BYTES));
    let (status, body) = exchange(addr, &get_request(&long_query)).await;
    assert_eq!(status, 414, "{body}");
    assert!(body.contains(&format!("longer than {MAX_URI_BYTES} bytes")));

    let big_header = format!(
        "GET /feed.atom HTTP/1.1\r\nHost: feeds.test\r\nX-Padding: {}\r\n\r\n",
        "b".repeat(MAX_HEAD_BYTES)
    );
    let (status, _) = exchange(addr, big_header.as_bytes()).await;
    assert_eq!(status, 431);

    let atom = get(addr, "/feed.atom").await.body;
    let entry_path = atom
        .split("http://feeds.test")
        .filter_map(|rest| rest.split('"').next())
        .find(|path| path.starts_with("/entries/"))
        .expect("the feed links its entry's page")
        .to_string();
    let (status, _) = exchange(addr, &get_request(&entry_path)).await;
    assert_eq!(status, 200);
    for target in [
        format!("{entry_path}/../../config.yaml"),
        "/entries/../config.yaml".to_string(),
        "/entries/..%2Fconfig.yaml".to_string(),
        "/entries/%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_string(),
        "/entries/....//....//etc/passwd".to_string(),
        "/sources/../../etc/passwd".to_string(),
        "/sources/..%2F..%2Fetc/feed.atom".to_string(),
        "/sources/%2e%2e/feed.atom".to_string(),
        "/sources/seeds/../../config.yaml".to_string(),
    ] {
        let (status, body) = exchange(addr, &get_request(&target)).await;
        assert_eq!(status, 404, "{target}: {body}");
        assert!(
            !body.contains("sources:") && !body.contains("root:"),
            "{target}: {body}"
        );
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_and_excess_connections_wait_their_turn() {
    let (_workspace, running) = app_with_a_seed().await;
    let addr = running.addr;

    // A head sent a piece at a time and never finished (slowloris), and a connection left
    // idle after its response: both closed once HEAD_TIMEOUT has passed.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /feed.atom HTTP/1.1\r\nHost: feeds.test\r\n")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: feeds.test\r\n\r\n")
        .await
        .unwrap();
    let mut response = [0u8; 12];
    idle.read_exact(&mut response).await.unwrap();
    assert_eq!(&response, b"HTTP/1.1 200");
    let started = tokio::time::Instant::now();
    let within = HEAD_TIMEOUT + DEADLINE;
    tokio::time::timeout(within, closed_by_server(&mut slow))
        .await
        .expect("a head that never ends is cut off");
    tokio::time::timeout(within, closed_by_server(&mut idle))
        .await
        .expect("an idle connection is closed");
    assert!(started.elapsed() >= HEAD_TIMEOUT - Duration::from_secs(1));

    // With every connection taken, one more waits in the kernel's queue, and is served as
    // soon as another closes.
    let mut open = Vec::with_capacity(MAX_CONNECTIONS);
    for _ in 0..MAX_CONNECTIONS {
        open.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting.write_all(&get_request("/healthz")).await.unwrap();
    let mut first = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_secs(2), waiting.read(&mut first)).await;
    assert!(
        early.is_err(),
        "served beyond {MAX_CONNECTIONS} connections"
    );
    open.pop();
    let mut response = Vec::new();
    tokio::time::timeout(DEADLINE, waiting.read_to_end(&mut response))
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200"), "{response:?}");
    drop(open);
    running.shutdown().await;
}

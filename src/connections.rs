//! Accepting HTTP connections and serving the routes on them, within limits that hold against
//! clients on the open internet.
//!
//! axum's own `serve` sets none of these: a client could keep a connection for ever by sending
//! its request head a byte at a time (slowloris), send a head as large as hyper's buffer
//! (about 400 KB), and open connections without end. Here each request head must arrive within
//! `HEAD_TIMEOUT` and fit in `MAX_HEAD_BYTES` (else 431), a URI in `MAX_URI_BYTES` (else 414),
//! and at most `MAX_CONNECTIONS` are open at once: further clients wait in the kernel's accept
//! queue until one closes. Stopping lets requests under way finish and closes idle connections.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connections open at once. Each costs a task and up to `MAX_HEAD_BYTES` of buffer.
pub const MAX_CONNECTIONS: usize = 1024;
/// The time a client has to send a request head, from the start of the connection or the end
/// of the previous response: also how long an idle keep-alive connection stays open.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A request line and headers larger than this are answered 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// A URI (path and query) longer than this is answered 414. No route of ours needs 200 bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Serves `service` on `listener` until `stop` completes, then waits for the requests under way.
pub async fn serve<S>(listener: TcpListener, service: S, stop: impl Future<Output = ()>)
where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => {
                permit.expect("the semaphore is never closed")
            }
            () = &mut stop => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, most likely: retrying at once would spin.
                    tracing::warn!("cannot accept a connection: {error}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = RefuseLongUris(service.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let builder = builder();
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            // A client that goes away mid-request is no error of ours.
            let _ = watcher.watch(connection).await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    builder
}

/// Answers 414 to a request whose URI is longer than `MAX_URI_BYTES`, before anything else looks
/// at it.
#[derive(Clone)]
struct RefuseLongUris<S>(S);

impl<S> Service<Request<Incoming>> for RefuseLongUris<S>
where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let length = request
            .uri()
            .path_and_query()
            .map_or(0, |path| path.as_str().len());
        if length > MAX_URI_BYTES {
            return Either::Left(ready(Ok((
                StatusCode::URI_TOO_LONG,
                format!("the URI is longer than {MAX_URI_BYTES} bytes\n"),
            )
                .into_response())));
        }
        Either::Right(self.0.call(request))
    }
}

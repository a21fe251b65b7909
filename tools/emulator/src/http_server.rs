//! The accept loop both local servers (the HTTP API and each Runtime API) share.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Serves HTTP/1.1 on `listener` with `handler` until the returned task is aborted; aborting
/// it also closes every connection it accepted.
pub fn serve<H, F>(listener: TcpListener, handler: H) -> JoinHandle<()>
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    serve_or_drop(listener, move |request, client| {
        let response = handler(request, client);
        async move { Ok(response.await) }
    })
}

/// The handler's way to close the connection without answering, as a failing network would.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped without an answer")]
pub struct DropConnection;

/// [`serve`], with a handler that may answer [`DropConnection`]: the connection is closed
/// at once and the client gets no response.
pub fn serve_or_drop<H, F>(listener: TcpListener, handler: H) -> JoinHandle<()>
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Full<Bytes>>, DropConnection>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((stream, client)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            connections.spawn(async move {
                let service = service_fn(move |request| handler(request, client));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
            // Reap finished connections so the set does not grow without bound.
            while connections.try_join_next().is_some() {}
        }
    })
}

//! The accept loop. The sandbox serves connections itself (hyper, HTTP/1.1) instead of
//! `axum::serve` so that a fault can close one connection without answering: every
//! connection gets a cancellation token, put into its requests' extensions, and the
//! connection task drops the connection when the token fires.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Lets a request close its own connection.
#[derive(Debug, Clone)]
pub struct ConnectionControl {
    token: CancellationToken,
}

impl ConnectionControl {
    /// Closes the connection at once, without a response.
    pub fn drop_connection(&self) {
        self.token.cancel();
    }
}

/// Serves `router` on `listener` until `shutdown` fires; then every open connection is
/// closed too, so held requests never keep a test waiting.
pub async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Usually out of file descriptors; back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let connection = shutdown.child_token();
        let control = ConnectionControl { token: connection.clone() };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(control.clone());
            let router = router.clone();
            async move {
                let response: Result<_, Infallible> = router.oneshot(request.map(Body::new)).await;
                response
            }
        });
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = conn => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                // Dropping the connection future closes the socket; nothing more is written.
                () = connection.cancelled() => {}
            }
        });
    }
}

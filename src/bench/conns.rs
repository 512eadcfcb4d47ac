//! The throughput phases' HTTP/1.1 client: kept-alive connections driven by hyper's
//! connection API, one per request in flight, taken from and returned to an idle list.
//! reqwest's pool, URL parsing and per-request bookkeeping cost the load generator about
//! twice the CPU per request, and the load generator shares the 2 cores with the server.

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;

/// Connections to one server, all sending the same bearer token.
#[derive(Debug)]
pub struct Conns {
    addr: SocketAddr,
    /// `http://127.0.0.1:PORT`: stripped from the URLs the phases pass.
    root: Arc<str>,
    host: HeaderValue,
    auth: HeaderValue,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Conns {
    /// For the server at `root` (`http://IP:PORT`).
    pub fn new(root: &str, auth: HeaderValue) -> Result<Conns, String> {
        let authority = root
            .strip_prefix("http://")
            .ok_or_else(|| format!("{root} is not an http:// address"))?;
        let addr: SocketAddr = authority
            .parse()
            .map_err(|e| format!("{authority} is not IP:PORT: {e}"))?;
        let host = HeaderValue::try_from(authority)
            .map_err(|_| format!("{authority} is not a valid Host header"))?;
        Ok(Conns {
            addr,
            root: root.into(),
            host,
            auth,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends a request to `url` (on this server) and reads the whole body; a status not in
    /// `expected` is an error that quotes the start of the body. Returns the body and the
    /// `Location` header.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
        expected: &[StatusCode],
        what: &str,
    ) -> Result<(Bytes, Option<HeaderValue>), String> {
        let path = url.strip_prefix(&*self.root).unwrap_or(url);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host.clone())
            .header(header::AUTHORIZATION, self.auth.clone());
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, super::load::SCIM_JSON);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("{what}: {e}"))?;
        let mut sender = self.take().await.map_err(|e| format!("{what}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let status = response.status();
        let location = response.headers().get(header::LOCATION).cloned();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{what}: reading the body: {e}"))?
            .to_bytes();
        self.give_back(sender);
        super::load::check_status(status, &body, expected, what)?;
        Ok((body, location))
    }

    /// An idle connection ready for a request, or a new one.
    async fn take(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(mut sender) => {
                    // A connection the server closed is dropped; the next one is tried.
                    if sender.ready().await.is_ok() {
                        return Ok(sender);
                    }
                }
                None => break,
            }
        }
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.addr))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        let (sender, connection) = handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP/1.1 handshake with {}: {e}", self.addr))?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the server closes; nothing to report.
            let _ = connection.await;
        });
        Ok(sender)
    }

    fn give_back(&self, sender: SendRequest<Full<Bytes>>) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sender);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::{get, post};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A real server on loopback that counts the TCP connections it accepts.
    async fn server() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let root = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let router = Router::new()
            .route(
                "/echo",
                post(|headers: axum::http::HeaderMap, body: String| async move {
                    let auth = headers[header::AUTHORIZATION].to_str().unwrap().to_owned();
                    (
                        StatusCode::CREATED,
                        [(header::LOCATION, "/things/42")],
                        format!("{auth}|{body}"),
                    )
                }),
            )
            .route(
                "/missing",
                get(|| async { (StatusCode::NOT_FOUND, "no such thing") }),
            );
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                let router = router.clone();
                tokio::spawn(async move {
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (root, accepted)
    }

    #[tokio::test]
    async fn sends_the_token_and_body_reuses_its_connection_and_reports_unexpected_statuses() {
        let (root, accepted) = server().await;
        let conns = Conns::new(&root, HeaderValue::from_static("Bearer t0k")).unwrap();
        for i in 0..3 {
            let (body, location) = conns
                .call(
                    Method::POST,
                    &format!("{root}/echo"),
                    Some(format!("n{i}")),
                    &[StatusCode::CREATED],
                    "POST /echo",
                )
                .await
                .unwrap();
            assert_eq!(&body[..], format!("Bearer t0k|n{i}").as_bytes());
            assert_eq!(location.unwrap(), "/things/42");
        }
        // One request at a time: one kept-alive connection served them all.
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        let err = conns
            .call(
                Method::GET,
                &format!("{root}/missing"),
                None,
                &[StatusCode::OK],
                "GET /missing",
            )
            .await
            .unwrap_err();
        assert_eq!(err, "GET /missing: HTTP 404 Not Found: no such thing");
    }
}

//! The throughput phases' HTTP/1.1 client: kept-alive connections, each used by one
//! request at a time and owned by the task sending it, which writes the request and reads
//! the response itself. hyper's client runs every connection as a task of its own and hands
//! each request and response across a channel, and reqwest adds its pool and URL parsing
//! on top: the load generator shares the 2 cores with the server, so what it spends per
//! request is taken from the server.

use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A connection idle for longer may have been closed by the server: not reused.
const MAX_IDLE: Duration = Duration::from_secs(5);

/// Response headers read at most (the server sends about ten).
const MAX_HEADERS: usize = 64;

/// Connections to one server, all sending the same bearer token.
#[derive(Debug)]
pub struct Conns {
    addr: SocketAddr,
    /// `http://127.0.0.1:PORT`: stripped from the URLs the phases pass.
    root: Arc<str>,
    /// The `Host` and `Authorization` header lines every request carries.
    fixed_headers: Vec<u8>,
    idle: Mutex<Vec<Conn>>,
}

/// One kept-alive connection and its read buffer.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    last_used: Instant,
}

/// What the client keeps of a response.
struct Response {
    status: StatusCode,
    location: Option<HeaderValue>,
    body: Bytes,
    /// The server said `Connection: close`.
    closes: bool,
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
        let mut fixed_headers = format!("Host: {authority}\r\nAuthorization: ").into_bytes();
        fixed_headers.extend_from_slice(auth.as_bytes());
        fixed_headers.extend_from_slice(b"\r\n");
        Ok(Conns {
            addr,
            root: root.into(),
            fixed_headers,
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
        let request = self.request(&method, path, body.as_deref());
        let mut conn = self.take().await.map_err(|e| format!("{what}: {e}"))?;
        let response = conn
            .exchange(&request)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        if !response.closes {
            conn.last_used = Instant::now();
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
        }
        super::load::check_status(response.status, &response.body, expected, what)?;
        Ok((response.body, response.location))
    }

    /// The request's bytes: request line, headers, body.
    fn request(&self, method: &Method, path: &str, body: Option<&str>) -> Vec<u8> {
        let body = body.unwrap_or_default();
        let mut out = Vec::with_capacity(160 + path.len() + body.len());
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{method} {path} HTTP/1.1\r\n");
        out.extend_from_slice(&self.fixed_headers);
        if !body.is_empty() {
            let _ = write!(
                out,
                "Content-Type: {}\r\nContent-Length: {}\r\n",
                super::load::SCIM_MEDIA_TYPE,
                body.len()
            );
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
        out
    }

    /// A recently used idle connection, or a new one.
    async fn take(&self) -> Result<Conn, String> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(conn) if conn.last_used.elapsed() < MAX_IDLE => return Ok(conn),
                Some(_) => continue,
                None => break,
            }
        }
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.addr))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            last_used: Instant::now(),
        })
    }
}

impl Conn {
    /// Writes the request and reads its response: headers, then a `Content-Length` body
    /// (what the server always sends).
    async fn exchange(&mut self, request: &[u8]) -> Result<Response, String> {
        self.stream
            .write_all(request)
            .await
            .map_err(|e| format!("sending the request: {e}"))?;
        self.buf.clear();
        let (head_len, status, length, location, closes) = loop {
            self.fill().await?;
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Response::new(&mut headers);
            let head_len = match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => continue,
                Err(e) => return Err(format!("the response is not HTTP/1.1: {e}")),
            };
            let status = parsed
                .code
                .and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or("the response has no valid status")?;
            let (mut length, mut location, mut closes) = (None, None, false);
            for h in parsed.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    length = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse::<usize>().ok());
                } else if h.name.eq_ignore_ascii_case("location") {
                    location = HeaderValue::from_bytes(h.value).ok();
                } else if h.name.eq_ignore_ascii_case("connection") {
                    closes = h.value.eq_ignore_ascii_case(b"close");
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(format!(
                        "status {status}: a chunked response is not supported"
                    ));
                }
            }
            // Only a bodiless status may omit the length.
            let length = match (length, status.as_u16()) {
                (Some(n), _) => n,
                (None, 204 | 304) => 0,
                (None, _) => return Err(format!("status {status}: no Content-Length")),
            };
            break (head_len, status, length, location, closes);
        };
        while self.buf.len() < head_len + length {
            self.fill().await?;
        }
        if self.buf.len() > head_len + length {
            return Err("the server sent more than one response".into());
        }
        Ok(Response {
            status,
            location,
            body: Bytes::copy_from_slice(&self.buf[head_len..]),
            closes,
        })
    }

    /// Reads what the server has sent so far into the buffer.
    async fn fill(&mut self) -> Result<(), String> {
        self.buf.reserve(8 * 1024);
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("reading the response: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::ConnectInfo;
    use axum::http::header;
    use axum::routing::{get, post};
    use std::collections::HashSet;

    /// A real server on loopback that records the client ports it was called from (one
    /// per TCP connection).
    async fn server() -> (String, Arc<Mutex<HashSet<u16>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let root = format!("http://{}", listener.local_addr().unwrap());
        let ports = Arc::new(Mutex::new(HashSet::new()));
        let seen = ports.clone();
        let router = Router::new()
            .route(
                "/echo",
                post(
                    move |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                          headers: axum::http::HeaderMap,
                          body: String| async move {
                        seen.lock().unwrap().insert(peer.port());
                        let auth = headers[header::AUTHORIZATION].to_str().unwrap().to_owned();
                        let kind = headers[header::CONTENT_TYPE].to_str().unwrap().to_owned();
                        (
                            StatusCode::CREATED,
                            [(header::LOCATION, "/things/42")],
                            format!("{auth}|{kind}|{body}"),
                        )
                    },
                ),
            )
            .route("/big", get(|| async { "x".repeat(100_000) }))
            .route(
                "/missing",
                get(|| async { (StatusCode::NOT_FOUND, "no such thing") }),
            );
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        (root, ports)
    }

    #[tokio::test]
    async fn sends_the_token_and_body_reuses_its_connection_and_reports_unexpected_statuses() {
        let (root, ports) = server().await;
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
            assert_eq!(
                &body[..],
                format!("Bearer t0k|application/scim+json|n{i}").as_bytes()
            );
            assert_eq!(location.unwrap(), "/things/42");
        }
        // One request at a time: one kept-alive connection served them all.
        assert_eq!(ports.lock().unwrap().len(), 1);
        // A body larger than one read arrives whole.
        let (body, _) = conns
            .call(
                Method::GET,
                &format!("{root}/big"),
                None,
                &[StatusCode::OK],
                "GET /big",
            )
            .await
            .unwrap();
        assert_eq!(body.len(), 100_000);
        assert!(body.iter().all(|b| *b == b'x'));
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

    #[tokio::test]
    async fn a_server_that_closes_the_connection_is_an_error_not_a_hang() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let root = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            // Half a response, then the connection closes.
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
                .await;
        });
        let conns = Conns::new(&root, HeaderValue::from_static("Bearer t0k")).unwrap();
        let err = conns
            .call(
                Method::GET,
                &format!("{root}/x"),
                None,
                &[StatusCode::OK],
                "GET /x",
            )
            .await
            .unwrap_err();
        assert_eq!(err, "GET /x: the server closed the connection");
    }
}

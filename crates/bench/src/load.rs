//! The load generator: one pooled HTTP/1.1 client, N tasks on the multi-thread runtime
//! pulling request numbers from a shared counter, latencies kept as microseconds.

use super::BenchError;
use super::conns::Conns;
use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, StatusCode};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often long phases print their progress on stderr.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The SCIM media type, RFC 7644 §3.1.
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";
pub const SCIM_JSON: HeaderValue = HeaderValue::from_static(SCIM_MEDIA_TYPE);

/// Installs ring's TLS provider unless one is installed: reqwest's rustls has no default
/// provider (the server's choice; features unify in the workspace), and building a client
/// panics without one. Idempotent.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err means another thread installed one meanwhile: fine either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A pooled client that sends the bearer token with every request.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/scim/v2`
    scim: Arc<str>,
    /// `http://127.0.0.1:PORT`
    root: Arc<str>,
    /// The lean client of the throughput phases.
    conns: Arc<Conns>,
}

impl Client {
    /// A client for the server at `base_url` keeping up to `connections` connections.
    pub fn new(base_url: &str, token: &str, connections: usize) -> Result<Client, BenchError> {
        let mut auth = HeaderValue::try_from(format!("Bearer {token}"))
            .map_err(|_| BenchError::Setup("the token is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth.clone());
        let http = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(connections)
            .connect_timeout(Duration::from_secs(10))
            .default_headers(headers)
            .build()
            .map_err(|e| BenchError::Setup(format!("cannot build an HTTP client: {e}")))?;
        Ok(Client {
            http,
            scim: format!("{base_url}/scim/v2").into(),
            root: base_url.into(),
            conns: Arc::new(Conns::new(base_url, auth).map_err(BenchError::Setup)?),
        })
    }

    /// `http://127.0.0.1:PORT/scim/v2` followed by `path`.
    pub fn scim_url(&self, path: &str) -> String {
        format!("{}{path}", self.scim)
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn root_url(&self, path: &str) -> String {
        format!("{}{path}", self.root)
    }

    pub fn get(&self, url: &str) -> RequestBuilder {
        self.http.get(url)
    }

    /// Sends a request on the lean client (see [`Conns`]) and reads the whole body, as
    /// [`call`] does.
    pub async fn fast(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<String>,
        expected: &[StatusCode],
        what: &str,
    ) -> Result<(Bytes, Option<HeaderValue>), String> {
        self.conns.call(method, url, body, expected, what).await
    }

    /// A request with a SCIM JSON body.
    pub fn send_json(&self, method: reqwest::Method, url: &str, body: String) -> RequestBuilder {
        self.http
            .request(method, url)
            .header(header::CONTENT_TYPE, SCIM_JSON)
            .body(body)
    }
}

/// Sends a request and reads the whole body; a status not in `expected` is an error that
/// quotes the start of the body. Returns the body and the `Location` header.
pub async fn call(
    request: RequestBuilder,
    expected: &[StatusCode],
    what: &str,
) -> Result<(impl AsRef<[u8]> + Send, Option<HeaderValue>), String> {
    let response = request
        .send()
        .await
        .map_err(|e| format!("{what}: {}", error_chain(&e)))?;
    let status = response.status();
    let location = response.headers().get(header::LOCATION).cloned();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{what}: reading the body: {}", error_chain(&e)))?;
    check_status(status, &body, expected, what)?;
    Ok((body, location))
}

/// An error quoting the start of the body when `status` is not one of `expected`.
pub fn check_status(
    status: StatusCode,
    body: &[u8],
    expected: &[StatusCode],
    what: &str,
) -> Result<(), String> {
    if expected.contains(&status) {
        return Ok(());
    }
    let text = String::from_utf8_lossy(body);
    let start: String = text.chars().take(400).collect();
    Err(format!("{what}: HTTP {status}: {start}"))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The unsigned integer after `"key":` in a JSON text, without parsing the rest.
pub fn json_int(body: &[u8], key: &str) -> Option<u64> {
    let needle = format!("\"{key}\":");
    let at = find(body, needle.as_bytes())? + needle.len();
    let digits: &[u8] = &body[at..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// The string after `"key":"` in a JSON text, for values with no escapes (ids, cursors).
pub fn json_str<'a>(body: &'a [u8], key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\":\"");
    let at = find(body, needle.as_bytes())? + needle.len();
    let rest = &body[at..];
    let end = rest.iter().position(|b| *b == b'"' || *b == b'\\')?;
    if rest[end] == b'\\' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

/// The result of driving requests: what each returned, in request order, and timings.
#[derive(Debug)]
pub struct Run<T> {
    pub results: Vec<T>,
    pub latencies: Latencies,
}

/// How many requests to send.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    Requests(usize),
    /// As many as fit in this time.
    For(Duration),
}

/// Sends `op(0)`, `op(1)`, ... from `connections` concurrent tasks until `amount` is
/// reached; the first error stops all tasks and is returned. With `progress`, prints the
/// count to stderr every [`PROGRESS_EVERY`].
pub async fn drive<T, F, Fut>(
    connections: usize,
    amount: Amount,
    progress: Option<&str>,
    op: F,
) -> Result<Run<T>, BenchError>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let (total, deadline) = match amount {
        Amount::Requests(n) => (n, None),
        Amount::For(d) => (usize::MAX, Some(d)),
    };
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let stop_at = deadline.map(|d| started + d);
    let tasks = connections.clamp(1, total.max(1));
    let per_task = match amount {
        Amount::Requests(n) => n / tasks + 1,
        Amount::For(_) => 1024,
    };
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (op, next, failed) = (op.clone(), next.clone(), failed.clone());
        set.spawn(async move {
            let mut micros = Vec::with_capacity(per_task);
            let mut out = Vec::with_capacity(per_task);
            while !failed.load(Ordering::Relaxed) && stop_at.is_none_or(|t| Instant::now() < t) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t0 = Instant::now();
                match op(i).await {
                    Ok(v) => {
                        micros.push(as_micros(t0.elapsed()));
                        out.push((i, v));
                    }
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
            Ok((micros, out))
        });
    }
    let ticker = progress.map(|label| {
        let (label, next) = (label.to_owned(), next.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROGRESS_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let done = next.load(Ordering::Relaxed).min(total);
                match deadline {
                    None => eprintln!("bench:   {label}: {done} / {total}"),
                    Some(_) => eprintln!("bench:   {label}: {done}"),
                }
            }
        })
    });
    let mut first_error = None;
    let mut all_micros = Vec::new();
    let mut all_results = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok((micros, out))) => {
                all_micros.extend(micros);
                all_results.extend(out);
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(format!("a load task failed: {e}"));
            }
        }
    }
    let elapsed = started.elapsed();
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(e) = first_error {
        return Err(BenchError::Request(e));
    }
    all_results.sort_unstable_by_key(|(i, _)| *i);
    Ok(Run {
        results: all_results.into_iter().map(|(_, v)| v).collect(),
        latencies: Latencies::new(all_micros, elapsed),
    })
}

fn as_micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Request latencies (sorted) and the wall-clock time they took together.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    micros: Vec<u32>,
    elapsed: Duration,
}

impl Latencies {
    pub fn new(mut micros: Vec<u32>, elapsed: Duration) -> Latencies {
        micros.sort_unstable();
        Latencies { micros, elapsed }
    }

    /// From sequentially timed requests.
    pub fn from_durations(durations: &[Duration], elapsed: Duration) -> Latencies {
        Latencies::new(durations.iter().copied().map(as_micros).collect(), elapsed)
    }

    /// The value at quantile `q` (nearest rank), in milliseconds.
    fn quantile_ms(&self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return 0.0;
        }
        let rank = (q * self.micros.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.micros.len()) - 1;
        f64::from(self.micros[i]) / 1000.0
    }

    /// The figures a report shows.
    pub fn summary(&self) -> Summary {
        let n = self.micros.len();
        let secs = self.elapsed.as_secs_f64();
        let sum: u64 = self.micros.iter().map(|m| u64::from(*m)).sum();
        Summary {
            requests: n,
            seconds: round(secs, 3),
            per_second: if secs > 0.0 {
                round(n as f64 / secs, 0)
            } else {
                0.0
            },
            mean_ms: if n > 0 {
                round(sum as f64 / n as f64 / 1000.0, 3)
            } else {
                0.0
            },
            p50_ms: round(self.quantile_ms(0.50), 3),
            p99_ms: round(self.quantile_ms(0.99), 3),
            max_ms: round(self.quantile_ms(1.0), 3),
        }
    }
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// Count, rate and latency of a set of requests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub requests: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A deterministic pseudo-random number from `seed` and `i` (SplitMix64).
pub fn random(seed: u64, i: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(i)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_and_strings_without_parsing() {
        let body =
            br#"{"totalResults":100000,"itemsPerPage":100,"nextCursor":"czEwMA","x":"a\"b"}"#;
        assert_eq!(json_int(body, "totalResults"), Some(100_000));
        assert_eq!(json_int(body, "itemsPerPage"), Some(100));
        assert_eq!(json_int(body, "startIndex"), None);
        assert_eq!(json_str(body, "nextCursor"), Some("czEwMA"));
        assert_eq!(json_str(body, "x"), None);
        assert!(contains(body, b"\"itemsPerPage\":100,"));
        assert!(!contains(body, b"members"));
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let l = Latencies::new(
            (1..=100).map(|m| m * 1000).collect(),
            Duration::from_secs(1),
        );
        let s = l.summary();
        assert_eq!(s.requests, 100);
        assert_eq!(s.per_second, 100.0);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        assert_eq!(s.mean_ms, 50.5);
        assert_eq!(Latencies::default().summary().p99_ms, 0.0);
    }

    #[test]
    fn random_numbers_spread() {
        let picks: std::collections::HashSet<u64> = (0..1000).map(|i| random(7, i) % 100).collect();
        assert!(picks.len() > 90);
        assert_ne!(random(1, 0), random(2, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drive_returns_results_in_order_and_stops_on_errors() {
        let run = drive(
            8,
            Amount::Requests(1000),
            None,
            |i| async move { Ok(i * 2) },
        )
        .await
        .unwrap();
        assert_eq!(run.results, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(run.latencies.summary().requests, 1000);
        let err = drive(8, Amount::Requests(1000), None, |i| async move {
            if i == 500 {
                Err(format!("boom {i}"))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "boom 500");
        let timed = drive(2, Amount::For(Duration::from_millis(50)), None, |_| async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(())
        })
        .await
        .unwrap();
        assert!(timed.latencies.summary().requests > 5);
    }
}

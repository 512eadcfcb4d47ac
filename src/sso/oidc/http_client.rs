//! The HTTP client `openidconnect` talks to IdPs with: our reqwest 0.13, so the crate needs
//! no client (and no second TLS stack) of its own.

use crate::outbound::{Destinations, GuardedClient};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The largest IdP answer read (discovery, JWKS, token, userinfo): a hostile or broken
/// issuer cannot make us buffer without limit.
const MAX_BODY: usize = 1 << 20;

/// Why a request to the IdP failed. Carries no request data (the token request holds the
/// client secret and the code).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("cannot reach the identity provider: {0}")]
    Send(String),
    #[error("the identity provider's answer exceeds {MAX_BODY} bytes")]
    TooLarge,
}

/// A client that reaches only allowed destinations and never follows redirects:
/// following them would let a configured issuer point our requests anywhere (SSRF), as
/// the `openidconnect` docs warn (`crate::outbound`).
#[derive(Debug, Clone)]
pub struct IdpHttp {
    client: Result<GuardedClient, String>,
}

impl IdpHttp {
    /// A client with short timeouts (a person's browser waits on every call), for IdPs at
    /// the `destinations` allowed.
    pub fn new(destinations: &Destinations) -> IdpHttp {
        let client = GuardedClient::new(destinations, |b| {
            b.connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(10))
        });
        IdpHttp { client }
    }

    async fn send(
        &self,
        request: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, HttpError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| HttpError::Client(e.clone()))?;
        let request = reqwest::Request::try_from(request)
            // reqwest's message names the URL at most, never the body.
            .map_err(|e| HttpError::Send(e.to_string()))?;
        let mut response = client
            .execute(request)
            .await
            .map_err(|e| HttpError::Send(e.to_string()))?;
        let mut builder = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError::Send(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|e| HttpError::Send(e.to_string()))
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for IdpHttp {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

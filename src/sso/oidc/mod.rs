//! OpenID Connect sign-in (OIDC Core 1.0) with the `openidconnect` crate: each org's
//! connections ([`connections`]), and the authorization code flow with PKCE S256
//! (RFC 7636) from `/sso/{org}/start` to `/sso/oidc/callback` ([`flow`]).
//!
//! What the browser carries between the two is only `state` and a cookie; the `state`'s
//! hash, the cookie value's hash, the nonce's hash and the PKCE verifier live in the
//! database with an expiry, so any server process can finish a login any other started.

pub mod connections;
mod flow;
mod http_client;

pub use connections::{NewOidcConnection, OidcConnectionUpdate, OidcConnectionView};
pub use flow::{Callback, LoginError, Started, cookie_name};
pub use http_client::{HttpError, IdpHttp};

use openidconnect::IssuerUrl;
use openidconnect::core::{CoreProviderMetadata, CoreResponseType};

/// What OIDC sign-in needs besides the store: a client for IdPs, and our public URL.
#[derive(Debug, Clone)]
pub struct Oidc {
    pub(crate) http: IdpHttp,
    /// `https://rollcall.example.com`, no trailing slash.
    pub(crate) public_base_url: String,
}

impl Oidc {
    /// Sign-in answering at `public_base_url` (the redirect URI lives under it).
    pub fn new(public_base_url: &str) -> Oidc {
        Oidc {
            http: IdpHttp::new(),
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Whether cookies must be `Secure`: only when we are served over https (the tests
    /// and a local install run plain http on loopback).
    pub fn secure_cookies(&self) -> bool {
        self.public_base_url.starts_with("https://")
    }
}

/// Fetches and checks the issuer's discovery document (OIDC Discovery §4): the issuer in
/// it must be exactly the configured one (the crate checks), and it must offer the code
/// flow.
pub(crate) async fn discover(http: &IdpHttp, issuer: &str) -> Result<CoreProviderMetadata, String> {
    let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|e| e.to_string())?;
    let meta = CoreProviderMetadata::discover_async(issuer_url, http)
        .await
        .map_err(|e| discovery_message(&e))?;
    let offers_code = meta
        .response_types_supported()
        .iter()
        .any(|t| t.as_slice() == [CoreResponseType::Code]);
    if !offers_code {
        return Err(
            "the provider does not offer the authorization code flow (response_type \"code\")"
                .to_owned(),
        );
    }
    if meta.token_endpoint().is_none() {
        return Err("the provider's discovery document has no token_endpoint".to_owned());
    }
    Ok(meta)
}

/// The whole cause chain, which is where the crate says what was wrong.
fn discovery_message(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

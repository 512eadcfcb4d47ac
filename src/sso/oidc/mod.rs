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

pub use connections::{
    NewOidcConnection, OidcConnectionUpdate, OidcConnectionView, OidcConnections,
};
pub use flow::{Callback, LoginError, Started, cookie_name};
pub use http_client::{HttpError, IdpHttp};

use crate::outbound::Destinations;
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
    /// Sign-in answering at `public_base_url` (the redirect URI lives under it), talking
    /// to IdPs at the `destinations` allowed.
    pub fn new(public_base_url: &str, destinations: &Destinations) -> Oidc {
        Oidc {
            http: IdpHttp::new(destinations),
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Whether cookies must be `Secure`: only when we are served over https (the tests
    /// and a local install run plain http on loopback).
    pub fn secure_cookies(&self) -> bool {
        self.public_base_url.starts_with("https://")
    }
}

/// What every failure to fetch or use an IdP's answer says: the same words whether the
/// issuer was unreachable, refused as a destination, answered 404 or sent a document we
/// cannot use, so that an org admin cannot probe the internal network through it. The
/// cause goes to the operator's log.
pub(crate) const UNUSABLE: &str =
    "the identity provider could not be reached or its answer could not be used";

/// Logs why a request to an IdP failed and returns [`UNUSABLE`].
pub(crate) fn unusable(what: &str, issuer: &str, cause: &dyn std::fmt::Display) -> String {
    tracing::warn!(
        issuer = %crate::outbound::redact_url(issuer),
        %cause,
        "OpenID Connect {what} failed"
    );
    UNUSABLE.to_owned()
}

/// Fetches and checks the issuer's discovery document (OIDC Discovery §4): the issuer in
/// it must be exactly the configured one (the crate checks), and it must offer the code
/// flow. Fails with [`UNUSABLE`], the cause logged.
pub(crate) async fn discover(http: &IdpHttp, issuer: &str) -> Result<CoreProviderMetadata, String> {
    checked_discovery(http, issuer)
        .await
        .map_err(|cause| unusable("discovery", issuer, &cause))
}

async fn checked_discovery(http: &IdpHttp, issuer: &str) -> Result<CoreProviderMetadata, String> {
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

//! SSO hooks (DESIGN.md "SSO hooks"): sign-in through the org's OIDC or SAML connection,
//! invitations and email sign-in codes, SSO policies, and the sessions a sign-in opens.
//!
//! The protocol modules (`oidc`, `saml`, `email_code`) only establish *who* signed in; they
//! hand a [`signin::VerifiedLogin`] to [`signin::sign_in`], which matches it to a provisioned
//! user, applies the org's rules and opens the session. One door, so every way in obeys the
//! same rules.

pub mod connections;
pub mod email_code;
pub mod oidc;
pub mod policy;
pub mod saml;
pub mod session;
pub mod signin;
pub mod start;

use crate::clock::Clock;
use crate::outbound::Destinations;
use crate::provisioning::Directory;
use crate::store::Store;
use std::sync::Arc;

/// What sign-in and sessions need; lives in the app state.
#[derive(Debug, Clone)]
pub struct Sso {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub directory: Directory,
    pub sessions: session::Sessions,
    /// The public base URL (`config.public_base_url`): SAML entity ids and ACS URLs.
    pub public_base_url: String,
    /// OIDC sign-in: the IdP client and the public URL its redirect URI lives under.
    pub(crate) oidc: oidc::Oidc,
    /// Where OIDC requests may go.
    outbound: Destinations,
}

impl Sso {
    /// Sign-in over `store`, provisioning just-in-time users through `directory`, opening
    /// sessions with `sessions`.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        directory: Directory,
        sessions: session::Sessions,
    ) -> Sso {
        Sso {
            store,
            clock,
            directory,
            sessions,
            public_base_url: String::new(),
            oidc: oidc::Oidc::new("http://127.0.0.1", &Destinations::default()),
            outbound: Destinations::default(),
        }
    }

    /// Access tokens, refresh tokens and signing keys.
    pub fn sessions(&self) -> &session::Sessions {
        &self.sessions
    }

    /// Sets the public base URL (`--public-url`, else the bound address): SAML entity ids
    /// and ACS URLs, and the OIDC redirect URI (`{url}/sso/oidc/callback`) derive from it.
    pub fn with_public_base_url(mut self, url: &str) -> Sso {
        self.public_base_url = url.to_owned();
        self.oidc = oidc::Oidc::new(url, &self.outbound);
        self
    }

    /// Sets where OIDC requests (discovery, token, userinfo, JWKS) may go; internal
    /// addresses are refused unless allowed here.
    pub fn with_outbound(mut self, destinations: Destinations) -> Sso {
        self.oidc = oidc::Oidc::new(&self.oidc.public_base_url, &destinations);
        self.outbound = destinations;
        self
    }
}

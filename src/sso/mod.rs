//! SSO hooks (DESIGN.md "SSO hooks"): sign-in through the org's OIDC or SAML connection,
//! invitations and email sign-in codes, SSO policies, and the sessions a sign-in opens.
//!
//! The protocol modules (`oidc`, `saml`, `email_code`) only establish *who* signed in; they
//! hand a [`signin::VerifiedLogin`] to [`signin::sign_in`], which matches it to a provisioned
//! user, applies the org's rules and opens the session. One door, so every way in obeys the
//! same rules.

pub mod email_code;
pub mod oidc;
pub mod policy;
pub mod saml;
pub mod session;
pub mod signin;

use crate::clock::Clock;
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
        }
    }

    /// Access tokens, refresh tokens and signing keys.
    pub fn sessions(&self) -> &session::Sessions {
        &self.sessions
    }

    /// Sets the public base URL our SAML entity ids and ACS URLs derive from.
    pub fn with_public_base_url(mut self, url: impl Into<String>) -> Sso {
        self.public_base_url = url.into();
        self
    }
}

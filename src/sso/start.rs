//! `GET /sso/{org}/start`: which of the org's connections (OIDC or SAML) a sign-in goes
//! through, and where the browser is sent.

use super::Sso;
use super::oidc::{LoginError, Started};
use super::saml::{self, SamlError};
use crate::domain::OrgId;
use crate::store::sso_oidc::{self, OidcConnectionRow};
use crate::store::sso_saml::{self, SamlConnection};

/// An enabled connection a sign-in can start with.
#[derive(Debug, Clone)]
pub enum StartConnection {
    Oidc(OidcConnectionRow),
    Saml(SamlConnection),
}

/// Where a started sign-in sends the browser.
#[derive(Debug)]
pub enum StartRedirect {
    /// To the OIDC authorization endpoint, with the cookie that binds the login.
    Oidc(Started),
    /// To the SAML IdP (HTTP-Redirect binding); the AuthnRequest id is in the database.
    Saml { redirect_to: String },
}

impl StartConnection {
    fn id(&self) -> &str {
        match self {
            StartConnection::Oidc(c) => c.id.as_str(),
            StartConnection::Saml(c) => c.id.as_str(),
        }
    }

    fn describe(&self) -> String {
        match self {
            StartConnection::Oidc(c) => format!("{} ({}, OIDC)", c.id, c.name),
            StartConnection::Saml(c) => format!("{} ({}, SAML)", c.id, c.idp_entity_id),
        }
    }
}

/// The org's enabled connection: the one named by `requested`, else the only one. An
/// unknown org looks like an org without connections, so ids cannot be probed.
pub async fn choose_connection(
    sso: &Sso,
    org_id: &OrgId,
    requested: Option<&str>,
) -> Result<StartConnection, LoginError> {
    let mut tx = sso.store.read().await?;
    let mut enabled: Vec<StartConnection> = sso_oidc::list_connections(&mut tx, org_id)
        .await?
        .into_iter()
        .filter(|c| c.enabled)
        .map(StartConnection::Oidc)
        .collect();
    enabled.extend(
        sso_saml::list_connections(&mut tx, org_id)
            .await?
            .into_iter()
            .filter(|c| c.enabled)
            .map(StartConnection::Saml),
    );
    drop(tx);
    if let Some(id) = requested.filter(|r| !r.is_empty()) {
        return enabled
            .into_iter()
            .find(|c| c.id() == id)
            .ok_or_else(|| LoginError::UnknownConnection(id.to_owned()));
    }
    match enabled.len() {
        0 => Err(LoginError::NoConnection),
        1 => enabled.pop().ok_or(LoginError::NoConnection),
        _ => Err(LoginError::ConnectionRequired(
            enabled
                .iter()
                .map(StartConnection::describe)
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

impl Sso {
    /// Whether sign-in cookies must be `Secure` (we are served over https).
    pub fn oidc_secure_cookies(&self) -> bool {
        self.oidc.secure_cookies()
    }

    /// Starts a sign-in at the org's connection (see [`choose_connection`]); `login_hint`
    /// is passed to the IdP.
    pub async fn start_sign_in(
        &self,
        org_id: &OrgId,
        connection: Option<&str>,
        login_hint: Option<&str>,
    ) -> Result<StartRedirect, LoginError> {
        match choose_connection(self, org_id, connection).await? {
            StartConnection::Oidc(c) => self
                .oidc
                .start(self, &c, login_hint)
                .await
                .map(StartRedirect::Oidc),
            StartConnection::Saml(c) => saml::start_on(self, &c, None)
                .await
                .map(|redirect_to| StartRedirect::Saml { redirect_to })
                .map_err(|e| match e {
                    SamlError::Store(e) => LoginError::Store(e),
                    other => LoginError::Internal(other.to_string()),
                }),
        }
    }

    /// Finishes an OIDC sign-in at the callback; `browser` is the value of the cookie
    /// named [`super::oidc::cookie_name`] of the callback's state.
    pub async fn finish_oidc_sign_in(
        &self,
        callback: super::oidc::Callback,
        browser: Option<&str>,
    ) -> Result<super::signin::SignedIn, LoginError> {
        self.oidc.finish(self, callback, browser).await
    }
}

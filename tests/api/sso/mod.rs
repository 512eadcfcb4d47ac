//! Issue 4: SSO sign-in, invitations, email codes, policies and sessions.

mod email_sign_in;
mod invitations;
mod oidc;
mod openapi;
mod policies;
mod saml;
mod sessions;

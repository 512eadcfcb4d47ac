//! Joining emails and invitation links (DESIGN.md "Provisioning rules" 4).
//!
//! A membership that gets its seat is sent one email naming the org and the team, with a
//! link `<public URL>/invitations/<token>`. The token is `<membership id>.<expiry, unix
//! seconds>.<base64url HMAC-SHA256 of both>`, keyed with a random secret stored once in
//! the database (so every process signs and verifies alike). Tokens and the key are
//! never logged.

mod email;
mod link;
mod send;
mod token;

pub(super) use email::user_info;
pub use email::{Template, address, compose, sso_enforced};
pub use link::{InvitationError, InvitationView, Renewed, accept, renew, show};
pub(super) use send::joining_emails;
pub use send::{AdminMail, NO_ADDRESS, Sent, send_to_members};
pub use token::{Checked, DEFAULT_TTL_DAYS, InvalidInvitation, Invitations};

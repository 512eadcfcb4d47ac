//! Issue 4: SSO sign-in, invitations, email codes, policies and sessions.

mod email_sign_in;
mod invitations;
mod oidc;
mod openapi;
mod policies;
mod saml;
mod sessions;

use serde_json::Value;

/// Asserts that the admin audit log (`GET /admin/v1/audit`) holds the deletion of the
/// connection `id` of `kind` (`oidc_connection`, `saml_connection`): its target, and the
/// connection as it was before.
pub fn assert_connection_deletion_audited(audit: &Value, kind: &str, id: &str) {
    let action = format!("{kind}.deleted");
    let entry = audit["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["action"] == action.as_str())
        .unwrap_or_else(|| panic!("no {action} in {audit}"));
    assert_eq!(entry["target"], format!("{kind}:{id}"));
    assert_eq!(entry["before"]["id"], id);
    assert_eq!(entry["after"], Value::Null);
}

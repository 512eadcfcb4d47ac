//! `/admin/v1/sso/oidc-connections`: the org's OpenID Connect connections.

use super::sso_connections::connection_handlers;
use crate::sso::oidc::{
    NewOidcConnection, OidcConnectionUpdate, OidcConnectionView, OidcConnections,
};

connection_handlers! {
    kind: OidcConnections,
    view: OidcConnectionView,
    new: NewOidcConnection,
    update: OidcConnectionUpdate,
    collection: "/admin/v1/sso/oidc-connections",
    item: "/admin/v1/sso/oidc-connections/{id}",
    create_refused: "Invalid settings, or the issuer's discovery failed",
    /// The org's OIDC connections (never their client secrets).
    list: list_oidc_connections,
    /// Creates a connection after fetching the issuer's discovery document.
    create: create_oidc_connection,
    /// One connection.
    get: get_oidc_connection,
    /// Changes a connection (a new issuer is checked by discovery; a new secret replaces the old).
    update: update_oidc_connection,
    /// Deletes a connection; sign-ins in flight through it fail.
    delete: delete_oidc_connection,
}

//! `/admin/v1/sso/saml-connections`: the org's SAML connections.

use super::sso_connections::connection_handlers;
use crate::sso::saml::{
    NewSamlConnection, SamlConnectionUpdate, SamlConnectionView, SamlConnections,
};

connection_handlers! {
    kind: SamlConnections,
    view: SamlConnectionView,
    new: NewSamlConnection,
    update: SamlConnectionUpdate,
    collection: "/admin/v1/sso/saml-connections",
    item: "/admin/v1/sso/saml-connections/{id}",
    create_refused: "No signing certificate, bad metadata, URL or certificate",
    /// The org's SAML connections, with the SP values to give the IdP.
    list: list_saml_connections,
    /// Creates a connection from the IdP's metadata or its entity id, SSO URL and signing
    /// certificate. A connection without a certificate is refused.
    create: create_saml_connection,
    /// One connection.
    get: get_saml_connection,
    /// Changes a connection; absent fields stay as they are.
    update: update_saml_connection,
    /// Deletes a connection.
    delete: delete_saml_connection,
}

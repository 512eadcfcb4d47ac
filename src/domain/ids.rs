//! Ids of the stored records, one type each, so that a team id passed where a user id
//! belongs does not compile.
//!
//! An id is text: a UUID when rollcall makes it (v4 or v7, whichever the record has
//! always had), but whatever a client sent when it comes from a request. Wrapping request
//! text never fails: an id that names nothing is answered as today (404, or an empty
//! result), not refused by a new validation. Each id serialises as a plain JSON string.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random id (UUID v4).
            pub fn new_v4() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// A new time-ordered id (UUID v7).
            pub fn new_v7() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// The id as request or stored text; never fails (see the module comment).
            pub fn from_request_text(text: impl Into<String>) -> Self {
                Self(text.into())
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                Self(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self(text.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// As the text's own `Debug` (quoted): messages that show an id with `{:?}`
        /// read as they did when ids were strings.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// An organization (`orgs.id`), made by `rollcall org create`.
    OrgId
);
id_type!(
    /// A SCIM user (`scim_users.id`), also the user of memberships, org roles and
    /// sessions.
    UserId
);
id_type!(
    /// A SCIM group (`scim_groups.id`).
    GroupId
);
id_type!(
    /// A team (`teams.id`).
    TeamId
);
id_type!(
    /// A subscription of seats (`subscriptions.id`).
    SubscriptionId
);
id_type!(
    /// A team membership (`memberships.id`).
    MembershipId
);
id_type!(
    /// A group mapping (`group_mappings.id`).
    MappingId
);
id_type!(
    /// A webhook endpoint (`webhook_endpoints.id`).
    WebhookId
);
id_type!(
    /// An OIDC connection (`oidc_connections.id`).
    OidcConnectionId
);
id_type!(
    /// A SAML connection (`saml_connections.id`).
    SamlConnectionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_a_plain_json_string() {
        let id = TeamId::from("t-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""t-1""#);
        let back: TeamId = serde_json::from_str(r#""t-1""#).unwrap();
        assert_eq!(back, id);
        assert_eq!(id.to_string(), "t-1");
        assert_eq!(format!("{id:?}"), r#""t-1""#);
    }

    #[test]
    fn new_ids_are_uuids_of_their_version() {
        let v4 = uuid::Uuid::parse_str(OrgId::new_v4().as_str()).unwrap();
        assert_eq!(v4.get_version_num(), 4);
        let v7 = uuid::Uuid::parse_str(UserId::new_v7().as_str()).unwrap();
        assert_eq!(v7.get_version_num(), 7);
    }
}

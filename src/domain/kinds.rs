//! The closed sets of values the product knows, each with its stored (SQL) and JSON
//! spelling in one place: `as_str` below. Serde's `rename_all` says the same thing for
//! JSON and a test checks that they agree; rows decode through `FromStr`, so a stored
//! value outside the set is an error instead of a silently wrong branch.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A spelling that names no value of the set: what decoding an unknown stored value gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownSpelling {
    /// The set, e.g. "membership state".
    pub kind: &'static str,
    /// The value read.
    pub value: String,
}

/// A closed set of values spelt the same in SQL and JSON.
pub trait Spelled: Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The stored and JSON spelling.
    fn as_str(self) -> &'static str;
}

/// `as_str`, `ALL`, `FromStr` and `Display` from one list of spellings.
macro_rules! spelled {
    ($name:ident, $what:literal, { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and JSON spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s),+
                }
            }
        }

        impl Spelled for $name {
            const ALL: &'static [Self] = $name::ALL;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl FromStr for $name {
            type Err = UnknownSpelling;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(UnknownSpelling {
                        kind: $what,
                        value: other.to_owned(),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Where a team membership is in its life (DESIGN.md "Provisioning rules").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipState {
    /// Wanted, but the team has no free seat: on the waitlist.
    AwaitingSeat,
    /// Holds a seat; the joining email is (or will be) out.
    Invited,
    /// The invitation was accepted; the person has not used the app yet.
    PendingAppLogin,
    /// Signed in to the app.
    Active,
}

spelled!(MembershipState, "membership state", {
    AwaitingSeat => "awaiting_seat",
    Invited => "invited",
    PendingAppLogin => "pending_app_login",
    Active => "active",
});

impl MembershipState {
    /// Every state but `awaiting_seat` holds a seat.
    pub fn holds_seat(self) -> bool {
        self != MembershipState::AwaitingSeat
    }

    /// The seat-holding states as an SQL list, `('invited', 'pending_app_login', 'active')`.
    pub fn seat_states_sql() -> String {
        sql_list(
            MembershipState::ALL
                .iter()
                .filter(|s| s.holds_seat())
                .map(|s| s.as_str()),
        )
    }
}

/// `('a', 'b')` from spellings (which never hold a quote).
fn sql_list<'a>(spellings: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = spellings.map(|s| format!("'{s}'")).collect();
    format!("({})", quoted.join(", "))
}

/// Why a team membership exists; an org role uses only `group` and `manual`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipSource {
    /// A mapped IdP group the user is in.
    Group,
    /// The team attribute the IdP sets on the user (the rollcall extension's `teams`).
    Attribute,
    /// The org's default team.
    Default,
    /// An admin added it by hand.
    Manual,
}

spelled!(MembershipSource, "membership source", {
    Group => "group",
    Attribute => "attribute",
    Default => "default",
    Manual => "manual",
});

impl MembershipSource {
    /// Priority when several sources want the same membership: the most specific names it.
    pub fn rank(self) -> u8 {
        match self {
            MembershipSource::Group => 3,
            MembershipSource::Attribute => 2,
            MembershipSource::Default => 1,
            MembershipSource::Manual => 0,
        }
    }
}

/// How a team's members sign in to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginType {
    Email,
    Device,
}

spelled!(LoginType, "login type", {
    Email => "email",
    Device => "device",
});

/// A member's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    User,
    Admin,
}

spelled!(TeamRole, "team role", {
    User => "user",
    Admin => "admin",
});

impl TeamRole {
    /// When several sources want one membership, the highest role wins.
    pub fn rank(self) -> u8 {
        u8::from(self == TeamRole::Admin)
    }
}

/// A role in the whole organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    /// Everything in the org.
    OrgAdmin,
    /// Reads everything but billing and secrets; changes nothing.
    OrgAnalyst,
}

spelled!(OrgRole, "org role", {
    OrgAdmin => "org_admin",
    OrgAnalyst => "org_analyst",
});

impl OrgRole {
    /// When several mapped groups grant a role, the highest wins.
    pub fn rank(self) -> u8 {
        u8::from(self == OrgRole::OrgAdmin)
    }
}

/// What happens when a team is full (DESIGN.md "Provisioning rules" 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeatOverflow {
    /// The membership waits for a seat.
    Waitlist,
    /// The request fails and changes nothing.
    Reject,
}

spelled!(SeatOverflow, "seat overflow", {
    Waitlist => "waitlist",
    Reject => "reject",
});

/// What an outbox row delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    Email,
    Webhook,
}

spelled!(OutboxKind, "outbox kind", {
    Email => "email",
    Webhook => "webhook",
});

/// Where an outbox row is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Claimed by a worker until `claimed_until`.
    Sending,
    /// Accepted by the SMTP server or the webhook receiver.
    Delivered,
    /// Given up: permanent error or too many attempts.
    Failed,
}

spelled!(OutboxState, "outbox state", {
    Pending => "pending",
    Sending => "sending",
    Delivered => "delivered",
    Failed => "failed",
});

#[cfg(test)]
mod tests {
    use super::*;

    /// Serde's `rename_all` and `as_str` spell every value alike, and `FromStr` reads it back.
    fn round_trips<T>()
    where
        T: Spelled + Serialize + for<'de> Deserialize<'de> + FromStr + PartialEq + fmt::Debug,
        <T as FromStr>::Err: fmt::Debug,
    {
        for &v in T::ALL {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
            assert_eq!(serde_json::from_value::<T>(v.as_str().into()).unwrap(), v);
            assert_eq!(v.as_str().parse::<T>().unwrap(), v);
        }
    }

    #[test]
    fn json_and_sql_spellings_agree() {
        round_trips::<MembershipState>();
        round_trips::<MembershipSource>();
        round_trips::<LoginType>();
        round_trips::<TeamRole>();
        round_trips::<OrgRole>();
        round_trips::<SeatOverflow>();
        round_trips::<OutboxKind>();
        round_trips::<OutboxState>();
    }

    #[test]
    fn unknown_spellings_are_errors() {
        let e = "Active".parse::<MembershipState>().unwrap_err();
        assert_eq!(e.to_string(), "unknown membership state \"Active\"");
        assert!("owner".parse::<TeamRole>().is_err());
    }

    #[test]
    fn seat_states_are_every_state_but_the_waitlist() {
        assert_eq!(
            MembershipState::seat_states_sql(),
            "('invited', 'pending_app_login', 'active')"
        );
    }
}

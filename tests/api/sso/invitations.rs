//! Tests of invitations.

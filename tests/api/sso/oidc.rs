//! Tests of oidc.

//! Tests of saml.

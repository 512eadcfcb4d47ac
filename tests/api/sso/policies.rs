//! Tests of policies.

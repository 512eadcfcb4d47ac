//! Tests of email sign in.

//! Group members.

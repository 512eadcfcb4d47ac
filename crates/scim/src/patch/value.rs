//! Value helpers.

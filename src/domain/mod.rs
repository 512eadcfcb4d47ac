//! The domain's vocabulary, below every layer and free of I/O: the closed sets of values
//! (states, roles, kinds) with their stored and JSON spellings, and the stored timestamp.

pub mod kinds;
pub mod time;

//! Blocking.

//! Reading data.

//! Interop harness (filled in by the interop work).
#![forbid(unsafe_code)]

//! Authenticators for Interledger transports (work in progress in this commit).
#![forbid(unsafe_code)]

pub mod jwt;

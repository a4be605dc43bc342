//! Criterion benches for the ilp workspace; see `benches/README.md` for the figures and how to
//! reproduce them. The benches live in `benches/benches/`.
#![forbid(unsafe_code)]

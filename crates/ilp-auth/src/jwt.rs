//! JWT HS256 (work in progress in this commit).

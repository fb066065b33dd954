//! End-to-end tests of clerk-guard live in `tests/`.

//! Runnable examples of clerk-guard; see the `[[example]]` targets.

//! The axum and tower edge: extractors, the guards the attribute puts
//! first, and the layer. Each verifies a request at most once per verifier
//! (the outcome is kept in the request's extensions) and renders a refusal
//! on its way out, with the verifier's renderer.

mod body;
mod ext;
mod extractors;
mod guards;
mod layer;
mod outcome;

pub use body::RefusalBody;
pub use ext::ClerkExtensions;
pub use guards::{Guard, OptionalGuard, SoleAuth, SoleGuard};
pub use layer::{ClerkLayer, ClerkService};

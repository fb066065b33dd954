#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth, Principal};

#[clerk_protected(accepts = "jwt")]
async fn unknown_kind() {}

#[clerk_protected(accepts = ["m2m", "m2m"])]
async fn repeated_kind() {}

#[clerk_protected(accepts = [])]
async fn no_kind() {}

#[clerk_protected(accepts = "m2m", accepts = "oauth")]
async fn duplicate_key() {}

#[clerk_protected(accepts = ["session", "m2m"], roles = "admin")]
async fn roles_with_machines() {}

#[clerk_protected(scopes = "read")]
async fn scopes_on_sessions() {}

#[clerk_protected(accepts = ["session", "oauth"], scopes = "read")]
async fn scopes_with_sessions() {}

#[clerk_protected(accepts = "m2m")]
async fn session_param_on_machine_route(_auth: ClerkAuth) {}

#[clerk_protected(optional, accepts = "oauth", scopes = "read")]
async fn optional_with_scopes() {}

fn main() {}

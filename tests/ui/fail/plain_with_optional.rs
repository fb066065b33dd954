#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(optional)]
async fn handler(_auth: ClerkAuth) {}

fn main() {}

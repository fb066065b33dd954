#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(roles = admin)]
async fn handler() {}

fn main() {}

#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(roles = ["admin", 42])]
async fn handler() {}

fn main() {}

#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(roles = "", permissions = [])]
async fn handler() {}

fn main() {}

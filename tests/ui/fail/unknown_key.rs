#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(role = "admin")]
async fn handler() {}

fn main() {}

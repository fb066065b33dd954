#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(plan = [])]
async fn handler() {}

fn main() {}

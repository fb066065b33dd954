#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(optional, plan = "pro")]
async fn handler(auth: Option<ClerkAuth>) {}

fn main() {}

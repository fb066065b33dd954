#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected]
async fn handler(_auth: Option<ClerkAuth>) {}

fn main() {}

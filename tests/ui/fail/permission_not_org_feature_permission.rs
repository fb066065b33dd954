#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(permissions = ["org:billing:manage", "billing:manage", "org::read", "org:reports:"])]
async fn handler() {}

fn main() {}

#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(feature = ["org:reports", "team:reports", "user:"])]
async fn handler() {}

fn main() {}

#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(reverification(level = "third_factor", after_minutes = 0))]
async fn handler() {}

#[clerk_protected(reverification(level = "second_factor"))]
async fn other() {}

fn main() {}

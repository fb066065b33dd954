#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

struct Api;

impl Api {
    #[clerk_protected]
    async fn handler(&self) {}
}

fn main() {}

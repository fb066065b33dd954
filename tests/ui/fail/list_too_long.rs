#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(roles = ["role-0", "role-1", "role-2", "role-3", "role-4", "role-5", "role-6", "role-7", "role-8", "role-9", "role-10", "role-11", "role-12", "role-13", "role-14", "role-15", "role-16", "role-17", "role-18", "role-19", "role-20", "role-21", "role-22", "role-23", "role-24", "role-25", "role-26", "role-27", "role-28", "role-29", "role-30", "role-31", "role-32", "role-33", "role-34", "role-35", "role-36", "role-37", "role-38", "role-39", "role-40", "role-41", "role-42", "role-43", "role-44", "role-45", "role-46", "role-47", "role-48", "role-49", "role-50", "role-51", "role-52", "role-53", "role-54", "role-55", "role-56", "role-57", "role-58", "role-59", "role-60", "role-61", "role-62", "role-63", "role-64"])]
async fn handler() {}

fn main() {}

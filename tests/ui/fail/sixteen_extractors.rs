#![allow(dead_code, unused_imports)]
use clerk_guard::{clerk_protected, ClerkAuth};

use axum::http::{HeaderMap, Method, Uri, Version};

#[clerk_protected]
async fn many(
    _a: HeaderMap, _b: Method, _c: Uri, _d: Version, _e: HeaderMap,
    _f: Method, _g: Uri, _h: Version, _i: HeaderMap, _j: Method,
    _k: Uri, _l: Version, _m: HeaderMap, _n: Method, _o: Uri, _auth: ClerkAuth,
) {}

fn main() {}

//! 15 extractors of the user's plus the guard is axum's maximum of 16.
use axum::http::{HeaderMap, Method, Uri, Version};
use axum::routing::get;
use axum::Router;
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected]
#[allow(clippy::too_many_arguments)]
async fn many(
    _a: HeaderMap, _b: Method, _c: Uri, _d: Version, _e: HeaderMap,
    _f: Method, _g: Uri, _h: Version, _i: HeaderMap, _j: Method,
    _k: Uri, _l: Version, _m: HeaderMap, _n: Method, _auth: ClerkAuth,
) {}

fn main() {
    let _: Router = Router::new().route("/", get(many));
}

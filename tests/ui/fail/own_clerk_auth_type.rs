// A handler's only parameter named `ClerkAuth` is handed clerk-guard's
// session: a type of the application's own by that name does not compile.
use clerk_guard::clerk_protected;

struct ClerkAuth;

#[clerk_protected]
async fn me(_auth: ClerkAuth) -> &'static str {
    "mine"
}

fn main() {
    let _ = axum::Router::<()>::new().route("/me", axum::routing::get(me));
}

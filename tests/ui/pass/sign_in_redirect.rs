use axum::routing::get;
use axum::Router;
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected(sign_in_redirect)]
async fn dashboard(auth: ClerkAuth) -> String {
    format!("<h1>{}</h1>", auth.user_id())
}

#[clerk_protected(sign_in_redirect, roles = "admin")]
async fn admin_page() -> &'static str {
    "admin"
}

#[clerk_protected(sign_in_redirect, accepts = ["session", "api_key"])]
async fn either(caller: clerk_guard::Principal) -> String {
    caller.subject().to_owned()
}

fn main() {
    let _: Router = Router::new()
        .route("/dashboard", get(dashboard))
        .route("/admin", get(admin_page))
        .route("/either", get(either));
}

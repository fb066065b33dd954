//! Role-based access: application roles, organization roles, permissions.
//! `cargo run --example roles`

use axum::routing::get;
use axum::Router;
use clerk_guard::{clerk_protected, ClerkAuth};
use clerk_guard_examples::run;

/// Application role from the session token's custom claims (`roles`,
/// `role`, `metadata.role` or `metadata.roles`).
#[clerk_protected(roles = "admin")]
async fn admin(auth: ClerkAuth) -> String {
    format!("admin {}\n", auth.user_id())
}

/// Any of several roles.
#[clerk_protected(roles = ["admin", "editor"])]
async fn edit() -> &'static str {
    "you may edit\n"
}

/// The active organization's role: `admin` and `org:admin` are the same.
#[clerk_protected(org_role = "admin")]
async fn org_settings(auth: ClerkAuth) -> String {
    format!("settings of {:?}\n", auth.org().map(|o| o.id()))
}

/// All listed permissions, and (AND) the app role.
#[clerk_protected(roles = "admin", permissions = ["org:billing:manage", "org:reports:read"])]
async fn finance() -> &'static str {
    "finance\n"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Router::new()
        .route("/admin", get(admin))
        .route("/edit", get(edit))
        .route("/org/settings", get(org_settings))
        .route("/finance", get(finance));
    run(app, 3004, |issuer| {
        let admin = issuer.token().roles(["admin"]).expires_in(3600).sign();
        let org_admin = issuer
            .token()
            .org("org_1", "acme", "admin")
            .permissions(["org:billing:manage", "org:reports:read"])
            .roles(["admin"])
            .expires_in(3600)
            .sign();
        vec![("ADMIN", admin), ("ORG_ADMIN", org_admin)]
    })
    .await
}

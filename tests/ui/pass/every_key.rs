use axum::routing::get;
use axum::Router;
use clerk_guard::{clerk_protected, ClerkAuth};

#[clerk_protected]
async fn signed_in() {}

#[clerk_protected(roles = "admin")]
async fn one_role(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[clerk_protected(roles = ["admin", "editor"],)]
async fn any_role() {}

#[clerk_protected(org_role = "admin")]
async fn org_role() {}

#[clerk_protected(permissions = "org:billing:manage")]
async fn one_permission() {}

#[clerk_protected(permissions = ["org:a:read", "org:b:read"])]
async fn all_permissions() {}

#[clerk_protected(roles = "admin", org_role = "org:admin", permissions = "org:billing:manage")]
async fn all_keys() {}

#[clerk_protected(feature = "reports")]
async fn one_feature() {}

#[clerk_protected(feature = ["org:reports", "u:export"], plan = ["pro", "o:team"])]
async fn features_and_plans() {}

#[clerk_protected(reverification = "strict_mfa")]
async fn preset() {}

#[clerk_protected(reverification(level = "multi_factor", after_minutes = 5))]
async fn custom_reverification() {}

#[clerk_protected(
    roles = "admin",
    org_role = "admin",
    permissions = "org:billing:manage",
    feature = "reports",
    plan = "pro",
    reverification = "moderate"
)]
async fn six_keys() {}

#[clerk_protected(optional)]
async fn optional(auth: Option<ClerkAuth>) -> String {
    auth.map(|a| a.user_id().to_owned()).unwrap_or_default()
}

#[clerk_protected(roles = "café ☕")]
async fn unicode_role() {}

fn main() {
    let _: Router = Router::new()
        .route("/a", get(signed_in))
        .route("/b", get(one_role))
        .route("/c", get(any_role))
        .route("/d", get(org_role))
        .route("/e", get(one_permission))
        .route("/f", get(all_permissions))
        .route("/g", get(all_keys))
        .route("/h", get(optional))
        .route("/i", get(unicode_role))
        .route("/j", get(one_feature))
        .route("/k", get(features_and_plans))
        .route("/l", get(preset))
        .route("/m", get(custom_reverification))
        .route("/n", get(six_keys));
}

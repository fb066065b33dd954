use clerk_guard::{clerk_protected, ClerkAuth, Principal};

#[clerk_protected(optional, sign_in_redirect)]
async fn anonymous_pages(auth: Option<ClerkAuth>) -> &'static str {
    if auth.is_some() { "yours" } else { "public" }
}

#[clerk_protected(accepts = "m2m", sign_in_redirect)]
async fn machines(caller: Principal) -> String {
    caller.subject().to_owned()
}

#[clerk_protected(sign_in_redirect, sign_in_redirect)]
async fn twice() -> &'static str {
    "twice"
}

fn main() {}

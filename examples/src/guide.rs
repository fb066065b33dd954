//! What the quickstart prints with the embedded issuer: each identity's
//! token once, as a shell variable, then short commands grouped by route
//! family, each with the status it answers; and `GET /dev/token`, which
//! mints more.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use clerk_guard::testing::{webhook_event, TestIssuer};
use clerk_guard::TokenKind;
use serde_json::json;

/// `GET /dev/token?sub=…&roles=a,b&org=…&org_role=…&permissions=…&expires_in=…`:
/// a session token from the embedded issuer. Mounted in embedded mode only.
pub fn dev_token_route(issuer: Arc<TestIssuer>) -> Router {
    Router::new()
        .route("/dev/token", get(dev_token))
        .with_state(issuer)
}

async fn dev_token(
    State(issuer): State<Arc<TestIssuer>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<String, (StatusCode, String)> {
    let list = |name: &str| -> Vec<String> {
        query
            .get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let expires_in = match query.get("expires_in") {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|s| (1..=86_400).contains(s))
            .ok_or((
                StatusCode::BAD_REQUEST,
                "expires_in: seconds, 1 to 86400\n".to_owned(),
            ))?,
        None => 3600,
    };
    let sub = query.get("sub").map_or("user_dev", String::as_str);
    let mut token = issuer
        .token()
        .subject(sub)
        .expires_in(expires_in)
        .roles(list("roles"));
    if let Some(role) = query.get("org_role") {
        let org = query.get("org").map_or("org_dev", String::as_str);
        token = token.org(org, org, role).permissions(list("permissions"));
    } else if query.contains_key("permissions") {
        return Err((
            StatusCode::BAD_REQUEST,
            "permissions need org_role (and org)\n".to_owned(),
        ));
    }
    Ok(format!("{}\n", token.sign()))
}

/// A command: the token variable it sends (if any), the path, what it answers.
type Command = (Option<&'static str>, &'static str, &'static str);

/// The guide's lines for a server at `base`.
pub fn lines(issuer: &TestIssuer, base: &str, session_seconds: u64) -> Vec<String> {
    let hour = 3600;
    let mut out = Vec::new();
    let mut say = |line: String| out.push(line);
    let session = |sub: &str| issuer.token().subject(sub).expires_in(hour);
    let tokens = [
        (
            "USER_TOKEN",
            "user_plain: signed in, no role",
            session("user_plain").sign(),
        ),
        (
            "ADMIN_TOKEN",
            "user_admin: the application role admin",
            session("user_admin").roles(["admin"]).sign(),
        ),
        (
            "MEMBER_TOKEN",
            "user_member: member of org acme with org:billing:manage",
            session("user_member")
                .org("org_acme", "acme", "member")
                .permissions(["org:billing:manage"])
                .sign(),
        ),
        (
            "PRO_TOKEN",
            "user_pro: plan pro, feature reports, second factor 2 minutes ago",
            session("user_pro")
                .plans(["u:pro"])
                .features(["u:reports"])
                .factor_ages(2, 2)
                .sign(),
        ),
        (
            "FREE_TOKEN",
            "user_free: plan free, second factor 10 hours ago",
            session("user_free")
                .plans(["u:free"])
                .features(["u:export"])
                .factor_ages(600, 600)
                .sign(),
        ),
        (
            "M2M_TOKEN",
            "machine mch_worker: an M2M JWT, verified without the network",
            issuer
                .m2m_token()
                .subject("mch_worker")
                .expires_in(hour)
                .sign(),
        ),
        (
            "M2M_OPAQUE",
            "machine mch_worker: an opaque M2M token, verified by the Backend API",
            issuer.opaque(TokenKind::M2m).subject("mch_worker").mint(),
        ),
        (
            "API_KEY",
            "an API key of user_plain",
            issuer
                .opaque(TokenKind::ApiKey)
                .subject("user_plain")
                .mint(),
        ),
    ];
    let user_created = webhook_event(
        "user.created",
        json!({
            "id": "user_new", "object": "user", "first_name": "Ada",
            "primary_email_address_id": "idn_1",
            "email_addresses": [{"id": "idn_1", "object": "email_address", "email_address": "ada@example.com"}],
        }),
    );
    let delivery = issuer.webhook(user_created).sign();
    let tampered = delivery.body.replace("ada@example.com", "eve@example.com");

    say("# Paste the export lines once (they hold tokens valid for an hour), then any".into());
    say("# command below it; each ends with the status it answers.".into());
    for (name, who, token) in &tokens {
        say(format!("export {name}={token}  # {who}"));
    }
    say(format!(
        "export WEBHOOK_ID={} WEBHOOK_TS={} WEBHOOK_SIG={}  # a user.created delivery, signed now (5 minutes)",
        delivery.id, delivery.timestamp, delivery.signature
    ));
    say(format!("export WEBHOOK_BODY='{}'", delivery.body));
    say(format!(
        "export TAMPERED_BODY='{tampered}'  # the same with another address"
    ));

    let curl = |token: Option<&str>, path: &str, expect: &str| match token {
        Some(name) => {
            format!("curl -i -H \"Authorization: Bearer ${name}\" {base}{path}  # {expect}")
        }
        None => format!("curl -i {base}{path}  # {expect}"),
    };
    let groups: [(&str, Vec<Command>); 5] = [
        (
            "anyone, and signed-in users",
            vec![
                (None, "/public", "200"),
                (None, "/maybe", "200 {\"sub\":null}"),
                (None, "/me", "401 token-missing"),
                (Some("USER_TOKEN"), "/me", "200"),
                (Some("USER_TOKEN"), "/maybe", "200 {\"sub\":\"user_plain\"}"),
                (None, "/openapi.json", "200 (the OpenAPI spec; /docs renders it)"),
            ],
        ),
        (
            "roles and organization permissions",
            vec![
                (Some("USER_TOKEN"), "/admin", "403 missing-role"),
                (Some("ADMIN_TOKEN"), "/admin", "200"),
                (Some("ADMIN_TOKEN"), "/billing", "403 missing-permission"),
                (Some("MEMBER_TOKEN"), "/billing", "200"),
            ],
        ),
        (
            "billing plans, features and step-up reverification",
            vec![
                (Some("PRO_TOKEN"), "/pro", "200"),
                (Some("FREE_TOKEN"), "/pro", "403 missing-plan"),
                (Some("PRO_TOKEN"), "/reports", "200"),
                (Some("FREE_TOKEN"), "/reports", "403 missing-feature"),
                (Some("PRO_TOKEN"), "/danger", "200"),
                (Some("FREE_TOKEN"), "/danger", "403 reverification-error"),
            ],
        ),
        (
            "machines: /machine takes M2M tokens only, /any every kind of caller",
            vec![
                (Some("M2M_TOKEN"), "/machine", "200"),
                (Some("M2M_OPAQUE"), "/machine", "200"),
                (Some("API_KEY"), "/machine", "401 token-type-mismatch"),
                (Some("USER_TOKEN"), "/machine", "401 token-type-mismatch"),
                (Some("API_KEY"), "/any", "200"),
                (Some("M2M_TOKEN"), "/me", "401 token-type-mismatch"),
            ],
        ),
        (
            "your own tokens: any subject, roles, org role, permissions (embedded mode only)",
            vec![(None, "/dev/token?sub=user_me&roles=admin,editor&org=org_me&org_role=admin&permissions=org:billing:manage", "200 (a token: export MY_TOKEN=$(curl -s …))")],
        ),
    ];
    for (title, commands) in groups {
        say(String::new());
        say(format!("# {title}"));
        for (token, path, expect) in commands {
            let line = curl(token, path, expect);
            // A URL with `&` is quoted for the shell.
            say(if path.contains('&') {
                line.replace(&format!("{base}{path}"), &format!("\"{base}{path}\""))
            } else {
                line
            });
        }
    }
    say(String::new());
    say("# webhooks: the signed delivery (again: 200, the handler runs once), then the tampered one".into());
    let post = |body: &str, expect: &str| {
        format!(
            "curl -i -X POST {base}/webhooks/clerk -H \"svix-id: $WEBHOOK_ID\" -H \"svix-timestamp: $WEBHOOK_TS\" \
             -H \"svix-signature: $WEBHOOK_SIG\" --data-raw \"${body}\"  # {expect}"
        )
    };
    say(post("WEBHOOK_BODY", "200"));
    say(post("TAMPERED_BODY", "400 webhook-invalid-signature"));
    say(String::new());
    say(format!(
        "# in a browser: {base}/dashboard sends you to sign in and back; after the session token expires \
         ({session_seconds} s) a reload stays signed in through Clerk's handshake"
    ));
    out
}

//! OpenAPI documentation with utoipa (feature `utoipa`): Clerk's bearer
//! scheme, and each protected route's security requirement and rejection
//! responses, without restating them on every route.
//!
//! Register [`ClerkSecurity`] once, put `#[clerk_protected]` **above**
//! `#[utoipa::path]`, and the attribute writes the route's security into the
//! path (`security(("clerk" = []))`, or `security((), ("clerk" = []))` for
//! `optional`: anonymous allowed). [`ClerkSecurity`] then adds the scheme,
//! the `ClerkRejection` body schema and the 401/403/503 responses to every
//! operation that carries the requirement. With `#[utoipa::path]` above
//! instead, write that one `security(...)` line yourself.
//!
//! ```
//! use clerk_guard::openapi::ClerkSecurity;
//! use clerk_guard::{clerk_protected, ClerkAuth};
//! use utoipa::OpenApi;
//!
//! #[clerk_protected(roles = "admin")]
//! #[utoipa::path(get, path = "/admin", responses((status = 200, description = "the admin page")))]
//! async fn admin(auth: ClerkAuth) -> String {
//!     auth.user_id().to_owned()
//! }
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(admin), modifiers(&ClerkSecurity))]
//! struct ApiDoc;
//!
//! let spec = serde_json::to_value(ApiDoc::openapi()).unwrap();
//! assert_eq!(spec["paths"]["/admin"]["get"]["security"][0]["clerk"], serde_json::json!([]));
//! assert!(spec["paths"]["/admin"]["get"]["responses"]["401"].is_object());
//! assert_eq!(spec["components"]["securitySchemes"]["clerk"]["scheme"], "bearer");
//! ```

use utoipa::openapi::content::Content;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref};
use utoipa::{Modify, PartialSchema, ToSchema};

/// The name of the security scheme in `components.securitySchemes`.
///
/// ```
/// assert_eq!(clerk_guard::openapi::SECURITY_SCHEME, "clerk");
/// ```
pub const SECURITY_SCHEME: &str = "clerk";

/// The JSON body of a 401, 403 or 503 (see the crate's responses table).
///
/// ```
/// use utoipa::PartialSchema;
/// let schema = clerk_guard::openapi::RejectionBody::schema();
/// ```
#[derive(Debug, Clone, ToSchema)]
#[schema(as = ClerkRejection, example = json!({"error": "invalid_token", "reason": "token-expired"}))]
pub struct RejectionBody {
    /// RFC 6750 error: `unauthorized`, `invalid_token`, `insufficient_scope`,
    /// `temporarily_unavailable`.
    pub error: String,
    /// Clerk's reason code, like `token-expired` or `missing-role`.
    pub reason: String,
}

/// A utoipa [`Modify`] that registers Clerk's bearer scheme and documents the
/// rejections of every operation that requires it.
///
/// ```
/// use clerk_guard::openapi::ClerkSecurity;
/// use utoipa::OpenApi;
///
/// #[derive(OpenApi)]
/// #[openapi(modifiers(&ClerkSecurity))]
/// struct ApiDoc;
///
/// let spec = ApiDoc::openapi();
/// assert!(spec.components.unwrap().security_schemes.contains_key("clerk"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ClerkSecurity;

impl ClerkSecurity {
    fn scheme() -> SecurityScheme {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some(
            "A Clerk session token (JWT), sent as `Authorization: Bearer <token>` or in the \
             `__session` cookie; verified against the Clerk instance's JWKS."
                .into(),
        );
        SecurityScheme::Http(http)
    }
}

fn rejection(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ClerkRejection"))),
        )
        .build()
        .into()
}

fn document(
    operation: &mut Operation,
    required: &SecurityRequirement,
    anonymous: &SecurityRequirement,
) {
    let Some(security) = &operation.security else {
        return;
    };
    if !security.contains(required) {
        return;
    }
    let optional = security.contains(anonymous);
    let mut add = |status: &str, description: &str| {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| rejection(description));
    };
    if !optional {
        add(
            "401",
            "No session token, or an invalid or expired one (`WWW-Authenticate: Bearer`).",
        );
        add(
            "403",
            "Signed in, but a requirement of the route is not met (role, permission, feature, \
             plan; a failed reverification answers Clerk's `clerk_error` body).",
        );
    }
    add(
        "503",
        "Keys cannot be obtained (the JWKS is unreachable on a cold cache) or the verifier is \
         misconfigured; `Retry-After` says when to retry.",
    );
}

impl Modify for ClerkSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .security_schemes
            .insert(SECURITY_SCHEME.to_owned(), Self::scheme().into());
        components
            .schemas
            .insert("ClerkRejection".to_owned(), RejectionBody::schema());
        let required = SecurityRequirement::new(SECURITY_SCHEME, Vec::<String>::new());
        let anonymous = SecurityRequirement::default();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                document(operation, &required, &anonymous);
            }
        }
    }
}

//! Clerk's webhooks: a verified, typed event in the handler, the Rust
//! counterpart of `verifyWebhook` from `@clerk/backend/webhooks`.
//!
//! ```
//! use axum::{http::StatusCode, routing::post, Router};
//! use clerk_guard::webhooks::{ClerkWebhook, UserEvent};
//!
//! async fn users(ClerkWebhook(event): ClerkWebhook<UserEvent>) -> StatusCode {
//!     match event {
//!         UserEvent::Created(user) | UserEvent::Updated(user) => {
//!             println!("upsert {} <{:?}>", user.id, user.primary_email());
//!         }
//!         UserEvent::Deleted(gone) => println!("delete {:?}", gone.id),
//!         _ => {} // another event type: acknowledged, nothing to do
//!     }
//!     StatusCode::NO_CONTENT
//! }
//!
//! let app: Router = Router::new().route("/webhooks/clerk", post(users));
//! ```
//!
//! A delivery is checked exactly as Clerk's verifier checks it (Standard
//! Webhooks with Clerk's `svix-*` headers): the three headers trimmed and
//! present, HMAC-SHA256 with the endpoint's signing secret over
//! `{svix-id}.{svix-timestamp}.{body}`, any `v1,<base64>` entry of
//! `svix-signature` matching in constant time, the timestamp within 5
//! minutes either way. Then the body must be an event: a JSON object with a
//! string `type` and an object `data`.
//!
//! | delivery | answer |
//! |---|---|
//! | a header missing or blank | 400 `webhook-missing-headers` |
//! | no matching signature, or a timestamp that is not a number | 400 `webhook-invalid-signature` |
//! | signed more than 5 minutes ago or ahead | 400 `webhook-timestamp-out-of-range` |
//! | signed, but not an event (or not the handler's type) | 400 `webhook-invalid-payload` |
//! | body over the limit (default 1 MiB) | 413 `webhook-body-too-large` |
//! | no signing secret configured | 503 `configuration-invalid` |
//!
//! The headers and the body are never echoed; the reason is logged at
//! debug. The secret is the [`WebhookVerifier`] in the request's extensions
//! (`.layer(Extension(verifier))`), else `CLERK_WEBHOOK_SIGNING_SECRET`.

mod event;
mod replay;
mod resources;
mod typed;
mod verifier;

pub use event::{FromWebhookEvent, WebhookEvent};
pub use replay::{ReplayGuard, ReplayService};
pub use resources::*;
pub use typed::{
    ClerkEvent, EmailEvent, InvitationEvent, MembershipEvent, OrganizationDomainEvent,
    OrganizationEvent, PaymentAttemptEvent, PermissionEvent, RoleEvent, SessionEvent, SmsEvent,
    SubscriptionEvent, SubscriptionItemEvent, UserEvent, WaitlistEvent,
};
pub use verifier::{
    WebhookVerifier, WebhookVerifierBuilder, DEFAULT_MAX_BODY_BYTES, WEBHOOK_TOLERANCE_SECS,
};

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

use axum::extract::{FromRequest, Request};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::rejection::{AuthRejection, Reason};
use crate::verify::ClerkVerifier;
use replay::{Claim, Slot};
use verifier::Delivery;

/// A verified Clerk webhook delivery: the extractor reads the body itself
/// (bounded), checks its signature and hands the handler the event, untyped
/// ([`WebhookEvent`], the default) or typed ([`ClerkEvent`], [`UserEvent`],
/// …). Take it last, as it consumes the body.
///
/// ```
/// use axum::http::StatusCode;
/// use clerk_guard::webhooks::ClerkWebhook;
///
/// async fn clerk_events(event: ClerkWebhook) -> StatusCode {
///     match event.kind() {
///         "user.created" => println!("new user {} (delivery {})", event.data()["id"], event.id()),
///         _ => {}
///     }
///     StatusCode::NO_CONTENT
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ClerkWebhook<E = WebhookEvent>(pub E);

impl<E> Deref for ClerkWebhook<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.0
    }
}

impl<E> DerefMut for ClerkWebhook<E> {
    fn deref_mut(&mut self) -> &mut E {
        &mut self.0
    }
}

/// Why [`ClerkWebhook`] did not reach the handler.
///
/// ```
/// use axum::response::IntoResponse;
/// use clerk_guard::webhooks::WebhookRejection;
///
/// let done = WebhookRejection::AlreadyProcessed { id: "msg_1".into() };
/// assert_eq!(done.into_response().status(), 200);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// Refused: 400, 409, 413 or 503, with the reason.
    Refused(AuthRejection),
    /// Verified, and already answered with a 2xx ([`ReplayGuard`]): `200`,
    /// the handler not called again.
    AlreadyProcessed {
        /// The delivery's message id.
        id: String,
    },
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        match self {
            WebhookRejection::Refused(rejection) => rejection.into_response(),
            WebhookRejection::AlreadyProcessed { .. } => StatusCode::OK.into_response(),
        }
    }
}

impl<S: Send + Sync, E: FromWebhookEvent> FromRequest<S> for ClerkWebhook<E> {
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let verifier = match parts.extensions.get::<WebhookVerifier>() {
            Some(verifier) => Cow::Owned(verifier.clone()),
            None => match WebhookVerifier::process_wide() {
                Ok(verifier) => Cow::Borrowed(verifier),
                Err(_) => {
                    return Err(refuse(
                        &parts,
                        None,
                        AuthRejection::with_detail(
                            Reason::ConfigurationInvalid,
                            "no WebhookVerifier in the request's extensions and \
                             CLERK_WEBHOOK_SIGNING_SECRET is unset or malformed",
                        ),
                    ))
                }
            },
        };
        match receive(&parts, body, &verifier).await {
            Ok(event) => Ok(ClerkWebhook(event)),
            Err(Received::Refused(rejection)) => Err(refuse(&parts, Some(&verifier), rejection)),
            Err(Received::Done(id)) => Err(WebhookRejection::AlreadyProcessed { id }),
        }
    }
}

enum Received {
    Refused(AuthRejection),
    Done(String),
}

impl From<AuthRejection> for Received {
    fn from(rejection: AuthRejection) -> Self {
        Received::Refused(rejection)
    }
}

/// Headers, bounded body, signature, replay guard, then the handler's type.
async fn receive<E: FromWebhookEvent>(
    parts: &Parts,
    body: axum::body::Body,
    verifier: &WebhookVerifier,
) -> Result<E, Received> {
    let delivery = Delivery::read(&parts.headers)?;
    let body = read_body(parts, body, verifier.max_body_bytes()).await?;
    let now = crate::util::now_seconds().floor() as i64;
    let event = verifier.verify_at(&delivery, &body, now)?;
    if let Some(slot) = parts.extensions.get::<Slot>() {
        match slot.claim(event.id(), event.signed_at(), now) {
            Claim::Fresh => {}
            Claim::Done => return Err(Received::Done(event.id().to_owned())),
            Claim::InFlight => {
                return Err(AuthRejection::with_detail(
                    Reason::WebhookDeliveryInProgress,
                    "this message id is being handled by another request",
                )
                .into())
            }
        }
    }
    E::from_event(event).map_err(|_| {
        AuthRejection::with_detail(
            Reason::WebhookInvalidPayload,
            "the event's data does not fit the handler's event type",
        )
        .into()
    })
}

/// The body, at most `limit` bytes (`Content-Length` checked first).
async fn read_body(
    parts: &Parts,
    body: axum::body::Body,
    limit: usize,
) -> Result<Vec<u8>, AuthRejection> {
    let too_large = || {
        AuthRejection::with_detail(
            Reason::WebhookBodyTooLarge,
            "the body is over max_body_bytes",
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(declared.map_or(0, |length| length as usize));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            AuthRejection::with_detail(Reason::WebhookInvalidPayload, "the body could not be read")
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Logs the refusal at debug and renders it: the webhook verifier's
/// renderer, else that of the router's or the global [`ClerkVerifier`].
fn refuse(
    parts: &Parts,
    verifier: Option<&WebhookVerifier>,
    rejection: AuthRejection,
) -> WebhookRejection {
    tracing::debug!(
        reason = rejection.reason().code(),
        detail = rejection.detail(),
        "clerk-guard: webhook delivery refused"
    );
    let rejection = match verifier.and_then(WebhookVerifier::renderer) {
        Some(renderer) => rejection.rendered_by(Some(renderer)),
        None => match parts
            .extensions
            .get::<ClerkVerifier>()
            .or_else(|| crate::verify::initialised())
        {
            Some(clerk) => match clerk.render::<std::convert::Infallible>(Err(rejection)) {
                Ok(never) => match never {},
                Err(rendered) => rendered,
            },
            None => rejection,
        },
    };
    WebhookRejection::Refused(rejection)
}

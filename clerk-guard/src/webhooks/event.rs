//! A verified event: untyped ([`WebhookEvent`]), or typed by family
//! ([`UserEvent`], …, [`ClerkEvent`] for all of them).

use serde::Deserialize;
use serde_json::Value;

use super::resources::{
    BillingPaymentAttempt, BillingSubscription, BillingSubscriptionItem, DeletedObject, Email,
    Organization, OrganizationDomain, OrganizationInvitation, OrganizationMembership, Permission,
    Role, Session, SmsMessage, User, WaitlistEntry,
};

/// A verified Clerk webhook event, untyped: its `type`, its `data` as JSON,
/// and the delivery's message id.
///
/// ```
/// # use clerk_guard::webhooks::{WebhookEvent, UserEvent};
/// # fn handle(event: &WebhookEvent) -> Result<(), serde_json::Error> {
/// if event.kind() == "user.deleted" {
///     println!("delete {} (delivery {})", event.data()["id"], event.id());
/// }
/// if let UserEvent::Created(user) = event.parse::<UserEvent>()? {
///     println!("new user {}", user.id);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    id: String,
    signed_at: i64,
    kind: String,
    object: String,
    data: Value,
    event_attributes: Option<Value>,
    timestamp: Option<i64>,
    instance_id: Option<String>,
}

/// The body of a delivery, as Clerk sends it.
#[derive(Deserialize)]
struct Body {
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Map<String, Value>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    event_attributes: Option<Value>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    instance_id: Option<String>,
}

impl WebhookEvent {
    /// The event in a verified body: an object with a string `type` and an
    /// object `data`, else an error saying what is wrong.
    pub(crate) fn from_body(
        id: String,
        signed_at: i64,
        body: &str,
    ) -> Result<Self, serde_json::Error> {
        let body: Body = serde_json::from_str(body)?;
        Ok(Self {
            id,
            signed_at,
            kind: body.kind,
            object: body.object.unwrap_or_default(),
            data: Value::Object(body.data),
            event_attributes: body.event_attributes,
            timestamp: body.timestamp,
            instance_id: body.instance_id,
        })
    }

    /// The delivery's message id (`svix-id`): the same for every retry of
    /// one event, so a unique key for processing each event once.
    ///
    /// ```
    /// # fn f(event: clerk_guard::webhooks::WebhookEvent) {
    /// let key = event.id(); // e.g. INSERT … ON CONFLICT (webhook_id) DO NOTHING
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The event type: `user.created`, `organizationMembership.deleted`, …
    ///
    /// ```
    /// # fn f(event: clerk_guard::webhooks::WebhookEvent) {
    /// match event.kind() {
    ///     "user.created" | "user.updated" => {}
    ///     _ => {}
    /// }
    /// # }
    /// ```
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The event's `data`: the object the event is about (a user, a session, …).
    ///
    /// ```
    /// # fn f(event: clerk_guard::webhooks::WebhookEvent) {
    /// let user_id = event.data()["id"].as_str();
    /// # }
    /// ```
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// The `data`, owned.
    ///
    /// ```
    /// # fn f(event: clerk_guard::webhooks::WebhookEvent) {
    /// let data: serde_json::Value = event.into_data();
    /// # }
    /// ```
    pub fn into_data(self) -> Value {
        self.data
    }

    /// The body's `object` (`"event"`).
    ///
    /// ```
    /// # fn f(event: clerk_guard::webhooks::WebhookEvent) { assert_eq!(event.object(), "event"); }
    /// ```
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The event's `event_attributes` (`http_request.client_ip`,
    /// `http_request.user_agent` of the request that caused it).
    ///
    /// ```
    /// # fn f(event: clerk_guard::webhooks::WebhookEvent) {
    /// let ip = event.event_attributes().and_then(|a| a["http_request"]["client_ip"].as_str());
    /// # }
    /// ```
    pub fn event_attributes(&self) -> Option<&Value> {
        self.event_attributes.as_ref()
    }

    /// When the event happened: the body's `timestamp`, in milliseconds.
    ///
    /// ```
    /// # fn f(event: clerk_guard::webhooks::WebhookEvent) { let _ms: Option<i64> = event.timestamp(); }
    /// ```
    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    /// The Clerk instance the event is from (`ins_…`).
    ///
    /// ```
    /// # fn f(event: clerk_guard::webhooks::WebhookEvent) { let _ = event.instance_id(); }
    /// ```
    pub fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    /// When this delivery was signed (`svix-timestamp`, Unix seconds):
    /// within 5 minutes of this machine's clock.
    ///
    /// ```
    /// # fn f(event: clerk_guard::webhooks::WebhookEvent) { let _secs: i64 = event.signed_at(); }
    /// ```
    pub fn signed_at(&self) -> i64 {
        self.signed_at
    }

    /// The event, typed: [`ClerkEvent`] for any, or one family
    /// ([`UserEvent`], …). An event outside the family is its `Other` arm.
    ///
    /// ```
    /// # use clerk_guard::webhooks::{WebhookEvent, ClerkEvent, UserEvent};
    /// # fn f(event: WebhookEvent) -> Result<(), serde_json::Error> {
    /// if let ClerkEvent::User(UserEvent::Deleted(deleted)) = event.parse()? {
    ///     println!("{:?} deleted", deleted.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn parse<E: FromWebhookEvent>(&self) -> Result<E, serde_json::Error> {
        E::from_event(self.clone())
    }
}

/// An event type [`ClerkWebhook`](super::ClerkWebhook) can hand to a
/// handler: [`WebhookEvent`], [`ClerkEvent`], or one family's enum. A
/// delivery whose `data` does not fit answers `400 webhook-invalid-payload`.
///
/// ```
/// use clerk_guard::webhooks::{FromWebhookEvent, WebhookEvent};
///
/// /// Only what this app syncs.
/// struct UserId(Option<String>);
///
/// impl FromWebhookEvent for UserId {
///     fn from_event(event: WebhookEvent) -> Result<Self, serde_json::Error> {
///         Ok(UserId(event.data()["id"].as_str().map(str::to_owned)))
///     }
/// }
/// ```
pub trait FromWebhookEvent: Sized {
    /// Types `event`.
    fn from_event(event: WebhookEvent) -> Result<Self, serde_json::Error>;
}

impl FromWebhookEvent for WebhookEvent {
    fn from_event(event: WebhookEvent) -> Result<Self, serde_json::Error> {
        Ok(event)
    }
}

/// One family's events: a variant per type Clerk sends, `Other` for the
/// rest (a type Clerk adds later, or another family's).
macro_rules! events {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident($data:ty) = $kind:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)] // one per request, moved once
        pub enum $name {
            $( $(#[$variant_meta])* #[doc = concat!("`", $kind, "`")] $variant($data), )*
            /// An event type this enum does not name, untyped.
            Other(WebhookEvent),
        }

        impl $name {
            /// The event types this enum names.
            pub const TYPES: &'static [&'static str] = &[$($kind),*];
        }

        impl FromWebhookEvent for $name {
            fn from_event(event: WebhookEvent) -> Result<Self, serde_json::Error> {
                Ok(match event.kind() {
                    $( $kind => $name::$variant(serde_json::from_value(event.data)?), )*
                    _ => $name::Other(event),
                })
            }
        }
    };
}

events! {
    /// Users: `user.created`, `user.updated`, `user.deleted`.
    ///
    /// ```
    /// use clerk_guard::webhooks::{ClerkWebhook, UserEvent};
    /// use axum::http::StatusCode;
    ///
    /// async fn users(ClerkWebhook(event): ClerkWebhook<UserEvent>) -> StatusCode {
    ///     match event {
    ///         UserEvent::Created(user) | UserEvent::Updated(user) => println!("upsert {}", user.id),
    ///         UserEvent::Deleted(gone) => println!("delete {:?}", gone.id),
    ///         _ => {}
    ///     }
    ///     StatusCode::NO_CONTENT
    /// }
    /// ```
    pub enum UserEvent {
        Created(User) = "user.created",
        Updated(User) = "user.updated",
        Deleted(DeletedObject) = "user.deleted",
    }
}

events! {
    /// Sessions: `session.created`, `.ended`, `.removed`, `.revoked`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::SessionEvent;
    /// assert!(SessionEvent::TYPES.contains(&"session.revoked"));
    /// ```
    pub enum SessionEvent {
        Created(Session) = "session.created",
        Ended(Session) = "session.ended",
        Removed(Session) = "session.removed",
        Revoked(Session) = "session.revoked",
    }
}

events! {
    /// Emails: `email.created` (an email Clerk sends, or the application
    /// sends when delivery is its own).
    ///
    /// ```
    /// # use clerk_guard::webhooks::EmailEvent;
    /// assert_eq!(EmailEvent::TYPES, &["email.created"]);
    /// ```
    pub enum EmailEvent {
        Created(Email) = "email.created",
    }
}

events! {
    /// Text messages: `sms.created`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::SmsEvent;
    /// assert_eq!(SmsEvent::TYPES, &["sms.created"]);
    /// ```
    pub enum SmsEvent {
        Created(SmsMessage) = "sms.created",
    }
}

events! {
    /// Organizations: `organization.created`, `.updated`, `.deleted`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::OrganizationEvent;
    /// assert_eq!(OrganizationEvent::TYPES.len(), 3);
    /// ```
    pub enum OrganizationEvent {
        Created(Organization) = "organization.created",
        Updated(Organization) = "organization.updated",
        Deleted(DeletedObject) = "organization.deleted",
    }
}

events! {
    /// Organization domains: `organizationDomain.created`, `.updated`, `.deleted`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::OrganizationDomainEvent;
    /// assert_eq!(OrganizationDomainEvent::TYPES.len(), 3);
    /// ```
    pub enum OrganizationDomainEvent {
        Created(OrganizationDomain) = "organizationDomain.created",
        Updated(OrganizationDomain) = "organizationDomain.updated",
        Deleted(DeletedObject) = "organizationDomain.deleted",
    }
}

events! {
    /// Memberships: `organizationMembership.created`, `.updated`, `.deleted`.
    ///
    /// ```
    /// use clerk_guard::webhooks::{ClerkWebhook, MembershipEvent};
    ///
    /// async fn members(ClerkWebhook(event): ClerkWebhook<MembershipEvent>) {
    ///     if let MembershipEvent::Deleted(m) = event {
    ///         println!("{} left {}", m.public_user_data.user_id, m.organization.id);
    ///     }
    /// }
    /// ```
    pub enum MembershipEvent {
        Created(OrganizationMembership) = "organizationMembership.created",
        Updated(OrganizationMembership) = "organizationMembership.updated",
        Deleted(OrganizationMembership) = "organizationMembership.deleted",
    }
}

events! {
    /// Invitations: `organizationInvitation.created`, `.accepted`, `.revoked`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::InvitationEvent;
    /// assert!(InvitationEvent::TYPES.contains(&"organizationInvitation.accepted"));
    /// ```
    pub enum InvitationEvent {
        Created(OrganizationInvitation) = "organizationInvitation.created",
        Accepted(OrganizationInvitation) = "organizationInvitation.accepted",
        Revoked(OrganizationInvitation) = "organizationInvitation.revoked",
    }
}

events! {
    /// Roles: `role.created`, `.updated`, `.deleted`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::RoleEvent;
    /// assert_eq!(RoleEvent::TYPES.len(), 3);
    /// ```
    pub enum RoleEvent {
        Created(Role) = "role.created",
        Updated(Role) = "role.updated",
        Deleted(Role) = "role.deleted",
    }
}

events! {
    /// Permissions: `permission.created`, `.updated`, `.deleted`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::PermissionEvent;
    /// assert_eq!(PermissionEvent::TYPES.len(), 3);
    /// ```
    pub enum PermissionEvent {
        Created(Permission) = "permission.created",
        Updated(Permission) = "permission.updated",
        Deleted(Permission) = "permission.deleted",
    }
}

events! {
    /// The waitlist: `waitlistEntry.created`, `.updated`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::WaitlistEvent;
    /// assert_eq!(WaitlistEvent::TYPES.len(), 2);
    /// ```
    pub enum WaitlistEvent {
        Created(WaitlistEntry) = "waitlistEntry.created",
        Updated(WaitlistEntry) = "waitlistEntry.updated",
    }
}

events! {
    /// Billing subscriptions: `subscription.created`, `.updated`, `.active`, `.pastDue`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::SubscriptionEvent;
    /// assert!(SubscriptionEvent::TYPES.contains(&"subscription.pastDue"));
    /// ```
    pub enum SubscriptionEvent {
        Created(BillingSubscription) = "subscription.created",
        Updated(BillingSubscription) = "subscription.updated",
        Active(BillingSubscription) = "subscription.active",
        PastDue(BillingSubscription) = "subscription.pastDue",
    }
}

events! {
    /// Billing subscription items: `subscriptionItem.*`, one per plan's lifecycle step.
    ///
    /// ```
    /// # use clerk_guard::webhooks::SubscriptionItemEvent;
    /// assert_eq!(SubscriptionItemEvent::TYPES.len(), 10);
    /// ```
    pub enum SubscriptionItemEvent {
        Created(BillingSubscriptionItem) = "subscriptionItem.created",
        Updated(BillingSubscriptionItem) = "subscriptionItem.updated",
        Active(BillingSubscriptionItem) = "subscriptionItem.active",
        Canceled(BillingSubscriptionItem) = "subscriptionItem.canceled",
        Upcoming(BillingSubscriptionItem) = "subscriptionItem.upcoming",
        Ended(BillingSubscriptionItem) = "subscriptionItem.ended",
        Abandoned(BillingSubscriptionItem) = "subscriptionItem.abandoned",
        Incomplete(BillingSubscriptionItem) = "subscriptionItem.incomplete",
        PastDue(BillingSubscriptionItem) = "subscriptionItem.pastDue",
        FreeTrialEnding(BillingSubscriptionItem) = "subscriptionItem.freeTrialEnding",
    }
}

events! {
    /// Billing payment attempts: `paymentAttempt.created`, `.updated`.
    ///
    /// ```
    /// # use clerk_guard::webhooks::PaymentAttemptEvent;
    /// assert_eq!(PaymentAttemptEvent::TYPES.len(), 2);
    /// ```
    pub enum PaymentAttemptEvent {
        Created(BillingPaymentAttempt) = "paymentAttempt.created",
        Updated(BillingPaymentAttempt) = "paymentAttempt.updated",
    }
}

/// Every event Clerk sends, by family: one endpoint for all of them.
///
/// ```
/// use clerk_guard::webhooks::{ClerkEvent, ClerkWebhook, MembershipEvent, UserEvent};
///
/// async fn clerk_events(ClerkWebhook(event): ClerkWebhook<ClerkEvent>) {
///     match event {
///         ClerkEvent::User(UserEvent::Created(user)) => println!("welcome {}", user.id),
///         ClerkEvent::Membership(MembershipEvent::Created(m)) => println!("joined {}", m.organization.id),
///         _ => {} // the rest, and types Clerk adds later
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // one per request, moved once
pub enum ClerkEvent {
    /// `user.*`
    User(UserEvent),
    /// `session.*`
    Session(SessionEvent),
    /// `email.*`
    Email(EmailEvent),
    /// `sms.*`
    Sms(SmsEvent),
    /// `organization.*`
    Organization(OrganizationEvent),
    /// `organizationDomain.*`
    OrganizationDomain(OrganizationDomainEvent),
    /// `organizationMembership.*`
    Membership(MembershipEvent),
    /// `organizationInvitation.*`
    Invitation(InvitationEvent),
    /// `role.*`
    Role(RoleEvent),
    /// `permission.*`
    Permission(PermissionEvent),
    /// `waitlistEntry.*`
    Waitlist(WaitlistEvent),
    /// `subscription.*`
    Subscription(SubscriptionEvent),
    /// `subscriptionItem.*`
    SubscriptionItem(SubscriptionItemEvent),
    /// `paymentAttempt.*`
    PaymentAttempt(PaymentAttemptEvent),
    /// A family this version does not name, untyped.
    Other(WebhookEvent),
}

impl FromWebhookEvent for ClerkEvent {
    fn from_event(event: WebhookEvent) -> Result<Self, serde_json::Error> {
        let family = event.kind().split('.').next().unwrap_or_default();
        Ok(match family {
            "user" => ClerkEvent::User(FromWebhookEvent::from_event(event)?),
            "session" => ClerkEvent::Session(FromWebhookEvent::from_event(event)?),
            "email" => ClerkEvent::Email(FromWebhookEvent::from_event(event)?),
            "sms" => ClerkEvent::Sms(FromWebhookEvent::from_event(event)?),
            "organization" => ClerkEvent::Organization(FromWebhookEvent::from_event(event)?),
            "organizationDomain" => {
                ClerkEvent::OrganizationDomain(FromWebhookEvent::from_event(event)?)
            }
            "organizationMembership" => {
                ClerkEvent::Membership(FromWebhookEvent::from_event(event)?)
            }
            "organizationInvitation" => {
                ClerkEvent::Invitation(FromWebhookEvent::from_event(event)?)
            }
            "role" => ClerkEvent::Role(FromWebhookEvent::from_event(event)?),
            "permission" => ClerkEvent::Permission(FromWebhookEvent::from_event(event)?),
            "waitlistEntry" => ClerkEvent::Waitlist(FromWebhookEvent::from_event(event)?),
            "subscription" => ClerkEvent::Subscription(FromWebhookEvent::from_event(event)?),
            "subscriptionItem" => {
                ClerkEvent::SubscriptionItem(FromWebhookEvent::from_event(event)?)
            }
            "paymentAttempt" => ClerkEvent::PaymentAttempt(FromWebhookEvent::from_event(event)?),
            _ => ClerkEvent::Other(event),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: Value) -> WebhookEvent {
        let body = serde_json::json!({ "type": kind, "object": "event", "data": data });
        WebhookEvent::from_body("msg_1".into(), 0, &body.to_string()).unwrap()
    }

    /// Every type `E` names reaches a variant other than `Other`.
    fn all_typed<E: FromWebhookEvent>(types: &[&str], is_other: fn(&E) -> bool) {
        for kind in types {
            let typed = E::from_event(event(kind, serde_json::json!({}))).unwrap();
            assert!(!is_other(&typed), "{kind}");
        }
    }

    #[test]
    fn every_named_type_reaches_its_variant_and_others_reach_other() {
        all_typed(UserEvent::TYPES, |e| matches!(e, UserEvent::Other(_)));
        all_typed(SessionEvent::TYPES, |e| matches!(e, SessionEvent::Other(_)));
        all_typed(MembershipEvent::TYPES, |e| {
            matches!(e, MembershipEvent::Other(_))
        });
        all_typed(InvitationEvent::TYPES, |e| {
            matches!(e, InvitationEvent::Other(_))
        });
        all_typed(SubscriptionItemEvent::TYPES, |e| {
            matches!(e, SubscriptionItemEvent::Other(_))
        });
        all_typed(PaymentAttemptEvent::TYPES, |e| {
            matches!(e, PaymentAttemptEvent::Other(_))
        });
        let families = [
            UserEvent::TYPES,
            SessionEvent::TYPES,
            EmailEvent::TYPES,
            SmsEvent::TYPES,
            OrganizationEvent::TYPES,
            OrganizationDomainEvent::TYPES,
            MembershipEvent::TYPES,
            InvitationEvent::TYPES,
            RoleEvent::TYPES,
            PermissionEvent::TYPES,
            WaitlistEvent::TYPES,
            SubscriptionEvent::TYPES,
            SubscriptionItemEvent::TYPES,
            PaymentAttemptEvent::TYPES,
        ];
        for kind in families.concat() {
            let typed = ClerkEvent::from_event(event(kind, serde_json::json!({}))).unwrap();
            assert!(!matches!(typed, ClerkEvent::Other(_)), "{kind}");
            assert!(
                !format!("{typed:?}").contains("(Other("),
                "{kind}: {typed:?}"
            );
        }
        let later = event("user.banned", serde_json::json!({"id": "user_1"}));
        assert!(matches!(
            ClerkEvent::from_event(later),
            Ok(ClerkEvent::User(UserEvent::Other(e))) if e.kind() == "user.banned"
        ));
        let unknown = event("agent.created", serde_json::json!({}));
        assert!(matches!(
            ClerkEvent::from_event(unknown),
            Ok(ClerkEvent::Other(_))
        ));
    }

    #[test]
    fn a_body_that_is_not_an_event_is_an_error() {
        for body in [
            "1",
            "[]",
            "{}",
            "null",
            r#"{"type":1,"data":{}}"#,
            r#"{"type":"user.created"}"#,
            r#"{"type":"user.created","data":[]}"#,
        ] {
            assert!(
                WebhookEvent::from_body("m".into(), 0, body).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn data_of_the_wrong_shape_is_an_error_and_nulls_are_defaults() {
        assert!(
            UserEvent::from_event(event("user.created", serde_json::json!({"id": 5}))).is_err()
        );
        let user = UserEvent::from_event(event(
            "user.created",
            serde_json::json!({"id": "user_1", "banned": null, "email_addresses": null, "new_field": 1}),
        ));
        let Ok(UserEvent::Created(user)) = user else {
            panic!("{user:?}")
        };
        assert!(!user.banned && user.email_addresses.is_empty());
        assert_eq!(user.extra["new_field"], 1);
    }
}

//! Typed events: one enum per family Clerk sends ([`UserEvent`], …), each
//! with an `Other` arm, and [`ClerkEvent`] for all of them.

use super::event::{FromWebhookEvent, WebhookEvent};
use super::resources::{
    BillingPaymentAttempt, BillingSubscription, BillingSubscriptionItem, DeletedObject, Email,
    Organization, OrganizationDomain, OrganizationInvitation, OrganizationMembership, Permission,
    Role, Session, SmsMessage, User, WaitlistEntry,
};

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
                Ok(match event.kind.as_str() {
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
    use serde_json::Value;

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

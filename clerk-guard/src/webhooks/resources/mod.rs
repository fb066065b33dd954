//! The `data` of Clerk's webhook events, as Clerk sends it (`JSON.ts` in
//! `@clerk/backend`): field names are Clerk's, times are milliseconds since
//! the Unix epoch, a missing or `null` field reads as its default, and fields
//! this version does not name are kept in `extra`.

mod billing;
mod organization;
mod user;

pub use billing::{
    BillingMoney, BillingPayer, BillingPaymentAttempt, BillingSubscription, BillingSubscriptionItem,
};
pub use organization::{
    Organization, OrganizationDomain, OrganizationInvitation, OrganizationMembership, Permission,
    PublicUserData, Role,
};
pub use user::{
    DeletedObject, Email, EmailAddress, ExternalAccount, PhoneNumber, Session, SmsMessage, User,
    Verification, WaitlistEntry, Web3Wallet,
};

use serde::{Deserialize, Deserializer};

/// A field that is missing or `null` reads as its default: Clerk adds and
/// nulls fields over time, and a sync must not fail on them.
pub(crate) fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Declares a resource: every field defaults when missing or `null`, and
/// fields not named are kept in `extra`.
macro_rules! resource {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[serde(default, deserialize_with = "crate::webhooks::resources::or_default")]
                pub $field: $ty,
            )*
            /// Fields Clerk sent that this version does not name.
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }
    };
}
pub(crate) use resource;

//! Users and what hangs off them: addresses, accounts, sessions, messages.

use serde_json::{Map, Value};

use super::{resource, OrganizationMembership};

resource! {
    /// A user (`user.created`, `user.updated`, and the user of a session
    /// event).
    ///
    /// ```
    /// let user: clerk_guard::webhooks::User = serde_json::from_value(serde_json::json!({
    ///     "id": "user_1", "first_name": "Ada", "last_name": null,
    ///     "primary_email_address_id": "idn_1",
    ///     "email_addresses": [{ "id": "idn_1", "email_address": "ada@example.com" }],
    /// })).unwrap();
    /// assert_eq!(user.primary_email(), Some("ada@example.com"));
    /// assert_eq!(user.last_name, None);
    /// ```
    pub struct User {
        /// The user's id (`user_…`).
        pub id: String,
        /// The id the application set for this user in its own system.
        pub external_id: Option<String>,
        /// The username, when usernames are enabled.
        pub username: Option<String>,
        /// The first name.
        pub first_name: Option<String>,
        /// The last name.
        pub last_name: Option<String>,
        /// The profile image's URL.
        pub image_url: String,
        /// Whether the user uploaded an image (else `image_url` is a default).
        pub has_image: bool,
        /// The id of the primary email address in `email_addresses`.
        pub primary_email_address_id: Option<String>,
        /// The id of the primary phone number in `phone_numbers`.
        pub primary_phone_number_id: Option<String>,
        /// The id of the primary Web3 wallet in `web3_wallets`.
        pub primary_web3_wallet_id: Option<String>,
        /// Whether the user has a password.
        pub password_enabled: bool,
        /// Whether the user has a second factor.
        pub two_factor_enabled: bool,
        /// Whether the user has an authenticator app (TOTP).
        pub totp_enabled: bool,
        /// Whether the user has backup codes.
        pub backup_code_enabled: bool,
        /// Every email address of the user.
        pub email_addresses: Vec<EmailAddress>,
        /// Every phone number of the user.
        pub phone_numbers: Vec<PhoneNumber>,
        /// Every Web3 wallet of the user.
        pub web3_wallets: Vec<Web3Wallet>,
        /// The accounts the user signed in with (OAuth providers).
        pub external_accounts: Vec<ExternalAccount>,
        /// The user's organization memberships, when Clerk includes them.
        pub organization_memberships: Option<Vec<OrganizationMembership>>,
        /// Metadata readable from the frontend, writable from the backend.
        pub public_metadata: Map<String, Value>,
        /// Metadata only the backend reads and writes.
        pub private_metadata: Map<String, Value>,
        /// Metadata the frontend can write: never trust it for authorization.
        pub unsafe_metadata: Map<String, Value>,
        /// Whether the user is banned.
        pub banned: bool,
        /// Whether the user is locked out (too many failed attempts).
        pub locked: bool,
        /// When the user last signed in (ms).
        pub last_sign_in_at: Option<i64>,
        /// When the user was last active (ms).
        pub last_active_at: Option<i64>,
        /// When the password last changed (ms).
        pub password_last_updated_at: Option<i64>,
        /// When the user accepted the legal terms (ms).
        pub legal_accepted_at: Option<i64>,
        /// The user's locale (BCP 47).
        pub locale: Option<String>,
        /// When the user was created (ms).
        pub created_at: i64,
        /// When the user was last updated (ms).
        pub updated_at: i64,
    }
}

impl User {
    /// The primary email address, if the user has one.
    ///
    /// ```
    /// assert_eq!(clerk_guard::webhooks::User::default().primary_email(), None);
    /// ```
    pub fn primary_email(&self) -> Option<&str> {
        let id = self.primary_email_address_id.as_deref()?;
        self.email_addresses
            .iter()
            .find(|address| address.id == id)
            .map(|address| address.email_address.as_str())
    }
}

resource! {
    /// An email address of a user.
    ///
    /// ```
    /// let a: clerk_guard::webhooks::EmailAddress =
    ///     serde_json::from_str(r#"{"id":"idn_1","email_address":"a@b.c","verification":null}"#).unwrap();
    /// assert!(a.verification.is_none());
    /// ```
    pub struct EmailAddress {
        /// The address's id (`idn_…`).
        pub id: String,
        /// The address.
        pub email_address: String,
        /// How (and whether) the address was verified.
        pub verification: Option<Verification>,
        /// The identifications this address is linked to (e.g. an OAuth account).
        pub linked_to: Vec<Value>,
    }
}

resource! {
    /// A phone number of a user.
    ///
    /// ```
    /// let p: clerk_guard::webhooks::PhoneNumber = serde_json::from_str(r#"{"phone_number":"+15550100"}"#).unwrap();
    /// assert_eq!(p.phone_number, "+15550100");
    /// ```
    pub struct PhoneNumber {
        /// The number's id (`idn_…`).
        pub id: String,
        /// The number, in E.164.
        pub phone_number: String,
        /// Whether the number is only used as a second factor.
        pub reserved_for_second_factor: bool,
        /// Whether this is the default second factor.
        pub default_second_factor: bool,
        /// How (and whether) the number was verified.
        pub verification: Option<Verification>,
    }
}

resource! {
    /// A Web3 wallet of a user.
    ///
    /// ```
    /// let w: clerk_guard::webhooks::Web3Wallet = serde_json::from_str(r#"{"web3_wallet":"0xabc"}"#).unwrap();
    /// assert_eq!(w.web3_wallet, "0xabc");
    /// ```
    pub struct Web3Wallet {
        /// The wallet's id.
        pub id: String,
        /// The wallet address.
        pub web3_wallet: String,
        /// How (and whether) the wallet was verified.
        pub verification: Option<Verification>,
    }
}

resource! {
    /// An account at an OAuth provider the user signs in with.
    ///
    /// ```
    /// let a: clerk_guard::webhooks::ExternalAccount = serde_json::from_str(r#"{"provider":"oauth_google"}"#).unwrap();
    /// assert_eq!(a.provider, "oauth_google");
    /// ```
    pub struct ExternalAccount {
        /// The account's id.
        pub id: String,
        /// The provider (`oauth_google`, `oauth_github`, …).
        pub provider: String,
        /// The user's id at the provider.
        pub provider_user_id: String,
        /// The scopes the user granted.
        pub approved_scopes: String,
        /// The email address at the provider.
        pub email_address: String,
        /// The first name at the provider.
        pub first_name: String,
        /// The last name at the provider.
        pub last_name: String,
        /// The username at the provider.
        pub username: Option<String>,
        /// The image at the provider.
        pub image_url: Option<String>,
        /// How (and whether) the account was verified.
        pub verification: Option<Verification>,
    }
}

resource! {
    /// The state of a verification (of an address, number, wallet or account).
    ///
    /// ```
    /// let v: clerk_guard::webhooks::Verification =
    ///     serde_json::from_str(r#"{"status":"verified","strategy":"email_code"}"#).unwrap();
    /// assert_eq!(v.status, "verified");
    /// ```
    pub struct Verification {
        /// `unverified`, `verified`, `transferable`, `failed` or `expired`.
        pub status: String,
        /// How it was verified (`email_code`, `oauth_google`, …).
        pub strategy: String,
        /// Attempts made.
        pub attempts: Option<i64>,
        /// When the verification expires (ms).
        pub expire_at: Option<i64>,
    }
}

resource! {
    /// What a `*.deleted` event carries: the id of what was deleted.
    ///
    /// ```
    /// let d: clerk_guard::webhooks::DeletedObject =
    ///     serde_json::from_str(r#"{"object":"user","id":"user_1","deleted":true}"#).unwrap();
    /// assert_eq!(d.id.as_deref(), Some("user_1"));
    /// ```
    pub struct DeletedObject {
        /// What kind of object was deleted (`user`, `organization`, …).
        pub object: String,
        /// Its id.
        pub id: Option<String>,
        /// Its slug (organizations).
        pub slug: Option<String>,
        /// Always `true`.
        pub deleted: bool,
        /// A deleted user's external id, if one was set.
        pub external_id: Option<String>,
    }
}

resource! {
    /// A session (`session.created`, `.ended`, `.removed`, `.revoked`).
    ///
    /// ```
    /// let s: clerk_guard::webhooks::Session =
    ///     serde_json::from_str(r#"{"id":"sess_1","user_id":"user_1","status":"active","user":null}"#).unwrap();
    /// assert_eq!(s.status, "active");
    /// ```
    pub struct Session {
        /// The session's id (`sess_…`, the `sid` claim).
        pub id: String,
        /// The client (browser or device) of the session.
        pub client_id: String,
        /// The signed-in user.
        pub user_id: String,
        /// `active`, `ended`, `expired`, `removed`, `replaced`, `revoked`, `abandoned` or `pending`.
        pub status: String,
        /// The organization last active in the session.
        pub last_active_organization_id: Option<String>,
        /// The impersonator, when an actor token started the session.
        pub actor: Option<Value>,
        /// When the session was last active (ms).
        pub last_active_at: i64,
        /// When the session expires (ms).
        pub expire_at: i64,
        /// When the session is abandoned if inactive (ms).
        pub abandon_at: i64,
        /// When the session was created (ms).
        pub created_at: i64,
        /// When the session was last updated (ms).
        pub updated_at: i64,
        /// The session's user, when Clerk includes it.
        pub user: Option<User>,
    }
}

resource! {
    /// An email Clerk sent or would send (`email.created`).
    ///
    /// ```
    /// let e: clerk_guard::webhooks::Email =
    ///     serde_json::from_str(r#"{"slug":"verification_code","delivered_by_clerk":false}"#).unwrap();
    /// assert_eq!(e.slug.as_deref(), Some("verification_code"));
    /// ```
    pub struct Email {
        /// The email's id.
        pub id: String,
        /// The template (`verification_code`, `magic_link_sign_in`, …).
        pub slug: Option<String>,
        /// The sender's name.
        pub from_email_name: String,
        /// The recipient.
        pub to_email_address: Option<String>,
        /// The recipient's email address id.
        pub email_address_id: Option<String>,
        /// The recipient user.
        pub user_id: Option<String>,
        /// The subject.
        pub subject: Option<String>,
        /// The HTML body.
        pub body: Option<String>,
        /// The plain-text body.
        pub body_plain: Option<String>,
        /// The delivery status.
        pub status: Option<String>,
        /// The template's variables (a code, a link, …).
        pub data: Option<Value>,
        /// Whether Clerk delivers it (else the application does).
        pub delivered_by_clerk: bool,
    }
}

resource! {
    /// A text message Clerk sent or would send (`sms.created`).
    ///
    /// ```
    /// let m: clerk_guard::webhooks::SmsMessage = serde_json::from_str(r#"{"message":"Your code is 1"}"#).unwrap();
    /// assert_eq!(m.message, "Your code is 1");
    /// ```
    pub struct SmsMessage {
        /// The message's id.
        pub id: String,
        /// The sending number.
        pub from_phone_number: String,
        /// The recipient.
        pub to_phone_number: String,
        /// The recipient's phone number id.
        pub phone_number_id: Option<String>,
        /// The recipient user.
        pub user_id: Option<String>,
        /// The text.
        pub message: String,
        /// The delivery status.
        pub status: String,
        /// The template.
        pub slug: Option<String>,
        /// The template's variables.
        pub data: Option<Value>,
        /// Whether Clerk delivers it (else the application does).
        pub delivered_by_clerk: bool,
    }
}

resource! {
    /// An entry on the waitlist (`waitlistEntry.created`, `.updated`).
    ///
    /// ```
    /// let w: clerk_guard::webhooks::WaitlistEntry = serde_json::from_str(r#"{"status":"pending"}"#).unwrap();
    /// assert_eq!(w.status, "pending");
    /// ```
    pub struct WaitlistEntry {
        /// The entry's id.
        pub id: String,
        /// `pending`, `invited`, `completed` or `rejected`.
        pub status: String,
        /// Who is waiting.
        pub email_address: String,
        /// The invitation sent, once one is.
        pub invitation: Option<Value>,
        /// Whether the entry is locked.
        pub is_locked: bool,
        /// When the entry was created (ms).
        pub created_at: i64,
        /// When the entry was last updated (ms).
        pub updated_at: i64,
    }
}

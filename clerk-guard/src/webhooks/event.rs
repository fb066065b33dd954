//! A verified event, untyped: [`WebhookEvent`], and the trait the typed
//! ones ([`typed`](super::typed)) implement.

use serde::Deserialize;
use serde_json::Value;

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
    pub(super) kind: String,
    object: String,
    pub(super) data: Value,
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

    /// The event, typed: [`ClerkEvent`](super::ClerkEvent) for any, or one
    /// family ([`UserEvent`](super::UserEvent), …). An event outside the
    /// family is its `Other` arm.
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
/// handler: [`WebhookEvent`], [`ClerkEvent`](super::ClerkEvent), or one
/// family's enum. A
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

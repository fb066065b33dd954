//! Billing: subscriptions, their items, payment attempts.

use serde_json::Value;

use super::resource;

resource! {
    /// A subscription of a payer (`subscription.created`, `.updated`,
    /// `.active`, `.pastDue`).
    ///
    /// ```
    /// let s: clerk_guard::webhooks::BillingSubscription =
    ///     serde_json::from_str(r#"{"status":"active","items":[{"plan_id":"cplan_1"}]}"#).unwrap();
    /// assert_eq!(s.items[0].plan_id.as_deref(), Some("cplan_1"));
    /// ```
    pub struct BillingSubscription {
        /// The subscription's id.
        pub id: String,
        /// `active`, `past_due`, `canceled`, `ended`, `expired`, `incomplete`, `upcoming` or `abandoned`.
        pub status: String,
        /// The payer's id.
        pub payer_id: String,
        /// The payer (a user or an organization).
        pub payer: Option<BillingPayer>,
        /// The subscription's items (one per plan).
        pub items: Vec<BillingSubscriptionItem>,
        /// The payment source.
        pub payment_source_id: String,
        /// The last payment.
        pub latest_payment_id: String,
        /// When it became active (ms).
        pub active_at: Option<i64>,
        /// When it was canceled (ms).
        pub canceled_at: Option<i64>,
        /// When it ended (ms).
        pub ended_at: Option<i64>,
        /// When it became past due (ms).
        pub past_due_at: Option<i64>,
        /// When it was created (ms).
        pub created_at: i64,
        /// When it was last updated (ms).
        pub updated_at: i64,
    }
}

resource! {
    /// One plan of a subscription (`subscriptionItem.*`).
    ///
    /// ```
    /// let i: clerk_guard::webhooks::BillingSubscriptionItem =
    ///     serde_json::from_str(r#"{"status":"active","plan":{"slug":"pro"}}"#).unwrap();
    /// assert_eq!(i.plan.unwrap()["slug"], "pro");
    /// ```
    pub struct BillingSubscriptionItem {
        /// The item's id.
        pub id: String,
        /// `active`, `canceled`, `ended`, `upcoming`, `past_due`, `abandoned`, `incomplete`, …
        pub status: String,
        /// `month` or `annual`.
        pub plan_period: String,
        /// The plan's id.
        pub plan_id: Option<String>,
        /// The plan (`slug`, `name`, `amount`, …), when Clerk includes it.
        pub plan: Option<Value>,
        /// The amount charged per period.
        pub amount: Option<BillingMoney>,
        /// The payer.
        pub payer: Option<BillingPayer>,
        /// When the current period started (ms).
        pub period_start: i64,
        /// When the current period ends (ms).
        pub period_end: Option<i64>,
        /// When it was canceled (ms).
        pub canceled_at: Option<i64>,
        /// When it became past due (ms).
        pub past_due_at: Option<i64>,
        /// When the next payment is due (ms).
        pub next_payment_date: Option<i64>,
    }
}

resource! {
    /// A payment attempt (`paymentAttempt.created`, `.updated`).
    ///
    /// ```
    /// let p: clerk_guard::webhooks::BillingPaymentAttempt =
    ///     serde_json::from_str(r#"{"status":"paid","charge_type":"recurring"}"#).unwrap();
    /// assert_eq!(p.status, "paid");
    /// ```
    pub struct BillingPaymentAttempt {
        /// The attempt's id.
        pub id: String,
        /// The payment's id.
        pub payment_id: String,
        /// The statement it belongs to.
        pub statement_id: String,
        /// `pending`, `paid` or `failed`.
        pub status: String,
        /// `checkout` or `recurring`.
        pub charge_type: String,
        /// The payer.
        pub payer: Option<BillingPayer>,
        /// The totals (`subtotal`, `tax_total`, `grand_total`).
        pub totals: Option<Value>,
        /// Why it failed (`code`, `decline_code`).
        pub failed_reason: Option<Value>,
        /// The items paid for.
        pub subscription_items: Vec<BillingSubscriptionItem>,
        /// The billing date (ms).
        pub billing_date: i64,
        /// When it was paid (ms).
        pub paid_at: Option<i64>,
        /// When it failed (ms).
        pub failed_at: Option<i64>,
        /// When it was created (ms).
        pub created_at: i64,
        /// When it was last updated (ms).
        pub updated_at: i64,
    }
}

resource! {
    /// Who pays: a user or an organization.
    ///
    /// ```
    /// let p: clerk_guard::webhooks::BillingPayer = serde_json::from_str(r#"{"organization_id":"org_1"}"#).unwrap();
    /// assert_eq!(p.organization_id.as_deref(), Some("org_1"));
    /// ```
    pub struct BillingPayer {
        /// The payer's id.
        pub id: String,
        /// The paying user.
        pub user_id: Option<String>,
        /// The paying organization.
        pub organization_id: Option<String>,
        /// The organization's name.
        pub organization_name: Option<String>,
        /// The billing email.
        pub email: String,
        /// The first name.
        pub first_name: Option<String>,
        /// The last name.
        pub last_name: Option<String>,
    }
}

resource! {
    /// An amount of money.
    ///
    /// ```
    /// let m: clerk_guard::webhooks::BillingMoney =
    ///     serde_json::from_str(r#"{"amount":1000,"amount_formatted":"10.00","currency":"USD"}"#).unwrap();
    /// assert_eq!(m.amount, 1000);
    /// ```
    pub struct BillingMoney {
        /// In the currency's smallest unit (cents).
        pub amount: i64,
        /// Formatted for display.
        pub amount_formatted: String,
        /// ISO 4217 code.
        pub currency: String,
        /// The symbol.
        pub currency_symbol: String,
    }
}

//! Organizations and their members, invitations, domains, roles and permissions.

use serde_json::{Map, Value};

use super::resource;

resource! {
    /// An organization (`organization.created`, `.updated`).
    ///
    /// ```
    /// let o: clerk_guard::webhooks::Organization =
    ///     serde_json::from_str(r#"{"id":"org_1","name":"Acme","slug":"acme","public_metadata":null}"#).unwrap();
    /// assert_eq!(o.slug, "acme");
    /// ```
    pub struct Organization {
        /// The organization's id (`org_…`).
        pub id: String,
        /// The name.
        pub name: String,
        /// The slug (unique, URL-friendly).
        pub slug: String,
        /// The logo's URL.
        pub image_url: Option<String>,
        /// Whether a logo was uploaded.
        pub has_image: bool,
        /// How many members it has, when Clerk includes it.
        pub members_count: Option<i64>,
        /// How many invitations are pending, when Clerk includes it.
        pub pending_invitations_count: Option<i64>,
        /// The membership limit (0: none).
        pub max_allowed_memberships: i64,
        /// Whether admins may delete the organization.
        pub admin_delete_enabled: bool,
        /// Metadata readable from the frontend.
        pub public_metadata: Map<String, Value>,
        /// Metadata only the backend reads.
        pub private_metadata: Map<String, Value>,
        /// The user who created it.
        pub created_by: Option<String>,
        /// When it was created (ms).
        pub created_at: i64,
        /// When it was last updated (ms).
        pub updated_at: i64,
    }
}

resource! {
    /// A membership of a user in an organization
    /// (`organizationMembership.created`, `.updated`, `.deleted`).
    ///
    /// ```
    /// let m: clerk_guard::webhooks::OrganizationMembership = serde_json::from_str(
    ///     r#"{"role":"org:admin","organization":{"id":"org_1"},"public_user_data":{"user_id":"user_1"}}"#,
    /// ).unwrap();
    /// assert_eq!((m.role.as_str(), m.organization.id.as_str(), m.public_user_data.user_id.as_str()),
    ///            ("org:admin", "org_1", "user_1"));
    /// ```
    pub struct OrganizationMembership {
        /// The membership's id (`orgmem_…`).
        pub id: String,
        /// The member's role (`org:admin`, `org:member`, or a custom one).
        pub role: String,
        /// The permissions the role grants (`org:<feature>:<permission>`).
        pub permissions: Vec<String>,
        /// Metadata readable from the frontend.
        pub public_metadata: Map<String, Value>,
        /// Metadata only the backend reads.
        pub private_metadata: Map<String, Value>,
        /// The organization.
        pub organization: Organization,
        /// The member.
        pub public_user_data: PublicUserData,
        /// When the membership was created (ms).
        pub created_at: i64,
        /// When it was last updated (ms).
        pub updated_at: i64,
    }
}

resource! {
    /// The public part of a member's user.
    ///
    /// ```
    /// let u: clerk_guard::webhooks::PublicUserData = serde_json::from_str(r#"{"identifier":"ada@example.com"}"#).unwrap();
    /// assert_eq!(u.identifier, "ada@example.com");
    /// ```
    pub struct PublicUserData {
        /// The user's id.
        pub user_id: String,
        /// The user's identifier (email, phone or username).
        pub identifier: String,
        /// The first name.
        pub first_name: Option<String>,
        /// The last name.
        pub last_name: Option<String>,
        /// The profile image's URL.
        pub image_url: String,
        /// Whether the user uploaded an image.
        pub has_image: bool,
    }
}

resource! {
    /// An invitation to an organization
    /// (`organizationInvitation.created`, `.accepted`, `.revoked`).
    ///
    /// ```
    /// let i: clerk_guard::webhooks::OrganizationInvitation =
    ///     serde_json::from_str(r#"{"status":"accepted","user_id":"user_1"}"#).unwrap();
    /// assert_eq!(i.user_id.as_deref(), Some("user_1"));
    /// ```
    pub struct OrganizationInvitation {
        /// The invitation's id (`orginv_…`).
        pub id: String,
        /// Who was invited.
        pub email_address: String,
        /// The role the invitee gets.
        pub role: String,
        /// The role's display name.
        pub role_name: String,
        /// The organization.
        pub organization_id: String,
        /// `pending`, `accepted`, `revoked` or `expired`.
        pub status: Option<String>,
        /// The user who accepted (`organizationInvitation.accepted`).
        pub user_id: Option<String>,
        /// Metadata readable from the frontend.
        pub public_metadata: Map<String, Value>,
        /// Metadata only the backend reads.
        pub private_metadata: Map<String, Value>,
        /// The invitation link.
        pub url: Option<String>,
        /// When it was created (ms).
        pub created_at: i64,
        /// When it was last updated (ms).
        pub updated_at: i64,
        /// When it expires (ms).
        pub expires_at: i64,
    }
}

resource! {
    /// A verified domain of an organization (`organizationDomain.*`).
    ///
    /// ```
    /// let d: clerk_guard::webhooks::OrganizationDomain =
    ///     serde_json::from_str(r#"{"name":"acme.com","enrollment_mode":"automatic_invitation"}"#).unwrap();
    /// assert_eq!(d.name, "acme.com");
    /// ```
    pub struct OrganizationDomain {
        /// The domain's id.
        pub id: String,
        /// The domain name.
        pub name: String,
        /// The organization.
        pub organization_id: String,
        /// `manual_invitation`, `automatic_invitation` or `automatic_suggestion`.
        pub enrollment_mode: String,
        /// How the domain was verified.
        pub verification: Option<Value>,
        /// The address used to verify affiliation.
        pub affiliation_email_address: Option<String>,
        /// Invitations pending for the domain.
        pub total_pending_invitations: i64,
        /// Suggestions pending for the domain.
        pub total_pending_suggestions: i64,
        /// When it was created (ms).
        pub created_at: i64,
        /// When it was last updated (ms).
        pub updated_at: i64,
    }
}

resource! {
    /// An organization role (`role.created`, `.updated`, `.deleted`).
    ///
    /// ```
    /// let r: clerk_guard::webhooks::Role = serde_json::from_str(
    ///     r#"{"key":"org:editor","permissions":[{"key":"org:posts:edit"}],"description":null}"#,
    /// ).unwrap();
    /// assert_eq!(r.permissions[0].key, "org:posts:edit");
    /// ```
    pub struct Role {
        /// The role's id.
        pub id: String,
        /// The key sessions carry (`org:editor`).
        pub key: String,
        /// The display name.
        pub name: String,
        /// The description.
        pub description: Option<String>,
        /// The permissions it grants.
        pub permissions: Vec<Permission>,
        /// Whether the creator of an organization may get this role.
        pub is_creator_eligible: bool,
        /// When it was created (ms).
        pub created_at: i64,
        /// When it was last updated (ms).
        pub updated_at: i64,
    }
}

resource! {
    /// An organization permission (`permission.created`, `.updated`, `.deleted`).
    ///
    /// ```
    /// let p: clerk_guard::webhooks::Permission = serde_json::from_str(r#"{"key":"org:posts:edit"}"#).unwrap();
    /// assert_eq!(p.key, "org:posts:edit");
    /// ```
    pub struct Permission {
        /// The permission's id.
        pub id: String,
        /// The key sessions carry (`org:<feature>:<permission>`).
        pub key: String,
        /// The display name.
        pub name: String,
        /// The description.
        pub description: String,
        /// When it was created (ms).
        pub created_at: i64,
        /// When it was last updated (ms).
        pub updated_at: i64,
    }
}

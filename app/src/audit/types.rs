//! The Audit log's data: the actions Roster records, an entry, the filter and a page of entries.

use serde::{Deserialize, Serialize};

/// Every action Roster records, for the filter.
pub const ACTIONS: &[&str] = &[
    "sign_in.success",
    "sign_in.failure",
    "sign_in.lockout",
    "sign_out",
    "invitation.sent",
    "invitation.resent",
    "invitation.revoked",
    "invitation.accepted",
    "user.updated",
    "user.enabled",
    "user.disabled",
    "user.unlocked",
    "users.bulk",
    "users.imported",
    "users.exported",
    "role.created",
    "role.updated",
    "role.deleted",
    "role.permissions_changed",
    "role.members_changed",
    "session.ended",
    "password.changed",
    "password.reset_requested",
    "password.reset",
    "email.confirmation_sent",
    "email.confirmed",
    "email.resent",
    "email.deleted",
    "settings.email_server_saved",
    "settings.email_server_removed",
    "settings.test_email",
    "settings.email_template_saved",
    "settings.email_template_reset",
    "application.created",
    "application.updated",
    "application.secret_rotated",
    "application.enabled",
    "application.disabled",
    "application.deleted",
    "application.signed_in",
    "two_factor.passkey_added",
    "two_factor.passkey_renamed",
    "two_factor.passkey_removed",
    "two_factor.totp_enabled",
    "two_factor.totp_disabled",
    "two_factor.recovery_codes_generated",
    "two_factor.recovery_code_used",
    "two_factor.reset",
    "role.two_factor_required",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_email: String,
    pub ip: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    pub target_label: String,
    pub details: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub actor: String,
    pub target: String,
    pub action: String,
    /// Unix ms, inclusive.
    pub from: Option<i64>,
    /// Unix ms, exclusive.
    pub to: Option<i64>,
    /// Keyset cursor: entries older than this id.
    pub before: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<i64>,
}

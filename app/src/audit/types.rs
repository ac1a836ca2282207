//! The Audit log's data: the actions Roster records, an entry, the filter and a page of entries.

use serde::{Deserialize, Serialize};

/// Declares [`AuditAction`] from one list, each action and its word, in the
/// order the filter lists them: the enum, [`AuditAction::ALL`],
/// [`AuditAction::as_str`] and [`AuditAction::parse`] all come from it, so
/// none of them can miss an action.
macro_rules! audit_actions {
    ($($variant:ident = $word:literal,)*) => {
        /// What happened: `audit_log.action`. The browser gets its word.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($variant,)*
        }

        impl AuditAction {
            /// Every action Roster records, in the filter's order.
            pub const ALL: &'static [AuditAction] = &[$(Self::$variant,)*];

            /// The value stored in the database, and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)*
                }
            }

            pub fn parse(word: &str) -> Option<Self> {
                match word {
                    $($word => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

audit_actions! {
    SignInSuccess = "sign_in.success",
    SignInFailure = "sign_in.failure",
    SignInLockout = "sign_in.lockout",
    SignOut = "sign_out",
    InvitationSent = "invitation.sent",
    InvitationResent = "invitation.resent",
    InvitationRevoked = "invitation.revoked",
    InvitationAccepted = "invitation.accepted",
    UserUpdated = "user.updated",
    UserEnabled = "user.enabled",
    UserDisabled = "user.disabled",
    UserUnlocked = "user.unlocked",
    UsersBulk = "users.bulk",
    UsersImported = "users.imported",
    UsersExported = "users.exported",
    RoleCreated = "role.created",
    RoleUpdated = "role.updated",
    RoleDeleted = "role.deleted",
    RolePermissionsChanged = "role.permissions_changed",
    RoleMembersChanged = "role.members_changed",
    SessionEnded = "session.ended",
    PasswordChanged = "password.changed",
    PasswordResetRequested = "password.reset_requested",
    PasswordReset = "password.reset",
    EmailConfirmationSent = "email.confirmation_sent",
    EmailConfirmed = "email.confirmed",
    EmailResent = "email.resent",
    EmailDeleted = "email.deleted",
    SettingsEmailServerSaved = "settings.email_server_saved",
    SettingsEmailServerRemoved = "settings.email_server_removed",
    SettingsTestEmail = "settings.test_email",
    SettingsEmailTemplateSaved = "settings.email_template_saved",
    SettingsEmailTemplateReset = "settings.email_template_reset",
    ApplicationCreated = "application.created",
    ApplicationUpdated = "application.updated",
    ApplicationSecretRotated = "application.secret_rotated",
    ApplicationEnabled = "application.enabled",
    ApplicationDisabled = "application.disabled",
    ApplicationDeleted = "application.deleted",
    ApplicationSignedIn = "application.signed_in",
    TwoFactorPasskeyAdded = "two_factor.passkey_added",
    TwoFactorPasskeyRenamed = "two_factor.passkey_renamed",
    TwoFactorPasskeyRemoved = "two_factor.passkey_removed",
    TwoFactorTotpEnabled = "two_factor.totp_enabled",
    TwoFactorTotpDisabled = "two_factor.totp_disabled",
    TwoFactorRecoveryCodesGenerated = "two_factor.recovery_codes_generated",
    TwoFactorRecoveryCodeUsed = "two_factor.recovery_code_used",
    TwoFactorReset = "two_factor.reset",
    RoleTwoFactorRequired = "role.two_factor_required",
}

// `audit_log.action`, read straight into [`AuditEntry`] and bound as its word.
#[cfg(feature = "ssr")]
crate::words_column!(AuditAction, "audit action", AuditAction::parse, AuditAction::as_str);

impl Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditAction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        Self::parse(&word).ok_or_else(|| serde::de::Error::custom(format!("unknown audit action {word:?}")))
    }
}

/// The Action filter's choices (value, label): every action.
pub fn action_options() -> Vec<(String, String)> {
    AuditAction::ALL.iter().map(|a| (a.as_str().to_string(), a.as_str().to_string())).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_email: String,
    pub ip: String,
    pub action: AuditAction,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_word() {
        let mut words = std::collections::HashSet::new();
        for &a in AuditAction::ALL {
            assert!(words.insert(a.as_str()), "{a:?}: its word is another action's too");
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
            // The browser gets the word, as when the action was a string.
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
            assert_eq!(serde_json::from_str::<AuditAction>(&json).unwrap(), a);
        }
        assert_eq!(AuditAction::parse("sign_in"), None);
        assert!(serde_json::from_str::<AuditAction>("\"SignInSuccess\"").is_err());
    }

    #[test]
    fn the_filter_lists_every_action_once() {
        let options = action_options();
        assert_eq!(options.len(), AuditAction::ALL.len());
        for (&a, (value, label)) in AuditAction::ALL.iter().zip(&options) {
            assert_eq!((value.as_str(), label.as_str()), (a.as_str(), a.as_str()));
        }
        let distinct: std::collections::HashSet<_> = AuditAction::ALL.iter().collect();
        assert_eq!(distinct.len(), AuditAction::ALL.len());
    }

    #[test]
    fn entries_written_before_read_back() {
        // `audit_log.action` as Roster wrote it when actions were strings (the
        // filter's hand-kept list then): rows already stored keep reading.
        let written = [
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
        let read: Vec<&str> = written.iter().map(|w| AuditAction::parse(w).map_or("?", AuditAction::as_str)).collect();
        assert_eq!(read, written);
    }
}

//! Which claims an application receives: the scopes it asked for decide
//! (OpenID Connect Core 1.0 §5.4), in the ID token and at userinfo alike.
//!
//! | scope     | claims                                      |
//! |-----------|---------------------------------------------|
//! | `openid`  | `sub` (required in every request)           |
//! | `profile` | `name`, `given_name`, `family_name`         |
//! | `email`   | `email`, `email_verified`                   |
//! | `roster`  | `roles`, `permissions` (on this application) |
//!
//! Scopes Roster does not know are left out of what is granted (RFC 6749
//! §3.3), and the token response says what was. Applications registered
//! before scopes decided the claims keep every claim whatever they ask
//! (`oidc_every_claim`, a row each, made by the migration) until an
//! administrator chooses "Claims by scope"; this file is that table's home.

use super::service::PersonClaims;
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::ApplicationId;
use crate::error::AppResult;
use crate::server::access::{apps, perms, Access};
use crate::server::db::Db;
use serde::Serialize;

/// What discovery lists as `scopes_supported`.
pub const SCOPES_SUPPORTED: [&str; 4] = ["openid", "profile", "email", "roster"];

/// What discovery lists as `claims_supported`: every claim an ID token or
/// userinfo can hold.
pub const CLAIMS_SUPPORTED: [&str; 15] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "roles",
    "permissions",
];

/// The scopes granted beyond `openid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    pub profile: bool,
    pub email: bool,
    pub roster: bool,
}

impl Scopes {
    /// Every claim: what an application registered before scopes receives.
    pub const EVERY: Scopes = Scopes { profile: true, email: true, roster: true };

    /// The scopes of a space-separated `scope` value that Roster grants; the
    /// others (and `openid`, which every request must hold) are ignored.
    pub fn parse(scope: &str) -> Self {
        let mut s = Scopes::default();
        for word in scope.split(' ') {
            match word {
                "profile" => s.profile = true,
                "email" => s.email = true,
                "roster" => s.roster = true,
                _ => {}
            }
        }
        s
    }

    /// Does a `scope` value ask for `openid`?
    pub fn has_openid(scope: &str) -> bool {
        scope.split(' ').any(|s| s == "openid")
    }

    /// Both at once: what an application that keeps every claim is granted.
    pub fn union(self, other: Scopes) -> Self {
        Scopes {
            profile: self.profile || other.profile,
            email: self.email || other.email,
            roster: self.roster || other.roster,
        }
    }

    /// The granted scope as the token response and the database say it:
    /// `openid` first, then the others in a fixed order.
    pub fn to_scope(self) -> String {
        let mut out = String::from("openid");
        for (on, word) in [(self.profile, " profile"), (self.email, " email"), (self.roster, " roster")] {
            if on {
                out.push_str(word);
            }
        }
        out
    }
}

/// The claims about the person that the granted scopes allow; the others
/// are left out of the JSON altogether.
#[derive(Debug, Serialize)]
pub struct ScopedClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The names of the person's roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// This application's permissions for this person: `["view", "update"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<&'static str>>,
}

impl ScopedClaims {
    pub fn of(all: PersonClaims, scopes: Scopes) -> Self {
        let PersonClaims { email, email_verified, name, given_name, family_name, roles, permissions } = all;
        let profile = scopes.profile;
        ScopedClaims {
            name: profile.then_some(name),
            given_name: profile.then_some(given_name),
            family_name: profile.then_some(family_name),
            email: scopes.email.then_some(email),
            email_verified: scopes.email.then_some(email_verified),
            roles: scopes.roster.then_some(roles),
            permissions: scopes.roster.then_some(permissions),
        }
    }
}

/// Does this application keep every claim whatever scopes it asks for
/// (registered before scopes decided the claims, and not yet switched)?
pub async fn every_claim(db: &Db, application_id: ApplicationId) -> AppResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT application_id FROM oidc_every_claim WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(found.is_some())
}

/// From now on the application receives the claims of the scopes it asks
/// for. `name` is the application's, for the audit log. Nothing to do (and
/// nothing recorded) for an application that already does.
pub async fn claims_by_scope(
    access: Access<'_, apps::Applications, perms::Update>,
    db: &Db,
    application_id: ApplicationId,
    name: &str,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    let removed = sqlx::query("DELETE FROM oidc_every_claim WHERE application_id = $1")
        .bind(application_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed > 0 {
        let event = Event::new(AuditAction::ApplicationUpdated)
            .target("application", application_id.get(), name.to_string())
            .details("claims by scope");
        record(&mut tx, &Actor::of(access.principal()), event).await?;
    }
    tx.commit().await?;
    tracing::info!(
        application_id = application_id.get(),
        by = access.principal().user_id.get(),
        "application claims by scope"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> PersonClaims {
        PersonClaims {
            email: "laura@example.com".into(),
            email_verified: true,
            name: "Laura M".into(),
            given_name: "Laura".into(),
            family_name: "M".into(),
            roles: vec!["Sales".into()],
            permissions: vec!["view"],
        }
    }

    #[test]
    fn each_scope_gives_its_claims_and_no_others() {
        let json = |scope: &str| serde_json::to_value(ScopedClaims::of(person(), Scopes::parse(scope))).unwrap();
        assert_eq!(json("openid"), serde_json::json!({}));
        assert_eq!(
            json("openid profile"),
            serde_json::json!({"name": "Laura M", "given_name": "Laura", "family_name": "M"})
        );
        assert_eq!(json("openid email"), serde_json::json!({"email": "laura@example.com", "email_verified": true}));
        assert_eq!(json("openid roster"), serde_json::json!({"roles": ["Sales"], "permissions": ["view"]}));
        let every = serde_json::to_value(ScopedClaims::of(person(), Scopes::EVERY)).unwrap();
        assert_eq!(every.as_object().unwrap().len(), 7);
    }

    #[test]
    fn unknown_scopes_are_not_granted() {
        let s = Scopes::parse("openid  offline_access phone email Email");
        assert_eq!(s, Scopes { email: true, ..Scopes::default() });
        assert_eq!(s.to_scope(), "openid email");
        assert_eq!(Scopes::parse("roster profile").to_scope(), "openid profile roster");
        assert!(Scopes::has_openid("email openid"));
        assert!(!Scopes::has_openid("openidx email"));
    }
}

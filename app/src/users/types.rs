//! The Users data: statuses (a word column), queries, rows, pages, details, bulk actions and jobs, and the import's review.

use crate::domain::{RoleId, Timestamp, UserId};
use crate::email_queue::types::EmailStatus;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserStatus {
    Invited,
    InvitationExpired,
    Active,
    Disabled,
}

impl UserStatus {
    pub const ALL: [UserStatus; 4] = [Self::Active, Self::Invited, Self::InvitationExpired, Self::Disabled];
    pub fn key(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::InvitationExpired => "expired",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Invited => "Invited",
            Self::InvitationExpired => "Invitation expired",
            Self::Active => "Active",
            Self::Disabled => "Disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.key() == s)
    }
}

// The status the Users query computes (`status_sql`), read straight from its row.
#[cfg(feature = "ssr")]
crate::words_column!(UserStatus, "user status", UserStatus::parse);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub email_id: i64,
    /// Where the invitation email stands in the Email queue.
    pub state: EmailStatus,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub full_name: String,
    pub status: UserStatus,
    pub roles: Vec<String>,
    pub last_sign_in_at: Option<Timestamp>,
    pub delivery: Option<Delivery>,
    /// Locked after too many failed sign-ins.
    pub locked: bool,
    /// The person proved control of the address (ID tokens say `email_verified`).
    pub email_verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPage {
    pub rows: Vec<UserRow>,
    /// Cursor for the next page, if there is one.
    pub next: Option<String>,
    pub smtp_configured: bool,
}

/// The Users list's search, filters, sort and page (each may be left out:
/// the export link names only what is chosen).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserQuery {
    pub search: String,
    pub status: String,
    pub role: String,
    pub sort: String,
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleOption {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub builtin: bool,
    /// Why the caller may not give this role to anyone (None: they may).
    pub refusal: Option<String>,
}

/// What saving a user's general info changed beyond the fields themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOutcome {
    /// The email changed while an invitation was pending: its link was
    /// revoked, and a new one goes to the new address only when asked.
    pub invitation_revoked: bool,
    /// The email of someone who has signed up changed: a confirmation link
    /// went to the new address, unconfirmed until it is followed.
    pub confirmation_sent: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDetail {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub enabled: bool,
    pub status: UserStatus,
    pub role_ids: Vec<RoleId>,
    pub last_sign_in_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub invitation_expires_at: Option<Timestamp>,
    pub delivery: Option<Delivery>,
    pub locked: bool,
    /// The person proved control of the address (ID tokens say `email_verified`).
    pub email_verified: bool,
    /// Why the caller may not change this person (`grants::check_may_manage`:
    /// an administrator, or someone holding more than the caller), if so: the
    /// page then offers no action that would be refused.
    pub manage_refusal: Option<String>,
}

// ---- bulk actions ------------------------------------------------------------------

/// Which users a bulk action is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BulkSelection {
    /// The rows ticked on the page (at most [`BULK_MAX_IDS`]).
    Ids(Vec<UserId>),
    /// Every user the list's search and filters match, however many: the
    /// server reads them (`after` and `sort` are ignored).
    Matching(UserQuery),
}

/// The most ticked rows one bulk action takes (select all matching for more).
pub const BULK_MAX_IDS: usize = 1000;

/// What a bulk action does to each selected user (the single actions' rules apply to each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkAction {
    Enable,
    Disable,
    /// Give this role (by id).
    AddRole(RoleId),
    /// Take this role away (by id).
    RemoveRole(RoleId),
    ResendInvitation,
    RevokeInvitation,
    EndSessions,
}

impl BulkAction {
    /// The verb the confirmation and the result use: "Disable 1,204 users?".
    pub fn verb(self) -> &'static str {
        match self {
            Self::Enable => "Enable",
            Self::Disable => "Disable",
            Self::AddRole(_) => "Add a role to",
            Self::RemoveRole(_) => "Remove a role from",
            Self::ResendInvitation => "Resend the invitation to",
            Self::RevokeInvitation => "Revoke the invitation of",
            Self::EndSessions => "End the sessions of",
        }
    }
}

impl BulkAction {
    /// What the result says was done: "Disabled".
    pub fn done(self) -> &'static str {
        match self {
            Self::Enable => "Enabled",
            Self::Disable => "Disabled",
            Self::AddRole(_) => "Role added",
            Self::RemoveRole(_) => "Role removed",
            Self::ResendInvitation => "Invitation resent",
            Self::RevokeInvitation => "Invitation revoked",
            Self::EndSessions => "Sessions ended",
        }
    }

    /// The confirmation's question: "Disable 1,204 users?" (`role`: the role's name).
    pub fn question(self, n: u64, role: &str) -> String {
        let people = format!("{} user{}", thousands(n), if n == 1 { "" } else { "s" });
        match self {
            Self::AddRole(_) => format!("Add the role {role} to {people}?"),
            Self::RemoveRole(_) => format!("Remove the role {role} from {people}?"),
            _ => format!("{} {people}?", self.verb()),
        }
    }
}

/// How many users were skipped for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub reason: String,
    pub count: u64,
}

/// What a bulk action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkOutcome {
    /// Users selected (found when the action ran).
    pub selected: u64,
    /// Users changed (one audit entry each).
    pub changed: u64,
    /// The others, by reason, most frequent first.
    pub skipped: Vec<Skipped>,
}

/// Format a count with thousands separators: 1204 → "1,204".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where a bulk action's job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkJobState {
    Running,
    Finished,
    /// Stopped before the end; the reason (the users done so far stay done).
    Failed(String),
}

/// A bulk action run as a job: what it is, how far it got, and what it did so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkJob {
    pub id: i64,
    /// "Disable 1,204 users".
    pub description: String,
    pub state: BulkJobState,
    /// Users looked at so far (`outcome.selected` is the total).
    pub done: u64,
    pub outcome: BulkOutcome,
}

// ---- import (CSV) ------------------------------------------------------------------

/// What the review found a row of an import file to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportVerdict {
    /// Not a user yet: will be invited.
    New,
    /// Already a user: skipped.
    Existing,
    /// Already a user: the file's roles they lack will be added (the admin ticked that).
    AddRoles,
    /// Cannot be imported; `note` says why.
    Error,
}

/// One row of the review, or of the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    /// The line of the file (the header is line 1).
    pub line: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub roles: Vec<String>,
    pub verdict: ImportVerdict,
    /// Why an error, or what happens ("Roles to add: Editors").
    pub note: String,
}

/// The review of a file, or what importing it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReview {
    pub rows: Vec<ImportRow>,
    /// Rows per verdict: new, existing (skipped), roles to add, errors.
    pub new: u64,
    pub existing: u64,
    pub add_roles: u64,
    pub errors: u64,
    /// After an import: the rows with errors as CSV (the file's columns and
    /// an Error column), to fix and upload again. Empty in a review.
    pub errors_csv: String,
}

//! The Email queue's data: an email's status (a word column), rows, pages and details.

use serde::{Deserialize, Serialize};

/// Where an email stands: `emails.status` (one of [`EmailStatus::STORED`]),
/// and as shown ([`EmailStatus::shown`]: a queued email is Not sent while no
/// SMTP server is configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmailStatus {
    Queued,
    Sending,
    Sent,
    Failed,
    /// Queued, but no SMTP server is configured. Shown only, never stored
    /// (it is stored as Queued).
    NotSent,
}

impl EmailStatus {
    /// Every status an `emails` row holds.
    pub const STORED: [EmailStatus; 4] = [Self::Queued, Self::Sending, Self::Sent, Self::Failed];
    /// The statuses the Email queue filters on: every stored one.
    pub const FILTERS: [EmailStatus; 4] = Self::STORED;
    /// The status a row's (stored) status is shown as.
    pub fn shown(self, smtp_configured: bool) -> Self {
        match self {
            Self::Queued if !smtp_configured => Self::NotSent,
            s => s,
        }
    }
    /// The stored status of this word, if it is one.
    pub fn parse(word: &str) -> Option<Self> {
        Self::STORED.into_iter().find(|s| s.key() == word)
    }
    /// The value stored in the database.
    pub fn key(self) -> &'static str {
        match self {
            Self::Queued | Self::NotSent => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "Queued",
            Self::Sending => "Sending",
            Self::Sent => "Sent",
            Self::Failed => "Failed",
            Self::NotSent => "Not sent",
        }
    }
}

// `emails.status`, read straight into its row and bound as its word.
#[cfg(feature = "ssr")]
crate::words_column!(EmailStatus, "email status", EmailStatus::parse, EmailStatus::key);

pub const NOT_CONFIGURED: &str = "Not sent: email sending is not configured";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailRow {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub status: EmailStatus,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailPage {
    pub rows: Vec<EmailRow>,
    /// Id to pass as `before` for the next (older) page.
    pub next: Option<i64>,
    pub smtp_configured: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: i64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailDetail {
    pub row: EmailRow,
    pub message_id: String,
    pub max_attempts: i64,
    pub sent_at: Option<i64>,
    pub body_text: String,
    pub body_html: String,
    pub attempts: Vec<Attempt>,
    /// Why links (in the subject and the bodies) are replaced by `••••••` for this caller, if they are.
    pub links_hidden: Option<String>,
    /// Only a Global administrator may resend or delete this email (an unsent
    /// password reset), and the caller is not one: the page offers neither.
    pub admin_only: bool,
}

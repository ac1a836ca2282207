//! Email templates: the kinds of email Roster sends, their placeholders, their
//! default wording, validation and rendering. Compiled for the browser too, so
//! the template editor's preview is the very code the server sends with.
//!
//! A template is plain text with placeholders such as `{{first_name}}` (spaces
//! inside the braces are allowed). Rendering puts the values in as they are in
//! the subject and the plain-text body, and escaped by `html_escape` in the
//! HTML body, so a name such as `<b>Eve</b>` shows as text and cannot add markup.

use serde::{Deserialize, Serialize};

/// Every kind of email whose wording can be changed. The key is `emails.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TemplateKind {
    Invitation,
    PasswordReset,
    AccountLocked,
    PasswordChanged,
    EmailChanged,
    AuthenticatorAdded,
    AuthenticatorRemoved,
    PasskeyAdded,
    PasskeyRemoved,
    RecoveryCodesGenerated,
    RecoveryCodeUsed,
    TwoFactorReset,
    EmailConfirmation,
}

/// A placeholder a template may use, what it holds, and the value the preview shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder {
    pub name: &'static str,
    pub meaning: &'static str,
    pub sample: &'static str,
}

const SITE_NAME: Placeholder =
    Placeholder { name: "site_name", meaning: "The site name (configuration key site_name).", sample: "Roster" };
const FIRST_NAME: Placeholder = Placeholder {
    name: "first_name",
    meaning: "The person's first name; empty while nobody has entered one (a new invitation).",
    sample: "Laura",
};
const GREETING: Placeholder = Placeholder {
    name: "greeting",
    meaning: "“Hello Laura,” with the person's first name, or “Hello,” while nobody has entered one.",
    sample: "Hello Laura,",
};
const EMAIL: Placeholder =
    Placeholder { name: "email", meaning: "The address the email is sent to.", sample: "lauram@kbank.com" };

/// The placeholders of one kind of email: its link, what every email knows,
/// when the link (or lockout) ends, and one more of its own.
struct Placeholders {
    link: (&'static str, &'static str),
    expires: (&'static str, &'static str),
    last: Placeholder,
}

impl Placeholders {
    fn all(&self) -> Vec<Placeholder> {
        let (meaning, sample) = self.link;
        let (expires_meaning, expires_sample) = self.expires;
        vec![
            Placeholder { name: "link", meaning, sample },
            SITE_NAME,
            FIRST_NAME,
            GREETING,
            EMAIL,
            Placeholder { name: "expires", meaning: expires_meaning, sample: expires_sample },
            self.last,
        ]
    }
}

const LINK_ENDS: &str = "When the link stops working.";

const INVITATION: Placeholders = Placeholders {
    link: ("The one-time sign-up link (required).", "https://people.example.com/signup/Xy3…"),
    expires: (LINK_ENDS, "2026-12-06 09:30 UTC"),
    last: Placeholder { name: "valid_for", meaning: "How long the link works.", sample: "7 days" },
};

const PASSWORD_RESET: Placeholders = Placeholders {
    link: ("The one-time link to choose a new password (required).", "https://people.example.com/reset/Xy3…"),
    expires: (LINK_ENDS, "2026-11-29 10:30 UTC"),
    last: Placeholder { name: "valid_for", meaning: "How long the link works.", sample: "1 hour" },
};

const EMAIL_CONFIRMATION: Placeholders = Placeholders {
    link: (
        "The one-time link that confirms the new address (required).",
        "https://people.example.com/confirm-email/Xy3…",
    ),
    expires: (LINK_ENDS, "2026-12-06 09:30 UTC"),
    last: Placeholder { name: "valid_for", meaning: "How long the link works.", sample: "7 days" },
};

const ACCOUNT_LOCKED: Placeholders = Placeholders {
    link: ("The Forgot password page, to reset the password (required).", "https://people.example.com/forgot-password"),
    expires: ("When the lockout ends.", "2026-11-29 09:45 UTC"),
    last: Placeholder { name: "failures", meaning: "How many failed sign-ins locked the account.", sample: "20" },
};

/// Where a security notice's link leads (its meaning, its sample): what the
/// owner does if it was not them. Never a token: each page asks to sign in.
const SECURITY_TAB: (&str, &str) = (
    "Account → Security, where the person sees their second factors (required).",
    "https://people.example.com/account?tab=security",
);
const FORGOT_PASSWORD_PAGE: (&str, &str) =
    ("The Forgot password page, to choose a new password (required).", "https://people.example.com/forgot-password");
const SIGN_IN_PAGE: (&str, &str) = ("The Sign in page (required).", "https://people.example.com/signin");

/// The placeholders of a security notice to an account's owner: the page to
/// go to, what every email knows, when it happened and where from, and the
/// kind's own (`extra`).
fn security_notice_placeholders(link: (&'static str, &'static str), extra: Option<Placeholder>) -> Vec<Placeholder> {
    let (meaning, sample) = link;
    let mut out = vec![
        Placeholder { name: "link", meaning, sample },
        SITE_NAME,
        FIRST_NAME,
        GREETING,
        EMAIL,
        Placeholder { name: "time", meaning: "When it happened.", sample: "2026-11-29 09:30 UTC" },
        Placeholder {
            name: "from",
            meaning: "Where it was done from: the network address and the browser.",
            sample: "203.0.113.7 (Firefox on Windows)",
        },
    ];
    out.extend(extra);
    out
}

/// The placeholder every template must use, in both bodies.
pub const REQUIRED: &str = "link";

/// The placeholders that may carry a one-time token (`{{link}}` is the sign-up
/// or reset link in an invitation or a password reset), refused in the subject
/// of every kind: a subject is shown in the Email queue's list and in every
/// mail client's inbox, where nothing may hide a token.
pub const NOT_IN_SUBJECT: [&str; 1] = [REQUIRED];

impl Placeholder {
    /// Whether a subject may use this placeholder (see [`NOT_IN_SUBJECT`]).
    pub fn allowed_in_subject(&self) -> bool {
        !NOT_IN_SUBJECT.contains(&self.name)
    }
}

/// Longest subject, in characters.
pub const SUBJECT_MAX_CHARS: usize = 200;
/// Longest body (each of plain text and HTML), in characters.
pub const BODY_MAX_CHARS: usize = 100_000;

impl TemplateKind {
    pub const ALL: [TemplateKind; 13] = [
        Self::Invitation,
        Self::PasswordReset,
        Self::AccountLocked,
        Self::PasswordChanged,
        Self::EmailChanged,
        Self::AuthenticatorAdded,
        Self::AuthenticatorRemoved,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::RecoveryCodesGenerated,
        Self::RecoveryCodeUsed,
        Self::TwoFactorReset,
        Self::EmailConfirmation,
    ];

    /// `emails.kind` and `email_templates.kind`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Invitation => "invitation",
            Self::PasswordReset => "password_reset",
            Self::AccountLocked => "account_locked",
            Self::PasswordChanged => "password_changed",
            Self::EmailChanged => "email_changed",
            Self::AuthenticatorAdded => "authenticator_added",
            Self::AuthenticatorRemoved => "authenticator_removed",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::RecoveryCodesGenerated => "recovery_codes_generated",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::TwoFactorReset => "two_factor_reset",
            Self::EmailConfirmation => "email_confirmation",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == key)
    }
}

// `emails.kind` and `email_templates.kind`, read straight into rows and bound as their word.
#[cfg(feature = "ssr")]
crate::words_column!(TemplateKind, "email kind", TemplateKind::parse, TemplateKind::key);

impl TemplateKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Invitation => "Invitation",
            Self::PasswordReset => "Password reset",
            Self::AccountLocked => "Account locked",
            Self::PasswordChanged => "Password changed",
            Self::EmailChanged => "Email address changed",
            Self::AuthenticatorAdded => "Authenticator app added",
            Self::AuthenticatorRemoved => "Authenticator app removed",
            Self::PasskeyAdded => "Passkey added",
            Self::PasskeyRemoved => "Passkey removed",
            Self::RecoveryCodesGenerated => "New recovery codes",
            Self::RecoveryCodeUsed => "Recovery code used",
            Self::TwoFactorReset => "Two-factor sign-in reset",
            Self::EmailConfirmation => "Email confirmation",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Invitation => "Sent by New user and Resend invitation: the link to sign up.",
            Self::PasswordReset => "Sent by Forgot password: the link to choose a new password.",
            Self::AccountLocked => "Sent to the owner when failed sign-ins lock their account.",
            Self::PasswordChanged => {
                "Sent to the owner when their password is changed, on the Account page or through a reset link."
            }
            Self::EmailChanged => "Sent to the old address when an account's email address is changed.",
            Self::AuthenticatorAdded => "Sent to the owner when an authenticator app is added to their account.",
            Self::AuthenticatorRemoved => "Sent to the owner when the authenticator app is removed from their account.",
            Self::PasskeyAdded => "Sent to the owner when a passkey is added to their account.",
            Self::PasskeyRemoved => "Sent to the owner when a passkey is removed from their account.",
            Self::RecoveryCodesGenerated => "Sent to the owner when new recovery codes replace their old ones.",
            Self::RecoveryCodeUsed => "Sent to the owner when a recovery code is used to sign in to their account.",
            Self::TwoFactorReset => "Sent to the person whose two-factor sign-in an administrator reset.",
            Self::EmailConfirmation => {
                "Sent to a person's new address when their email changes: the link to confirm it."
            }
        }
    }

    pub fn placeholders(self) -> Vec<Placeholder> {
        match self {
            Self::Invitation => INVITATION.all(),
            Self::PasswordReset => PASSWORD_RESET.all(),
            Self::AccountLocked => ACCOUNT_LOCKED.all(),
            Self::PasswordChanged => security_notice_placeholders(FORGOT_PASSWORD_PAGE, None),
            Self::EmailChanged => security_notice_placeholders(
                SIGN_IN_PAGE,
                Some(Placeholder {
                    name: "new_email",
                    meaning: "The account's new email address.",
                    sample: "laura.m@kbank.com",
                }),
            ),
            Self::AuthenticatorAdded
            | Self::AuthenticatorRemoved
            | Self::PasskeyAdded
            | Self::PasskeyRemoved
            | Self::RecoveryCodesGenerated
            | Self::RecoveryCodeUsed
            | Self::TwoFactorReset => security_notice_placeholders(SECURITY_TAB, None),
            Self::EmailConfirmation => EMAIL_CONFIRMATION.all(),
        }
    }

    /// The values the preview renders with.
    pub fn sample_values(self) -> Vec<(&'static str, String)> {
        self.placeholders().into_iter().map(|p| (p.name, p.sample.to_string())).collect()
    }

    /// Roster's own wording, used until someone saves another and after Reset to default.
    pub fn default_template(self) -> Template {
        let (subject, text, html) = match self {
            Self::Invitation => (
                "You have been invited to join {{site_name}}",
                "{{greeting}}\n\nYou have been invited to join {{site_name}}.\n\n\
                 Open this link to create your password and sign up:\n{{link}}\n\n\
                 The link works once and expires in {{valid_for}} ({{expires}}). \
                 If you did not expect this email, you can ignore it.\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>You have been invited to join <strong>{{site_name}}</strong>.</p>\n\
                 <p><a href=\"{{link}}\">Create your password and sign up</a></p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n\
                 <p>The link works once and expires in {{valid_for}} ({{expires}}). \
                 If you did not expect this email, you can ignore it.</p>\n</body></html>\n",
            ),
            Self::PasswordReset => (
                "Reset your {{site_name}} password",
                "{{greeting}}\n\nSomeone asked to reset the password of your {{site_name}} account.\n\n\
                 Open this link to choose a new password:\n{{link}}\n\n\
                 The link works once and expires in {{valid_for}}. If you did not ask for this, you can ignore \
                 this email; your password stays as it is.\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>Someone asked to reset the password of your <strong>{{site_name}}</strong> account.</p>\n\
                 <p><a href=\"{{link}}\">Choose a new password</a></p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n\
                 <p>The link works once and expires in {{valid_for}}. If you did not ask for this, you can ignore \
                 this email; your password stays as it is.</p>\n</body></html>\n",
            ),
            Self::AccountLocked => (
                "Your {{site_name}} account was locked",
                "{{greeting}}\n\nYour {{site_name}} account was locked after {{failures}} failed sign-ins. \
                 It unlocks at {{expires}}; until then nobody can sign in to it, not even with the right password.\n\n\
                 If this was not you, someone may be guessing your password: reset your password here:\n{{link}}\n\n\
                 If it was you, wait until the time above and sign in again, or reset your password.\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>Your <strong>{{site_name}}</strong> account was locked after {{failures}} failed \
                 sign-ins. It unlocks at {{expires}}; until then nobody can sign in to it, not even with the right \
                 password.</p>\n\
                 <p>If this was not you, someone may be guessing your password: \
                 <a href=\"{{link}}\">reset your password</a>.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n\
                 <p>If it was you, wait until the time above and sign in again, or reset your password.</p>\n\
                 </body></html>\n",
            ),
            Self::PasswordChanged => (
                "Your {{site_name}} password was changed",
                "{{greeting}}\n\nThe password of your {{site_name}} account was changed at {{time}}, from {{from}}.\n\n\
                 If this was not you, someone else may be able to sign in to your account: choose a new password \
                 on the Forgot password page at once, and tell an administrator:\n{{link}}\n\n\
                 If it was you, there is nothing to do.\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>The password of your <strong>{{site_name}}</strong> account was changed \
                 at {{time}}, from {{from}}.</p>\n\
                 <p>If this was not you, someone else may be able to sign in to your account: \
                 <a href=\"{{link}}\">choose a new password</a> at once, and tell an administrator.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n\
                 <p>If it was you, there is nothing to do.</p>\n</body></html>\n",
            ),
            Self::EmailChanged => (
                "The email address of your {{site_name}} account was changed",
                "{{greeting}}\n\nThe email address of your {{site_name}} account was changed from {{email}} to \
                 {{new_email}} at {{time}}, from {{from}}. Emails from {{site_name}}, password resets included, \
                 now go to the new address.\n\n\
                 If you did not ask for this, tell an administrator at once: whoever reads the new address can \
                 reset your password and sign in. {{site_name}} is here:\n{{link}}\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>The email address of your <strong>{{site_name}}</strong> account was \
                 changed from {{email}} to {{new_email}} at {{time}}, from {{from}}. Emails from {{site_name}}, \
                 password resets included, now go to the new address.</p>\n\
                 <p>If you did not ask for this, tell an administrator at once: whoever reads the new address can \
                 reset your password and sign in. <a href=\"{{link}}\">Go to {{site_name}}</a>.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n</body></html>\n",
            ),
            Self::AuthenticatorAdded => (
                "An authenticator app was added to your {{site_name}} account",
                "{{greeting}}\n\nAn authenticator app was added to your {{site_name}} account at {{time}}, from {{from}}. \
                 From now on, signing in asks for a code from it after your password.\n\n\
                 If this was not you, someone else can sign in to your account: reset your password and tell \
                 an administrator. Your second factors are listed here:\n{{link}}\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>An authenticator app was added to your <strong>{{site_name}}</strong> \
                 account at {{time}}, from {{from}}. From now on, signing in asks for a code from it after your password.</p>\n\
                 <p>If this was not you, someone else can sign in to your account: reset your password and tell \
                 an administrator. <a href=\"{{link}}\">See your second factors</a>.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n</body></html>\n",
            ),
            Self::PasskeyAdded => (
                "A passkey was added to your {{site_name}} account",
                "{{greeting}}\n\nA passkey was added to your {{site_name}} account at {{time}}, from {{from}}. \
                 It signs in to your account on its own, without your password.\n\n\
                 If this was not you, someone else can sign in to your account: reset your password and tell \
                 an administrator. Your passkeys are listed here:\n{{link}}\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>A passkey was added to your <strong>{{site_name}}</strong> \
                 account at {{time}}, from {{from}}. It signs in to your account on its own, without your password.</p>\n\
                 <p>If this was not you, someone else can sign in to your account: reset your password and tell \
                 an administrator. <a href=\"{{link}}\">See your passkeys</a>.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n</body></html>\n",
            ),
            Self::AuthenticatorRemoved => (
                "An authenticator app was removed from your {{site_name}} account",
                "{{greeting}}\n\nThe authenticator app was removed from your {{site_name}} account at {{time}}, \
                 from {{from}}. Its codes no longer sign in.\n\n\
                 If this was not you, someone else is signed in to your account: reset your password and tell \
                 an administrator. Your second factors are listed here:\n{{link}}\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>The authenticator app was removed from your <strong>{{site_name}}</strong> \
                 account at {{time}}, from {{from}}. Its codes no longer sign in.</p>\n\
                 <p>If this was not you, someone else is signed in to your account: reset your password and tell \
                 an administrator. <a href=\"{{link}}\">See your second factors</a>.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n</body></html>\n",
            ),
            Self::PasskeyRemoved => (
                "A passkey was removed from your {{site_name}} account",
                "{{greeting}}\n\nA passkey was removed from your {{site_name}} account at {{time}}, from {{from}}. \
                 It no longer signs in.\n\n\
                 If this was not you, someone else is signed in to your account: reset your password and tell \
                 an administrator. Your passkeys are listed here:\n{{link}}\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>A passkey was removed from your <strong>{{site_name}}</strong> \
                 account at {{time}}, from {{from}}. It no longer signs in.</p>\n\
                 <p>If this was not you, someone else is signed in to your account: reset your password and tell \
                 an administrator. <a href=\"{{link}}\">See your passkeys</a>.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n</body></html>\n",
            ),
            Self::RecoveryCodesGenerated => (
                "New recovery codes for your {{site_name}} account",
                "{{greeting}}\n\nNew recovery codes were made for your {{site_name}} account at {{time}}, \
                 from {{from}}. The old codes no longer work.\n\n\
                 If this was not you, someone else is signed in to your account and holds the new codes: reset \
                 your password, generate new recovery codes and tell an administrator:\n{{link}}\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>New recovery codes were made for your <strong>{{site_name}}</strong> \
                 account at {{time}}, from {{from}}. The old codes no longer work.</p>\n\
                 <p>If this was not you, someone else is signed in to your account and holds the new codes: reset \
                 your password, <a href=\"{{link}}\">generate new recovery codes</a> and tell an administrator.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n</body></html>\n",
            ),
            Self::RecoveryCodeUsed => (
                "A recovery code was used to sign in to {{site_name}}",
                "{{greeting}}\n\nA recovery code was used to sign in to your {{site_name}} account at {{time}}, from {{from}}. \
                 Each code works once.\n\n\
                 If this was not you, someone has your password and a recovery code: reset your password, \
                 generate new recovery codes and tell an administrator:\n{{link}}\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>A recovery code was used to sign in to your <strong>{{site_name}}</strong> \
                 account at {{time}}, from {{from}}. Each code works once.</p>\n\
                 <p>If this was not you, someone has your password and a recovery code: reset your password, \
                 <a href=\"{{link}}\">generate new recovery codes</a> and tell an administrator.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n</body></html>\n",
            ),
            Self::TwoFactorReset => (
                "Your {{site_name}} two-factor sign-in was reset",
                "{{greeting}}\n\nAn administrator reset the two-factor sign-in of your {{site_name}} account at \
                 {{time}}, from {{from}}: your passkeys, authenticator app and recovery codes no longer work, and every session was \
                 signed out. Sign in with your password and set up a second factor again:\n{{link}}\n\n\
                 If you did not ask for this, tell an administrator.\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>An administrator reset the two-factor sign-in of your \
                 <strong>{{site_name}}</strong> account at {{time}}, from {{from}}: your passkeys, authenticator app and recovery codes no \
                 longer work, and every session was signed out.</p>\n\
                 <p><a href=\"{{link}}\">Sign in and set up a second factor again</a>.</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n\
                 <p>If you did not ask for this, tell an administrator.</p>\n</body></html>\n",
            ),
            Self::EmailConfirmation => (
                "Confirm your email address for {{site_name}}",
                "{{greeting}}\n\nThe email address of your {{site_name}} account is now {{email}}.\n\n\
                 Open this link and confirm it (sign in to your account if asked):\n{{link}}\n\n\
                 Until you do, the applications you sign in to with {{site_name}} are told this address is not \
                 verified. The link works once and expires in {{valid_for}} ({{expires}}). If you do not have a \
                 {{site_name}} account, you can ignore this email.\n",
                "<!DOCTYPE html><html><body>\n\
                 <p>{{greeting}}</p>\n<p>The email address of your <strong>{{site_name}}</strong> account is now \
                 {{email}}.</p>\n\
                 <p><a href=\"{{link}}\">Confirm your email address</a> (sign in to your account if asked).</p>\n\
                 <p>Or copy this link into your browser:<br>{{link}}</p>\n\
                 <p>Until you do, the applications you sign in to with {{site_name}} are told this address is not \
                 verified. The link works once and expires in {{valid_for}} ({{expires}}). If you do not have a \
                 {{site_name}} account, you can ignore this email.</p>\n</body></html>\n",
            ),
        };
        Template { subject: subject.into(), text: text.into(), html: html.into() }
    }
}

/// A template as stored and edited: subject, plain-text body, HTML body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A template with the values put in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A piece of a template: text to copy, or a placeholder to fill.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Split a template into text and placeholders, or say what is malformed.
fn parse(source: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err("a “{{” is never closed with “}}”".into());
        };
        let name = after[..close].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            let shown: String = after[..close].chars().take(40).collect();
            return Err(format!("“{{{{{shown}}}}}” is not a placeholder: write one as {{{{first_name}}}}"));
        }
        pieces.push(Piece::Placeholder(name));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Every problem with a template, each in words a person can act on. Empty: it can be saved.
pub fn problems(kind: TemplateKind, template: &Template) -> Vec<String> {
    let known: Vec<&str> = kind.placeholders().into_iter().map(|p| p.name).collect();
    let list = known.iter().map(|n| format!("{{{{{n}}}}}")).collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    if template.subject.trim().is_empty() {
        out.push("The subject is empty.".to_string());
    }
    if template.subject.contains(['\r', '\n']) {
        out.push("The subject must be one line.".to_string());
    }
    if template.subject.chars().count() > SUBJECT_MAX_CHARS {
        out.push(format!("The subject is too long (at most {SUBJECT_MAX_CHARS} characters)."));
    }
    for (part, source) in [("subject", &template.subject), ("plain text", &template.text), ("HTML", &template.html)] {
        if source.chars().count() > BODY_MAX_CHARS {
            out.push(format!("The {part} is too long (at most {BODY_MAX_CHARS} characters)."));
            continue;
        }
        match parse(source) {
            Err(e) => out.push(format!("In the {part}, {e}.")),
            Ok(pieces) => {
                for name in pieces.iter().filter_map(|p| match p {
                    Piece::Placeholder(n) => Some(*n),
                    Piece::Text(_) => None,
                }) {
                    if !known.contains(&name) {
                        out.push(format!(
                            "In the {part}, {{{{{name}}}}} is not a placeholder of this email. Use one of: {list}."
                        ));
                    }
                }
                if part == "subject" {
                    for name in NOT_IN_SUBJECT.into_iter().filter(|n| pieces.contains(&Piece::Placeholder(n))) {
                        out.push(format!(
                            "The subject must not contain {{{{{name}}}}}: it can carry a one-time link, and a subject \
                             is shown in the Email queue and in every inbox. Put {{{{{name}}}}} in the bodies only."
                        ));
                    }
                }
                let has_link = pieces.contains(&Piece::Placeholder(REQUIRED));
                if part != "subject" && !has_link {
                    out.push(format!(
                        "The {part} must contain {{{{{REQUIRED}}}}}: without it the email has no link to follow."
                    ));
                }
            }
        }
    }
    out.dedup();
    out
}

/// Whether text goes into a plain-text part or into HTML (escaped).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Plain,
    Html,
}

fn fill(source: &str, values: &[(&str, String)], target: Target) -> Result<String, String> {
    let mut out = String::with_capacity(source.len() + 64);
    for piece in parse(source)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Placeholder(name) => {
                let value = values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_str())
                    .ok_or_else(|| format!("{{{{{name}}}}} has no value"))?;
                match target {
                    Target::Plain => out.push_str(value),
                    // Escapes & < > " ': safe in element text and in quoted attributes.
                    Target::Html => out.push_str(&html_escape::encode_quoted_attribute(value)),
                }
            }
        }
    }
    Ok(out)
}

/// Put `values` into a valid template: as they are in the subject and the
/// plain text, escaped in the HTML. Fails on a template [`problems`] refuses.
pub fn render(kind: TemplateKind, template: &Template, values: &[(&str, String)]) -> Result<Rendered, String> {
    let problems = problems(kind, template);
    if !problems.is_empty() {
        return Err(problems.join(" "));
    }
    Ok(Rendered {
        subject: fill(&template.subject, values, Target::Plain)?,
        text: fill(&template.text, values, Target::Plain)?,
        html: fill(&template.html, values, Target::Html)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(kind: TemplateKind) -> Vec<(&'static str, String)> {
        kind.sample_values()
    }

    #[test]
    fn every_default_template_is_valid_and_renders() {
        for kind in TemplateKind::ALL {
            let t = kind.default_template();
            assert_eq!(problems(kind, &t), Vec::<String>::new(), "{kind:?}");
            let r = render(kind, &t, &values(kind)).unwrap();
            let link = kind.placeholders()[0].sample;
            assert!(r.text.contains(link) && r.html.contains("href=\""), "{kind:?}: {r:?}");
            assert!(!r.text.contains("{{") && !r.html.contains("{{") && !r.subject.contains("{{"), "{r:?}");
            assert_eq!(TemplateKind::parse(kind.key()), Some(kind));
        }
    }

    #[test]
    fn values_are_escaped_in_html_only() {
        let kind = TemplateKind::Invitation;
        let t = Template {
            subject: "Hi {{ first_name }}".into(),
            text: "Hello {{first_name}}, {{link}}".into(),
            html: "<p title=\"{{first_name}}\">Hello {{first_name}}</p><a href=\"{{link}}\">go</a>".into(),
        };
        let mut v = values(kind);
        v.retain(|(n, _)| *n != "first_name");
        v.push(("first_name", "<b>Eve</b> & \"Co\" 'x'".into()));
        let r = render(kind, &t, &v).unwrap();
        assert_eq!(r.subject, "Hi <b>Eve</b> & \"Co\" 'x'");
        assert!(r.text.starts_with("Hello <b>Eve</b> & \"Co\" 'x', https://"), "{}", r.text);
        assert!(r.html.contains("Hello &lt;b&gt;Eve&lt;/b&gt; &amp; &quot;Co&quot; &#x27;x&#x27;</p>"), "{}", r.html);
        assert!(!r.html.contains("<b>"), "{}", r.html);
        assert!(r.html.contains("title=\"&lt;b&gt;"), "{}", r.html);
    }

    #[test]
    fn a_template_without_link_is_refused_in_either_body() {
        let kind = TemplateKind::PasswordReset;
        let mut t = kind.default_template();
        t.text = "Hello, go to the site.".into();
        let p = problems(kind, &t);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("plain text must contain {{link}}"), "{p:?}");
        let mut t = kind.default_template();
        t.html = "<p>Nothing to click</p>".into();
        assert!(problems(kind, &t)[0].contains("HTML must contain {{link}}"));
        assert!(render(kind, &t, &values(kind)).is_err());
    }

    #[test]
    fn no_kind_takes_a_link_in_its_subject() {
        for kind in TemplateKind::ALL {
            for subject in ["Reset: {{link}}", "Open {{ link }} now", "{{link}}"] {
                let mut t = kind.default_template();
                t.subject = subject.into();
                let p = problems(kind, &t);
                assert_eq!(p.len(), 1, "{kind:?} {subject}: {p:?}");
                assert!(p[0].starts_with("The subject must not contain {{link}}"), "{kind:?}: {p:?}");
                assert!(render(kind, &t, &values(kind)).is_err());
            }
            let link = kind.placeholders().into_iter().find(|p| p.name == REQUIRED).unwrap();
            assert!(!link.allowed_in_subject());
            assert!(kind.placeholders().iter().filter(|p| p.name != REQUIRED).all(Placeholder::allowed_in_subject));
        }
    }

    #[test]
    fn unknown_and_malformed_placeholders_are_refused_with_the_list() {
        let kind = TemplateKind::Invitation;
        let mut t = kind.default_template();
        t.subject = "Welcome {{frist_name}}".into();
        let p = problems(kind, &t);
        assert!(p[0].contains("{{frist_name}} is not a placeholder"), "{p:?}");
        assert!(p[0].contains("{{first_name}}") && p[0].contains("{{valid_for}}"), "{p:?}");
        // `failures` belongs to the lockout email only.
        t.subject = "{{failures}}".into();
        assert!(problems(kind, &t)[0].contains("{{failures}} is not a placeholder"));
        t.subject = "Welcome {{first_name".into();
        assert!(problems(kind, &t)[0].contains("never closed"));
        t.subject = "Welcome {{ First-Name }}".into();
        assert!(problems(kind, &t)[0].contains("is not a placeholder"));
        t.subject = "Two\nlines".into();
        assert!(problems(kind, &t).iter().any(|p| p.contains("one line")));
        t.subject = "   ".into();
        assert!(problems(kind, &t).iter().any(|p| p.contains("empty")));
    }
}

//! Email bodies. The only place in the services that writes HTML; every
//! value put into HTML is escaped.

use super::OutgoingEmail;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `emails.kind` of an invitation.
pub const KIND_INVITATION: &str = "invitation";
/// `emails.kind` of a password-reset email.
pub const KIND_PASSWORD_RESET: &str = "password_reset";
/// `emails.kind` of the email to an account's owner when failed sign-ins locked it.
pub const KIND_ACCOUNT_LOCKED: &str = "account_locked";

pub fn invitation_subject(site_name: &str) -> String {
    format!("You have been invited to join {site_name}")
}

pub fn invitation(user_id: i64, to: &str, site_name: &str, link: &str, valid_days: u64) -> OutgoingEmail {
    let text = format!(
        "Hello,\n\nYou have been invited to join {site_name}.\n\n\
         Open this link to create your password and sign up:\n{link}\n\n\
         The link works once and expires in {valid_days} days. If you did not expect this email, you can ignore it.\n"
    );
    let (site, href) = (escape(site_name), escape(link));
    let html = format!(
        "<!DOCTYPE html><html><body>\
         <p>Hello,</p><p>You have been invited to join <strong>{site}</strong>.</p>\
         <p><a href=\"{href}\">Create your password and sign up</a></p>\
         <p>Or copy this link into your browser:<br>{href}</p>\
         <p>The link works once and expires in {valid_days} days. If you did not expect this email, you can ignore it.</p>\
         </body></html>"
    );
    OutgoingEmail {
        kind: KIND_INVITATION,
        user_id: Some(user_id),
        to: to.to_string(),
        subject: invitation_subject(site_name),
        text,
        html,
    }
}

pub fn password_reset(user_id: i64, to: &str, site_name: &str, link: &str) -> OutgoingEmail {
    let text = format!(
        "Hello,\n\nSomeone asked to reset the password of your {site_name} account.\n\n\
         Open this link to choose a new password:\n{link}\n\n\
         The link works once and expires in 1 hour. If you did not ask for this, you can ignore this email; \
         your password stays as it is.\n"
    );
    let (site, href) = (escape(site_name), escape(link));
    let html = format!(
        "<!DOCTYPE html><html><body>\
         <p>Hello,</p><p>Someone asked to reset the password of your <strong>{site}</strong> account.</p>\
         <p><a href=\"{href}\">Choose a new password</a></p>\
         <p>Or copy this link into your browser:<br>{href}</p>\
         <p>The link works once and expires in 1 hour. If you did not ask for this, you can ignore this email; \
         your password stays as it is.</p></body></html>"
    );
    OutgoingEmail {
        kind: KIND_PASSWORD_RESET,
        user_id: Some(user_id),
        to: to.to_string(),
        subject: format!("Reset your {site_name} password"),
        text,
        html,
    }
}

pub fn account_locked_subject(site_name: &str) -> String {
    format!("Your {site_name} account was locked")
}

/// To the owner of an account that failed sign-ins just locked: what happened,
/// when it ends, and what to do if it was not them. `unlocks_at` is a time as
/// people read it (`2026-11-27 07:10 UTC`); `reset_link` the Forgot password page.
pub fn account_locked(
    user_id: i64,
    to: &str,
    site_name: &str,
    failures: i64,
    unlocks_at: &str,
    reset_link: &str,
) -> OutgoingEmail {
    let text = format!(
        "Hello,\n\nYour {site_name} account was locked after {failures} failed sign-ins. \
         It unlocks at {unlocks_at}; until then nobody can sign in to it, not even with the right password.\n\n\
         If this was not you, someone may be guessing your password: reset your password here:\n{reset_link}\n\n\
         If it was you, wait until the time above and sign in again, or reset your password.\n"
    );
    let (site, href, until) = (escape(site_name), escape(reset_link), escape(unlocks_at));
    let html = format!(
        "<!DOCTYPE html><html><body>\
         <p>Hello,</p><p>Your <strong>{site}</strong> account was locked after {failures} failed sign-ins. \
         It unlocks at {until}; until then nobody can sign in to it, not even with the right password.</p>\
         <p>If this was not you, someone may be guessing your password: \
         <a href=\"{href}\">reset your password</a>.</p>\
         <p>Or copy this link into your browser:<br>{href}</p>\
         <p>If it was you, wait until the time above and sign in again, or reset your password.</p>\
         </body></html>"
    );
    OutgoingEmail {
        kind: KIND_ACCOUNT_LOCKED,
        user_id: Some(user_id),
        to: to.to_string(),
        subject: account_locked_subject(site_name),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_locked_says_why_until_when_and_what_to_do() {
        let m = account_locked(
            1,
            "a@b.com",
            "Kbank <Intranet>",
            20,
            "2026-11-27 07:10 UTC",
            "https://x.example/forgot-password",
        );
        assert_eq!(m.subject, "Your Kbank <Intranet> account was locked");
        assert!(m.text.contains("locked after 20 failed sign-ins"), "{}", m.text);
        assert!(m.text.contains("It unlocks at 2026-11-27 07:10 UTC"), "{}", m.text);
        assert!(m.text.contains("reset your password here:\nhttps://x.example/forgot-password"), "{}", m.text);
        assert!(m.html.contains("href=\"https://x.example/forgot-password\""));
        assert!(m.html.contains("Kbank &lt;Intranet&gt;"));
    }

    #[test]
    fn invitation_has_link_in_both_parts_and_escapes_html() {
        let m = invitation(1, "a@b.com", "Kbank <Intranet>", "https://x.example/signup/abc", 7);
        assert_eq!(m.subject, "You have been invited to join Kbank <Intranet>");
        assert!(m.text.contains("https://x.example/signup/abc"));
        assert!(m.html.contains("href=\"https://x.example/signup/abc\""));
        assert!(m.html.contains("Kbank &lt;Intranet&gt;"));
        assert!(!m.html.contains("<Intranet>"));
    }
}

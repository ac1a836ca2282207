//! Reading and managing the outbox. Sending lives in `crate::mail` and the worker.

use super::types::{Attempt, EmailDetail, EmailPage, EmailRow, EmailStatus, NOT_CONFIGURED};
use crate::audit::service::{record_now, Actor, AuditAction, Event};
use crate::domain::{Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::mail::outbox::{self, Listed};
use crate::registry::{AppId, Permission};
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::state::AppState;
use crate::settings::template::TemplateKind;
use sqlx::AnyConnection;

pub const PAGE_SIZE: i64 = 50;

/// A listed email as the queue shows it.
fn into_row(l: Listed, smtp_configured: bool) -> EmailRow {
    let status = l.status.shown(smtp_configured);
    let last_error = match l.last_error {
        None if status == EmailStatus::NotSent => Some(NOT_CONFIGURED.to_string()),
        e => e,
    };
    EmailRow {
        id: l.id,
        to: l.to_addr,
        subject: l.subject,
        status,
        attempts: l.attempts,
        created_at: l.created_at.millis(),
        next_attempt_at: (status == EmailStatus::Queued).then_some(l.next_attempt_at.millis()),
        last_error,
    }
}

fn not_found() -> AppError {
    AppError::NotFound("This email is no longer in the queue. It may have been deleted or purged.".into())
}

/// Newest first, keyset-paged on the id. Token links in a subject are hidden
/// by the rule of [`detail`] (no template puts one there now, but a stored
/// email may have one from before).
pub async fn list(
    access: Access<'_, apps::EmailQueue, perms::View>,
    state: &AppState,
    status: &str,
    before: Option<i64>,
) -> AppResult<EmailPage> {
    let status = EmailStatus::FILTERS.into_iter().find(|s| s.key() == status);
    let mut conn = state.db.pool.acquire().await?;
    let mut rows = outbox::page(&mut conn, status, before, PAGE_SIZE + 1).await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    for r in rows.iter_mut().filter(|r| may_hold_token_link(&r.subject)) {
        let hidden = hidden_links(&mut conn, access.principal(), r.kind, r.user_id).await?;
        r.subject = hidden.mask(&r.subject);
    }
    drop(conn);
    let smtp = crate::mail::smtp::configured(&state.db, &state.settings).await?;
    let out: Vec<EmailRow> = rows.into_iter().map(|r| into_row(r, smtp)).collect();
    let next = more.then(|| out.last().map(|r| r.id)).flatten();
    Ok(EmailPage { rows: out, next, smtp_configured: smtp })
}

pub async fn detail(
    access: Access<'_, apps::EmailQueue, perms::View>,
    state: &AppState,
    id: i64,
) -> AppResult<EmailDetail> {
    let mut conn = state.db.pool.acquire().await?;
    let r = outbox::find(&mut conn, id).await?.ok_or_else(not_found)?;
    let attempts = outbox::attempts(&mut conn, id).await?;
    // Every stored part: the subject as well as both bodies.
    let hidden = hidden_links(&mut conn, access.principal(), r.listed.kind, r.listed.user_id).await?;
    let admin_only = reset_kept_for_admin(access.principal(), r.listed.kind, r.listed.status);
    let mut listed = r.listed;
    listed.subject = hidden.mask(&listed.subject);
    Ok(EmailDetail {
        row: into_row(listed, crate::mail::smtp::configured(&state.db, &state.settings).await?),
        message_id: r.message_id,
        max_attempts: r.max_attempts,
        sent_at: r.sent_at.map(Timestamp::millis),
        body_text: hidden.mask(&r.body_text),
        body_html: hidden.mask(&r.body_html),
        attempts: attempts.into_iter().map(|a| Attempt { at: a.attempted_at.millis(), error: a.error }).collect(),
        links_hidden: hidden.reason.map(str::to_string),
        admin_only,
    })
}

/// Which links of an email the caller may not see, and why.
struct HiddenLinks {
    paths: Vec<&'static str>,
    reason: Option<&'static str>,
}

impl HiddenLinks {
    /// `part` (the subject, the plain text or the HTML) with the token of every hidden link masked.
    fn mask(&self, part: &str) -> String {
        self.paths.iter().fold(part.to_string(), |masked, path| mask_links(&masked, path))
    }
}

pub const RESET_LINK_HIDDEN: &str = "The password-reset link is hidden (••••••): it would let whoever reads it \
     set the account's password, so nobody sees it here, administrators included. The person can ask for a new \
     one from the Sign in page.";

pub const CONFIRMATION_LINK_HIDDEN: &str = "The confirmation link is hidden (••••••): it is for the owner of \
     the address alone, so nobody sees it here, administrators included. A new one can be sent from the person's page \
     in Users.";

pub const INVITATION_LINK_HIDDEN: &str = "The invitation link is hidden (••••••): it is shown only to someone who \
     could have sent this invitation themselves (Users Create, and able to give every role it carries).";

/// Password-reset links are never shown. An invitation link is shown only to
/// a caller who could have sent that invitation: Users Create and able to hand
/// out every role the invited person holds (an administrator always can).
/// Links to the reset page and email confirmation links are hidden in every
/// email whatever its kind.
async fn hidden_links(
    conn: &mut AnyConnection,
    caller: &Principal,
    kind: TemplateKind,
    user_id: Option<UserId>,
) -> AppResult<HiddenLinks> {
    let mut hidden = HiddenLinks { paths: vec![RESET_PATH, CONFIRM_PATH], reason: None };
    if kind == TemplateKind::PasswordReset {
        hidden.reason = Some(RESET_LINK_HIDDEN);
    }
    if kind == TemplateKind::EmailConfirmation {
        hidden.reason = Some(CONFIRMATION_LINK_HIDDEN);
    }
    let may_see_invitation = caller.is_admin
        || (caller.can(AppId::Users, Permission::Create)
            && match user_id {
                Some(uid) => crate::grants::could_have_given(conn, caller, uid).await?,
                None => false,
            });
    if !may_see_invitation {
        hidden.paths.push(SIGNUP_PATH);
        if kind == TemplateKind::Invitation {
            hidden.reason = Some(INVITATION_LINK_HIDDEN);
        }
    }
    Ok(hidden)
}

const RESET_PATH: &str = "/reset/";
const SIGNUP_PATH: &str = "/signup/";
const CONFIRM_PATH: &str = crate::paths::CONFIRM_EMAIL;

/// Whether `part` mentions a path whose link carries a token (a cheap test
/// before asking who may see it): every path [`hidden_links`] may mask.
fn may_hold_token_link(part: &str) -> bool {
    [RESET_PATH, SIGNUP_PATH, CONFIRM_PATH].iter().any(|p| part.contains(p))
}

/// Replace the token after every `path` (`/reset/…`) with `••••••`.
fn mask_links(body: &str, path: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find(path) {
        let (head, tail) = rest.split_at(at + path.len());
        out.push_str(head);
        let token_len = tail.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_').count();
        if token_len > 0 {
            out.push_str(MASK);
        }
        rest = &tail[token_len..];
    }
    out.push_str(rest);
    out
}

const MASK: &str = "••••••";

/// Is this an unsent password-reset email, and the caller no administrator?
/// (The rule of [`protect_unsent_reset`], which the email's page asks too.)
fn reset_kept_for_admin(caller: &Principal, kind: TemplateKind, status: EmailStatus) -> bool {
    !caller.is_admin && kind == TemplateKind::PasswordReset && status != EmailStatus::Sent
}

/// Only an administrator deletes or resends a password-reset email that has
/// not been sent: otherwise Email queue Delete could silently swallow the
/// reset an account owner asked for.
async fn protect_unsent_reset(conn: &mut AnyConnection, caller: &Principal, id: i64) -> AppResult<()> {
    let (kind, status) = outbox::kind_and_status(conn, id).await?.ok_or_else(not_found)?;
    if !reset_kept_for_admin(caller, kind, status) {
        return Ok(());
    }
    tracing::info!(user_id = caller.user_id.get(), email_id = id, "refused: an unsent password-reset email");
    Err(AppError::NotAllowed(
        "Only a Global administrator can delete or resend a password-reset email that has not been sent.".into(),
    ))
}

/// Why a change that matched no row did nothing: the email is in a state that
/// refuses it (`refusal`), or it is gone.
async fn refused_or_gone(state: &AppState, id: i64, refusal: &str) -> AppError {
    match outbox::exists(&state.db, id).await {
        Ok(true) => AppError::Conflict(refusal.into()),
        Ok(false) => not_found(),
        Err(e) => e,
    }
}

/// Queue a failed or sent email again, with a fresh set of attempts.
pub async fn resend(access: Access<'_, apps::EmailQueue, perms::Update>, state: &AppState, id: i64) -> AppResult<()> {
    protect_unsent_reset(&mut *state.db.pool.acquire().await?, access.principal(), id).await?;
    if outbox::requeue(&state.db, id, Timestamp::now()).await? == 0 {
        return Err(
            refused_or_gone(state, id, "Only failed or sent emails can be resent; this one is still queued.").await
        );
    }
    let to = recipient(state, id).await?;
    record_now(&state.db, &Actor::of(access.principal()), Event::new(AuditAction::EmailResent).target("email", id, to))
        .await?;
    tracing::info!(email_id = id, by = access.principal().user_id.get(), "email resend queued");
    Ok(())
}

pub async fn delete(access: Access<'_, apps::EmailQueue, perms::Delete>, state: &AppState, id: i64) -> AppResult<()> {
    protect_unsent_reset(&mut *state.db.pool.acquire().await?, access.principal(), id).await?;
    let to = recipient(state, id).await.unwrap_or_default();
    if outbox::delete_unless_sending(&state.db, id).await? == 0 {
        return Err(refused_or_gone(state, id, "This email is being sent right now. Try again in a moment.").await);
    }
    record_now(
        &state.db,
        &Actor::of(access.principal()),
        Event::new(AuditAction::EmailDeleted).target("email", id, to),
    )
    .await?;
    tracing::info!(email_id = id, by = access.principal().user_id.get(), "email deleted");
    Ok(())
}

async fn recipient(state: &AppState, id: i64) -> AppResult<String> {
    outbox::recipient(&state.db, id).await?.ok_or_else(not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_token_after_the_path_and_nothing_else() {
        let token = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234";
        let body = format!("Open https://x.example/reset/{token}\n<a href=\"https://x.example/reset/{token}\">go</a>");
        let masked = mask_links(&body, RESET_PATH);
        assert!(!masked.contains(token), "{masked}");
        assert_eq!(masked.matches("/reset/••••••").count(), 2, "{masked}");
        assert!(masked.ends_with("\">go</a>"), "{masked}");
        assert_eq!(mask_links("see /signup/ later", SIGNUP_PATH), "see /signup/ later");
        assert_eq!(mask_links(&body, SIGNUP_PATH), body);
        let confirm = format!("Open https://x.example/confirm-email/{token} once");
        assert_eq!(mask_links(&confirm, CONFIRM_PATH), "Open https://x.example/confirm-email/•••••• once");
    }

    #[test]
    fn hidden_links_mask_every_path_they_name() {
        let token = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234";
        let subject = format!("Reset: https://x.example/reset/{token} or join https://x.example/signup/{token}");
        assert!(may_hold_token_link(&subject) && !may_hold_token_link("Reset your Roster password"));
        let both = HiddenLinks { paths: vec![RESET_PATH, SIGNUP_PATH], reason: None };
        assert_eq!(
            both.mask(&subject),
            "Reset: https://x.example/reset/•••••• or join https://x.example/signup/••••••"
        );
        let reset_only = HiddenLinks { paths: vec![RESET_PATH], reason: None };
        assert!(reset_only.mask(&subject).ends_with(&format!("/signup/{token}")));
    }
}

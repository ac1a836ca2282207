//! Users: the list (search, filters, sort, pages), disabling, what a
//! non-administrator may do to an administrator's account, the
//! last-administrator guard under concurrency, and what an email change ends.

use crate::helpers::*;
use crate::invitations::{admin_role, invite_and_get_token};
use crate::on_both_backends;
use app::auth::{ForgotPassword, Me, ResetInfo};
use app::email_confirmation::PendingConfirmation;
use app::email_confirmation::{ConfirmEmail, EmailConfirmationInfo, SendEmailConfirmation};
use app::email_queue::GetEmail;
use app::invitations::RevokeInvitation;
use app::invitations::{InvitationInfo, ResendInvitation, SignUp};
use app::registry::{AppId, Permission};
use app::roles::{AddRoleMember, RemoveRoleMember};
use app::users::{
    EndUserSessions, GetUser, ListUsers, RoleOptions, SetUserEnabled, UnlockUser, UpdateUser, UserPage, UserQuery,
    UserRow,
};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    disabled_user_cannot_sign_in_and_their_session_is_refused,
    users_list_searches_filters_sorts_and_pages,
    users_search_takes_fts_special_characters_literally,
    short_searches_match_the_beginning_of_an_email_or_a_name,
    frequent_terms_page_like_rare_ones,
    administrators_are_protected_from_non_administrators,
    people_with_more_access_than_the_caller_are_protected_too,
    the_last_administrator_guard_holds_under_concurrency,
    changing_the_email_ends_pending_invitation_and_reset_links,
    changing_the_email_emails_the_old_address,
    the_role_picker_says_which_roles_the_caller_cannot_hand_out_and_why,
    a_changed_email_is_unconfirmed_until_the_link_sent_to_it_is_followed,
);

const PROTECTED: &str = "Only a Global administrator";

/// Every action on another person, taken in turn by `c`: (endpoint, its answer).
async fn actions(c: &mut Client, id: UserId, email: &str, role: RoleId) -> Vec<(&'static str, Reply)> {
    let rename = UpdateUser {
        id,
        first_name: "Renamed".into(),
        last_name: String::new(),
        email: email.into(),
        role_ids: vec![],
    };
    vec![
        ("update_user", c.send(rename).await.untyped()),
        ("set_user_enabled", c.send(SetUserEnabled { id, enabled: false }).await.untyped()),
        ("end_user_sessions", c.send(EndUserSessions { id }).await.untyped()),
        ("unlock_user", c.send(UnlockUser { id }).await.untyped()),
        ("add_role_member", c.send(AddRoleMember { role_id: role, user_id: id }).await.untyped()),
        ("remove_role_member", c.send(RemoveRoleMember { role_id: role, user_id: id }).await.untyped()),
    ]
}

/// Resend and revoke the invitation of user `id`, in turn: (endpoint, its answer).
async fn invitation_actions(c: &mut Client, id: UserId) -> Vec<(&'static str, Reply)> {
    vec![
        ("resend_invitation", c.send(ResendInvitation { id }).await.untyped()),
        ("revoke_invitation", c.send(RevokeInvitation { id }).await.untyped()),
    ]
}

/// A Users list query: this search, status filter, sort and page.
fn query(search: &str, status: &str, sort: &str, after: &str) -> UserQuery {
    UserQuery {
        search: search.into(),
        status: status.into(),
        role: String::new(),
        sort: sort.into(),
        after: after.into(),
    }
}

async fn list(c: &mut Client, query: UserQuery) -> UserPage {
    c.send(ListUsers { query }).await.ok()
}

async fn administrators_are_protected_from_non_administrators(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    // Everything the Users and Roles applications offer, short of being an administrator.
    let Cast { mut admin, admin_role, mut manager, mut grace, grace_id, .. } = Cast::new(
        &server,
        &[
            (AppId::Users, Permission::View),
            (AppId::Users, Permission::Create),
            (AppId::Users, Permission::Update),
            (AppId::Roles, Permission::View),
            (AppId::Roles, Permission::Update),
        ],
    )
    .await;
    let editors = create_role(&mut admin, "Editors", &[(AppId::Users, Permission::View)]).await;
    let (_, plain_id) = add_user_and_id(&mut admin, &server, "plain@example.com", &[]).await;
    // Grace already has Editors, so that removing it is a real change.
    let r = admin.send(AddRoleMember { role_id: editors, user_id: grace_id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    for (endpoint, Reply { status, body, .. }) in actions(&mut manager, grace_id, "grace@example.com", editors).await {
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint} on an administrator: {body:?}");
        assert!(body.to_string().contains(PROTECTED), "{endpoint}: {body:?}");
    }
    assert_eq!(grace.whoami().await.as_deref(), Some("grace@example.com"), "Grace is untouched and signed in");
    let roles = admin.send(GetUser { id: grace_id }).await.ok().role_ids;
    assert!(roles.contains(&editors), "{roles:?}");

    // A pending invitation that carries the Administrator role.
    let pending = admin.invite("pending-admin@example.com", &[admin_role]).await.ok();
    for (endpoint, r) in invitation_actions(&mut manager, pending).await {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{endpoint} on an administrator's invitation: {:?}", r.body);
        assert!(r.body.to_string().contains(PROTECTED), "{endpoint}: {:?}", r.body);
    }

    // The same actions on someone who is not an administrator are the manager's to take.
    let r = manager.send(AddRoleMember { role_id: editors, user_id: plain_id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for (endpoint, Reply { status, body, .. }) in actions(&mut manager, plain_id, "plain@example.com", editors).await {
        assert_eq!(status, StatusCode::OK, "{endpoint} on a non-administrator: {body:?}");
    }
    let invited = manager.invite("invited@example.com", &[]).await.ok();
    for (endpoint, r) in invitation_actions(&mut manager, invited).await {
        assert_eq!(r.status, StatusCode::OK, "{endpoint}: {:?}", r.body);
    }
    // An administrator may still act on an administrator.
    let r = admin.send(EndUserSessions { id: grace_id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(grace.whoami().await, None);
}

/// Changing someone's email and asking for a reset would hand the caller that
/// person's access: a non-administrator acts only on people whose roles they
/// could give themselves.
async fn people_with_more_access_than_the_caller_are_protected_too(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let manager_role = create_role(
        &mut admin,
        "User manager",
        &[
            (AppId::Users, Permission::View),
            (AppId::Users, Permission::Update),
            (AppId::Roles, Permission::View),
            (AppId::Roles, Permission::Update),
        ],
    )
    .await;
    let auditors = create_role(&mut admin, "Auditors", &[(AppId::AuditLog, Permission::View)]).await;
    let viewers = create_role(&mut admin, "Viewers", &[(AppId::Users, Permission::View)]).await;
    let mut manager = add_user(&mut admin, &server, "manager@example.com", &[manager_role]).await;
    let (mut auditor, auditor_id) = add_user_and_id(&mut admin, &server, "auditor@example.com", &[auditors]).await;
    let (_, viewer_id) = add_user_and_id(&mut admin, &server, "viewer@example.com", &[viewers]).await;

    for (endpoint, Reply { status, body, .. }) in
        actions(&mut manager, auditor_id, "manager@example.com", viewers).await
    {
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint} on someone with more access: {body:?}");
        assert!(body.to_string().contains("whose roles you could give yourself"), "{endpoint}: {body:?}");
    }
    let detail = admin.send(GetUser { id: auditor_id }).await.ok();
    assert_eq!(detail.email, "auditor@example.com", "the email was not taken over");
    assert_eq!(auditor.whoami().await.as_deref(), Some("auditor@example.com"));
    // Someone whose roles the manager holds remains the manager's to manage.
    let r = manager
        .send(UpdateUser {
            id: viewer_id,
            first_name: "Vera".into(),
            last_name: String::new(),
            email: "viewer@example.com".into(),
            role_ids: vec![viewers],
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

const ENABLED_ADMINS: &str = "SELECT COUNT(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id \
     JOIN roles r ON r.id = ur.role_id WHERE r.builtin = 'administrator' AND u.enabled";

async fn the_last_administrator_guard_holds_under_concurrency(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut ada = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut ada).await;
    let ada_id = user_id(&mut ada).await;
    let (mut grace, grace_id) = add_user_and_id(&mut ada, &server, "grace@example.com", &[admin_role]).await;
    let mut both_went_through = 0;
    for round in 0..50 {
        // Each administrator disables the other at the same moment.
        let (disable_grace, disable_ada) =
            (SetUserEnabled { id: grace_id, enabled: false }, SetUserEnabled { id: ada_id, enabled: false });
        let (a, b) = tokio::join!(ada.send(disable_grace), grace.send(disable_ada));
        let remaining = scalar(&db, ENABLED_ADMINS).await;
        assert!(remaining >= 1, "round {round}: no enabled administrator left ({} and {})", a.status, b.status);
        if a.status == StatusCode::OK && b.status == StatusCode::OK {
            both_went_through += 1;
        }
        // Whoever remains enables the other, who signs in again.
        let ada_enabled =
            scalar(&db, &format!("SELECT CASE WHEN enabled THEN 1 ELSE 0 END FROM users WHERE id = {ada_id}")).await
                == 1;
        let (keeper, other, other_id, other_email, other_password) = if ada_enabled {
            (&mut ada, &mut grace, grace_id, "grace@example.com", PASSWORD)
        } else {
            (&mut grace, &mut ada, ada_id, ADMIN_EMAIL, ADMIN_PASSWORD)
        };
        let r = keeper.send(SetUserEnabled { id: other_id, enabled: true }).await;
        assert_eq!(r.status, StatusCode::OK, "round {round}: {:?}", r.body);
        if other.whoami().await.is_none() {
            let r = other.sign_in(other_email, other_password).await;
            assert_eq!(r.status, StatusCode::OK, "round {round}: {:?}", r.body);
        }
        assert_eq!(scalar(&db, ENABLED_ADMINS).await, 2);
    }
    assert_eq!(both_went_through, 0);
}

async fn changing_the_email_ends_pending_invitation_and_reset_links(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let server = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let mut admin = set_up_admin(&server).await;

    // A pending invitation: its link stops working when the address changes.
    let id = admin.invite("old@example.com", &[]).await.ok();
    let mail = sink.wait_for(1, 20).await;
    let token = token_of(&signup_link(mail[0]["text"].as_str().unwrap()));
    assert_eq!(server.client().send(InvitationInfo { token: token.to_string() }).await.status, StatusCode::OK);
    let email_only = |email: &str| UpdateUser {
        id,
        first_name: String::new(),
        last_name: String::new(),
        email: email.into(),
        role_ids: vec![],
    };
    let r = admin.send(email_only("new@example.com")).await;
    assert!(r.ok().invitation_revoked, "the answer offers a new invitation: {:?}", r.body);
    assert_eq!(server.client().send(InvitationInfo { token: token.to_string() }).await.status, StatusCode::NOT_FOUND);
    let r = server.client().send(sign_up(&token, PASSWORD)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    // A new invitation goes to the new address only.
    assert_eq!(admin.send(ResendInvitation { id }).await.status, StatusCode::OK);
    let mail = sink.wait_for(2, 20).await;
    assert_eq!(mail[1]["to"], json!(["new@example.com"]));

    // An active user's pending reset link ends too.
    let mut user = server.client();
    let token = token_of(&signup_link(mail[1]["text"].as_str().unwrap()));
    let r = user.send(sign_up(&token, PASSWORD)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(server.client().send(ForgotPassword { email: "new@example.com".into() }).await.status, StatusCode::OK);
    let mail = sink.wait_for(3, 20).await;
    let reset = token_of(&signup_link(mail[2]["text"].as_str().unwrap()));
    assert_eq!(server.client().send(ResetInfo { token: reset.to_string() }).await.status, StatusCode::OK);
    let r = admin.send(email_only("newer@example.com")).await;
    assert!(!r.ok().invitation_revoked, "{:?}", r.body);
    assert_eq!(server.client().send(ResetInfo { token: reset.to_string() }).await.status, StatusCode::NOT_FOUND);
}

async fn changing_the_email_emails_the_old_address(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let (_user, id) = add_user_and_id(&mut admin, &server, "old@example.com", &[]).await;
    let subject = "The email address of your Roster account was changed";
    let edit = |email: &str| UpdateUser {
        id,
        first_name: "Olga".into(),
        last_name: String::new(),
        email: email.into(),
        role_ids: vec![],
    };
    // A refused change tells nobody.
    admin.invite("taken@example.com", &[]).await;
    let r = admin.send(edit("taken@example.com")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    // A new name alone is no email change.
    assert_eq!(admin.send(edit("old@example.com")).await.status, StatusCode::OK);
    assert_eq!(count_emails(&mut admin, "old@example.com", subject).await, 0);
    let since = now_ms();
    assert_eq!(admin.send(edit("new@example.com")).await.status, StatusCode::OK);
    let text = notice(&mut admin, "old@example.com", subject, "was changed from old@example.com to", since).await;
    assert!(text.starts_with("Hello Olga,"), "{text}");
    assert!(text.contains("to new@example.com at "), "{text}");
    assert!(text.contains(&format!("{}/signin", server.base)), "what to do, where: {text}");
    assert_eq!(count_emails(&mut admin, "new@example.com", subject).await, 0, "the notice goes to the old address");
    // An invitation not yet answered: the person has no account in use, nobody is told.
    let invited = admin.invite("tpyo@example.com", &[]).await.ok();
    let fix = UpdateUser {
        id: invited,
        first_name: String::new(),
        last_name: String::new(),
        email: "typo@example.com".into(),
        role_ids: vec![],
    };
    assert_eq!(admin.send(fix).await.status, StatusCode::OK);
    assert_eq!(count_emails(&mut admin, "tpyo@example.com", subject).await, 0);
}

/// Laura's row in the Users list.
async fn listed(admin: &mut Client, email: &str) -> UserRow {
    list(admin, query(email, "", "", "")).await.rows.into_iter().find(|u| u.email == email).expect("listed")
}

async fn a_changed_email_is_unconfirmed_until_the_link_sent_to_it_is_followed(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    let server = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let mut admin = set_up_admin(&server).await;
    // The setup link was printed, not sent to the address: it proves nothing.
    let admin_id = user_id(&mut admin).await;
    assert!(!email_verified(&mut admin, admin_id).await);
    let (mut laura, id) = add_user_and_id(&mut admin, &server, "laura@example.com", &[]).await;
    assert!(email_verified(&mut admin, id).await, "signed up from the invitation sent to it");
    assert!(listed(&mut admin, "laura@example.com").await.email_verified);

    let (old, new) = ("laura@example.com", "laura.new@example.com");
    let r = change_email(&mut admin, id, new).await;
    assert!(r.ok().confirmation_sent, "{:?}", r.body);
    assert!(!listed(&mut admin, new).await.email_verified, "the list shows it unconfirmed");
    let page = admin.get(&format!("/users/{id}")).await.text().await.unwrap();
    assert!(page.contains("Email unconfirmed") && page.contains("Send confirmation link"), "{page}");

    // The link goes to the new address, never the old one, and the queue hides it.
    let token = confirmation_token(&sink, new, 1).await;
    assert!(!sink.messages().iter().any(|m| m["to"] == json!([old]) && m["subject"] == CONFIRM_SUBJECT));
    let row = admin.emails("").await.into_iter().find(|e| e.to == new).expect("queued");
    assert_eq!(row.subject, CONFIRM_SUBJECT);
    let d = admin.send(GetEmail { id: row.id }).await.ok();
    for (part, body) in [("body_text", &d.body_text), ("body_html", &d.body_html)] {
        assert!(!body.contains(&token) && body.contains("/confirm-email/••••••"), "{part}: {body}");
    }
    assert!(d.links_hidden.as_deref().unwrap().contains("confirmation link is hidden"), "{d:?}");

    // Only the account's owner, signed in, confirms it.
    let mut anonymous = server.client();
    let r = anonymous.send(EmailConfirmationInfo { token: token.to_string() }).await;
    assert_eq!(r.ok(), PendingConfirmation { email: new.into(), owner_signed_in: false });
    assert_eq!(anonymous.send(ConfirmEmail { token: token.to_string() }).await.status, StatusCode::UNAUTHORIZED);
    let r = admin.send(ConfirmEmail { token: token.to_string() }).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "another account's link: {:?}", r.body);
    assert!(!email_verified(&mut admin, id).await);
    let r = laura.send(EmailConfirmationInfo { token: token.to_string() }).await;
    assert_eq!(r.ok(), PendingConfirmation { email: new.into(), owner_signed_in: true });
    let r = laura.send(ConfirmEmail { token: token.to_string() }).await;
    assert_eq!(r.ok(), new);
    assert!(listed(&mut admin, new).await.email_verified);
    let page = admin.get(&format!("/users/{id}")).await.text().await.unwrap();
    assert!(!page.contains("Send confirmation link"), "{page}");
    // Once.
    let r = laura.send(ConfirmEmail { token: token.to_string() }).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = admin.send(SendEmailConfirmation { id }).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "already confirmed: {:?}", r.body);

    // Another change, and its link expires unused.
    let third = "laura.third@example.com";
    assert_eq!(change_email(&mut admin, id, third).await.status, StatusCode::OK);
    let expired = confirmation_token(&sink, third, 1).await;
    scalar(&db, "UPDATE email_confirmations SET expires_at = 1 WHERE used_at IS NULL RETURNING 1").await;
    let r = laura.send(ConfirmEmail { token: expired.to_string() }).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "expired: {:?}", r.body);
    assert!(r.body.to_string().contains("no longer valid"), "{:?}", r.body);
    assert!(!email_verified(&mut admin, id).await);
    // Send confirmation link: a new one works; the one it replaces does not.
    let r = admin.send(SendEmailConfirmation { id }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let fresh = confirmation_token(&sink, third, 2).await;
    assert_ne!(fresh, expired);
    assert_eq!(laura.send(ConfirmEmail { token: expired.to_string() }).await.status, StatusCode::NOT_FOUND);
    assert_eq!(laura.send(ConfirmEmail { token: fresh.to_string() }).await.status, StatusCode::OK);
    assert!(email_verified(&mut admin, id).await);
    let confirmed = audit_entries(&mut admin, "email.confirmed").await;
    assert_eq!(confirmed.len(), 2, "{confirmed:?}");
}

// ---- the list and disabling ---------------------------------------------------------

async fn disabled_user_cannot_sign_in_and_their_session_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let sink = SmtpSink::start();
    // Two processes: the admin works on A, the user's session lives on B.
    let a = Server::start_with(&db, &as_refs(&mail_env(&sink))).await;
    let b = Server::start(&db).await;
    let mut admin = set_up_admin(&a).await;
    let (id, token) = invite_and_get_token(&mut admin, &sink, "dis@example.com", 1).await;
    let mut user = b.client();
    let pw = "a long and lovely passphrase";
    assert_eq!(
        user.send(SignUp {
            token: token.to_string(),
            first_name: None,
            last_name: None,
            password: pw.to_string(),
            password_confirmation: pw.to_string()
        })
        .await
        .status,
        StatusCode::OK
    );
    assert!(user.whoami().await.is_some());

    let r = admin.send(SetUserEnabled { id, enabled: false }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(user.whoami().await, None, "open session refused at the next request, on another process");
    let r = user.sign_in("dis@example.com", pw).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let wrong = user.sign_in("dis@example.com", "wrong password here").await;
    assert_eq!(r.body, wrong.body, "a disabled account answers like a wrong password");

    let r = admin.send(SetUserEnabled { id, enabled: true }).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(user.sign_in("dis@example.com", pw).await.status, StatusCode::OK);

    // The last Global administrator cannot be disabled.
    let me = admin.send(Me {}).await.ok().unwrap().user_id;
    let r = admin.send(SetUserEnabled { id: me, enabled: false }).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
}

async fn users_list_searches_filters_sorts_and_pages(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    for i in 0..30 {
        assert_eq!(admin.invite(&format!("member{i:02}@example.com"), &[]).await.status, StatusCode::OK);
    }
    let p1 = list(&mut admin, query("", "", "email", "")).await;
    let rows1 = &p1.rows;
    assert_eq!(rows1.len(), 25);
    assert_eq!(rows1[0].email, "admin@example.com");
    let next = p1.next.as_deref().expect("a second page");
    let p2 = list(&mut admin, query("", "", "email", next)).await;
    let rows2 = &p2.rows;
    assert_eq!(rows2.len(), 6);
    assert!(p2.next.is_none());
    assert_eq!(rows2.last().unwrap().email, "member29@example.com");

    let desc = list(&mut admin, query("", "", "-email", "")).await;
    assert_eq!(desc.rows[0].email, "member29@example.com");
    let search = list(&mut admin, query("MEMBER1", "", "email", "")).await;
    assert_eq!(search.rows.len(), 10, "case-insensitive search");
    let active = list(&mut admin, query("", "active", "email", "")).await;
    assert_eq!(active.rows.len(), 1);
    let invited = list(&mut admin, query("", "invited", "email", "")).await;
    assert_eq!(invited.rows.len(), 25);
    let pct = list(&mut admin, query("%", "", "email", "")).await;
    assert_eq!(pct.rows.len(), 0, "% is literal");

    let role = admin_role(&mut admin).await;
    let by_role = list(&mut admin, UserQuery { role: role.to_string(), ..query("", "", "email", "") }).await;
    assert_eq!(by_role.rows.len(), 1);

    let anon = server.client().send(ListUsers { query: query("", "", "", "") }).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

/// The search reads a trigram index (SQLite FTS5, PostgreSQL pg_trgm); the term
/// is still a plain case-insensitive substring: quotes, `*`, `-`, `_`, `%` and
/// FTS operators match only themselves, and edits reach the index. (1–2
/// characters match the beginning instead: `short_searches_…` below.)
async fn users_search_takes_fts_special_characters_literally(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut ids = Vec::new();
    for email in ["star*gazer@example.com", "o-neil@example.com", "under_score@example.com", "plain@example.com"] {
        let r = admin.invite(email, &[]).await;
        ids.push(r.ok());
    }
    let named = ids[3];
    let r = admin
        .send(UpdateUser {
            id: named,
            first_name: "Zoë \"Zed\"".into(),
            last_name: "O'Neil-Smith".into(),
            email: "renamed@example.com".into(),
            role_ids: vec![],
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let found = |page: UserPage| -> Vec<String> {
        let mut v: Vec<String> = page.rows.into_iter().map(|r| r.email).collect();
        v.sort();
        v
    };
    let cases: &[(&str, &[&str])] = &[
        ("\"zed\"", &["renamed@example.com"]),
        // 1–2 characters match the beginning of the email or the name,
        // special characters included: no address or name begins with these.
        ("\"", &[]),
        ("*", &[]),
        ("_", &[]),
        ("o-", &["o-neil@example.com"]),
        ("ZOË", &["renamed@example.com"]),
        ("r*g", &["star*gazer@example.com"]),
        ("star*", &["star*gazer@example.com"]),
        ("o-neil", &["o-neil@example.com"]),
        ("'neil-", &["renamed@example.com"]),
        ("-neil", &["o-neil@example.com"]),
        ("r_s", &["under_score@example.com"]),
        ("e%", &[]),
        ("star OR plain", &[]),
        ("NEAR(star plain)", &[]),
        ("email_norm:star", &[]),
        ("neil", &["o-neil@example.com", "renamed@example.com"]),
        // The edit reached the index: the old email is gone, the new one found.
        ("plain", &[]),
        ("renamed", &["renamed@example.com"]),
    ];
    for (term, want) in cases {
        let r = admin.send(ListUsers { query: query(term, "", "email", "") }).await;
        assert_eq!(r.status, StatusCode::OK, "search {term:?}: {:?}", r.body);
        assert_eq!(found(r.ok()), want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "search {term:?}");
    }
}

/// The role picker (New user, a user's page) lists every role with its
/// description; a role the caller may not give is marked with the reason, and
/// what it marks is exactly what `invite_user` refuses.
async fn the_role_picker_says_which_roles_the_caller_cannot_hand_out_and_why(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let inviters = create_role(
        &mut admin,
        "Inviters",
        &[(AppId::Users, Permission::View), (AppId::Users, Permission::Create), (AppId::EmailQueue, Permission::View)],
    )
    .await;
    let readers = create_role(&mut admin, "Readers", &[(AppId::Users, Permission::View)]).await;
    let role_admins =
        create_role(&mut admin, "Role admins", &[(AppId::Roles, Permission::View), (AppId::Roles, Permission::Update)])
            .await;
    let admin_role = administrator_role(&mut admin).await;
    let mut ivy = add_user(&mut admin, &server, "ivy@example.com", &[inviters]).await;

    let options = |r: &Reply<Vec<app::users::RoleOption>>| -> Vec<(RoleId, String, Option<String>)> {
        r.ok().into_iter().map(|r| (r.id, r.description, r.refusal)).collect()
    };
    let r = admin.send(RoleOptions {}).await;
    assert!(options(&r).iter().all(|(_, _, why)| why.is_none()), "an administrator may give every role: {:?}", r.body);

    let r = ivy.send(RoleOptions {}).await;
    let seen = options(&r);
    assert_eq!(seen.len(), 4, "every role is listed: {:?}", r.body);
    let why = |id: RoleId| seen.iter().find(|(i, _, _)| *i == id).unwrap().2.clone();
    assert_eq!(why(inviters), None);
    assert_eq!(why(readers), None);
    assert!(why(admin_role).unwrap().contains("Only a Global administrator"), "{:?}", why(admin_role));
    assert!(why(role_admins).unwrap().contains("Roles"), "the reason names what is missing: {:?}", why(role_admins));
    // What the picker marks is what the server refuses, and only that.
    for (role, allowed) in [(readers, true), (role_admins, false), (admin_role, false)] {
        let r = ivy.invite(&format!("to-{role}@example.com"), &[role]).await;
        assert_eq!(r.status.is_success(), allowed, "role {role}: {:?}", r.body);
    }
}

/// Every row of a search, page after page, as emails in page order.
async fn all_pages(admin: &mut Client, search: &str, sort: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = list(admin, query(search, "", sort, &after)).await;
        out.extend(page.rows.into_iter().map(|row| row.email));
        match page.next {
            Some(next) => after = next,
            None => return out,
        }
    }
}

/// 1–2 characters: users whose email or name begins with them (two index
/// ranges, each read in page order), paged like any other list.
async fn short_searches_match_the_beginning_of_an_email_or_a_name(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    // 28 emails beginning with "zo", in an order that differs from their names'.
    for i in 0..28 {
        assert_eq!(admin.invite(&format!("zo{:02}@example.com", 27 - i), &[]).await.status, StatusCode::OK);
    }
    // Names beginning with "Zo" behind emails that do not.
    for (email, first) in [("a.person@example.com", "Zoë"), ("b.person@example.com", "Zora"), ("c@example.com", "Ann")]
    {
        assert_eq!(admin.invite(email, &[]).await.status, StatusCode::OK);
        let id = all_user_ids(&mut admin, email).await;
        let r = admin
            .send(UpdateUser {
                id,
                first_name: first.into(),
                last_name: "Zorn".into(),
                email: email.into(),
                role_ids: vec![],
            })
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    // Only a substring: not a match for a short term.
    assert_eq!(admin.invite("lorenzo@example.com", &[]).await.status, StatusCode::OK);

    let mut expected: Vec<String> = (0..28).map(|i| format!("zo{i:02}@example.com")).collect();
    expected.extend(["a.person@example.com".to_string(), "b.person@example.com".to_string()]);
    expected.sort();
    assert_eq!(all_pages(&mut admin, "zo", "email").await, expected, "by email, two pages");
    assert_eq!(all_pages(&mut admin, "ZO ", "email").await, expected, "case and spaces do not matter");
    let mut desc = expected.clone();
    desc.reverse();
    assert_eq!(all_pages(&mut admin, "zo", "-email").await, desc, "by email, descending");
    let by_name = all_pages(&mut admin, "zo", "name").await;
    assert_eq!(by_name.len(), expected.len(), "{by_name:?}");
    // Invitees have no name yet (they come first); then "zora zorn" < "zoë zorn".
    assert_eq!(by_name[28..], ["b.person@example.com".to_string(), "a.person@example.com".to_string()], "{by_name:?}");
    let created = all_pages(&mut admin, "zo", "-created").await;
    assert_eq!(created.first().map(String::as_str), Some("b.person@example.com"), "{created:?}");
    assert_eq!(created.len(), expected.len());

    // One character (on PostgreSQL read through the initials' indexes, 0017)
    // pages like two, in every order.
    assert_eq!(all_pages(&mut admin, "z", "email").await, expected, "one character");
    assert_eq!(all_pages(&mut admin, "Z", "-email").await, desc, "one character, by email descending");
    assert_eq!(all_pages(&mut admin, "z", "name").await, by_name, "one character, by name");
    assert_eq!(all_pages(&mut admin, "z", "-name").await, by_name.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(all_pages(&mut admin, "z", "-created").await, created, "one character, newest first");
    assert_eq!(all_pages(&mut admin, "an", "email").await, vec!["c@example.com".to_string()], "a name's beginning");
    assert!(all_pages(&mut admin, "nz", "email").await.is_empty(), "lorenzo: not the beginning");
    assert!(all_pages(&mut admin, "_", "email").await.is_empty(), "_ is literal");
    assert_eq!(all_pages(&mut admin, "zoë", "email").await, vec!["a.person@example.com".to_string()]);
}

async fn all_user_ids(admin: &mut Client, email: &str) -> UserId {
    let page = list(admin, query(email, "", "email", "")).await;
    page.rows.into_iter().find(|u| u.email == email).unwrap().id
}

/// A term that most users match fills its page from the first rows in page
/// order (SQLite) and pages exactly like a rare one.
async fn frequent_terms_page_like_rare_ones(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    for i in 0..40 {
        let domain = if i % 4 == 0 { "rare.org" } else { "common.org" };
        assert_eq!(admin.invite(&format!("person{i:02}@{domain}"), &[]).await.status, StatusCode::OK);
    }
    let common = all_pages(&mut admin, "common.org", "email").await;
    let expected: Vec<String> = (0..40).filter(|i| i % 4 != 0).map(|i| format!("person{i:02}@common.org")).collect();
    assert_eq!(common, expected);
    let mut desc = expected.clone();
    desc.reverse();
    assert_eq!(all_pages(&mut admin, "COMMON", "-email").await, desc);
    let rare = all_pages(&mut admin, "rare.org", "email").await;
    assert_eq!(rare, (0..40).filter(|i| i % 4 == 0).map(|i| format!("person{i:02}@rare.org")).collect::<Vec<_>>());
    // A filter beside a frequent term.
    assert_eq!(list(&mut admin, query("org", "active", "email", "")).await.rows.len(), 0);
}

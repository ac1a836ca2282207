//! Account: General, Password (the policy's messages, other sessions end) and Sessions.

use crate::helpers::*;
use crate::on_both_backends;
use app::account::{ChangePassword, MySessions, SignOutOtherSessions};
use app::password::PasswordStrength;
use reqwest::StatusCode;

on_both_backends!(
    each_password_rule_refuses_with_its_own_message,
    changing_the_password_ends_other_sessions,
    changing_the_password_emails_the_owner,
    sessions_tab_lists_and_signs_out_other_sessions,
);

pub(crate) const NEW_PASSWORD: &str = "quilted lantern ferry orbit";

async fn each_password_rule_refuses_with_its_own_message(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await; // Ada Admin, admin@example.com
    let cases = [
        ("short pass", "too short: use at least 12 characters"),
        (&"x".repeat(129)[..], "too long: use at most 128 characters"),
        ("password1234", "too common: it appears in lists of leaked passwords"),
        ("admin-violet-tractor-92", "must not contain the name in your email address"),
        ("ada-violet-tractor-92", "must not contain your first name"),
        ("zqzqzqzqzqzqzqzq", "too easy to guess"),
    ];
    let mut seen = std::collections::HashSet::new();
    for (password, expected) in cases {
        let r = admin
            .send(ChangePassword {
                current_password: ADMIN_PASSWORD.into(),
                password: password.to_string(),
                password_confirmation: password.to_string(),
            })
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{password}: {:?}", r.body);
        let message = r.invalid();
        assert!(message.contains(expected), "{password}: {message}");
        assert!(seen.insert(message), "each rule has its own message");
    }
    // The strength meter agrees, and a good passphrase passes.
    let weak = admin.send(PasswordStrength { password: "password1234".into(), email: String::new() }).await;
    let weak = weak.ok();
    assert!(!weak.ok);
    assert_eq!(weak.score, 0);
    let strong = admin.send(PasswordStrength { password: NEW_PASSWORD.into(), email: String::new() }).await;
    let strong = strong.ok();
    assert!(strong.ok, "{strong:?}");
    assert!(strong.score >= 3);
}

async fn changing_the_password_ends_other_sessions(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut a = set_up_admin(&server).await;
    let mut b = server.client();
    assert_eq!(b.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::OK);

    let r = a
        .send(ChangePassword {
            current_password: "wrong one here".into(),
            password: NEW_PASSWORD.into(),
            password_confirmation: NEW_PASSWORD.into(),
        })
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.to_string().contains("current password is incorrect"), "{:?}", r.body);
    let r = a
        .send(ChangePassword {
            current_password: ADMIN_PASSWORD.into(),
            password: NEW_PASSWORD.into(),
            password_confirmation: "something else entirely".into(),
        })
        .await;
    assert!(r.body.to_string().contains("do not match"), "{:?}", r.body);

    let r = a
        .send(ChangePassword {
            current_password: ADMIN_PASSWORD.into(),
            password: NEW_PASSWORD.into(),
            password_confirmation: NEW_PASSWORD.into(),
        })
        .await;
    assert_eq!(r.ok(), 1, "one other session ended");
    assert!(a.whoami().await.is_some(), "the session that changed it stays");
    assert_eq!(b.whoami().await, None, "the other session is signed out");
    let mut c = server.client();
    assert_eq!(c.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::UNAUTHORIZED, "old password fails");
    assert_eq!(c.sign_in(ADMIN_EMAIL, NEW_PASSWORD).await.status, StatusCode::OK, "new password works");
}

async fn changing_the_password_emails_the_owner(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let subject = "Your Roster password was changed";
    let change = |current: &str| ChangePassword {
        current_password: current.into(),
        password: NEW_PASSWORD.into(),
        password_confirmation: NEW_PASSWORD.into(),
    };
    let r = admin.send(change("wrong one here")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(count_emails(&mut admin, ADMIN_EMAIL, subject).await, 0, "refused, nothing to tell");
    let since = now_ms();
    let r = admin.send(change(ADMIN_PASSWORD)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let text = notice(&mut admin, ADMIN_EMAIL, subject, "password of your", since).await;
    assert!(text.contains(&format!("{}/forgot-password", server.base)), "what to do, where: {text}");
    assert!(!text.contains(NEW_PASSWORD), "{text}");
}

async fn sessions_tab_lists_and_signs_out_other_sessions(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut a = set_up_admin(&server).await;
    let mut b = server.client();
    b.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let r = a.send(MySessions {}).await;
    let list = r.ok();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s.current).count(), 1);
    assert_eq!(list[0].ip, "127.0.0.1");
    let r = a.send(SignOutOtherSessions {}).await;
    assert_eq!(r.ok(), 1);
    assert_eq!(b.whoami().await, None);
    assert!(a.whoami().await.is_some());
    assert_eq!(a.send(MySessions {}).await.ok().len(), 1);
}

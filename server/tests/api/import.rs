//! Users → Import: the review (new, already a user, errors with reasons,
//! nothing written), the import (invitations queued, roles added where asked,
//! the errors as CSV, audit entries), the hand-out rule per row, and files
//! refused whole.

use crate::helpers::*;
use crate::on_both_backends;
use app::registry::{AppId, Permission};
use app::users::{BulkSelection, CountUsers, ImportReview, ListUsers, ReviewImport, RunImport, UserQuery};
use reqwest::StatusCode;

on_both_backends!(
    the_review_marks_every_row_and_writes_nothing,
    importing_invites_the_new_people_and_reports_every_row,
    rows_with_roles_the_caller_cannot_give_are_errors,
    whole_files_are_refused_with_a_clear_reason,
);

/// BOM, semicolons, quotes, CRLF: a spreadsheet's "CSV UTF-8" in a European locale.
const FILE: &str = "\u{feff}Email;First name;Last name;Roles\r\n\
    new1@example.com;Ada;Lovelace;Editors\r\n\
    \"new2@example.com\";\"Grace; B\";Hopper;\"editors | Viewers\"\r\n\
    old@example.com;Old;Timer;Editors\r\n\
    not-an-email;X;Y;\r\n\
    NEW1@example.com;Dup;Licate;\r\n\
    new3@example.com;;;Nonexistent\r\n\
    new4@example.com;;;Mail admins\r\n";

struct World {
    _db: TestDb,
    server: Server,
    admin: Client,
    editors: RoleId,
    mail_admins: RoleId,
}

async fn world(backend: Backend) -> World {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let editors = create_role(&mut admin, "Editors", &[(AppId::Users, Permission::View)]).await;
    create_role(&mut admin, "Viewers", &[(AppId::AuditLog, Permission::View)]).await;
    let mail_admins = create_role(&mut admin, "Mail admins", &[(AppId::Settings, Permission::Update)]).await;
    let r = admin.invite("old@example.com", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    World { _db: db, server, admin, editors, mail_admins }
}

async fn review(c: &mut Client, file: &str, add_roles: bool) -> ImportReview {
    let fields: &[(&str, &str)] = if add_roles { &[("add_roles", "yes")] } else { &[] };
    c.send_multipart::<ReviewImport>(fields, Some(file.as_bytes())).await.ok()
}

/// (line, verdict, note) of every row.
fn verdicts(r: &ImportReview) -> Vec<(u64, String, String)> {
    r.rows.iter().map(|row| (row.line, word_of(&row.verdict), row.note.clone())).collect()
}

fn counts(r: &ImportReview) -> (u64, u64, u64, u64) {
    (r.new, r.existing, r.add_roles, r.errors)
}

async fn user_count(admin: &mut Client) -> u64 {
    admin.send(CountUsers { selection: BulkSelection::Matching(UserQuery::default()) }).await.ok()
}

/// The users the Users list shows for `query`.
async fn listed(admin: &mut Client, query: UserQuery) -> Vec<app::users::UserRow> {
    admin.send(ListUsers { query }).await.ok().rows
}

async fn the_review_marks_every_row_and_writes_nothing(backend: Backend) {
    let mut w = world(backend).await;
    let before = user_count(&mut w.admin).await;
    let emails_before = w.admin.emails("").await.len();
    let r = review(&mut w.admin, FILE, false).await;
    assert_eq!(counts(&r), (3, 1, 0, 3), "{r:?}");
    let v = verdicts(&r);
    assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), [2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(v[0].1, "New");
    assert_eq!(v[1].1, "New");
    assert_eq!(r.rows[1].first_name, "Grace; B");
    assert_eq!(r.rows[1].roles, ["editors", "Viewers"]);
    assert_eq!((v[2].1.as_str(), v[2].2.as_str()), ("Existing", "Already a user: skipped."));
    assert_eq!(v[3].1, "Error");
    assert!(v[3].2.contains('@'), "the email's problem: {}", v[3].2);
    assert_eq!((v[4].1.as_str(), v[4].2.as_str()), ("Error", "The same email as line 2: each person once."));
    assert_eq!((v[5].1.as_str(), v[5].2.as_str()), ("Error", "There is no role named \"Nonexistent\"."));
    assert_eq!(v[6].1, "New", "an administrator may give every role");
    // With "add roles": the existing person lacks Editors.
    let r = review(&mut w.admin, FILE, true).await;
    assert_eq!(counts(&r), (3, 0, 1, 3));
    assert_eq!(verdicts(&r)[2].2, "Already a user: will be given Editors.");
    // Nothing was written.
    assert_eq!(user_count(&mut w.admin).await, before);
    assert_eq!(w.admin.emails("").await.len(), emails_before);
}

async fn importing_invites_the_new_people_and_reports_every_row(backend: Backend) {
    let mut w = world(backend).await;
    let before = user_count(&mut w.admin).await;
    let emails_before = w.admin.emails("").await.len();
    let r = w.admin.send_multipart::<RunImport>(&[("add_roles", "yes")], Some(FILE.as_bytes())).await.ok();
    assert_eq!(counts(&r), (3, 0, 1, 3));
    let v = verdicts(&r);
    assert_eq!(v[0].2, "Invited: the invitation is in the Email queue.");
    assert_eq!(v[2].2, "Given Editors.");
    assert_eq!(user_count(&mut w.admin).await, before + 3);
    // One invitation each, in the Email queue.
    let emails = w.admin.emails("").await;
    assert_eq!(emails.len(), emails_before + 3);
    for to in ["new1@example.com", "new2@example.com", "new4@example.com"] {
        assert!(emails.iter().any(|e| e.to == to), "{to}: {emails:?}");
    }
    // Names and roles as in the file.
    let rows = listed(&mut w.admin, UserQuery { search: "new2@".into(), ..Default::default() }).await;
    let row = &rows[0];
    assert_eq!(row.full_name, "Grace; B Hopper");
    assert_eq!(row.roles, ["Editors", "Viewers"]);
    let rows = listed(&mut w.admin, UserQuery { role: w.editors.to_string(), ..Default::default() }).await;
    let with_editors: Vec<&str> = rows.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(with_editors, ["new1@example.com", "new2@example.com", "old@example.com"]);
    // The rows with errors, as a CSV to fix and upload again.
    let errors = &r.errors_csv;
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines[0], "email,first name,last name,roles,error");
    assert_eq!(lines.len(), 4, "{errors}");
    assert!(lines[3].starts_with("new3@example.com,,,Nonexistent,"), "{}", lines[3]);
    let again = app::users::csv::parse_import(errors.as_bytes()).unwrap();
    assert_eq!(again.len(), 3, "the errors file reads back as an import file");
    // Audit: one entry per person, one for the import.
    let sent = audit_entries(&mut w.admin, "invitation.sent").await;
    assert_eq!(sent.iter().filter(|e| e.details.contains("(import, line")).count(), 3);
    assert_eq!(audit_entries(&mut w.admin, "users.imported").await.len(), 1);
    // The same file again: everyone is a user now.
    let r = w.admin.send_multipart::<RunImport>(&[], Some(FILE.as_bytes())).await;
    assert_eq!(counts(&r.ok()), (0, 4, 0, 3));
    assert_eq!(user_count(&mut w.admin).await, before + 3);
}

async fn rows_with_roles_the_caller_cannot_give_are_errors(backend: Backend) {
    let mut w = world(backend).await;
    let creators = create_role(
        &mut w.admin,
        "Creators",
        &[(AppId::Users, Permission::Create), (AppId::AuditLog, Permission::View)],
    )
    .await;
    let mut creator = add_user(&mut w.admin, &w.server, "creator@example.com", &[creators]).await;
    let r = review(&mut creator, FILE, true).await;
    let v = verdicts(&r);
    assert_eq!(v[6].1, "Error");
    assert!(v[6].2.starts_with("You cannot give the role Mail admins: It grants Settings"), "{}", v[6].2);
    assert_eq!(v[1].1, "New", "Editors and Viewers grant what the creator holds");
    assert_eq!(v[2].1, "Error", "adding roles to a user needs Users Update");
    assert!(v[2].2.contains("Users Update"), "{}", v[2].2);
    let r = creator.send_multipart::<RunImport>(&[], Some(FILE.as_bytes())).await;
    assert_eq!(counts(&r.ok()), (2, 1, 0, 4));
    let rows = listed(&mut w.admin, UserQuery { role: w.mail_admins.to_string(), ..Default::default() }).await;
    assert_eq!(rows.len(), 0, "nobody was given Mail admins");
}

async fn whole_files_are_refused_with_a_clear_reason(backend: Backend) {
    let mut w = world(backend).await;
    let too_big = format!("email\n{}", "someone.with.a.long.address@example.com\n".repeat(60_000));
    for (file, words) in [
        (too_big.as_str(), "2 MiB"),
        ("name,roles\nAda,Editors\n", "no email column"),
        ("", "The file is empty"),
        ("email\n", "no people"),
    ] {
        let replies = [
            ("review_import", w.admin.send_multipart::<ReviewImport>(&[], Some(file.as_bytes())).await),
            ("run_import", w.admin.send_multipart::<RunImport>(&[], Some(file.as_bytes())).await),
        ];
        for (endpoint, r) in replies {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{endpoint} {words}: {:?}", r.body);
            assert!(r.body.to_string().contains(words), "{endpoint}: {:?}", r.body);
        }
    }
    let r = w.admin.send_multipart::<ReviewImport>(&[], None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body.to_string().contains("Choose a CSV file"), "{:?}", r.body);
    let viewers = create_role(&mut w.admin, "Users viewers", &[(AppId::Users, Permission::View)]).await;
    let mut viewer = add_user(&mut w.admin, &w.server, "viewer@example.com", &[viewers]).await;
    let r = viewer.send_multipart::<RunImport>(&[], Some(FILE.as_bytes())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
}

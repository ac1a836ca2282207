//! Users → Export to CSV: the same users, in the same order, as the Users
//! list for the same search, filters and sort; streamed; defused formulas;
//! only for Users View.

use crate::helpers::*;
use crate::on_both_backends;
use app::registry::{AppId, Permission};
use app::users::csv::parse_import;
use app::users::{ListUsers, SetUserEnabled, UpdateUser, UserQuery};
use reqwest::StatusCode;

on_both_backends!(
    the_export_is_the_users_list_for_the_same_query,
    the_export_has_every_column_and_defuses_formulas,
    the_export_needs_users_view,
    a_long_export_is_streamed_in_pieces,
    the_ticked_users_export_alone_in_the_lists_order,
    an_export_is_recorded_in_the_audit_log,
);

/// Who exported, which users and how many rows: an export takes people's
/// data out of Roster, so it leaves a trace like every change does.
async fn an_export_is_recorded_in_the_audit_log(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    invite_many(&admin, "exported", 3).await;
    assert!(audit_entries(&mut admin, "users.exported").await.is_empty());
    let csv = export(&admin, "search=exported&sort=email").await;
    assert_eq!(emails_of(&csv).len(), 3);
    export(&admin, "").await;
    // The entry is written once the last row has left.
    let mut entries = vec![];
    for _ in 0..50 {
        entries = audit_entries(&mut admin, "users.exported").await;
        if entries.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(entries.len(), 2, "{entries:?}");
    let text = serde_json::to_string(&entries).unwrap();
    assert!(text.contains("3 rows: users matching search \\\"exported\\\""), "{text}");
    assert!(text.contains("4 rows: every user"), "{text}");
    assert!(text.contains(ADMIN_EMAIL), "who exported: {text}");
}

/// The export's body for `query` (`search=…&sort=…`), checked to be a CSV download.
async fn export(c: &Client, query: &str) -> String {
    let r = c.get(&format!("/users/export.csv?{query}")).await;
    assert_eq!(r.status(), StatusCode::OK, "export ?{query}");
    let h = r.headers();
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    let disposition = h["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"users-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a byte order mark first, for spreadsheets");
    String::from_utf8(bytes[3..].to_vec()).unwrap()
}

/// The email column of an export, in order.
fn emails_of(csv: &str) -> Vec<String> {
    match parse_import(csv.as_bytes()) {
        Ok(rows) => rows.into_iter().map(|r| r.email).collect(),
        Err(app::users::csv::FileError::NoRows) => vec![],
        Err(e) => panic!("the export does not read back: {e}\n{csv}"),
    }
}

/// Every page of the Users list for `query`, its emails in order.
async fn listed(c: &mut Client, query: UserQuery) -> Vec<String> {
    let mut out = vec![];
    let mut query = query;
    loop {
        let page = c.send(ListUsers { query: query.clone() }).await.ok();
        out.extend(page.rows.into_iter().map(|u| u.email));
        match page.next {
            Some(next) => query.after = next,
            None => return out,
        }
    }
}

/// Query parameters of an export, and how many users it has.
type Case<'a> = (Vec<(&'a str, &'a str)>, usize);

async fn the_export_is_the_users_list_for_the_same_query(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let editors = create_role(&mut admin, "Editors", &[(AppId::Users, Permission::View)]).await;
    invite_many(&admin, "zoe", 30).await;
    invite_many(&admin, "bob", 12).await;
    for i in 0..5 {
        let r = admin.invite(&format!("ed{i}@zorg.example.com"), &[editors]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    // A disabled one, to filter by status.
    let page = admin.send(ListUsers { query: UserQuery { search: "bob1".into(), ..Default::default() } }).await;
    let bob1 = page.ok().rows[0].id;
    let r = admin.send(SetUserEnabled { id: bob1, enabled: false }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let role = editors.to_string();
    let cases: Vec<Case> = vec![
        (vec![], 48),
        (vec![("sort", "-email")], 48),
        (vec![("sort", "name")], 48),
        (vec![("sort", "-created")], 48),
        (vec![("sort", "-last_sign_in")], 48),
        (vec![("search", "zo")], 30),
        (vec![("search", "z")], 30),
        (vec![("search", "oe1")], 11),
        (vec![("search", "ZORG"), ("sort", "-email")], 5),
        (vec![("status", "disabled")], 1),
        (vec![("status", "invited"), ("search", "bob")], 11),
        (vec![("role", role.as_str())], 5),
        (vec![("search", "nobody-at-all")], 0),
        (vec![("search", "%_")], 0),
    ];
    for (params, count) in cases {
        let mut query = UserQuery::default();
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            // The export's query parameter, and the list's field of the same name.
            let field = match *k {
                "search" => &mut query.search,
                "status" => &mut query.status,
                "role" => &mut query.role,
                "sort" => &mut query.sort,
                other => panic!("no such parameter: {other}"),
            };
            *field = v.to_string();
            url.append_pair(k, v);
        }
        let url = url.finish();
        let exported = emails_of(&export(&admin, &url).await);
        assert_eq!(exported, listed(&mut admin, query).await, "export ?{url} against the list");
        assert_eq!(exported.len(), count, "?{url}: {exported:?}");
    }
}

async fn the_export_has_every_column_and_defuses_formulas(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let editors = create_role(&mut admin, "Editors", &[(AppId::Users, Permission::View)]).await;
    let support = create_role(&mut admin, "Support, level 2", &[]).await;
    let r = admin.invite("formula@example.com", &[support, editors]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.ok();
    let update = UpdateUser {
        id,
        first_name: "=HYPERLINK(\"http://evil\")".into(),
        last_name: "@Smith, Jr.".into(),
        email: "formula@example.com".into(),
        role_ids: vec![support, editors],
    };
    let r = admin.send(update).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let csv = export(&admin, "").await;
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], "Email,First name,Last name,Status,Roles,Created,Last sign-in");
    assert!(lines[1].starts_with("admin@example.com,Ada,Admin,Active,Administrator,20"), "{}", lines[1]);
    assert!(lines[1].ends_with('Z'), "the administrator has signed in: {}", lines[1]);
    assert_eq!(
        &lines[2][..lines[2].rfind(",20").unwrap()],
        "formula@example.com,\"'=HYPERLINK(\"\"http://evil\"\")\",\"'@Smith, Jr.\",Invited,\"Editors; Support, level 2\""
    );
    assert!(lines[2].ends_with(','), "never signed in: an empty last cell: {}", lines[2]);
    assert_eq!(lines[3], "", "CRLF after the last row, and nothing else");
    assert_eq!(lines.len(), 4);
    // A status filter that matches nobody still gives the header.
    let csv = export(&admin, "status=disabled").await;
    assert_eq!(csv, "Email,First name,Last name,Status,Roles,Created,Last sign-in\r\n");
}

async fn the_export_needs_users_view(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let viewers = create_role(&mut admin, "Viewers", &[(AppId::Users, Permission::View)]).await;
    let auditors = create_role(&mut admin, "Auditors", &[(AppId::AuditLog, Permission::View)]).await;
    let viewer = add_user(&mut admin, &server, "viewer@example.com", &[viewers]).await;
    let auditor = add_user(&mut admin, &server, "auditor@example.com", &[auditors]).await;

    let anonymous = server.client();
    let r = anonymous.get("/users/export.csv").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "anonymous: to the sign-in page");
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/signin?next="));
    let r = auditor.get("/users/export.csv").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The refusal a server function gives without the permission, and nothing of the list.
    assert_eq!(r.text().await.unwrap(), app::error::AppError::Forbidden.to_string());
    let emails = emails_of(&export(&viewer, "").await);
    assert_eq!(emails, ["admin@example.com", "auditor@example.com", "viewer@example.com"]);
}

async fn the_ticked_users_export_alone_in_the_lists_order(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    invite_many(&admin, "zoe", 12).await;
    let ids: std::collections::HashMap<String, UserId> = {
        let query = UserQuery { search: "zoe".into(), sort: "email".into(), ..Default::default() };
        let r = admin.send(ListUsers { query }).await;
        r.ok().rows.into_iter().map(|u| (u.email, u.id)).collect()
    };
    let ticked = ["zoe7@example.com", "zoe10@example.com", "zoe2@example.com"];
    let list = ticked.iter().map(|e| ids[*e].to_string()).collect::<Vec<_>>().join(",");
    // In the list's sort, whatever order the ids come in; the search does not narrow ticked rows.
    let csv = export(&admin, &format!("ids={list}&sort=email&search=nobody")).await;
    assert_eq!(emails_of(&csv), ["zoe10@example.com", "zoe2@example.com", "zoe7@example.com"]);
    let csv = export(&admin, &format!("ids={list}&sort=-email")).await;
    assert_eq!(emails_of(&csv), ["zoe7@example.com", "zoe2@example.com", "zoe10@example.com"]);
    assert_eq!(csv.lines().count(), 4, "the header and the three ticked users:\n{csv}");

    // Ids that are not ids, and more than a page of ticks may hold, are refused with the reason.
    let r = admin.get("/users/export.csv?ids=3,x").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("\"x\" is not a user id."));
    let many = (1..=1001).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let r = admin.get(&format!("/users/export.csv?ids={many}")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Select all matching"));
}

async fn a_long_export_is_streamed_in_pieces(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let admin = set_up_admin(&server).await;
    invite_many(&admin, "many", 1234).await;
    let mut r = admin.get("/users/export.csv?sort=-created").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("content-length").is_none(), "streamed, not sized in advance");
    let (mut pieces, mut body) = (0, Vec::new());
    while let Some(chunk) = r.chunk().await.unwrap() {
        pieces += 1;
        body.extend_from_slice(&chunk);
    }
    assert!(pieces >= 3, "1,235 rows in pieces of 500: {pieces}");
    let emails = emails_of(std::str::from_utf8(&body[3..]).unwrap());
    assert_eq!(emails.len(), 1235);
    assert_eq!(emails.last().unwrap(), "admin@example.com", "newest first: the administrator came first");
    let distinct: std::collections::BTreeSet<_> = emails.iter().collect();
    assert_eq!(distinct.len(), 1235);
}

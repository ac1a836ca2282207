//! Bulk actions on users: the selection (ticked rows or every user matching
//! the search and filters), the single actions' rules for every row
//! (administrator protection, access beyond the caller's, the last
//! administrator, the hand-out rule), the counts and reasons in the result,
//! and the audit entries.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    select_all_matching_a_search_and_disable_them,
    every_bulk_action_does_what_the_single_one_does,
    bulk_actions_protect_administrators_and_people_with_more_access,
    bulk_add_role_follows_the_hand_out_rule,
    the_last_administrator_stays_when_two_disable_each_other_at_once,
    a_job_is_its_starters_and_is_found_again_later,
    users_view_alone_cannot_run_bulk_actions,
    a_running_job_stops_when_its_starter_loses_the_right,
);

/// Every batch asks again whether the job's starter may still change users:
/// taking away their Users Update stops the job before its next batch, with a
/// clear result, and what was done stays done.
async fn a_running_job_stops_when_its_starter_loses_the_right(backend: Backend) {
    let db = TestDb::new(backend);
    let env = [("ROSTER_BULK_BATCH_SIZE", "2"), ("ROSTER_BULK_BATCH_PAUSE", "400ms")];
    let server = Server::start_with(&db, &env).await;
    let mut admin = set_up_admin(&server).await;
    let managers = create_role(&mut admin, "Managers", json!([["Users", "Update"]])).await;
    let (mut manager, manager_id) = add_user_and_id(&mut admin, &server, "manager@example.com", &[managers]).await;
    invite_many(&admin, "bulkee", 10).await;
    let r = manager.call_json("bulk_users", json!({"selection": matching("bulkee"), "action": "Disable"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin
        .call("remove_role_member", &[("role_id", &managers.to_string()), ("user_id", &manager_id.to_string())])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while scalar(&db, "SELECT COUNT(*) FROM bulk_jobs WHERE status = 'running'").await > 0 {
        assert!(std::time::Instant::now() < deadline, "the job is still running");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stopped = scalar(
        &db,
        "SELECT COUNT(*) FROM bulk_jobs WHERE status = 'failed' AND error LIKE '%no longer has Users Update%'",
    )
    .await;
    assert_eq!(stopped, 1, "the job stopped and says why");
    let done = scalar(&db, "SELECT done FROM bulk_jobs").await;
    let disabled = scalar(&db, "SELECT COUNT(*) FROM users WHERE email LIKE 'bulkee%' AND NOT enabled").await;
    assert!(done < 10, "stopped before the end: {done} done");
    assert_eq!(disabled, done, "what was done stays done, nothing more");
}

fn matching(search: &str) -> Value {
    json!({"Matching": {"search": search, "status": "", "role": "", "sort": "", "after": ""}})
}

/// Start a bulk action and wait for its job to finish; its outcome.
async fn bulk(c: &mut Client, selection: Value, action: Value) -> Value {
    let r = c.call_json("bulk_users", json!({"selection": selection, "action": action})).await;
    assert_eq!(r.status, StatusCode::OK, "bulk_users {action}: {:?}", r.body);
    let job = finish(c, r.body.as_i64().expect("a job id")).await;
    job["outcome"].clone()
}

/// Ask how far job `id` got until it finished (or panic after 60 s); the job.
async fn finish(c: &mut Client, id: i64) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = c.call("bulk_progress", &[("id", &id.to_string())]).await;
        assert_eq!(r.status, StatusCode::OK, "bulk_progress: {:?}", r.body);
        match r.body["state"].as_str() {
            Some("Finished") => return r.body,
            Some("Running") => assert!(std::time::Instant::now() < deadline, "job {id} still running: {:?}", r.body),
            _ => panic!("job {id} stopped: {:?}", r.body),
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// The outcome as (changed, [(reason, count)]).
fn summary(outcome: &Value) -> (u64, Vec<(String, u64)>) {
    let skipped = outcome["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["reason"].as_str().unwrap().to_string(), s["count"].as_u64().unwrap()))
        .collect();
    (outcome["changed"].as_u64().unwrap(), skipped)
}

fn reasons(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(r, n)| (r.to_string(), *n)).collect()
}

async fn ids_matching(c: &mut Client, search: &str) -> Vec<i64> {
    let r = c.call_json("list_users", json!({"query": {"search": search}})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["rows"].as_array().unwrap().iter().map(|u| u["id"].as_i64().unwrap()).collect()
}

async fn count(c: &mut Client, selection: Value) -> u64 {
    let r = c.call_json("count_users", json!({ "selection": selection })).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body.as_u64().unwrap()
}

async fn select_all_matching_a_search_and_disable_them(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    invite_many(&admin, "zoe", 40).await;
    invite_many(&admin, "bob", 5).await;
    let mut signed_in = add_user(&mut admin, &server, "zoe.active@example.com", &[]).await;
    // More than a page (25) match: the server reads them, the browser sends only the search.
    assert_eq!(count(&mut admin, matching("zoe")).await, 41);
    let outcome = bulk(&mut admin, matching("zoe"), json!("Disable")).await;
    assert_eq!(outcome["selected"], 41);
    assert_eq!(summary(&outcome), (41, vec![]));
    assert_eq!(signed_in.whoami().await, None, "disabling ended their session");
    let disabled = json!({"Matching": {"search": "", "status": "disabled", "role": "", "sort": "", "after": ""}});
    assert_eq!(count(&mut admin, disabled).await, 41);
    assert_eq!(count(&mut admin, json!({"Matching": {"search": "bob", "status": "invited"}})).await, 5);
    // One audit entry per user, and one for the bulk action.
    let entries = audit_entries(&mut admin, "user.disabled").await;
    assert_eq!(entries.len(), 41, "{entries:?}");
    assert!(entries.iter().any(|e| e["target_label"] == "zoe.active@example.com"
        && e["details"].as_str().unwrap().contains("1 sessions ended")));
    let bulk_entries = audit_entries(&mut admin, "users.bulk").await;
    assert_eq!(bulk_entries.len(), 1);
    let details = bulk_entries[0]["details"].as_str().unwrap();
    assert!(details.starts_with("Disable: 41 selected, 41 changed"), "{details}");
    assert!(details.contains("search \"zoe\""), "{details}");
    // Again: nothing left to change, and the result says why.
    let outcome = bulk(&mut admin, matching("zoe"), json!("Disable")).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("already disabled", 41)])));
    // Ticked rows: two of them back.
    let two: Vec<i64> = ids_matching(&mut admin, "zoe1").await.into_iter().take(2).collect();
    let outcome = bulk(&mut admin, json!({ "Ids": two }), json!("Enable")).await;
    assert_eq!(summary(&outcome), (2, vec![]));
    assert_eq!(audit_entries(&mut admin, "user.enabled").await.len(), 2);
}

async fn every_bulk_action_does_what_the_single_one_does(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let editors = create_role(&mut admin, "Editors", json!([["Users", "View"]])).await;
    invite_many(&admin, "zoe", 3).await;
    let mut sam = add_user(&mut admin, &server, "sam@example.com", &[]).await;
    let queued = admin.emails("").await.len();

    // Resend: the three invited get a new email; the signed-up are skipped; never oneself.
    let outcome = bulk(&mut admin, matching(""), json!("ResendInvitation")).await;
    assert_eq!(outcome["selected"], 5);
    let already = "already signed up: there is no invitation to change";
    let own = "your own account is changed from Account, not from a bulk action";
    assert_eq!(summary(&outcome), (3, reasons(&[(already, 1), (own, 1)])));
    assert_eq!(admin.emails("").await.len(), queued + 3);
    assert_eq!(audit_entries(&mut admin, "invitation.resent").await.len(), 3);

    // Revoke one invitation; a second time there is none to revoke.
    let zoe0 = ids_matching(&mut admin, "zoe0@").await;
    let outcome = bulk(&mut admin, json!({ "Ids": zoe0 }), json!("RevokeInvitation")).await;
    assert_eq!(summary(&outcome), (1, vec![]));
    let outcome = bulk(&mut admin, json!({ "Ids": zoe0 }), json!("RevokeInvitation")).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("no invitation to revoke", 1)])));

    // End sessions.
    let outcome = bulk(&mut admin, matching("sam"), json!("EndSessions")).await;
    assert_eq!(summary(&outcome), (1, vec![]));
    assert_eq!(sam.whoami().await, None);
    let outcome = bulk(&mut admin, matching("sam"), json!("EndSessions")).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("no sessions to end", 1)])));
    assert_eq!(audit_entries(&mut admin, "session.ended").await.len(), 1);

    // Add and remove a role.
    let outcome = bulk(&mut admin, matching(""), json!({ "AddRole": editors })).await;
    assert_eq!(summary(&outcome), (4, reasons(&[(own, 1)])));
    let r = admin.call_json("list_users", json!({"query": {"role": editors.to_string()}})).await;
    assert_eq!(r.body["rows"].as_array().unwrap().len(), 4);
    let outcome = bulk(&mut admin, matching("zoe"), json!({ "AddRole": editors })).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("already have the role", 3)])));
    let outcome = bulk(&mut admin, matching("sam"), json!({ "RemoveRole": editors })).await;
    assert_eq!(summary(&outcome), (1, vec![]));
    let outcome = bulk(&mut admin, matching("sam"), json!({ "RemoveRole": editors })).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("do not have the role", 1)])));
    let updated = audit_entries(&mut admin, "user.updated").await;
    assert!(updated.iter().any(|e| e["details"] == "roles: removed Editors (bulk action)"), "{updated:?}");

    // Enable what is enabled; ids that do not exist; too many ids; a role that does not exist.
    let outcome = bulk(&mut admin, matching("zoe"), json!("Enable")).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("already enabled", 3)])));
    let outcome = bulk(&mut admin, json!({"Ids": [999_998, 999_999]}), json!("Disable")).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("no longer exists", 2)])));
    let many: Vec<i64> = (1..=1001).collect();
    let r = admin.call_json("bulk_users", json!({"selection": {"Ids": many}, "action": "Disable"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body.to_string().contains("Select all matching"), "{:?}", r.body);
    let r = admin.call_json("bulk_users", json!({"selection": matching(""), "action": {"AddRole": 999_999}})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
}

async fn bulk_actions_protect_administrators_and_people_with_more_access(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let Cast { mut admin, admin_role, manager_role, mut manager, mut grace, grace_id } =
        Cast::new(&server, json!([["Users", "View"], ["Users", "Create"], ["Users", "Update"], ["Roles", "View"]]))
            .await;
    let settings_role = create_role(&mut admin, "Mail admins", json!([["Settings", "Update"]])).await;
    let (mut mailer, mailer_id) = add_user_and_id(&mut admin, &server, "mailer@example.com", &[settings_role]).await;
    add_user(&mut admin, &server, "plain@example.com", &[]).await;

    // The single actions' words, for the same people.
    let single = |id: i64| {
        let mut m = manager.clone();
        async move {
            let r = m.call("set_user_enabled", &[("id", &id.to_string()), ("enabled", "false")]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            r.body.as_object().unwrap().values().next().unwrap().as_str().unwrap().to_string()
        }
    };
    let (admin_words, beyond_words) = (single(grace_id).await, single(mailer_id).await);
    // (plain@ has a session, gets the manager's own role, and then is disabled.)
    for action in [json!("EndSessions"), json!({ "AddRole": manager_role }), json!("Disable")] {
        let outcome = bulk(&mut manager, matching(""), action.clone()).await;
        let (changed, skipped) = summary(&outcome);
        assert_eq!(outcome["selected"], 5, "{action}");
        assert_eq!(changed, 1, "{action}: only plain@ is within reach: {skipped:?}");
        let find = |words: &str| skipped.iter().find(|(r, _)| r.starts_with(words.trim_end_matches('.'))).map(|s| s.1);
        assert_eq!(find(&admin_words), Some(2), "{action}: both administrators: {skipped:?}");
        assert_eq!(find(&beyond_words), Some(1), "{action}: the one with Settings: {skipped:?}");
        assert_eq!(find("your own account"), Some(1), "{action}: {skipped:?}");
    }
    assert_eq!(grace.whoami().await.as_deref(), Some("grace@example.com"), "untouched");
    assert_eq!(mailer.whoami().await.as_deref(), Some("mailer@example.com"), "untouched");
    // The administrators' roles cannot be removed by the manager either.
    let outcome = bulk(&mut manager, matching("grace"), json!({ "RemoveRole": admin_role })).await;
    assert_eq!(summary(&outcome).0, 0);
}

async fn bulk_add_role_follows_the_hand_out_rule(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let manager_role = create_role(&mut admin, "User manager", json!([["Users", "View"], ["Users", "Update"]])).await;
    let settings_role = create_role(&mut admin, "Mail admins", json!([["Settings", "Update"]])).await;
    let viewers = create_role(&mut admin, "Viewers", json!([["Users", "View"]])).await;
    let mut manager = add_user(&mut admin, &server, "manager@example.com", &[manager_role]).await;
    invite_many(&admin, "zoe", 3).await;
    for (role, words) in [
        (admin_role, "Only a Global administrator can give the Administrator role."),
        (settings_role, "It grants Settings"),
    ] {
        let r =
            manager.call_json("bulk_users", json!({"selection": matching("zoe"), "action": {"AddRole": role}})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert!(r.body.to_string().contains(words), "{:?}", r.body);
    }
    let r = admin.call_json("list_users", json!({"query": {"role": settings_role.to_string()}})).await;
    assert_eq!(r.body["rows"].as_array().unwrap().len(), 0, "nothing was given");
    let outcome = bulk(&mut manager, matching("zoe"), json!({ "AddRole": viewers })).await;
    assert_eq!(summary(&outcome), (3, vec![]));
    // An administrator may give the Administrator role in bulk.
    let outcome = bulk(&mut admin, matching("zoe1"), json!({ "AddRole": admin_role })).await;
    assert_eq!(summary(&outcome), (1, vec![]));
}

async fn the_last_administrator_stays_when_two_disable_each_other_at_once(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let grace = add_user(&mut admin, &server, "grace@example.com", &[admin_role]).await;
    let everyone = || json!({"selection": matching(""), "action": "Disable"});
    let (mut a, mut g) = (admin.clone(), grace.clone());
    let (ra, rg) = tokio::join!(a.call_json("bulk_users", everyone()), g.call_json("bulk_users", everyone()));
    // Both jobs run on their own; wait until neither is running.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while scalar(&db, "SELECT COUNT(*) FROM bulk_jobs WHERE status = 'running'").await > 0 {
        assert!(std::time::Instant::now() < deadline, "the jobs did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let enabled_admins = scalar(
        &db,
        "SELECT COUNT(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id \
         WHERE r.builtin = 'administrator' AND u.enabled",
    )
    .await;
    assert_eq!(enabled_admins, 1, "one administrator stays: {:?} / {:?}", ra.body, rg.body);
    // The second one either found the other already gone (and was refused as
    // the last one), or had been disabled before its request ran, or before
    // its job's batch (which then stopped: its starter lost the right).
    let refused =
        scalar(&db, "SELECT COUNT(*) FROM bulk_jobs WHERE skipped LIKE '%the last enabled Global administrator%'")
            .await;
    let signed_out = [&ra, &rg].iter().any(|r| r.status == StatusCode::UNAUTHORIZED);
    let stopped =
        scalar(&db, "SELECT COUNT(*) FROM bulk_jobs WHERE status = 'failed' AND error LIKE '%was disabled%'").await;
    assert!(refused == 1 || signed_out || stopped == 1, "{:?} / {:?}", ra.body, rg.body);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM bulk_jobs WHERE status = 'running'").await, 0);
}

async fn a_job_is_its_starters_and_is_found_again_later(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let mut grace = add_user(&mut admin, &server, "grace@example.com", &[admin_role]).await;
    invite_many(&admin, "zoe", 3).await;
    let r = admin.call("latest_bulk_job", &[]).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, Value::Null), "no job yet");
    let r = admin.call_json("bulk_users", json!({"selection": matching("zoe"), "action": "EndSessions"})).await;
    let id = r.body.as_i64().unwrap();
    let job = finish(&mut admin, id).await;
    assert_eq!(job["description"], "End the sessions of 3 users");
    assert_eq!(job["done"], 3);
    assert_eq!(job["outcome"]["skipped"], json!([{"reason": "no sessions to end", "count": 3}]));
    // Found again after moving on; another administrator does not see it.
    let r = admin.call("latest_bulk_job", &[]).await;
    assert_eq!(r.body["id"], id);
    let r = grace.call("bulk_progress", &[("id", &id.to_string())]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert_eq!(grace.call("latest_bulk_job", &[]).await.body, Value::Null);
}

async fn users_view_alone_cannot_run_bulk_actions(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let viewers = create_role(&mut admin, "Viewers", json!([["Users", "View"]])).await;
    let mut viewer = add_user(&mut admin, &server, "viewer@example.com", &[viewers]).await;
    assert_eq!(count(&mut viewer, matching("")).await, 2, "counting is reading");
    for action in [json!("Disable"), json!("Enable"), json!("EndSessions"), json!({"AddRole": viewers})] {
        let r = viewer.call_json("bulk_users", json!({"selection": matching(""), "action": action})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
    assert!(audit_entries(&mut admin, "users.bulk").await.is_empty());
    assert_eq!(count(&mut admin, json!({"Matching": {"status": "disabled"}})).await, 0);
}

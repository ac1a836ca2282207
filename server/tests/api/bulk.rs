//! Bulk actions on users: the selection (ticked rows or every user matching
//! the search and filters), the single actions' rules for every row
//! (administrator protection, access beyond the caller's, the last
//! administrator, the hand-out rule), the counts and reasons in the result,
//! and the audit entries.

use crate::helpers::*;
use crate::on_both_backends;
use app::error::AppError;
use app::registry::{AppId, Permission};
use app::roles::RemoveRoleMember;
use app::users::{
    BulkAction, BulkJob, BulkJobState, BulkOutcome, BulkProgress, BulkSelection, BulkUsers, CountUsers, LatestBulkJob,
    ListUsers, SetUserEnabled, Skipped, UserQuery,
};
use reqwest::StatusCode;

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
    let managers = create_role(&mut admin, "Managers", &[(AppId::Users, Permission::Update)]).await;
    let (mut manager, manager_id) = add_user_and_id(&mut admin, &server, "manager@example.com", &[managers]).await;
    invite_many(&admin, "bulkee", 10).await;
    let r = manager.send(BulkUsers { selection: matching("bulkee"), action: BulkAction::Disable }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send(RemoveRoleMember { role_id: managers, user_id: manager_id }).await;
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

fn matching(search: &str) -> BulkSelection {
    BulkSelection::Matching(UserQuery { search: search.into(), ..Default::default() })
}

/// Start a bulk action and wait for its job to finish; its outcome.
async fn bulk(c: &mut Client, selection: BulkSelection, action: BulkAction) -> BulkOutcome {
    let r = c.send(BulkUsers { selection, action }).await;
    assert_eq!(r.status, StatusCode::OK, "bulk_users {action:?}: {:?}", r.body);
    let job = finish(c, r.ok()).await;
    job.outcome
}

/// Ask how far job `id` got until it finished (or panic after 60 s); the job.
async fn finish(c: &mut Client, id: i64) -> BulkJob {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = c.send(BulkProgress { id }).await;
        assert_eq!(r.status, StatusCode::OK, "bulk_progress: {:?}", r.body);
        let job = r.ok();
        match job.state {
            BulkJobState::Finished => return job,
            BulkJobState::Running => {
                assert!(std::time::Instant::now() < deadline, "job {id} still running: {:?}", r.body)
            }
            _ => panic!("job {id} stopped: {:?}", r.body),
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// The outcome as (changed, [(reason, count)]).
fn summary(outcome: &BulkOutcome) -> (u64, Vec<(String, u64)>) {
    let skipped = outcome.skipped.iter().map(|s| (s.reason.clone(), s.count)).collect();
    (outcome.changed, skipped)
}

fn reasons(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(r, n)| (r.to_string(), *n)).collect()
}

async fn ids_matching(c: &mut Client, search: &str) -> Vec<UserId> {
    let r = c.send(ListUsers { query: UserQuery { search: search.into(), ..Default::default() } }).await;
    r.ok().rows.iter().map(|u| u.id).collect()
}

/// How many users `role` has (as the Users list filters them).
async fn with_role(c: &mut Client, role: RoleId) -> usize {
    let r = c.send(ListUsers { query: UserQuery { role: role.to_string(), ..Default::default() } }).await;
    r.ok().rows.len()
}

async fn count(c: &mut Client, selection: BulkSelection) -> u64 {
    c.send(CountUsers { selection }).await.ok()
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
    let outcome = bulk(&mut admin, matching("zoe"), BulkAction::Disable).await;
    assert_eq!(outcome.selected, 41);
    assert_eq!(summary(&outcome), (41, vec![]));
    assert_eq!(signed_in.whoami().await, None, "disabling ended their session");
    let disabled = BulkSelection::Matching(UserQuery { status: "disabled".into(), ..Default::default() });
    assert_eq!(count(&mut admin, disabled).await, 41);
    let bob = UserQuery { search: "bob".into(), status: "invited".into(), ..Default::default() };
    assert_eq!(count(&mut admin, BulkSelection::Matching(bob)).await, 5);
    // One audit entry per user, and one for the bulk action.
    let entries = audit_entries(&mut admin, "user.disabled").await;
    assert_eq!(entries.len(), 41, "{entries:?}");
    assert!(entries
        .iter()
        .any(|e| e.target_label == "zoe.active@example.com" && e.details.contains("1 sessions ended")));
    let bulk_entries = audit_entries(&mut admin, "users.bulk").await;
    assert_eq!(bulk_entries.len(), 1);
    let details = &bulk_entries[0].details;
    assert!(details.starts_with("Disable: 41 selected, 41 changed"), "{details}");
    assert!(details.contains("search \"zoe\""), "{details}");
    // Again: nothing left to change, and the result says why.
    let outcome = bulk(&mut admin, matching("zoe"), BulkAction::Disable).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("already disabled", 41)])));
    // Ticked rows: two of them back.
    let two: Vec<UserId> = ids_matching(&mut admin, "zoe1").await.into_iter().take(2).collect();
    let outcome = bulk(&mut admin, BulkSelection::Ids(two), BulkAction::Enable).await;
    assert_eq!(summary(&outcome), (2, vec![]));
    assert_eq!(audit_entries(&mut admin, "user.enabled").await.len(), 2);
}

async fn every_bulk_action_does_what_the_single_one_does(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let editors = create_role(&mut admin, "Editors", &[(AppId::Users, Permission::View)]).await;
    invite_many(&admin, "zoe", 3).await;
    let mut sam = add_user(&mut admin, &server, "sam@example.com", &[]).await;
    let queued = admin.emails("").await.len();

    // Resend: the three invited get a new email; the signed-up are skipped; never oneself.
    let outcome = bulk(&mut admin, matching(""), BulkAction::ResendInvitation).await;
    assert_eq!(outcome.selected, 5);
    let already = "already signed up: there is no invitation to change";
    let own = "your own account is changed from Account, not from a bulk action";
    assert_eq!(summary(&outcome), (3, reasons(&[(already, 1), (own, 1)])));
    assert_eq!(admin.emails("").await.len(), queued + 3);
    assert_eq!(audit_entries(&mut admin, "invitation.resent").await.len(), 3);

    // Revoke one invitation; a second time there is none to revoke.
    let zoe0 = ids_matching(&mut admin, "zoe0@").await;
    let outcome = bulk(&mut admin, BulkSelection::Ids(zoe0.clone()), BulkAction::RevokeInvitation).await;
    assert_eq!(summary(&outcome), (1, vec![]));
    let outcome = bulk(&mut admin, BulkSelection::Ids(zoe0), BulkAction::RevokeInvitation).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("no invitation to revoke", 1)])));

    // End sessions.
    let outcome = bulk(&mut admin, matching("sam"), BulkAction::EndSessions).await;
    assert_eq!(summary(&outcome), (1, vec![]));
    assert_eq!(sam.whoami().await, None);
    let outcome = bulk(&mut admin, matching("sam"), BulkAction::EndSessions).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("no sessions to end", 1)])));
    assert_eq!(audit_entries(&mut admin, "session.ended").await.len(), 1);

    // Add and remove a role.
    let outcome = bulk(&mut admin, matching(""), BulkAction::AddRole(editors)).await;
    assert_eq!(summary(&outcome), (4, reasons(&[(own, 1)])));
    assert_eq!(with_role(&mut admin, editors).await, 4);
    let outcome = bulk(&mut admin, matching("zoe"), BulkAction::AddRole(editors)).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("already have the role", 3)])));
    let outcome = bulk(&mut admin, matching("sam"), BulkAction::RemoveRole(editors)).await;
    assert_eq!(summary(&outcome), (1, vec![]));
    let outcome = bulk(&mut admin, matching("sam"), BulkAction::RemoveRole(editors)).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("do not have the role", 1)])));
    let updated = audit_entries(&mut admin, "user.updated").await;
    assert!(updated.iter().any(|e| e.details == "roles: removed Editors (bulk action)"), "{updated:?}");

    // Enable what is enabled; ids that do not exist; too many ids; a role that does not exist.
    let outcome = bulk(&mut admin, matching("zoe"), BulkAction::Enable).await;
    assert_eq!(summary(&outcome), (0, reasons(&[("already enabled", 3)])));
    let outcome =
        bulk(&mut admin, BulkSelection::Ids(vec![UserId::new(999_998), UserId::new(999_999)]), BulkAction::Disable)
            .await;
    assert_eq!(summary(&outcome), (0, reasons(&[("no longer exists", 2)])));
    let many: Vec<UserId> = (1..=1001).map(UserId::new).collect();
    let r = admin.send(BulkUsers { selection: BulkSelection::Ids(many), action: BulkAction::Disable }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body.to_string().contains("Select all matching"), "{:?}", r.body);
    let r = admin.send(BulkUsers { selection: matching(""), action: BulkAction::AddRole(RoleId::new(999_999)) }).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
}

async fn bulk_actions_protect_administrators_and_people_with_more_access(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let Cast { mut admin, admin_role, manager_role, mut manager, mut grace, grace_id } = Cast::new(
        &server,
        &[
            (AppId::Users, Permission::View),
            (AppId::Users, Permission::Create),
            (AppId::Users, Permission::Update),
            (AppId::Roles, Permission::View),
        ],
    )
    .await;
    let settings_role = create_role(&mut admin, "Mail admins", &[(AppId::Settings, Permission::Update)]).await;
    let (mut mailer, mailer_id) = add_user_and_id(&mut admin, &server, "mailer@example.com", &[settings_role]).await;
    add_user(&mut admin, &server, "plain@example.com", &[]).await;

    // The single actions' words, for the same people.
    let single = |id: UserId| {
        let mut m = manager.clone();
        async move {
            let r = m.send(SetUserEnabled { id, enabled: false }).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            match r.err() {
                AppError::NotAllowed(words) => words,
                other => panic!("{other:?}"),
            }
        }
    };
    let (admin_words, beyond_words) = (single(grace_id).await, single(mailer_id).await);
    // (plain@ has a session, gets the manager's own role, and then is disabled.)
    for action in [BulkAction::EndSessions, BulkAction::AddRole(manager_role), BulkAction::Disable] {
        let outcome = bulk(&mut manager, matching(""), action).await;
        let (changed, skipped) = summary(&outcome);
        assert_eq!(outcome.selected, 5, "{action:?}");
        assert_eq!(changed, 1, "{action:?}: only plain@ is within reach: {skipped:?}");
        let find = |words: &str| skipped.iter().find(|(r, _)| r.starts_with(words.trim_end_matches('.'))).map(|s| s.1);
        assert_eq!(find(&admin_words), Some(2), "{action:?}: both administrators: {skipped:?}");
        assert_eq!(find(&beyond_words), Some(1), "{action:?}: the one with Settings: {skipped:?}");
        assert_eq!(find("your own account"), Some(1), "{action:?}: {skipped:?}");
    }
    assert_eq!(grace.whoami().await.as_deref(), Some("grace@example.com"), "untouched");
    assert_eq!(mailer.whoami().await.as_deref(), Some("mailer@example.com"), "untouched");
    // The administrators' roles cannot be removed by the manager either.
    let outcome = bulk(&mut manager, matching("grace"), BulkAction::RemoveRole(admin_role)).await;
    assert_eq!(summary(&outcome).0, 0);
}

async fn bulk_add_role_follows_the_hand_out_rule(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let manager_role = create_role(
        &mut admin,
        "User manager",
        &[(AppId::Users, Permission::View), (AppId::Users, Permission::Update)],
    )
    .await;
    let settings_role = create_role(&mut admin, "Mail admins", &[(AppId::Settings, Permission::Update)]).await;
    let viewers = create_role(&mut admin, "Viewers", &[(AppId::Users, Permission::View)]).await;
    let mut manager = add_user(&mut admin, &server, "manager@example.com", &[manager_role]).await;
    invite_many(&admin, "zoe", 3).await;
    for (role, words) in [
        (admin_role, "Only a Global administrator can give the Administrator role."),
        (settings_role, "It grants Settings"),
    ] {
        let r = manager.send(BulkUsers { selection: matching("zoe"), action: BulkAction::AddRole(role) }).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert!(r.body.to_string().contains(words), "{:?}", r.body);
    }
    assert_eq!(with_role(&mut admin, settings_role).await, 0, "nothing was given");
    let outcome = bulk(&mut manager, matching("zoe"), BulkAction::AddRole(viewers)).await;
    assert_eq!(summary(&outcome), (3, vec![]));
    // An administrator may give the Administrator role in bulk.
    let outcome = bulk(&mut admin, matching("zoe1"), BulkAction::AddRole(admin_role)).await;
    assert_eq!(summary(&outcome), (1, vec![]));
}

async fn the_last_administrator_stays_when_two_disable_each_other_at_once(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let admin_role = administrator_role(&mut admin).await;
    let grace = add_user(&mut admin, &server, "grace@example.com", &[admin_role]).await;
    let everyone = || BulkUsers { selection: matching(""), action: BulkAction::Disable };
    let (mut a, mut g) = (admin.clone(), grace.clone());
    let (ra, rg) = tokio::join!(a.send(everyone()), g.send(everyone()));
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
    let r = admin.send(LatestBulkJob {}).await;
    assert_eq!(r.ok(), None, "no job yet");
    let r = admin.send(BulkUsers { selection: matching("zoe"), action: BulkAction::EndSessions }).await;
    let id = r.ok();
    let job = finish(&mut admin, id).await;
    assert_eq!(job.description, "End the sessions of 3 users");
    assert_eq!(job.done, 3);
    assert_eq!(job.outcome.skipped, [Skipped { reason: "no sessions to end".into(), count: 3 }]);
    // Found again after moving on; another administrator does not see it.
    let r = admin.send(LatestBulkJob {}).await;
    assert_eq!(r.ok().unwrap().id, id);
    let r = grace.send(BulkProgress { id }).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert_eq!(grace.send(LatestBulkJob {}).await.ok(), None);
}

async fn users_view_alone_cannot_run_bulk_actions(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let viewers = create_role(&mut admin, "Viewers", &[(AppId::Users, Permission::View)]).await;
    let mut viewer = add_user(&mut admin, &server, "viewer@example.com", &[viewers]).await;
    assert_eq!(count(&mut viewer, matching("")).await, 2, "counting is reading");
    for action in [BulkAction::Disable, BulkAction::Enable, BulkAction::EndSessions, BulkAction::AddRole(viewers)] {
        let r = viewer.send(BulkUsers { selection: matching(""), action }).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
    assert!(audit_entries(&mut admin, "users.bulk").await.is_empty());
    let disabled = BulkSelection::Matching(UserQuery { status: "disabled".into(), ..Default::default() });
    assert_eq!(count(&mut admin, disabled).await, 0);
}

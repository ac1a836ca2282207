//! Users → Import: read an uploaded CSV file ([`super::csv::parse_import`]),
//! review every row against the database and the caller's rights (nothing
//! written), then invite the new people in batches.
//!
//! A row is an error when its email is not an address, a name is not
//! acceptable, a role does not exist or is one the caller may not hand out
//! (the hand-out rule, `grants::hand_out_refusals`), or its email came earlier
//! in the file. A person who is already a user is skipped, or, when the
//! admin ticked it, given the file's roles they lack (Users Update and the
//! `check_may_manage` rule on that person, `grants::unmanageable`).

use super::csv::{parse_import, CsvOut, ImportLine, MAX_IMPORT_BYTES};
use super::repo::{self, NewUser};
use super::types::{ImportReview, ImportRow, ImportVerdict};
use crate::audit::service::{record, record_many, Actor, AuditAction, Event};
use crate::domain::{EmailAddress, PersonName, RoleId, Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::grants;
use crate::registry::{AppId, Permission};
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::state::AppState;
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};

/// New people invited per write transaction.
pub const BATCH: usize = 500;

/// What was uploaded.
pub struct Upload {
    pub file: Vec<u8>,
    /// Add the file's roles to people who are already users.
    pub add_roles: bool,
}

/// Read the multipart form: `file` (at most [`MAX_IMPORT_BYTES`]) and `add_roles`.
pub async fn read_upload(data: server_fn::codec::MultipartData) -> AppResult<Upload> {
    let Some(mut form) = data.into_inner() else {
        return Err(AppError::Invalid("The upload could not be read.".into()));
    };
    let bad = |e: &dyn std::fmt::Display| {
        tracing::info!(error = %e, "import upload unreadable");
        AppError::Invalid("The upload could not be read. Try again.".into())
    };
    let mut upload = Upload { file: Vec::new(), add_roles: false };
    let mut has_file = false;
    while let Some(mut field) = form.next_field().await.map_err(|e| bad(&e))? {
        match field.name() {
            Some("file") => {
                has_file = true;
                while let Some(chunk) = field.chunk().await.map_err(|e| bad(&e))? {
                    if upload.file.len() + chunk.len() > MAX_IMPORT_BYTES {
                        return Err(AppError::Invalid(
                            super::csv::FileError::TooLarge { size: upload.file.len() + chunk.len() }
                                .to_string()
                                .replace(" bytes;", " bytes or more;"),
                        ));
                    }
                    upload.file.extend_from_slice(&chunk);
                }
            }
            Some("add_roles") => upload.add_roles = !field.text().await.map_err(|e| bad(&e))?.is_empty(),
            _ => {}
        }
    }
    if !has_file {
        return Err(AppError::Invalid("Choose a CSV file to import.".into()));
    }
    Ok(upload)
}

/// A role as the review matches names to it.
struct RoleInfo {
    id: RoleId,
    name: String,
    refusal: Option<String>,
}

/// One reviewed row, with what the import needs.
struct Reviewed {
    row: ImportRow,
    email: Option<EmailAddress>,
    role_ids: Vec<RoleId>,
    /// The existing user's id (Existing, AddRoles).
    user_id: Option<UserId>,
}

async fn review_rows(
    caller: &Principal,
    state: &AppState,
    lines: Vec<ImportLine>,
    add_roles: bool,
) -> AppResult<Vec<Reviewed>> {
    let mut conn = state.db.pool.acquire().await?;
    let mut refusals = grants::hand_out_refusals(&mut conn, caller).await?;
    let roles: HashMap<String, RoleInfo> = crate::roles::repo::names(&mut conn)
        .await?
        .into_iter()
        .map(|(id, name)| (name.to_lowercase(), RoleInfo { id, refusal: refusals.remove(&id), name }))
        .collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut seen: HashMap<String, u64> = HashMap::new();
    for l in lines {
        let mut row = ImportRow {
            line: l.line,
            email: l.email.clone(),
            first_name: l.first_name.clone(),
            last_name: l.last_name.clone(),
            roles: l.roles.clone(),
            verdict: ImportVerdict::New,
            note: String::new(),
        };
        let mut role_ids = Vec::new();
        let email = EmailAddress::parse(&l.email);
        let problem = if let Some(p) = l.problem {
            Some(p)
        } else if let Err(why) = &email {
            Some(if l.email.is_empty() { "No email address.".to_string() } else { why.clone() })
        } else if let Err(why) = PersonName::parse(&l.first_name, &l.last_name) {
            Some(why)
        } else {
            let mut why = None;
            for name in &l.roles {
                match roles.get(&name.to_lowercase()) {
                    None => why = Some(format!("There is no role named \"{name}\".")),
                    Some(r) => match &r.refusal {
                        Some(refusal) => why = Some(format!("You cannot give the role {}: {refusal}", r.name)),
                        None => {
                            if !role_ids.contains(&r.id) {
                                role_ids.push(r.id);
                            }
                        }
                    },
                }
                if why.is_some() {
                    break;
                }
            }
            why
        };
        let email = email.ok();
        let problem = problem.or_else(|| {
            let key = email.as_ref()?.normalized();
            match seen.get(&key) {
                Some(first) => Some(format!("The same email as line {first}: each person once.")),
                None => {
                    seen.insert(key, row.line);
                    None
                }
            }
        });
        if let Some(why) = problem {
            row.verdict = ImportVerdict::Error;
            row.note = why;
        }
        out.push(Reviewed { row, email, role_ids, user_id: None });
    }
    // Who is already a user, and which roles they hold.
    let keys: Vec<String> = out
        .iter()
        .filter(|r| r.row.verdict != ImportVerdict::Error)
        .filter_map(|r| r.email.as_ref().map(EmailAddress::normalized))
        .collect();
    let mut existing: HashMap<String, UserId> = HashMap::new();
    for chunk in keys.chunks(BATCH) {
        existing.extend(repo::ids_by_emails(&mut conn, chunk).await?);
    }
    let ids: Vec<UserId> = existing.values().copied().collect();
    let mut held: HashSet<(UserId, RoleId)> = HashSet::new();
    let mut refused: HashMap<UserId, &'static str> = HashMap::new();
    if add_roles {
        for chunk in ids.chunks(BATCH) {
            held.extend(crate::roles::repo::role_pairs_of(&mut conn, chunk).await?);
            refused.extend(grants::unmanageable(&mut conn, caller, chunk).await?);
        }
    }
    let may_update = caller.can(AppId::Users, Permission::Update);
    let names: HashMap<RoleId, &str> = roles.values().map(|r| (r.id, r.name.as_str())).collect();
    for r in &mut out {
        let Some(id) = r.email.as_ref().and_then(|e| existing.get(&e.normalized())).copied() else { continue };
        if r.row.verdict == ImportVerdict::Error {
            continue;
        }
        r.user_id = Some(id);
        r.row.verdict = ImportVerdict::Existing;
        r.role_ids.retain(|role| !held.contains(&(id, *role)));
        if !add_roles {
            r.row.note = "Already a user: skipped.".into();
        } else if r.role_ids.is_empty() {
            r.row.note = "Already a user with these roles: skipped.".into();
        } else if !may_update {
            r.row.verdict = ImportVerdict::Error;
            r.row.note = "Already a user: adding roles to users needs Users Update, which you do not have.".into();
        } else if let Some(why) = refused.get(&id) {
            r.row.verdict = ImportVerdict::Error;
            r.row.note = format!("Already a user: {why}");
        } else {
            r.row.verdict = ImportVerdict::AddRoles;
            let added: Vec<&str> = r.role_ids.iter().filter_map(|id| names.get(id).copied()).collect();
            r.row.note = format!("Already a user: will be given {}.", added.join(", "));
        }
    }
    Ok(out)
}

fn summary(reviewed: Vec<Reviewed>) -> ImportReview {
    let count = |v: ImportVerdict| reviewed.iter().filter(|r| r.row.verdict == v).count() as u64;
    ImportReview {
        new: count(ImportVerdict::New),
        existing: count(ImportVerdict::Existing),
        add_roles: count(ImportVerdict::AddRoles),
        errors: count(ImportVerdict::Error),
        rows: reviewed.into_iter().map(|r| r.row).collect(),
        errors_csv: String::new(),
    }
}

fn parse(upload: &Upload) -> AppResult<Vec<ImportLine>> {
    parse_import(&upload.file).map_err(|e| AppError::Invalid(e.to_string()))
}

/// What importing `upload` would do, row by row.
pub async fn review(
    access: Access<'_, apps::Users, perms::Create>,
    state: &AppState,
    upload: &Upload,
) -> AppResult<ImportReview> {
    let lines = parse(upload)?;
    Ok(summary(review_rows(access.principal(), state, lines, upload.add_roles).await?))
}

/// Import `upload`: invite the new people, give roles where asked, and report every row.
pub async fn run(
    access: Access<'_, apps::Users, perms::Create>,
    state: &AppState,
    upload: &Upload,
) -> AppResult<ImportReview> {
    let caller = access.principal();
    let actor = Actor::of(caller);
    let started = std::time::Instant::now();
    let mut reviewed = review_rows(caller, state, parse(upload)?, upload.add_roles).await?;
    let names = crate::roles::repo::names(&mut *state.db.pool.acquire().await?).await?;
    let mut todo: Vec<&mut Reviewed> = reviewed.iter_mut().filter(|r| r.changes()).collect();
    // PostgreSQL takes a few batches at once (each its own connection and
    // transaction: the work is mostly waiting for the database); SQLite has
    // one writer, so one batch at a time.
    let parallel = if state.db.backend.one_writer() { 1 } else { PG_PARALLEL_BATCHES };
    let batches: Vec<_> = todo.chunks_mut(BATCH).map(|batch| import_batch(state, &actor, batch, &names)).collect();
    let results: Vec<AppResult<()>> = futures_util::stream::iter(batches).buffer_unordered(parallel).collect().await;
    results.into_iter().collect::<AppResult<Vec<()>>>()?;
    let mut report = summary(reviewed);
    let mut errors = CsvOut::default();
    let written = errors.record(["email", "first name", "last name", "roles", "error"]).and_then(|()| {
        for r in report.rows.iter().filter(|r| r.verdict == ImportVerdict::Error) {
            let roles = r.roles.join("; ");
            errors.record([r.email.as_str(), &r.first_name, &r.last_name, &roles, &r.note])?;
        }
        errors.take()
    });
    if report.errors > 0 {
        let bytes = written.map_err(|e| AppError::internal("import errors csv", e))?;
        report.errors_csv = String::from_utf8_lossy(&bytes).into_owned();
    }
    let details = format!(
        "{} rows: {} invited, {} given roles, {} skipped, {} errors",
        report.rows.len(),
        report.new,
        report.add_roles,
        report.existing,
        report.errors
    );
    let mut conn = state.db.pool.acquire().await?;
    record(&mut conn, &actor, Event::new(AuditAction::UsersImported).details(details)).await?;
    tracing::info!(
        by = caller.user_id.get(),
        rows = report.rows.len(),
        ms = started.elapsed().as_millis() as u64,
        "users imported"
    );
    Ok(report)
}

/// Batches imported at once on PostgreSQL.
const PG_PARALLEL_BATCHES: usize = 4;

fn role_names(names: &HashMap<RoleId, String>, ids: &[RoleId]) -> String {
    ids.iter().filter_map(|id| names.get(id).cloned()).collect::<Vec<_>>().join(", ")
}

/// One batch of the import in one write transaction: invite the new, give
/// roles to the existing. A handful of multi-row statements per batch, not a
/// handful per person (each statement is a round trip to PostgreSQL).
async fn import_batch(
    state: &AppState,
    actor: &Actor,
    batch: &mut [&mut Reviewed],
    names: &HashMap<RoleId, String>,
) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    // Someone may have invited one of them since the review.
    let keys: Vec<String> = batch.iter().filter_map(|r| r.email.as_ref().map(EmailAddress::normalized)).collect();
    let taken: HashSet<String> = repo::ids_by_emails(&mut tx, &keys).await?.into_iter().map(|(key, _)| key).collect();
    for r in batch.iter_mut() {
        if r.row.verdict == ImportVerdict::New && r.email.as_ref().is_some_and(|e| taken.contains(&e.normalized())) {
            r.row.verdict = ImportVerdict::Existing;
            r.row.note = "Became a user since the review: skipped.".into();
        }
    }

    // The new people, in one INSERT; their ids come back by address.
    let new: Vec<NewUser> = batch
        .iter()
        .filter(|r| r.row.verdict == ImportVerdict::New)
        .filter_map(|r| {
            let (first_name, last_name) = r.name();
            Some(NewUser { email: r.email.as_ref()?, first_name, last_name })
        })
        .collect();
    let ids = repo::insert_many(&mut tx, &new, Timestamp::now()).await?;
    for r in batch.iter_mut().filter(|r| r.row.verdict == ImportVerdict::New) {
        r.user_id = r.email.as_ref().and_then(|e| ids.get(&e.normalized()).copied());
    }

    // Roles, invitations and audit entries for everyone the batch changes.
    let mut pairs = Vec::new();
    let mut invitees = Vec::new();
    let mut events = Vec::new();
    for r in batch.iter().filter(|r| r.changes()) {
        let (Some(id), Some(email)) = (r.user_id, r.email.as_ref()) else { continue };
        pairs.extend(r.role_ids.iter().map(|&role| (id, role)));
        let (what, event) = if r.row.verdict == ImportVerdict::New {
            invitees.push(crate::invitations::service::NewInvitee {
                user_id: id,
                email: email.as_str(),
                first_name: r.name().0,
            });
            (format!("roles: {}", role_names(names, &r.role_ids)), AuditAction::InvitationSent)
        } else {
            (format!("roles: added {}", role_names(names, &r.role_ids)), AuditAction::UserUpdated)
        };
        let details = format!("{what} (import, line {})", r.row.line);
        events.push(Event::new(event).user(id, email.as_str()).details(details));
    }
    crate::roles::repo::give_many(&mut tx, &pairs).await?;
    crate::invitations::service::mint_for_new(&mut tx, &state.settings, &invitees).await?;
    record_many(&mut tx, actor, &events).await?;
    tx.commit().await?;

    for r in batch.iter_mut().filter(|r| r.changes()) {
        r.row.note = match r.row.verdict {
            ImportVerdict::New => "Invited: the invitation is in the Email queue.".into(),
            _ => format!("Given {}.", role_names(names, &r.role_ids)),
        };
    }
    Ok(())
}

impl Reviewed {
    /// Will the import change this person (invite them, or give them roles)?
    fn changes(&self) -> bool {
        matches!(self.row.verdict, ImportVerdict::New | ImportVerdict::AddRoles)
    }

    /// The row's first and last name, trimmed.
    fn name(&self) -> (&str, &str) {
        (self.row.first_name.trim(), self.row.last_name.trim())
    }
}

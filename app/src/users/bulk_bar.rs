//! The Users list's bulk actions: ticked rows or every user matching the
//! search and filters, an action, a confirmation that names the count, the
//! work in progress, and the result (changed, and skipped with reasons).

use super::*;
use crate::components::{call, call_action, word_options, LabelledSelect, Spinner};
use std::collections::BTreeSet;

/// What is selected on the Users page.
#[derive(Clone, Copy)]
pub struct BulkState {
    /// Ticked rows (on any page).
    pub selected: RwSignal<BTreeSet<UserId>>,
    /// Every user matching the search and filters instead of the ticked rows.
    pub all_matching: RwSignal<bool>,
}

impl BulkState {
    pub fn new() -> Self {
        Self { selected: RwSignal::new(BTreeSet::new()), all_matching: RwSignal::new(false) }
    }

    pub fn clear(&self) {
        self.selected.set(BTreeSet::new());
        self.all_matching.set(false);
    }

    pub fn is_empty(&self) -> bool {
        !self.all_matching.get() && self.selected.with(BTreeSet::is_empty)
    }
}

/// The checkbox of one row.
#[component]
pub fn RowCheckbox(state: BulkState, id: UserId, email: String) -> impl IntoView {
    let label = format!("Select {email}");
    view! {
        <input
            type="checkbox"
            aria-label=label
            prop:checked=move || state.all_matching.get() || state.selected.with(|s| s.contains(&id))
            prop:disabled=move || state.all_matching.get()
            on:change=move |ev| {
                let on = event_target_checked(&ev);
                state.selected.update(|s| {
                    if on {
                        s.insert(id);
                    } else {
                        s.remove(&id);
                    }
                });
            }
        />
    }
}

/// The heading's checkbox: every row on this page.
pub fn page_checkbox(state: BulkState, page_ids: Vec<UserId>) -> ViewFn {
    ViewFn::from(move || {
        let ids = page_ids.clone();
        let all = {
            let ids = ids.clone();
            move || {
                state.all_matching.get()
                    || (!ids.is_empty() && state.selected.with(|s| ids.iter().all(|i| s.contains(i))))
            }
        };
        view! {
            <input
                type="checkbox"
                aria-label="Select every user on this page"
                prop:checked=all
                prop:disabled=move || state.all_matching.get()
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    state.selected.update(|s| {
                        for id in &ids {
                            if on {
                                s.insert(*id);
                            } else {
                                s.remove(id);
                            }
                        }
                    });
                }
            />
        }
    })
}

/// The bulk action bar above the list: shown while something is selected,
/// and for the result of the last action.
#[component]
pub fn BulkBar(
    state: BulkState,
    /// The list's search and filters (what "all matching" means).
    #[prop(into)]
    query: Signal<UserQuery>,
    /// Every row of the page shown is ticked and there are more pages.
    #[prop(into)]
    page_full: Signal<bool>,
    roles: Resource<Result<Vec<RoleOption>, AppError>>,
    /// The last bulk job when it is still running (read with the page, so
    /// the server sends it and hydration does not ask again).
    running: Option<BulkJob>,
    /// After an action ran: reload the list.
    on_done: Callback<()>,
) -> impl IntoView {
    let counting = call_action::<u64>();
    let starting = call_action::<i64>();
    // The job of the last action started here, or still running from before.
    let job = RwSignal::new(None::<Result<BulkJob, AppError>>);
    let choice = RwSignal::new(String::new());
    let role_choice = RwSignal::new(String::new());
    let confirming = RwSignal::new(None::<(BulkAction, u64, String)>);
    // Changing the action or the role asks for confirmation again.
    let unconfirm = move || confirming.set(None);
    let count = move || {
        if state.all_matching.get() {
            counting.value().get().and_then(Result::ok)
        } else {
            Some(state.selected.with(BTreeSet::len) as u64)
        }
    };
    let chosen = move || -> Option<BulkAction> {
        let role = role_choice.get().parse::<RoleId>().ok();
        Some(match choice.get().as_str() {
            "enable" => BulkAction::Enable,
            "disable" => BulkAction::Disable,
            "add_role" => BulkAction::AddRole(role?),
            "remove_role" => BulkAction::RemoveRole(role?),
            "resend" => BulkAction::ResendInvitation,
            "revoke" => BulkAction::RevokeInvitation,
            "end_sessions" => BulkAction::EndSessions,
            _ => return None,
        })
    };
    let role_name = move |id: RoleId| {
        roles
            .get()
            .and_then(Result::ok)
            .and_then(|rs| rs.into_iter().find(|r| r.id == id))
            .map_or(String::new(), |r| r.name)
    };
    let selection = move || {
        if state.all_matching.get_untracked() {
            BulkSelection::Matching(query.get_untracked())
        } else {
            BulkSelection::Ids(state.selected.get_untracked().into_iter().collect())
        }
    };
    let select_matching = move |_| {
        state.all_matching.set(true);
        counting.dispatch(call(CountUsers { selection: BulkSelection::Matching(query.get_untracked()) }));
    };
    let ask = move |_| {
        if let (Some(action), Some(n)) = (chosen(), count()) {
            let role = match action {
                BulkAction::AddRole(id) | BulkAction::RemoveRole(id) => role_name(id),
                _ => String::new(),
            };
            confirming.set(Some((action, n, role)));
        }
    };
    let go = move |_| {
        if let Some((action, _, _)) = confirming.get_untracked() {
            job.set(None);
            starting.dispatch(call(BulkUsers { selection: selection(), action }));
            confirming.set(None);
        }
    };
    let finished = Callback::new(move |_| {
        state.clear();
        choice.set(String::new());
        on_done.run(());
    });
    // A job started here: follow it.
    Effect::new(move |prev: Option<usize>| {
        let v = starting.version().get();
        if prev.is_some_and(|p| p != v) {
            match starting.value().get_untracked() {
                Some(Ok(id)) => watch(id, job, finished),
                Some(Err(e)) => job.set(Some(Err(e))),
                None => {}
            }
        }
        v
    });
    // One still running from before the admin moved on: follow it too (in
    // the browser: effects do not run on the server).
    Effect::new(move |_| {
        if let Some(j) = running.clone() {
            if job.get_untracked().is_none() {
                let id = j.id;
                job.set(Some(Ok(j)));
                watch(id, job, finished);
            }
        }
    });
    let job_running =
        move || starting.pending().get() || job.with(|j| matches!(j, Some(Ok(j)) if j.state == BulkJobState::Running));
    let needs_role = move || matches!(choice.get().as_str(), "add_role" | "remove_role");
    let result = move || {
        Some(match job.get()? {
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            Ok(j) => {
                let o = &j.outcome;
                let skipped = o
                    .skipped
                    .iter()
                    .map(|s| view! { <li>{format!("{} skipped: {}", thousands(s.count), s.reason)}</li> })
                    .collect_view();
                let skipped = (!o.skipped.is_empty()).then(|| view! { <ul>{skipped}</ul> });
                match &j.state {
                    BulkJobState::Running => {
                        let (done, total) = (j.done, o.selected);
                        let text = format!("{}: {} of {} done…", j.description, thousands(done), thousands(total));
                        let label = format!("Progress: {}", j.description);
                        view! {
                            <div class="bulk-progress" role="status">
                                <p>{text}</p>
                                <progress max=total.max(1) value=done aria-label=label></progress>
                                <p class="hint">"You can leave this page: the action goes on, and Users shows how far it got when you come back."</p>
                            </div>
                        }
                        .into_any()
                    }
                    ended => {
                        // Done, or stopped on the way (its process went away).
                        let (class, role, why) = match ended {
                            BulkJobState::Failed(why) => ("error bulk-result", "alert", Some(why.clone())),
                            _ => ("success bulk-result", "status", None),
                        };
                        let (how, until) = if why.is_some() { ("stopped", " before it stopped") } else { ("done", "") };
                        let head = format!(
                            "{}: {how}. {} of {} changed{until}.",
                            j.description,
                            thousands(o.changed),
                            thousands(o.selected)
                        );
                        view! {
                            <div class=class role=role>
                                <p>{head}</p>
                                {why.map(|why| view! { <p>{why}</p> })}
                                {skipped}
                            </div>
                        }
                        .into_any()
                    }
                }
            }
        })
    };
    view! {
        <div class="bulk-bar" aria-live="polite">
            {move || (state.is_empty() && !job_running()).then(|| view! { <p class="hint">"Tick users to act on several at once."</p> })}
            {move || (page_full.get() && !state.all_matching.get()).then(|| view! {
                <p class="bulk-scope">
                    {move || format!("All {} users on this page are selected. ", state.selected.with(BTreeSet::len))}
                    <button type="button" class="link" on:click=select_matching>"Select all matching users"</button>
                </p>
            })}
            {move || state.all_matching.get().then(|| view! {
                <p class="bulk-scope">
                    {move || match counting.value().get() {
                        Some(Ok(n)) => format!("All {} matching users are selected. ", thousands(n)),
                        Some(Err(e)) => e.to_string(),
                        None => "Counting the matching users… ".to_string(),
                    }}
                    <button type="button" class="link" on:click=move |_| state.clear()>"Clear selection"</button>
                </p>
            })}
            {move || (!state.is_empty()).then(|| view! {
                <div class="bulk-controls">
                    <span class="bulk-count">{move || count().map(|n| format!("{} selected", thousands(n)))}</span>
                    <LabelledSelect label="Bulk action" value=choice all="Choose an action" changed=unconfirm
                        options=word_options([
                            ("enable", "Enable"),
                            ("disable", "Disable"),
                            ("add_role", "Add role…"),
                            ("remove_role", "Remove role…"),
                            ("resend", "Resend invitation"),
                            ("revoke", "Revoke invitation"),
                            ("end_sessions", "End sessions"),
                        ]) />
                    {move || needs_role().then(|| {
                        let roles = roles.get().and_then(Result::ok).unwrap_or_default();
                        // Only the roles the admin may hand out can be added; any can be removed.
                        let unavailable = roles
                            .iter()
                            .filter(|r| choice.get() == "add_role" && r.refusal.is_some())
                            .map(|r| r.id.to_string())
                            .collect();
                        let options = roles.into_iter().map(|r| (r.id.to_string(), r.name)).collect();
                        view! {
                            <LabelledSelect label="Role" value=role_choice all="Choose a role" changed=unconfirm
                                options=options unavailable=unavailable />
                        }
                    })}
                    <button
                        type="button"
                        disabled=move || chosen().is_none() || count().is_none() || job_running()
                        on:click=ask
                    >
                        "Apply"
                    </button>
                    {move || {
                        // Every matching user, or only the ticked ones.
                        let href = if state.all_matching.get() {
                            export_href(&query.get())
                        } else {
                            ticked_export_href(&query.get(), &state.selected.get())
                        };
                        view! { <a class="button" href=href download>"Export to CSV"</a> }
                    }}
                </div>
            })}
            {move || confirming.get().map(|(action, n, role)| {
                let question = action.question(n, &role);
                let yes = question.trim_end_matches('?').to_string();
                view! {
                    <div class="bulk-confirm" role="alertdialog" aria-label="Confirm the bulk action">
                        <p>{question}</p>
                        <button type="button" class="primary" on:click=go>{yes}</button>
                        <button type="button" on:click=move |_| confirming.set(None)>"Cancel"</button>
                    </div>
                }
            })}
            {move || starting.pending().get().then(|| view! {
                <p class="bulk-progress" role="status"><Spinner when=Signal::from(true) />"Starting…"</p>
            })}
            {result}
        </div>
    }
}

/// `/users/export.csv?…` for the list's search, filters and sort.
pub fn export_href(q: &UserQuery) -> String {
    let mut out = String::from("/users/export.csv");
    let mut sep = '?';
    for (k, v) in [("search", &q.search), ("status", &q.status), ("role", &q.role), ("sort", &q.sort)] {
        if !v.is_empty() {
            out.push(sep);
            out.push_str(k);
            out.push('=');
            out.push_str(&encode(v));
            sep = '&';
        }
    }
    out
}

/// `/users/export.csv?ids=…` for the ticked users, in the list's sort.
pub fn ticked_export_href(q: &UserQuery, ids: &BTreeSet<UserId>) -> String {
    let ids: Vec<String> = ids.iter().map(UserId::to_string).collect();
    let sort = UserQuery { sort: q.sort.clone(), ..UserQuery::default() };
    let base = export_href(&sort);
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}ids={}", encode(&ids.join(",")))
}

/// Percent-encode a query value (everything but unreserved characters).
fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Ask how far job `id` got, and again shortly while it runs; `finished`
/// once it stopped. Stops when the page that shows it is gone.
fn watch(id: i64, job: RwSignal<Option<Result<BulkJob, AppError>>>, finished: Callback<()>) {
    leptos::task::spawn_local(async move {
        let answer = bulk_progress(id).await;
        let running = matches!(&answer, Ok(j) if j.state == BulkJobState::Running);
        if job.try_set(Some(answer)).is_some() {
            return;
        }
        if running {
            set_timeout(move || watch(id, job, finished), std::time::Duration::from_millis(400));
        } else {
            finished.run(());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_links_carry_the_query_encoded() {
        assert_eq!(export_href(&UserQuery::default()), "/users/export.csv");
        let q = UserQuery { search: "zoë & co".into(), sort: "-email".into(), ..Default::default() };
        assert_eq!(export_href(&q), "/users/export.csv?search=zo%C3%AB%20%26%20co&sort=-email");
        let ticked = BTreeSet::from([UserId::new(8), UserId::new(3)]);
        assert_eq!(ticked_export_href(&q, &ticked), "/users/export.csv?sort=-email&ids=3%2C8");
        assert_eq!(ticked_export_href(&UserQuery::default(), &ticked), "/users/export.csv?ids=3%2C8");
    }

    #[test]
    fn questions_name_the_count_and_the_action() {
        assert_eq!(BulkAction::Disable.question(1204, ""), "Disable 1,204 users?");
        assert_eq!(BulkAction::Enable.question(1, ""), "Enable 1 user?");
        assert_eq!(BulkAction::AddRole(RoleId::new(3)).question(2, "Editors"), "Add the role Editors to 2 users?");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
    }
}

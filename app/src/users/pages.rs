use super::bulk_bar::{export_href, page_checkbox, BulkBar, BulkState, RowCheckbox};
use super::*;
use crate::components::{
    call, call_action, word_options, ActionResult, CardForm, Chip, DataTable, ErrorView, FieldError, FilterBar,
    FormFooter, KeysetPager, LabelledSelect, PersonNameFields, Spinner,
};
use crate::domain::{Timestamp, UserId};
use crate::email_confirmation::SendEmailConfirmation;
use crate::icons::{Icon, Svg};
use crate::invitations::{ResendInvitation, RevokeInvitation};
use crate::registry::{AppId, Permission};
use crate::time::{LocalTime, OptionalTime};
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

fn status_badge(status: UserStatus) -> impl IntoView {
    let class = match status {
        UserStatus::Active => "badge badge-active",
        UserStatus::Invited => "badge badge-invited",
        UserStatus::InvitationExpired => "badge badge-expired",
        UserStatus::Disabled => "badge badge-disabled",
    };
    view! { <span class=class>{status.label()}</span> }
}

/// "Email unconfirmed" beside the status of someone who signed up but has not
/// confirmed their current address (applications are told it is unverified).
fn unconfirmed_badge(status: UserStatus, email_verified: bool) -> impl IntoView {
    (status == UserStatus::Active && !email_verified).then(|| {
        view! {
            " "
            <span class="badge badge-expired">"Email unconfirmed"</span>
        }
    })
}

fn delivery_view(d: Option<Delivery>) -> impl IntoView {
    d.map(|d| {
        let class = match d.state {
            EmailStatus::Sent => "badge badge-sent",
            EmailStatus::Failed | EmailStatus::NotSent => "badge badge-failed",
            _ => "badge badge-queued",
        };
        let href = format!("/email-queue/{}", d.email_id);
        let label = match (&d.state, &d.error) {
            (EmailStatus::Failed, Some(e)) => format!("Failed: {e}"),
            (EmailStatus::NotSent, _) => crate::email_queue::NOT_CONFIGURED.to_string(),
            (s, _) => s.label().to_string(),
        };
        view! {
            <a href=href class=class title="Open in the Email queue">
                {label}
            </a>
        }
    })
}

#[component]
fn SmtpBanner() -> impl IntoView {
    view! {
        // One span: the banner is a flex row, and bare text beside a link would
        // become separate columns.
        <p class="banner banner-warning" role="status">
            <span>
                "Email sending is not configured, so invitations are not sent. Copy invitation links from the "
                <a href="/email-queue">"Email queue"</a>
                "."
            </span>
        </p>
    }
}

/// How long typing must pause before the Users search runs.
const SEARCH_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(250);

#[component]
pub fn UsersPage() -> impl IntoView {
    let search = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let role = RwSignal::new(String::new());
    let sort = RwSignal::new("email".to_string());
    let after = RwSignal::new(None::<String>);
    let roles = Resource::new(|| (), |_| role_options());
    // A bulk job still running from before (the bulk bar follows it).
    let latest = Resource::new(|| (), |_| latest_bulk_job());
    let page = Resource::new(
        move || UserQuery {
            search: search.get(),
            status: status.get(),
            role: role.get(),
            sort: sort.get(),
            after: after.get().unwrap_or_default(),
        },
        list_users,
    );
    let reset = move || after.set(None);
    let me = expect_context::<crate::me::MeResource>();
    let bulk = BulkState::new();
    // Another search or filter is another set of users: start the selection again.
    Effect::new(move |_| {
        search.track();
        status.track();
        role.track();
        bulk.clear();
    });
    let current = Signal::derive(move || UserQuery {
        search: search.get(),
        status: status.get(),
        role: role.get(),
        sort: sort.get(),
        after: String::new(),
    });
    let page_full = Signal::derive(move || {
        page.get().and_then(Result::ok).is_some_and(|p| {
            p.next.is_some() && !p.rows.is_empty() && bulk.selected.with(|s| p.rows.iter().all(|r| s.contains(&r.id)))
        })
    });
    let chips = Signal::derive(move || {
        let role_name = |id: &str| {
            roles
                .get()
                .and_then(Result::ok)
                .and_then(|rs| rs.into_iter().find(|r| r.id.to_string() == id))
                .map_or(id.to_string(), |r| r.name)
        };
        let status_label = |k: &str| UserStatus::parse(k).map_or(k.to_string(), |s| s.label().to_string());
        [
            Chip::of("Search", search, str::to_string, reset),
            Chip::of("Status", status, status_label, reset),
            Chip::of("Role", role, role_name, reset),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
    });
    let clear_all = Callback::new(move |_| {
        for filter in [search, status, role] {
            filter.set(String::new());
        }
        reset();
    });
    // Typing waits for a pause before it searches: "zoe" typed quickly is one
    // request, not three. (A slower answer to an older term never replaces a
    // newer one either: the resource keeps only its latest request's result.)
    let typed = RwSignal::new(String::new());
    // A search cleared from its chip or by Clear all empties the box too.
    Effect::new(move |_| {
        if search.get().is_empty() {
            typed.set(String::new());
        }
    });
    let pending = StoredValue::new(None::<TimeoutHandle>);
    let search_after_pause = move |value: String| {
        typed.set(value.clone());
        if let Some(h) = pending.get_value() {
            h.clear();
        }
        let h = set_timeout_with_handle(
            move || {
                search.set(value);
                reset();
            },
            SEARCH_DEBOUNCE,
        );
        pending.set_value(h.ok());
    };
    view! {
        <header class="page-header">
            <h1>"Users"</h1>
            // `download`: a file to save, not a page for the router to open.
            <a class="button" href=move || export_href(&current.get()) download>
                "Export to CSV"
            </a>
            // Import and New user invite people: Users Create only.
            <Suspense>
                {move || Suspend::new(async move {
                    let may_create = me.await.ok().flatten().is_some_and(|m| m.can(AppId::Users, Permission::Create));
                    may_create.then(|| view! {
                        <a class="button" href="/users/import">"Import"</a>
                        <a class="button primary" href="/users/new">"New user"</a>
                    })
                })}
            </Suspense>
        </header>
        <FilterBar chips=chips clear_all=clear_all>
            <label>
                "Search"
                <input
                    type="search"
                    placeholder="Email or name"
                    prop:value=move || typed.get()
                    on:input=move |ev| search_after_pause(event_target_value(&ev))
                />
            </label>
            <LabelledSelect label="Status" value=status all="All statuses" changed=reset
                options=word_options(UserStatus::ALL.into_iter().map(|s| (s.key(), s.label()))) />
            // The whole select inside Suspense: its markers cannot live inside a
            // <select> (the HTML parser drops them and hydration fails).
            <Suspense fallback=|| view! {
                <label>"Role" <select disabled><option value="">"All roles"</option></select></label>
            }>
                {move || Suspend::new(async move {
                    let options = roles.await.unwrap_or_default().into_iter().map(|r| (r.id.to_string(), r.name)).collect();
                    view! { <LabelledSelect label="Role" value=role all="All roles" options=options changed=reset /> }
                })}
            </Suspense>
            <LabelledSelect label="Sort by" value=sort changed=reset options=word_options([
                ("email", "Email (A–Z)"),
                ("-email", "Email (Z–A)"),
                ("name", "Name (A–Z)"),
                ("-name", "Name (Z–A)"),
                ("-last_sign_in", "Last sign-in (newest)"),
                ("-created", "Created (newest)"),
                ("created", "Created (oldest)"),
            ]) />
        </FilterBar>
        <Suspense>
            {move || Suspend::new(async move {
                let may_update = me.await.ok().flatten().is_some_and(|m| m.can(AppId::Users, Permission::Update));
                // Awaited here, whoever is looking, so the server renders with
                // it and sends it with the page: a resource nothing awaits on
                // the server is not sent, and the browser fetched it again
                // after hydration.
                let running = latest.await.ok().flatten().filter(|j| j.state == BulkJobState::Running);
                may_update.then(|| {
                    let on_done = Callback::new(move |_| page.refetch());
                    view! {
                        <BulkBar state=bulk query=current page_full=page_full roles=roles running=running on_done=on_done />
                    }
                })
            })}
        </Suspense>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading users…"</p> }>
            {move || Suspend::new(async move {
                let may_update = me.await.ok().flatten().is_some_and(|m| m.can(AppId::Users, Permission::Update));
                match page.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(p) => {
                        let banner = (!p.smtp_configured).then(|| view! { <SmtpBanner /> });
                        if p.rows.is_empty() {
                            return view! {
                                {banner}
                                <p class="empty">"No users match. Change the search or filters, or invite someone with New user."</p>
                            }
                            .into_any();
                        }
                        let next = p.next.clone();
                        let page_ids: Vec<UserId> = p.rows.iter().map(|u| u.id).collect();
                        let rows = p
                            .rows
                            .into_iter()
                            .map(|u| {
                                let href = format!("/users/{}", u.id);
                                let tick = may_update.then(|| {
                                    let (id, email) = (u.id, u.email.clone());
                                    view! { <td class="select-cell"><RowCheckbox state=bulk id=id email=email /></td> }
                                });
                                view! {
                                    <tr>
                                        {tick}
                                        <td>
                                            <a href=href>{u.email}</a>
                                        </td>
                                        <td>{u.full_name}</td>
                                        <td>
                                            {status_badge(u.status)}
                                            {unconfirmed_badge(u.status, u.email_verified)}
                                            {u.locked.then(|| view! { " " <span class="badge badge-failed">"Locked"</span> })}
                                        </td>
                                        <td>{u.roles.join(", ")}</td>
                                        <td><OptionalTime ms=u.last_sign_in_at.map(Timestamp::millis) none="Never" /></td>
                                        <td>{delivery_view(u.delivery)}</td>
                                    </tr>
                                }
                            })
                            .collect_view();
                        view! {
                            {banner}
                            <DataTable
                                columns=&["Email", "Full name", "Status", "Roles", "Last sign-in", "Invitation"]
                                lead=may_update.then(|| page_checkbox(bulk, page_ids))
                            >
                                {rows}
                            </DataTable>
                            <KeysetPager cursor=after next=next first="First page" more="Next page" />
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

type RoleOptions = Resource<Result<Vec<RoleOption>, AppError>>;

/// The roles to give someone: the chosen ones as chips, a search box, and
/// every role with its description; a role the caller may not hand out is
/// shown with the reason and cannot be ticked. The page creates `roles` (a
/// resource created inside a Suspend would not hydrate).
#[component]
fn RolePicker(selected: RwSignal<Vec<RoleId>>, roles: RoleOptions) -> impl IntoView {
    let find = RwSignal::new(String::new());
    view! {
        <fieldset class="role-picker">
            <legend>"Roles"</legend>
            <Suspense fallback=|| view! { <p class="loading">"Loading roles…"</p> }>
                {move || Suspend::new(async move {
                    match roles.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(list) => {
                            let names: Vec<(RoleId, String)> = list.iter().map(|r| (r.id, r.name.clone())).collect();
                            let chips = move || {
                                let chosen = selected.get();
                                let items = names
                                    .iter()
                                    .filter(|(id, _)| chosen.contains(id))
                                    .map(|(id, name)| {
                                        let id = *id;
                                        let remove = format!("Remove role {name}");
                                        view! {
                                            <li class="chip">
                                                <span>{name.clone()}</span>
                                                <button type="button" aria-label=remove
                                                    on:click=move |_| selected.update(|s| s.retain(|x| *x != id))>
                                                    <Svg icon=Icon::Close />
                                                </button>
                                            </li>
                                        }
                                    })
                                    .collect_view();
                                if chosen.is_empty() {
                                    view! { <p class="hint">"No roles chosen: this person will see an empty Dashboard."</p> }.into_any()
                                } else {
                                    view! { <ul class="chips" aria-label="Chosen roles">{items}</ul> }.into_any()
                                }
                            };
                            let options = list
                                .into_iter()
                                .map(|r| {
                                    let id = r.id;
                                    let (name_id, note_id) = (format!("role-{id}-name"), format!("role-{id}-note"));
                                    let haystack = format!("{} {}", r.name, r.description).to_lowercase();
                                    let hidden = move || {
                                        let term = find.get().trim().to_lowercase();
                                        !term.is_empty() && !haystack.contains(&term)
                                    };
                                    let blocked = r.refusal.is_some();
                                    view! {
                                        <li class="role-option" class:hidden=hidden class:blocked=blocked>
                                            <input
                                                type="checkbox"
                                                id=format!("role-{id}")
                                                aria-labelledby=name_id.clone()
                                                aria-describedby=note_id.clone()
                                                disabled=blocked
                                                prop:checked=move || selected.get().contains(&id)
                                                on:change=move |ev| {
                                                    let on = event_target_checked(&ev);
                                                    selected.update(|s| {
                                                        s.retain(|x| *x != id);
                                                        if on { s.push(id) }
                                                    });
                                                }
                                            />
                                            <label for=format!("role-{id}")>
                                                <span class="role-name" id=name_id>{r.name}</span>
                                                <span class="role-note" id=note_id>
                                                    {r.description}
                                                    {r.refusal.map(|why| view! { <span class="role-refusal">{format!(" You cannot give this role: {why}")}</span> })}
                                                </span>
                                            </label>
                                        </li>
                                    }
                                })
                                .collect_view();
                            view! {
                                {chips}
                                <label class="role-find">
                                    "Find a role"
                                    <input type="search" prop:value=move || find.get()
                                        on:input=move |ev| find.set(event_target_value(&ev)) />
                                </label>
                                <ul class="role-options">{options}</ul>
                            }
                            .into_any()
                        }
                    }
                })}
            </Suspense>
        </fieldset>
    }
}

#[component]
pub fn NewUserPage() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let first = RwSignal::new(String::new());
    let last = RwSignal::new(String::new());
    let roles = RwSignal::new(Vec::<RoleId>::new());
    let action = call_action::<UserId>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = action.value().get() {
            navigate(&format!("/users/{id}?invited=1"), Default::default());
        }
    });
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    let role_list = Resource::new(|| (), |_| role_options());
    view! {
        <header class="page-header">
            <h1>"New user"</h1>
        </header>
        <CardForm submit=move || {
            action.dispatch(call(InviteUser {
                email: email.get(),
                first_name: Some(first.get()),
                last_name: Some(last.get()),
                role_ids: roles.get(),
            }));
        }>
            <p>"Roster emails an invitation link. The new user opens it, creates a password and signs up."</p>
            <label for="new-email">"Email"</label>
            <input
                id="new-email"
                type="email"
                required
                autocomplete="off"
                prop:value=move || email.get()
                on:input=move |ev| email.set(event_target_value(&ev))
            />
            <PersonNameFields first=first last=last for_someone_else=true />
            <p class="hint">"Optional: the invitation greets the person by name, and they can correct it when they sign up."</p>
            <RolePicker selected=roles roles=role_list />
            <FieldError error=error />
            <FormFooter pending=action.pending() label="Send invitation" cancel="/users" />
        </CardForm>
    }
}

#[component]
pub fn UserDetailPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || UserId::new(params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0));
    let save = call_action::<UpdateOutcome>();
    let enable = call_action::<()>();
    let resend = call_action::<i64>();
    let revoke = call_action::<()>();
    let end_sessions = call_action::<u64>();
    let unlock = call_action::<()>();
    let send_confirmation = call_action::<i64>();
    let reset_two_factor = call_action::<()>();
    // Made here, outside the Suspend below, so that they hydrate.
    let two_factor = Resource::new(
        move || (id(), reset_two_factor.version().get()),
        |(id, _)| crate::two_factor::user_two_factor(id),
    );
    let role_list = Resource::new(|| (), |_| role_options());
    let access = Resource::new(move || (id(), save.version().get()), |(id, _)| crate::roles::user_access(id));
    let detail = Resource::new(
        move || {
            (
                id(),
                save.version().get(),
                enable.version().get(),
                resend.version().get(),
                revoke.version().get(),
                unlock.version().get(),
            )
        },
        |(id, ..)| get_user(id),
    );
    let invited = move || query.read().get("invited").is_some();
    let me = expect_context::<crate::me::MeResource>();
    view! {
        <p class="breadcrumb">
            <a href="/users">"Users"</a>
        </p>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading user…"</p> }>
            {move || Suspend::new(async move {
                let may_update = me.await.ok().flatten().is_some_and(|m| m.can(AppId::Users, Permission::Update));
                match detail.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(u) => {
                        // Every action here is Users Update on this person,
                        // which the server refuses for an administrator (to
                        // non-administrators) or someone holding more than the caller.
                        let may_change = may_update && u.manage_refusal.is_none();
                        let refusal = u.manage_refusal.clone().filter(|_| may_update);
                        let first = RwSignal::new(u.first_name.clone());
                        let last = RwSignal::new(u.last_name.clone());
                        let email = RwSignal::new(u.email.clone());
                        let roles = RwSignal::new(u.role_ids.clone());
                        let uid = u.id;
                        let pending = matches!(u.status, UserStatus::Invited | UserStatus::InvitationExpired);
                        let enabled = u.enabled;
                        let shown_email = u.email.clone();
                        let unconfirmed = (u.status == UserStatus::Active && !u.email_verified).then(|| u.email.clone());
                        view! {
                            <header class="page-header">
                                <h1>{u.email.clone()}</h1>
                                {status_badge(u.status)}
                                {unconfirmed_badge(u.status, u.email_verified)}
                            </header>
                            {invited().then(|| view! {
                                <p class="success" role="status">{format!("Invitation queued for {shown_email}.")}</p>
                            })}
                            {refusal.map(|why| view! { <p class="notice">{why}</p> })}
                            {pending.then(|| view! {
                                <section class="card" aria-labelledby="invitation-title">
                                    <h2 id="invitation-title">"Invitation"</h2>
                                    <p>
                                        "Delivery: " {delivery_view(u.delivery.clone())}
                                    </p>
                                    <p>
                                        {match u.invitation_expires_at {
                                            Some(t) => view! { "The link works until " <LocalTime ms=t.millis() /> "." }.into_any(),
                                            None => "There is no valid invitation link.".into_any(),
                                        }}
                                    </p>
                                    {may_change.then(|| view! {
                                        <div class="actions">
                                            <button type="button" on:click=move |_| { resend.dispatch(call(ResendInvitation { id: uid })); }>
                                                <Spinner when=resend.pending() />
                                                "Resend invitation"
                                            </button>
                                            <button type="button" class="danger" on:click=move |_| { revoke.dispatch(call(RevokeInvitation { id: uid })); }>
                                                <Spinner when=revoke.pending() />
                                                "Revoke invitation"
                                            </button>
                                        </div>
                                    })}
                                </section>
                            })}
                            <ActionResult value=resend.value() success="A new invitation was queued; the old link no longer works." />
                            <ActionResult value=revoke.value() success="The invitation was revoked; its link no longer works." />
                            {if may_change {
                            view! {
                            <CardForm title="General" submit=move || {
                                save.dispatch(call(UpdateUser {
                                    id: uid,
                                    first_name: first.get(),
                                    last_name: last.get(),
                                    email: email.get(),
                                    role_ids: roles.get(),
                                }));
                            }>
                                <PersonNameFields first=first last=last for_someone_else=true />
                                <label for="email">"Email"</label>
                                <input id="email" type="email" required prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev)) />
                                <RolePicker selected=roles roles=role_list />
                                <ActionResult
                                    value=save.value()
                                    success=Signal::derive(move || match save.value().get() {
                                        Some(Ok(UpdateOutcome { confirmation_sent: true, .. })) => format!(
                                            "Saved. A confirmation link was sent to {}: until its owner follows it, \
                                             applications are told the address is unverified.",
                                            email.get_untracked()
                                        ),
                                        Some(Ok(UpdateOutcome { invitation_revoked: true, .. })) => format!(
                                            "Saved. The email changed, so the pending invitation was revoked: \
                                             choose Resend invitation to send a new one to {}.",
                                            email.get_untracked()
                                        ),
                                        _ => "Saved.".to_string(),
                                    })
                                />
                                <FormFooter pending=save.pending() label="Save" />
                            </CardForm>
                            }
                            .into_any()
                            } else {
                                let name = format!("{} {}", u.first_name, u.last_name).trim().to_string();
                                view! {
                                    <section class="card" aria-labelledby="general-title">
                                        <h2 id="general-title">"General"</h2>
                                        <dl class="details">
                                            <dt>"Full name"</dt><dd>{if name.is_empty() { "—".to_string() } else { name }}</dd>
                                            <dt>"Email"</dt><dd>{u.email.clone()}</dd>
                                        </dl>
                                        {(!may_update).then(|| view! {
                                            <p class="muted">"You may look at this user; changing them needs the Users Update permission."</p>
                                        })}
                                    </section>
                                }
                                .into_any()
                            }}
                            {unconfirmed.filter(|_| may_change).map(|address| view! {
                                <section class="card" aria-labelledby="confirmation-title">
                                    <h2 id="confirmation-title">"Email confirmation"</h2>
                                    <p>
                                        "The address " <strong>{address}</strong> " is not confirmed. Applications that \
                                         sign in with Roster are told it is unverified until its owner follows the \
                                         confirmation link sent to it, signed in to this account."
                                    </p>
                                    <button type="button" on:click=move |_| {
                                        send_confirmation.dispatch(call(SendEmailConfirmation { id: uid }));
                                    }>
                                        <Spinner when=send_confirmation.pending() />
                                        "Send confirmation link"
                                    </button>
                                    <ActionResult
                                        value=send_confirmation.value()
                                        success="A new confirmation link was queued; earlier links no longer work."
                                    />
                                </section>
                            })}
                            <crate::roles::UserAccess access=access />
                            <section class="card" aria-labelledby="enabled-title">
                                <h2 id="enabled-title">"Enabled"</h2>
                                <p>
                                    {if enabled {
                                        "This user can sign in. Disabling ends their sessions at once."
                                    } else {
                                        "This user is disabled and cannot sign in."
                                    }}
                                </p>
                                {may_change.then(|| view! {
                                    <button
                                        type="button"
                                        class=if enabled { "danger" } else { "primary" }
                                        on:click=move |_| { enable.dispatch(call(SetUserEnabled { id: uid, enabled: !enabled })); }
                                    >
                                        <Spinner when=enable.pending() />
                                        {if enabled { "Disable user" } else { "Enable user" }}
                                    </button>
                                    <ActionResult value=enable.value() success="Done." />
                                })}
                            </section>
                            {(may_change || u.locked).then(|| view! {
                                <section class="card" aria-labelledby="security-title">
                                    <h2 id="security-title">"Sessions and sign-in"</h2>
                                    {u.locked.then(|| view! {
                                        <p class="error">"This account is locked after too many failed sign-ins."</p>
                                        {may_change.then(|| view! {
                                            <button type="button" on:click=move |_| { unlock.dispatch(call(UnlockUser { id: uid })); }>
                                                <Spinner when=unlock.pending() />
                                                "Unlock"
                                            </button>
                                        })}
                                    })}
                                    {may_change.then(|| view! {
                                        <ActionResult value=unlock.value() success="The account was unlocked." />
                                        <button type="button" on:click=move |_| { end_sessions.dispatch(call(EndUserSessions { id: uid })); }>
                                            <Spinner when=end_sessions.pending() />
                                            "Sign out all sessions"
                                        </button>
                                        <ActionResult
                                            value=end_sessions.value()
                                            success=Signal::derive(move || match end_sessions.value().get() {
                                                Some(Ok(n)) => format!("{n} session(s) signed out."),
                                                _ => String::new(),
                                            })
                                        />
                                    })}
                                </section>
                            })}
                            <crate::two_factor::UserTwoFactorPanel id=uid factors=two_factor reset=reset_two_factor may_change=may_change />
                            <p class="meta">
                                "Created " <LocalTime ms=u.created_at.millis() /> " · Last sign-in "
                                <OptionalTime ms=u.last_sign_in_at.map(Timestamp::millis) none="never" />
                            </p>
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

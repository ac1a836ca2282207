use super::*;
use crate::components::{
    call, call_action, ActionResult, CallAction, CardForm, Confirm, DataTable, ErrorView, FieldError, FormFooter,
    ListHeader,
};
use crate::dashboard::AppTiles;
use crate::me::MeResource;
use crate::me::SignedInUser;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use std::collections::BTreeSet;

fn builtin_badge(builtin: bool) -> impl IntoView {
    builtin.then(|| view! { <span class="badge badge-builtin">"Built in"</span> })
}

fn users_count(n: usize) -> String {
    match n {
        1 => "1 user".to_string(),
        n => format!("{n} users"),
    }
}

#[component]
pub fn RolesPage() -> impl IntoView {
    let roles = Resource::new(|| (), |_| list_roles());
    view! {
        <ListHeader title="Roles" app=AppId::Roles new=("/roles/new", "New role")
            intro="A role grants permissions on applications. A user holds every permission of every role they have." />
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading roles…"</p> }>
            {move || Suspend::new(async move {
                match roles.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(list) => {
                        let rows = list
                            .into_iter()
                            .map(|r| {
                                let href = format!("/roles/{}", r.id);
                                view! {
                                    <tr>
                                        <td>
                                            <a href=href>{r.name}</a>
                                            " "
                                            {builtin_badge(r.builtin)}
                                        </td>
                                        <td>{r.description}</td>
                                        <td class="number">{r.member_count}</td>
                                    </tr>
                                }
                            })
                            .collect_view();
                        view! {
                            <DataTable columns=&["Name", "Description", "Members"]>{rows}</DataTable>
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// A role's name and description, in New role and on the role's page.
#[component]
fn RoleFields(name: RwSignal<String>, description: RwSignal<String>) -> impl IntoView {
    view! {
            <label for="role-name">"Name"</label>
            <input
                id="role-name"
                type="text"
                required
                maxlength=RoleName::MAX_CHARS
                autocomplete="off"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <label for="role-description">"Description"</label>
            <textarea
                id="role-description"
                rows="3"
                maxlength=DESCRIPTION_MAX_CHARS
                prop:value=move || description.get()
                on:input=move |ev| description.set(event_target_value(&ev))
            ></textarea>
    }
}

#[component]
pub fn NewRolePage() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let action = call_action::<RoleId>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = action.value().get() {
            navigate(&format!("/roles/{id}?tab=permissions"), Default::default());
        }
    });
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    view! {
        <p class="breadcrumb">
            <a href="/roles">"Roles"</a>
        </p>
        <header class="page-header">
            <h1>"New role"</h1>
        </header>
        <CardForm submit=move || {
            action.dispatch(call(CreateRole { name: name.get(), description: description.get() }));
        }>
            <p>"A new role grants nothing until you tick its permissions, on the next page."</p>
            <RoleFields name=name description=description />
            <FieldError error=error />
            <FormFooter pending=action.pending() label="Create role" cancel="/roles" />
        </CardForm>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    General,
    Permissions,
    Members,
    Preview,
}

impl Tab {
    const ALL: [Tab; 4] = [Self::General, Self::Permissions, Self::Members, Self::Preview];
    fn key(self) -> &'static str {
        match self {
            Self::General => "general",
            Self::Permissions => "permissions",
            Self::Members => "members",
            Self::Preview => "preview",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Self::General => "General",
            Self::Permissions => "Permissions",
            Self::Members => "Members",
            Self::Preview => "Preview dashboard",
        }
    }
    fn parse(s: &str) -> Self {
        Self::ALL.into_iter().find(|t| t.key() == s).unwrap_or(Self::General)
    }
}

#[component]
pub fn RoleDetailPage() -> impl IntoView {
    let me = expect_context::<MeResource>();
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<RoleId>().ok()).unwrap_or(RoleId::new(0));
    let tab = Memo::new(move |_| Tab::parse(&query.read().get("tab").unwrap_or_default()));
    let save = call_action::<()>();
    let perms = call_action::<Vec<Grant>>();
    let add = call_action::<()>();
    let remove = call_action::<()>();
    let detail = Resource::new(
        move || (id(), save.version().get(), perms.version().get(), add.version().get(), remove.version().get()),
        |(id, ..)| get_role(id),
    );
    // Created here, not in the Members tab: a resource made inside the
    // Suspend below would not hydrate.
    let search = RwSignal::new(String::new());
    // Only for those who may add members (Roles Update): the call needs it.
    // (`Shell` renders its pages once `me` has loaded: it is here, the same
    // on the server and in the browser.)
    let may_update =
        move || me.get().and_then(Result::ok).flatten().is_some_and(|m| m.can(AppId::Roles, Permission::Update));
    let candidates = Resource::new(
        move || {
            let members = tab.get() == Tab::Members && may_update();
            (id(), members, search.get(), add.version().get(), remove.version().get())
        },
        |(id, members, search, ..)| async move {
            if members {
                role_member_candidates(id, search).await
            } else {
                Ok(Vec::new())
            }
        },
    );
    let actions = RoleActions { save, perms, add, remove, search, candidates };
    view! {
        <p class="breadcrumb">
            <a href="/roles">"Roles"</a>
        </p>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading role…"</p> }>
            {move || Suspend::new(async move {
                let me = me.await.ok().flatten();
                match detail.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(role) => {
                        let rid = role.id;
                        let tabs = Tab::ALL
                            .into_iter()
                            .map(|t| {
                                let label = match t {
                                    Tab::Members => format!("{} ({})", t.label(), role.members.len()),
                                    _ => t.label().to_string(),
                                };
                                view! {
                                    <a
                                        role="tab"
                                        id=format!("tab-{}", t.key())
                                        href=format!("/roles/{rid}?tab={}", t.key())
                                        aria-selected=move || (tab.get() == t).to_string()
                                        aria-controls="role-panel"
                                    >
                                        {label}
                                    </a>
                                }
                            })
                            .collect_view();
                        let role2 = role.clone();
                        let me2 = me.clone();
                        view! {
                            <header class="page-header">
                                <h1>{role.name.clone()}</h1>
                                {builtin_badge(role.builtin)}
                            </header>
                            <nav class="tabs" role="tablist" aria-label="Role">{tabs}</nav>
                            <div id="role-panel" role="tabpanel" aria-labelledby=move || format!("tab-{}", tab.get().key())>
                                {move || match tab.get() {
                                    Tab::General => view! { <GeneralPanel role=role2.clone() me=me2.clone() actions=actions /> }.into_any(),
                                    Tab::Permissions => view! {
                                        <PermissionMatrix role=role2.clone() me=me2.clone() action=actions.perms />
                                    }
                                    .into_any(),
                                    Tab::Members => view! {
                                        <MembersPanel role=role2.clone() me=me2.clone() actions=actions />
                                    }
                                    .into_any(),
                                    Tab::Preview => view! { <PreviewPanel role=role2.clone() /> }.into_any(),
                                }}
                            </div>
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// The actions of a role's page; each one reloads the role when it completes.
#[derive(Clone, Copy)]
struct RoleActions {
    save: CallAction<()>,
    perms: CallAction<Vec<Grant>>,
    add: CallAction<()>,
    remove: CallAction<()>,
    /// The Members tab's search, and the users it finds without the role.
    search: RwSignal<String>,
    candidates: Resource<Result<Vec<Member>, AppError>>,
}

#[component]
fn GeneralPanel(role: RoleDetail, me: Option<SignedInUser>, actions: RoleActions) -> impl IntoView {
    let may = |p: Permission| me.as_ref().is_some_and(|m| m.can(AppId::Roles, p));
    let is_admin = me.as_ref().is_some_and(|m| m.is_admin);
    // What `set_role_two_factor` allows: the Administrator role by
    // administrators, any other by Roles Update within the hand-out rule.
    let two_factor = view! {
        <crate::two_factor::RoleTwoFactorPanel id=role.id required=role.require_two_factor
            editable=if role.builtin { is_admin } else { may(Permission::Update) && role.may_hand_out } />
    };
    if !role.builtin && !may(Permission::Update) {
        let description = if role.description.is_empty() { "No description.".to_string() } else { role.description };
        let (rid, role_name, losing) = (role.id, role.name.clone(), role.members.len());
        return view! {
            <section class="card">
                <h2>"General"</h2>
                <p>{description}</p>
                <p class="muted">"You may look at this role; changing it needs the Roles Update permission."</p>
            </section>
            {two_factor}
            {may(Permission::Delete).then(|| view! { <DeletePanel id=rid name=role_name losing=losing /> })}
        }
        .into_any();
    }
    if role.builtin {
        return view! {
            <section class="card">
                <h2>"General"</h2>
                <p>{role.description}</p>
                <p>
                    "This is the built-in Administrator role (the Global administrator). It has every permission of every application, including applications added later, and cannot be renamed, changed or deleted. Give it to someone on the Members tab."
                </p>
            </section>
            {two_factor}
        }
        .into_any();
    }
    let save = actions.save;
    let name = RwSignal::new(role.name.clone());
    let description = RwSignal::new(role.description.clone());
    let rid = role.id;
    let role_name = role.name.clone();
    let losing = role.members.len();
    view! {
        <CardForm title="General" submit=move || {
            save.dispatch(call(UpdateRole { id: rid, name: name.get(), description: description.get() }));
        }>
            <RoleFields name=name description=description />
            <ActionResult value=save.value() success="Saved." />
            <FormFooter pending=save.pending() label="Save" />
        </CardForm>
        {two_factor}
        {may(Permission::Delete).then(|| view! { <DeletePanel id=rid name=role_name losing=losing /> })}
    }
    .into_any()
}

/// Delete, after a confirmation that says how many users lose the role.
#[component]
fn DeletePanel(id: RoleId, name: String, losing: usize) -> impl IntoView {
    let delete = call_action::<i64>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = delete.value().get() {
            navigate("/roles", Default::default());
        }
    });
    let error = Signal::derive(move || delete.value().get().and_then(|r| r.err()));
    let consequence = match losing {
        0 => "No user holds it.".to_string(),
        n => format!("{} will lose it, and every permission it grants them.", users_count(n)),
    };
    view! {
        <section class="card" aria-labelledby="delete-title">
            <h2 id="delete-title">"Delete role"</h2>
            <Confirm id="delete-question" ask="Delete role…" ask_class="danger"
                question=format!("Delete the role “{name}”?") detail=format!("{consequence} This cannot be undone.")
                act="Delete role" pending=delete.pending() error=error
                confirm=move || { delete.dispatch(call(DeleteRole { id })); } />
        </section>
    }
}

/// One row per application, one column per permission. Ticking Create,
/// Update or Delete ticks View too; clearing View clears the rest.
#[component]
fn PermissionMatrix(role: RoleDetail, me: Option<SignedInUser>, action: CallAction<Vec<Grant>>) -> impl IntoView {
    let saved: BTreeSet<Grant> = role.grants.iter().copied().collect();
    let selected = RwSignal::new(saved.clone());
    let builtin = role.builtin;
    let rid = role.id;
    let me_is_admin = me.as_ref().is_some_and(|m| m.is_admin);
    let may_save = me.as_ref().is_some_and(|m| m.can(AppId::Roles, Permission::Update)) && !builtin;
    let header = Permission::ALL.into_iter().map(|p| view! { <th scope="col">{p.label()}</th> }).collect_view();
    // Roster's own applications, then the registered ones.
    let apps: Vec<(AppId, String)> = APPLICATIONS
        .iter()
        .map(|a| (a.id, a.name.to_string()))
        .chain(role.applications.iter().map(|t| {
            let name = if t.enabled { t.name.clone() } else { format!("{} (disabled)", t.name) };
            (AppId::Registered(t.id), name)
        }))
        .collect();
    let rows = apps
        .into_iter()
        .map(|(app, app_name)| {
            let cells = Permission::ALL
                .into_iter()
                .map(|perm| {
                    if !app.declares(perm) {
                        return view! {
                            <td class="not-applicable" title=format!("{} has no {} permission", app_name, perm.label())>
                                "—"
                            </td>
                        }
                        .into_any();
                    }
                    let grant = (app, perm);
                    // Non-administrators may clear anything but tick only what they hold.
                    let may_tick = me.as_ref().is_some_and(|m| m.can(app, perm));
                    let held_before = saved.contains(&grant);
                    let disabled = builtin || !may_save || (!may_tick && !held_before && !me_is_admin);
                    let title = (!builtin && may_save && !may_tick && !me_is_admin)
                        .then(|| "You can grant only permissions you hold yourself.".to_string());
                    view! {
                        <td>
                            <input
                                type="checkbox"
                                aria-label=format!("{}: {}", app_name, perm.label())
                                title=title
                                disabled=disabled
                                prop:checked=move || selected.with(|s| s.contains(&grant))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    selected.update(|s| {
                                        if on {
                                            s.insert(grant);
                                            s.insert((grant.0, Permission::View));
                                        } else if perm == Permission::View {
                                            s.retain(|g| g.0 != grant.0);
                                        } else {
                                            s.remove(&grant);
                                        }
                                    });
                                }
                            />
                        </td>
                    }
                    .into_any()
                })
                .collect_view();
            view! {
                <tr>
                    <th scope="row">{app_name}</th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    view! {
        <CardForm title="Permissions" submit=move || {
            action.dispatch(call(SetRolePermissions { id: rid, grants: selected.get().into_iter().collect() }));
        }>
            {if builtin {
                view! {
                    <p>"The Administrator role has every permission of every application, including applications added later. It cannot be changed."</p>
                }
                .into_any()
            } else {
                view! {
                    <p>"Create, Update and Delete include View. Members get changes at their next page load, without signing out."</p>
                }
                .into_any()
            }}
            <table class="data-table permission-matrix">
                <thead>
                    <tr>
                        <th scope="col">"Application"</th>
                        {header}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            {(!builtin && may_save).then(|| view! {
                <ActionResult value=action.value() success="Permissions saved. Members get them at their next page load." />
                <FormFooter pending=action.pending() label="Save permissions" />
            })}
        </CardForm>
    }
}

#[component]
fn MembersPanel(role: RoleDetail, me: Option<SignedInUser>, actions: RoleActions) -> impl IntoView {
    let remove = actions.remove;
    let rid = role.id;
    let may_edit = me.as_ref().is_some_and(|m| m.can(AppId::Roles, Permission::Update));
    let is_admin = me.as_ref().is_some_and(|m| m.is_admin);
    // Only an administrator takes the Administrator role away.
    let may_remove = may_edit && (!role.builtin || is_admin);
    // Giving the role needs the hand-out rule.
    let may_add = may_edit && role.may_hand_out;
    let members = if role.members.is_empty() {
        view! { <p class="empty">"Nobody has this role yet."</p> }.into_any()
    } else {
        let rows = role
            .members
            .into_iter()
            .map(|m| {
                let uid = m.user_id;
                let label = format!("Remove {}", m.email);
                view! {
                    <tr>
                        <td><a href=format!("/users/{uid}")>{m.email}</a></td>
                        <td>{m.full_name}</td>
                        <td>{(!m.enabled).then(|| view! { <span class="badge badge-disabled">"Disabled"</span> })}</td>
                        <td>
                            {(may_remove && m.manageable).then(|| view! {
                                <button
                                    type="button"
                                    aria-label=label
                                    disabled=move || remove.pending().get()
                                    on:click=move |_| { remove.dispatch(call(RemoveRoleMember { role_id: rid, user_id: uid })); }
                                >
                                    "Remove"
                                </button>
                            })}
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="data-table">
                <thead>
                    <tr>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Full name"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="card" aria-labelledby="members-title">
            <h2 id="members-title">"Members"</h2>
            <ActionResult value=remove.value() success="Removed. They lose the role's permissions at their next request." />
            {members}
            {(may_edit && !may_add).then(|| view! {
                <p class="muted">"This role grants something you do not have: only a Global administrator can give it to someone."</p>
            })}
        </section>
        {may_add.then(|| view! { <AddMember role_id=rid actions=actions /> })}
    }
}

/// Find users without the role and add them.
#[component]
fn AddMember(role_id: RoleId, actions: RoleActions) -> impl IntoView {
    let (add, search, found) = (actions.add, actions.search, actions.candidates);
    view! {
        <section class="card" aria-labelledby="add-member-title">
            <h2 id="add-member-title">"Add members"</h2>
            <label for="member-search">"Find a user"</label>
            <input
                id="member-search"
                type="search"
                placeholder="Email or name"
                prop:value=move || search.get()
                on:input=move |ev| search.set(event_target_value(&ev))
            />
            <ActionResult value=add.value() success="Added. They get the role's permissions at their next request." />
            <Transition fallback=|| view! { <p class="loading" role="status">"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match found.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No other user matches."</p> }.into_any(),
                        Ok(list) => {
                            let items = list
                                .into_iter()
                                .map(|m| {
                                    let uid = m.user_id;
                                    let label = format!("Add {}", m.email);
                                    // Someone the caller may not manage cannot be given the role by them.
                                    let button = m.manageable.then(|| view! {
                                        <button
                                            type="button"
                                            aria-label=label
                                            disabled=move || add.pending().get()
                                            on:click=move |_| { add.dispatch(call(AddRoleMember { role_id, user_id: uid })); }
                                        >
                                            "Add"
                                        </button>
                                    });
                                    let note = (!m.manageable).then(|| view! {
                                        <span class="muted">"(only a Global administrator can change their roles)"</span>
                                    });
                                    view! {
                                        <li>
                                            <span>{m.email}</span>
                                            " "
                                            <span class="muted">{m.full_name}</span>
                                            " "
                                            {button}
                                            {note}
                                        </li>
                                    }
                                })
                                .collect_view();
                            view! { <ul class="candidates">{items}</ul> }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// The Dashboard a member of this role sees (from this role alone).
#[component]
fn PreviewPanel(role: RoleDetail) -> impl IntoView {
    let apps = visible_apps(role.builtin, &role.grants);
    let registered: Vec<_> = role
        .applications
        .iter()
        .filter(|t| t.enabled && (role.builtin || role.grants.contains(&(AppId::Registered(t.id), Permission::View))))
        .cloned()
        .collect();
    let empty = apps.is_empty() && registered.is_empty();
    view! {
        <section class="card" aria-labelledby="preview-title">
            <h2 id="preview-title">"Preview dashboard"</h2>
            <p>
                {format!("The Dashboard of a member of {}, from this role alone. ", role.name)}
                "Members who hold other roles see those roles' applications too."
            </p>
            {if empty {
                view! {
                    <p class="empty">"A member sees no applications: this role grants View on none."</p>
                }
                .into_any()
            } else {
                view! { <AppTiles apps=apps registered=registered preview=true /> }.into_any()
            }}
        </section>
    }
}

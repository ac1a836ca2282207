use super::*;
use crate::components::{
    call, call_action, ActionResult, CardForm, Confirm, DataTable, ErrorView, FieldError, FormFooter, ListHeader,
    Spinner,
};
use crate::domain::ApplicationId;
use crate::icons::Svg;
use crate::me::MeResource;
use crate::registry::{AppId, Permission};
use leptos_router::hooks::{use_navigate, use_params_map};

/// An application's mark: its first letter or its icon, on its colour.
#[component]
pub fn AppMark(name: String, mark: Mark, colour: Colour) -> impl IntoView {
    let class = format!("tile-icon app-mark mark-{}", colour.key());
    match mark.icon() {
        Some(icon) => view! { <span class=class aria-hidden="true"><Svg icon=icon /></span> }.into_any(),
        None => {
            let letter = name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default();
            view! { <span class=class aria-hidden="true">{letter}</span> }.into_any()
        }
    }
}

fn status_badge(enabled: bool) -> impl IntoView {
    if enabled {
        view! { <span class="badge badge-active">"Enabled"</span> }.into_any()
    } else {
        view! { <span class="badge badge-disabled">"Disabled"</span> }.into_any()
    }
}

fn type_word(t: ClientType) -> &'static str {
    match t {
        ClientType::Confidential => "Confidential",
        ClientType::Public => "Public",
    }
}

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_applications());
    view! {
        <ListHeader title="Applications" app=AppId::Applications new=("/applications/new", "New application")
            intro="The organization's own applications. Each one is a tile on the Dashboard of the people whose roles grant View on it, and signs them in with Roster (OpenID Connect)." />
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading applications…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No application is registered yet."</p>
                    }
                    .into_any(),
                    Ok(list) => {
                        let rows = list
                            .into_iter()
                            .map(|a| {
                                view! {
                                    <tr>
                                        <td class="app-name-cell">
                                            <AppMark name=a.name.clone() mark=a.mark colour=a.colour />
                                            <a href=format!("/applications/{}", a.id)>{a.name}</a>
                                        </td>
                                        <td><code>{a.client_id}</code></td>
                                        <td>{type_word(a.client_type)}</td>
                                        <td>{status_badge(a.enabled)}</td>
                                    </tr>
                                }
                            })
                            .collect_view();
                        view! {
                            <DataTable columns=&["Name", "Client ID", "Client type", "Status"]>{rows}</DataTable>
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// The form's values, one signal per field.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    description: RwSignal<String>,
    mark: RwSignal<Mark>,
    colour: RwSignal<Colour>,
    launch_url: RwSignal<String>,
    redirect_uris: RwSignal<String>,
    post_logout_redirect_uris: RwSignal<String>,
    client_type: RwSignal<ClientType>,
}

impl Fields {
    fn new(d: Option<&ApplicationDetail>) -> Self {
        Self {
            name: RwSignal::new(d.map(|d| d.name.clone()).unwrap_or_default()),
            description: RwSignal::new(d.map(|d| d.description.clone()).unwrap_or_default()),
            mark: RwSignal::new(d.map_or(Mark::Letter, |d| d.mark)),
            colour: RwSignal::new(d.map_or(Colour::Blue, |d| d.colour)),
            launch_url: RwSignal::new(d.map(|d| d.launch_url.clone()).unwrap_or_default()),
            redirect_uris: RwSignal::new(d.map(|d| d.redirect_uris.join("\n")).unwrap_or_default()),
            post_logout_redirect_uris: RwSignal::new(
                d.map(|d| d.post_logout_redirect_uris.join("\n")).unwrap_or_default(),
            ),
            client_type: RwSignal::new(d.map_or(ClientType::Confidential, |d| d.client_type)),
        }
    }

    fn input(self) -> ApplicationInput {
        ApplicationInput {
            name: self.name.get(),
            description: self.description.get(),
            mark: self.mark.get(),
            colour: self.colour.get(),
            launch_url: self.launch_url.get(),
            redirect_uris: self.redirect_uris.get(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.get(),
            client_type: self.client_type.get(),
        }
    }
}

/// Name, description, icon, colour, URLs; the client type only at creation.
#[component]
fn ApplicationFields(f: Fields, creating: bool) -> impl IntoView {
    let text = |id: &'static str, label: &'static str, sig: RwSignal<String>, kind: &'static str| {
        view! {
            <label for=id>{label}</label>
            <input id=id type=kind autocomplete="off" prop:value=move || sig.get()
                on:input=move |ev| sig.set(event_target_value(&ev)) />
        }
    };
    view! {
        {text("app-name", "Name", f.name, "text")}
        <label for="app-description">"Description"</label>
        <textarea id="app-description" rows="2" maxlength=DESCRIPTION_MAX_CHARS
            prop:value=move || f.description.get()
            on:input=move |ev| f.description.set(event_target_value(&ev))></textarea>
        <label for="app-mark">"Icon"</label>
        <select id="app-mark" prop:value=move || f.mark.get().key()
            on:change=move |ev| { if let Some(m) = Mark::parse(&event_target_value(&ev)) { f.mark.set(m) } }>
            {Mark::ALL.into_iter().map(|m| view! { <option value=m.key()>{m.label()}</option> }).collect_view()}
        </select>
        <label for="app-colour">"Colour"</label>
        <select id="app-colour" prop:value=move || f.colour.get().key()
            on:change=move |ev| { if let Some(c) = Colour::parse(&event_target_value(&ev)) { f.colour.set(c) } }>
            {Colour::ALL.into_iter().map(|c| view! { <option value=c.key()>{c.label()}</option> }).collect_view()}
        </select>
        <p class="hint">"The tile: "
            {move || view! { <AppMark name=f.name.get() mark=f.mark.get() colour=f.colour.get() /> }}
        </p>
        {text("app-launch-url", "Launch URL (the address the Dashboard tile opens)", f.launch_url, "url")}
        <label for="app-redirect-uris">"Redirect URIs, one per line (matched exactly; https unless localhost)"</label>
        <textarea id="app-redirect-uris" rows="3" prop:value=move || f.redirect_uris.get()
            on:input=move |ev| f.redirect_uris.set(event_target_value(&ev))></textarea>
        <label for="app-logout-uris">"Post-logout redirect URIs, one per line (optional)"</label>
        <textarea id="app-logout-uris" rows="2" prop:value=move || f.post_logout_redirect_uris.get()
            on:input=move |ev| f.post_logout_redirect_uris.set(event_target_value(&ev))></textarea>
        {creating.then(|| view! {
            <fieldset>
                <legend>"Client type"</legend>
                {ClientType::ALL.into_iter().map(|t| view! {
                    <label class="choice">
                        <input type="radio" name="client-type" value=t.key()
                            prop:checked=move || f.client_type.get() == t
                            on:change=move |_| f.client_type.set(t) />
                        {t.label()}
                    </label>
                }).collect_view()}
            </fieldset>
        })}
    }
}

/// The client id and, once, the secret, with a copy button.
#[component]
fn CredentialsView(c: Credentials, rotated: bool) -> impl IntoView {
    let secret = c.client_secret.clone();
    view! {
        <section class="card credentials" aria-labelledby="credentials-title">
            <h2 id="credentials-title">{if rotated { "New client secret" } else { "Credentials" }}</h2>
            <dl>
                <dt>"Client ID"</dt>
                <dd><code id="client-id">{c.client_id.clone()}</code></dd>
            </dl>
            {match secret {
                Some(s) => view! {
                    <p class="warning-text" role="status">
                        <strong>"Copy the client secret now: it will not be shown again."</strong>
                        {if rotated { " The old secret has stopped working." } else { "" }}
                    </p>
                    <label for="client-secret">"Client secret"</label>
                    <div class="copy-field">
                        <input id="client-secret" type="text" readonly value=s.clone() />
                        <CopyButton text=s label="Copy client secret" />
                    </div>
                }
                .into_any(),
                None => view! { <p>"A public client has no secret: it signs in with PKCE."</p> }.into_any(),
            }}
        </section>
    }
}

/// Copies `text` to the clipboard and says so.
#[component]
fn CopyButton(text: String, label: &'static str) -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <button type="button" aria-label=label on:click=move |_| {
            copy_to_clipboard(&text);
            copied.set(true);
        }>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    use js_sys::{Function, Reflect};
    use leptos::wasm_bindgen::JsCast;
    let clipboard = Reflect::get(&window(), &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"clipboard".into()))
        .ok()
        .filter(|c| !c.is_undefined());
    if let Some(clipboard) = clipboard {
        if let Ok(write) = Reflect::get(&clipboard, &"writeText".into()).and_then(|f| f.dyn_into::<Function>()) {
            let _ = write.call1(&clipboard, &text.into());
        }
    }
}

#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}

#[component]
pub fn NewApplicationPage() -> impl IntoView {
    let f = Fields::new(None);
    let action = call_action::<Credentials>();
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    view! {
        <p class="breadcrumb">
            <a href="/applications">"Applications"</a>
        </p>
        <header class="page-header">
            <h1>"New application"</h1>
        </header>
        {move || match action.value().get() {
            Some(Ok(c)) => {
                let href = format!("/applications/{}", c.id);
                view! {
                    <p class="success" role="status">"The application is registered. Give it its credentials."</p>
                    <CredentialsView c=c rotated=false />
                    <p><a class="button" href=href>"Open the application"</a></p>
                }
                .into_any()
            }
            _ => view! {
                <CardForm submit=move || { action.dispatch(call(CreateApplication { input: f.input() })); }>
                    <ApplicationFields f=f creating=true />
                    <FieldError error=error />
                    <FormFooter pending=action.pending() label="Create application" cancel="/applications" />
                </CardForm>
            }
            .into_any(),
        }}
    }
}

#[component]
pub fn ApplicationDetailPage() -> impl IntoView {
    let me = expect_context::<MeResource>();
    let params = use_params_map();
    let id =
        move || params.read().get("id").and_then(|s| s.parse::<ApplicationId>().ok()).unwrap_or(ApplicationId::new(0));
    let save = call_action::<()>();
    let toggle = call_action::<()>();
    let rotate = call_action::<Credentials>();
    let detail = Resource::new(
        move || (id(), save.version().get(), toggle.version().get(), rotate.version().get()),
        |(id, ..)| get_application(id),
    );
    view! {
        <p class="breadcrumb">
            <a href="/applications">"Applications"</a>
        </p>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading application…"</p> }>
            {move || Suspend::new(async move {
                let me = me.await.ok().flatten();
                let may = |p: Permission| me.as_ref().is_some_and(|m| m.can(AppId::Applications, p));
                match detail.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(d) => {
                        let f = Fields::new(Some(&d));
                        let aid = d.id;
                        let client_type = d.client_type;
                        let roles = if d.roles.is_empty() {
                            "No role grants View on it yet: nobody but a Global administrator sees its tile.".to_string()
                        } else {
                            format!("Roles that grant View on it: {}.", d.roles.join(", "))
                        };
                        view! {
                            <header class="page-header">
                                <AppMark name=d.name.clone() mark=d.mark colour=d.colour />
                                <h1>{d.name.clone()}</h1>
                                {status_badge(d.enabled)}
                            </header>
                            <section class="card" aria-labelledby="signin-title">
                                <h2 id="signin-title">"Sign-in settings"</h2>
                                <dl>
                                    <dt>"Client ID"</dt>
                                    <dd><code>{d.client_id.clone()}</code></dd>
                                    <dt>"Client type"</dt>
                                    <dd>{client_type.label()}</dd>
                                </dl>
                                <p>{roles}</p>
                            </section>
                            {if may(Permission::Update) {
                                view! {
                                    <CardForm title="Details" submit=move || {
                                        save.dispatch(call(UpdateApplication { id: aid, input: f.input() }));
                                    }>
                                        <ApplicationFields f=f creating=false />
                                        <ActionResult value=save.value() success="Saved." />
                                        <FormFooter pending=save.pending() label="Save" />
                                    </CardForm>
                                    <EnabledPanel id=aid name=d.name.clone() enabled=d.enabled action=toggle />
                                    <ClaimsPanel id=aid name=d.name.clone() />
                                    {(client_type == ClientType::Confidential)
                                        .then(|| view! { <RotatePanel id=aid action=rotate /> })}
                                }
                                .into_any()
                            } else {
                                view! {
                                    <section class="card">
                                        <h2>"Details"</h2>
                                        <p>{d.description.clone()}</p>
                                        <p>"Launch URL: " <code>{d.launch_url.clone()}</code></p>
                                        <p>"Redirect URIs: " <code>{d.redirect_uris.join(", ")}</code></p>
                                        <p class="muted">"Changing it needs the Applications Update permission."</p>
                                    </section>
                                }
                                .into_any()
                            }}
                            {may(Permission::Delete).then(|| view! { <DeletePanel id=aid name=d.name.clone() /> })}
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Disable (no tile, no sign-in) or enable again.
#[component]
fn EnabledPanel(
    id: ApplicationId,
    name: String,
    enabled: bool,
    action: crate::components::CallAction<()>,
) -> impl IntoView {
    let (label, text) = if enabled {
        ("Disable application", format!("Disabled, {name} has no tile on anyone's Dashboard and Roster refuses to sign anyone in to it, at once."))
    } else {
        ("Enable application", format!("{name} is disabled: no tile, no sign-in. Enable it to give both back."))
    };
    view! {
        <section class="card" aria-labelledby="status-title">
            <h2 id="status-title">"Status"</h2>
            <p>{text}</p>
            <ActionResult value=action.value() success="Saved." />
            <button type="button" class=if enabled { "danger" } else { "primary" }
                disabled=move || action.pending().get()
                on:click=move |_| { action.dispatch(call(SetApplicationEnabled { id, enabled: !enabled })); }>
                <Spinner when=action.pending() />
                {label}
            </button>
        </section>
    }
}

/// For an application registered before scopes decided the claims: it gets
/// every claim whatever it asks, until switched to claims by scope (after a
/// confirmation: there is no way back). Nothing for any other application.
#[component]
fn ClaimsPanel(id: ApplicationId, name: String) -> impl IntoView {
    let switch = call_action::<()>();
    let every = Resource::new(move || (id, switch.version().get()), |(id, _)| application_every_claim(id));
    let error = Signal::derive(move || switch.value().get().and_then(|r| r.err()));
    view! {
        <Transition fallback=|| ()>
            {move || {
                let name = name.clone();
                Suspend::new(async move {
                    let done = view! { <ActionResult value=switch.value() success="Claims by scope from now on." /> };
                    if every.await != Ok(true) {
                        return done.into_any();
                    }
                    view! {
                        <section class="card" aria-labelledby="claims-title">
                            <h2 id="claims-title">"Claims"</h2>
                            <p>{format!("{name} was registered before scopes decided the claims: it receives every claim (names, email, roles and permissions) whatever scopes it asks for.")}</p>
                            <p>"Once it asks for the scopes it needs (profile, email, and roster for roles and permissions), switch it to claims by scope."</p>
                            <Confirm id="claims-question" ask="Claims by scope…"
                                question=format!("Switch {name} to claims by scope?")
                                detail="From its next sign-in on, it receives only the claims of the scopes it asks for. There is no way back.".to_string()
                                act="Claims by scope" pending=switch.pending() error=error close=true
                                confirm=move || { switch.dispatch(call(SetApplicationClaimsByScope { id })); } />
                        </section>
                    }
                    .into_any()
                })
            }}
        </Transition>
    }
}

/// Rotate secret, after a confirmation; the new one is shown once.
#[component]
fn RotatePanel(id: ApplicationId, action: crate::components::CallAction<Credentials>) -> impl IntoView {
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    view! {
        <section class="card" aria-labelledby="secret-title">
            <h2 id="secret-title">"Client secret"</h2>
            <p>"Roster keeps only a hash of the secret: it cannot show it again. Rotate it if it was lost or exposed."</p>
            {move || action.value().get().and_then(Result::ok).map(|c| view! { <CredentialsView c=c rotated=true /> })}
            <Confirm id="rotate-question" ask="Rotate secret…" question="Rotate the client secret?".to_string()
                detail="The current secret stops working at once: the application cannot sign anyone in until it is given the new one.".to_string()
                act="Rotate secret" pending=action.pending() error=error close=true
                confirm=move || { action.dispatch(call(RotateApplicationSecret { id })); } />
        </section>
    }
}

/// Delete, after a confirmation naming what stops working.
#[component]
fn DeletePanel(id: ApplicationId, name: String) -> impl IntoView {
    let delete = call_action::<()>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/applications", Default::default());
        }
    });
    let error = Signal::derive(move || delete.value().get().and_then(|r| r.err()));
    view! {
        <section class="card" aria-labelledby="delete-title">
            <h2 id="delete-title">"Delete application"</h2>
            <Confirm id="delete-question" ask="Delete application…" ask_class="danger"
                question=format!("Delete {name}?")
                detail=format!("Its tile disappears from every Dashboard, nobody can sign in to {name} with Roster any more, its client ID and secret stop working, and every role loses its permissions on it. This cannot be undone.")
                act="Delete application" pending=delete.pending() error=error
                confirm=move || { delete.dispatch(call(DeleteApplication { id })); } />
        </section>
    }
}

use super::template::{self, Template};
use super::*;
use crate::components::{
    call, call_action, ActionResult, CardForm, DataTable, EmailBodies, ErrorView, FormFooter, QueryTabs, Spinner,
};
use crate::error::AppError;
use leptos_router::hooks::use_params_map;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Server,
    Templates,
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <header class="page-header"><h1>"Settings"</h1></header>
        <QueryTabs label="Settings" path="/settings"
            tabs=&[(Tab::Server, "server", "Email server"), (Tab::Templates, "templates", "Email templates")]
            panel=|tab| match tab {
                Tab::Server => view! { <EmailServerTab /> }.into_any(),
                Tab::Templates => view! { <TemplatesTab /> }.into_any(),
            } />
    }
}

#[component]
fn EmailServerTab() -> impl IntoView {
    let save = call_action::<EmailServerSaved>();
    let revert = call_action::<()>();
    let settings = Resource::new(move || (save.version().get(), revert.version().get()), |_| email_server_settings());
    view! {
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading settings…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(s) => view! { <EmailServerForm s=s save=save revert=revert /> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn source_label(source: SettingsSource) -> &'static str {
    match source {
        SettingsSource::Database => "In force: the settings saved here",
        SettingsSource::Configuration => "In force: the configuration file or environment",
        SettingsSource::NotConfigured => "Not configured",
    }
}

#[component]
fn EmailServerForm(
    s: EmailServer,
    save: crate::components::CallAction<EmailServerSaved>,
    revert: crate::components::CallAction<()>,
) -> impl IntoView {
    let host = RwSignal::new(s.host.clone());
    let port = RwSignal::new(s.port.to_string());
    let security = RwSignal::new(s.security);
    let username = RwSignal::new(s.username.clone());
    let password = RwSignal::new(String::new());
    let remove_password = RwSignal::new(false);
    let from_name = RwSignal::new(s.from_name.clone());
    let from_address = RwSignal::new(s.from_address.clone());
    let invalid_port = RwSignal::new(None::<String>);
    let test_to = RwSignal::new(String::new());
    let test = call_action::<TestEmailOutcome>();
    let can_update = s.can_update;
    let password_hint = if !s.encryption_key_set {
        format!("No password can be saved on this node: it has no encryption key. {HOW_TO_SET_KEY}")
    } else if s.password_set {
        "A password is saved (it is never shown). Leave this empty to keep it unchanged, \
         as long as the host, port, security and user name stay the same."
            .to_string()
    } else if s.source == SettingsSource::Configuration {
        "No password is saved here. The configuration's password is not copied: type it to save it here.".to_string()
    } else {
        "No password is saved. Type one if the server asks for a user name and password.".to_string()
    };
    // The saved password is bound to its server: say so before a save removes it.
    let (saved_host, saved_port, saved_security, saved_username) =
        (s.host.clone(), s.port, s.security, s.username.clone());
    let password_saved = s.password_set;
    let password_will_be_removed = move || {
        if !password_saved || remove_password.get() || !password.get().is_empty() {
            return false;
        }
        let Ok(typed_port) = port.get().trim().parse::<u16>() else { return true };
        let (typed_host, typed_username) = (host.get(), username.get());
        let saved =
            SmtpAccount { host: &saved_host, port: saved_port, security: saved_security, username: &saved_username };
        !saved.same_as(&SmtpAccount {
            host: &typed_host,
            port: typed_port,
            security: security.get(),
            username: &typed_username,
        })
    };
    let saved_message = Signal::derive(move || {
        save.value().get().and_then(Result::ok).map(EmailServerSaved::message).unwrap_or_default().to_string()
    });
    let on_submit = move || {
        let Ok(p) = port.get_untracked().trim().parse::<u16>() else {
            invalid_port.set(Some("The port must be a number between 1 and 65535.".into()));
            return;
        };
        invalid_port.set(None);
        let typed = password.get_untracked();
        let change = if remove_password.get_untracked() {
            PasswordChange::Remove
        } else if typed.is_empty() {
            PasswordChange::Unchanged
        } else {
            PasswordChange::Set(typed)
        };
        save.dispatch(call(SaveEmailServer {
            settings: EmailServerInput {
                host: host.get_untracked(),
                port: p,
                security: security.get_untracked(),
                username: username.get_untracked(),
                password: change,
                from_name: from_name.get_untracked(),
                from_address: from_address.get_untracked(),
            },
        }));
    };
    let source = s.source;
    view! {
        <section class="card" aria-labelledby="source-title">
            <h2 id="source-title">{source_label(source)}</h2>
            <p class="settings-source" data-source=format!("{source:?}")>{s.source_detail.clone()}</p>
            {s.password_problem.clone().map(|p| view! { <p class="banner banner-warning" role="alert">{p}</p> })}
            {(source == SettingsSource::Database && can_update).then(|| {
                let label = if s.configuration_has_smtp { "Use the configuration's settings instead" } else { "Remove the saved settings" };
                view! {
                    <button type="button" on:click=move |_| { revert.dispatch(call(UseConfiguredEmailServer {})); }>
                        <Spinner when=revert.pending() />
                        {label}
                    </button>
                }
            })}
            <ActionResult value=revert.value() success="The saved settings were removed." />
        </section>
        <CardForm title="SMTP server" submit=on_submit>
            {(!can_update).then(|| view! {
                <p class="notice">"You can read these settings; changing them needs Settings Update."</p>
            })}
            <fieldset disabled=!can_update>
                <label for="smtp-host">"Host"</label>
                <input id="smtp-host" type="text" required autocomplete="off" placeholder="smtp.example.com"
                    prop:value=move || host.get() on:input=move |ev| host.set(event_target_value(&ev)) />
                <label for="smtp-port">"Port"</label>
                <input id="smtp-port" type="number" min="1" max="65535" required
                    prop:value=move || port.get() on:input=move |ev| port.set(event_target_value(&ev)) />
                <label for="smtp-security">"Security"</label>
                <select id="smtp-security" on:change=move |ev| {
                    if let Some(v) = SmtpSecurity::parse(&event_target_value(&ev)) { security.set(v); }
                }>
                    {SmtpSecurity::ALL.into_iter().map(|v| view! {
                        <option value=v.key() selected=move || security.get() == v>{v.label()}</option>
                    }).collect_view()}
                </select>
                <label for="smtp-username">"User name"</label>
                <input id="smtp-username" type="text" autocomplete="off"
                    prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev)) />
                <label for="smtp-password">"Password"</label>
                <input id="smtp-password" type="password" autocomplete="new-password"
                    placeholder=if s.password_set { "unchanged" } else { "" }
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                <p class="hint">{password_hint}</p>
                {move || password_will_be_removed().then(|| view! {
                    <p class="banner banner-warning password-binding" role="status">{PASSWORD_WILL_BE_REMOVED}</p>
                })}
                {s.password_set.then(|| view! {
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=move || remove_password.get()
                            on:change=move |ev| remove_password.set(event_target_checked(&ev)) />
                        "Remove the saved password"
                    </label>
                })}
                <label for="from-name">"From name"</label>
                <input id="from-name" type="text" autocomplete="off" placeholder="Roster"
                    prop:value=move || from_name.get() on:input=move |ev| from_name.set(event_target_value(&ev)) />
                <label for="from-address">"From address"</label>
                <input id="from-address" type="email" required placeholder="roster@example.com"
                    prop:value=move || from_address.get() on:input=move |ev| from_address.set(event_target_value(&ev)) />
            </fieldset>
            {move || invalid_port.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <ActionResult value=save.value() success=saved_message />
            {can_update.then(|| view! { <FormFooter pending=save.pending() label="Save" /> })}
        </CardForm>
        {can_update.then(|| view! {
            <CardForm title="Send a test email" submit=move || {
                test.dispatch(call(SendTestEmail { to: test_to.get_untracked() }));
            }>
                <p>"Sends one email now, through the settings in force (save changes first), and says what happened."</p>
                <label for="test-to">"Send to"</label>
                <input id="test-to" type="email" required placeholder="you@example.com"
                    prop:value=move || test_to.get() on:input=move |ev| test_to.set(event_target_value(&ev)) />
                {move || test.value().get().map(|r| match r {
                    Ok(TestEmailOutcome::Sent { to, server }) => view! {
                        <p class="success test-result" role="status">{format!("The test email was sent to {to} through {server}.")}</p>
                    }.into_any(),
                    Ok(TestEmailOutcome::Failed { reason }) => view! {
                        <p class="error test-result" role="alert">{format!("The test email was not sent. {reason}")}</p>
                    }.into_any(),
                    Err(e) => view! { <p class="error test-result" role="alert">{e.to_string()}</p> }.into_any(),
                })}
                <FormFooter pending=test.pending() label="Send test email" />
            </CardForm>
        })}
    }
}

#[component]
fn TemplatesTab() -> impl IntoView {
    let list = Resource::new(|| (), |_| email_templates());
    view! {
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading templates…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(list) => {
                        let rows = list.into_iter().map(|t| {
                            let href = format!("/settings/templates/{}", t.kind.key());
                            let (class, label) = if t.customized { ("badge badge-active", "Customized") } else { ("badge badge-queued", "Default") };
                            view! {
                                <tr>
                                    <td><a href=href>{t.kind.label()}</a></td>
                                    <td>{t.kind.description()}</td>
                                    <td><span class=class>{label}</span></td>
                                </tr>
                            }
                        }).collect_view();
                        view! {
                            <DataTable columns=&["Email", "When it is sent", "Wording"]>{rows}</DataTable>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
pub fn TemplateEditorPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.read().get("kind").unwrap_or_default();
    let list = Resource::new(|| (), |_| email_templates());
    view! {
        <p class="breadcrumb"><a href="/settings?tab=templates">"Email templates"</a></p>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading template…"</p> }>
            {move || Suspend::new(async move {
                let found = list.await.and_then(|list| {
                    let kind = parse_kind(&key())?;
                    list.into_iter()
                        .find(|t| t.kind == kind)
                        .ok_or_else(|| AppError::NotFound("This email template no longer exists.".into()))
                });
                match found {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(t) => view! { <TemplateEditor t=t /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TemplateEditor(t: TemplateView) -> impl IntoView {
    let kind = t.kind;
    let subject = RwSignal::new(t.template.subject.clone());
    let text = RwSignal::new(t.template.text.clone());
    let html = RwSignal::new(t.template.html.clone());
    let customized = RwSignal::new(t.customized);
    let save = call_action::<()>();
    let reset = call_action::<()>();
    let confirming = RwSignal::new(false);
    let can_update = t.can_update;
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            customized.set(true);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = reset.value().get() {
            let d = kind.default_template();
            subject.set(d.subject);
            text.set(d.text);
            html.set(d.html);
            customized.set(false);
        }
    });
    let current = move || Template { subject: subject.get(), text: text.get(), html: html.get() };
    let problems = Memo::new(move |_| template::problems(kind, &current()));
    let preview = Memo::new(move |_| template::render(kind, &current(), &kind.sample_values()).ok());
    let placeholders = kind
        .placeholders()
        .iter()
        .map(|p| {
            let subject_note =
                (!p.allowed_in_subject()).then_some(" Not in the subject: it can carry a one-time link.");
            view! { <dt><code>{format!("{{{{{}}}}}", p.name)}</code></dt><dd>{p.meaning}{subject_note}</dd> }
        })
        .collect_view();
    view! {
        <header class="page-header">
            <h1>{format!("{} email", kind.label())}</h1>
            {move || if customized.get() {
                view! { <span class="badge badge-active">"Customized"</span> }.into_any()
            } else {
                view! { <span class="badge badge-queued">"Default"</span> }.into_any()
            }}
        </header>
        <p>{kind.description()}</p>
        <section class="card" aria-labelledby="placeholders-title">
            <h2 id="placeholders-title">"Placeholders"</h2>
            <p>"Write a placeholder with double braces; each email puts its own value in. In the HTML body every value is escaped, so a name can never add markup."</p>
            <dl class="details placeholders">{placeholders}</dl>
        </section>
        <form class="card form template-form" aria-labelledby="template-title" on:submit=move |ev| {
            ev.prevent_default();
            save.dispatch(call(SaveEmailTemplate {
                kind: kind.key().to_string(),
                subject: subject.get_untracked(),
                body_text: text.get_untracked(),
                body_html: html.get_untracked(),
            }));
        }>
            <h2 id="template-title">"Template"</h2>
            <fieldset disabled=!can_update>
                <label for="template-subject">"Subject"</label>
                <input id="template-subject" type="text" required
                    prop:value=move || subject.get() on:input=move |ev| subject.set(event_target_value(&ev)) />
                <label for="template-text">"Plain text"</label>
                <textarea id="template-text" rows="12" class="code"
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                <label for="template-html">"HTML"</label>
                <textarea id="template-html" rows="12" class="code"
                    prop:value=move || html.get() on:input=move |ev| html.set(event_target_value(&ev))></textarea>
            </fieldset>
            {move || {
                let p = problems.get();
                (!p.is_empty()).then(|| view! {
                    <ul class="problems error" aria-label="Problems">
                        {p.into_iter().map(|x| view! { <li>{x}</li> }).collect_view()}
                    </ul>
                })
            }}
            <ActionResult value=save.value() success="Saved. The next email of this kind uses this wording, on every node." />
            <ActionResult value=reset.value() success="Reset to Roster's default wording." />
            {can_update.then(|| view! {
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || save.pending().get()>
                        <Spinner when=save.pending() />
                        "Save template"
                    </button>
                    <button type="button" on:click=move |_| confirming.set(true)>"Reset to default"</button>
                </div>
            })}
            {move || confirming.get().then(|| view! {
                <div class="confirm" role="alertdialog" aria-label="Confirm">
                    <p>"Replace this template with Roster's default wording? Your changes are lost."</p>
                    <button type="button" class="primary" on:click=move |_| {
                        reset.dispatch(call(ResetEmailTemplate { kind: kind.key().to_string() }));
                        confirming.set(false);
                    }>
                        <Spinner when=reset.pending() />
                        "Yes, reset"
                    </button>
                    <button type="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </div>
            })}
        </form>
        <section class="card preview" aria-labelledby="preview-title">
            <h2 id="preview-title">"Preview"</h2>
            <p class="hint">"With example values; updated as you type."</p>
            {move || match preview.get() {
                None => view! { <p class="empty">"Fix the problems above to see the preview."</p> }.into_any(),
                Some(r) => view! {
                    <dl class="details">
                        <dt>"Subject"</dt><dd class="preview-subject">{r.subject}</dd>
                    </dl>
                    <EmailBodies text=r.text html=r.html heading_level=3 />
                }.into_any(),
            }}
        </section>
    }
}

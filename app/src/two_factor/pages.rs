use super::*;
use crate::components::{
    call, call_action, ActionResult, AuthCard, CallAction, DataTable, ErrorView, FieldError, FormFooter, Spinner,
};
use crate::confirm::{confirmed, use_gate, ConfirmGate};
use crate::time::OptionalTime;

/// A browser-side action (it awaits `navigator.credentials`, which is not `Send`).
type LocalAction<I, O> = Action<I, Result<O, AppError>>;

/// Add a passkey named `name`: the server's options, the browser's
/// ceremony, the server's check. The recovery codes when it is the first factor.
async fn add_passkey(gate: Option<ConfirmGate>, name: String) -> Result<Vec<String>, AppError> {
    let started = confirmed(gate, || begin_passkey_registration(name.clone())).await?;
    let Some(credential) = super::browser::create(&started.options).await? else {
        return Err(AppError::Invalid("Adding the passkey was cancelled.".into()));
    };
    // Confirmed above; still, a ceremony longer than the fresh-sign-in time asks again.
    confirmed(gate, || finish_passkey_registration(started.ceremony.clone(), credential.clone())).await
}

/// The second step with a passkey; where to go next.
async fn passkey_second_step(next: String) -> Result<String, AppError> {
    let started = begin_passkey_second_step().await?;
    let Some(credential) = super::browser::get(&started.options, false).await? else {
        return Err(AppError::Invalid("Using the passkey was cancelled.".into()));
    };
    finish_passkey_second_step(started.ceremony, credential, Some(next)).await
}

/// Sign in with a passkey alone, from the button (`autofill` false) or from
/// the email field's suggestions; where to go next, or `None` when the
/// request was aborted (the button replaced the autofill request). The
/// autofill is offered quietly: until a passkey is picked, what goes wrong
/// (no passkeys at this address, none offered) is not the person's business.
pub async fn passkey_sign_in(next: String, autofill: bool) -> Result<Option<String>, AppError> {
    let chosen = async {
        let started = begin_passkey_sign_in().await?;
        let credential = super::browser::get(&started.options, autofill).await?;
        Ok::<_, AppError>(credential.map(|c| (started.ceremony, c)))
    };
    let (ceremony, credential) = match chosen.await {
        Ok(Some(chosen)) => chosen,
        Ok(None) => return Ok(None),
        Err(_) if autofill => return Ok(None),
        Err(e) => return Err(e),
    };
    finish_passkey_sign_in(ceremony, credential, Some(next)).await.map(Some)
}

/// Does the browser offer passkeys in the email field's autofill?
pub async fn passkey_autofill_available() -> bool {
    super::browser::autofill_available().await
}

/// The recovery codes just made, shown once with what to do with them.
#[component]
fn RecoveryCodes(codes: Vec<String>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="recovery-codes-title">
            <h2 id="recovery-codes-title">"Your recovery codes"</h2>
            <p>
                "Each code signs you in once when your passkey or authenticator app is not at hand. Keep them \
                 somewhere safe: they are shown only now."
            </p>
            <ul class="recovery-codes" aria-label="Recovery codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ul>
        </section>
    }
}

/// Account → Security: passkeys, the authenticator app and the recovery codes.
#[component]
pub fn SecurityTab() -> impl IntoView {
    let begin = call_action::<TotpSetup>();
    let enable = ServerAction::<EnableTotp>::new();
    let disable = ServerAction::<DisableTotp>::new();
    let regenerate = ServerAction::<GenerateRecoveryCodes>::new();
    let gate = use_gate();
    let add: LocalAction<String, Vec<String>> = Action::new_local(move |name: &String| add_passkey(gate, name.clone()));
    let rename = call_action::<()>();
    let remove = call_action::<()>();
    // Their version signals read with try_get: a server render abandoned
    // part-way disposes these actions before the resource lets go.
    let passkey_versions = [add.version(), rename.version(), remove.version()];
    let status = Resource::new(
        move || {
            (
                (enable.version().get(), disable.version().get(), regenerate.version().get()),
                passkey_versions.map(|v| v.try_get().unwrap_or_default()),
            )
        },
        |_| two_factor_status(),
    );
    let added = add.value();
    // Read with try_get in the closures below: a server render abandoned
    // part-way (the browser went away) disposes the actions first.
    let (enabled, regenerated) = (enable.value(), regenerate.value());
    let (begin_pending, disabled, disable_pending) = (begin.pending(), disable.value(), disable.pending());
    let regenerate_pending = regenerate.pending();
    let enabled_now = move || matches!(enabled.try_get().flatten(), Some(Ok(_)));
    view! {
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(s) => view! {
                        {(s.required && !s.has_factor()).then(|| view! {
                            <p class="error" role="alert">
                                "A role of yours requires two-factor sign-in. Add a passkey or set up an \
                                 authenticator app to go on using Roster."
                            </p>
                        })}
                        <PasskeysSection passkeys=s.passkeys.clone() add=add rename=rename remove=remove />
                        <section class="card" aria-labelledby="totp-title">
                            <h2 id="totp-title">"Authenticator app"</h2>
                            {if s.totp_enabled {
                                view! {
                                    <p>"On. Signing in asks for a code from your authenticator app after your password."</p>
                                }.into_any()
                            } else {
                                view! {
                                    <p>"Not set up. With an authenticator app, a stolen password is not enough to sign in as you."</p>
                                    <div class="actions">
                                        <button type="button" class="primary" on:click=move |_| { begin.dispatch(call(BeginTotpSetup {})); }>
                                            <Spinner when=begin_pending />
                                            "Set up an authenticator app"
                                        </button>
                                    </div>
                                }.into_any()
                            }}
                        </section>
                        {s.totp_enabled.then(|| view! {
                            <ActionForm action=disable attr:class="card form" attr:aria-labelledby="disable-totp-title">
                                <h2 id="disable-totp-title">"Remove the authenticator app"</h2>
                                <label for="disable_password">"Your password"</label>
                                <input id="disable_password" name="password" type="password" autocomplete="current-password" required />
                                <ActionResult value=disabled success="The authenticator app was removed." />
                                <FormFooter pending=disable_pending label="Remove" />
                            </ActionForm>
                        })}
                        {s.has_factor().then(|| view! {
                            <ActionForm action=regenerate attr:class="card form" attr:aria-labelledby="regenerate-title">
                                <h2 id="regenerate-title">"Recovery codes"</h2>
                                <p>{format!("{} unused recovery codes. New codes replace them all.", s.recovery_codes_left)}</p>
                                <label for="regenerate_password">"Your password"</label>
                                <input id="regenerate_password" name="password" type="password" autocomplete="current-password" required />
                                <ActionResult value=regenerated success="New recovery codes were made; the old ones no longer work." />
                                <FormFooter pending=regenerate_pending label="Generate new codes" />
                            </ActionForm>
                        })}
                    }.into_any(),
                }
            })}
        </Transition>
        // Outside the Suspend above (its actions' signals are read as it is made).
        <TotpSetupForm begin=begin enable=enable />
        {move || enabled_now().then(|| view! {
            <p class="success" role="status">"The authenticator app is on."</p>
        })}
        {move || match enabled.try_get().flatten() {
            Some(Ok(codes)) if !codes.is_empty() => Some(view! { <RecoveryCodes codes=codes /> }),
            _ => None,
        }}
        {move || match regenerated.try_get().flatten() {
            Some(Ok(codes)) => Some(view! { <RecoveryCodes codes=codes /> }),
            _ => None,
        }}
        {move || match added.try_get().flatten() {
            Some(Ok(codes)) if !codes.is_empty() => Some(view! { <RecoveryCodes codes=codes /> }),
            _ => None,
        }}
    }
}

/// The Passkeys card: the list (Rename; Remove asks for the password) and Add a passkey.
#[component]
fn PasskeysSection(
    passkeys: Vec<PasskeyInfo>,
    add: LocalAction<String, Vec<String>>,
    rename: CallAction<()>,
    remove: CallAction<()>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    // The passkey being renamed (true) or removed (false).
    let editing = RwSignal::new(None::<(i64, bool)>);
    let draft = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let (added, adding) = (add.value(), add.pending());
    let busy = move || adding.try_get().unwrap_or(false);
    let empty = passkeys.is_empty();
    let rows = passkeys
        .into_iter()
        .map(|p| {
            let id = p.id;
            let label = p.name.clone();
            let current = p.name.clone();
            view! {
                <tr>
                    <td>{p.name}</td>
                    <td><OptionalTime ms=Some(p.created_at) none="" /></td>
                    <td><OptionalTime ms=p.last_used_at none="Never" /></td>
                    <td class="row-actions">
                        <button type="button" aria-label=format!("Rename {label}") on:click=move |_| {
                            draft.set(current.clone());
                            editing.set(Some((id, true)));
                        }>"Rename"</button>
                        <button type="button" class="danger" aria-label=format!("Remove {label}") on:click=move |_| {
                            password.set(String::new());
                            editing.set(Some((id, false)));
                        }>"Remove…"</button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let edit_form = move || {
        editing.try_get().flatten().map(|(id, renaming)| {
            if renaming {
                view! {
                    <form class="form" aria-label="Rename the passkey" on:submit=move |ev| {
                        ev.prevent_default();
                        editing.set(None);
                        rename.dispatch(call(RenamePasskey { id, name: draft.get_untracked() }));
                    }>
                        <label for="passkey_rename">"New name"</label>
                        <input id="passkey_rename" type="text" maxlength="100" required bind:value=draft />
                        <div class="actions">
                            <button type="submit" class="primary">"Save name"</button>
                            <button type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                        </div>
                    </form>
                }
                .into_any()
            } else {
                view! {
                    <form class="form" aria-label="Remove the passkey" on:submit=move |ev| {
                        ev.prevent_default();
                        editing.set(None);
                        remove.dispatch(call(RemovePasskey { id, password: password.get_untracked() }));
                    }>
                        <label for="passkey_remove_password">"Your password, to remove this passkey"</label>
                        <input id="passkey_remove_password" type="password" autocomplete="current-password" required
                            bind:value=password />
                        <div class="actions">
                            <button type="submit" class="danger">"Remove passkey"</button>
                            <button type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                        </div>
                    </form>
                }
                .into_any()
            }
        })
    };
    view! {
        <section class="card" aria-labelledby="passkeys-title">
            <h2 id="passkeys-title">"Passkeys"</h2>
            <p>
                "A passkey signs you in with your device's screen lock (fingerprint, face or PIN), without your \
                 password, and counts as a second factor."
            </p>
            {if empty {
                view! { <p class="muted">"No passkeys yet."</p> }.into_any()
            } else {
                view! {
                    <DataTable columns=&["Name", "Added", "Last used", "Actions"]>{rows}</DataTable>
                }.into_any()
            }}
            {edit_form}
            <ActionResult value=rename.value() success="The passkey was renamed." />
            <ActionResult value=remove.value() success="The passkey was removed." />
            <form class="form" aria-label="Add a passkey" on:submit=move |ev| {
                ev.prevent_default();
                add.dispatch_local(name.get_untracked());
            }>
                <label for="passkey_name">"Name of the new passkey"</label>
                <input id="passkey_name" type="text" maxlength="100" placeholder="Work laptop" required
                    bind:value=name />
                <div class="actions">
                    <button type="submit" class="primary" disabled=busy>
                        <Spinner when=adding />
                        "Add a passkey"
                    </button>
                </div>
                <ActionResult value=added success="The passkey was added." />
            </form>
        </section>
    }
}

/// The QR code, the secret as text, and the code that enables the app.
#[component]
fn TotpSetupForm(begin: crate::components::CallAction<TotpSetup>, enable: ServerAction<EnableTotp>) -> impl IntoView {
    let (begun, enable_value, enable_pending) = (begin.value(), enable.value(), enable.pending());
    let enabled = move || matches!(enable_value.try_get().flatten(), Some(Ok(_)));
    move || {
        match begun.try_get().flatten().filter(|_| !enabled()) {
        None => None,
        Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()),
        Some(Ok(setup)) => Some(
            view! {
                <ActionForm action=enable attr:class="card form" attr:aria-labelledby="totp-setup-title">
                    <h2 id="totp-setup-title">"Scan the QR code"</h2>
                    <p>"Scan it with your authenticator app, or type the secret key into it. Then enter the code the app shows."</p>
                    <div class="qr-code" role="img" aria-label="QR code of the authenticator secret" inner_html=setup.qr_svg></div>
                    <p>"Secret key: " <code id="totp-secret" class="secret">{setup.secret}</code></p>
                    <label for="totp_code">"Code from the app"</label>
                    <input id="totp_code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                        pattern="[0-9 ]{6,7}" maxlength="7" required />
                    <ActionResult value=enable_value success="" />
                    <FormFooter pending=enable_pending label="Turn on" />
                </ActionForm>
            }
            .into_any(),
        ),
    }
    }
}

/// After a right password: the code from the authenticator app or a recovery code.
#[component]
pub fn SecondStepPage() -> impl IntoView {
    let action = ServerAction::<SignInSecondStep>::new();
    let query = leptos_router::hooks::use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    Effect::new(move |_| {
        if let Some(Ok(target)) = action.value().get() {
            let _ = window().location().set_href(&target);
        }
    });
    let value = action.value();
    let error = move || value.try_get().flatten().and_then(|r| r.err());
    let pending = action.pending();
    let with_passkey: LocalAction<String, String> =
        Action::new_local(|next: &String| passkey_second_step(next.clone()));
    Effect::new(move |_| {
        if let Some(Ok(target)) = with_passkey.value().get() {
            let _ = window().location().set_href(&target);
        }
    });
    let (passkey_value, passkey_pending) = (with_passkey.value(), with_passkey.pending());
    let passkey_error = move || passkey_value.try_get().flatten().and_then(|r| r.err());
    view! {
        <AuthCard id="second-step-title" title="Two-step sign-in">
            <p>"Use your passkey, or enter the 6-digit code your authenticator app shows or one of your recovery codes."</p>
            <div class="actions">
                <button type="button" id="second-step-passkey" disabled=move || passkey_pending.try_get().unwrap_or(false)
                    on:click=move |_| { with_passkey.dispatch_local(next()); }>
                    <Spinner when=passkey_pending />
                    "Use a passkey"
                </button>
            </div>
            <FieldError error=Signal::derive(passkey_error) />
            <ActionForm action=action>
                <input type="hidden" name="next" prop:value=next />
                <label for="code">"Code"</label>
                <input id="code" name="code" type="text" autocomplete="one-time-code" autocapitalize="none"
                    spellcheck="false" required />
                <FieldError error=Signal::derive(error) />
                <button type="submit" class="primary" disabled=move || pending.try_get().unwrap_or(false)>
                    <Spinner when=pending />
                    "Sign in"
                </button>
            </ActionForm>
            <p class="aside"><a href="/signin">"Start again"</a></p>
        </AuthCard>
    }
}

/// A user's second factors on their page in Users, and Reset two-factor.
/// The page makes `factors` (refetched after `reset`) outside its own
/// `Suspend`, so that it hydrates.
#[component]
pub fn UserTwoFactorPanel(
    id: crate::domain::UserId,
    factors: Resource<Result<UserFactors, AppError>>,
    reset: crate::components::CallAction<()>,
    /// The caller may change this person (Users Update, and the rule of
    /// `grants::check_may_manage`): only then is Reset offered.
    may_change: bool,
) -> impl IntoView {
    let can_reset = move || may_change;
    let confirming = RwSignal::new(false);
    view! {
        <section class="card" aria-labelledby="two-factor-title">
            <h2 id="two-factor-title">"Two-factor sign-in"</h2>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match factors.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(f) => view! {
                            <ul>
                                <li>{format!("Passkeys: {}", f.passkeys)}</li>
                                <li>{if f.totp_enabled { "Authenticator app: on" } else { "Authenticator app: not set up" }}</li>
                                <li>{format!("Unused recovery codes: {}", f.recovery_codes_left)}</li>
                                {f.required.then(|| view! { <li>"A role of theirs requires two-factor sign-in."</li> })}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
            {move || can_reset().then(|| view! {
                {move || if confirming.try_get().unwrap_or(false) {
                    view! {
                        <p role="alert">
                            "Reset removes their passkeys, authenticator app and recovery codes, signs out every \
                             session and emails them. Reset two-factor sign-in?"
                        </p>
                        <div class="actions">
                            <button type="button" class="danger" on:click=move |_| {
                                confirming.set(false);
                                reset.dispatch(call(ResetTwoFactor { id }));
                            }>
                                <Spinner when=reset.pending() />
                                "Yes, reset"
                            </button>
                            <button type="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                        </div>
                    }.into_any()
                } else {
                    view! {
                        <button type="button" class="danger" on:click=move |_| confirming.set(true)>"Reset two-factor…"</button>
                    }.into_any()
                }}
                <ActionResult value=reset.value() success="Two-factor sign-in was reset, their sessions ended, and they were emailed." />
            })}
        </section>
    }
}

/// A role's "Members must use a passkey or an authenticator app", on its
/// page in Roles. `editable`: the caller may change it.
#[component]
pub fn RoleTwoFactorPanel(id: crate::domain::RoleId, required: bool, editable: bool) -> impl IntoView {
    let save = call_action::<()>();
    let saving = save.pending();
    let checked = RwSignal::new(required);
    view! {
        <section class="card" aria-labelledby="role-two-factor-title">
            <h2 id="role-two-factor-title">"Two-factor sign-in"</h2>
            <label class="checkbox">
                <input type="checkbox" id="require_two_factor" disabled=!editable
                    prop:checked=move || checked.try_get().unwrap_or(false)
                    on:change=move |ev| checked.set(event_target_checked(&ev)) />
                "Members must use a passkey or an authenticator app"
            </label>
            <p class="muted">
                "A member without one is taken to set it up when they sign in, and can do nothing else until it is done."
            </p>
            {editable.then(|| view! {
                <div class="actions">
                    <button type="button" class="primary" disabled=move || saving.try_get().unwrap_or(false)
                        on:click=move |_| { save.dispatch(call(SetRoleTwoFactor { id, required: checked.get_untracked() })); }>
                        <Spinner when=save.pending() />
                        "Save"
                    </button>
                </div>
                <ActionResult value=save.value() success="Saved." />
            })}
        </section>
    }
}

use super::*;
use crate::components::{call, call_action, ActionResult, AuthCard, ErrorView, FieldError, FormFooter, Spinner};

/// The recovery codes just made, shown once with what to do with them.
#[component]
fn RecoveryCodes(codes: Vec<String>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="recovery-codes-title">
            <h2 id="recovery-codes-title">"Your recovery codes"</h2>
            <p>
                "Each code signs you in once when your authenticator app is not at hand. Keep them somewhere \
                 safe: they are shown only now."
            </p>
            <ul class="recovery-codes" aria-label="Recovery codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ul>
        </section>
    }
}

/// Account → Security: the authenticator app and the recovery codes.
#[component]
pub fn SecurityTab() -> impl IntoView {
    let begin = call_action::<TotpSetup>();
    let enable = ServerAction::<EnableTotp>::new();
    let disable = ServerAction::<DisableTotp>::new();
    let regenerate = ServerAction::<GenerateRecoveryCodes>::new();
    let status = Resource::new(
        move || (enable.version().get(), disable.version().get(), regenerate.version().get()),
        |_| two_factor_status(),
    );
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
                        {(s.required && !s.totp_enabled).then(|| view! {
                            <p class="error" role="alert">
                                "A role of yours requires two-factor sign-in. Set up an authenticator app to go on \
                                 using Roster."
                            </p>
                        })}
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
    view! {
        <AuthCard id="second-step-title" title="Two-step sign-in">
            <p>"Enter the 6-digit code your authenticator app shows, or one of your recovery codes."</p>
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
    id: i64,
    factors: Resource<Result<UserFactors, AppError>>,
    reset: crate::components::CallAction<()>,
) -> impl IntoView {
    use crate::registry::{AppId, Permission};
    let me = expect_context::<crate::shell::MeResource>();
    let can_reset = move || {
        me.try_get().flatten().and_then(Result::ok).flatten().is_some_and(|m| m.can(AppId::Users, Permission::Update))
    };
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
                            "Reset removes their authenticator app and recovery codes, signs out every session \
                             and emails them. Reset two-factor sign-in?"
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
pub fn RoleTwoFactorPanel(id: i64, required: bool, editable: bool) -> impl IntoView {
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

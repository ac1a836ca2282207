use super::{reset_info, setup_check, ForgotPassword, ResetPassword, Setup, SignIn};
use crate::components::{AuthCard, FieldError, PersonNameFields, Spinner};
use crate::password::{rules, TokenPasswordForm};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// After a successful sign-in or setup, load the destination as a full page so
/// every part of the shell starts from the new session.
fn go_to(target: &str) {
    let _ = window().location().set_href(target);
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    // An application's `login_hint` (OpenID Connect): the email to start with.
    let login_hint = move || query.read().get("login_hint").unwrap_or_default();
    Effect::new(move |_| {
        if let Some(Ok(target)) = action.value().get() {
            go_to(&target);
        }
    });
    let error = move || action.value().get().and_then(|r| r.err());
    // Sign in with a passkey: from the button, or from the email field's
    // autofill (conditional mediation) where the browser offers it.
    let passkey: Action<bool, Result<Option<String>, crate::error::AppError>> =
        Action::new_local(move |autofill: &bool| crate::two_factor::passkey_sign_in(next(), *autofill));
    Effect::new(move |_| {
        if let Some(Ok(Some(target))) = passkey.value().get() {
            go_to(&target);
        }
    });
    // Once, in the browser: offer passkeys in the autofill when it can.
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if crate::two_factor::passkey_autofill_available().await {
                passkey.dispatch_local(true);
            }
        });
    });
    let passkey_error = move || passkey.value().get().and_then(|r| r.err());
    view! {
        <AuthCard id="signin-title" title="Sign in">
            <ActionForm action=action>
                <input type="hidden" name="next" prop:value=next />
                <label for="email">"Email"</label>
                <input
                    id="email"
                    name="email"
                    type="email"
                    autocomplete="username webauthn"
                    required
                    value=login_hint
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                />
                <FieldError error=Signal::derive(error) />
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    <Spinner when=action.pending() />
                    "Sign in"
                </button>
            </ActionForm>
            <div class="actions passkey-sign-in">
                <button type="button" id="passkey-sign-in" on:click=move |_| { passkey.dispatch_local(false); }>
                    "Sign in with a passkey"
                </button>
            </div>
            <FieldError error=Signal::derive(passkey_error) />
            <p class="aside">
                <a href="/forgot-password">"Forgot password?"</a>
            </p>
        </AuthCard>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let valid = Resource::new(token, setup_check);
    let password_rules = rules();
    let action = ServerAction::<Setup>::new();
    let password = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(target)) = action.value().get() {
            go_to(&target);
        }
    });
    let error = move || action.value().get().and_then(|r| r.err());
    view! {
        <AuthCard id="setup-title" title="Set up Roster">
            <Suspense fallback=|| view! { <p>"Checking the setup link…"</p> }>
                {move || Suspend::new(async move {
                    match valid.await {
                        Ok(true) => view! {
                            <p>"Create the first Global administrator. This account can do everything in Roster."</p>
                            <ActionForm action=action>
                                <TokenPasswordForm token=Signal::derive(token) rules=password_rules password=password
                                    email=Signal::derive(String::new) error=Signal::derive(error) pending=action.pending()
                                    submit="Create administrator">
                                    <label for="email">"Email"</label>
                                    <input id="email" name="email" type="email" autocomplete="username" required />
                                    <PersonNameFields />
                                </TokenPasswordForm>
                            </ActionForm>
                        }
                        .into_any(),
                        Ok(false) => view! {
                            <p role="alert" class="error">
                                "This setup link is no longer valid. Restart Roster to get a new one, or "
                                <a href="/signin">"sign in"</a> "."
                            </p>
                        }
                        .into_any(),
                        Err(e) => view! { <p role="alert" class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </AuthCard>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    view! {
        <AuthCard id="forgot-title" title="Forgot password">
            {move || match action.value().get() {
                Some(Ok(answer)) => view! { <p class="success" role="status">{answer}</p> }.into_any(),
                other => view! {
                    <p>"Enter the email you sign in with. We will send you a link to choose a new password."</p>
                    <ActionForm action=action>
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required />
                        <FieldError error=Signal::derive(move || other.clone().and_then(|r| r.err())) />
                        <button type="submit" class="primary" disabled=move || action.pending().get()>
                            <Spinner when=action.pending() />
                            "Send reset link"
                        </button>
                    </ActionForm>
                }.into_any(),
            }}
            <p class="aside"><a href="/signin">"Back to Sign in"</a></p>
        </AuthCard>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let info = Resource::new(token, reset_info);
    let password_rules = rules();
    let action = ServerAction::<ResetPassword>::new();
    let password = RwSignal::new(String::new());
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    view! {
        <AuthCard id="reset-title" title="Choose a new password">
            <Suspense fallback=|| view! { <p role="status">"Checking your link…"</p> }>
                {move || Suspend::new(async move {
                    match (info.await, action.value().get()) {
                        (_, Some(Ok(()))) => view! {
                            <p class="success" role="status">"Your password was changed, and every session was signed out. Sign in with the new password."</p>
                            <p><a href="/signin">"Sign in"</a></p>
                        }.into_any(),
                        (Ok(email), _) => {
                            let for_email = email.clone();
                            view! {
                            <p>"New password for " <strong>{email}</strong> "."</p>
                            <ActionForm action=action>
                                <TokenPasswordForm token=Signal::derive(token) rules=password_rules password=password
                                    email=Signal::derive(move || for_email.clone()) error=error pending=action.pending() submit="Save" />
                            </ActionForm>
                        }.into_any()},
                        (Err(e), _) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </AuthCard>
    }
}

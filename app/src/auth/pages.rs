use super::{setup_check, Setup, SignIn};
use crate::components::{FieldError, Spinner};
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
    Effect::new(move |_| {
        if let Some(Ok(target)) = action.value().get() {
            go_to(&target);
        }
    });
    let error = move || action.value().get().and_then(|r| r.err());
    view! {
        <main class="auth-page">
            <section class="auth-card" aria-labelledby="signin-title">
                <p class="brand">"Roster"</p>
                <h1 id="signin-title">"Sign in"</h1>
                <ActionForm action=action>
                    <input type="hidden" name="next" prop:value=next />
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="username" required />
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
            </section>
        </main>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let valid = Resource::new(token, setup_check);
    let action = ServerAction::<Setup>::new();
    Effect::new(move |_| {
        if let Some(Ok(target)) = action.value().get() {
            go_to(&target);
        }
    });
    let error = move || action.value().get().and_then(|r| r.err());
    view! {
        <main class="auth-page">
            <section class="auth-card" aria-labelledby="setup-title">
                <p class="brand">"Roster"</p>
                <h1 id="setup-title">"Set up Roster"</h1>
                <Suspense fallback=|| view! { <p>"Checking the setup link…"</p> }>
                    {move || Suspend::new(async move {
                        match valid.await {
                            Ok(true) => view! {
                                <p>"Create the first Global administrator. This account can do everything in Roster."</p>
                                <ActionForm action=action>
                                    <input type="hidden" name="token" prop:value=token />
                                    <label for="email">"Email"</label>
                                    <input id="email" name="email" type="email" autocomplete="username" required />
                                    <label for="first_name">"First name"</label>
                                    <input id="first_name" name="first_name" type="text" autocomplete="given-name" />
                                    <label for="last_name">"Last name"</label>
                                    <input id="last_name" name="last_name" type="text" autocomplete="family-name" />
                                    <label for="password">"Password"</label>
                                    <input id="password" name="password" type="password" autocomplete="new-password" required />
                                    <p class="hint">"At least 12 characters. A few unrelated words make a strong password."</p>
                                    <label for="password_confirmation">"Confirm password"</label>
                                    <input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" required />
                                    <FieldError error=Signal::derive(error) />
                                    <button type="submit" class="primary" disabled=move || action.pending().get()>
                                        <Spinner when=action.pending() />
                                        "Create administrator"
                                    </button>
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
            </section>
        </main>
    }
}

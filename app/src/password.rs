//! New passwords in the browser: the fields every page that sets one shows
//! (setup, sign-up, reset, Account → Password), with the configured minimum
//! in the hint and the server's live strength feedback. The rules themselves
//! are `crate::password_policy` (server only).

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a new password must be, for the hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// The configured minimum length in characters.
    pub min_chars: usize,
}

/// Public: the rules a new password must meet.
#[app_macros::endpoint(public)]
pub async fn password_rules() -> Result<Rules, AppError> {
    Ok(Rules { min_chars: crate::server::policy::min_chars(&state) })
}

/// Public: live feedback for a new password (score 0–4 and what to improve).
/// `token` identifies whose password it is on the sign-up and reset pages; a
/// signed-in caller is used otherwise.
#[app_macros::endpoint(public(me))]
pub async fn password_strength(password: String, email: String) -> Result<StrengthReport, AppError> {
    let (email, first, last) = match me {
        Some(p) => (p.email, p.first_name, p.last_name),
        None => (email, String::new(), String::new()),
    };
    let s = crate::server::policy::strength(&state, &password, &email, &first, &last);
    Ok(StrengthReport { score: s.score, ok: s.ok, message: s.message, suggestions: s.suggestions })
}

/// What the strength meter shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrengthReport {
    /// 0 (very weak) to 4 (very strong).
    pub score: u8,
    /// Whether the password would be accepted.
    pub ok: bool,
    /// Why not, or what to improve.
    pub message: Option<String>,
    pub suggestions: Vec<String>,
}

/// The rules, loaded once per page: make it where the page starts (outside
/// any `Suspend`, so that it hydrates) and hand it to [`NewPasswordFields`].
pub type RulesResource = Resource<Result<Rules, AppError>>;

pub fn rules() -> RulesResource {
    Resource::new(|| (), |_| password_rules())
}

/// Password, its hint with the configured minimum, the strength meter, and
/// the confirmation: the fields named `password` and `password_confirmation`.
#[component]
pub fn NewPasswordFields(
    rules: RulesResource,
    password: RwSignal<String>,
    #[prop(into)] email: Signal<String>,
    #[prop(default = "Password")] label: &'static str,
    #[prop(default = "Confirm password")] confirm_label: &'static str,
) -> impl IntoView {
    view! {
        <label for="password">{label}</label>
        <input id="password" name="password" type="password" autocomplete="new-password" required
            on:input=move |ev| password.set(event_target_value(&ev)) />
        <Suspense>
            {move || Suspend::new(async move {
                rules.await.ok().map(|r| view! {
                    <p class="hint">
                        {format!("At least {} characters. A few unrelated words make a strong password.", r.min_chars)}
                    </p>
                })
            })}
        </Suspense>
        <StrengthMeter password=password email=email />
        <label for="password_confirmation">{confirm_label}</label>
        <input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" required />
    }
}

/// The form of a page opened from a link with a token (setup, sign-up,
/// reset): the token, the page's own fields if any, the new password fields,
/// the error and the submit button. The page wraps it in its `ActionForm`.
#[component]
pub fn TokenPasswordForm(
    #[prop(into)] token: Signal<String>,
    rules: RulesResource,
    password: RwSignal<String>,
    #[prop(into)] email: Signal<String>,
    #[prop(into)] error: Signal<Option<AppError>>,
    #[prop(into)] pending: Signal<bool>,
    submit: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    use crate::components::{FieldError, Spinner};
    view! {
        <input type="hidden" name="token" prop:value=move || token.get() />
        {children.map(|fields| fields())}
        <NewPasswordFields rules=rules password=password email=email />
        <FieldError error=error />
        <button type="submit" class="primary" disabled=move || pending.get()>
            <Spinner when=pending />
            {submit}
        </button>
    }
}

/// Live feedback on a new password from the server's policy (blocklist,
/// personal information, zxcvbn), as the user types.
#[component]
pub fn StrengthMeter(#[prop(into)] password: Signal<String>, #[prop(into)] email: Signal<String>) -> impl IntoView {
    let report = Resource::new(
        move || (password.get(), email.get()),
        |(p, e)| async move {
            if p.is_empty() {
                None
            } else {
                password_strength(p, e).await.ok()
            }
        },
    );
    view! {
        <Transition>
            {move || Suspend::new(async move {
                report.await.map(|r| {
                    let label = ["Very weak", "Weak", "Fair", "Strong", "Very strong"][r.score.min(4) as usize];
                    view! {
                        <div class="strength" aria-live="polite">
                            <meter min="0" max="4" low="2" high="3" optimum="4" value=r.score aria-label="Password strength"></meter>
                            <span class="strength-label">{format!("Strength: {label}")}</span>
                            {r.message.map(|m| view! { <p class=if r.ok { "hint" } else { "error" }>{m}</p> })}
                            <ul class="hint">{r.suggestions.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ul>
                        </div>
                    }
                })
            })}
        </Transition>
    }
}

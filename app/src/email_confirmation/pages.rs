//! The Confirm email page a confirmation link opens.

use super::*;
use crate::components::{AuthCard, FieldError, Spinner};
use leptos_router::hooks::use_params_map;

/// The page a confirmation link opens: confirm (signed in as the account's
/// owner), or sign in first and come back here.
#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let info = Resource::new(token, email_confirmation_info);
    let action = ServerAction::<ConfirmEmail>::new();
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    // A token is URL-safe base64: the path needs no escaping in the query.
    let sign_in_href = move || format!("/signin?next={PATH}{}", token());
    view! {
        <AuthCard id="confirm-email-title" title="Confirm your email address">
            <Suspense fallback=|| view! { <p role="status">"Checking your link…"</p> }>
                {move || Suspend::new(async move {
                    match (info.await, action.value().get()) {
                        (_, Some(Ok(email))) => view! {
                            <p class="success" role="status">
                                "Your email address is confirmed: " <strong>{email}</strong> "."
                            </p>
                            <p><a href="/">"Go to the Dashboard"</a></p>
                        }
                        .into_any(),
                        (Ok(PendingConfirmation { email, owner_signed_in: true }), _) => view! {
                            <p>"Confirm that " <strong>{email}</strong> " is your email address."</p>
                            <ActionForm action=action>
                                <input type="hidden" name="token" prop:value=token />
                                <FieldError error=error />
                                <button type="submit" class="primary" disabled=move || action.pending().get()>
                                    <Spinner when=action.pending() />
                                    "Confirm email address"
                                </button>
                            </ActionForm>
                        }
                        .into_any(),
                        (Ok(PendingConfirmation { email, owner_signed_in: false }), _) => view! {
                            <p>
                                "To confirm " <strong>{email}</strong>
                                ", sign in to the account it belongs to, with this address and your password."
                            </p>
                            <p><a class="button primary" href=sign_in_href>"Sign in to confirm"</a></p>
                        }
                        .into_any(),
                        (Err(e), _) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </AuthCard>
    }
}

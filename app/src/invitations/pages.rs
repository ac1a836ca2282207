//! The Sign up page an invitation link opens.

use super::*;
use crate::components::{AuthCard, PersonNameFields};
use crate::password::{rules, TokenPasswordForm};
use leptos_router::hooks::use_params_map;

/// The page an invitation link opens.
#[component]
pub fn SignUpPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let info = Resource::new(token, invitation_info);
    let password_rules = rules();
    let action = ServerAction::<SignUp>::new();
    let password = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(target)) = action.value().get() {
            let _ = window().location().set_href(&target);
        }
    });
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    view! {
        <AuthCard id="signup-title" title="Sign up">
            <Suspense fallback=|| view! { <p role="status">"Checking your invitation…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(Invited { email, first_name, last_name }) => { let for_email = email.clone(); view! {
                            <p>"Create a password for " <strong class="invited-email">{email}</strong> "."</p>
                            <ActionForm action=action>
                                <TokenPasswordForm token=Signal::derive(token) rules=password_rules password=password
                                    email=Signal::derive(move || for_email.clone()) error=error pending=action.pending() submit="Sign up">
                                    <PersonNameFields first=RwSignal::new(first_name) last=RwSignal::new(last_name) />
                                </TokenPasswordForm>
                            </ActionForm>
                        }
                        .into_any() },
                        Err(_) => view! {
                            <p class="error" role="alert">
                                "This invitation is no longer valid. Ask your administrator to send a new one."
                            </p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </AuthCard>
    }
}

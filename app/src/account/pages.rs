use super::*;
use crate::components::{
    call, call_action, ActionResult, DataTable, ErrorView, FormFooter, PersonNameFields, QueryTabs, Spinner,
};
use crate::password::{rules, NewPasswordFields};
use crate::time::LocalTime;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    General,
    Password,
    Sessions,
    Security,
}

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <header class="page-header"><h1>"Account"</h1></header>
        <QueryTabs label="Account" path="/account"
            tabs=&[(Tab::General, "general", "General"), (Tab::Password, "password", "Password"), (Tab::Sessions, "sessions", "Sessions"), (Tab::Security, "security", "Security")]
            panel=|tab| match tab {
                Tab::General => view! { <GeneralTab /> }.into_any(),
                Tab::Password => view! { <PasswordTab /> }.into_any(),
                Tab::Sessions => view! { <SessionsTab /> }.into_any(),
                Tab::Security => view! { <crate::two_factor::SecurityTab /> }.into_any(),
            } />
    }
}

#[component]
fn GeneralTab() -> impl IntoView {
    let save = ServerAction::<UpdateMyName>::new();
    let info = Resource::new(move || save.version().get(), |_| account_info());
    view! {
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match info.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(i) => view! {
                        <ActionForm action=save attr:class="card form">
                            <p>"Email: " <strong>{i.email}</strong></p>
                            <PersonNameFields first=RwSignal::new(i.first_name) last=RwSignal::new(i.last_name) />
                            <ActionResult value=save.value() success="Saved." />
                            <FormFooter pending=save.pending() label="Save" />
                        </ActionForm>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PasswordTab() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let password = RwSignal::new(String::new());
    let password_rules = rules();
    let success = Signal::derive(move || match action.value().get() {
        Some(Ok(0)) => "Your password was changed.".to_string(),
        Some(Ok(n)) => {
            format!("Your password was changed, and {n} other session(s) were signed out.")
        }
        _ => String::new(),
    });
    view! {
        <ActionForm action=action attr:class="card form">
            <label for="current_password">"Current password"</label>
            <input id="current_password" name="current_password" type="password" autocomplete="current-password" required />
            <NewPasswordFields
                rules=password_rules
                password=password
                email=Signal::derive(String::new)
                label="New password"
                confirm_label="Confirm new password"
            />
            <ActionResult value=action.value() success=success />
            <FormFooter pending=action.pending() label="Save" />
        </ActionForm>
    }
}

#[component]
fn SessionsTab() -> impl IntoView {
    let end = call_action::<u64>();
    let list = Resource::new(move || end.version().get(), |_| my_sessions());
    let success = Signal::derive(move || match end.value().get() {
        Some(Ok(n)) => format!("{n} other session(s) signed out."),
        _ => String::new(),
    });
    view! {
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading sessions…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(sessions) => {
                        let rows = sessions.into_iter().map(|s| view! {
                            <tr>
                                <td>{s.browser}{s.current.then(|| view! { " " <span class="badge badge-active">"This session"</span> })}</td>
                                <td>{s.ip}</td>
                                <td><LocalTime ms=s.created_at /></td>
                                <td><LocalTime ms=s.last_seen_at /></td>
                            </tr>
                        }).collect_view();
                        view! {
                            <DataTable columns=&["Browser", "IP", "Signed in", "Last seen"]>{rows}</DataTable>
                        }.into_any()
                    }
                }
            })}
        </Transition>
        <div class="actions">
            <button type="button" on:click=move |_| { end.dispatch(call(SignOutOtherSessions {})); }>
                <Spinner when=end.pending() />
                "Sign out other sessions"
            </button>
        </div>
        <ActionResult value=end.value() success=success />
    }
}

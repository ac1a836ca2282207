//! The application shell: navigation on the left, the User menu at the
//! bottom left, the current application's page on the right.

use crate::auth::{me, SignOut, SignedInUser};
use crate::components::ErrorView;
use crate::error::AppError;
use crate::registry::{AppId, APPLICATIONS};
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

/// The signed-in user, loaded once per page and shared with every page in the shell.
pub type MeResource = Resource<Result<Option<SignedInUser>, AppError>>;

#[component]
pub fn Shell() -> impl IntoView {
    let me: MeResource = Resource::new(|| (), |_| me());
    provide_context(me);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => view! {
                        <div class="layout">
                            <Sidebar me=me />
                            <main class="content">
                                <Outlet />
                            </main>
                        </div>
                    }
                    .into_any(),
                    Ok(None) => view! { <Redirect path="/signin" /> }.into_any(),
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Sidebar(me: SignedInUser) -> impl IntoView {
    let links = APPLICATIONS
        .iter()
        .filter(|a| me.apps.contains(&a.id))
        .map(|a| {
            view! {
                <li>
                    <A href=a.route>
                        <span class="icon" aria-hidden="true">{a.icon}</span>
                        {a.name}
                    </A>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="sidebar" aria-label="Applications">
            <A href="/" attr:class="brand">"Roster"</A>
            <ul class="nav">
                <li>
                    <A href="/" exact=true>
                        <span class="icon" aria-hidden="true">"⌂"</span>
                        "Dashboard"
                    </A>
                </li>
                {links}
            </ul>
            <UserMenu name=me.display_name email=me.email />
        </nav>
    }
}

/// Bottom-left menu: the user's name, Account and Sign out.
#[component]
fn UserMenu(name: String, email: String) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            let _ = window().location().set_href("/signin");
        }
    });
    view! {
        <details class="user-menu">
            <summary aria-label="User menu">
                <span class="avatar" aria-hidden="true">
                    {name.chars().next().unwrap_or('?').to_uppercase().to_string()}
                </span>
                <span class="user-name">{name.clone()}</span>
            </summary>
            <div class="user-menu-items">
                <p class="user-email">{email}</p>
                <a href="/account">"Account"</a>
                <ActionForm action=sign_out>
                    <button type="submit" class="link">"Sign out"</button>
                </ActionForm>
            </div>
        </details>
    }
}

/// The parent route of every application: its pages when the user's roles
/// grant View on it, otherwise a 403 page that says so. The server refuses the
/// application's calls anyway; this keeps the page from breaking.
///
/// `Shell` renders its outlet only once `me` has loaded, so this reads it
/// directly: a second Suspense here would break hydration.
#[component]
pub fn RequireView(app: AppId) -> impl IntoView {
    let me = expect_context::<MeResource>();
    let allowed = move || me.get().and_then(Result::ok).flatten().is_some_and(|m| m.apps.contains(&app));
    view! {
        <Show when=allowed fallback=move || view! { <AccessDenied app=app /> }>
            <Outlet />
        </Show>
    }
}

/// The 403 page for an application the user may not open. (On a page load
/// the session middleware sets the 403 status: the page streams before the
/// user is known here.)
#[component]
fn AccessDenied(app: AppId) -> impl IntoView {
    let name = app.app().name;
    view! {
        <section class="error-view" role="alert">
            <p class="error-code">"403 Forbidden"</p>
            <h1>"Access denied"</h1>
            <p>
                "You do not have permission to open " <strong>{name}</strong>
                ". None of your roles grants View on it; ask your administrator if you need it."
            </p>
            <p>
                <a href="/">"Back to the Dashboard"</a>
            </p>
        </section>
    }
}

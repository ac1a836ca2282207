//! The application shell: navigation on the left, the User menu at the
//! bottom left, the current application's page on the right.

use crate::auth::{me, SignOut};
use crate::components::ErrorView;
use crate::icons::{Icon, Svg};
use crate::registry::{AppId, Permission, APPLICATIONS};
use crate::theme::ThemeChooser;
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

pub use crate::me::MeResource;
use crate::me::SignedInUser;

#[component]
pub fn Shell() -> impl IntoView {
    let me: MeResource = Resource::new(|| (), |_| me());
    provide_context(me);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => view! { <Layout me=me /> }.into_any(),
                    Ok(None) => view! { <Redirect path="/signin" /> }.into_any(),
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The navigation beside the page; on small screens a drawer that the Menu
/// button opens. While it is open the page behind it is `inert` (focus stays
/// in the drawer), and Escape, the close button, the backdrop or following a
/// link closes it.
#[component]
fn Layout(me: SignedInUser) -> impl IntoView {
    // A role requires a second factor and none is set up: only Account →
    // Security until one is (the server refuses everything else anyway).
    if me.two_factor_setup_owed {
        let location = leptos_router::hooks::use_location();
        let navigate = leptos_router::hooks::use_navigate();
        Effect::new(move |_| {
            if location.pathname.get() != "/account" {
                navigate("/account?tab=security", Default::default());
            }
        });
    }
    let open = RwSignal::new(false);
    let menu_button = NodeRef::<leptos::html::Button>::new();
    let close = move || {
        if open.get_untracked() {
            open.set(false);
            // After the page behind stops being inert, which holds the Menu button.
            request_animation_frame(move || {
                if let Some(b) = menu_button.get_untracked() {
                    let _ = b.focus();
                }
            });
        }
    };
    let _escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            close();
        }
    });
    view! {
        <div class="layout" class:drawer-open=move || open.get()>
            <header class="topbar" inert=move || open.get()>
                <button
                    type="button"
                    class="menu-button"
                    node_ref=menu_button
                    aria-controls="sidebar"
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| open.set(true)
                >
                    <Svg icon=Icon::Menu />
                    "Menu"
                </button>
                <a href="/" class="brand">"Roster"</a>
            </header>
            <div class="backdrop" aria-hidden="true" on:click=move |_| close()></div>
            <Sidebar me=me open=open on_close=close />
            <main class="content" inert=move || open.get()>
                <Outlet />
            </main>
        </div>
    }
}

#[component]
fn Sidebar(
    me: SignedInUser,
    open: RwSignal<bool>,
    on_close: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // Focus goes round inside the open drawer: two sentinels at its ends send
    // Tab past the last control to the first, and Shift+Tab before the first
    // to the last.
    let first = NodeRef::<leptos::html::Button>::new();
    let last = NodeRef::<leptos::html::Summary>::new();
    // `try_get`: a server render abandoned part-way (the browser went away)
    // disposes the drawer's signal before these closures are dropped.
    let is_open = move || open.try_get().unwrap_or(false);
    let sentinel_tabindex = move || if is_open() { "0" } else { "-1" };
    let links = APPLICATIONS
        .iter()
        .filter(|a| me.apps.contains(&a.id))
        .map(|a| {
            view! {
                <li>
                    <A href=a.route>
                        <Svg icon=a.icon />
                        {a.name}
                    </A>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="sidebar" id="sidebar" aria-label="Applications">
            <span class="focus-sentinel" tabindex=sentinel_tabindex on:focus=move |_| {
                if let Some(el) = last.get() { let _ = el.focus(); }
            }></span>
            <div class="sidebar-head">
                <A href="/" attr:class="brand">"Roster"</A>
                <button
                    type="button"
                    class="drawer-close"
                    aria-label="Close navigation"
                    node_ref=first
                    tabindex=move || if is_open() { "0" } else { "-1" }
                    on:click=move |_| on_close()
                >
                    <Svg icon=Icon::Close />
                </button>
            </div>
            // Following a link closes the drawer (clicks on links bubble up here).
            <ul class="nav" on:click=move |_| open.set(false)>
                <li>
                    <A href="/" exact=true>
                        <Svg icon=Icon::Home />
                        "Dashboard"
                    </A>
                </li>
                {links}
            </ul>
            <UserMenu name=me.display_name email=me.email summary=last />
            <span class="focus-sentinel" tabindex=sentinel_tabindex on:focus=move |_| {
                if let Some(el) = first.get() { let _ = el.focus(); }
            }></span>
        </nav>
    }
}

/// Bottom-left menu: the user's name, Account and Sign out.
#[component]
fn UserMenu(name: String, email: String, summary: NodeRef<leptos::html::Summary>) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            let _ = window().location().set_href("/signin");
        }
    });
    view! {
        <details class="user-menu">
            <summary aria-label=format!("User menu: {name}") node_ref=summary>
                // The initial is drawn by CSS (::before), so that the visible
                // text is the name alone and the accessible name contains it.
                <span class="avatar" aria-hidden="true"
                    data-initial=name.chars().next().unwrap_or('?').to_uppercase().to_string()></span>
                <span class="user-name">{name.clone()}</span>
            </summary>
            <div class="user-menu-items">
                <p class="user-email">{email}</p>
                <a href="/account">"Account"</a>
                <ThemeChooser />
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

/// The parent route of a page whose only purpose needs more than View (New
/// user and Import need Users Create, New role Roles Create, …): its page when
/// the user's roles grant `permission` on `app`, otherwise a page that says
/// what is missing, so that nobody fills in a form the server would refuse.
/// Like [`RequireView`], it reads the `me` that `Shell` has already loaded.
#[component]
pub fn RequirePermission(app: AppId, permission: Permission) -> impl IntoView {
    let me = expect_context::<MeResource>();
    let allowed = move || me.get().and_then(Result::ok).flatten().is_some_and(|m| m.can(app, permission));
    view! {
        <Show when=allowed fallback=move || view! { <PermissionMissing app=app permission=permission /> }>
            <Outlet />
        </Show>
    }
}

#[component]
fn PermissionMissing(app: AppId, permission: Permission) -> impl IntoView {
    let name = app.builtin().map_or("this application", |a| a.name);
    let back = app.builtin().map_or("/", |a| a.route);
    view! {
        <section class="error-view" role="alert">
            <p class="error-code">"403 Forbidden"</p>
            <h1>"Access denied"</h1>
            <p>
                "This page needs the " <strong>{format!("{name} {}", permission.label())}</strong>
                " permission. None of your roles grants it; ask your administrator if you need it."
            </p>
            <p>
                <a href=back>{format!("Back to {name}")}</a>
            </p>
        </section>
    }
}

/// The 403 page for an application the user may not open. (On a page load
/// the session middleware sets the 403 status: the page streams before the
/// user is known here.)
#[component]
fn AccessDenied(app: AppId) -> impl IntoView {
    let name = app.builtin().map_or("this application", |a| a.name);
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

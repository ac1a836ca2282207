//! Roster's application crate: every page, every server function, and (with
//! the `ssr` feature) the services and persistence they call.
//!
//! One module per admin application. Server-only code lives in `server` and in
//! each application's `service` module, compiled only with `ssr`.

#![recursion_limit = "256"]

pub mod account;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod codec;
pub mod components;
pub mod confirm;
pub mod dashboard;
pub mod domain;
pub mod email_confirmation;
pub mod email_queue;
pub mod error;
pub mod icons;
pub mod invitations;
mod lazy_pages;
pub mod me;
pub mod password;
pub mod paths;
pub mod registry;
pub mod roles;
pub mod settings;
pub mod shell;
pub mod theme;
pub mod time;
pub mod two_factor;
pub mod users;

#[cfg(feature = "ssr")]
pub mod credentials;
#[cfg(feature = "ssr")]
pub mod grants;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod middleware;
#[cfg(feature = "ssr")]
pub mod oidc;
#[cfg(feature = "ssr")]
pub mod password_policy;
#[cfg(feature = "ssr")]
pub mod server;

use lazy_pages as lazy;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy};
use registry::{AppId, Permission};
use shell::{RequirePermission, RequireView};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // A fresh nonce per page, and the Content-Security-Policy that allows
    // only Roster's own scripts (the hydration script carries the nonce).
    #[cfg(feature = "ssr")]
    server::security::provide_csp();
    let theme = theme::current().key();
    // The stylesheet's name carries its content hash in a hashed build; the
    // shell is rendered only on the server, so only it needs to know it.
    #[cfg(feature = "ssr")]
    let stylesheet = server::assets::stylesheet_href(&options);
    #[cfg(not(feature = "ssr"))]
    let stylesheet = "/pkg/roster.css";
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.ico" />
                <link rel="stylesheet" id="leptos" href=stylesheet />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let gate = confirm::ConfirmGate::provide();
    view! {
        <Title text="Roster" />
        <Router>
            <Routes fallback=components::NotFound>
                <Route path=path!("/signin") view=auth::SignInPage />
                <Route path=path!("/signin/verify") view=two_factor::SecondStepPage />
                <Route path=path!("/setup/:token") view=auth::SetupPage />
                <Route path=path!("/signup/:token") view=invitations::SignUpPage />
                <Route path=path!("/forgot-password") view=auth::ForgotPasswordPage />
                <Route path=path!("/reset/:token") view=auth::ResetPasswordPage />
                <Route path=path!("/confirm-email/:token") view=email_confirmation::ConfirmEmailPage />
                <ParentRoute path=path!("") view=shell::Shell>
                    <Route path=path!("") view={Lazy::<lazy::Dashboard>::new()} />
                    <Route path=path!("/account") view={Lazy::<lazy::Account>::new()} />
                    // Each application states the permission its pages need.
                    <ParentRoute path=path!("/users") view=|| view! { <RequireView app=AppId::Users /> }>
                        <Route path=path!("") view={Lazy::<lazy::Users>::new()} />
                        <ParentRoute path=path!("") view=|| view! { <RequirePermission app=AppId::Users permission=Permission::Create /> }>
                            <Route path=path!("/new") view={Lazy::<lazy::NewUser>::new()} />
                            <Route path=path!("/import") view={Lazy::<lazy::ImportUsers>::new()} />
                        </ParentRoute>
                        <Route path=path!("/:id") view={Lazy::<lazy::UserDetail>::new()} />
                    </ParentRoute>
                    <ParentRoute path=path!("/roles") view=|| view! { <RequireView app=AppId::Roles /> }>
                        <Route path=path!("") view={Lazy::<lazy::Roles>::new()} />
                        <ParentRoute path=path!("") view=|| view! { <RequirePermission app=AppId::Roles permission=Permission::Create /> }>
                            <Route path=path!("/new") view={Lazy::<lazy::NewRole>::new()} />
                        </ParentRoute>
                        <Route path=path!("/:id") view={Lazy::<lazy::RoleDetail>::new()} />
                    </ParentRoute>
                    <ParentRoute path=path!("/email-queue") view=|| view! { <RequireView app=AppId::EmailQueue /> }>
                        <Route path=path!("") view={Lazy::<lazy::EmailQueue>::new()} />
                        <Route path=path!("/:id") view={Lazy::<lazy::EmailDetail>::new()} />
                    </ParentRoute>
                    <ParentRoute path=path!("/audit-log") view=|| view! { <RequireView app=AppId::AuditLog /> }>
                        <Route path=path!("") view={Lazy::<lazy::AuditLog>::new()} />
                    </ParentRoute>
                    <ParentRoute path=path!("/applications") view=|| view! { <RequireView app=AppId::Applications /> }>
                        <Route path=path!("") view={Lazy::<lazy::Applications>::new()} />
                        <ParentRoute path=path!("") view=|| view! { <RequirePermission app=AppId::Applications permission=Permission::Create /> }>
                            <Route path=path!("/new") view={Lazy::<lazy::NewApplication>::new()} />
                        </ParentRoute>
                        <Route path=path!("/:id") view={Lazy::<lazy::ApplicationDetail>::new()} />
                    </ParentRoute>
                    <ParentRoute path=path!("/settings") view=|| view! { <RequireView app=AppId::Settings /> }>
                        <Route path=path!("") view={Lazy::<lazy::Settings>::new()} />
                        <Route path=path!("/templates/:kind") view={Lazy::<lazy::TemplateEditor>::new()} />
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
        <confirm::dialog::ConfirmIdentityDialog gate />
    }
}

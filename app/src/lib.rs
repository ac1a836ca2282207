//! Roster's application crate: every page, every server function, and (with
//! the `ssr` feature) the services and persistence they call.
//!
//! One module per admin application. Server-only code lives in `server` and in
//! each application's `service` module, compiled only with `ssr`.

#![recursion_limit = "256"]

pub mod account;
pub mod auth;
pub mod components;
pub mod dashboard;
pub mod domain;
pub mod email_queue;
pub mod error;
pub mod registry;
pub mod shell;
pub mod users;

#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.ico" />
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
    view! {
        <Stylesheet id="leptos" href="/pkg/roster.css" />
        <Title text="Roster" />
        <Router>
            <Routes fallback=components::NotFound>
                <Route path=path!("/signin") view=auth::SignInPage />
                <Route path=path!("/setup/:token") view=auth::SetupPage />
                <Route path=path!("/signup/:token") view=users::SignUpPage />
                <ParentRoute path=path!("") view=shell::Shell>
                    <Route path=path!("") view=dashboard::DashboardPage />
                    <Route path=path!("/account") view=account::AccountPage />
                    <Route path=path!("/users") view=users::UsersPage />
                    <Route path=path!("/users/new") view=users::NewUserPage />
                    <Route path=path!("/users/:id") view=users::UserDetailPage />
                    <Route path=path!("/email-queue") view=email_queue::EmailQueuePage />
                    <Route path=path!("/email-queue/:id") view=email_queue::EmailDetailPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

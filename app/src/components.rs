//! Small UI pieces shared by every application.

use crate::error::AppError;
use leptos::prelude::*;

/// An error message under a form, announced to screen readers.
#[component]
pub fn FieldError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! {
                <p class="error" role="alert">
                    {e.to_string()}
                </p>
            }
        })
    }
}

/// A small spinner inside a button while its action runs.
#[component]
pub fn Spinner(#[prop(into)] when: Signal<bool>) -> impl IntoView {
    move || when.get().then(|| view! { <span class="spinner" aria-hidden="true"></span> })
}

/// The view for a failed server call.
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    let title = match &error {
        AppError::Forbidden => "Access denied",
        AppError::Unauthorized => "Signed out",
        AppError::NotFound(_) => "Not found",
        _ => "Something went wrong",
    };
    view! {
        <section class="error-view" role="alert">
            <h1>{title}</h1>
            <p>{error.to_string()}</p>
            {matches!(error, AppError::Unauthorized)
                .then(|| view! { <p><a href="/signin">"Sign in"</a></p> })}
            <p>
                <a href="/">"Back to the Dashboard"</a>
            </p>
        </section>
    }
}

/// Shown for addresses that match no page.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <main class="auth-page">
            <section class="auth-card error-view">
                <p class="brand">"Roster"</p>
                <h1>"Page not found"</h1>
                <p>"There is no page at this address. It may have moved, or the link may be mistyped."</p>
                <p>
                    <a href="/">"Go to the Dashboard"</a>
                </p>
            </section>
        </main>
    }
}

//! One sign-in form, as small as Leptos makes it: an email and a password
//! field, a button that calls a server function and is disabled while the
//! call runs, and the result shown beside it. Hydrated in the browser, with
//! Leptos's router and page title as Roster has them, or (feature `islands`)
//! as one island in a page the server renders.

use leptos::prelude::*;

#[server]
pub async fn sign_in(email: String, password: String) -> Result<String, ServerFnError> {
    let _ = (email, password);
    Ok(String::new())
}

fn form() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let result = action.value();
    view! {
        <ActionForm action>
            <label>"Email" <input type="email" name="email" /></label>
            <label>"Password" <input type="password" name="password" /></label>
            <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
        </ActionForm>
        <p role="alert">{move || result.get().map(|r| r.unwrap_or_else(|e| e.to_string()))}</p>
    }
}

#[cfg(not(feature = "islands"))]
mod page {
    use super::*;
    use leptos_meta::{provide_meta_context, Title};
    use leptos_router::components::{Route, Router, Routes};
    use leptos_router::path;

    #[component]
    fn SignInPage() -> impl IntoView {
        view! { <h1>"Sign in"</h1> {form()} <a href="/forgot-password">"Forgot password?"</a> }
    }

    #[component]
    pub fn App() -> impl IntoView {
        provide_meta_context();
        view! {
            <Title text="Roster" />
            <Router>
                <Routes fallback=|| "Page not found">
                    <Route path=path!("/signin") view=SignInPage />
                </Routes>
            </Router>
        }
    }

    #[wasm_bindgen::prelude::wasm_bindgen]
    pub fn hydrate() {
        console_error_panic_hook::set_once();
        leptos::mount::hydrate_body(App);
    }
}

#[cfg(feature = "islands")]
mod page {
    use super::*;

    #[island]
    pub fn SignInForm() -> impl IntoView {
        form()
    }

    #[wasm_bindgen::prelude::wasm_bindgen]
    pub fn hydrate() {
        console_error_panic_hook::set_once();
        leptos::mount::hydrate_islands();
    }
}

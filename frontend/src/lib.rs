//! The hydrate entry: the browser half of Roster.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The lazy routes (app/src/lazy_pages.rs) hydrate after their chunk has
    // loaded, which `hydrate_body` cannot wait for.
    leptos::mount::hydrate_lazy(app::App);
}

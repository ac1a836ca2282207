//! Account: the signed-in user's own details.

use crate::shell::MeResource;
use leptos::prelude::*;

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = expect_context::<MeResource>();
    view! {
        <h1>"Account"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                me.await.ok().flatten().map(|m| view! {
                    <dl class="details">
                        <dt>"Name"</dt>
                        <dd>{m.display_name}</dd>
                        <dt>"Email"</dt>
                        <dd>{m.email}</dd>
                    </dl>
                })
            })}
        </Transition>
    }
}

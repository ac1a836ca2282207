//! The Dashboard: one tile for each application the user may open.

use crate::registry::APPLICATIONS;
use crate::shell::MeResource;
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let me = expect_context::<MeResource>();
    view! {
        <h1>"Dashboard"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let apps = me.await.ok().flatten().map(|m| m.apps).unwrap_or_default();
                if apps.is_empty() {
                    return view! {
                        <p class="empty">
                            "No applications are available to you yet. Ask your administrator to give you a role."
                        </p>
                    }
                    .into_any();
                }
                let tiles = APPLICATIONS
                    .iter()
                    .filter(|a| apps.contains(&a.id))
                    .map(|a| {
                        view! {
                            <li>
                                <a class="tile" href=a.route data-app=a.key>
                                    <span class="tile-icon" aria-hidden="true">{a.icon}</span>
                                    <span class="tile-name">{a.name}</span>
                                    <span class="tile-description">{a.description}</span>
                                </a>
                            </li>
                        }
                    })
                    .collect_view();
                view! { <ul class="tiles" aria-label="Applications">{tiles}</ul> }.into_any()
            })}
        </Transition>
    }
}

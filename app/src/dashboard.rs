//! The Dashboard: one tile for each application the user may open.

use crate::icons::Svg;
use crate::registry::{AppId, APPLICATIONS};
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
                view! { <AppTiles apps=apps /> }.into_any()
            })}
        </Transition>
    }
}

/// The Dashboard's tiles for `apps`, in registry order. With `preview`, the
/// tiles are not links (Roles shows what a member of a role would see).
#[component]
pub fn AppTiles(apps: Vec<AppId>, #[prop(optional)] preview: bool) -> impl IntoView {
    let tiles = APPLICATIONS
        .iter()
        .filter(|a| apps.contains(&a.id))
        .map(|a| {
            let inner = view! {
                <span class="tile-icon"><Svg icon=a.icon /></span>
                <span class="tile-name">{a.name}</span>
                <span class="tile-description">{a.description}</span>
            };
            if preview {
                view! { <li><div class="tile" data-app=a.key>{inner}</div></li> }.into_any()
            } else {
                view! { <li><a class="tile" href=a.route data-app=a.key>{inner}</a></li> }.into_any()
            }
        })
        .collect_view();
    let label = if preview { "Applications a member sees" } else { "Applications" };
    view! { <ul class="tiles" aria-label=label>{tiles}</ul> }
}

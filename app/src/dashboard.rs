//! The Dashboard: one tile for each application the user may open.

use crate::applications::{my_applications, AppMark, AppTile};
use crate::icons::Svg;
use crate::me::MeResource;
use crate::registry::{AppId, APPLICATIONS};
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let me = expect_context::<MeResource>();
    let registered = Resource::new(|| (), |_| my_applications());
    view! {
        <header class="page-header">
            <h1>"Dashboard"</h1>
        </header>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let apps = me.await.ok().flatten().map(|m| m.apps).unwrap_or_default();
                // The organization's applications; if they cannot be read, Roster's own still show.
                let registered = registered.await.unwrap_or_default();
                if apps.is_empty() && registered.is_empty() {
                    return view! {
                        <p class="empty">
                            "No applications are available to you yet. Ask your administrator to give you a role."
                        </p>
                    }
                    .into_any();
                }
                view! { <AppTiles apps=apps registered=registered /> }.into_any()
            })}
        </Transition>
    }
}

/// The Dashboard's tiles for `apps`, in registry order, then the organization's
/// `registered` applications (each opens its launch URL). With `preview`, the
/// tiles are not links (Roles shows what a member of a role would see).
#[component]
pub fn AppTiles(
    apps: Vec<AppId>,
    #[prop(optional)] registered: Vec<AppTile>,
    #[prop(optional)] preview: bool,
) -> impl IntoView {
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
    let theirs = registered
        .into_iter()
        .map(|t| {
            let key = format!("app-{}", t.id);
            let inner = view! {
                <AppMark name=t.name.clone() mark=t.mark colour=t.colour />
                <span class="tile-name">{t.name}</span>
                <span class="tile-description">{t.description}</span>
            };
            if preview {
                view! { <li><div class="tile" data-app=key>{inner}</div></li> }.into_any()
            } else {
                view! { <li><a class="tile" href=t.launch_url data-app=key>{inner}</a></li> }.into_any()
            }
        })
        .collect_view();
    let label = if preview { "Applications a member sees" } else { "Applications" };
    view! { <ul class="tiles" aria-label=label>{tiles}{theirs}</ul> }
}

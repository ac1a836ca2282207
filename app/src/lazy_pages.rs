//! The pages that load their code only when first opened.
//!
//! With `cargo leptos build --split`, each application below becomes one
//! WebAssembly module of its own (`split_<application>.wasm`), fetched when
//! one of its pages is first opened: all the Users pages share one module,
//! all the Roles pages another, and so on. The sign-in, sign-up, reset and
//! setup pages, which a new person sees first, stay in the main module.
//!
//! One module per application rather than one per page (what
//! `#[lazy_route]` does): code shared by several pages of one application
//! (the Users list and a user's page, say) then belongs to that
//! application's module instead of a shared chunk, so opening a page fetches
//! fewer files. A page loaded directly still hydrates: the server names the
//! application's files in `<link rel="preload">` while it renders the page,
//! and the router awaits the module before hydrating. Once the Dashboard
//! shows a person's tiles, [`prefetch`] fetches the modules of those
//! applications in the background, so the first click on one does not wait.

use crate::registry::AppId;
use leptos::prelude::*;
use leptos_router::LazyRoute;

/// `application { Route => page component, … }`: one split module per
/// application, one lazy route per page.
///
/// In the browser (`hydrate`), each page's view is a split point in its
/// application's module (`wasm_split`, as `#[lazy]` does, but with the
/// application's name instead of a name of its own per function). The
/// route's `preload` is the view's own: the router awaits it before
/// hydrating, and the view then finds its module loaded and renders at once,
/// as hydration needs. On the server the view is a plain function that tells
/// the page to preload the application's files.
macro_rules! lazy_pages {
    ($($module:ident { $($route:ident => $page:path),+ $(,)? })*) => {$(
        mod $module {
            $(
            #[allow(non_snake_case)]
            pub mod $route {
                use leptos::prelude::*;

                #[cfg(feature = "hydrate")]
                #[::leptos::wasm_split::wasm_split($module, wasm_split_path = ::leptos::wasm_split, preload(preload))]
                pub fn $route(_this: super::super::$route) -> AnyView {
                    $page().into_any()
                }

                #[cfg(not(feature = "hydrate"))]
                pub async fn preload() {}

                #[cfg(not(feature = "hydrate"))]
                pub async fn $route(_this: super::super::$route) -> AnyView {
                    ::leptos::prefetch_lazy_fn_on_server(stringify!($module));
                    $page().into_any()
                }
            }
            )+
        }

        $(
        #[doc = concat!("`", stringify!($page), "`, in the `", stringify!($module), "` module, loaded when first opened.")]
        pub struct $route;

        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            async fn view(this: Self) -> AnyView {
                $module::$route::$route(this).await
            }

            async fn preload() {
                $module::$route::preload().await
            }
        }
        )+
    )*};
}

lazy_pages! {
    dashboard {
        Dashboard => crate::lazy_pages::PrefetchingDashboard,
    }
    account {
        Account => crate::account::AccountPage,
    }
    users {
        Users => crate::users::UsersPage,
        NewUser => crate::users::NewUserPage,
        ImportUsers => crate::users::ImportUsersPage,
        UserDetail => crate::users::UserDetailPage,
    }
    roles {
        Roles => crate::roles::RolesPage,
        NewRole => crate::roles::NewRolePage,
        RoleDetail => crate::roles::RoleDetailPage,
    }
    email_queue {
        EmailQueue => crate::email_queue::EmailQueuePage,
        EmailDetail => crate::email_queue::EmailDetailPage,
    }
    audit_log {
        AuditLog => crate::audit::AuditLogPage,
    }
    applications {
        Applications => crate::applications::ApplicationsPage,
        NewApplication => crate::applications::NewApplicationPage,
        ApplicationDetail => crate::applications::ApplicationDetailPage,
    }
    settings {
        Settings => crate::settings::SettingsPage,
        TemplateEditor => crate::settings::TemplateEditorPage,
    }
}

/// The Dashboard ([`DashboardPage`](crate::dashboard::DashboardPage)) that,
/// in the browser, once the tiles are known, and a moment after the page is
/// up, fetches the code of the applications they open ([`prefetch`]), while
/// the person reads the Dashboard, so the first click on one does not wait
/// for it. (`Shell` renders its pages only once `me` has loaded: it is here.)
#[component]
pub(crate) fn PrefetchingDashboard() -> impl IntoView {
    let me = expect_context::<crate::me::MeResource>();
    Effect::new(move |_| {
        if let Some(Ok(Some(me))) = me.get_untracked() {
            set_timeout(move || prefetch(&me.apps), std::time::Duration::from_millis(300));
        }
    });
    view! { <crate::dashboard::DashboardPage /> }
}

/// Fetch, in the background, the modules of the applications in `apps` and
/// Account's, so that opening one of them later does not wait for its code.
/// The Dashboard calls it once it shows the person's tiles: only the
/// applications their roles let them open, and nothing on the sign-in pages.
/// Each module is fetched once, whoever asks for it first (this or a route).
pub fn prefetch(apps: &[AppId]) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::task::spawn_local;
        spawn_local(<Account as LazyRoute>::preload());
        for app in apps {
            match app {
                AppId::Users => spawn_local(<Users as LazyRoute>::preload()),
                AppId::Roles => spawn_local(<Roles as LazyRoute>::preload()),
                AppId::EmailQueue => spawn_local(<EmailQueue as LazyRoute>::preload()),
                AppId::AuditLog => spawn_local(<AuditLog as LazyRoute>::preload()),
                AppId::Settings => spawn_local(<Settings as LazyRoute>::preload()),
                AppId::Applications => spawn_local(<Applications as LazyRoute>::preload()),
                // Opened at their own address, by single sign-on: no code here.
                AppId::Registered(_) => {}
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = apps;
}

//! The pages that load their code only when first opened.
//!
//! With `cargo leptos build --split`, each type below becomes its own
//! WebAssembly chunk (`#[lazy_route]`): the sign-in, sign-up, reset and setup
//! pages, which a new person sees first, are in the main module; each admin
//! application's pages, the Dashboard and Account are fetched when first
//! opened. A page loaded directly still hydrates: the router awaits the
//! chunk before hydrating it. The server renders them as before.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// `Type => page component`: a lazy route that renders the component.
macro_rules! lazy_pages {
    ($($route:ident => $page:path),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($page), "`, loaded when first opened.")]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                $page().into_any()
            }
        }
    )*};
}

lazy_pages! {
    Dashboard => crate::dashboard::DashboardPage,
    Account => crate::account::AccountPage,
    Users => crate::users::UsersPage,
    NewUser => crate::users::NewUserPage,
    ImportUsers => crate::users::ImportUsersPage,
    UserDetail => crate::users::UserDetailPage,
    Roles => crate::roles::RolesPage,
    NewRole => crate::roles::NewRolePage,
    RoleDetail => crate::roles::RoleDetailPage,
    EmailQueue => crate::email_queue::EmailQueuePage,
    EmailDetail => crate::email_queue::EmailDetailPage,
    AuditLog => crate::audit::AuditLogPage,
    Applications => crate::applications::ApplicationsPage,
    NewApplication => crate::applications::NewApplicationPage,
    ApplicationDetail => crate::applications::ApplicationDetailPage,
    Settings => crate::settings::SettingsPage,
    TemplateEditor => crate::settings::TemplateEditorPage,
}

//! Effective access: what a user may do, and which role grants it. Shown in
//! the Access section of a user's page in the Users application.

use super::*;
use crate::components::{DataTable, ErrorView};

/// `access` comes from [`user_access`]; the page creates it, outside any
/// Suspend, so that it hydrates.
#[component]
pub fn UserAccess(access: Resource<Result<EffectiveAccess, AppError>>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="access-title">
            <h2 id="access-title">"Access"</h2>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading access…"</p> }>
                {move || Suspend::new(async move {
                    match access.await {
                        Err(e) => view! { <ErrorView error=e /> }.into_any(),
                        Ok(a) if a.lines.is_empty() => view! {
                            <p class="empty">"No access: none of this user's roles grants anything. Give them a role under General."</p>
                        }
                        .into_any(),
                        Ok(a) => {
                            let intro = if a.is_admin {
                                "A Global administrator: every permission of every application, including applications added later."
                            } else {
                                "Every permission this user holds, and the roles that grant it. Changes apply at their next request."
                            };
                            let rows = a
                                .lines
                                .into_iter()
                                .map(|l| {
                                    view! {
                                        <tr>
                                            <td>{l.app_name}</td>
                                            <td>{l.permission.label()}</td>
                                            <td>{l.granted_by.join(", ")}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <p>{intro}</p>
                                <DataTable columns=&["Application", "Permission", "Granted by"] class="access-table">
                                    {rows}
                                </DataTable>
                            }
                            .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

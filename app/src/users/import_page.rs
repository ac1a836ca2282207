//! Users → Import: choose a CSV file, read the review (every row: new, already
//! a user, or an error with its reason; the counts on top), then invite. The
//! file is sent as it is and read on the server (`users::import`).

use super::*;
use crate::components::{DataTable, Spinner};
use leptos::web_sys::FormData;

fn verdict_badge(v: ImportVerdict) -> impl IntoView {
    let (class, label) = match v {
        ImportVerdict::New => ("badge badge-active", "New"),
        ImportVerdict::Existing => ("badge badge-expired", "Already a user"),
        ImportVerdict::AddRoles => ("badge badge-invited", "Already a user: roles added"),
        ImportVerdict::Error => ("badge badge-failed", "Error"),
    };
    view! { <span class=class>{label}</span> }
}

/// The rows of a review or a result.
fn rows_table(r: &ImportReview) -> impl IntoView {
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let name = format!("{} {}", row.first_name, row.last_name).trim().to_string();
            view! {
                <tr class:row-error=row.verdict == ImportVerdict::Error>
                    <td>{row.line}</td>
                    <td>{row.email.clone()}</td>
                    <td>{name}</td>
                    <td>{row.roles.join(", ")}</td>
                    <td>{verdict_badge(row.verdict)}</td>
                    <td>{row.note.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <DataTable columns=&["Line", "Email", "Name", "Roles", "Result", "Details"]>{rows}</DataTable>
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `data:` link to a CSV the browser saves.
fn data_link(csv: &str) -> String {
    let mut out = String::from("data:text/csv;charset=utf-8,");
    for b in csv.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[component]
pub fn ImportUsersPage() -> impl IntoView {
    let form = NodeRef::<leptos::html::Form>::new();
    let review = Action::new_local(|data: &FormData| review_import(data.clone().into()));
    let import = Action::new_local(|data: &FormData| run_import(data.clone().into()));
    let form_data = move || form.get().and_then(|f| FormData::new_with_form(&f).ok());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        import.value().set(None);
        if let Some(data) = form_data() {
            review.dispatch_local(data);
        }
    };
    let start_import = move |_| {
        if let Some(data) = form_data() {
            import.dispatch_local(data);
        }
    };
    // Another file or option: the review no longer applies.
    let changed = move |_| {
        review.value().set(None);
        import.value().set(None);
    };
    view! {
        <header class="page-header">
            <h1>"Import users"</h1>
            <a class="button" href="/users">"Back to Users"</a>
        </header>
        <p class="intro">
            "A CSV file with a header line naming its columns: email, first name, last name, roles. Roles by name, \
             several separated by ; or |. Comma or semicolon between columns, UTF-8 (with or without BOM), at most 2 MiB \
             and 10,000 people. Nothing is written until you confirm after the review."
        </p>
        <form class="import-form" node_ref=form on:submit=on_submit>
            <label>
                "CSV file"
                <input type="file" name="file" accept=".csv,text/csv" required on:change=changed />
            </label>
            <label class="checkbox">
                <input type="checkbox" name="add_roles" value="yes" on:change=changed />
                "Give people who are already users the file's roles they lack"
            </label>
            <div class="actions">
                <button type="submit" disabled=move || review.pending().get()>
                    <Spinner when=review.pending() />
                    "Review"
                </button>
            </div>
        </form>
        {move || review.pending().get().then(|| view! { <p class="loading" role="status">"Reading the file…"</p> })}
        {move || {
            if import.value().with(Option::is_some) || import.pending().get() {
                return None;
            }
            Some(match review.value().get()? {
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(r) => {
                    let to_invite = r.new;
                    let counts = format!(
                        "{}, {}, {}, {}.",
                        plural(r.new, "new person (will be invited)", "new people (will be invited)"),
                        plural(r.existing, "already a user (skipped)", "already users (skipped)"),
                        plural(r.add_roles, "user to give roles", "users to give roles"),
                        plural(r.errors, "error", "errors"),
                    );
                    let label = if r.add_roles > 0 {
                        format!("Invite {} and give roles to {}", plural(to_invite, "person", "people"), thousands(r.add_roles))
                    } else {
                        format!("Invite {}", plural(to_invite, "person", "people"))
                    };
                    let nothing = to_invite == 0 && r.add_roles == 0;
                    view! {
                        <section class="import-review" aria-label="Review">
                            <h2>"Review"</h2>
                            <p class="import-counts" role="status">{counts}</p>
                            {(r.errors > 0).then(|| view! {
                                <p class="hint">"Rows with errors are left out; fix them in the file and import it again."</p>
                            })}
                            <div class="actions">
                                <button type="button" class="primary" disabled=nothing on:click=start_import>{label}</button>
                            </div>
                            {rows_table(&r)}
                        </section>
                    }
                    .into_any()
                }
            })
        }}
        {move || import.pending().get().then(|| view! {
            <p class="loading" role="status"><Spinner when=Signal::from(true) />"Importing… the result appears here."</p>
        })}
        {move || {
            Some(match import.value().get()? {
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(r) => {
                    let done = format!(
                        "{} invited, {} given roles, {} skipped, {}.",
                        thousands(r.new),
                        thousands(r.add_roles),
                        thousands(r.existing),
                        plural(r.errors, "error", "errors"),
                    );
                    let errors = (!r.errors_csv.is_empty()).then(|| {
                        let href = data_link(&r.errors_csv);
                        view! {
                            <p>
                                <a class="button" href=href download="import-errors.csv">"Download the rows with errors (CSV)"</a>
                            </p>
                        }
                    });
                    view! {
                        <section class="import-result" aria-label="Result">
                            <h2>"Result"</h2>
                            <p class="success" role="status">{done}</p>
                            {errors}
                            <p><a href="/email-queue">"See the invitations in the Email queue"</a></p>
                            {rows_table(&r)}
                        </section>
                    }
                    .into_any()
                }
            })
        }}
    }
}

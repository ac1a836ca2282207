//! Small UI pieces shared by every application.

use crate::error::AppError;
use crate::icons::{Icon, Svg};
use leptos::prelude::*;
use server_fn::ServerFn;
use std::{future::Future, pin::Pin, sync::Arc};

/// One server function call, ready to run: what a [`CallAction`] dispatches.
pub type Call<T> = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, AppError>> + Send>> + Send + Sync>;

/// An action for server function calls that return `T`, dispatched from code
/// (not from an `ActionForm`, which needs a `ServerAction`).
///
/// It behaves as `ServerAction<S>` for those (same `value`, `pending`,
/// `version`), but its type depends only on the output: every page's
/// `Result<(), AppError>` actions share one copy of the action machinery in
/// the WebAssembly instead of one per server function.
pub type CallAction<T> = Action<Call<T>, Result<T, AppError>>;

/// A new [`CallAction`].
/// A call the server refuses for want of a fresh sign-in asks "Confirm it's
/// you" and is made again once the person has ([`crate::confirm`]).
pub fn call_action<T: Send + Sync + 'static>() -> CallAction<T> {
    let gate = crate::confirm::use_gate();
    Action::new(move |call: &Call<T>| {
        let call = call.clone();
        async move { crate::confirm::confirmed(gate, || call()).await }
    })
}

/// The call of server function `S` with these arguments, for [`CallAction::dispatch`].
pub fn call<S>(input: S) -> Call<S::Output>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
{
    Arc::new(move || Box::pin(input.clone().run_on_client()))
}

/// An error message under a form, announced to screen readers.
#[component]
pub fn FieldError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! {
                <p class="error" role="alert">
                    {e.to_string()}
                </p>
            }
        })
    }
}

/// A small spinner inside a button while its action runs.
#[component]
pub fn Spinner(#[prop(into)] when: Signal<bool>) -> impl IntoView {
    move || when.get().then(|| view! { <span class="spinner" aria-hidden="true"></span> })
}

/// The view for a failed server call.
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    let title = match &error {
        AppError::Forbidden | AppError::NotAllowed(_) => "Access denied",
        AppError::Unauthorized => "Signed out",
        AppError::NotFound(_) => "Not found",
        _ => "Something went wrong",
    };
    view! {
        <section class="error-view" role="alert">
            <h1>{title}</h1>
            <p>{error.to_string()}</p>
            {matches!(error, AppError::Unauthorized)
                .then(|| view! { <p><a href="/signin">"Sign in"</a></p> })}
            <p>
                <a href="/">"Back to the Dashboard"</a>
            </p>
        </section>
    }
}

/// The card every page outside the shell stands in (Sign in, Set up, Sign up,
/// Forgot password, Choose a new password): the brand, the heading, the content.
#[component]
pub fn AuthCard(id: &'static str, title: &'static str, children: Children) -> impl IntoView {
    view! {
        <main class="auth-page">
            <section class="auth-card" aria-labelledby=id>
                <p class="brand">"Roster"</p>
                <h1 id=id>{title}</h1>
                {children()}
            </section>
        </main>
    }
}

/// The end of a form: its submit button, with a spinner and disabled while the
/// action runs, and a Cancel link where the form is a page of its own.
#[component]
pub fn FormFooter(
    #[prop(into)] pending: Signal<bool>,
    label: &'static str,
    #[prop(optional)] cancel: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="actions">
            <button type="submit" class="primary" disabled=move || pending.get()>
                <Spinner when=pending />
                {label}
            </button>
            {cancel.map(|href| view! { <a href=href class="button">"Cancel"</a> })}
        </div>
    }
}

/// A form in a card that calls a server function instead of posting the
/// page: the browser's own submit is prevented and `submit` runs. With a
/// `title`, the card shows it as its heading, which names the form.
#[component]
pub fn CardForm<F>(#[prop(optional)] title: Option<&'static str>, submit: F, children: Children) -> impl IntoView
where
    F: Fn() + Send + Sync + 'static,
{
    let id = title.map(|t| format!("{}-title", t.to_lowercase().replace(' ', "-")));
    let heading = title.map(|t| view! { <h2 id=id.clone()>{t}</h2> });
    view! {
        <form class="card form" aria-labelledby=id on:submit=move |ev| {
            ev.prevent_default();
            submit();
        }>
            {heading}
            {children()}
        </form>
    }
}

/// An action that cannot be undone, behind a question: `ask` ("Delete role…")
/// opens the question (`question` in bold, then `detail`), whose button `act`
/// runs `confirm`; Cancel closes it. The error of the last try shows inside.
#[component]
pub fn Confirm<F>(
    /// Names the question for assistive technology ("delete-question").
    id: &'static str,
    ask: &'static str,
    #[prop(optional)] ask_class: &'static str,
    question: String,
    detail: String,
    act: &'static str,
    #[prop(into)] pending: Signal<bool>,
    #[prop(into)] error: Signal<Option<AppError>>,
    confirm: F,
    /// Close the question once `act` is clicked (when the result shows elsewhere).
    #[prop(optional)]
    close: bool,
) -> impl IntoView
where
    F: Fn() + Copy + Send + Sync + 'static,
{
    let confirming = RwSignal::new(false);
    view! {
        <Show
            when=move || confirming.get()
            fallback=move || view! {
                <button type="button" class=ask_class on:click=move |_| confirming.set(true)>{ask}</button>
            }
        >
            <div class="confirm" role="alertdialog" aria-labelledby=id>
                <p id=id><strong>{question.clone()}</strong>" "{detail.clone()}</p>
                <FieldError error=error />
                <div class="actions">
                    <button type="button" class="danger" disabled=move || pending.get() on:click=move |_| {
                        if close {
                            confirming.set(false);
                        }
                        confirm();
                    }>
                        <Spinner when=pending />
                        {act}
                    </button>
                    <button type="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </div>
            </div>
        </Show>
    }
}

/// The header of an application's list page: its title, the "New …" button
/// for those whose roles grant Create on `app`, and the page's one-line intro.
#[component]
pub fn ListHeader(
    title: &'static str,
    app: crate::registry::AppId,
    /// Where "New …" goes, and its label ("/roles/new", "New role").
    new: (&'static str, &'static str),
    intro: &'static str,
) -> impl IntoView {
    use crate::registry::Permission;
    let me = expect_context::<crate::me::MeResource>();
    let (href, label) = new;
    view! {
        <header class="page-header">
            <h1>{title}</h1>
            <Suspense>
                {move || Suspend::new(async move {
                    let can = me.await.ok().flatten().is_some_and(|m| m.can(app, Permission::Create));
                    can.then(|| view! { <a class="button primary" href=href>{label}</a> })
                })}
            </Suspense>
        </header>
        <p class="intro">{intro}</p>
    }
}

/// A labelled drop-down: the filters of a list, the bulk action and its role.
/// `all` ("All statuses", "Choose an action"), when given, comes first with
/// the empty value; then `options` (value, label), of which those in
/// `unavailable` are shown but cannot be chosen. Choosing one sets `value`
/// and calls `changed` (a list goes back to its first page).
#[component]
pub fn LabelledSelect<F>(
    label: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] all: Option<&'static str>,
    options: Vec<(String, String)>,
    #[prop(optional)] unavailable: Vec<String>,
    changed: F,
) -> impl IntoView
where
    F: Fn() + Copy + Send + Sync + 'static,
{
    let options = all.map(|text| (String::new(), text.to_string())).into_iter().chain(options);
    view! {
        <label>
            {label}
            <select prop:value=move || value.get() on:change=move |ev| {
                value.set(event_target_value(&ev));
                changed();
            }>
                {options.map(|(v, text)| {
                    let off = unavailable.contains(&v);
                    view! { <option value=v disabled=off>{text}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

/// Options for [`LabelledSelect`] from (value, label) pairs of static words.
pub fn word_options<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    pairs.into_iter().map(|(v, l)| (v.to_string(), l.to_string())).collect()
}

/// A page's tabs, kept in the address (`?tab=key`) so each can be linked and
/// reloaded: the tab bar, then `panel` of the chosen tab. The first tab is the
/// one shown without `?tab=` (its key is not used in its link).
#[component]
pub fn QueryTabs<T, F, V>(
    /// The accessible name of the tab bar ("Account").
    label: &'static str,
    /// The page's path ("/account").
    path: &'static str,
    /// Each tab: its value, its `?tab=` key and its label.
    tabs: &'static [(T, &'static str, &'static str)],
    panel: F,
) -> impl IntoView
where
    T: Copy + PartialEq + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let query = leptos_router::hooks::use_query_map();
    // try_with: a server render the browser abandoned disposes the query
    // before these closures stop being asked (a panic, seen in the tests' log).
    let current = move || {
        let key = query.try_with(|q| q.get("tab")).flatten();
        tabs.iter().find(|(_, k, _)| Some(*k) == key.as_deref()).unwrap_or(&tabs[0]).0
    };
    view! {
        <nav class="tabs" role="tablist" aria-label=label>
            {tabs
                .iter()
                .enumerate()
                .map(|(i, &(t, key, text))| {
                    let href = if i == 0 { path.to_string() } else { format!("{path}?tab={key}") };
                    view! {
                        <a href=href role="tab" aria-selected=move || (current() == t).to_string() class:active=move || current() == t>
                            {text}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        <div role="tabpanel">{move || panel(current())}</div>
    }
}

/// An email's HTML and plain-text bodies, one at a time with a switch (HTML
/// first). The HTML is shown in a sandboxed frame: no scripts, no forms, no
/// navigation, and the page's Content-Security-Policy applies inside it.
#[component]
pub fn EmailBodies(text: String, html: String, #[prop(optional)] heading_level: Option<u8>) -> impl IntoView {
    let show_html = RwSignal::new(true);
    let tab = move |is_html: bool, label: &'static str| {
        view! {
            <button type="button" role="tab" aria-selected=move || (show_html.get() == is_html).to_string()
                class:active=move || show_html.get() == is_html on:click=move |_| show_html.set(is_html)>
                {label}
            </button>
        }
    };
    let heading = "Body";
    view! {
        <div class="email-bodies">
            {match heading_level.unwrap_or(2) {
                3 => view! { <h3 class="email-bodies-title">{heading}</h3> }.into_any(),
                _ => view! { <h2 class="email-bodies-title">{heading}</h2> }.into_any(),
            }}
            <div class="tabs switch" role="tablist" aria-label="Body format">
                {tab(true, "HTML")}
                {tab(false, "Plain text")}
            </div>
            <div role="tabpanel">
                <iframe class="email-html" title="HTML body" sandbox="" srcdoc=html hidden=move || !show_html.get()></iframe>
                <pre class="email-body" hidden=move || show_html.get()>{text}</pre>
            </div>
        </div>
    }
}

/// First name and Last name, both optional, wherever a name is entered
/// (setup, Sign up, Account, New user, a user's page). The inputs carry `name`
/// for forms that post, and follow the signals for forms that call. A person
/// entering their own name gets the browser's autofill; `for_someone_else`
/// turns it off (New user, a user's page).
#[component]
pub fn PersonNameFields(
    #[prop(optional)] first: RwSignal<String>,
    #[prop(optional)] last: RwSignal<String>,
    #[prop(optional)] for_someone_else: bool,
) -> impl IntoView {
    let (given, family) = if for_someone_else { ("off", "off") } else { ("given-name", "family-name") };
    view! {
        <label for="first_name">"First name"</label>
        <input id="first_name" name="first_name" type="text" autocomplete=given
            prop:value=move || first.get() on:input=move |ev| first.set(event_target_value(&ev)) />
        <label for="last_name">"Last name"</label>
        <input id="last_name" name="last_name" type="text" autocomplete=family
            prop:value=move || last.get() on:input=move |ev| last.set(event_target_value(&ev)) />
    }
}

/// The table every list uses: column headings, then the rows the page renders.
#[component]
pub fn DataTable(
    columns: &'static [&'static str],
    /// A class beside `data-table`, for a table that looks different.
    #[prop(optional)]
    class: Option<&'static str>,
    /// A first heading cell before `columns` (the Users list's select-all checkbox).
    #[prop(default = None)]
    lead: Option<ViewFn>,
    children: Children,
) -> impl IntoView {
    let class = class.map_or("data-table".to_string(), |c| format!("data-table {c}"));
    let lead = lead.map(|l| view! { <th scope="col" class="select-cell">{l.run()}</th> });
    view! {
        // Focusable, so that a keyboard can scroll a table wider than the screen.
        <div class="table-scroll" tabindex="0" role="region" aria-label=format!("Table: {}", columns.join(", "))>
            <table class=class>
                <thead>
                    <tr>{lead}{columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}</tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}

/// A filter in force, shown as a chip that removes it.
#[derive(Clone)]
pub struct Chip {
    /// What the chip says, e.g. `Status: Invited`.
    pub label: String,
    pub remove: Callback<()>,
}

impl Chip {
    /// A chip for a filter that is set (not empty), clearing it on removal
    /// and then calling `then` (back to the first page).
    pub fn of(
        name: &str,
        value: RwSignal<String>,
        shown: impl Fn(&str) -> String,
        then: impl Fn() + Send + Sync + 'static,
    ) -> Option<Chip> {
        let v = value.get();
        (!v.trim().is_empty()).then(|| Chip {
            label: format!("{name}: {}", shown(&v)),
            remove: Callback::new(move |_| {
                value.set(String::new());
                then();
            }),
        })
    }
}

/// The filters above a list: each control with its label above it (the page
/// renders them as `children`), wrapping as the width needs, then the filters
/// in force as removable chips and Clear all.
#[component]
pub fn FilterBar(
    #[prop(into)] chips: Signal<Vec<Chip>>,
    /// Resets every filter (not the sort order).
    clear_all: Callback<()>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="filter-bar" role="search">
            <div class="filters">{children()}</div>
            {move || {
                let chips = chips.get();
                (!chips.is_empty()).then(|| {
                    let items = chips
                        .into_iter()
                        .map(|c| {
                            let name = format!("Remove filter {}", c.label);
                            view! {
                                <li class="chip">
                                    <span>{c.label}</span>
                                    <button type="button" aria-label=name on:click=move |_| c.remove.run(())>
                                        <Svg icon=Icon::Close />
                                    </button>
                                </li>
                            }
                        })
                        .collect_view();
                    view! {
                        <div class="active-filters">
                            <ul class="chips" aria-label="Filters in force">{items}</ul>
                            <button type="button" class="link" on:click=move |_| clear_all.run(())>"Clear all"</button>
                        </div>
                    }
                })
            }}
        </div>
    }
}

/// Keyset paging under a [`DataTable`]: back to the first page, and on to the
/// page after `next` when there is one. `cursor` is where the page starts
/// (`None`: the first page); the list's query reads it.
#[component]
pub fn KeysetPager<C: Clone + Send + Sync + 'static>(
    cursor: RwSignal<Option<C>>,
    next: Option<C>,
    first: &'static str,
    more: &'static str,
) -> impl IntoView {
    view! {
        <nav class="pager" aria-label="Pages">
            <button type="button" disabled=move || cursor.with(Option::is_none) on:click=move |_| cursor.set(None)>
                {first}
            </button>
            {next.map(|n| view! { <button type="button" on:click=move |_| cursor.set(Some(n.clone()))>{more}</button> })}
        </nav>
    }
}

/// Shown for addresses that match no page.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <main class="auth-page">
            <section class="auth-card error-view">
                <p class="brand">"Roster"</p>
                <h1>"Page not found"</h1>
                <p>"There is no page at this address. It may have moved, or the link may be mistyped."</p>
                <p>
                    <a href="/">"Go to the Dashboard"</a>
                </p>
            </section>
        </main>
    }
}

/// A message after an action: success in green, failure as an alert.
#[component]
pub fn ActionResult<T: Clone + Send + Sync + 'static>(
    #[prop(into)] value: Signal<Option<Result<T, AppError>>>,
    #[prop(into)] success: Signal<String>,
) -> impl IntoView {
    move || match value.get() {
        Some(Ok(_)) => Some(view! { <p class="success" role="status">{success.get()}</p> }.into_any()),
        Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()),
        None => None,
    }
}

use super::*;
use crate::components::{
    call, call_action, word_options, ActionResult, Chip, DataTable, EmailBodies, ErrorView, FilterBar, KeysetPager,
    LabelledSelect, Spinner,
};
use crate::registry::{AppId, Permission};
use crate::time::{LocalTime, OptionalTime};
use leptos_router::hooks::{use_navigate, use_params_map};

fn badge(status: EmailStatus) -> impl IntoView {
    let class = match status {
        EmailStatus::Sent => "badge badge-sent",
        EmailStatus::Failed | EmailStatus::NotSent => "badge badge-failed",
        _ => "badge badge-queued",
    };
    view! { <span class=class>{status.label()}</span> }
}

#[component]
pub fn EmailQueuePage() -> impl IntoView {
    let status = RwSignal::new(String::new());
    let before = RwSignal::new(None::<i64>);
    let page = Resource::new(move || (status.get(), before.get()), |(s, b)| list_emails(s, b));
    let reset = move || before.set(None);
    let status_label = |k: &str| {
        EmailStatus::FILTERS.into_iter().find(|s| s.key() == k).map_or(k.to_string(), |s| s.label().to_string())
    };
    let chips = Signal::derive(move || Chip::of("Status", status, status_label, reset).into_iter().collect::<Vec<_>>());
    let clear_all = Callback::new(move |_| {
        status.set(String::new());
        reset();
    });
    view! {
        <header class="page-header">
            <h1>"Email queue"</h1>
        </header>
        <FilterBar chips=chips clear_all=clear_all>
            <LabelledSelect label="Status" value=status all="All statuses" changed=reset
                options=word_options(EmailStatus::FILTERS.into_iter().map(|s| (s.key(), s.label()))) />
        </FilterBar>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading emails…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(p) => {
                        let banner = (!p.smtp_configured).then(|| view! {
                            <p class="banner banner-warning" role="status">
                                "Email sending is not configured: emails stay here, not sent. Open an email to copy its link."
                            </p>
                        });
                        if p.rows.is_empty() {
                            return view! { {banner} <p class="empty">"No emails here yet."</p> }.into_any();
                        }
                        let next = p.next;
                        let rows = p.rows.into_iter().map(|e| {
                            let href = format!("/email-queue/{}", e.id);
                            view! {
                                <tr>
                                    <td>{e.to}</td>
                                    <td><a href=href>{e.subject}</a></td>
                                    <td>{badge(e.status)}</td>
                                    <td>{e.attempts}</td>
                                    <td><LocalTime ms=e.created_at /></td>
                                    <td><OptionalTime ms=e.next_attempt_at none="—" /></td>
                                    <td class="error-cell">{e.last_error.unwrap_or_default()}</td>
                                </tr>
                            }
                        }).collect_view();
                        view! {
                            {banner}
                            <DataTable columns=&["To", "Subject", "Status", "Attempts", "Created", "Next attempt", "Last error"]>
                                {rows}
                            </DataTable>
                            <KeysetPager cursor=before next=next first="Newest" more="Older emails" />
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
pub fn EmailDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let resend = call_action::<()>();
    let delete = call_action::<()>();
    let confirming = RwSignal::new(None::<&'static str>);
    let detail = Resource::new(move || (id(), resend.version().get()), |(id, _)| get_email(id));
    let me = expect_context::<crate::me::MeResource>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/email-queue", Default::default());
        }
    });
    view! {
        <p class="breadcrumb"><a href="/email-queue">"Email queue"</a></p>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading email…"</p> }>
            {move || Suspend::new(async move {
                let me = me.await.ok().flatten();
                let may = |p: Permission| me.as_ref().is_some_and(|m| m.can(AppId::EmailQueue, p));
                match detail.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(d) => {
                        let eid = d.row.id;
                        // What the server would do: resend a failed or sent
                        // email, delete one not being sent, and leave an
                        // unsent password reset to administrators.
                        let can_resend = may(Permission::Update)
                            && !d.admin_only
                            && matches!(d.row.status, EmailStatus::Failed | EmailStatus::Sent);
                        let can_delete = may(Permission::Delete) && !d.admin_only && d.row.status != EmailStatus::Sending;
                        let kept = d.admin_only && (may(Permission::Update) || may(Permission::Delete));
                        let attempts = d.attempts.iter().enumerate().map(|(i, a)| view! {
                            <tr>
                                <td>{i + 1}</td>
                                <td><LocalTime ms=a.at /></td>
                                <td>{a.error.clone().unwrap_or_else(|| "Delivered".into())}</td>
                            </tr>
                        }).collect_view();
                        view! {
                            <header class="page-header">
                                <h1>{d.row.subject.clone()}</h1>
                                {badge(d.row.status)}
                            </header>
                            <section class="card" aria-labelledby="headers-title">
                                <h2 id="headers-title">"Headers"</h2>
                                <dl class="details">
                                    <dt>"To"</dt><dd class="email-to">{d.row.to.clone()}</dd>
                                    <dt>"Subject"</dt><dd>{d.row.subject.clone()}</dd>
                                    <dt>"Message-ID"</dt><dd>{format!("<{}>", d.message_id)}</dd>
                                    <dt>"Created"</dt><dd><LocalTime ms=d.row.created_at /></dd>
                                    <dt>"Attempts"</dt><dd>{format!("{} of {}", d.row.attempts, d.max_attempts)}</dd>
                                    <dt>"Next attempt"</dt><dd><OptionalTime ms=d.row.next_attempt_at none="—" /></dd>
                                    <dt>"Sent"</dt><dd><OptionalTime ms=d.sent_at none="—" /></dd>
                                    <dt>"Last error"</dt><dd>{d.row.last_error.clone().unwrap_or_else(|| "—".into())}</dd>
                                </dl>
                            </section>
                            {(can_resend || can_delete).then(|| view! {
                                <div class="actions">
                                    {can_resend.then(|| view! {
                                        <button type="button" on:click=move |_| confirming.set(Some("resend"))>"Resend"</button>
                                    })}
                                    {can_delete.then(|| view! {
                                        <button type="button" class="danger" on:click=move |_| confirming.set(Some("delete"))>"Delete"</button>
                                    })}
                                </div>
                            })}
                            {kept.then(|| view! {
                                <p class="notice">
                                    "Only a Global administrator can resend or delete a password-reset email that has not been sent."
                                </p>
                            })}
                            {move || confirming.get().map(|what| {
                                let (question, label) = if what == "resend" {
                                    ("Send this email again to its recipient?", "Yes, resend")
                                } else {
                                    ("Delete this email from the queue? This cannot be undone.", "Yes, delete")
                                };
                                view! {
                                    <div class="confirm" role="alertdialog" aria-label="Confirm">
                                        <p>{question}</p>
                                        <button type="button" class="primary" on:click=move |_| {
                                            if what == "resend" { resend.dispatch(call(ResendEmail { id: eid })); } else { delete.dispatch(call(DeleteEmail { id: eid })); }
                                            confirming.set(None);
                                        }>
                                            <Spinner when=Signal::derive(move || resend.pending().get() || delete.pending().get()) />
                                            {label}
                                        </button>
                                        <button type="button" on:click=move |_| confirming.set(None)>"Cancel"</button>
                                    </div>
                                }
                            })}
                            <ActionResult value=resend.value() success="The email was queued again." />
                            <ActionResult value=delete.value() success="The email was deleted." />
                            {d.links_hidden.clone().map(|why| view! { <p class="notice links-hidden">{why}</p> })}
                            <section class="card">
                                <EmailBodies text=d.body_text.clone() html=d.body_html.clone() />
                            </section>
                            <section class="card" aria-labelledby="attempts-title">
                                <h2 id="attempts-title">"Attempts"</h2>
                                {if d.attempts.is_empty() {
                                    view! { <p class="empty">"No attempts yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <DataTable columns=&["#", "When", "Result"]>{attempts}</DataTable>
                                    }.into_any()
                                }}
                            </section>
                        }
                        .into_any()
                    }
                }
            })}
        </Transition>
    }
}

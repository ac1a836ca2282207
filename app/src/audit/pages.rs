use super::*;
use crate::components::{Chip, DataTable, ErrorView, FilterBar, KeysetPager, LabelledSelect};
use crate::time::LocalTime;

/// `YYYY-MM-DD` (UTC) to Unix ms at the start of that day.
fn day_start_ms(s: &str) -> Option<i64> {
    let mut it = s.trim().split('-');
    let (y, m, d): (i64, i64, i64) = (it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let actor = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let before = RwSignal::new(None::<i64>);
    let page = Resource::new(
        move || AuditQuery {
            actor: actor.get(),
            target: target.get(),
            action: action.get(),
            from: day_start_ms(&from.get()),
            to: day_start_ms(&to.get()).map(|t| t + 86_400_000),
            before: before.get(),
        },
        list_audit,
    );
    let text_filter = move |label: &'static str, sig: RwSignal<String>| {
        view! {
            <label>
                {label}
                <input type="search" prop:value=move || sig.get() on:input=move |ev| { sig.set(event_target_value(&ev)); before.set(None); } />
            </label>
        }
    };
    let date_filter = move |label: &'static str, sig: RwSignal<String>| {
        view! {
            <label>
                {label}
                <input type="date" prop:value=move || sig.get() on:change=move |ev| { sig.set(event_target_value(&ev)); before.set(None); } />
            </label>
        }
    };
    let reset = move || before.set(None);
    let chips = Signal::derive(move || {
        [
            Chip::of("Actor", actor, str::to_string, reset),
            Chip::of("Target", target, str::to_string, reset),
            Chip::of("Action", action, str::to_string, reset),
            Chip::of("From", from, str::to_string, reset),
            Chip::of("To", to, str::to_string, reset),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
    });
    let clear_all = Callback::new(move |_| {
        for filter in [actor, target, action, from, to] {
            filter.set(String::new());
        }
        reset();
    });
    view! {
        <header class="page-header"><h1>"Audit log"</h1></header>
        <FilterBar chips=chips clear_all=clear_all>
            {text_filter("Actor", actor)}
            {text_filter("Target", target)}
            <LabelledSelect label="Action" value=action all="All actions" changed=move || before.set(None)
                options=action_options() />
            {date_filter("From", from)}
            {date_filter("To", to)}
        </FilterBar>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    Ok(p) if p.entries.is_empty() => view! { <p class="empty">"No entries match."</p> }.into_any(),
                    Ok(p) => {
                        let next = p.next;
                        let rows = p.entries.into_iter().map(|e| view! {
                            <tr>
                                <td><LocalTime ms=e.at /></td>
                                <td>{if e.actor_email.is_empty() { "—".to_string() } else { e.actor_email }}</td>
                                <td>{e.ip}</td>
                                <td><code>{e.action.as_str()}</code></td>
                                <td>{e.target_label}</td>
                                <td class="details-cell">{e.details}</td>
                            </tr>
                        }).collect_view();
                        view! {
                            <DataTable columns=&["When", "Actor", "IP", "Action", "Target", "Details"]>{rows}</DataTable>
                            <KeysetPager cursor=before next=next first="Newest" more="Older entries" />
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn day_start_is_utc_midnight() {
        assert_eq!(super::day_start_ms("1970-01-01"), Some(0));
        assert_eq!(super::day_start_ms("2000-03-01"), Some(951_868_800_000));
        assert_eq!(super::day_start_ms("2000-13-01"), None);
        assert_eq!(super::day_start_ms(""), None);
    }
}

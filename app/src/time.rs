//! Times as people read them. The server stores and sends UTC (Unix
//! milliseconds); it cannot know the viewer's time zone, so a page first shows
//! UTC and the browser then rewrites each time in the viewer's zone, relative
//! when recent ("3 minutes ago"), with the exact local time in the tooltip.

use leptos::prelude::*;

/// (year, month, day, hour, minute) in UTC from Unix milliseconds
/// (civil-from-days, Howard Hinnant's algorithm).
fn civil(ms: i64) -> (i64, i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d, rem / 3600, (rem % 3600) / 60)
}

/// `2026-11-27 07:10 UTC`: what the server renders, and what its messages say.
pub fn format_time(ms: i64) -> String {
    let (y, m, d, h, min) = civil(ms);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02} UTC")
}

/// `2026-11-27T07:10Z`, for `<time datetime>`.
pub fn iso_time(ms: i64) -> String {
    let (y, m, d, h, min) = civil(ms);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}Z")
}

/// "3 minutes ago", "in 2 hours", or `None` when `ms` is a day or more from `now`.
pub fn relative(ms: i64, now: i64) -> Option<String> {
    let diff = now - ms;
    let (n, unit) = match diff.unsigned_abs() / 1000 {
        s if s < 60 => return Some("just now".into()),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        _ => return None,
    };
    let units = if n == 1 { unit.to_string() } else { format!("{unit}s") };
    Some(if diff >= 0 { format!("{n} {units} ago") } else { format!("in {n} {units}") })
}

/// The exact local time in the browser (e.g. "29 Nov 2026, 23:16"), in the
/// browser's language and time zone.
#[cfg(feature = "hydrate")]
fn local_exact(ms: i64) -> String {
    use leptos::wasm_bindgen::JsValue;
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    date.to_locale_string("default", &options).into()
}

/// A time, in the viewer's zone once the page runs in the browser.
#[component]
pub fn LocalTime(ms: i64) -> impl IntoView {
    let text = RwSignal::new(format_time(ms));
    let exact = RwSignal::new(format_time(ms));
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let local = local_exact(ms);
            text.set(relative(ms, js_sys::Date::now() as i64).unwrap_or_else(|| local.clone()));
            exact.set(local);
        }
    });
    view! { <time datetime=iso_time(ms) title=move || exact.get()>{move || text.get()}</time> }
}

/// [`LocalTime`], or `none` ("Never", "—") when there is no time. Both are
/// an element holding a text, so that a page whose data changed between the
/// server's render and the browser's (an email sent meanwhile) still hydrates.
#[component]
pub fn OptionalTime(ms: Option<i64>, none: &'static str) -> impl IntoView {
    match ms {
        Some(ms) => view! { <LocalTime ms=ms /> }.into_any(),
        None => view! { <span>{none}</span> }.into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_and_iso_forms() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_798_354_200_000), "2026-12-27 06:50 UTC");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(format_time(1_795_000_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(iso_time(1_795_000_000_000), "2026-11-18T11:06Z");
    }

    #[test]
    fn recent_times_are_relative() {
        let now = 1_795_000_000_000;
        assert_eq!(relative(now - 5_000, now).as_deref(), Some("just now"));
        assert_eq!(relative(now - 60_000, now).as_deref(), Some("1 minute ago"));
        assert_eq!(relative(now - 3 * 60_000, now).as_deref(), Some("3 minutes ago"));
        assert_eq!(relative(now + 2 * 3_600_000, now).as_deref(), Some("in 2 hours"));
        assert_eq!(relative(now - 86_400_000, now), None);
    }
}

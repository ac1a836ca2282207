//! Light, dark, or the system's theme. The choice is a display preference,
//! kept per browser in the `roster_theme` cookie (not a secret, so readable by
//! the page) so that the server renders `<html data-theme>` already right and
//! no page flashes the wrong colours. The colours are in `style/main.css`.

use crate::icons::{Icon, Svg};
use leptos::prelude::*;

pub const COOKIE: &str = "roster_theme";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    System,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    /// The `data-theme` value and cookie value; `None` follows the system.
    pub fn key(self) -> Option<&'static str> {
        match self {
            Self::System => None,
            Self::Light => Some("light"),
            Self::Dark => Some("dark"),
        }
    }

    pub fn parse(value: &str) -> Self {
        Self::ALL.into_iter().find(|t| t.key() == Some(value)).unwrap_or(Self::System)
    }

    fn label(self) -> &'static str {
        match self {
            Self::System => "System",
            Self::Light => "Light",
            Self::Dark => "Dark",
        }
    }

    fn icon(self) -> Icon {
        match self {
            Self::System => Icon::Monitor,
            Self::Light => Icon::Sun,
            Self::Dark => Icon::Moon,
        }
    }
}

/// The theme this page was rendered with: on the server from the request's
/// cookie, in the browser from `<html data-theme>` (which the server set), so
/// both render the chooser alike.
pub fn current() -> Theme {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .and_then(|parts| {
                parts
                    .headers
                    .get_all(http::header::COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(';'))
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(name, _)| *name == COOKIE)
                    .map(|(_, value)| Theme::parse(value))
            })
            .unwrap_or(Theme::System)
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .document_element()
            .and_then(|root| root.get_attribute("data-theme"))
            .map_or(Theme::System, |v| Theme::parse(&v))
    }
}

/// Show `theme` now and remember it in this browser for a year.
#[cfg(feature = "hydrate")]
fn apply(theme: Theme) {
    let doc = document();
    if let Some(root) = doc.document_element() {
        let _ = match theme.key() {
            Some(k) => root.set_attribute("data-theme", k),
            None => root.remove_attribute("data-theme"),
        };
    }
    let value = theme.key().unwrap_or("system");
    let cookie = format!("{COOKIE}={value}; Path=/; Max-Age=31536000; SameSite=Lax");
    let _ = js_sys::Reflect::set(&doc, &"cookie".into(), &cookie.into());
}

/// System / Light / Dark, in the User menu.
#[component]
pub fn ThemeChooser() -> impl IntoView {
    let chosen = RwSignal::new(current());
    let options = Theme::ALL
        .into_iter()
        .map(|t| {
            view! {
                <label class="theme-option">
                    <input
                        type="radio"
                        name="theme"
                        value=t.key().unwrap_or("system")
                        prop:checked=move || chosen.get() == t
                        on:change=move |_| {
                            chosen.set(t);
                            #[cfg(feature = "hydrate")]
                            apply(t);
                        }
                    />
                    <Svg icon=t.icon() />
                    {t.label()}
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset class="theme-choice">
            <legend>"Theme"</legend>
            {options}
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_follow_the_system() {
        assert_eq!(Theme::parse("dark"), Theme::Dark);
        assert_eq!(Theme::parse("light"), Theme::Light);
        assert_eq!(Theme::parse("system"), Theme::System);
        assert_eq!(Theme::parse("<script>"), Theme::System);
    }
}

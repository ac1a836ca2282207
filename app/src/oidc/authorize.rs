//! The authorization request (OpenID Connect Core 1.0 §3.1.2.1), without
//! HTTP: what it asks for, and what answers it once its client and redirect
//! URI are known good: a code, a sign-in (again) first, Roster's "No access"
//! page, or an error at the redirect URI.
//!
//! - `prompt`: `none` (never a page: `login_required`, `interaction_required`
//!   or `access_denied` instead), `login` (sign in again), `select_account`
//!   (the Sign in page, where another account can be chosen: as `login`),
//!   `consent` (nothing to ask: the roles are the organization's consent).
//!   Another value, or `none` with another, is `invalid_request`.
//! - `max_age`: a sign-in older than this many seconds is done again
//!   (`max_age=0`: always, as `prompt=login`).
//! - `id_token_hint`: an ID token Roster issued to this application (expired
//!   or not); naming someone other than the person signed in, it asks for a
//!   sign-in (with `prompt=none`: `login_required`).
//! - `login_hint`: the email the Sign in page starts with.
//!
//! A new sign-in is asked for by sending the browser to Sign in with the
//! request, plus [`LOGIN_AFTER`] (when it was asked), as `next`. Back here, a
//! session authenticated since then answers `prompt=login` and `max_age`,
//! however long the sign-in took. Whoever holds the browser could edit that
//! number, as they could leave `prompt` out of the request: what an
//! application can rely on is `auth_time` in the ID token, always the time
//! the person last authenticated (their session's `authenticated_at`).

use super::claims::Scopes;
use super::service::{may_sign_in, Client};
use crate::domain::UserId;
use crate::registry::{AppId, Permission};
use crate::server::access::Principal;
use serde::Deserialize;

/// Added to the request sent on to Sign in: the time (ms) the new sign-in was asked for.
pub const LOGIN_AFTER: &str = "roster_login_after";

/// The longest `login_hint` passed on to the Sign in page (an email address is at most 254).
const MAX_LOGIN_HINT: usize = 320;

/// The query of `GET /oidc/authorize`.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub id_token_hint: Option<String>,
    pub login_hint: Option<String>,
    pub roster_login_after: Option<String>,
}

/// Why an authorization request gets no code (sent back to the redirect URI as `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRefusal {
    UnsupportedResponseType,
    InvalidScope,
    /// PKCE missing or not S256, an unknown `prompt`, a `max_age` that is not a number, a bad hint.
    InvalidRequest(&'static str),
    /// `prompt=none`, and a sign-in is needed first.
    LoginRequired,
    /// `prompt=none`, and the person must do something first (set up a second factor).
    InteractionRequired,
    /// `prompt=none`, and the person may not open the application (or it is disabled).
    AccessDenied,
}

impl AuthorizeRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidRequest(_) => "invalid_request",
            Self::LoginRequired => "login_required",
            Self::InteractionRequired => "interaction_required",
            Self::AccessDenied => "access_denied",
        }
    }
    pub fn description(&self) -> &'static str {
        match self {
            Self::UnsupportedResponseType => "Only the authorization code flow (response_type=code) is supported.",
            Self::InvalidScope => "The scope must include openid.",
            Self::InvalidRequest(why) => why,
            Self::LoginRequired => "The person must sign in to Roster (prompt=none).",
            Self::InteractionRequired => "The person must set up a second factor in Roster first (prompt=none).",
            Self::AccessDenied => "The person may not open this application.",
        }
    }
}

/// What `prompt` asks, reduced to what Roster does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    /// Show no page: answer with an error instead.
    pub none: bool,
    /// Sign in again (`login`, `select_account`).
    pub login: bool,
}

impl Prompt {
    pub fn parse(value: Option<&str>) -> Result<Self, AuthorizeRefusal> {
        let mut words: Vec<&str> = value.unwrap_or("").split(' ').filter(|w| !w.is_empty()).collect();
        words.sort_unstable();
        words.dedup();
        let mut p = Prompt::default();
        for w in &words {
            match *w {
                "none" => p.none = true,
                "login" | "select_account" => p.login = true,
                "consent" => {}
                _ => {
                    return Err(AuthorizeRefusal::InvalidRequest(
                        "Unknown prompt value: Roster knows none, login, consent and select_account.",
                    ))
                }
            }
        }
        if p.none && words.len() > 1 {
            return Err(AuthorizeRefusal::InvalidRequest("prompt=none cannot be combined with other values."));
        }
        Ok(p)
    }
}

/// An authorization request whose parameters are good.
#[derive(Debug, Clone)]
pub struct Checked {
    pub scopes: Scopes,
    pub prompt: Prompt,
    /// Seconds.
    pub max_age: Option<u64>,
    pub code_challenge: String,
}

/// Check the parts of a request that are answered at the redirect URI (the
/// client and the URI itself are checked before). PKCE with S256 is required
/// of every client, confidential ones too (OAuth 2.1; RFC 9700 §2.1.1).
pub fn check(q: &AuthorizeParams) -> Result<Checked, AuthorizeRefusal> {
    if q.response_type.as_deref() != Some("code") {
        return Err(AuthorizeRefusal::UnsupportedResponseType);
    }
    let scope = q.scope.as_deref().unwrap_or("");
    if !Scopes::has_openid(scope) {
        return Err(AuthorizeRefusal::InvalidScope);
    }
    let code_challenge = match (q.code_challenge.as_deref(), q.code_challenge_method.as_deref()) {
        (None, _) => {
            return Err(AuthorizeRefusal::InvalidRequest(
                "PKCE is required: send code_challenge with code_challenge_method=S256.",
            ))
        }
        (Some(c), Some("S256")) if is_challenge(c) => c.to_string(),
        (Some(_), Some("S256")) => {
            return Err(AuthorizeRefusal::InvalidRequest("The code_challenge is not a S256 challenge."))
        }
        (Some(_), _) => {
            return Err(AuthorizeRefusal::InvalidRequest("Only the S256 code_challenge_method is supported."))
        }
    };
    let prompt = Prompt::parse(q.prompt.as_deref())?;
    let max_age = match q.max_age.as_deref() {
        None => None,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(AuthorizeRefusal::InvalidRequest("max_age must be a number of seconds (0 or more).")),
        },
    };
    Ok(Checked { scopes: Scopes::parse(scope), prompt, max_age, code_challenge })
}

/// base64url of a SHA-256: 43 characters.
fn is_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What answers a good request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A code for the person signed in.
    Issue,
    /// Sign in (again) first, then back to the request.
    SignIn,
    /// Roster's own "No access" page.
    NoAccess,
    /// Set up the second factor a role requires first (Account, Security).
    SetUpSecondFactor,
    /// This error at the redirect URI.
    Refuse(AuthorizeRefusal),
}

/// Decide a good request. `hinted`: the person an `id_token_hint` names
/// (checked before); `login_after`: when a new sign-in was asked for (ms,
/// from [`LOGIN_AFTER`]); `now` in ms.
pub fn decide(
    who: Option<&Principal>,
    client: &Client,
    req: &Checked,
    hinted: Option<UserId>,
    login_after: Option<i64>,
    now: i64,
) -> Answer {
    let needs_sign_in = match who {
        None => true,
        Some(p) => {
            let signed_in_since_asked = login_after.is_some_and(|t| p.authenticated_at >= t);
            let too_old = req.max_age.is_some_and(|secs| {
                let limit = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
                secs == 0 || now.saturating_sub(p.authenticated_at) > limit
            });
            let someone_else = hinted.is_some_and(|sub| sub != p.user_id);
            !signed_in_since_asked && (req.prompt.login || too_old || someone_else)
        }
    };
    let refuse_or = |refusal: AuthorizeRefusal, otherwise: Answer| {
        if req.prompt.none {
            Answer::Refuse(refusal)
        } else {
            otherwise
        }
    };
    let Some(p) = who.filter(|_| !needs_sign_in) else {
        return refuse_or(AuthorizeRefusal::LoginRequired, Answer::SignIn);
    };
    if !may_sign_in(p, client) {
        // Setting up a second factor would help only someone who may open it.
        let may_open = client.enabled && p.can(AppId::Registered(client.id), Permission::View);
        return if p.two_factor_setup_owed && may_open {
            refuse_or(AuthorizeRefusal::InteractionRequired, Answer::SetUpSecondFactor)
        } else {
            refuse_or(AuthorizeRefusal::AccessDenied, Answer::NoAccess)
        };
    }
    Answer::Issue
}

/// The request to come back to after signing in: the same query with
/// [`LOGIN_AFTER`] set to `now`.
pub fn after_sign_in(path: &str, query: Option<&str>, now: i64) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k != LOGIN_AFTER {
            out.append_pair(&k, &v);
        }
    }
    out.append_pair(LOGIN_AFTER, &now.to_string());
    format!("{path}?{}", out.finish())
}

/// Where the browser signs in: the Sign in page, back to `next` after, its
/// email field holding `login_hint`.
pub fn sign_in_url(next: &str, login_hint: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("next", next);
    if let Some(hint) = login_hint.map(str::trim).filter(|h| !h.is_empty() && h.len() <= MAX_LOGIN_HINT) {
        q.append_pair("login_hint", hint);
    }
    format!("/signin?{}", q.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params() -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            scope: Some("openid email".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            ..AuthorizeParams::default()
        }
    }

    #[test]
    fn prompt_values() {
        assert_eq!(Prompt::parse(None), Ok(Prompt::default()));
        assert_eq!(Prompt::parse(Some("")), Ok(Prompt::default()));
        assert_eq!(Prompt::parse(Some("none")), Ok(Prompt { none: true, login: false }));
        assert_eq!(Prompt::parse(Some("none none")), Ok(Prompt { none: true, login: false }));
        assert_eq!(Prompt::parse(Some("login consent")), Ok(Prompt { none: false, login: true }));
        assert_eq!(Prompt::parse(Some("select_account")), Ok(Prompt { none: false, login: true }));
        assert_eq!(Prompt::parse(Some("consent")), Ok(Prompt::default()));
        for bad in ["none login", "consent none", "create", "Login", "none,login"] {
            assert_eq!(Prompt::parse(Some(bad)).unwrap_err().code(), "invalid_request", "{bad}");
        }
    }

    #[test]
    fn pkce_s256_is_required_of_every_request() {
        assert!(check(&params()).is_ok());
        let without = AuthorizeParams { code_challenge: None, code_challenge_method: None, ..params() };
        assert_eq!(check(&without).unwrap_err().code(), "invalid_request");
        let plain = AuthorizeParams { code_challenge_method: Some("plain".into()), ..params() };
        assert_eq!(check(&plain).unwrap_err().code(), "invalid_request");
        let no_method = AuthorizeParams { code_challenge_method: None, ..params() };
        assert_eq!(check(&no_method).unwrap_err().code(), "invalid_request");
    }

    #[test]
    fn max_age_is_a_number_of_seconds() {
        let with = |v: &str| check(&AuthorizeParams { max_age: Some(v.into()), ..params() });
        assert_eq!(with("0").unwrap().max_age, Some(0));
        assert_eq!(with("10000").unwrap().max_age, Some(10000));
        for bad in ["-1", "+5", "1.5", "", "ten", "99999999999999999999999"] {
            assert_eq!(with(bad).unwrap_err().code(), "invalid_request", "{bad}");
        }
    }

    #[test]
    fn the_way_back_carries_when_the_sign_in_was_asked() {
        let back = after_sign_in("/oidc/authorize", Some("client_id=a&prompt=login&roster_login_after=5"), 42);
        assert_eq!(back, "/oidc/authorize?client_id=a&prompt=login&roster_login_after=42");
        assert_eq!(
            sign_in_url(&back, Some("laura@example.com")),
            "/signin?next=%2Foidc%2Fauthorize%3Fclient_id%3Da%26prompt%3Dlogin%26roster_login_after%3D42\
             &login_hint=laura%40example.com"
        );
        assert_eq!(sign_in_url("/x", Some(" ")), "/signin?next=%2Fx");
    }
}

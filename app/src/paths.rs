//! Paths that code in more than one layer names: the session middleware lets
//! some through without a session or without an `Origin`, the services write
//! them into emails, the pages link to them.

/// A confirmation link: `/confirm-email/<token>` (`crate::email_confirmation`).
pub const CONFIRM_EMAIL: &str = "/confirm-email/";

/// The OpenID Connect endpoints (`crate::oidc`), under the public URL.
pub mod oidc {
    pub const AUTHORIZE: &str = "/oidc/authorize";
    pub const TOKEN: &str = "/oidc/token";
    pub const USERINFO: &str = "/oidc/userinfo";
    pub const JWKS: &str = "/oidc/jwks";
    pub const END_SESSION: &str = "/oidc/end_session";
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
}

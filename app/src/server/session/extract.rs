//! What plain axum handlers (the Users export, the OpenID Connect endpoints,
//! the REST API to come) extract to get the proofs server functions get from
//! their guard:
//!
//! - [`Authorized<A, P>`](Authorized) refuses as `authorized(A, P)` does:
//!   401 without a session, 403 without the permission or while a second
//!   factor is owed; the handler then lends its [`Access`](crate::server::access::Access)
//!   to the service.
//! - [`Caller`] is the signed-in person, if any, as `public(me)` sees them:
//!   for a handler that decides itself what a signed-out person gets.
//!
//! Both read what the middleware (`crate::middleware::authenticate`) put
//! into the request; a route outside it has no caller.

use super::endpoint::RequestAuth;
use crate::error::AppError;
use crate::server::access::{App, Authorized, Perm, Principal};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A plain handler's refusal: the error's status (as a server function
/// answers it) and its message, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub AppError);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, self.0.to_string()).into_response()
    }
}

fn request_principal(parts: &Parts) -> Option<Principal> {
    parts.extensions.get::<RequestAuth>().and_then(|auth| auth.0.clone())
}

impl<A, P, S> FromRequestParts<S> for Authorized<A, P>
where
    A: App + Send + Sync,
    P: Perm + Send + Sync,
    S: Send + Sync,
{
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refused> {
        let principal = request_principal(parts).ok_or(Refused(AppError::Unauthorized))?;
        principal.into_authorized().map_err(Refused)
    }
}

/// The signed-in caller, if any (also one who still owes a second factor).
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller(request_principal(parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{AppId, Permission};
    use crate::server::access::{apps, perms};

    fn principal(grants: &[(AppId, Permission)], owed: bool) -> Principal {
        Principal {
            user_id: crate::domain::UserId::new(7),
            session_hash: "hash".into(),
            email: "viewer@example.com".into(),
            first_name: "Vera".into(),
            last_name: "Viewer".into(),
            is_admin: false,
            grants: grants.iter().copied().collect(),
            two_factor_setup_owed: owed,
            authenticated_at: 0,
        }
    }

    /// A request as the middleware leaves it: `auth` is what it found
    /// (`None`: a route outside the middleware).
    fn parts(auth: Option<Option<Principal>>) -> Parts {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        if let Some(found) = auth {
            parts.extensions.insert(RequestAuth(found));
        }
        parts
    }

    async fn users_view(auth: Option<Option<Principal>>) -> Result<Authorized<apps::Users, perms::View>, Refused> {
        Authorized::from_request_parts(&mut parts(auth), &()).await
    }

    async fn refusal(auth: Option<Option<Principal>>) -> (StatusCode, String) {
        let response = users_view(auth).await.expect_err("refused").into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn authorized_refuses_as_a_server_function_does() {
        let signed_out = (StatusCode::UNAUTHORIZED, AppError::Unauthorized.to_string());
        assert_eq!(refusal(None).await, signed_out, "outside the middleware");
        assert_eq!(refusal(Some(None)).await, signed_out, "no session");
        let forbidden = (StatusCode::FORBIDDEN, AppError::Forbidden.to_string());
        assert_eq!(refusal(Some(Some(principal(&[], false)))).await, forbidden, "no roles");
        let other_app = principal(&[(AppId::AuditLog, Permission::View)], false);
        assert_eq!(refusal(Some(Some(other_app))).await, forbidden, "another application's View");
        let other_perm = principal(&[(AppId::Users, Permission::Update)], false);
        assert_eq!(refusal(Some(Some(other_perm))).await, forbidden, "Update without View is not View");
        let owing = principal(&[(AppId::Users, Permission::View)], true);
        let owed = (StatusCode::FORBIDDEN, AppError::TwoFactorSetupRequired.to_string());
        assert_eq!(refusal(Some(Some(owing))).await, owed, "a second factor owed");
    }

    #[tokio::test]
    async fn authorized_lends_the_proof_for_the_callers_permission() {
        let viewer = principal(&[(AppId::Users, Permission::View)], false);
        let authorized = users_view(Some(Some(viewer))).await.expect("Users View passes");
        assert_eq!(authorized.access().principal().email, "viewer@example.com");
        let mut admin = principal(&[], false);
        admin.is_admin = true;
        assert!(users_view(Some(Some(admin))).await.is_ok(), "an administrator holds every permission");
    }

    #[tokio::test]
    async fn caller_is_whoever_the_middleware_found() {
        let found = |auth| async move { Caller::from_request_parts(&mut parts(auth), &()).await.unwrap().0 };
        assert!(found(None).await.is_none());
        assert!(found(Some(None)).await.is_none());
        let owing = found(Some(Some(principal(&[], true)))).await.expect("a caller");
        assert!(owing.two_factor_setup_owed, "also someone who owes a second factor");
    }
}

//! Account: the signed-in user's own details, password and sessions. Every
//! function here is self-service: it acts only on the caller.

mod pages;
#[cfg(feature = "ssr")]
pub mod service;
pub mod types;

pub use pages::AccountPage;
pub use types::*;

use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "account_info", output = crate::codec::JsonOut)]
pub async fn account_info() -> Result<AccountDetails, AppError> {
    crate::signed_in!(|me, state| { service::info(&state, &me).await })
}

#[server(prefix = "/api", endpoint = "update_my_name", output = crate::codec::JsonOut)]
pub async fn update_my_name(first_name: String, last_name: String) -> Result<(), AppError> {
    crate::signed_in!(|me, state| {
        let name = crate::domain::PersonName::parse(&first_name, &last_name).map_err(AppError::Invalid)?;
        service::update_name(&state, &me, &name).await
    })
}

#[server(prefix = "/api", endpoint = "change_password", output = crate::codec::JsonOut)]
pub async fn change_password(
    current_password: String,
    password: String,
    password_confirmation: String,
) -> Result<u64, AppError> {
    crate::signed_in!(|me, state| {
        service::change_password(&state, &me, &current_password, &password, &password_confirmation).await
    })
}

#[server(prefix = "/api", endpoint = "my_sessions", output = crate::codec::JsonOut)]
pub async fn my_sessions() -> Result<Vec<SessionInfo>, AppError> {
    crate::signed_in!(|me, state| { service::sessions(&state, &me).await })
}

#[server(prefix = "/api", endpoint = "sign_out_other_sessions", output = crate::codec::JsonOut)]
pub async fn sign_out_other_sessions() -> Result<u64, AppError> {
    crate::signed_in!(|me, state| { service::end_other_sessions(&state, &me).await })
}

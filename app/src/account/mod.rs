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

#[app_macros::endpoint(signed_in)]
pub async fn account_info() -> Result<AccountDetails, AppError> {
    service::info(&state, &me).await
}

#[app_macros::endpoint(signed_in)]
pub async fn update_my_name(first_name: String, last_name: String) -> Result<(), AppError> {
    let name = crate::domain::PersonName::parse(&first_name, &last_name).map_err(AppError::Invalid)?;
    service::update_name(&state, &me, &name).await
}

#[app_macros::endpoint(signed_in)]
pub async fn change_password(
    current_password: String,
    password: String,
    password_confirmation: String,
) -> Result<u64, AppError> {
    service::change_password(&state, &me, &current_password, &password, &password_confirmation).await
}

#[app_macros::endpoint(signed_in)]
pub async fn my_sessions() -> Result<Vec<SessionInfo>, AppError> {
    service::sessions(&state, &me).await
}

#[app_macros::endpoint(signed_in)]
pub async fn sign_out_other_sessions() -> Result<u64, AppError> {
    service::end_other_sessions(&state, &me).await
}

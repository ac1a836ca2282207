//! The data of an invitation link: who was invited.

/// Who an invitation is for, as the Sign up page shows it: the address, and
/// the name New user was given (the new person may correct it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Invited {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

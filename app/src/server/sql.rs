//! A small builder for queries whose shape depends on input (filters, sort
//! order, keyset cursors), the column types that differ by dialect, and
//! [`Backend`], the one place that answers what differs between SQLite and
//! PostgreSQL. Values are always bound, never spliced.

use sqlx::any::{AnyArguments, AnyTypeInfo, AnyTypeInfoKind, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Decode, Type, ValueRef};

/// The database behind the pool. Every difference between the two dialects
/// that Roster's SQL meets is answered here, by one of the methods below;
/// other code never compares backends itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else {
            None
        }
    }

    /// The backend of a connection, for code handed a connection rather than the [`Db`](super::db::Db).
    pub fn of(conn: &AnyConnection) -> Self {
        if conn.backend_name() == "PostgreSQL" {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    /// Does the database let one writer in at a time? SQLite does: a write
    /// transaction (`BEGIN IMMEDIATE`) holds the one write lock, so writes
    /// are serialised, and long runs of writes keep everyone else waiting.
    /// PostgreSQL runs writers side by side, so a rule that reads before it
    /// writes locks what it read ([`Backend::row_locks`], [`Backend::advisory_locks`]).
    pub fn one_writer(self) -> bool {
        self == Self::Sqlite
    }

    /// Can a read lock the rows it reads (`FOR UPDATE`)? PostgreSQL only; on
    /// SQLite the write transaction is already the only writer.
    pub fn row_locks(self) -> bool {
        self == Self::Postgres
    }

    /// What ends a subquery that claims rows for one worker: `FOR UPDATE SKIP
    /// LOCKED` on PostgreSQL (rows another worker holds are passed over),
    /// nothing on SQLite (the statement is one write transaction).
    pub fn skip_locked(self) -> &'static str {
        match self {
            Self::Postgres => "FOR UPDATE SKIP LOCKED",
            Self::Sqlite => "",
        }
    }

    /// A statement that takes a transaction-scoped advisory lock on each
    /// `(space, key)`, in the order given (PostgreSQL; released at commit or
    /// rollback), or `None` where none is needed (SQLite, one writer).
    pub fn advisory_locks(self, args: &mut Args, keys: &[(i32, &str)]) -> Option<String> {
        if self != Self::Postgres || keys.is_empty() {
            return None;
        }
        // Every lock in one statement (a sign-in takes two). pg_advisory_xact_lock
        // returns void, which the Any driver cannot read: count the one row.
        let locks: Vec<String> = keys
            .iter()
            // The space is a constant of the caller's (an int4, as the
            // function wants; a bound i64 would be an int8).
            .map(|(space, key)| format!("pg_advisory_xact_lock({space}, hashtext({}))", args.text(*key)))
            .collect();
        Some(format!("SELECT COUNT(*) AS n FROM (SELECT {}) AS l", locks.join(", ")))
    }

    /// The aggregate that joins `expr` of a group's rows with `separator` (a
    /// placeholder): `group_concat` on SQLite, `string_agg` on PostgreSQL.
    pub fn string_agg(self, expr: &str, separator: &str) -> String {
        match self {
            Self::Sqlite => format!("group_concat({expr}, {separator})"),
            Self::Postgres => format!("string_agg({expr}, {separator})"),
        }
    }

    /// Is the Users search's full-text table `users_fts` (FTS5 trigrams) there?
    /// SQLite's migrations make it; PostgreSQL searches with `LIKE` on
    /// trigram indexes instead.
    pub fn has_users_fts(self) -> bool {
        self == Self::Sqlite
    }

    /// Are the indexes on the first character of `email_norm` and `name_sort`
    /// there (PostgreSQL migrations 0017, 0018)?
    pub fn has_initial_indexes(self) -> bool {
        self == Self::Postgres
    }
}

#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    /// An integer or NULL.
    OptInt(Option<i64>),
    Text(String),
}

#[derive(Debug, Default)]
pub struct Args(Vec<Arg>);

impl Args {
    /// Add a value and return its placeholder (`$N`).
    pub fn push(&mut self, a: Arg) -> String {
        self.0.push(a);
        format!("${}", self.0.len())
    }
    pub fn int(&mut self, v: i64) -> String {
        self.push(Arg::Int(v))
    }
    pub fn opt_int(&mut self, v: Option<i64>) -> String {
        self.push(Arg::OptInt(v))
    }
    pub fn text(&mut self, v: impl Into<String>) -> String {
        self.push(Arg::Text(v.into()))
    }

    /// The `VALUES` of a multi-row `INSERT`: `($1, $2), ($3, $4)`, one tuple
    /// per item, its placeholders made by `row`.
    pub fn rows<T>(&mut self, items: &[T], mut row: impl FnMut(&mut Self, &T) -> Vec<String>) -> String {
        let tuples: Vec<String> = items.iter().map(|item| format!("({})", row(self, item).join(", "))).collect();
        tuples.join(", ")
    }

    /// Bind every value, in order, to a query of any of sqlx's three shapes
    /// (`query`, `query_as`, `query_scalar`).
    pub fn bind<'q, Q: Bind<'q>>(&self, mut q: Q) -> Q {
        for a in &self.0 {
            q = match a {
                Arg::Int(v) => q.bind_int(*v),
                Arg::OptInt(v) => q.bind_opt_int(*v),
                Arg::Text(v) => q.bind_text(v.clone()),
            };
        }
        q
    }
}

/// What [`Args::bind`] needs of a query.
pub trait Bind<'q> {
    fn bind_int(self, v: i64) -> Self;
    fn bind_opt_int(self, v: Option<i64>) -> Self;
    fn bind_text(self, v: String) -> Self;
}

macro_rules! bind_for {
    ($([$($generics:tt)*] $ty:ty),*) => {$(
        impl<$($generics)*> Bind<'q> for $ty {
            fn bind_int(self, v: i64) -> Self {
                self.bind(v)
            }
            fn bind_opt_int(self, v: Option<i64>) -> Self {
                self.bind(v)
            }
            fn bind_text(self, v: String) -> Self {
                self.bind(v)
            }
        }
    )*};
}

bind_for!(
    ['q] Query<'q, Any, AnyArguments<'q>>,
    ['q, O] sqlx::query::QueryAs<'q, Any, O, AnyArguments<'q>>,
    ['q, O] sqlx::query::QueryScalar<'q, Any, O, AnyArguments<'q>>
);

/// A flag column, read as a `bool`: `BOOLEAN` on PostgreSQL, `INTEGER` 0/1
/// on SQLite, which has no boolean type (and `sqlx::Any` maps each value by
/// its stored type, so a plain `bool` cannot read SQLite's). SQL writes flags
/// as `TRUE` / `FALSE` or binds a `bool`; both dialects accept that. Rows read
/// it with `#[sqlx(try_from = "Flag")] field: bool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        matches!(
            ty.kind(),
            AnyTypeInfoKind::Bool | AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt
        )
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.type_info().kind() == AnyTypeInfoKind::Bool {
            Ok(Flag(<bool as Decode<Any>>::decode(value)?))
        } else {
            Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0))
        }
    }
}

/// Read a TEXT column that holds one of a fixed set of words (statuses,
/// kinds) straight into its enum: `words_column!(UserStatus, "user status",
/// UserStatus::parse)`. One conversion per enum, next to the enum; an unknown
/// word is a decode error, never a silent default. (`sqlx::Type`'s derive
/// covers each database but not `sqlx::Any`.) Given the enum's word as well
/// (`words_column!(KeyState, "signing key state", KeyState::parse,
/// KeyState::as_str)`), the enum binds as that word too: `.bind(KeyState::Next)`.
#[macro_export]
macro_rules! words_column {
    ($ty:ty, $what:literal, $parse:expr, $word:expr) => {
        $crate::words_column!($ty, $what, $parse);
        impl<'q> sqlx::Encode<'q, sqlx::Any> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                let word: fn($ty) -> &'static str = $word;
                <&str as sqlx::Encode<'q, sqlx::Any>>::encode(word(*self), buf)
            }
        }
    };
    ($ty:ty, $what:literal, $parse:expr) => {
        impl sqlx::Type<sqlx::Any> for $ty {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }
            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $ty {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let word = <String as sqlx::Decode<sqlx::Any>>::decode(value)?;
                let parse: fn(&str) -> Option<$ty> = $parse;
                parse(&word).ok_or_else(|| Box::new($crate::server::sql::UnknownWord { what: $what, word }) as _)
            }
        }
    };
}

/// The error a [`words_column!`] conversion returns for a word it does not know.
#[derive(Debug)]
pub struct UnknownWord {
    pub what: &'static str,
    pub word: String,
}

impl std::fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} {:?} in the database", self.what, self.word)
    }
}

impl std::error::Error for UnknownWord {}

/// `%term%` for a case-insensitive LIKE on already-lowercased columns, with
/// the pattern characters escaped (use with `ESCAPE '\'`).
pub fn like_pattern(term: &str) -> String {
    let mut out = String::from("%");
    for c in term.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `(a, b, c)` placeholders for an `IN` list of ids (numbers, or row ids such as `UserId`).
pub fn in_list<T: Copy + Into<i64>>(args: &mut Args, ids: &[T]) -> String {
    let parts: Vec<String> = ids.iter().map(|id| args.int((*id).into())).collect();
    format!("({})", parts.join(", "))
}

/// `(a, b, c)` placeholders for an `IN` list of strings.
pub fn in_list_text(args: &mut Args, values: &[String]) -> String {
    let parts: Vec<String> = values.iter().map(|v| args.text(v.clone())).collect();
    format!("({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_values_number_their_placeholders_in_order() {
        let mut args = Args::default();
        let first = args.int(7);
        let rows = args.rows(&[(1, "a"), (2, "b")], |a, (n, t)| vec![a.int(*n), a.text(*t), a.opt_int(None)]);
        assert_eq!((first.as_str(), rows.as_str()), ("$1", "($2, $3, $4), ($5, $6, $7)"));
    }

    #[test]
    fn dialect_differences_come_from_the_backend() {
        let mut args = Args::default();
        assert_eq!(Backend::Sqlite.advisory_locks(&mut args, &[(1, "a")]), None);
        assert_eq!(Backend::Postgres.advisory_locks(&mut args, &[]), None);
        assert_eq!(
            Backend::Postgres.advisory_locks(&mut args, &[(1, "a"), (2, "b")]).as_deref(),
            Some("SELECT COUNT(*) AS n FROM (SELECT pg_advisory_xact_lock(1, hashtext($1)), pg_advisory_xact_lock(2, hashtext($2))) AS l")
        );
        assert_eq!(Backend::Sqlite.string_agg("r.name", "$3"), "group_concat(r.name, $3)");
        assert_eq!(Backend::Postgres.string_agg("r.name", "$3"), "string_agg(r.name, $3)");
        assert_eq!((Backend::Sqlite.skip_locked(), Backend::Postgres.skip_locked()), ("", "FOR UPDATE SKIP LOCKED"));
        assert!(Backend::Sqlite.one_writer() && !Backend::Sqlite.row_locks());
        assert!(!Backend::Postgres.one_writer() && Backend::Postgres.row_locks());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern(" Laura "), "%laura%");
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}

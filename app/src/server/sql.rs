//! A small builder for queries whose shape depends on input (filters, sort
//! order, keyset cursors). Values are always bound, never spliced.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
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
    pub fn text(&mut self, v: impl Into<String>) -> String {
        self.push(Arg::Text(v.into()))
    }

    pub fn bind<'q>(&self, mut q: Query<'q, Any, AnyArguments<'q>>) -> Query<'q, Any, AnyArguments<'q>> {
        for a in &self.0 {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }
}

impl Args {
    /// [`Args::bind`] for a query that reads rows into a `FromRow` type.
    pub fn bind_as<'q, O>(
        &self,
        mut q: sqlx::query::QueryAs<'q, Any, O, AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, Any, O, AnyArguments<'q>> {
        for a in &self.0 {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }
}

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

/// `(a, b, c)` placeholders for an `IN` list of ids.
pub fn in_list(args: &mut Args, ids: &[i64]) -> String {
    let parts: Vec<String> = ids.iter().map(|id| args.int(*id)).collect();
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
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern(" Laura "), "%laura%");
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}

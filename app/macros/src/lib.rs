//! `#[endpoint(…)]`: the one way Roster declares a server function.
//!
//! It writes the `#[server]` attribute (prefix `/api`, the endpoint named
//! after the function, the JSON output codec and the chosen input codec) and
//! wraps the body in the guard it names, which binds the proof the body
//! works with:
//!
//! | guard | binds | who may call |
//! |---|---|---|
//! | `authorized(Users, Create)` | `access`, `state` | holds Users Create (`Access<'_, Users, Create>`) |
//! | `authorized(fresh Users, Update)` | `access`, `state` | and signed in or confirmed within `fresh_sign_in` |
//! | `signed_in` | `me`, `state` | anyone signed in (Account) |
//! | `signed_in(setup)` / `signed_in(setup, fresh)` | `me`, `state` | also while a second factor is owed (and fresh) |
//! | `public` | `state` | anyone: what it asks for (a token, a password) decides |
//! | `public(me)` | `me: Option<Principal>`, `state` | anyone; `me` is the caller if signed in (even owing a second factor) |
//!
//! An optional second argument picks the input encoding: `json`
//! (`server_fn::codec::Json`) or `multipart`; without it, a form (`PostUrl`).
//!
//! ```ignore
//! #[endpoint(authorized(Users, Create), json)]
//! pub async fn invite_user(email: String, role_ids: Vec<i64>) -> Result<i64, AppError> {
//!     let email = EmailAddress::parse(&email).map_err(AppError::Invalid)?;
//!     service::invite(access, &state, &email, &role_ids).await
//! }
//! ```

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{parse_macro_input, FnArg, Ident, ItemFn, Pat, Token};

enum Guard {
    Authorized { fresh: bool, app: Ident, perm: Ident },
    SignedIn { setup: bool, fresh: bool },
    Public { me: bool },
}

impl Guard {
    /// The names the guard binds for the body.
    fn binds(&self) -> &'static [&'static str] {
        match self {
            Guard::Authorized { .. } => &["access", "state"],
            Guard::SignedIn { .. } | Guard::Public { me: true } => &["me", "state"],
            Guard::Public { me: false } => &["state"],
        }
    }
}

enum Input {
    Form,
    Json,
    Multipart,
}

struct Args {
    guard: Guard,
    input: Input,
}

/// The words inside a guard's parentheses, if it has them: `signed_in(setup, fresh)`.
fn words(input: ParseStream) -> syn::Result<Vec<Ident>> {
    if !input.peek(syn::token::Paren) {
        return Ok(Vec::new());
    }
    let inner;
    syn::parenthesized!(inner in input);
    Ok(inner.parse_terminated(Ident::parse, Token![,])?.into_iter().collect())
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error("name the guard: `authorized(App, Permission)`, `signed_in` or `public`"));
        }
        let kind: Ident = input.parse()?;
        let guard = match kind.to_string().as_str() {
            "public" => {
                let mut me = false;
                for word in words(input)? {
                    match word.to_string().as_str() {
                        "me" => me = true,
                        _ => return Err(syn::Error::new(word.span(), "expected `public` or `public(me)`")),
                    }
                }
                Guard::Public { me }
            }
            "authorized" => {
                let expected = "expected `authorized(App, Permission)` or `authorized(fresh App, Permission)`";
                if !input.peek(syn::token::Paren) {
                    return Err(syn::Error::new(kind.span(), expected));
                }
                let inner;
                syn::parenthesized!(inner in input);
                let first: Ident = inner.parse()?;
                let (fresh, app) = if first == "fresh" { (true, inner.parse()?) } else { (false, first) };
                inner.parse::<Token![,]>().map_err(|e| syn::Error::new(e.span(), expected))?;
                let perm: Ident = inner.parse()?;
                if !inner.is_empty() {
                    return Err(inner.error(expected));
                }
                Guard::Authorized { fresh, app, perm }
            }
            "signed_in" => {
                let (mut setup, mut fresh) = (false, None);
                for word in words(input)? {
                    match word.to_string().as_str() {
                        "setup" => setup = true,
                        "fresh" => fresh = Some(word),
                        _ => return Err(syn::Error::new(word.span(), "expected `setup` or `fresh`")),
                    }
                }
                if let (false, Some(word)) = (setup, &fresh) {
                    return Err(syn::Error::new(
                        word.span(),
                        "`fresh` goes with `setup`: `signed_in(setup, fresh)` (or use `authorized(fresh App, Permission)`)",
                    ));
                }
                Guard::SignedIn { setup, fresh: fresh.is_some() }
            }
            _ => return Err(syn::Error::new(kind.span(), "expected `authorized(…)`, `signed_in` or `public`")),
        };
        let mut codec = Input::Form;
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let word: Ident = input.parse()?;
            codec = match word.to_string().as_str() {
                "json" => Input::Json,
                "multipart" => Input::Multipart,
                _ => {
                    return Err(syn::Error::new(word.span(), "expected `json` or `multipart` (a form is the default)"))
                }
            };
        }
        if !input.is_empty() {
            return Err(input.error("unexpected arguments after the input encoding"));
        }
        Ok(Args { guard, input: codec })
    }
}

/// See the crate documentation.
#[proc_macro_attribute]
pub fn endpoint(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(args as Args);
    let function = parse_macro_input!(item as ItemFn);
    expand(args, function).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// What `#[endpoint]` cannot take: a function that is not `async`, one that
/// still carries its own `#[server]`, an argument the guard's binding would hide.
fn check(guard: &Guard, function: &ItemFn) -> syn::Result<()> {
    if function.sig.asyncness.is_none() {
        return Err(syn::Error::new(function.sig.fn_token.span(), "a server function is an `async fn`"));
    }
    if let Some(server) = function.attrs.iter().find(|a| a.path().segments.last().is_some_and(|s| s.ident == "server"))
    {
        return Err(syn::Error::new(server.span(), "`#[endpoint]` writes the `#[server]` attribute: remove this one"));
    }
    for arg in &function.sig.inputs {
        if let FnArg::Typed(typed) = arg {
            if let Pat::Ident(name) = &*typed.pat {
                if guard.binds().iter().any(|b| name.ident == b) {
                    return Err(syn::Error::new(
                        name.ident.span(),
                        format!("the guard binds `{}` for the body: give this argument another name", name.ident),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn expand(args: Args, function: ItemFn) -> syn::Result<Tokens> {
    check(&args.guard, &function)?;
    let ItemFn { attrs, vis, sig, block } = function;
    let endpoint = sig.ident.to_string();
    let input = match args.input {
        Input::Form => quote!(),
        Input::Json => quote!(, input = ::server_fn::codec::Json),
        Input::Multipart => quote!(, input = ::server_fn::codec::MultipartFormData),
    };
    let [state, me, access] = ["state", "me", "access"].map(|name| Ident::new(name, Span::call_site()));
    let stmts = &block.stmts;
    let body = match args.guard {
        Guard::Authorized { fresh, app, perm } => {
            let fresh = fresh.then(|| quote!(fresh));
            quote!(crate::authorized!(#fresh #app, #perm, |#access, #state| {
                let _ = (&#access, &#state);
                #(#stmts)*
            }))
        }
        Guard::SignedIn { setup, fresh } => {
            let mode = match (setup, fresh) {
                (true, true) => quote!(setup fresh),
                (true, false) => quote!(setup),
                // `fresh` alone is refused while parsing.
                (false, _) => quote!(),
            };
            quote!(crate::signed_in!(#mode |#me, #state| {
                let _ = (&#me, &#state);
                #(#stmts)*
            }))
        }
        Guard::Public { me: false } => quote!(crate::public!(|#state| {
            let _ = &#state;
            #(#stmts)*
        })),
        Guard::Public { me: true } => quote!(crate::public!(|#state| {
            let #me = crate::server::session::maybe_principal()?;
            let _ = (&#me, &#state);
            #(#stmts)*
        })),
    };
    Ok(quote! {
        #[::leptos::server(prefix = "/api", endpoint = #endpoint, output = crate::codec::JsonOut #input)]
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(args: &str, function: &str) -> String {
        let parsed = syn::parse_str::<Args>(args).and_then(|a| expand(a, syn::parse_str(function)?));
        match parsed {
            Ok(tokens) => panic!("`{args}` on `{function}` expanded: {tokens}"),
            Err(e) => e.to_string(),
        }
    }

    const FUNCTION: &str = "pub async fn f(id: i64) -> Result<(), AppError> { Ok(()) }";

    #[test]
    fn each_guard_expands_into_its_body_macro() {
        for (args, expected) in [
            ("authorized(Users, View)", "crate :: authorized ! (Users , View"),
            ("authorized(fresh Users, Update), json", "crate :: authorized ! (fresh Users , Update"),
            ("signed_in", "crate :: signed_in ! (| me , state |"),
            ("signed_in(setup, fresh)", "crate :: signed_in ! (setup fresh | me , state |"),
            ("public", "crate :: public ! (| state |"),
            ("public(me)", "let me = crate :: server :: session :: maybe_principal () ?"),
        ] {
            let out = expand(syn::parse_str(args).unwrap(), syn::parse_str(FUNCTION).unwrap()).unwrap().to_string();
            assert!(out.contains(expected), "{args}: {out}");
            assert!(out.contains("endpoint = \"f\""), "{args}: {out}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        assert!(error("", FUNCTION).contains("name the guard"));
        assert!(error("authorised(Users, View)", FUNCTION).contains("expected `authorized(…)`"));
        assert!(error("authorized", FUNCTION).contains("authorized(App, Permission)"));
        assert!(error("authorized(Users View)", FUNCTION).contains("authorized(App, Permission)"));
        assert!(error("authorized(Users, View, Update)", FUNCTION).contains("authorized(App, Permission)"));
        assert!(error("signed_in(fresh)", FUNCTION).contains("`fresh` goes with `setup`"));
        assert!(error("signed_in(later)", FUNCTION).contains("expected `setup` or `fresh`"));
        assert!(error("public(you)", FUNCTION).contains("`public(me)`"));
        assert!(error("public, xml", FUNCTION).contains("expected `json` or `multipart`"));
        assert!(error("public, json, more", FUNCTION).contains("unexpected arguments"));
        assert!(error("public", "fn f() -> Result<(), AppError> { Ok(()) }").contains("`async fn`"));
        assert!(
            error("public", "#[server] async fn f() -> Result<(), AppError> { Ok(()) }").contains("remove this one")
        );
        assert!(error("authorized(Users, View)", "async fn f(state: i64) -> Result<(), AppError> { Ok(()) }")
            .contains("the guard binds `state`"));
        assert!(error("public(me)", "async fn f(me: i64) -> Result<(), AppError> { Ok(()) }")
            .contains("the guard binds `me`"));
    }
}

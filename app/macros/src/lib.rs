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
use syn::{parse_macro_input, Ident, ItemFn, Token};

enum Guard {
    Authorized { fresh: bool, app: Ident, perm: Ident },
    SignedIn { setup: bool, fresh: bool },
    Public,
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

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let kind: Ident = input.parse()?;
        let guard = match kind.to_string().as_str() {
            "public" => Guard::Public,
            "authorized" => {
                let inner;
                syn::parenthesized!(inner in input);
                let first: Ident = inner.parse()?;
                let (fresh, app) = if first == "fresh" { (true, inner.parse()?) } else { (false, first) };
                inner.parse::<Token![,]>()?;
                let perm: Ident = inner.parse()?;
                if !inner.is_empty() {
                    return Err(
                        inner.error("expected `authorized(App, Permission)` or `authorized(fresh App, Permission)`")
                    );
                }
                Guard::Authorized { fresh, app, perm }
            }
            "signed_in" => {
                let (mut setup, mut fresh) = (false, false);
                if input.peek(syn::token::Paren) {
                    let inner;
                    syn::parenthesized!(inner in input);
                    let words = inner.parse_terminated(Ident::parse, Token![,])?;
                    for word in words {
                        match word.to_string().as_str() {
                            "setup" => setup = true,
                            "fresh" => fresh = true,
                            _ => return Err(syn::Error::new(word.span(), "expected `setup` or `fresh`")),
                        }
                    }
                }
                Guard::SignedIn { setup, fresh }
            }
            _ => return Err(syn::Error::new(kind.span(), "expected `authorized(…)`, `signed_in` or `public`")),
        };
        let mut codec = Input::Form;
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let word: Ident = input.parse()?;
            codec = match word.to_string().as_str() {
                "json" => Input::Json,
                "multipart" => Input::Multipart,
                _ => return Err(syn::Error::new(word.span(), "expected `json` or `multipart`")),
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
    expand(args, function).into()
}

fn expand(args: Args, function: ItemFn) -> Tokens {
    let ItemFn { attrs, vis, sig, block } = function;
    let endpoint = sig.ident.to_string();
    let input = match args.input {
        Input::Form => quote!(),
        Input::Json => quote!(, input = ::server_fn::codec::Json),
        Input::Multipart => quote!(, input = ::server_fn::codec::MultipartFormData),
    };
    let state = Ident::new("state", Span::call_site());
    let stmts = &block.stmts;
    let body = match args.guard {
        Guard::Authorized { fresh, app, perm } => {
            let access = Ident::new("access", Span::call_site());
            let fresh = fresh.then(|| quote!(fresh));
            quote!(crate::authorized!(#fresh #app, #perm, |#access, #state| {
                let _ = &#access;
                #(#stmts)*
            }))
        }
        Guard::SignedIn { setup, fresh } => {
            let me = Ident::new("me", Span::call_site());
            let mode = match (setup, fresh) {
                (true, true) => quote!(setup fresh),
                (true, false) => quote!(setup),
                (false, false) => quote!(),
                (false, true) => {
                    return syn::Error::new(sig.ident.span(), "`signed_in(fresh)` without `setup` is not a guard")
                        .to_compile_error()
                }
            };
            quote!(crate::signed_in!(#mode |#me, #state| {
                let _ = &#me;
                #(#stmts)*
            }))
        }
        Guard::Public => quote!(crate::public!(|#state| { #(#stmts)* })),
    };
    quote! {
        #[::leptos::server(prefix = "/api", endpoint = #endpoint, output = crate::codec::JsonOut #input)]
        #(#attrs)*
        #vis #sig {
            #body
        }
    }
}

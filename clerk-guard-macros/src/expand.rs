//! Rewriting the handler: one extractor of `clerk-guard` goes first.
//!
//! `#[clerk_protected(roles = "admin")] async fn f(a: A) -> R { body }`
//! becomes `async fn f(_: Guard<AnyRole<(Str<"admin" as a type>, ())>>, a: A) -> R { body }`:
//! the body, return type, attributes, generics and where-clause are untouched.
//! A handler with no arguments gets `SoleGuard` instead of `Guard` (the same
//! verdict, recorded nowhere: no extractor follows it), and one whose only
//! argument is `auth: ClerkAuth` (or `caller: Principal`) gets
//! `SoleAuth(auth, ..): SoleAuth<…, ClerkAuth>`, the same guard handing the
//! identity to the handler.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::{parse_quote_spanned, FnArg, ItemFn, LitStr};

use crate::args::{Args, Key};
use crate::validate::{self, Checked, Mode};

/// The attribute's entry point: errors become `compile_error!`s emitted
/// beside the unchanged item.
pub(crate) fn clerk_protected(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args, item.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut out = error.to_compile_error();
            out.extend(item);
            out
        }
    }
}

fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let parsed_args = syn::parse2::<Args>(args).and_then(validate::attribute);
    let function = syn::parse2::<ItemFn>(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[clerk_protected] goes on an `async fn` axum handler (with a body)",
        )
    });
    let (attribute, mut function) = match (parsed_args, function) {
        (Ok(attribute), Ok(function)) => (attribute, function),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            return Err(a);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    validate::function(&function, &attribute)?;
    let span = Span::call_site();
    // Session-only routes (the default) name no accept list at all.
    let bits = Literal::u8_unsuffixed(attribute.accepts);
    let accepts = match (
        attribute.accepts != validate::SESSION_BIT,
        attribute.sign_in_redirect,
    ) {
        (_, true) => Some(quote_spanned!(span=>
            ::clerk_guard::__private::SignInRedirect<::clerk_guard::__private::Accepting<#bits>>
        )),
        (true, false) => Some(quote_spanned!(span=> ::clerk_guard::__private::Accepting<#bits>)),
        (false, false) => None,
    };
    // A handler that takes nothing else gets the guard that leaves no verdict
    // in the request for extractors after it (there are none); one whose only
    // parameter is a `ClerkAuth` or `Principal` gets that guard handing it
    // over.
    let sole = function.sig.inputs.is_empty();
    if let (Mode::Required(requirements), [FnArg::Typed(param)]) = (
        &attribute.mode,
        function.sig.inputs.iter().collect::<Vec<_>>().as_slice(),
    ) {
        if validate::is_identity(&param.ty) {
            let requirement = requirement_type(requirements);
            let accepts = accepts
                .unwrap_or_else(|| quote_spanned!(span=> ::clerk_guard::__private::SessionTokens));
            // The handler's own spelling of the type stays in the signature
            // (its import is used, and it must be clerk-guard's `ClerkAuth`).
            let (attrs, pat, ty) = (&param.attrs, &param.pat, &param.ty);
            let only: FnArg = parse_quote_spanned! {span=>
                #(#attrs)* ::clerk_guard::__private::SoleAuth(#pat, ..):
                    ::clerk_guard::__private::SoleAuth<#requirement, #accepts, #ty>
            };
            function.sig.inputs = std::iter::once(only).collect();
            document_security(&mut function, false);
            return Ok(function.into_token_stream());
        }
    }
    let guard: FnArg = match (&attribute.mode, accepts) {
        (Mode::Optional, None) => parse_quote_spanned! {span=>
            _: ::clerk_guard::__private::OptionalGuard
        },
        (Mode::Optional, Some(accepts)) => parse_quote_spanned! {span=>
            _: ::clerk_guard::__private::OptionalGuard<#accepts>
        },
        (Mode::Required(requirements), accepts) => {
            let requirement = requirement_type(requirements);
            let accepts = accepts.map(|accepts| quote!(, #accepts));
            let guard = if sole {
                quote_spanned!(span=> SoleGuard)
            } else {
                quote_spanned!(span=> Guard)
            };
            parse_quote_spanned! {span=>
                _: ::clerk_guard::__private::#guard<#requirement #accepts>
            }
        }
    };
    function.sig.inputs.insert(0, guard);
    document_security(&mut function, matches!(attribute.mode, Mode::Optional));
    Ok(function.into_token_stream())
}

/// A `#[utoipa::path(...)]` below the attribute gets the security the route
/// enforces, unless it states its own: `security(("clerk" = []))`, or
/// `security((), ("clerk" = []))` when anonymous requests are allowed. (What
/// a user would write by hand; `clerk_guard::openapi::ClerkSecurity` then
/// documents the scheme and the rejections.)
fn document_security(function: &mut ItemFn, optional: bool) {
    for attr in &mut function.attrs {
        let syn::Meta::List(list) = &mut attr.meta else {
            continue;
        };
        let is_utoipa_path = list.path.segments.len() == 2
            && list.path.segments[0].ident == "utoipa"
            && list.path.segments[1].ident == "path";
        let states_security = list.tokens.clone().into_iter().any(
            |token| matches!(token, proc_macro2::TokenTree::Ident(ident) if ident == "security"),
        );
        if !is_utoipa_path || states_security {
            continue;
        }
        let trailing_comma = matches!(
            list.tokens.clone().into_iter().last(),
            Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == ','
        );
        let separator = if list.tokens.is_empty() || trailing_comma {
            quote!()
        } else {
            quote!(,)
        };
        let security = if optional {
            quote!(security((), ("clerk" = [])))
        } else {
            quote!(security(("clerk" = [])))
        };
        list.tokens.extend(quote!(#separator #security));
    }
}

/// The requirement type: one per key, a tuple (AND) for several.
fn requirement_type(requirements: &[Checked]) -> TokenStream {
    let parts: Vec<TokenStream> = requirements
        .iter()
        .map(|checked| match checked {
            Checked::Strings { key, span, values } => {
                let span = *span;
                let list = str_list(values);
                match key {
                    Key::Roles => quote_spanned!(span=> ::clerk_guard::__private::AnyRole<#list>),
                    Key::OrgRole => {
                        let one = values.first().map(type_str).unwrap_or_default();
                        quote_spanned!(span=> ::clerk_guard::__private::OrgRole<#one>)
                    }
                    Key::Permissions => {
                        quote_spanned!(span=> ::clerk_guard::__private::AllPermissions<#list>)
                    }
                    Key::Feature => quote_spanned!(span=> ::clerk_guard::__private::AllFeatures<#list>),
                    Key::Plan => quote_spanned!(span=> ::clerk_guard::__private::AnyPlan<#list>),
                    Key::Scopes => quote_spanned!(span=> ::clerk_guard::__private::AllScopes<#list>),
                    // Parsed into `Checked::Reverify`, never a string list; if that
                    // ever changes, fail the build rather than drop the requirement.
                    Key::Reverification => quote_spanned!(span=>
                        ::core::compile_error!("#[clerk_protected]: reverification was not expanded")
                    ),
                }
            }
            Checked::Reverify {
                span,
                level,
                minutes,
                preset,
            } => {
                let (level, minutes, preset) = (
                    Literal::u8_unsuffixed(*level),
                    Literal::u32_unsuffixed(*minutes),
                    Literal::u8_unsuffixed(*preset),
                );
                quote_spanned!(*span=> ::clerk_guard::__private::Reverify<#level, #minutes, #preset>)
            }
        })
        .collect();
    match parts.as_slice() {
        [] => quote!(::clerk_guard::__private::SignedIn),
        [one] => one.clone(),
        several => quote!((#(#several,)*)),
    }
}

/// `(Str<…>, (Str<…>, ()))` for a list of strings.
fn str_list(values: &[LitStr]) -> TokenStream {
    values.iter().rev().fold(quote!(()), |rest, value| {
        let head = type_str(value);
        quote_spanned!(value.span()=> (#head, #rest))
    })
}

/// A string as a type: its UTF-8 bytes packed 64 to a level,
/// `Str<Chunk<w0, w1, w2, w3, Chunk<…, End>>>`, so a 256-byte role costs four
/// levels of trait resolution, not 256.
fn type_str(value: &LitStr) -> TokenStream {
    let span = value.span();
    let bytes = value.value().into_bytes();
    let chunks: Vec<[u128; 4]> = bytes
        .chunks(64)
        .map(|chunk| {
            let mut words = [0u128; 4];
            for (i, byte) in chunk.iter().enumerate() {
                words[i / 16] |= u128::from(*byte) << (8 * (15 - i % 16));
            }
            words
        })
        .collect();
    let packed = chunks.iter().rev().fold(
        quote_spanned!(span=> ::clerk_guard::__private::End),
        |rest, words| {
            let [a, b, c, d] = words.map(Literal::u128_unsuffixed);
            quote_spanned!(span=> ::clerk_guard::__private::Chunk<#a, #b, #c, #d, #rest>)
        },
    );
    quote_spanned!(span=> ::clerk_guard::__private::Str<#packed>)
}

#[cfg(test)]
mod tests {
    use super::clerk_protected;
    use quote::quote;

    fn expanded(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        clerk_protected(args, item).to_string()
    }

    #[test]
    fn a_handler_without_parameters_gets_the_guard_that_records_nothing() {
        let alone = expanded(
            quote!(roles = "admin"),
            quote!(
                async fn f() {}
            ),
        );
        assert!(alone.contains(":: SoleGuard <"), "{alone}");
        let with_params = expanded(
            quote!(),
            quote!(
                async fn f(a: A) {}
            ),
        );
        assert!(with_params.contains(":: Guard <"), "{with_params}");
        assert!(!with_params.contains("SoleGuard"), "{with_params}");
        let optional = expanded(
            quote!(optional),
            quote!(
                async fn f() {}
            ),
        );
        assert!(optional.contains(":: OptionalGuard"), "{optional}");
    }

    #[test]
    fn a_handler_taking_only_its_session_gets_it_from_the_guard() {
        let only = expanded(
            quote!(roles = "admin"),
            quote!(
                async fn f(mut auth: clerk_guard::ClerkAuth) {}
            ),
        );
        assert!(only.contains(":: SoleAuth (mut auth , ..) :"), "{only}");
        assert!(
            only.contains(":: SoleAuth < :: clerk_guard :: __private :: AnyRole"),
            "{only}"
        );
        assert!(!only.contains("Guard"), "{only}");
        let caller = expanded(
            quote!(accepts = "any"),
            quote!(
                async fn f(caller: Principal) {}
            ),
        );
        assert!(caller.contains(":: SoleAuth (caller , ..) :"), "{caller}");
        assert!(
            caller.contains("Accepting < 15 > , Principal >"),
            "{caller}"
        );
        // With anything else beside it, the usual guard goes first.
        for item in [
            quote!(
                async fn f(auth: ClerkAuth, s: State<S>) {}
            ),
            quote!(
                async fn f(auth: Option<ClerkAuth>) {}
            ),
            quote!(
                async fn f(caller: Option<Principal>) {}
            ),
            quote!(
                async fn f(caller: Principal, s: State<S>) {}
            ),
        ] {
            let args = if item.to_string().contains("Option") {
                quote!(optional)
            } else {
                quote!()
            };
            let out = expanded(args, item);
            assert!(!out.contains("SoleAuth"), "{out}");
        }
    }
}

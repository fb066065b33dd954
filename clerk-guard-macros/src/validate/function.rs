//! Checks of the function the attribute is on: async, and its `ClerkAuth`
//! parameters matching the mode.

use syn::{FnArg, GenericArgument, ItemFn, PathArguments, Type};

use super::{push, Attribute, Mode, MACHINE_BITS};

/// axum implements `Handler` for functions of at most this many extractors.
const MAX_EXTRACTORS: usize = 16;

/// How a parameter mentions `ClerkAuth`, judged by the type's last path segment.
enum AuthParam {
    Plain,
    Optional,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Paren(inner) => last_segment(&inner.elem),
        Type::Group(inner) => last_segment(&inner.elem),
        _ => None,
    }
}

fn auth_param(ty: &Type) -> Option<AuthParam> {
    let segment = last_segment(ty)?;
    if segment.ident == "ClerkAuth" {
        return Some(AuthParam::Plain);
    }
    if segment.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.first() {
        Some(GenericArgument::Type(inner))
            if last_segment(inner).is_some_and(|s| s.ident == "ClerkAuth") =>
        {
            Some(AuthParam::Optional)
        }
        _ => None,
    }
}

/// Whether `ty` is `ClerkAuth` or `Principal` itself, the identities the
/// guard can hand over (by the last path segment, as the checks below read
/// it).
pub(crate) fn is_identity(ty: &Type) -> bool {
    matches!(auth_param(ty), Some(AuthParam::Plain))
        || last_segment(ty).is_some_and(|s| s.ident == "Principal" && s.arguments.is_none())
}

/// Checks the function the attribute is on.
pub(crate) fn function(function: &ItemFn, attribute: &Attribute) -> Result<(), syn::Error> {
    let mode = &attribute.mode;
    let mut errors = None;
    let sig = &function.sig;
    if let Some(constness) = &sig.constness {
        push(
            &mut errors,
            syn::Error::new(
                constness.span,
                "#[clerk_protected] handlers cannot be `const fn`",
            ),
        );
    }
    if sig.asyncness.is_none() && sig.constness.is_none() {
        push(
            &mut errors,
            syn::Error::new(
                sig.fn_token.span,
                "#[clerk_protected] goes on an `async fn` handler",
            ),
        );
    }
    let params = sig.inputs.len();
    if params >= MAX_EXTRACTORS {
        push(
            &mut errors,
            syn::Error::new_spanned(
                &sig.inputs,
                format!(
                    "this handler already takes {params} extractors; #[clerk_protected] adds one and axum \
                     handlers take at most {MAX_EXTRACTORS}: group some into a struct extractor"
                ),
            ),
        );
    }
    for input in &sig.inputs {
        let param = match input {
            FnArg::Typed(param) => param,
            FnArg::Receiver(receiver) => {
                push(
                    &mut errors,
                    syn::Error::new_spanned(
                        receiver,
                        "#[clerk_protected] handlers cannot take `self`: axum calls handlers \
                         without a receiver; make it an associated function and pass state \
                         with `State`",
                    ),
                );
                continue;
            }
        };
        match (auth_param(&param.ty), mode) {
            (Some(AuthParam::Plain), _) if attribute.accepts & MACHINE_BITS != 0 => push(
                &mut errors,
                syn::Error::new_spanned(
                    &param.ty,
                    "this route accepts machine tokens, which are not sessions: take \
                     `clerk_guard::Principal` (a session, M2M, OAuth or API key principal)",
                ),
            ),
            (Some(AuthParam::Optional), Mode::Required(_)) => push(
                &mut errors,
                syn::Error::new_spanned(
                    &param.ty,
                    "`Option<ClerkAuth>` is always `Some` in a protected handler: take `ClerkAuth`, \
                     or use #[clerk_protected(optional)]",
                ),
            ),
            (Some(AuthParam::Plain), Mode::Optional) => push(
                &mut errors,
                syn::Error::new_spanned(
                    &param.ty,
                    "with #[clerk_protected(optional)] take `Option<ClerkAuth>`: `ClerkAuth` would reject \
                     anonymous requests",
                ),
            ),
            _ => {}
        }
    }
    match errors {
        Some(errors) => Err(errors),
        None => Ok(()),
    }
}

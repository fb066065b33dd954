//! Checks that need the whole attribute or the function: duplicates, empty
//! values, `optional` mixed with requirements, the handler's shape.

use syn::{FnArg, GenericArgument, ItemFn, LitStr, PathArguments, Type};

use crate::args::{Arg, Args, Key, Value};

/// axum implements `Handler` for functions of at most this many extractors.
const MAX_EXTRACTORS: usize = 16;

/// The longest value, in bytes, the type encoding supports within rustc's
/// default recursion limit (16 levels of 64 bytes).
pub(crate) const MAX_VALUE_BYTES: usize = 1024;

/// The longest list the type encoding supports within rustc's default
/// recursion limit (one level per entry).
pub(crate) const MAX_LIST_LEN: usize = 64;

/// A validated attribute.
pub(crate) enum Mode {
    Optional,
    Required(Vec<(Key, proc_macro2::Span, Vec<LitStr>)>),
}

fn push(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(all) => all.combine(error),
        None => *errors = Some(error),
    }
}

fn check_string(errors: &mut Option<syn::Error>, key: Key, lit: &LitStr) {
    let value = lit.value();
    if value.is_empty() {
        push(
            errors,
            syn::Error::new(
                lit.span(),
                format!("`{}` values must not be empty", key.name()),
            ),
        );
    } else if value.trim() != value {
        push(
            errors,
            syn::Error::new(
                lit.span(),
                format!(
                    "`{}` values must not start or end with whitespace",
                    key.name()
                ),
            ),
        );
    } else if value.contains(char::is_control) {
        push(
            errors,
            syn::Error::new(
                lit.span(),
                format!("`{}` values contain no control characters", key.name()),
            ),
        );
    } else if value.contains(char::is_whitespace) && key != Key::Roles {
        push(
            errors,
            syn::Error::new(
                lit.span(),
                format!("`{}` values contain no whitespace", key.name()),
            ),
        );
    } else if value.len() > MAX_VALUE_BYTES {
        push(
            errors,
            syn::Error::new(
                lit.span(),
                format!(
                    "this value is {} bytes long; `{}` values may be at most {MAX_VALUE_BYTES} bytes",
                    value.len(),
                    key.name()
                ),
            ),
        );
    } else if key == Key::Permissions && !is_permission_key(&value) {
        push(
            errors,
            syn::Error::new(
                lit.span(),
                format!(
                    "`{value}` can never match: Clerk permissions have the form \
                     `org:<feature>:<permission>`, like \"org:billing:manage\""
                ),
            ),
        );
    }
}

/// Clerk's permission key form: `org:<feature>:<permission>`, three
/// non-empty parts.
fn is_permission_key(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    matches!(parts.as_slice(), ["org", feature, permission] if !feature.is_empty() && !permission.is_empty())
}

/// Validates the arguments into a [`Mode`], collecting every error.
pub(crate) fn attribute(args: Args) -> Result<Mode, syn::Error> {
    let mut errors = None;
    let mut optional = None;
    let mut requirements: Vec<(Key, proc_macro2::Span, Vec<LitStr>)> = Vec::new();
    for arg in args.items {
        match arg {
            Arg::Optional(span) => {
                if optional.is_some() {
                    push(&mut errors, syn::Error::new(span, "duplicate `optional`"));
                }
                optional = Some(span);
            }
            Arg::Requirement {
                key,
                key_span,
                value,
            } => {
                if requirements.iter().any(|(k, _, _)| *k == key) {
                    push(
                        &mut errors,
                        syn::Error::new(key_span, format!("duplicate key `{}`", key.name())),
                    );
                    continue;
                }
                match &value {
                    Value::List { span, items } if items.is_empty() => push(
                        &mut errors,
                        syn::Error::new(
                            *span,
                            format!("`{}` needs at least one value", key.name()),
                        ),
                    ),
                    Value::List { span, items } if items.len() > MAX_LIST_LEN => push(
                        &mut errors,
                        syn::Error::new(
                            *span,
                            format!(
                                "`{}` lists may hold at most {MAX_LIST_LEN} values (this one has {})",
                                key.name(),
                                items.len()
                            ),
                        ),
                    ),
                    Value::List { span, .. } if key == Key::OrgRole => push(
                        &mut errors,
                        syn::Error::new(
                            *span,
                            "`org_role` takes one role: a session has one active organization role",
                        ),
                    ),
                    _ => {}
                }
                for lit in value.strings() {
                    check_string(&mut errors, key, lit);
                }
                requirements.push((
                    key,
                    key_span,
                    value.strings().into_iter().cloned().collect(),
                ));
            }
        }
    }
    if let (Some(span), Some((key, _, _))) = (optional, requirements.first()) {
        push(
            &mut errors,
            syn::Error::new(
                span,
                format!(
                    "`optional` cannot be combined with `{}`: an anonymous request cannot meet a requirement",
                    key.name()
                ),
            ),
        );
    }
    match errors {
        Some(errors) => Err(errors),
        None if optional.is_some() => Ok(Mode::Optional),
        None => Ok(Mode::Required(requirements)),
    }
}

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

/// Checks the function the attribute is on.
pub(crate) fn function(function: &ItemFn, mode: &Mode) -> Result<(), syn::Error> {
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

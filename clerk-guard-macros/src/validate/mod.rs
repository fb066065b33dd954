//! Checks that need the whole attribute or the function: duplicates, empty
//! values, `optional` mixed with requirements, the handler's shape.

use syn::LitStr;

use proc_macro2::Span;

use crate::args::{Arg, Args, Key, ReverificationSpec, Value};

mod function;

pub(crate) use function::{function, is_identity};

/// The longest value, in bytes, the type encoding supports within rustc's
/// default recursion limit (16 levels of 64 bytes).
pub(crate) const MAX_VALUE_BYTES: usize = 1024;

/// The longest list the type encoding supports within rustc's default
/// recursion limit (one level per entry).
pub(crate) const MAX_LIST_LEN: usize = 64;

/// A validated attribute.
pub(crate) enum Mode {
    Optional,
    Required(Vec<Checked>),
}

/// A validated attribute and the kinds of token it accepts.
pub(crate) struct Attribute {
    pub(crate) mode: Mode,
    /// `clerk_guard::Accepts` bits: session 1, M2M 2, OAuth 4, API key 8.
    pub(crate) accepts: u8,
    /// Pages refused as signed out go to the sign-in page.
    pub(crate) sign_in_redirect: bool,
}

/// `clerk_guard::Accepts`'s bit of each kind of token (a unit test holds
/// these to the runtime's).
pub(crate) const SESSION_BIT: u8 = 1;
const M2M_BIT: u8 = 2;
const OAUTH_BIT: u8 = 4;
const API_KEY_BIT: u8 = 8;
/// The machine kinds: M2M, OAuth, API key.
pub(crate) const MACHINE_BITS: u8 = M2M_BIT | OAUTH_BIT | API_KEY_BIT;

/// The names `accepts = …` takes, as `clerk_guard::TokenKind::parse` reads
/// them, and `any`.
pub(crate) const KINDS: [(&str, u8); 8] = [
    ("session", SESSION_BIT),
    ("session_token", SESSION_BIT),
    ("m2m", M2M_BIT),
    ("m2m_token", M2M_BIT),
    ("oauth", OAUTH_BIT),
    ("oauth_token", OAUTH_BIT),
    ("api_key", API_KEY_BIT),
    ("any", SESSION_BIT | MACHINE_BITS),
];

/// The bits of `accepts = …`, or errors for unknown, repeated or no kinds.
fn accepts(errors: &mut Option<syn::Error>, value: &Value) -> u8 {
    if let Value::List { span, items } = value {
        if items.is_empty() {
            push(
                errors,
                syn::Error::new(*span, "`accepts` needs at least one kind of token"),
            );
        }
    }
    let mut bits = 0;
    for lit in value.strings() {
        let name = lit.value();
        match KINDS.iter().find(|(kind, _)| *kind == name) {
            Some((_, bit)) if bits & bit != 0 => push(
                errors,
                syn::Error::new(lit.span(), format!("`{name}` is already accepted")),
            ),
            Some((_, bit)) => bits |= bit,
            None => push(
                errors,
                syn::Error::new(
                    lit.span(),
                    format!(
                        "unknown kind of token `{name}`: `accepts` takes \"session\", \"m2m\", \
                         \"oauth\", \"api_key\" (or a list of them), or \"any\""
                    ),
                ),
            ),
        }
    }
    bits
}

/// One validated requirement.
pub(crate) enum Checked {
    /// `roles`, `org_role`, `permissions`, `feature`, `plan` and their strings.
    Strings {
        key: Key,
        span: Span,
        values: Vec<LitStr>,
    },
    /// A step-up reverification: Clerk's level (0 first, 1 second, 2 multi
    /// factor), age in minutes, and preset (1..=4, 0 for a custom one).
    Reverify {
        span: Span,
        level: u8,
        minutes: u32,
        preset: u8,
    },
}

impl Checked {
    fn key(&self) -> Key {
        match self {
            Checked::Strings { key, .. } => *key,
            Checked::Reverify { .. } => Key::Reverification,
        }
    }
}

/// Clerk's presets: name, level, minutes (the order gives the preset number;
/// a unit test holds them to `clerk_guard::REVERIFICATION_PRESETS`).
pub(crate) const PRESETS: [(&str, u8, u32); 4] = [
    ("strict_mfa", 2, 10),
    ("strict", 1, 10),
    ("moderate", 1, 60),
    ("lax", 1, 1440),
];

/// Clerk's levels, in the order of their number.
pub(crate) const LEVELS: [&str; 3] = ["first_factor", "second_factor", "multi_factor"];

fn reverification(
    errors: &mut Option<syn::Error>,
    spec: &ReverificationSpec,
) -> Option<(u8, u32, u8)> {
    match spec {
        ReverificationSpec::Preset(lit) => {
            let name = lit.value();
            match PRESETS.iter().position(|(p, _, _)| *p == name) {
                Some(index) => {
                    let (_, level, minutes) = PRESETS[index];
                    Some((level, minutes, index as u8 + 1))
                }
                None => {
                    push(
                        errors,
                        syn::Error::new(
                            lit.span(),
                            format!(
                                "unknown reverification preset `{name}`: Clerk's presets are \
                                 \"strict_mfa\", \"strict\", \"moderate\" and \"lax\"; or write \
                                 reverification(level = \"second_factor\", after_minutes = 30)"
                            ),
                        ),
                    );
                    None
                }
            }
        }
        ReverificationSpec::Custom {
            span,
            level,
            after_minutes,
        } => {
            let level = match level {
                None => {
                    push(errors, syn::Error::new(*span, "`reverification(...)` needs `level = \"first_factor\" | \"second_factor\" | \"multi_factor\"`"));
                    None
                }
                Some(lit) => match LEVELS.iter().position(|l| *l == lit.value()) {
                    Some(index) => Some(index as u8),
                    None => {
                        push(
                            errors,
                            syn::Error::new(
                                lit.span(),
                                "the level is one of \"first_factor\", \"second_factor\", \"multi_factor\"",
                            ),
                        );
                        None
                    }
                },
            };
            let minutes = match after_minutes {
                None => {
                    push(
                        errors,
                        syn::Error::new(
                            *span,
                            "`reverification(...)` needs `after_minutes = N` (minutes, above zero)",
                        ),
                    );
                    None
                }
                Some(lit) => {
                    match lit.base10_parse::<u32>() {
                        Ok(minutes) if minutes > 0 && lit.suffix().is_empty() => Some(minutes),
                        _ => {
                            push(
                            errors,
                            syn::Error::new(lit.span(), "`after_minutes` is a whole number of minutes above zero, like 30"),
                        );
                            None
                        }
                    }
                }
            };
            Some((level?, minutes?, 0))
        }
    }
}

/// `scope:id` for features and plans: the scopes Clerk knows, an id after it.
fn check_scoped(errors: &mut Option<syn::Error>, key: Key, lit: &LitStr) {
    let value = lit.value();
    let Some((scope, id)) = value.split_once(':') else {
        return;
    };
    let known = matches!(scope, "org" | "o" | "organization" | "user" | "u");
    if !known || id.is_empty() || id.contains(':') {
        push(
            errors,
            syn::Error::new(
                lit.span(),
                format!(
                    "`{value}` can never match: a `{}` value is an id, or a scope and an id \
                     (`org:`, `o:`, `organization:`, `user:` or `u:`, like \"org:reports\")",
                    key.name()
                ),
            ),
        );
    }
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

/// Validates the arguments into an [`Attribute`], collecting every error.
pub(crate) fn attribute(args: Args) -> Result<Attribute, syn::Error> {
    let mut errors = None;
    let mut optional = None;
    let mut sign_in = None;
    let mut accepted: Option<(Span, u8)> = None;
    let mut requirements: Vec<Checked> = Vec::new();
    for arg in args.items {
        match arg {
            Arg::Accepts { key_span, value } => {
                if accepted.is_some() {
                    push(
                        &mut errors,
                        syn::Error::new(key_span, "duplicate key `accepts`"),
                    );
                    continue;
                }
                accepted = Some((key_span, accepts(&mut errors, &value)));
            }
            Arg::Optional(span) => {
                if optional.is_some() {
                    push(&mut errors, syn::Error::new(span, "duplicate `optional`"));
                }
                optional = Some(span);
            }
            Arg::SignInRedirect(span) => {
                if sign_in.is_some() {
                    push(
                        &mut errors,
                        syn::Error::new(span, "duplicate `sign_in_redirect`"),
                    );
                }
                sign_in = Some(span);
            }
            Arg::Reverification { key_span, spec } => {
                if requirements.iter().any(|c| c.key() == Key::Reverification) {
                    push(
                        &mut errors,
                        syn::Error::new(key_span, "duplicate key `reverification`"),
                    );
                    continue;
                }
                if let Some((level, minutes, preset)) = reverification(&mut errors, &spec) {
                    requirements.push(Checked::Reverify {
                        span: key_span,
                        level,
                        minutes,
                        preset,
                    });
                }
            }
            Arg::Requirement {
                key,
                key_span,
                value,
            } => {
                if requirements.iter().any(|c| c.key() == key) {
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
                    if matches!(key, Key::Feature | Key::Plan) {
                        check_scoped(&mut errors, key, lit);
                    }
                }
                requirements.push(Checked::Strings {
                    key,
                    span: key_span,
                    values: value.strings().into_iter().cloned().collect(),
                });
            }
        }
    }
    if let (Some(span), Some(first)) = (optional, requirements.first()) {
        let key = first.key();
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
    let bits = accepted.map_or(SESSION_BIT, |(_, bits)| bits);
    for checked in &requirements {
        let (key, span) = match checked {
            Checked::Strings { key, span, .. } => (*key, *span),
            Checked::Reverify { span, .. } => (Key::Reverification, *span),
        };
        if key == Key::Scopes && bits & SESSION_BIT != 0 {
            let hint = if accepted.is_none() {
                "add the machine kinds it is for, like accepts = \"oauth\""
            } else {
                "remove \"session\" from `accepts`, or give sessions their own route"
            };
            push(
                &mut errors,
                syn::Error::new(
                    span,
                    format!("`scopes` checks machine tokens and a session token has none: {hint}"),
                ),
            );
        } else if key != Key::Scopes && bits & MACHINE_BITS != 0 {
            push(
                &mut errors,
                syn::Error::new(
                    span,
                    format!(
                        "`{}` checks a user's session and this route accepts machine tokens, \
                         which never meet it: check machine tokens with `scopes`, or give \
                         sessions their own route",
                        key.name()
                    ),
                ),
            );
        }
    }
    if let Some(span) = sign_in {
        if optional.is_some() {
            push(
                &mut errors,
                syn::Error::new(
                    span,
                    "`sign_in_redirect` cannot go with `optional`: an optional route lets \
                     anonymous pages in",
                ),
            );
        } else if bits & SESSION_BIT == 0 {
            push(
                &mut errors,
                syn::Error::new(
                    span,
                    "`sign_in_redirect` sends browsers to sign in, and this route accepts \
                     machine tokens only: add \"session\" to `accepts`, or remove it",
                ),
            );
        }
    }
    let mode = if optional.is_some() {
        Mode::Optional
    } else {
        Mode::Required(requirements)
    };
    match errors {
        Some(errors) => Err(errors),
        None => Ok(Attribute {
            mode,
            accepts: bits,
            sign_in_redirect: sign_in.is_some(),
        }),
    }
}

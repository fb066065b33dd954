//! Parsing the attribute's arguments: `optional`, `roles = …`,
//! `org_role = …`, `permissions = …`, `feature = …`, `plan = …`,
//! `reverification = "…"` or `reverification(level = "…", after_minutes = N)`,
//! `accepts = …`, `scopes = …`, `sign_in_redirect`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, parenthesized, LitInt, LitStr, Token};

mod kw {
    syn::custom_keyword!(optional);
    syn::custom_keyword!(sign_in_redirect);
    syn::custom_keyword!(roles);
    syn::custom_keyword!(org_role);
    syn::custom_keyword!(permissions);
    syn::custom_keyword!(feature);
    syn::custom_keyword!(plan);
    syn::custom_keyword!(reverification);
    syn::custom_keyword!(level);
    syn::custom_keyword!(after_minutes);
    syn::custom_keyword!(accepts);
    syn::custom_keyword!(scopes);
}

/// Which requirement a key states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Roles,
    OrgRole,
    Permissions,
    Feature,
    Plan,
    Reverification,
    Scopes,
}

impl Key {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Key::Roles => "roles",
            Key::OrgRole => "org_role",
            Key::Permissions => "permissions",
            Key::Feature => "feature",
            Key::Plan => "plan",
            Key::Reverification => "reverification",
            Key::Scopes => "scopes",
        }
    }
}

/// `reverification = "strict"`, or `reverification(level = "…", after_minutes = N)`.
pub(crate) enum ReverificationSpec {
    Preset(LitStr),
    Custom {
        span: Span,
        level: Option<LitStr>,
        after_minutes: Option<LitInt>,
    },
}

/// The value of a key: one string or a bracketed list.
pub(crate) enum Value {
    One(LitStr),
    List { span: Span, items: Vec<LitStr> },
}

impl Value {
    pub(crate) fn strings(&self) -> Vec<&LitStr> {
        match self {
            Value::One(s) => vec![s],
            Value::List { items, .. } => items.iter().collect(),
        }
    }
}

/// One argument, with the span of its key for error messages.
pub(crate) enum Arg {
    Optional(Span),
    /// Pages refused as signed out go to the sign-in page.
    SignInRedirect(Span),
    Requirement {
        key: Key,
        key_span: Span,
        value: Value,
    },
    Reverification {
        key_span: Span,
        spec: ReverificationSpec,
    },
    /// `accepts = "m2m"` or `accepts = ["session", "m2m"]`.
    Accepts {
        key_span: Span,
        value: Value,
    },
}

/// Everything between the attribute's parentheses.
pub(crate) struct Args {
    pub(crate) items: Vec<Arg>,
}

fn parse_string(input: ParseStream) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        input.parse()
    } else {
        Err(input.error("expected a string literal, like \"admin\""))
    }
}

fn parse_value(input: ParseStream) -> syn::Result<Value> {
    if input.peek(syn::token::Bracket) {
        let content;
        let brackets = bracketed!(content in input);
        let items: Punctuated<LitStr, Token![,]> =
            content.parse_terminated(parse_string, Token![,])?;
        Ok(Value::List {
            span: brackets.span.join(),
            items: items.into_iter().collect(),
        })
    } else {
        parse_string(input).map(Value::One)
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::optional) {
            let kw: kw::optional = input.parse()?;
            return Ok(Arg::Optional(kw.span));
        }
        if lookahead.peek(kw::sign_in_redirect) {
            let kw: kw::sign_in_redirect = input.parse()?;
            return Ok(Arg::SignInRedirect(kw.span));
        }
        if lookahead.peek(kw::accepts) {
            let key_span = input.parse::<kw::accepts>()?.span;
            input.parse::<Token![=]>()?;
            let value = parse_value(input)?;
            return Ok(Arg::Accepts { key_span, value });
        }
        if lookahead.peek(kw::reverification) {
            let key_span = input.parse::<kw::reverification>()?.span;
            let spec = parse_reverification(input)?;
            return Ok(Arg::Reverification { key_span, spec });
        }
        let (key, key_span) = if lookahead.peek(kw::roles) {
            (Key::Roles, input.parse::<kw::roles>()?.span)
        } else if lookahead.peek(kw::org_role) {
            (Key::OrgRole, input.parse::<kw::org_role>()?.span)
        } else if lookahead.peek(kw::permissions) {
            (Key::Permissions, input.parse::<kw::permissions>()?.span)
        } else if lookahead.peek(kw::feature) {
            (Key::Feature, input.parse::<kw::feature>()?.span)
        } else if lookahead.peek(kw::plan) {
            (Key::Plan, input.parse::<kw::plan>()?.span)
        } else if lookahead.peek(kw::scopes) {
            (Key::Scopes, input.parse::<kw::scopes>()?.span)
        } else {
            return Err(lookahead.error());
        };
        input.parse::<Token![=]>()?;
        let value = parse_value(input)?;
        Ok(Arg::Requirement {
            key,
            key_span,
            value,
        })
    }
}

/// After `reverification`: `= "preset"` or `(level = "…", after_minutes = N)`.
fn parse_reverification(input: ParseStream) -> syn::Result<ReverificationSpec> {
    let lookahead = input.lookahead1();
    if lookahead.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        return parse_string(input).map(ReverificationSpec::Preset);
    }
    if !lookahead.peek(syn::token::Paren) {
        return Err(lookahead.error());
    }
    let content;
    let parens = parenthesized!(content in input);
    let (mut level, mut after_minutes) = (None, None);
    while !content.is_empty() {
        let lookahead = content.lookahead1();
        if lookahead.peek(kw::level) {
            let kw: kw::level = content.parse()?;
            if level.is_some() {
                return Err(syn::Error::new(kw.span, "duplicate `level`"));
            }
            content.parse::<Token![=]>()?;
            level = Some(parse_string(&content)?);
        } else if lookahead.peek(kw::after_minutes) {
            let kw: kw::after_minutes = content.parse()?;
            if after_minutes.is_some() {
                return Err(syn::Error::new(kw.span, "duplicate `after_minutes`"));
            }
            content.parse::<Token![=]>()?;
            after_minutes = Some(content.parse::<LitInt>().map_err(|e| {
                syn::Error::new(e.span(), "expected a whole number of minutes, like 30")
            })?);
        } else {
            return Err(lookahead.error());
        }
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    Ok(ReverificationSpec::Custom {
        span: parens.span.join(),
        level,
        after_minutes,
    })
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let items = Punctuated::<Arg, Token![,]>::parse_terminated(input)?;
        Ok(Args {
            items: items.into_iter().collect(),
        })
    }
}

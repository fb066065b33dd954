//! Parsing the attribute's arguments: `optional`, `roles = …`,
//! `org_role = …`, `permissions = …`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, LitStr, Token};

mod kw {
    syn::custom_keyword!(optional);
    syn::custom_keyword!(roles);
    syn::custom_keyword!(org_role);
    syn::custom_keyword!(permissions);
}

/// Which requirement a key states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Roles,
    OrgRole,
    Permissions,
}

impl Key {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Key::Roles => "roles",
            Key::OrgRole => "org_role",
            Key::Permissions => "permissions",
        }
    }
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
    Requirement {
        key: Key,
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
        let (key, key_span) = if lookahead.peek(kw::roles) {
            (Key::Roles, input.parse::<kw::roles>()?.span)
        } else if lookahead.peek(kw::org_role) {
            (Key::OrgRole, input.parse::<kw::org_role>()?.span)
        } else if lookahead.peek(kw::permissions) {
            (Key::Permissions, input.parse::<kw::permissions>()?.span)
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

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let items = Punctuated::<Arg, Token![,]>::parse_terminated(input)?;
        Ok(Args {
            items: items.into_iter().collect(),
        })
    }
}

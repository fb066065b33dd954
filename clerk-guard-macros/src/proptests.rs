//! Property tests: arbitrary token streams into the argument parser and
//! validator, and through the whole attribute. Never a panic; always either
//! an expansion (the guard inserted) or errors (`compile_error!` beside the
//! unchanged item). `PROPTEST_CASES` raises the case count.

use std::str::FromStr;

use proc_macro2::{Literal, TokenStream};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::args::Args;
use crate::expand::clerk_protected;
use crate::validate;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// A token of the attribute's vocabulary, or something near it.
fn token() -> impl Strategy<Value = String> {
    let words = prop_oneof![
        Just("roles"),
        Just("org_role"),
        Just("permissions"),
        Just("optional"),
        Just("feature"),
        Just("plan"),
        Just("reverification"),
        Just("level"),
        Just("after_minutes"),
        Just("30"),
        Just("role"),
        Just("self"),
        Just("="),
        Just(","),
        Just("["),
        Just("]"),
        Just("("),
        Just(")"),
        Just("=="),
        Just("1"),
        Just("true"),
        Just("r#roles"),
        Just("'a'"),
        Just("b\"x\""),
    ]
    .prop_map(str::to_owned);
    let string = any::<String>().prop_map(|s| Literal::string(&s).to_string());
    let realistic = prop_oneof![
        Just("\"admin\"".to_owned()),
        Just("\"org:billing:manage\"".to_owned()),
        Just("\"org:admin\"".to_owned()),
        Just("\" admin\"".to_owned()),
        Just("\"\"".to_owned()),
        Just("\"strict\"".to_owned()),
        Just("\"second_factor\"".to_owned()),
        Just("\"org:reports\"".to_owned()),
    ];
    prop_oneof![4 => words, 2 => realistic, 1 => string]
}

const ITEMS: [&str; 6] = [
    "async fn handler() {}",
    "async fn handler(auth: ClerkAuth) -> String { auth.user_id().to_owned() }",
    "async fn handler(auth: Option<ClerkAuth>) {}",
    "fn handler() {}",
    "async fn handler(&self) {}",
    "struct NotAFunction;",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_arguments_parse_validate_and_expand_without_panicking(
        tokens in prop::collection::vec(token(), 0..12),
        item in 0usize..ITEMS.len(),
    ) {
        let Ok(args) = TokenStream::from_str(&tokens.join(" ")) else {
            // Unbalanced delimiters never reach an attribute: rustc refuses them first.
            return Ok(());
        };
        let parsed = syn::parse2::<Args>(args.clone()).and_then(validate::attribute);
        let item_tokens = TokenStream::from_str(ITEMS[item]).unwrap();
        let out = clerk_protected(args, item_tokens).to_string();
        prop_assert!(!out.is_empty());
        let reported = out.contains("compile_error");
        let guarded = out.contains("Guard") || out.contains("SoleAuth");
        // Exactly one of: an expansion with the guard, or errors beside the item.
        prop_assert!(reported != guarded, "{}", out);
        if parsed.is_err() {
            prop_assert!(reported, "a bad argument list expanded: {}", out);
        }
    }

    #[test]
    fn any_string_value_is_either_expanded_exactly_or_refused(value in any::<String>(), key in 0usize..6) {
        let key = ["roles", "org_role", "permissions", "feature", "plan", "reverification"][key];
        let args = TokenStream::from_str(&format!("{key} = {}", Literal::string(&value))).unwrap();
        let out = clerk_protected(args, TokenStream::from_str(ITEMS[0]).unwrap()).to_string();
        prop_assert!(out.contains("compile_error") != out.contains("Guard"), "{}", out);
    }
}

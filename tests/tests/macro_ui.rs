//! Compile-time behaviour of `#[clerk_protected]`: shapes that must compile
//! (`ui/pass`) and misuse that must fail with a reviewed message (`ui/fail`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}

//! The attribute writes the runtime's tables as numbers (`Accepting<BITS>`,
//! `Reverify<LEVEL, MINUTES, PRESET>`); these tests hold its copies to the
//! runtime's own.

use clerk_guard::__private::REVERIFICATION_LEVELS;
use clerk_guard::{AcceptList, Accepting, Accepts, TokenKind, REVERIFICATION_PRESETS};

use crate::validate::{KINDS, LEVELS, MACHINE_BITS, PRESETS, SESSION_BIT};

/// What `Accepting<BITS>` accepts, for the bits the attribute can write.
fn accepting(bits: u8) -> Accepts {
    macro_rules! table {
        ($($bits:literal)*) => {
            match bits {
                $($bits => <Accepting<$bits> as AcceptList>::ACCEPTS,)*
                _ => panic!("no kind set has the bits {bits}"),
            }
        };
    }
    table!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
}

#[test]
fn every_kind_name_is_the_runtime_kind_of_that_name() {
    for (name, bits) in KINDS {
        let expected = match TokenKind::parse(name) {
            Some(kind) => only(kind),
            None => {
                assert_eq!(name, "any");
                Accepts::ANY
            }
        };
        assert_eq!(accepting(bits), expected, "{name}");
        assert_eq!(Accepts::from_bits(bits), Some(expected), "{name}");
        assert_eq!(
            bits & MACHINE_BITS != 0,
            expected.accepts_machines(),
            "{name}"
        );
        assert_eq!(
            bits & SESSION_BIT != 0,
            expected.contains(TokenKind::Session),
            "{name}"
        );
    }
    assert_eq!(accepting(SESSION_BIT), Accepts::default());
}

/// The set of exactly `kind`.
fn only(kind: TokenKind) -> Accepts {
    match kind {
        TokenKind::Session => Accepts::SESSION,
        TokenKind::M2m => Accepts::M2M,
        TokenKind::OAuth => Accepts::OAUTH,
        TokenKind::ApiKey => Accepts::API_KEY,
    }
}

#[test]
fn presets_and_levels_are_the_runtime_ones() {
    assert_eq!(PRESETS.len(), REVERIFICATION_PRESETS.len());
    for ((name, level, minutes), (r_name, r_level, r_minutes)) in
        PRESETS.iter().zip(REVERIFICATION_PRESETS)
    {
        assert_eq!((*name, *minutes), (r_name, r_minutes));
        assert_eq!(LEVELS[usize::from(*level)], r_level.as_str(), "{name}");
    }
    // `Reverify<LEVEL, …>` reads LEVEL as the runtime's level of that number.
    assert_eq!(LEVELS.len(), REVERIFICATION_LEVELS.len());
    for (name, level) in LEVELS.iter().zip(REVERIFICATION_LEVELS) {
        assert_eq!(level.as_str(), *name);
    }
}

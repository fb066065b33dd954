//! Clerk's v2 organization permissions: the `fea`, `o.per` and `o.fpm`
//! encoding decoded as `@clerk/shared` does, and permission and role names
//! spelled on the stack for the checks.

/// Clerk's v2 permission encoding, decoded as `@clerk/shared` does: the i-th
/// org-scoped feature of `fea` (scope `o`, `ou` or `uo`) has the i-th mask of
/// `fpm`; bit j (least significant first) grants the j-th entry of `per` as
/// `org:<feature>:<permission>`. Lists keep their positions: an empty entry
/// is an empty item that grants nothing and shifts nothing.
pub(super) fn decode_v2_permissions(fea: &str, per: &str, fpm: &str) -> Vec<String> {
    let mut granted = Vec::new();
    v2_permissions(fea, per, fpm, |feature, permission| {
        granted.push(["org:", feature, ":", permission].concat());
        false
    });
    granted
}

/// Each permission [`decode_v2_permissions`] grants, as `(feature,
/// permission)`, in order, until `each` returns `true`.
pub(super) fn v2_permissions(
    fea: &str,
    per: &str,
    fpm: &str,
    mut each: impl FnMut(&str, &str) -> bool,
) {
    if per.is_empty() || fpm.is_empty() {
        return;
    }
    // The i-th org feature takes the i-th mask: one step per feature.
    let mut masks = fpm.split(',').map(str::trim);
    let org_features = fea.split(',').filter_map(|entry| {
        let (scope, feature) = entry.trim().split_once(':')?;
        matches!(scope, "o" | "ou" | "uo").then_some(feature)
    });
    for feature in org_features {
        let Some(mask) = masks.next().and_then(Mask::parse) else {
            continue;
        };
        if feature.is_empty() {
            continue;
        }
        for (bit, permission) in per.split(',').map(str::trim).enumerate() {
            if mask.bit(bit) && !permission.is_empty() && each(feature, permission) {
                return;
            }
        }
    }
}

/// `wanted` of the permission name `org:<feature>:<permission>`.
pub(super) fn with_permission_name(
    feature: &str,
    permission: &str,
    wanted: &dyn Fn(&str) -> bool,
) -> bool {
    with_concat(&["org:", feature, ":", permission], wanted)
}

/// `wanted` of `pieces` put together, spelled on the stack (every real
/// organization role and permission name fits).
pub(super) fn with_concat(pieces: &[&str], wanted: &dyn Fn(&str) -> bool) -> bool {
    let mut buf = [0u8; 192];
    let len = pieces.iter().map(|p| p.len()).sum::<usize>();
    if len > buf.len() {
        return wanted(&pieces.concat());
    }
    let mut at = 0;
    for piece in pieces {
        buf[at..at + piece.len()].copy_from_slice(piece.as_bytes());
        at += piece.len();
    }
    // Pieces of `str`s, so UTF-8.
    std::str::from_utf8(&buf[..len]).is_ok_and(wanted)
}

/// A permission mask: a word when it fits one (every real mask), else
/// limbs.
enum Mask {
    Word(u64),
    Limbs(Vec<u64>),
}

impl Mask {
    /// A decimal string of ASCII digits; `None` otherwise.
    fn parse(decimal: &str) -> Option<Self> {
        // Any 19 digits fit a u64.
        if !decimal.is_empty() && decimal.len() <= 19 {
            return decimal
                .bytes()
                .try_fold(0u64, |word, b| {
                    b.is_ascii_digit().then(|| word * 10 + u64::from(b - b'0'))
                })
                .map(Mask::Word);
        }
        decimal_to_bits(decimal).map(Mask::Limbs)
    }

    /// Bit `bit`, least significant first.
    fn bit(&self, bit: usize) -> bool {
        let limb = match self {
            Mask::Word(word) if bit < 64 => *word,
            Mask::Word(_) => 0,
            Mask::Limbs(limbs) => limbs.get(bit / 64).copied().unwrap_or(0),
        };
        limb >> (bit % 64) & 1 == 1
    }
}

/// A decimal string of any length as little-endian 64-bit limbs; `None`
/// unless it is all ASCII digits.
fn decimal_to_bits(decimal: &str) -> Option<Vec<u64>> {
    // Far beyond any real mask (a 4096-bit mask has 1234 digits); bounds the
    // quadratic conversion.
    const MAX_DIGITS: usize = 4096;
    if decimal.is_empty()
        || decimal.len() > MAX_DIGITS
        || !decimal.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut limbs: Vec<u64> = vec![0];
    for digit in decimal.bytes().map(|b| u128::from(b - b'0')) {
        let mut carry = digit;
        for limb in limbs.iter_mut() {
            let value = u128::from(*limb) * 10 + carry;
            *limb = value as u64;
            carry = value >> 64;
        }
        if carry > 0 {
            limbs.push(carry as u64);
        }
    }
    Some(limbs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_permissions_follow_org_scoped_features_in_order() {
        let got = decode_v2_permissions("o:billing,u:profile,uo:reports", "read,manage", "3,1");
        assert_eq!(
            got,
            ["org:billing:read", "org:billing:manage", "org:reports:read"]
        );
    }

    #[test]
    fn v2_empty_entries_keep_their_positions() {
        // An empty permission is bit 1: `manage` stays bit 2.
        assert_eq!(
            decode_v2_permissions("o:a", "read,,manage", "7"),
            ["org:a:read", "org:a:manage"]
        );
        // An empty mask belongs to feature 0: feature 1 keeps mask `1`.
        assert_eq!(
            decode_v2_permissions("o:a,o:b", "read", ",1"),
            ["org:b:read"]
        );
        // An empty org feature takes its place in the list and grants nothing.
        assert_eq!(
            decode_v2_permissions("o:,o:b", "read", "1,1"),
            ["org:b:read"]
        );
        // An empty `fea` entry is not org-scoped: it takes no place.
        assert_eq!(decode_v2_permissions(",o:b", "read", "1"), ["org:b:read"]);
        // Only Clerk's scopes count as organization scopes.
        assert!(decode_v2_permissions("org:a,xo:b", "read", "1,1").is_empty());
    }

    #[test]
    fn a_word_mask_reads_as_the_limbs_do() {
        for decimal in [
            "0",
            "1",
            "5",
            "007",
            "18446744073709551615",
            "9999999999999999999",
            "1x",
            "+1",
            " 1",
        ] {
            let word = Mask::parse(decimal);
            let limbs = decimal_to_bits(decimal);
            assert_eq!(word.is_some(), limbs.is_some(), "{decimal}");
            if let (Some(word), Some(limbs)) = (word, limbs) {
                let limbs = Mask::Limbs(limbs);
                for bit in 0..130 {
                    assert_eq!(word.bit(bit), limbs.bit(bit), "{decimal} bit {bit}");
                }
            }
        }
    }

    #[test]
    fn v2_masks_beyond_64_bits_and_bad_masks() {
        let per: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
        // 2^69 = 590295810358705651712
        let got = decode_v2_permissions("o:big", &per.join(","), "590295810358705651712");
        assert_eq!(got, ["org:big:p69"]);
        assert!(decode_v2_permissions("o:a", "read", "0x1").is_empty());
        assert!(decode_v2_permissions("o:a", "read", "-1").is_empty());
        assert!(decode_v2_permissions("o:a", "read", &"1".repeat(5000)).is_empty());
        assert!(decode_v2_permissions("o:a,o:b", "read", "1").len() == 1);
    }
}

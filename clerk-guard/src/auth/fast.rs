//! The registered claims of an ordinary payload, read in one pass.
//!
//! Clerk's session tokens are a flat JSON object of short strings and
//! integers, with a few small nested values (`o`, `fva`, template claims).
//! This reader handles exactly that shape and nothing more: any byte it is not
//! sure of (a backslash, a control character, a registered claim that is not
//! a plain string or a non-negative integer of at most 15 digits, a repeated
//! registered claim, deep nesting, a number near `f64`'s limits, a syntax
//! error) makes it give up, and the payload goes to the map reader (serde_json
//! into the claim map), which decides. So it never refuses a payload and never
//! accepts one the map reader would refuse; where it accepts, it reads the
//! same values (checked by [`check`](super::check), which the property tests
//! and the `claims` fuzz target run against the map reader).

use super::registered::{Registered, Spans, Text};

/// Nesting followed inside an unregistered claim before giving up (the map
/// reader allows 128).
const MAX_DEPTH: u32 = 32;

/// The largest power of ten a skipped number may reach (integer digits plus
/// exponent): far inside `f64`'s range (about 1.8e308), so every number
/// taken is one the map reader reads.
const MAX_MAGNITUDE: i64 = 300;

/// The `sub` of `payload` (`Some(None)` when it has none) when the one-pass
/// reader reads it, which it does only as the map reader would; `None` to
/// let the caller read the payload otherwise.
pub(crate) fn subject(payload: &str) -> Option<Option<&str>> {
    match read(payload)?.sub {
        None => Some(None),
        Some(Text::At { start, len }) => {
            let (start, len) = (start as usize, len as usize);
            payload.get(start..start + len).map(Some)
        }
        Some(Text::Owned(_)) => None,
    }
}

/// The registered claims of `payload`, or `None` to let the map reader read it.
pub(super) fn read(payload: &str) -> Option<Registered> {
    let mut scan = Scanner {
        bytes: payload.as_bytes(),
        at: 0,
    };
    let mut out = Registered {
        sub: None,
        exp: None,
        nbf: None,
        iat: None,
        iss: None,
        azp: None,
        sid: None,
        sts: None,
        v: None,
        spans: Spans::default(),
    };
    scan.space();
    scan.eat(b'{')?;
    scan.space();
    if scan.peek()? == b'}' {
        scan.at += 1;
    } else {
        loop {
            let (start, end) = scan.plain_string()?;
            // Tokens are compact JSON: the colon follows the name at once.
            if scan.peek() == Some(b':') {
                scan.at += 1;
            } else {
                scan.space();
                scan.eat(b':')?;
            }
            scan.space();
            // Byte patterns, compared inline (a `str` match calls memcmp per
            // arm). The arms only pick the slot: the one string and the one
            // integer reader below are each inlined once, which keeps this
            // function's code small (it runs on every cold request, and the
            // code it touches is fetched as surely as the data).
            let slot = match scan.bytes[start..end] {
                [b's', b'u', b'b'] => Slot::Text(&mut out.sub),
                [b'i', b's', b's'] => Slot::Text(&mut out.iss),
                [b'a', b'z', b'p'] => Slot::Text(&mut out.azp),
                [b's', b'i', b'd'] => Slot::Text(&mut out.sid),
                [b's', b't', b's'] => Slot::Text(&mut out.sts),
                [b'e', b'x', b'p'] => Slot::Number(&mut out.exp),
                [b'n', b'b', b'f'] => Slot::Number(&mut out.nbf),
                [b'i', b'a', b't'] => Slot::Number(&mut out.iat),
                [b'v'] => Slot::Number(&mut out.v),
                ref name => match Spans::index(name) {
                    Some(index) => Slot::Noted(index),
                    None => Slot::Other,
                },
            };
            match slot {
                // serde_json refuses a repeated field.
                Slot::Text(Some(_)) | Slot::Number(Some(_)) => return None,
                Slot::Text(slot) => {
                    let (start, end) = scan.plain_string()?;
                    *slot = Some(Text::At {
                        start: u32::try_from(start).ok()?,
                        len: u32::try_from(end - start).ok()?,
                    });
                }
                Slot::Number(slot) => *slot = Some(scan.integer()?),
                Slot::Noted(index) => {
                    // A repeated one: the last wins, as in the claim map.
                    let start = scan.at;
                    scan.skip_value(0)?;
                    out.spans.0[index] = (
                        u32::try_from(start).ok()?,
                        u32::try_from(scan.at - start).ok()?,
                    );
                }
                Slot::Other => scan.skip_value(0)?,
            }
            scan.space();
            match scan.next()? {
                b',' => scan.space(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    scan.space();
    (scan.at == scan.bytes.len()).then_some(out)
}

/// The string fields `names` of a noted claim's JSON text, read as in
/// [`read`]: `Some(None)` when the value is not an object, each field `None`
/// where absent or of another type, the last of a repeated name winning;
/// `None` to let the caller read it with serde (an escape, deep nesting).
pub(super) fn fields<'a, const N: usize>(
    text: &'a str,
    names: &[&str; N],
) -> Option<Option<[Option<&'a str>; N]>> {
    let mut scan = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut out = [None; N];
    let object = scan.whole_container(b'{', b'}', |scan| {
        let (start, end) = scan.plain_string()?;
        scan.space();
        scan.eat(b':')?;
        scan.space();
        let name = text.get(start..end)?;
        match names.iter().position(|n| *n == name) {
            Some(at) if scan.peek()? == b'"' => {
                let (start, end) = scan.plain_string()?;
                out[at] = Some(text.get(start..end)?);
            }
            Some(at) => {
                scan.skip_value(1)?;
                out[at] = None;
            }
            None => scan.skip_value(1)?,
        }
        Some(())
    })?;
    Some(object.then_some(out))
}

/// The items of a noted claim's JSON text, each a string or `None`, read as
/// in [`read`]: `Some(None)` when the value is not an array; `None` to let
/// the caller read it with serde.
pub(super) fn items(text: &str) -> Option<Option<Vec<Option<&str>>>> {
    let mut out = Vec::new();
    let array = each_item(text, |item| out.push(item))?;
    Some(array.then_some(out))
}

/// [`items`] one by one, to `each`: `Some(false)` when the value is not an
/// array; `None` to let the caller read it with serde (then `each` may
/// have seen some items already).
pub(super) fn each_item<'a>(text: &'a str, mut each: impl FnMut(Option<&'a str>)) -> Option<bool> {
    let mut scan = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    scan.whole_container(b'[', b']', |scan| {
        if scan.peek()? == b'"' {
            let (start, end) = scan.plain_string()?;
            each(Some(text.get(start..end)?));
        } else {
            scan.skip_value(1)?;
            each(None);
        }
        Some(())
    })
}

/// Where a claim's value goes.
enum Slot<'a> {
    Text(&'a mut Option<Text>),
    Number(&'a mut Option<f64>),
    /// An authorization claim: where its value sits is noted.
    Noted(usize),
    Other,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    fn eat_all(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// JSON whitespace (space, tab, line feed, carriage return).
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A string with no escapes and no control characters: where its
    /// content starts and ends. The input is a `str`, so those are char
    /// boundaries (a quote is ASCII and never inside a multi-byte char).
    // Inlined (as `string_end` and `integer`): called for every claim name
    // and most values, where a call's register saves cost as much as the scan.
    #[inline(always)]
    fn plain_string(&mut self) -> Option<(usize, usize)> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = self.bytes.get(start..)?;
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some((start, start + len))
    }

    /// A registered time or version claim: a non-negative integer of at
    /// most 15 digits (exact as an `f64`), not followed by a fraction or an
    /// exponent. Anything else is left to serde_json.
    #[inline(always)]
    fn integer(&mut self) -> Option<f64> {
        let start = self.at;
        let mut value: u64 = 0;
        // Unix times have ten digits: the first eight are read as one word.
        if let Some(word) = self.bytes.get(start..start + 8) {
            let word = u64::from_le_bytes(word.try_into().ok()?);
            if let Some(eight) = eight_digits(word) {
                value = eight;
                self.at += 8;
            }
        }
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value * 10 + u64::from(digit - b'0');
            self.at += 1;
            if self.at - start > 15 {
                return None;
            }
        }
        let digits = self.at - start;
        let leading_zero = digits > 1 && self.bytes[start] == b'0';
        if digits == 0 || leading_zero || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(value as f64)
    }

    /// The whole input as one container opened by `open` and closed by
    /// `close`, each member read by `member` (separators and the end are
    /// checked here): `Some(false)` when the input is another JSON value;
    /// `None` to give up.
    fn whole_container(
        &mut self,
        open: u8,
        close: u8,
        mut member: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<bool> {
        if self.peek()? != open {
            return self.whole_value().then_some(false);
        }
        self.at += 1;
        self.space();
        if self.peek()? == close {
            self.at += 1;
        } else {
            loop {
                member(self)?;
                self.space();
                match self.next()? {
                    b',' => self.space(),
                    byte if byte == close => break,
                    _ => return None,
                }
            }
        }
        self.space();
        (self.at == self.bytes.len()).then_some(true)
    }

    /// The whole input is one JSON value (with whitespace around it).
    fn whole_value(&mut self) -> bool {
        self.space();
        let read = self.skip_value(0).is_some();
        self.space();
        read && self.at == self.bytes.len()
    }

    /// Any JSON value, checked by the grammar and passed over.
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.plain_string().map(drop),
            b'{' => self.skip_container(depth, b'}', true),
            b'[' => self.skip_container(depth, b']', false),
            b't' => self.eat_all(b"true"),
            b'f' => self.eat_all(b"false"),
            b'n' => self.eat_all(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// An object (`keyed`) or an array, after its opening byte.
    fn skip_container(&mut self, depth: u32, close: u8, keyed: bool) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.space();
        if self.peek()? == close {
            self.at += 1;
            return Some(());
        }
        loop {
            if keyed {
                self.plain_string()?;
                self.space();
                self.eat(b':')?;
                self.space();
            }
            self.skip_value(depth + 1)?;
            self.space();
            match self.next()? {
                b',' => self.space(),
                byte if byte == close => return Some(()),
                _ => return None,
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, of a magnitude well
    /// inside `f64`'s range: at most [`MAX_MAGNITUDE`] integer digits plus
    /// exponent, and an exponent of at most three digits. A number past it
    /// (serde_json refuses `1e400`) is left to the map reader to judge.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let start = self.at;
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let whole = self.at - start;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        let mut exponent: i64 = 0;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            let negative = match self.peek() {
                Some(sign @ (b'+' | b'-')) => {
                    self.at += 1;
                    sign == b'-'
                }
                _ => false,
            };
            let digits = self.at;
            self.some_digits()?;
            let text = self.bytes.get(digits..self.at)?;
            if text.len() > 3 {
                return None;
            }
            exponent = text.iter().fold(0, |e, d| e * 10 + i64::from(d - b'0'));
            if negative {
                exponent = -exponent;
            }
        }
        if whole as i64 + exponent > MAX_MAGNITUDE {
            return None;
        }
        // A digit right after `0` (a leading zero) is not JSON.
        (!matches!(self.peek(), Some(b'0'..=b'9'))).then_some(())
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }
}

/// The first quote, backslash or control character in `bytes`. Eight bytes
/// at a time (claims are mostly string content): the word test marks, in
/// each byte's high bit, the first such byte of a little-endian word (and
/// possibly bytes after it, through borrows, never one before), so the
/// lowest mark is the answer. The last few bytes are searched one by one.
#[inline(always)]
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let mut start = 0;
    for word in bytes.chunks_exact(8) {
        let w = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        let marks =
            zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\'))) | below_space;
        if marks != 0 {
            return Some(start + marks.trailing_zeros() as usize / 8);
        }
        start += 8;
    }
    let at = bytes[start..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(start + at)
}

/// The number eight ASCII digits spell (the first digit in the lowest
/// byte, as `u64::from_le_bytes` reads them), or `None` if any byte is not a
/// digit. Each byte is a digit when its high nibble is 3 and adding 6 keeps
/// it 3 (no carry crosses bytes: every byte is at most 0x3f by then); the
/// digits are then combined pairwise: two, four, then eight at once.
#[inline(always)]
fn eight_digits(word: u64) -> Option<u64> {
    const NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    if word & NIBBLES != ZEROS || word.wrapping_add(0x0606_0606_0606_0606) & NIBBLES != ZEROS {
        return None;
    }
    let digits = word - ZEROS;
    // Each 16-bit lane's low byte: ten times its first digit plus its second.
    let pairs = digits.wrapping_mul(10).wrapping_add(digits >> 8);
    const LOW: u64 = 0x0000_00ff_0000_00ff;
    let high = (pairs & LOW).wrapping_mul(100 + (1_000_000 << 32));
    let low = ((pairs >> 16) & LOW).wrapping_mul(1 + (10_000 << 32));
    Some(high.wrapping_add(low) >> 32)
}

#[cfg(test)]
mod tests {
    use super::{eight_digits, string_end};

    /// Against a digit-by-digit parse: every digit at every position, spread
    /// values, and every non-digit byte at every position.
    #[test]
    fn eight_digits_reads_what_a_digit_loop_reads() {
        let naive = |bytes: &[u8; 8]| {
            bytes.iter().try_fold(0u64, |value, &b| {
                b.is_ascii_digit().then(|| value * 10 + u64::from(b - b'0'))
            })
        };
        let mut cases: Vec<[u8; 8]> = Vec::new();
        for at in 0..8 {
            for digit in b'0'..=b'9' {
                let mut bytes = *b"00000000";
                bytes[at] = digit;
                cases.push(bytes);
                let mut bytes = *b"99999999";
                bytes[at] = digit;
                cases.push(bytes);
            }
            for probe in 0..=255u8 {
                let mut bytes = *b"12345678";
                bytes[at] = probe;
                cases.push(bytes);
            }
        }
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let text = format!("{:08}", x % 100_000_000);
            cases.push(text.as_bytes().try_into().unwrap());
        }
        for bytes in cases {
            let word = u64::from_le_bytes(bytes);
            assert_eq!(eight_digits(word), naive(&bytes), "{:?}", bytes);
        }
    }

    /// Every byte value at every position of a 0–24 byte run, over fillers
    /// from each range the word test treats differently (ASCII, and bytes
    /// at and above 0x80, whose high bit the test must not mistake).
    #[test]
    fn string_end_finds_what_a_byte_scan_finds() {
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        };
        for filler in [b'a', b' ', b'~', 0x7f, 0x80, 0x9f, 0xa0, 0xdc, 0xff] {
            for len in 0..=24 {
                for at in 0..len {
                    for probe in 0..=255u8 {
                        let mut bytes = vec![filler; len];
                        bytes[at] = probe;
                        assert_eq!(string_end(&bytes), naive(&bytes), "{bytes:?}");
                        // A second special byte after the first changes nothing.
                        if at + 1 < len {
                            bytes[at + 1] = 0;
                            assert_eq!(string_end(&bytes), naive(&bytes), "{bytes:?}");
                        }
                    }
                }
                assert_eq!(string_end(&vec![filler; len]), None);
            }
        }
    }
}

//! JSON text written straight into a byte buffer, for the outputs that
//! carry thousands of commitments (`export`).
//!
//! serde_json writes token by token through its `Write` and formatter
//! layers; for an export whose shape is fixed and whose values are mostly
//! plain text, that machinery was most of the time. Strings here are
//! escaped exactly as serde_json escapes them, so a value reads back the
//! same whichever wrote it (a test holds the two byte for byte equal).

/// What a byte turns into inside a JSON string: 0 for itself, `u` for a
/// `\u00XX` escape, or the letter of a short escape (`\n`, `\"`, ...).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Where (0 to 7) the first of the eight bytes of `word`, read
/// little-endian, lies that must be escaped: a control character, a quote
/// or a backslash. A borrow in the subtractions can flag a byte after a
/// true match, never one before it, so the lowest flag is exact.
#[inline]
fn first_to_escape(word: u64) -> Option<usize> {
    let flags = escape_flags(word);
    (flags != 0).then_some(flags.trailing_zeros() as usize / 8)
}

/// The high bit of each byte of `word` that must be escaped, and
/// perhaps of bytes after it (see [`first_to_escape`]).
#[inline(always)]
fn escape_flags(word: u64) -> u64 {
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote =
        (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES) & !(word ^ (ONES * u64::from(b'"')));
    let backslash =
        (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES) & !(word ^ (ONES * u64::from(b'\\')));
    (control | quote | backslash) & HIGHS
}

/// Where the first byte from `at` on lies that must be escaped in a JSON
/// string (and so ends one, or starts an escape, when reading), or the
/// end of `bytes`. Sixteen bytes at a time while none does (most text,
/// Arabic included, has no such byte), then eight, then one.
#[inline]
fn next_to_escape(bytes: &[u8], mut at: usize) -> usize {
    while let (Some(first), Some(second)) = (word_at(bytes, at), word_at(bytes, at + 8)) {
        let (first, second) = (escape_flags(first), escape_flags(second));
        if first | second == 0 {
            at += 16;
            continue;
        }
        return at
            + if first != 0 {
                first.trailing_zeros() as usize / 8
            } else {
                8 + second.trailing_zeros() as usize / 8
            };
    }
    if let Some(word) = word_at(bytes, at) {
        match first_to_escape(word) {
            Some(place) => return at + place,
            None => at += 8,
        }
    }
    bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|b| ESCAPE[usize::from(*b)] != 0))
        .map_or(bytes.len(), |place| at + place)
}

/// The eight bytes of `bytes` from `at`, as a word, if there are eight.
#[inline]
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Appends `text` as a JSON string, quotes included.
pub fn push_str(out: &mut Vec<u8>, text: &str) {
    push_utf8(out, text.as_bytes());
}

/// Appends `bytes`, which are UTF-8, as a JSON string, quotes included.
pub fn push_utf8(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut plain_from = 0;
    let mut at = next_to_escape(bytes, 0);
    while let Some(&byte) = bytes.get(at) {
        out.extend_from_slice(&bytes[plain_from..at]);
        match ESCAPE[usize::from(byte)] {
            b'u' => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            }
            escape => {
                out.push(b'\\');
                out.push(escape);
            }
        }
        plain_from = at + 1;
        at = next_to_escape(bytes, at + 1);
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

/// Appends `text`, which has been checked to be a date, a timestamp or a
/// name from a fixed set (ASCII, nothing to escape), as a JSON string.
#[inline]
pub fn push_plain(out: &mut Vec<u8>, text: &[u8]) {
    debug_assert!(text.is_ascii() && !text.iter().any(|b| ESCAPE[usize::from(*b)] != 0));
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// How the members of an object (and the items of an array) are laid
/// out: compact, or indented as serde_json's pretty printer indents them
/// at a depth (1 for the fields of an array's element).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Compact,
    Pretty(usize),
}

/// Enough spaces for any depth the outputs reach.
const SPACES: &[u8] = b"                                ";

impl Layout {
    /// The layout of what is nested one level inside.
    #[inline(always)]
    pub fn inner(self) -> Layout {
        match self {
            Layout::Compact => Layout::Compact,
            Layout::Pretty(depth) => Layout::Pretty(depth + 1),
        }
    }

    /// Starts a member of an object laid out at this depth: the comma
    /// before it unless it is the first, then its key (plain ASCII).
    #[inline(always)]
    pub fn key(self, out: &mut Vec<u8>, first: bool, key: &str) {
        self.item(out, first);
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(match self {
            Layout::Compact => b"\":",
            Layout::Pretty(_) => b"\": ",
        });
    }

    /// Starts an item of an array (or a member) at this depth.
    #[inline(always)]
    pub fn item(self, out: &mut Vec<u8>, first: bool) {
        if !first {
            out.push(b',');
        }
        if let Layout::Pretty(depth) = self {
            out.push(b'\n');
            out.extend_from_slice(&SPACES[..2 * depth]);
        }
    }

    /// Ends an object or array whose items were laid out at this depth,
    /// with its closing bracket.
    #[inline(always)]
    pub fn close(self, out: &mut Vec<u8>, bracket: u8) {
        if let Layout::Pretty(depth) = self {
            out.push(b'\n');
            out.extend_from_slice(&SPACES[..2 * depth.saturating_sub(1)]);
        }
        out.push(bracket);
    }
}

/// Appends `text` as a JSON string, or `null`.
#[inline]
pub fn push_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => push_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// As [`push_plain`], or `null`.
#[inline]
pub fn push_opt_plain(out: &mut Vec<u8>, text: Option<&[u8]>) {
    match text {
        Some(text) => push_plain(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends a whole number.
pub fn push_int(out: &mut Vec<u8>, value: i64) {
    let mut buffer = [0u8; 20];
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(digits(value.unsigned_abs(), &mut buffer));
}

/// The decimal digits of `value`, written from the right into `buffer`
/// (room for the largest): no formatting machinery, no allocation.
pub fn digits(mut value: u64, buffer: &mut [u8; 20]) -> &[u8] {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buffer[at..]
}

/// Appends `true` or `false`.
#[inline]
pub fn push_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// Appends `value` exactly as `serde_json::to_string` writes it: compact,
/// an object's members in its map's order.
pub fn push_value(out: &mut Vec<u8>, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(value) => push_bool(out, *value),
        Value::Number(number) => match number.as_i64() {
            Some(whole) => push_int(out, whole),
            // Large and fractional numbers are rare in a history; serde_json
            // writes them as it always has. A number always serialises.
            None => {
                let _ = serde_json::to_writer(&mut *out, number);
            }
        },
        Value::String(text) => push_str(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (at, item) in items.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                push_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => push_object(out, members),
    }
}

/// Appends `members` as one JSON object, as `serde_json::to_string` does.
pub fn push_object(out: &mut Vec<u8>, members: &serde_json::Map<String, serde_json::Value>) {
    out.push(b'{');
    for (at, (key, value)) in members.iter().enumerate() {
        if at > 0 {
            out.push(b',');
        }
        push_str(out, key);
        out.push(b':');
        push_value(out, value);
    }
    out.push(b'}');
}

/// The members of `text` (`"a":1,"b":[2]`, without the braces) when it is
/// one JSON object written as serde_json writes a map: compact, its keys
/// unescaped and in ascending order. `None` otherwise, including for
/// anything this does not fully check (deep nesting, exponents, long
/// numbers); the caller then parses it properly. Whatever is accepted is
/// valid JSON; what serde_json wrote is accepted exactly as written.
pub fn canonical_members(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'{') {
        return None;
    }
    if bytes.get(1) == Some(&b'}') {
        return (bytes.len() == 2).then_some("");
    }
    let mut at = 1;
    let mut previous: Option<&[u8]> = None;
    loop {
        let key_end = skip_string(bytes, at)?;
        let key = &bytes[at + 1..key_end - 1];
        if key.contains(&b'\\') || previous.is_some_and(|p| p >= key) {
            return None;
        }
        previous = Some(key);
        if bytes.get(key_end) != Some(&b':') {
            return None;
        }
        at = skip_value(bytes, key_end + 1, 0)?;
        match bytes.get(at)? {
            b',' => at += 1,
            b'}' if at + 1 == bytes.len() => return Some(&text[1..at]),
            _ => return None,
        }
    }
}

/// Nesting deeper than this is left to serde_json.
const MAX_DEPTH: usize = 32;

/// The index just past the JSON string starting at `at`.
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let mut at = at + 1;
    loop {
        at = next_to_escape(bytes, at);
        match *bytes.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => match *bytes.get(at + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                b'u' => {
                    let hex = bytes.get(at + 2..at + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    at += 6;
                }
                _ => return None,
            },
            // What else stops the scan is a control character, which no
            // JSON string holds unescaped.
            _ => return None,
        }
    }
}

/// The index just past the compact JSON value starting at `at`.
fn skip_value(bytes: &[u8], at: usize, depth: usize) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    match *bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' => {
            if bytes.get(at + 1) == Some(&b'}') {
                return Some(at + 2);
            }
            let mut at = at + 1;
            loop {
                at = skip_string(bytes, at)?;
                if bytes.get(at) != Some(&b':') {
                    return None;
                }
                at = skip_value(bytes, at + 1, depth + 1)?;
                match *bytes.get(at)? {
                    b',' => at += 1,
                    b'}' => return Some(at + 1),
                    _ => return None,
                }
            }
        }
        b'[' => {
            if bytes.get(at + 1) == Some(&b']') {
                return Some(at + 2);
            }
            let mut at = at + 1;
            loop {
                at = skip_value(bytes, at, depth + 1)?;
                match *bytes.get(at)? {
                    b',' => at += 1,
                    b']' => return Some(at + 1),
                    _ => return None,
                }
            }
        }
        b't' => skip_literal(bytes, at, b"true"),
        b'f' => skip_literal(bytes, at, b"false"),
        b'n' => skip_literal(bytes, at, b"null"),
        b'-' | b'0'..=b'9' => skip_number(bytes, at),
        _ => None,
    }
}

fn skip_literal(bytes: &[u8], at: usize, literal: &[u8]) -> Option<usize> {
    bytes[at..]
        .starts_with(literal)
        .then_some(at + literal.len())
}

/// A number as serde_json writes one: an integer, or a decimal fraction
/// without exponent; at most 17 digits, so it always reads back.
fn skip_number(bytes: &[u8], at: usize) -> Option<usize> {
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let start = at;
    let mut at = at + usize::from(bytes[at] == b'-');
    let whole = digits(at);
    if whole == 0 || (whole > 1 && bytes[at] == b'0') {
        return None;
    }
    at += whole;
    if bytes.get(at) == Some(&b'.') {
        let fraction = digits(at + 1);
        if fraction == 0 {
            return None;
        }
        at += 1 + fraction;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) || at - start > 18 {
        return None;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn as_json(text: &str) -> String {
        let mut out = Vec::new();
        push_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    /// Any JSON value: text with every kind of character, numbers of every
    /// kind, nesting.
    fn any_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".*".prop_map(Value::String),
            "[\\u{0}-\\u{7f}]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn values_are_written_as_serde_json_writes_them(value in any_value()) {
            let mut out = Vec::new();
            push_value(&mut out, &value);
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&value).unwrap());
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "",
            "plain",
            "كما تم الاتفاق على عقد اجتماع",
            "\"quoted\" \\ back",
            "line\r\nBcc: x@example.org",
            "\u{0}\u{1}\u{8}\u{9}\u{b}\u{c}\u{1f}\u{7f}",
            "<script>alert('x')</script>",
            "\u{202e}bidi\u{2028}sep",
            "exactly8",
            "seven7\"",
            "12345678\"",
        ] {
            assert_eq!(
                as_json(text),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(text in "\\PC*|[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(as_json(&text), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn any_number_prints_as_serde_json_prints_it(value in any::<i64>()) {
            let mut out = Vec::new();
            push_int(&mut out, value);
            prop_assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }

    #[test]
    fn each_byte_that_needs_escaping_is_found_wherever_it_sits_in_a_word() {
        for byte in 0u8..=0xff {
            for position in 0..8 {
                let mut word = [b'a'; 8];
                word[position] = byte;
                let expected = (ESCAPE[usize::from(byte)] != 0).then_some(position);
                assert_eq!(
                    first_to_escape(u64::from_le_bytes(word)),
                    expected,
                    "byte {byte:#x} at {position}"
                );
            }
        }
        // Bytes of multi-byte UTF-8 never need escaping.
        assert_eq!(
            first_to_escape(u64::from_le_bytes(*b"\xd8\xa7\xd9\x84\xe2\x80\xae\xc3")),
            None
        );
    }

    proptest! {
        #[test]
        fn the_next_byte_to_escape_is_found_from_any_start(
            // Mostly plain text, so that the long strides are taken too.
            bytes in proptest::collection::vec(
                prop_oneof![8 => 0x20u8..=0x7f, 1 => any::<u8>()],
                0..80,
            ),
            start in 0usize..90,
        ) {
            let expected = bytes
                .iter()
                .enumerate()
                .skip(start)
                .find(|(_, b)| ESCAPE[usize::from(**b)] != 0)
                .map_or(bytes.len(), |(place, _)| place);
            prop_assert_eq!(next_to_escape(&bytes, start), expected);
        }
    }

    proptest! {
        #[test]
        fn the_first_byte_to_escape_is_found_among_any_others(word in any::<[u8; 8]>()) {
            let expected = word.iter().position(|b| ESCAPE[usize::from(*b)] != 0);
            prop_assert_eq!(first_to_escape(u64::from_le_bytes(word)), expected);
        }
    }

    proptest! {
        /// Strings of every length and kind (escapes, control characters,
        /// Arabic, quotes near a word's end) are read to their end.
        #[test]
        fn details_of_any_strings_are_taken_as_they_are(
            members in prop::collection::btree_map(
                "[a-z\"\\\\\u{1}]{0,12}",
                prop_oneof![".{0,20}", "[a-z\"\\\\\u{1f}\n]{0,20}"],
                0..5,
            )
        ) {
            let detail: serde_json::Map<String, serde_json::Value> = members
                .into_iter()
                .map(|(key, value)| (key, serde_json::Value::String(value)))
                .collect();
            let text = serde_json::to_string(&detail).unwrap();
            // Keys that need escaping are left to serde_json to check.
            if detail.keys().all(|key| !key.contains(['"', '\\', '\u{1}'])) {
                prop_assert_eq!(canonical_members(&text).map(|m| format!("{{{m}}}")), Some(text));
            } else {
                prop_assert_eq!(canonical_members(&text), None);
            }
        }
    }

    #[test]
    fn details_as_serde_writes_them_are_taken_as_they_are() {
        for detail in [
            serde_json::json!({}),
            serde_json::json!({ "text": "Nothing yet.\n<b>\"x\"</b> \u{1} \u{202e}" }),
            serde_json::json!({ "deadline": { "anchor": "2025-10-15", "vague": false, "version": 2 },
                                "from": null, "reason": "slipped", "to": [1, -2.5, 0, true, [], {}] }),
            serde_json::json!({ "a": 12345678901234567_i64, "b": -0.001 }),
        ] {
            let text = serde_json::to_string(&detail).unwrap();
            let members = canonical_members(&text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(format!("{{{members}}}"), text);
        }
    }

    #[test]
    fn anything_else_is_left_to_be_parsed() {
        for text in [
            "",
            "{",
            "}",
            "[]",
            "{}x",
            "{ }",
            "{\"a\": 1}",
            "{\"b\":1,\"a\":2}",
            "{\"a\":1,\"a\":2}",
            "{\"\\u0061\":1}",
            "{\"a\":tru}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":1e5}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":[1,]}",
            "{\"a\":{\"b\"}}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":1,}",
            "{\"a\":-}",
        ] {
            assert_eq!(canonical_members(text), None, "{text:?}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40));
        assert_eq!(canonical_members(&deep), None);
    }

    proptest! {
        #[test]
        fn what_is_taken_as_it_is_is_valid_json(
            body in "[{}\\[\\]\",:ab01.e\\\\ut-]{0,24}"
        ) {
            let text = format!("{{{body}}}");
            if let Some(members) = canonical_members(&text) {
                let parsed = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text);
                prop_assert!(parsed.is_ok(), "{text}");
                prop_assert_eq!(format!("{{{members}}}"), text);
            }
        }
    }

    #[test]
    fn extremes_of_numbers_and_truth() {
        let mut out = Vec::new();
        push_int(&mut out, i64::MIN);
        out.push(b' ');
        push_int(&mut out, 0);
        out.push(b' ');
        push_bool(&mut out, true);
        out.push(b' ');
        push_opt_str(&mut out, None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{} 0 true null", i64::MIN)
        );
    }
}

//! Numbers as deadlines state them: digits (Western, and Eastern Arabic or
//! Persian once folded), English number words ("three", "twenty-one",
//! "a couple of") and Arabic number words in both genders ("ثلاثة"/"ثلاث",
//! "خمسة عشر", "خمسة وعشرين", "مئة").
//!
//! Owns reading a number at a token position. Does not own which unit
//! follows or what the number counts: that is `en` and `ar`.

use super::{Cursor, Filter};

/// Eastern Arabic (٠–٩) and Persian (۰–۹) digits as their ASCII digit
/// ('١' → '1'); `None` for anything else.
pub(crate) fn western_digit(c: char) -> Option<char> {
    let zero = match c {
        '٠'..='٩' => '٠',
        '۰'..='۹' => '۰',
        _ => return None,
    };
    // Both ranges are ten consecutive code points.
    char::from_digit(c as u32 - zero as u32, 10)
}

/// The value of a run of ASCII digits; `u64::MAX` when it does not fit, so
/// that an absurd amount flows on to the calendar and is reported there as
/// out of range rather than read as some other number.
pub(crate) fn value_of_digits(digits: &str) -> u64 {
    digits
        .bytes()
        .try_fold(0u64, |acc, b| {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
        .unwrap_or(u64::MAX)
}

const EN_ONES: &[(&str, u64)] = &[
    ("zero", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
];

const EN_TENS: &[(&str, u64)] = &[
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
];

/// English phrases standing for a number before a unit.
const EN_PHRASES: &[(&[&str], u64)] = &[
    (&["a", "couple", "of"], 2),
    (&["couple", "of"], 2),
    (&["a", "dozen"], 12),
    (&["a", "hundred"], 100),
    (&["one", "hundred"], 100),
    (&["a"], 1),
    (&["an"], 1),
];

/// Reads an English number at `i`: digits, words up to ninety-nine, or
/// "a"/"an" (one). Returns the value and the index after it.
pub(crate) fn english(cur: &Cursor, i: usize) -> Option<(u64, usize)> {
    if let Some(v) = cur.digits(i) {
        return Some((v, i + 1));
    }
    if let Some((end, v)) = cur.longest(i, EN_PHRASES) {
        return Some((v, end));
    }
    if let Some(tens) = cur.lookup(i, EN_TENS) {
        // "twenty-one", "twenty one"
        let j = if cur.is(i + 1, "-") { i + 2 } else { i + 1 };
        return match cur.lookup(j, EN_ONES) {
            Some(one) if (1..=9).contains(&one) => Some((tens + one, j + 1)),
            _ => Some((tens, i + 1)),
        };
    }
    cur.lookup(i, EN_ONES).map(|v| (v, i + 1))
}

/// Arabic units, masculine and feminine forms, and the parts of 11 and 12.
const AR_ONES: &[(&str, u64)] = &[
    ("واحد", 1),
    ("واحده", 1),
    ("احد", 1),
    ("احدي", 1),
    ("اثنان", 2),
    ("اثنين", 2),
    ("اثنتان", 2),
    ("اثنتين", 2),
    ("اثنا", 2),
    ("اثني", 2),
    ("اثنتا", 2),
    ("اثنتي", 2),
    ("ثلاث", 3),
    ("ثلاثه", 3),
    ("اربع", 4),
    ("اربعه", 4),
    ("خمس", 5),
    ("خمسه", 5),
    ("ست", 6),
    ("سته", 6),
    ("سبع", 7),
    ("سبعه", 7),
    ("ثمان", 8),
    ("ثماني", 8),
    ("ثمانيه", 8),
    ("تسع", 9),
    ("تسعه", 9),
];

/// The ten, which also closes 11–19 ("خمسة عشر", "خمس عشرة").
const AR_TEN: &[(&str, u64)] = &[("عشر", 10), ("عشره", 10)];

/// Tens in the nominative (-ون) and the oblique (-ين) case.
const AR_TENS: &[(&str, u64)] = &[
    ("عشرون", 20),
    ("عشرين", 20),
    ("ثلاثون", 30),
    ("ثلاثين", 30),
    ("اربعون", 40),
    ("اربعين", 40),
    ("خمسون", 50),
    ("خمسين", 50),
    ("ستون", 60),
    ("ستين", 60),
    ("سبعون", 70),
    ("سبعين", 70),
    ("ثمانون", 80),
    ("ثمانين", 80),
    ("تسعون", 90),
    ("تسعين", 90),
];

const AR_HUNDREDS: &[(&str, u64)] = &[
    ("مئه", 100),
    ("مائه", 100),
    ("مئتين", 200),
    ("مائتين", 200),
    ("مئتان", 200),
    ("مائتان", 200),
];

/// The conjunction "و" that joins the units to the tens ("خمسة وعشرون"),
/// written attached or, in some copy, apart.
fn and_tens(cur: &Cursor, i: usize) -> Option<(u64, usize)> {
    if cur.is(i, "و") {
        return cur.lookup(i + 1, AR_TENS).map(|v| (v, i + 2));
    }
    let rest = cur.word(i).strip_prefix('و')?;
    AR_TENS
        .iter()
        .find(|(w, _)| super::same(w, rest))
        .map(|&(_, v)| (v, i + 1))
}

/// `filter` with every Arabic number word that can begin a number added.
pub(crate) const fn with_arabic_words(mut filter: Filter) -> Filter {
    let tables: [&[(&str, u64)]; 4] = [AR_ONES, AR_TEN, AR_TENS, AR_HUNDREDS];
    let mut t = 0;
    while t < tables.len() {
        let mut i = 0;
        while i < tables[t].len() {
            filter = filter.with(tables[t][i].0);
            i += 1;
        }
        t += 1;
    }
    filter
}

/// Reads an Arabic number at `i`: digits, or words from one to ninety-nine
/// in either gender, or one or two hundred. Returns the value and the index
/// after it.
pub(crate) fn arabic(cur: &Cursor, i: usize) -> Option<(u64, usize)> {
    if let Some(v) = cur.digits(i) {
        return Some((v, i + 1));
    }
    if let Some(v) = cur.lookup(i, AR_HUNDREDS) {
        return Some((v, i + 1));
    }
    if let Some(v) = cur.lookup(i, AR_TENS) {
        return Some((v, i + 1));
    }
    if let Some(v) = cur.lookup(i, AR_TEN) {
        return Some((v, i + 1));
    }
    let one = cur.lookup(i, AR_ONES)?;
    if cur.lookup(i + 1, AR_TEN).is_some() {
        return Some((10 + one, i + 2));
    }
    if let Some((tens, end)) = and_tens(cur, i + 1) {
        return Some((tens + one, end));
    }
    // "اثنا"/"اثنتا" only ever stand inside twelve.
    if matches!(cur.word(i), "اثنا" | "اثني" | "اثنتا" | "اثنتي") {
        return None;
    }
    Some((one, i + 1))
}

/// An Arabic number word with the article, as it stands after a definite
/// noun: "الأشهر *الثلاثة* المقبلة", "الأيام *العشرة* المقبلة".
pub(crate) fn arabic_definite(cur: &Cursor, i: usize) -> Option<(u64, usize)> {
    let rest = cur.word(i).strip_prefix("ال")?;
    AR_ONES
        .iter()
        .chain(AR_TEN)
        .chain(AR_TENS)
        .find(|(w, _)| super::same(w, rest))
        .map(|&(_, v)| (v, i + 1))
}

#[cfg(test)]
mod tests {
    use super::super::with_cursor;
    use super::*;

    fn en(text: &str) -> Option<(u64, usize)> {
        with_cursor(text, |cur| english(cur, 0))
    }

    fn ar(text: &str) -> Option<(u64, usize)> {
        with_cursor(text, |cur| arabic(cur, 0))
    }

    #[test]
    fn eastern_and_persian_digits_are_read() {
        assert_eq!(western_digit('٠'), Some('0'));
        assert_eq!(western_digit('٩'), Some('9'));
        assert_eq!(western_digit('۴'), Some('4'));
        assert_eq!(western_digit('4'), None);
        assert_eq!(ar("١٥ يوما"), Some((15, 1)));
    }

    #[test]
    fn digits_too_long_saturate() {
        assert_eq!(value_of_digits("18446744073709551615"), u64::MAX);
        assert_eq!(value_of_digits("99999999999999999999999"), u64::MAX);
        assert_eq!(value_of_digits("007"), 7);
    }

    #[test]
    fn english_words() {
        assert_eq!(en("three weeks"), Some((3, 1)));
        assert_eq!(en("nineteen"), Some((19, 1)));
        assert_eq!(en("twenty-one days"), Some((21, 3)));
        assert_eq!(en("twenty one days"), Some((21, 2)));
        assert_eq!(en("ninety days"), Some((90, 1)));
        assert_eq!(en("a month"), Some((1, 1)));
        assert_eq!(en("an hour"), Some((1, 1)));
        assert_eq!(en("a couple of weeks"), Some((2, 3)));
        assert_eq!(en("a hundred days"), Some((100, 2)));
        assert_eq!(en("72 hours"), Some((72, 1)));
        assert_eq!(en("weeks"), None);
    }

    #[test]
    fn arabic_words_in_both_genders() {
        assert_eq!(ar("ثلاثة أشهر"), Some((3, 1)));
        assert_eq!(ar("ثلاث سنوات"), Some((3, 1)));
        assert_eq!(ar("عشرة أيام"), Some((10, 1)));
        assert_eq!(ar("عشر سنوات"), Some((10, 1)));
        assert_eq!(ar("ثمانية"), Some((8, 1)));
        assert_eq!(ar("ثماني سنوات"), Some((8, 1)));
    }

    #[test]
    fn arabic_teens_and_compounds() {
        assert_eq!(ar("أحد عشر شهرا"), Some((11, 2)));
        assert_eq!(ar("إحدى عشرة سنة"), Some((11, 2)));
        assert_eq!(ar("اثنا عشر شهرا"), Some((12, 2)));
        assert_eq!(ar("اثنتي عشرة سنة"), Some((12, 2)));
        assert_eq!(ar("خمسة عشر يوما"), Some((15, 2)));
        assert_eq!(ar("خمسة وعشرين يوما"), Some((25, 2)));
        assert_eq!(ar("خمس و عشرون"), Some((25, 3)));
        assert_eq!(ar("تسعين يوما"), Some((90, 1)));
        assert_eq!(ar("مئة يوم"), Some((100, 1)));
        assert_eq!(ar("مائة يوم"), Some((100, 1)));
    }

    #[test]
    fn part_of_twelve_alone_is_not_a_number() {
        assert_eq!(ar("اثنا شهرا"), None);
    }

    #[test]
    fn arabic_number_words_match_whole_words_only() {
        // "وأحدث" (and the latest) contains "احد" (one) but is not a number.
        assert_eq!(ar("وأحدث"), None);
        assert_eq!(ar("أحدث"), None);
        assert_eq!(ar("الخمسة"), None);
    }

    #[test]
    fn definite_arabic_numbers() {
        let d = |t: &str| with_cursor(t, |cur| arabic_definite(cur, 0));
        assert_eq!(d("الثلاثة"), Some((3, 1)));
        assert_eq!(d("العشرة"), Some((10, 1)));
        assert_eq!(d("ثلاثة"), None);
    }
}

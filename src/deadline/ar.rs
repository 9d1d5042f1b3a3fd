//! The Arabic grammar of deadlines, over normalised tokens (no diacritics,
//! ا for every alef, ه for taa marbuta, ي for alef maqsura), so every word
//! below is written in that folded form: "حتي" stands for "حتى", "المقبله"
//! for "المقبلة".
//!
//! Owns the Arabic words and phrase shapes of every family, with the same
//! meanings as English: relative ("خلال ١٥ يوما", "في غضون شهرين", "في مدة لا
//! تتجاوز ثلاثة أشهر"), period end ("قبل نهاية العام", "بحلول نهاية تشرين
//! الثاني"), whole period ("الشهر المقبل"), mid-month ("بحلول منتصف
//! نوفمبر"), dates ("حتى 30 نوفمبر 2025") and vague ("في المستقبل القريب",
//! "خلال الأسابيع المقبلة"). Month names come in both the Egyptian/Gulf form
//! (يناير … ديسمبر) and the Levantine form (كانون الثاني … كانون الأول).
//! Does not own calendar arithmetic (`calendar`), number words (`numbers`)
//! or the conjunction glued to a first word (`mod`).

use super::calendar::{self, DaySpec, Period, Pivot, Unit, YearRef};
use super::{Cursor, Filter, Found, WordSet, among, longer, numbers, numeric_date, same};

/// How a unit noun counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// "شهر", "شهرا": one, or N after a number.
    Singular,
    /// "شهرين": two, by itself.
    Dual,
    /// "أشهر", "شهور": N after a number; alone, an unstated number (vague).
    Plural,
}

const UNITS: &[(&str, (Unit, Form))] = &[
    ("ساعه", (Unit::Hour, Form::Singular)),
    ("ساعتين", (Unit::Hour, Form::Dual)),
    ("ساعتان", (Unit::Hour, Form::Dual)),
    ("ساعات", (Unit::Hour, Form::Plural)),
    ("يوم", (Unit::Day, Form::Singular)),
    ("يوما", (Unit::Day, Form::Singular)),
    ("يومين", (Unit::Day, Form::Dual)),
    ("يومان", (Unit::Day, Form::Dual)),
    ("ايام", (Unit::Day, Form::Plural)),
    ("اسبوع", (Unit::Week, Form::Singular)),
    ("اسبوعا", (Unit::Week, Form::Singular)),
    ("اسبوعين", (Unit::Week, Form::Dual)),
    ("اسبوعان", (Unit::Week, Form::Dual)),
    ("اسابيع", (Unit::Week, Form::Plural)),
    ("شهر", (Unit::Month, Form::Singular)),
    ("شهرا", (Unit::Month, Form::Singular)),
    ("شهرين", (Unit::Month, Form::Dual)),
    ("شهران", (Unit::Month, Form::Dual)),
    ("اشهر", (Unit::Month, Form::Plural)),
    ("شهور", (Unit::Month, Form::Plural)),
    ("عام", (Unit::Year, Form::Singular)),
    ("عاما", (Unit::Year, Form::Singular)),
    ("عامين", (Unit::Year, Form::Dual)),
    ("عامان", (Unit::Year, Form::Dual)),
    ("اعوام", (Unit::Year, Form::Plural)),
    ("سنه", (Unit::Year, Form::Singular)),
    ("سنتين", (Unit::Year, Form::Dual)),
    ("سنتان", (Unit::Year, Form::Dual)),
    ("سنوات", (Unit::Year, Form::Plural)),
    ("سنين", (Unit::Year, Form::Plural)),
];

/// Month names: Egyptian/Gulf, Levantine (with and without the article on
/// the ordinal), and the Maghrebi forms news agencies also use.
const MONTHS: &[(&[&str], i8)] = &[
    (&["يناير"], 1),
    (&["كانون", "الثاني"], 1),
    (&["كانون", "ثاني"], 1),
    (&["جانفي"], 1),
    (&["فبراير"], 2),
    (&["شباط"], 2),
    (&["فيفري"], 2),
    (&["مارس"], 3),
    (&["اذار"], 3),
    (&["ابريل"], 4),
    (&["نيسان"], 4),
    (&["افريل"], 4),
    (&["مايو"], 5),
    (&["ايار"], 5),
    (&["ماي"], 5),
    (&["يونيو"], 6),
    (&["يونيه"], 6),
    (&["حزيران"], 6),
    (&["جوان"], 6),
    (&["يوليو"], 7),
    (&["يوليه"], 7),
    (&["تموز"], 7),
    (&["جويليه"], 7),
    (&["اغسطس"], 8),
    (&["اب"], 8),
    (&["اوت"], 8),
    (&["سبتمبر"], 9),
    (&["ايلول"], 9),
    (&["اكتوبر"], 10),
    (&["تشرين", "الاول"], 10),
    (&["تشرين", "اول"], 10),
    (&["نوفمبر"], 11),
    (&["تشرين", "الثاني"], 11),
    (&["تشرين", "ثاني"], 11),
    (&["ديسمبر"], 12),
    (&["كانون", "الاول"], 12),
    (&["كانون", "اول"], 12),
];

const WEEKDAYS: &[&str] = &[
    "الاحد",
    "الاثنين",
    "الثلاثاء",
    "الاربعاء",
    "الخميس",
    "الجمعه",
    "السبت",
];

/// "الجاري" (current) and "المقبل" (next) after a period noun, both genders.
const THIS: &[&str] = &["الجاري", "الحالي", "الجاريه", "الحاليه"];
const NEXT: &[&str] = &[
    "المقبل",
    "القادم",
    "التالي",
    "المقبله",
    "القادمه",
    "التاليه",
];
/// "المقبلة" after a plural, "المقبلين" after a dual.
const NEXT_PLURAL: &[&str] = &[
    "المقبله",
    "القادمه",
    "المقبلين",
    "القادمين",
    "المقبلتين",
    "القادمتين",
    "التاليه",
];

/// Definite period nouns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Noun {
    Week,
    Month,
    Quarter,
    Year,
}

const NOUNS: &[(&str, Noun)] = &[
    ("الاسبوع", Noun::Week),
    ("الشهر", Noun::Month),
    ("الربع", Noun::Quarter),
    ("العام", Noun::Year),
    ("السنه", Noun::Year),
];

const ORDINALS: &[(&str, i8)] = &[
    ("الاول", 1),
    ("الاولي", 1),
    ("الثاني", 2),
    ("الثانيه", 2),
    ("الثالث", 3),
    ("الثالثه", 3),
    ("الرابع", 4),
    ("الرابعه", 4),
    // "the last": Q4, H2; checked against the kind below.
    ("الاخير", 0),
    ("الاخيره", 0),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    By,
    Before,
    On,
}

const CUES: &[(&[&str], Cue)] = &[
    (&["بحلول"], Cue::By),
    (&["حتي"], Cue::By),
    (&["لغايه"], Cue::By),
    (&["الي", "غايه"], Cue::By),
    (&["في", "موعد", "اقصاه"], Cue::By),
    (&["في", "موعد", "اقصي"], Cue::By),
    (&["في", "موعد", "لا", "يتجاوز"], Cue::By),
    (&["في", "اجل", "اقصاه"], Cue::By),
    (&["في", "تاريخ", "اقصاه"], Cue::By),
    (&["في", "موعد", "غايته"], Cue::By),
    (&["قبل"], Cue::Before),
    (&["قبيل"], Cue::Before),
    (&["في"], Cue::On),
    (&["يوم"], Cue::On),
    (&["في", "يوم"], Cue::On),
    (&["بتاريخ"], Cue::On),
];

fn cue_at(cur: &Cursor, i: usize) -> Option<(usize, Cue)> {
    const FIRSTS: Filter = Filter::firsts_of(CUES);
    if FIRSTS.maybe(cur.word(i)) {
        cur.longest(i, CUES)
    } else {
        None
    }
}

/// Cues before "نهاية": all of them read "by the end of".
const END_CUES: &[&[&str]] = &[
    &["قبل"],
    &["قبيل"],
    &["بحلول"],
    &["حتي"],
    &["لغايه"],
    &["الي", "غايه"],
    &["مع"],
    &["في"],
    &["عند"],
    &["في", "موعد", "اقصاه"],
    &["في", "موعد", "اقصي"],
    &["في", "موعد", "لا", "يتجاوز"],
    &["في", "اجل", "اقصاه"],
];

/// "the end of": "نهاية", "بنهاية", "انتهاء", "آخر", "ختام".
const END_WORDS: &[&str] = &["نهايه", "بنهايه", "انتهاء", "اخر", "ختام"];

/// Vague deadlines that are fixed phrases.
const VAGUE: &[&[&str]] = &[
    &["قريبا"],
    &["قريبا", "جدا"],
    &["عما", "قريب"],
    &["عن", "قريب"],
    &["في", "القريب", "العاجل"],
    &["في", "المستقبل", "القريب"],
    &["في", "المستقبل", "المنظور"],
    &["في", "المدي", "القريب"],
    &["علي", "المدي", "القريب"],
    &["في", "وقت", "قريب"],
    &["في", "وقت", "لاحق"],
    &["لاحقا"],
    &["في", "مرحله", "لاحقه"],
    &["في", "موعد", "لاحق"],
    &["في", "تاريخ", "لاحق"],
    &["في", "اقرب", "وقت"],
    &["في", "اقرب", "وقت", "ممكن"],
    &["في", "اسرع", "وقت"],
    &["في", "اسرع", "وقت", "ممكن"],
    &["باسرع", "وقت", "ممكن"],
    &["في", "الفتره", "المقبله"],
    &["في", "الفتره", "القادمه"],
    &["خلال", "الفتره", "المقبله"],
    &["خلال", "الفتره", "القادمه"],
    &["في", "المرحله", "المقبله"],
    &["في", "المرحله", "القادمه"],
    &["خلال", "المرحله", "المقبله"],
    &["خلال", "المرحله", "القادمه"],
    &["خلال", "الفتره", "القليله", "المقبله"],
    &["خلال", "الفتره", "القليله", "القادمه"],
    &["في", "الفتره", "القليله", "المقبله"],
    &["في", "الفتره", "القليله", "القادمه"],
];

/// Openings of relative deadlines and of "within the coming weeks".
const HEADS: &[&[&str]] = &[
    &["خلال"],
    &["في", "غضون"],
    &["غضون"],
    &["في", "خلال"],
    &["في", "ظرف"],
    &["في"],
    &["بعد"],
    &["علي", "مدي"],
    &["علي", "مدار"],
    &["في", "موعد"],
    &["في", "اجل"],
];

const HEAD_FIRSTS: Filter = Filter::firsts(HEADS);

/// Where each head that stands at `i` ends.
fn heads<'c>(cur: &'c Cursor, i: usize) -> impl Iterator<Item = usize> + 'c {
    let any = HEAD_FIRSTS.maybe(cur.word(i));
    HEADS
        .iter()
        .filter(move |_| any)
        .filter_map(move |h| cur.seq(i, h))
}

/// After a head: "خلال *مدة* لا تتجاوز".
const PERIOD_WORDS: &[&str] = &["مده", "فتره", "مهله", "اجل"];

/// After a head: "في مدة *لا تتجاوز*", "في موعد *أقصاه*".
const LIMITS: &[&[&str]] = &[
    &["لا", "تتجاوز"],
    &["لا", "يتجاوز"],
    &["لا", "تزيد", "عن"],
    &["لا", "تزيد", "علي"],
    &["لا", "يزيد", "عن"],
    &["لا", "يزيد", "علي"],
    &["لا", "تتعدي"],
    &["لا", "يتعدي"],
    &["ما", "لا", "يتجاوز"],
    &["ما", "لا", "يزيد", "عن"],
    &["اقصاها"],
    &["اقصاه"],
    &["اقصي"],
];

/// After an amount: "خلال شهرين *من الآن*".
const TAILS: &[&[&str]] = &[
    &["من", "الان"],
    &["من", "اليوم"],
    &["من", "تاريخه"],
    &["من", "تاريخ", "الاعلان"],
    &["من", "الاعلان"],
];

/// Words an expression may start with, besides numbers.
const STARTERS: WordSet = WordSet::new(&[
    "خلال",
    "في",
    "غضون",
    "بعد",
    "علي",
    "قبل",
    "قبيل",
    "بحلول",
    "حتي",
    "لغايه",
    "الي",
    "مع",
    "عند",
    "نهايه",
    "بنهايه",
    "انتهاء",
    "اخر",
    "ختام",
    "منتصف",
    "قريبا",
    "عما",
    "عن",
    "لاحقا",
    "باسرع",
    "الاسبوع",
    "الشهر",
    "الربع",
    "العام",
    "السنه",
    "هذا",
    "هذه",
    "الايام",
    "الاسابيع",
    "الاشهر",
    "الشهور",
    "السنوات",
    "الاعوام",
    "الساعات",
    "طوال",
    "اثناء",
    "يوم",
    "بتاريخ",
]);

/// Starters so common in news prose ("في" alone is one word in twenty) that
/// `read` first checks that the word after them could carry on an
/// expression, instead of trying every family on "في موسكو".
const COMMON: WordSet = WordSet::new(&[
    "في", "علي", "الي", "مع", "عن", "عند", "بعد", "هذا", "هذه", "حتي", "قبل", "قبيل", "يوم",
]);

/// Words that may follow a `COMMON` starter, besides numbers, number words,
/// units and month and weekday names.
const AFTER_COMMON: WordSet = WordSet::new(&[
    "حلول",
    "المرحله",
    "غضون",
    "خلال",
    "ظرف",
    "مده",
    "فتره",
    "مهله",
    "موعد",
    "اجل",
    "تاريخ",
    "يوم",
    "المستقبل",
    "القريب",
    "المدي",
    "مدي",
    "مدار",
    "وقت",
    "مرحله",
    "اقرب",
    "اسرع",
    "الفتره",
    "المرحله",
    "نهايه",
    "بنهايه",
    "انتهاء",
    "اخر",
    "ختام",
    "منتصف",
    "بمنتصف",
    "هذا",
    "هذه",
    "عام",
    "العام",
    "سنه",
    "السنه",
    "الشهر",
    "الاسبوع",
    "الربع",
    "ربع",
    "النصف",
    "نصف",
    "شهر",
    "بضعه",
    "بضع",
    "عده",
    "غايه",
    "قريب",
    "الغد",
    "غدا",
    "او",
    "ما",
]);

/// Every unit noun, as a filter.
const UNIT_FILTER: Filter = {
    let mut f = Filter::EMPTY;
    let mut i = 0;
    while i < UNITS.len() {
        f = f.with(UNITS[i].0);
        i += 1;
    }
    f
};

/// Every word `may_follow_common` accepts (but definite units), as a filter
/// in front of the exact checks.
const FOLLOW_FILTER: Filter = {
    let mut f =
        numbers::with_arabic_words(UNIT_FILTER.with_all(AFTER_COMMON.words).with_all(WEEKDAYS));
    let mut i = 0;
    while i < MONTHS.len() {
        f = f.with(MONTHS[i].0[0]);
        i += 1;
    }
    f
};

/// Whether the word at `i` can carry on an expression begun by a `COMMON`
/// starter.
fn may_follow_common(cur: &Cursor, i: usize) -> bool {
    let w = cur.word(i);
    if cur.digits(i).is_some() {
        return true;
    }
    let definite_unit_maybe = w.strip_prefix("ال").is_some_and(|b| UNIT_FILTER.maybe(b));
    if !FOLLOW_FILTER.maybe(w) && !definite_unit_maybe {
        return false;
    }
    AFTER_COMMON.contains(w)
        || among(WEEKDAYS, w)
        || MONTHS.iter().any(|(p, _)| same(p[0], w))
        || cur.lookup(i, UNITS).is_some()
        || definite_unit(cur, i).is_some()
        || numbers::arabic(cur, i).is_some()
}

/// Whether an Arabic word, or the word after a glued "و"/"ف", can begin an
/// expression (see `mod::could_start`).
pub(crate) fn could_start(word: &str) -> bool {
    STARTERS.contains(word)
        || word
            .strip_prefix(['و', 'ف'])
            .is_some_and(|bare| STARTERS.contains(bare))
}

/// The families, in the order that breaks ties between equally long
/// readings.
const FAMILIES: [fn(&Cursor, usize) -> Option<Found>; 6] =
    [vague, relative, period_end, whole_period, mid_month, dated];

/// The longest Arabic reading at `i`.
pub(crate) fn read(cur: &Cursor, i: usize) -> Option<Found> {
    if COMMON.contains(cur.word(i)) && !may_follow_common(cur, i + 1) {
        return None;
    }
    let mut best = None;
    for family in FAMILIES {
        best = longer(best, family(cur, i));
        // Nothing can be longer than a reading of every token left.
        if cur.covers(best) {
            break;
        }
    }
    best
}

fn skip_any(cur: &Cursor, i: usize, words: &[&str]) -> usize {
    if among(words, cur.word(i)) { i + 1 } else { i }
}

/// A definite plural unit ("الأسابيع") or dual ("الشهرين").
fn definite_unit(cur: &Cursor, i: usize) -> Option<(Unit, Form)> {
    let bare = cur.word(i).strip_prefix("ال")?;
    UNITS
        .iter()
        .find(|(w, (_, form))| same(w, bare) && *form != Form::Singular)
        .map(|&(_, v)| v)
}

/// "في المستقبل القريب", "خلال الأسابيع المقبلة", "في الأيام القليلة القادمة".
fn vague(cur: &Cursor, i: usize) -> Option<Found> {
    const FIRSTS: Filter = Filter::firsts(VAGUE);
    let phrase = if FIRSTS.maybe(cur.word(i)) {
        cur.any(i, VAGUE)
    } else {
        None
    };
    let mut best = phrase.map(Found::vague);
    let starts = std::iter::once(i).chain(heads(cur, i));
    for j in starts {
        if let Some((_, Form::Plural)) = definite_unit(cur, j) {
            let k = skip_any(cur, j + 1, &["القليله"]);
            if among(NEXT_PLURAL, cur.word(k)) {
                best = longer(best, Some(Found::vague(k + 1)));
            }
        }
    }
    best
}

/// "خلال ١٥ يوما", "في غضون شهرين", "في مدة لا تتجاوز ثلاثة أشهر", "خلال
/// الأشهر الثلاثة المقبلة", "بعد أسبوع".
fn relative(cur: &Cursor, i: usize) -> Option<Found> {
    let mut best = None;
    if !HEAD_FIRSTS.maybe(cur.word(i)) {
        return None;
    }
    for (head, j) in cur.each(i, HEADS) {
        // Plain "في" and "بعد" take no "مدة لا تتجاوز".
        let mut k = skip_any(cur, j, PERIOD_WORDS);
        k = cur.any(k, LIMITS).unwrap_or(k);
        // "خلال أيام" is vague, but "في أيام الحرب" is no deadline at all.
        let vague_ok = !matches!(head, ["في"] | ["علي", "مدي"] | ["علي", "مدار"]);
        best = longer(best, amount(cur, k, vague_ok));
    }
    best
}

fn amount(cur: &Cursor, j: usize, vague_ok: bool) -> Option<Found> {
    let anchor = cur.anchor;
    let finish = |end: usize, n: u64, unit: Unit| {
        let end = cur.any(end, TAILS).unwrap_or(end);
        Some(Found::until(end, anchor, calendar::add(anchor, n, unit)))
    };
    // "بضعة أسابيع", "عدة أشهر": a number nobody stated.
    if matches!(cur.word(j), "بضعه" | "بضع" | "عده") {
        return match cur.lookup(j + 1, UNITS) {
            Some((_, Form::Plural)) if vague_ok => Some(Found::vague(j + 2)),
            _ => None,
        };
    }
    if let Some((n, k)) = numbers::arabic(cur, j) {
        // A range states its far end: "ثلاثة أو أربعة أشهر".
        let (n, k) = match cur.word(k) {
            "او" | "الي" | "-" => match numbers::arabic(cur, k + 1) {
                Some((m, k2)) if cur.lookup(k2, UNITS).is_some() => (n.max(m), k2),
                _ => (n, k),
            },
            _ => (n, k),
        };
        let (unit, form) = cur.lookup(k, UNITS)?;
        if form == Form::Dual && n != 2 {
            return None;
        }
        return finish(k + 1, n, unit);
    }
    if let Some((unit, form)) = cur.lookup(j, UNITS) {
        return match form {
            // "خلال شهر", "خلال شهر واحد"
            Form::Singular => finish(skip_any(cur, j + 1, &["واحد", "واحده"]), 1, unit),
            Form::Dual => finish(j + 1, 2, unit),
            Form::Plural if vague_ok => Some(Found::vague(skip_any(cur, j + 1, &["قليله"]))),
            Form::Plural => None,
        };
    }
    // "خلال الخمس سنوات المقبلة"
    if let Some((n, k)) = numbers::arabic_definite(cur, j)
        && let Some((unit, Form::Plural | Form::Singular)) = cur.lookup(k, UNITS)
        && among(NEXT_PLURAL, cur.word(k + 1))
    {
        return finish(k + 2, n, unit);
    }
    // "خلال الشهرين المقبلين", "خلال الأشهر الثلاثة المقبلة", "خلال
    // الساعات الـ72 المقبلة"
    let (unit, form) = definite_unit(cur, j)?;
    let (n, k) = match form {
        Form::Dual => (2, j + 1),
        _ if cur.is(j + 1, "ال") => (cur.digits(j + 2)?, j + 3),
        _ => numbers::arabic_definite(cur, j + 1)?,
    };
    if !among(NEXT_PLURAL, cur.word(k)) {
        return None;
    }
    finish(k + 1, n, unit)
}

/// A month name at `i`, with a second spelling after a slash or in
/// brackets ("تشرين الثاني/نوفمبر"), and the year that follows it.
fn named_month(cur: &Cursor, i: usize) -> Option<(i8, YearRef, usize)> {
    const FIRSTS: Filter = Filter::firsts_of(MONTHS);
    let i = skip_any(cur, i, &["شهر"]);
    if !FIRSTS.maybe(cur.word(i)) {
        return None;
    }
    let (mut end, m) = cur.longest(i, MONTHS)?;
    if (cur.is(end, "/") || cur.is(end, "("))
        && let Some((e, other)) = cur.longest(end + 1, MONTHS)
    {
        if other != m {
            return None;
        }
        end = if cur.is(e, ")") { e + 1 } else { e };
    }
    if among(THIS, cur.word(end)) {
        return Some((m, YearRef::This, end + 1));
    }
    if among(NEXT, cur.word(end)) {
        return Some((m, YearRef::AfterCurrent, end + 1));
    }
    let (year, end) = year_after(cur, end);
    Some((m, year, end))
}

/// The year stated after a month, quarter or half: "2026", "عام 2026", "من
/// العام المقبل", "من هذا العام". Unstated: the next one not yet passed.
fn year_after(cur: &Cursor, i: usize) -> (YearRef, usize) {
    let j = skip_any(cur, i, &["من", "في", ","]);
    let k = skip_any(cur, j, &["عام", "العام", "سنه", "السنه"]);
    if let Some(y) = cur.year(k) {
        // "2025م": the Gregorian marker.
        let end = skip_any(cur, k + 1, &["م", "ميلادي", "للميلاد"]);
        return (YearRef::Given(y), end);
    }
    if j > i || k > j {
        const YEARS: &[(&[&str], YearRef)] = &[
            (&["العام"], YearRef::This),
            (&["السنه"], YearRef::This),
            (&["هذا", "العام"], YearRef::This),
            (&["هذه", "السنه"], YearRef::This),
        ];
        if let Some((e, y)) = cur.longest(j, YEARS) {
            let q = cur.word(e);
            if among(THIS, q) {
                return (YearRef::This, e + 1);
            }
            if among(NEXT, q) {
                return (YearRef::Next, e + 1);
            }
            // A bare "of the year" only after "من": "الربع الأول من العام".
            if j > i {
                return (y, e);
            }
        }
    }
    (YearRef::Upcoming, i)
}

/// The period after "نهاية"/"منتصف"/"في": "العام", "هذا الشهر", "العام
/// المقبل", "2026", "عام 2026", "الربع الأول من العام المقبل", "تشرين الثاني".
fn period_target(cur: &Cursor, i: usize) -> Option<(Period, usize)> {
    let mut best: Option<(Period, usize)> = None;
    let mut offer = |p: Option<(Period, usize)>| {
        if let Some((period, end)) = p
            && best.is_none_or(|(_, e)| end > e)
        {
            best = Some((period, end));
        }
    };
    // "هذا العام", "العام الجاري", "الشهر المقبل", "العام"
    let demonstrative = matches!(cur.word(i), "هذا" | "هذه");
    let j = if demonstrative { i + 1 } else { i };
    if let Some(noun) = cur.lookup(j, NOUNS) {
        let q = cur.word(j + 1);
        let (shift, end) = if !demonstrative && among(NEXT, q) {
            (1, j + 2)
        } else if !demonstrative && among(THIS, q) {
            (0, j + 2)
        } else {
            (0, j + 1)
        };
        let p = match noun {
            Noun::Week => Period::Week(shift),
            Noun::Month => Period::Month(shift),
            Noun::Quarter => Period::Quarter(shift),
            Noun::Year if shift == 1 => Period::Year(YearRef::Next),
            Noun::Year => Period::Year(YearRef::This),
        };
        offer(Some((p, end)));
    }
    // "2026", "عام 2026", "العام 2026"
    let k = skip_any(cur, i, &["عام", "العام", "سنه", "السنه"]);
    if let Some(y) = cur.year(k) {
        let end = skip_any(cur, k + 1, &["م", "ميلادي"]);
        offer(Some((Period::Year(YearRef::Given(y)), end)));
    }
    // "الربع الأول (من العام المقبل)", "النصف الثاني من 2026"
    let kind = cur.word(i);
    let (quarter, half) = (
        matches!(kind, "الربع" | "ربع"),
        matches!(kind, "النصف" | "نصف"),
    );
    if (quarter || half)
        && let Some(n) = cur.lookup(i + 1, ORDINALS)
    {
        let n = match (n, quarter) {
            (0, true) => 4,
            (0, false) => 2,
            (n, _) => n,
        };
        if quarter || n <= 2 {
            let (year, end) = year_after(cur, i + 2);
            let p = if quarter {
                Period::NamedQuarter(n, year)
            } else {
                Period::Half(n, year)
            };
            offer(Some((p, end)));
        }
    }
    offer(named_month(cur, i).map(|(m, y, end)| (Period::NamedMonth(m, y), end)));
    best
}

/// "قبل نهاية العام", "بحلول نهاية تشرين الثاني", "مع نهاية الربع الأول".
fn period_end(cur: &Cursor, i: usize) -> Option<Found> {
    const FIRSTS: Filter = Filter::firsts(END_CUES);
    let j = if FIRSTS.maybe(cur.word(i)) {
        cur.any(i, END_CUES).unwrap_or(i)
    } else {
        i
    };
    if !among(END_WORDS, cur.word(j)) {
        return None;
    }
    let (period, end) = period_target(cur, j + 1)?;
    let latest = period.bounds(cur.anchor, Pivot::End).map(|(_, e)| e);
    Some(Found::until(end, cur.anchor, latest))
}

/// "الشهر المقبل", "خلال العام الجاري", "في نوفمبر", "خلال عام 2026".
fn whole_period(cur: &Cursor, i: usize) -> Option<Found> {
    const OPEN: &[&[&str]] = &[
        &["في"],
        &["خلال"],
        &["طوال"],
        &["اثناء"],
        &["في", "غضون"],
        &["علي", "مدار"],
        // "later this year": "في وقت لاحق من هذا العام"
        &["في", "وقت", "لاحق", "من"],
        &["في", "وقت", "لاحق", "خلال"],
        &["لاحقا", "خلال"],
        &["لاحقا", "في"],
    ];
    let mut best = None;
    let starts = std::iter::once(i).chain(cur.each(i, OPEN).map(|(_, j)| j));
    for j in starts {
        let Some((p, end)) = period_target(cur, j) else {
            continue;
        };
        // Without an opening word only "الشهر المقبل"-style periods stand
        // alone; "العام" by itself or "نوفمبر" is no deadline.
        let qualified = end > j + 1 && cur.lookup(j, NOUNS).is_some();
        let demonstrative = matches!(cur.word(j), "هذا" | "هذه");
        let named = matches!(
            p,
            Period::NamedMonth(..)
                | Period::NamedQuarter(..)
                | Period::Half(..)
                | Period::Year(YearRef::Given(_))
        );
        if qualified || demonstrative || (named && j > i) {
            best = longer(
                best,
                Some(Found::period(
                    end,
                    cur.anchor,
                    p.bounds(cur.anchor, Pivot::End),
                )),
            );
        }
    }
    best
}

/// "بحلول منتصف نوفمبر", "قبل منتصف الشهر المقبل".
fn mid_month(cur: &Cursor, i: usize) -> Option<Found> {
    let (cue, j) = match cue_at(cur, i) {
        Some((_, Cue::On)) => (None, i),
        Some((end, c)) => (Some(c), end),
        None => (None, i),
    };
    let k = match cur.word(j) {
        "منتصف" | "بمنتصف" => j + 1,
        _ => return None,
    };
    let (period, end) = match (cur.word(k), cur.word(k + 1)) {
        ("هذا", "الشهر") => (Period::Month(0), k + 2),
        ("الشهر", q) if among(NEXT, q) => (Period::Month(1), k + 2),
        ("الشهر", q) if among(THIS, q) => (Period::Month(0), k + 2),
        ("الشهر", _) => (super::en::mid_of_current_or_next(cur), k + 1),
        _ => {
            let (m, y, e) = named_month(cur, k)?;
            (Period::NamedMonth(m, y), e)
        }
    };
    let mid = period
        .bounds(cur.anchor, Pivot::Mid)
        .and_then(|(start, _)| calendar::add_days(start, 14));
    let latest = match cue {
        Some(Cue::Before) => mid.and_then(|d| calendar::add_days(d, -1)),
        _ => mid,
    };
    Some(Found::until(end, cur.anchor, latest))
}

/// "بحلول 30 نوفمبر 2025", "حتى 30/11/2025", "قبل 1 ديسمبر", "قبل
/// نوفمبر", "في 30 تشرين الثاني".
fn dated(cur: &Cursor, i: usize) -> Option<Found> {
    let (cue, j) = match cue_at(cur, i) {
        Some((end, c)) => (Some(c), end),
        None => (None, i),
    };
    let mut best = None;
    let seen_from = match cue {
        Some(Cue::Before) => cur.for_the_day_before(),
        _ => *cur,
    };
    if let Some((end, date)) = date_at(&seen_from, j, cue.is_some()) {
        best = Some(match cue {
            Some(Cue::By) => Found::until(end, cur.anchor, date),
            Some(Cue::Before) => Found::until(
                end,
                cur.anchor,
                date.and_then(|d| calendar::add_days(d, -1)),
            ),
            Some(Cue::On) => Found::span(end, date.map(|d| (d, d))).without_cue(),
            None => Found::until(end, cur.anchor, date).without_cue(),
        });
    }
    if cue == Some(Cue::Before)
        && cur.is(j, "حلول")
        && let Some((p, end)) = period_target(cur, j + 1)
    {
        // "قبل حلول العام المقبل": the day before that period begins.
        let latest = p
            .bounds(cur.anchor, Pivot::Start)
            .and_then(|(s, _)| calendar::add_days(s, -1));
        best = longer(best, Some(Found::until(end, cur.anchor, latest)));
    }
    if cue == Some(Cue::Before) {
        // "قبل نوفمبر": the last day of October; "قبل عام 2026".
        let k = skip_any(cur, j, &["عام", "سنه"]);
        let start = match (named_month(cur, j), cur.year(k)) {
            (Some((m, y, end)), _) => Some((Period::NamedMonth(m, y), end)),
            (None, Some(y)) => Some((Period::Year(YearRef::Given(y)), k + 1)),
            (None, None) => None,
        };
        if let Some((p, end)) = start {
            let latest = p
                .bounds(seen_from.anchor, Pivot::Start)
                .and_then(|(s, _)| calendar::add_days(s, -1));
            best = longer(best, Some(Found::until(end, cur.anchor, latest)));
        }
    }
    best
}

/// A calendar day: numeric, "30 نوفمبر 2025", "30 من تشرين الثاني الجاري",
/// "الأحد 30 نوفمبر", or "غدا" after a cue.
fn date_at(
    cur: &Cursor,
    i: usize,
    cued: bool,
) -> Option<(usize, calendar::Calc<jiff::civil::Date>)> {
    let mut i = i;
    if among(WEEKDAYS, cur.word(i)) {
        i = skip_any(cur, i + 1, &[","]);
        i = skip_any(cur, i, &["الموافق"]);
    }
    if cued && matches!(cur.word(i), "غدا" | "الغد") {
        return Some((i + 1, calendar::add_days(cur.anchor, 1)));
    }
    if let Some(found) = numeric_date(cur, i) {
        return Some(found);
    }
    let day = cur.small(i)?;
    let k = skip_any(cur, i + 1, &["من"]);
    let (month, year, end) = named_month(cur, k)?;
    Some((end, DaySpec { day, month, year }.resolve(cur.anchor)))
}

#[cfg(test)]
mod tests {
    use super::super::normalize::Folded;
    use super::super::{Deadline, find};
    use super::*;
    use jiff::civil::date;

    use super::super::testing::{ANCHOR, is_vague, latest, window};

    /// Every lexicon entry must already be in normalised form, or it could
    /// never match.
    #[test]
    fn lexicon_is_normalised() {
        let mut words: Vec<&str> = Vec::new();
        words.extend(UNITS.iter().map(|(w, _)| *w));
        words.extend(MONTHS.iter().flat_map(|(p, _)| p.iter().copied()));
        words.extend(WEEKDAYS);
        words.extend(THIS.iter().chain(NEXT).chain(NEXT_PLURAL));
        words.extend(NOUNS.iter().map(|(w, _)| *w));
        words.extend(ORDINALS.iter().map(|(w, _)| *w));
        words.extend(CUES.iter().flat_map(|(p, _)| p.iter().copied()));
        words.extend(END_CUES.iter().flat_map(|p| p.iter().copied()));
        words.extend(END_WORDS);
        words.extend(VAGUE.iter().flat_map(|p| p.iter().copied()));
        words.extend(HEADS.iter().flat_map(|p| p.iter().copied()));
        words.extend(PERIOD_WORDS);
        words.extend(LIMITS.iter().flat_map(|p| p.iter().copied()));
        words.extend(TAILS.iter().flat_map(|p| p.iter().copied()));
        words.extend(STARTERS.words);
        words.extend(COMMON.words.iter().chain(AFTER_COMMON.words));
        for w in words {
            assert_eq!(Folded::new(w).text, w, "{w:?} is not normalised");
        }
    }

    #[test]
    fn relative_with_units_in_every_form() {
        assert_eq!(latest("خلال يوم"), date(2025, 10, 16));
        assert_eq!(latest("خلال يومين"), date(2025, 10, 17));
        assert_eq!(latest("خلال ثلاثة أيام"), date(2025, 10, 18));
        assert_eq!(latest("خلال ١٥ يوماً"), date(2025, 10, 30));
        assert_eq!(latest("في غضون أسبوع واحد"), date(2025, 10, 22));
        assert_eq!(latest("خلال أسبوعين"), date(2025, 10, 29));
        assert_eq!(latest("خلال شهر"), date(2025, 11, 15));
        assert_eq!(latest("في غضون شهرين"), date(2025, 12, 15));
        assert_eq!(latest("خلال ستة شهور"), date(2026, 4, 15));
        assert_eq!(latest("خلال عامين"), date(2027, 10, 15));
        assert_eq!(latest("خلال سنتين"), date(2027, 10, 15));
        assert_eq!(latest("خلال ثلاث سنوات"), date(2028, 10, 15));
        assert_eq!(latest("خلال 48 ساعة"), date(2025, 10, 17));
        assert_eq!(latest("خلال اثني عشر شهرا"), date(2026, 10, 15));
    }

    #[test]
    fn relative_openings() {
        for e in [
            "في مدة لا تتجاوز شهرين",
            "في موعد أقصاه شهرين",
            "خلال مهلة أقصاها شهران",
            "في ظرف شهرين",
            "بعد شهرين",
            "في شهرين",
            "خلال شهرين من الآن",
            "خلال الشهرين المقبلين",
            "وفي غضون شهرين",
        ] {
            assert_eq!(latest(e), date(2025, 12, 15), "{e}");
        }
        assert_eq!(latest("خلال الأشهر الثلاثة المقبلة"), date(2026, 1, 15));
        assert_eq!(latest("خلال الخمس سنوات المقبلة"), date(2030, 10, 15));
        assert_eq!(latest("خلال الساعات الـ72 المقبلة"), date(2025, 10, 18));
    }

    #[test]
    fn dual_with_a_different_number_is_an_error() {
        assert!(Deadline::parse("خلال 3 شهرين", ANCHOR).is_err());
    }

    #[test]
    fn period_ends() {
        assert_eq!(latest("قبل نهاية العام"), date(2025, 12, 31));
        assert_eq!(latest("بحلول نهاية العام الجاري"), date(2025, 12, 31));
        assert_eq!(latest("قبل نهاية هذا العام"), date(2025, 12, 31));
        assert_eq!(latest("قبل نهاية العام المقبل"), date(2026, 12, 31));
        assert_eq!(latest("مع نهاية الشهر الجاري"), date(2025, 10, 31));
        assert_eq!(latest("بنهاية الشهر المقبل"), date(2025, 11, 30));
        assert_eq!(latest("قبل نهاية تشرين الثاني"), date(2025, 11, 30));
        assert_eq!(latest("بحلول نهاية شهر نوفمبر"), date(2025, 11, 30));
        assert_eq!(latest("قبل نهاية أيلول"), date(2026, 9, 30));
        assert_eq!(latest("قبل نهاية الربع الأول"), date(2026, 3, 31));
        assert_eq!(
            latest("بحلول نهاية الربع الأول من العام المقبل"),
            date(2026, 3, 31)
        );
        assert_eq!(
            latest("قبل نهاية الربع الثاني من عام 2026"),
            date(2026, 6, 30)
        );
        assert_eq!(latest("قبل نهاية عام 2026"), date(2026, 12, 31));
        assert_eq!(latest("قبل انتهاء العام الحالي"), date(2025, 12, 31));
        assert_eq!(latest("نهاية الأسبوع المقبل"), date(2025, 10, 26));
        assert_eq!(
            latest("بحلول نهاية تشرين الثاني/نوفمبر"),
            date(2025, 11, 30)
        );
    }

    #[test]
    fn whole_periods() {
        assert_eq!(
            window("الشهر المقبل"),
            (date(2025, 11, 1), date(2025, 11, 30))
        );
        assert_eq!(
            window("خلال الشهر المقبل"),
            (date(2025, 11, 1), date(2025, 11, 30))
        );
        assert_eq!(
            window("العام القادم"),
            (date(2026, 1, 1), date(2026, 12, 31))
        );
        assert_eq!(
            window("السنة المقبلة"),
            (date(2026, 1, 1), date(2026, 12, 31))
        );
        assert_eq!(
            window("الأسبوع المقبل"),
            (date(2025, 10, 20), date(2025, 10, 26))
        );
        assert_eq!(window("خلال العام الجاري"), (ANCHOR, date(2025, 12, 31)));
        assert_eq!(window("خلال هذا الشهر"), (ANCHOR, date(2025, 10, 31)));
        assert_eq!(window("في ديسمبر"), (date(2025, 12, 1), date(2025, 12, 31)));
        assert_eq!(
            window("خلال عام 2026"),
            (date(2026, 1, 1), date(2026, 12, 31))
        );
        assert_eq!(
            window("في الربع الأول من العام المقبل"),
            (date(2026, 1, 1), date(2026, 3, 31))
        );
        assert_eq!(
            window("في وقت لاحق من هذا العام"),
            (ANCHOR, date(2025, 12, 31))
        );
    }

    #[test]
    fn mid_month() {
        assert_eq!(latest("بحلول منتصف نوفمبر"), date(2025, 11, 15));
        assert_eq!(latest("بحلول منتصف تشرين الثاني"), date(2025, 11, 15));
        assert_eq!(latest("منتصف الشهر المقبل"), date(2025, 11, 15));
        assert_eq!(latest("قبل منتصف كانون الأول"), date(2025, 12, 14));
    }

    #[test]
    fn dates() {
        for e in [
            "بحلول 30 نوفمبر 2025",
            "حتى 30 تشرين الثاني 2025",
            "حتى ٣٠/١١/٢٠٢٥",
            "في موعد أقصاه 30 نوفمبر",
            "قبل 1 ديسمبر 2025",
            "قبل كانون الأول",
            "بحلول 30 من نوفمبر الجاري",
            "بحلول 30 نوفمبر 2025م",
        ] {
            assert_eq!(window(e), (ANCHOR, date(2025, 11, 30)), "{e}");
        }
        assert_eq!(
            window("في 1 ديسمبر 2025"),
            (date(2025, 12, 1), date(2025, 12, 1))
        );
        assert_eq!(latest("قبل عام 2026"), date(2025, 12, 31));
        assert_eq!(latest("قبل حلول العام المقبل"), date(2025, 12, 31));
        assert_eq!(latest("بحلول الغد"), date(2025, 10, 16));
    }

    #[test]
    fn vague_forms() {
        for e in [
            "قريباً",
            "قريبا جدا",
            "في المستقبل القريب",
            "في القريب العاجل",
            "خلال الأيام المقبلة",
            "خلال الأسابيع المقبلة",
            "في الأشهر القادمة",
            "خلال الأيام القليلة المقبلة",
            "في وقت لاحق",
            "في أقرب وقت ممكن",
            "خلال أسابيع",
            "في غضون أيام قليلة",
            "خلال بضعة أشهر",
            "خلال الفترة المقبلة",
            "خلال المرحلة المقبلة",
            "خلال الفترة القليلة المقبلة",
        ] {
            assert!(is_vague(e), "{e}");
        }
    }

    #[test]
    fn not_understood() {
        for e in [
            "قبل شهرين",
            "بحلول نوفمبر",
            "في أيام",
            "العام",
            "نوفمبر",
            "الشهر الماضي",
            "خلال الحرب",
        ] {
            assert!(Deadline::parse(e, ANCHOR).is_err(), "{e}");
        }
    }

    #[test]
    fn one_inside_another_word_is_not_a_number() {
        // "وأحدث" holds "احد"; "خلال وأحدث يوم" is not "within one day".
        assert!(Deadline::parse("خلال وأحدث يوم", ANCHOR).is_err());
        assert!(find("أعلن وأحدث شهر", ANCHOR).is_empty());
    }
}

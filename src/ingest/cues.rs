//! What makes a sentence a commitment: the commissive cue ("agreed to",
//! "will", "تم الاتفاق على", the future prefix سـ on a verb), and what
//! makes it not one (hedges, negation, forecasts, questions, conditions).
//!
//! Owns the word lists of both languages and the shape checks around a cue:
//! where its complement begins, where its clause (the subject) begins,
//! whether an "expected to" is attached to a planned event, whether a سـ
//! word is a verb, where a complement splits into several commitments, and
//! where a title is cut. Words are written folded (ا for every alef, ه for
//! ة, ي for ى). Does not own deadlines (the `deadline` module) or actors.

use super::text::{Kind, Tokens, arabic_readings, is_arabic, strip_conjunction};

/// The family a cue belongs to; it sets where the title starts and the
/// base confidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CueKind {
    /// "agreed to", "pledged", "تم الاتفاق على", "تعهد": the complement
    /// is the commitment.
    Agree,
    /// "will", "سوف", the future prefix سـ.
    Will,
    /// Reported "would" ("talks would resume…, the mediator said").
    Would,
    /// "is expected/set/scheduled to" + an event, "من المقرر أن" + event.
    Expected,
}

/// Whose event a cue speaks of, when it speaks of one already announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Anaphor {
    /// No subject of its own ("من المتوقع أن يعقد في غضون شهرين", "it is
    /// expected…"): the event of the sentence just before.
    Implied,
    /// A definite event noun ("the meeting", "الاجتماع"), folded, without
    /// its article.
    Noun(String),
}

/// A cue found in a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cue {
    pub(crate) kind: CueKind,
    /// Tokens of the cue itself.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Token where the complement begins, and the byte where it begins in
    /// the original (past a peeled ب of "بتقديم").
    pub(crate) complement: usize,
    pub(crate) complement_byte: usize,
    /// Token where the cue's clause (its subject) begins.
    pub(crate) clause: usize,
    pub(crate) anaphor: Option<Anaphor>,
    /// A "that"-complement ("agreed that", "اتفقا على أن"): a will/would
    /// right after belongs to it.
    pub(crate) takes_clause: bool,
}

// ---- English -------------------------------------------------------------

const AGREE_EN: &[&[&str]] = &[
    &["agreed", "to"],
    &["agreed", "on"],
    &["agreed", "that"],
    &["agree", "to"],
    &["agrees", "to"],
    &["pledged", "to"],
    &["pledges", "to"],
    &["pledged"],
    &["vowed", "to"],
    &["vows", "to"],
    &["promised", "to"],
    &["promises", "to"],
    &["committed", "to"],
    &["committed", "themselves", "to"],
    &["committed", "itself", "to"],
    &["commits", "to"],
    &["undertook", "to"],
    &["decided", "to"],
    &["plans", "to"],
    &["planned", "to"],
    &["intends", "to"],
    &["intend", "to"],
    &["it", "was", "agreed", "that"],
    &["it", "was", "agreed", "to"],
    &["was", "agreed"],
];

/// Days and months, for "agreed on Monday to …".
const CALENDAR_EN: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

const BE: &[&str] = &["is", "are", "was", "were", "be"];
const PLANNED: &[&str] = &[
    "expected",
    "set",
    "scheduled",
    "due",
    "slated",
    "planned",
    "poised",
];

const NEGATIONS_EN: &[&str] = &[
    "not", "never", "t", "refused", "declined", "failed", "no", "nor", "neither", "won",
];

const HEDGES_EN: &[&str] = &[
    "may",
    "might",
    "could",
    "likely",
    "unlikely",
    "probably",
    "possibly",
    "perhaps",
    "should",
    "maybe",
    "hopefully",
];

const REPORTING_EN: &[&str] = &[
    "said",
    "says",
    "told",
    "announced",
    "stated",
    "added",
    "confirmed",
    "according",
    "reported",
    "insisted",
    "noted",
    "explained",
    "indicated",
    "statement",
    "announcing",
    "saying",
];

/// Verbs after "will" that forecast or describe rather than commit.
const FORECAST_VERBS_EN: &[&str] = &[
    "be",
    "remain",
    "continue",
    "rise",
    "fall",
    "increase",
    "decrease",
    "decline",
    "grow",
    "drop",
    "see",
    "face",
    "need",
    "require",
    "depend",
    "become",
    "have",
    "likely",
    "probably",
    "help",
    "affect",
    "mean",
    "cost",
    "benefit",
    "suffer",
    "struggle",
    "hurt",
    "boost",
    "weaken",
    "strengthen",
    "determine",
    "reflect",
    "depend",
    "likely",
    "lead",
    "prove",
    "stay",
    "last",
    "come",
    "go",
    "get",
    "feel",
    "look",
    "seem",
    "want",
    "like",
    "fail",
    "not",
    "never",
    "also",
    "certainly",
    "surely",
    "always",
];

/// Participles after "will be" that make a planned event.
const EVENT_PARTICIPLES_EN: &[&str] = &[
    "held",
    "signed",
    "released",
    "delivered",
    "opened",
    "reopened",
    "completed",
    "implemented",
    "sent",
    "launched",
    "established",
    "convened",
    "published",
    "resumed",
    "lifted",
    "submitted",
    "paid",
    "transferred",
    "deployed",
    "withdrawn",
    "disbursed",
    "finalised",
    "finalized",
    "announced",
    "handed",
    "set",
    "formed",
    "appointed",
    "built",
    "restored",
    "evacuated",
    "exchanged",
    "freed",
    "allowed",
    "shipped",
    "provided",
    "made",
    "presented",
    "issued",
    "hosted",
    "inaugurated",
    "ratified",
    "unveiled",
    "organised",
    "organized",
    "extended",
    "dispatched",
    "supplied",
    "returned",
    "repaired",
    "reconstructed",
    "rebuilt",
    "cleared",
    "removed",
    "closed",
    "voted",
    "elected",
    "chosen",
    "named",
    "reviewed",
    "discussed",
    "examined",
    "taken",
];

/// Verbs that make an event of "is expected/set/scheduled to …".
const EVENT_VERBS_EN: &[&str] = &[
    "meet",
    "convene",
    "hold",
    "resume",
    "begin",
    "start",
    "open",
    "reopen",
    "sign",
    "visit",
    "take",
    "launch",
    "host",
    "deliver",
    "release",
    "submit",
    "publish",
    "announce",
    "vote",
    "conclude",
    "complete",
    "arrive",
    "travel",
    "return",
    "implement",
    "deploy",
    "hand",
    "transfer",
    "disburse",
    "ship",
    "provide",
    "send",
    "attend",
    "receive",
    "present",
    "issue",
    "approve",
    "ratify",
    "unveil",
    "finalise",
    "finalize",
    "restart",
    "reconvene",
    "withdraw",
    "pay",
    "lift",
    "establish",
    "form",
    "set",
    "hold",
    "start",
    "kick",
    "get",
    "enter",
    "come",
    "go",
];

/// Nouns that name a planned event.
const EVENT_NOUNS_EN: &[&str] = &[
    "meeting",
    "meetings",
    "talks",
    "summit",
    "conference",
    "session",
    "sessions",
    "round",
    "negotiations",
    "visit",
    "vote",
    "elections",
    "election",
    "signing",
    "ceremony",
    "committee",
    "commission",
    "delegation",
    "deal",
    "agreement",
    "forum",
    "dialogue",
    "ceasefire",
    "truce",
    "handover",
    "delivery",
    "deliveries",
    "shipment",
    "shipments",
    "withdrawal",
    "exchange",
    "release",
    "review",
    "report",
    "launch",
    "opening",
    "hearing",
    "consultations",
    "trip",
    "tour",
    "mission",
    "plan",
    "decision",
    "payment",
    "payments",
    "tranche",
    "aid",
    "convoy",
    "convoys",
    "flights",
    "referendum",
    "inauguration",
    "drills",
    "exercise",
    "exercises",
    "program",
    "programme",
    "project",
    "works",
    "construction",
];

/// Subjects of "will" that make a forecast ("prices will rise").
const FORECAST_SUBJECTS_EN: &[&str] = &[
    "it",
    "this",
    "that",
    "there",
    "prices",
    "price",
    "inflation",
    "economy",
    "growth",
    "demand",
    "supply",
    "relations",
    "ties",
    "tensions",
    "situation",
    "markets",
    "market",
    "analysts",
    "experts",
    "observers",
    "future",
    "outcome",
    "move",
    "impact",
    "effects",
    "consequences",
    "challenges",
    "crisis",
    "conflict",
    "violence",
    "fighting",
    "costs",
    "cost",
    "rates",
    "output",
    "production",
    "exports",
    "imports",
    "trade",
    "what",
    "which",
    "who",
    "nobody",
    "no",
    "one",
    "time",
    "history",
];

/// Words that open a clause, scanning back from a cue.
const CLAUSE_OPENERS_EN: &[&str] = &[
    "that", "but", "while", "whereas", "said", "says", "although", "though", "because", "as",
];

// ---- Arabic --------------------------------------------------------------

const AGREE_VERBS_AR: &[&str] = &["اتفق", "اتفقا", "اتفقت", "اتفقوا", "اتفقتا", "يتفق", "تتفق"];

const PLEDGE_VERBS_AR: &[&str] = &[
    "تعهد",
    "تعهدت",
    "تعهدا",
    "تعهدوا",
    "يتعهد",
    "تتعهد",
    "التزم",
    "التزمت",
    "التزما",
    "التزموا",
    "يلتزم",
    "تلتزم",
    "وعد",
    "وعدت",
    "وعدا",
    "قرر",
    "قررت",
    "قررا",
    "تقرر",
    "اعلن",
    "اعلنت",
    "اعلنا",
];

const PASSIVE_AGREE_AR: &[&str] = &["تم", "جري", "اعلن", "اعلنت", "اعلنا"];

const EXPECTED_AR: &[&str] = &["متوقع", "مقرر", "منتظر", "مزمع", "مخطط", "مفترض"];

const HEDGES_AR: &[&str] = &[
    "قد",
    "ربما",
    "لعل",
    "يحتمل",
    "يمكن",
    "لن",
    "لم",
    "لا",
    "يجب",
    "ينبغي",
    "عسي",
    "ما",
    "ليس",
];

/// Imperfect verbs after سـ that forecast rather than commit.
const FORECAST_VERBS_AR: &[&str] = &[
    "يتطلب",
    "تتطلب",
    "يؤدي",
    "تؤدي",
    "يساهم",
    "تساهم",
    "يسهم",
    "تسهم",
    "يشهد",
    "تشهد",
    "يستمر",
    "تستمر",
    "يبقي",
    "تبقي",
    "يظل",
    "تظل",
    "يصبح",
    "تصبح",
    "يحتاج",
    "تحتاج",
    "يواجه",
    "تواجه",
    "يعزز",
    "تعزز",
    "ينعكس",
    "تنعكس",
    "يتيح",
    "تتيح",
    "يكون",
    "تكون",
    "يكونون",
    "يمكن",
    "تمكن",
    "يعاني",
    "تعاني",
    "يرتفع",
    "ترتفع",
    "ينخفض",
    "تنخفض",
    "يزداد",
    "تزداد",
    "يتراجع",
    "تتراجع",
    "يفضي",
    "تفضي",
    "يدفع",
    "تدفع",
    "يضر",
    "تضر",
    "يغير",
    "تغير",
    "يحدد",
    "تحدد",
    "يعتمد",
    "تعتمد",
    "يتوقف",
    "تتوقف",
    "يستغرق",
    "تستغرق",
    "يكلف",
    "تكلف",
    "يجعل",
    "تجعل",
    "يصعب",
    "تصعب",
    "يمثل",
    "تمثل",
    "يشكل",
    "تشكل",
    "يساعد",
    "تساعد",
];

/// Words after سي/ست/سن that are nouns, not futures.
const NOT_FUTURES_AR: &[&str] = &[
    "سياق",
    "سياسه",
    "سياسي",
    "سياسيه",
    "سياسات",
    "سياسيون",
    "سياسيين",
    "سيارات",
    "سياره",
    "سيطره",
    "سياده",
    "سيده",
    "سيدات",
    "سياحه",
    "سياحي",
    "سياحيه",
    "سيناريو",
    "سيناريوهات",
    "سيوله",
    "سيول",
    "سيناء",
    "سينما",
    "سيرته",
    "سيره",
    "ستار",
    "ستراتيجيه",
    "ستين",
    "سته",
    "سنه",
    "سنوات",
    "سنوي",
    "سنويا",
    "سنويه",
    "سنتين",
    "سنتان",
    "سنغافوره",
    "سنوات",
    "سياسيا",
    "سيادي",
    "سياديه",
    "سيبراني",
    "سيبرانيه",
    "سيريلانكا",
    "سيراليون",
    "سيول",
    "سيف",
    "سيل",
    "سيارة",
    "سيناتور",
    "ستوكهولم",
    "سنغال",
    "سنار",
    "سيئه",
    "سيئ",
    "سير",
    "سيما",
    "سيان",
    "سيادته",
    "سيدي",
    "ستوديو",
];

/// Imperfect verbs that make an event of "من المقرر أن …".
const EVENT_VERBS_AR: &[&str] = &[
    "يعقد",
    "تعقد",
    "ينعقد",
    "تنعقد",
    "يجتمع",
    "تجتمع",
    "يلتقي",
    "تلتقي",
    "يبدا",
    "تبدا",
    "ينطلق",
    "تنطلق",
    "يستانف",
    "تستانف",
    "يوقع",
    "توقع",
    "يتم",
    "تتم",
    "يصل",
    "تصل",
    "يزور",
    "تزور",
    "يجري",
    "تجري",
    "يعلن",
    "تعلن",
    "يفتتح",
    "تفتتح",
    "يسلم",
    "تسلم",
    "يصدر",
    "تصدر",
    "يبحث",
    "تبحث",
    "يناقش",
    "تناقش",
    "يقدم",
    "تقدم",
    "ينفذ",
    "تنفذ",
    "يستضيف",
    "تستضيف",
    "يعود",
    "تعود",
    "يعاد",
    "تعاد",
    "يفتح",
    "تفتح",
    "يرسل",
    "ترسل",
    "يشارك",
    "تشارك",
    "يطلق",
    "تطلق",
    "يدخل",
    "تدخل",
    "يتوجه",
    "تتوجه",
    "يستقبل",
    "تستقبل",
    "يصوت",
    "تصوت",
    "يقام",
    "تقام",
    "يلتئم",
    "تلتئم",
    "يسدد",
    "تسدد",
    "ينسحب",
    "تنسحب",
];

/// Nouns that name a planned event (without the article).
const EVENT_NOUNS_AR: &[&str] = &[
    "اجتماع",
    "اجتماعات",
    "قمه",
    "محادثات",
    "مفاوضات",
    "زياره",
    "جوله",
    "لقاء",
    "مؤتمر",
    "لجنه",
    "انتخابات",
    "توقيع",
    "اتفاق",
    "اتفاقيه",
    "جلسه",
    "حوار",
    "منتدي",
    "مباحثات",
    "مشاورات",
    "تسليم",
    "شحنه",
    "شحنات",
    "انسحاب",
    "تبادل",
    "افراج",
    "قافله",
    "قوافل",
    "استفتاء",
    "مناورات",
    "دفعه",
    "مشروع",
    "اعمال",
    "تدريبات",
    "رحلات",
    "اجتماعها",
    "اجتماعه",
];

const CLAUSE_OPENERS_AR: &[&str] = &["ان", "لكن", "بينما", "حيث", "كما", "اذ", "لان", "بان"];

/// Words that end a title: purpose clauses, reporting tails, relatives.
const TITLE_STOPS_AR: &[&str] = &[
    "لمتابعه",
    "لبحث",
    "لمناقشه",
    "لضمان",
    "لتقييم",
    "لمراجعه",
    "لتنسيق",
    "بهدف",
    "بغيه",
    "بغرض",
    "سعيا",
    "حسب",
    "بحسب",
    "وفق",
    "وفقا",
    "حيث",
    "الذي",
    "التي",
    "الذين",
    "وذلك",
    "عقب",
    "لتعزيز",
    "لدعم",
    "لتسهيل",
    "لتنفيذ",
    "للبحث",
    "لاستكمال",
    "لوضع",
    "لمعالجه",
    "وفقاً",
    "مؤكدا",
    "مشيرا",
    "موضحا",
    "قائلا",
    "مضيفا",
];

const TITLE_STOPS_EN: &[&[&str]] = &[
    &["in", "order", "to"],
    &["so", "as", "to"],
    &["aimed", "at"],
    &["with", "the", "aim"],
    &["to", "follow"],
    &["to", "discuss"],
    &["to", "review"],
    &["to", "ensure"],
    &["to", "monitor"],
    &["to", "oversee"],
    &["to", "coordinate"],
    &["to", "address"],
    &["to", "help"],
    &["to", "support"],
    &["according", "to"],
    &["which"],
    &["who"],
    &["after"],
    &["once"],
    &["following"],
    &["amid"],
    &["as", "part", "of"],
    &["said"],
    &["told"],
    &["he", "said"],
    &["she", "said"],
];

/// Words a title does not end on.
const TRAILING_EN: &[&str] = &[
    "and", "to", "the", "of", "a", "an", "in", "on", "at", "for", "by", "with", "from", "as", "or",
    "its", "their", "his", "her", "also",
];
const TRAILING_AR: &[&str] = &["و", "في", "علي", "مع", "من", "الي", "او", "ثم", "عن", "يوم"];

// ---- helpers -------------------------------------------------------------

fn seq_at(t: &Tokens, i: usize, words: &[&str]) -> bool {
    words.iter().enumerate().all(|(k, w)| t.word(i + k) == *w)
}

/// The word at `i` without a glued و or ف.
fn bare(t: &Tokens, i: usize) -> &str {
    let w = t.word(i);
    if is_arabic(w) {
        strip_conjunction(w)
    } else {
        w
    }
}

fn is_word(t: &Tokens, i: usize) -> bool {
    t.toks.get(i).is_some_and(|k| k.kind == Kind::Word)
}

/// Whether the Arabic word at `i` reads, with its article, as one of `list`.
fn definite_among(t: &Tokens, i: usize, list: &[&str]) -> Option<String> {
    arabic_readings(t.word(i))
        .find(|(r, art)| *art && list.contains(r))
        .map(|(r, _)| r.to_string())
}

/// Whether the Arabic word at `i`, with or without article or proclitics,
/// is one of `list`.
pub(crate) fn arabic_among(w: &str, list: &[&str]) -> bool {
    arabic_readings(w).any(|(r, _)| list.contains(&r))
}

/// Whether `w` (folded, conjunction stripped) is an imperfect verb with the
/// future prefix سـ: سيعقد, ستبدأ, سنعمل, سأزور.
fn is_future_verb(t: &Tokens, text: &str, i: usize) -> bool {
    let w = bare(t, i);
    let Some(rest) = w.strip_prefix('س') else {
        return false;
    };
    let mut chars = rest.chars();
    let Some(prefix) = chars.next() else {
        return false;
    };
    let stem: &str = chars.as_str();
    let stem_len = stem.chars().count();
    let ok_prefix = match prefix {
        'ي' | 'ت' | 'ن' => true,
        // سأ folds to سا: only the hamza in the original makes it a future.
        'ا' => t.original(text, i).contains("سأ"),
        _ => false,
    };
    if !ok_prefix || NOT_FUTURES_AR.contains(&w) {
        return false;
    }
    if stem_len < 2 || (stem_len == 2 && !matches!(w, "سيتم" | "ستتم" | "سيعد")) {
        return false;
    }
    // Nouns and adjectives end in ة or take feminine plurals.
    !(w.ends_with('ه') || w.ends_with("ات") || w.ends_with("يه"))
}

/// The imperfect verb of a future word, without its سـ.
fn future_stem(t: &Tokens, i: usize) -> &str {
    let w = bare(t, i);
    w.strip_prefix('س').unwrap_or(w)
}

/// Where the clause holding token `cue` begins within `sentence_start..`.
fn clause_start(t: &Tokens, sentence_start: usize, cue: usize) -> usize {
    let mut i = cue;
    while i > sentence_start {
        let w = t.word(i - 1);
        let boundary = match t.toks[i - 1].kind {
            Kind::Punct => matches!(w, "," | ";" | ":" | "(" | "\"" | "«" | "“" | "-"),
            _ if is_arabic(w) => CLAUSE_OPENERS_AR.contains(&strip_conjunction(w)),
            _ => CLAUSE_OPENERS_EN.contains(&w),
        };
        if boundary {
            return i;
        }
        i -= 1;
    }
    sentence_start
}

fn hedged_en(t: &Tokens, lo: usize, cue: usize, after: usize) -> bool {
    (cue.saturating_sub(3).max(lo)..after).any(|k| HEDGES_EN.contains(&t.word(k)))
}

fn negated_en(t: &Tokens, lo: usize, cue: usize) -> bool {
    (cue.saturating_sub(2).max(lo)..cue).any(|k| NEGATIONS_EN.contains(&t.word(k)))
}

fn hedged_ar(t: &Tokens, lo: usize, cue: usize) -> bool {
    (cue.saturating_sub(2).max(lo)..cue).any(|k| HEDGES_AR.contains(&bare(t, k)))
        || (lo..cue).any(|k| seq_at(t, k, &["من", "المرجح"]) || seq_at(t, k, &["من", "المحتمل"]))
}

/// Every commitment cue in the sentence of tokens `range`.
pub(crate) fn find(text: &str, t: &Tokens, range: std::ops::Range<usize>) -> Vec<Cue> {
    let (s, e) = (range.start, range.end);
    // Questions commit nobody.
    if (s..e).rev().take(3).any(|k| t.word(k) == "?") {
        return Vec::new();
    }
    let conditional = |upto: usize| {
        (s..upto).any(|k| {
            let w = bare(t, k);
            matches!(w, "if" | "unless" | "اذا" | "لو" | "حال")
        })
    };
    let reported = (s..e).any(|k| {
        REPORTING_EN.contains(&t.word(k))
            || arabic_among(
                t.word(k),
                &["قال", "قالت", "اعلن", "اعلنت", "اكد", "اكدت", "وفق"],
            )
    });
    let mut cues: Vec<Cue> = Vec::new();
    let mut i = s;
    while i < e {
        let found = if is_arabic(t.word(i)) {
            arabic_cue(text, t, s, e, i)
        } else if is_word(t, i) {
            english_cue(t, s, e, i, reported)
        } else {
            None
        };
        match found {
            Some(cue) => {
                i = cue.end.max(i + 1);
                let conditional =
                    matches!(cue.kind, CueKind::Will | CueKind::Would) && conditional(cue.start);
                // "agreed that talks would resume": the would is the agreement's.
                let absorbed = matches!(cue.kind, CueKind::Will | CueKind::Would)
                    && cues
                        .last()
                        .is_some_and(|c| c.takes_clause && cue.start <= c.end + 8);
                if !conditional && !absorbed {
                    cues.push(cue);
                }
            }
            None => i += 1,
        }
    }
    cues
}

fn english_cue(t: &Tokens, s: usize, e: usize, i: usize, reported: bool) -> Option<Cue> {
    let w = t.word(i);
    let make = |kind, end: usize, complement: usize, takes_clause| Cue {
        kind,
        start: i,
        end,
        complement,
        complement_byte: t.toks.get(complement).map_or(usize::MAX, |k| k.ostart),
        clause: clause_start(t, s, i),
        anaphor: None,
        takes_clause,
    };
    // agreed to, pledged, committed to…
    if let Some(p) = AGREE_EN
        .iter()
        .filter(|p| seq_at(t, i, p))
        .max_by_key(|p| p.len())
    {
        if negated_en(t, s, i) || hedged_en(t, s, i, i) {
            return None;
        }
        let end = i + p.len();
        // "pledged" alone needs an object, not "pledged, he said".
        if end >= e || !is_word(t, end) && t.toks[end].kind != Kind::Number {
            return None;
        }
        // "agreed on Monday to …", "agreed on 3 November 2025 to …": the
        // "on" dates the agreement; the commitment follows the "to".
        if p.last() == Some(&"on")
            && let Some(to) = (end..(end + 6).min(e)).find(|&k| t.word(k) == "to")
            && (end..to).all(|k| t.toks[k].kind != Kind::Word || CALENDAR_EN.contains(&t.word(k)))
        {
            return Some(make(CueKind::Agree, end, to + 1, false));
        }
        return Some(make(CueKind::Agree, end, end, p.last() == Some(&"that")));
    }
    // will / shall / reported would
    if matches!(w, "will" | "shall" | "would") {
        let kind = if w == "would" {
            if !reported {
                return None;
            }
            CueKind::Would
        } else {
            CueKind::Will
        };
        let prev = if i > s { t.word(i - 1) } else { "" };
        if i == s
            || matches!(
                prev,
                "the"
                    | "political"
                    | "good"
                    | "his"
                    | "her"
                    | "their"
                    | "its"
                    | "own"
                    | "free"
                    | "s"
                    | "ill"
                    | "goodwill"
            )
        {
            return None;
        }
        let mut v = i + 1;
        while matches!(
            t.word(v),
            "also" | "then" | "now" | "jointly" | "formally" | "each"
        ) {
            v += 1;
        }
        let verb = t.word(v);
        if !is_word(t, v) || matches!(verb, "of" | "to" | "and" | "the" | "a") {
            return None;
        }
        if negated_en(t, s, i) || hedged_en(t, s, i, v + 1) || matches!(verb, "like" | "have") {
            return None;
        }
        if verb == "be" {
            // "will be held", not "will be difficult".
            if !EVENT_PARTICIPLES_EN.contains(&t.word(v + 1)) {
                return None;
            }
        } else if verb == "take" {
            if !matches!(
                t.word(v + 1),
                "place" | "part" | "over" | "steps" | "measures"
            ) {
                return None;
            }
        } else if FORECAST_VERBS_EN.contains(&verb) {
            return None;
        }
        let clause = clause_start(t, s, i);
        let head = (clause..i)
            .rev()
            .find(|&k| is_word(t, k))
            .map(|k| t.word(k));
        if head.is_none_or(|h| FORECAST_SUBJECTS_EN.contains(&h)) && head != Some("it") {
            return None;
        }
        let mut cue = make(kind, i + 1, i + 1, false);
        cue.anaphor = english_anaphor(t, clause, i);
        return Some(cue);
    }
    // is expected / set / scheduled to … (an event)
    if BE.contains(&w) && PLANNED.contains(&t.word(i + 1)) {
        if hedged_en(t, s, i, i + 2) || negated_en(t, s, i + 1) {
            return None;
        }
        let clause = clause_start(t, s, i);
        let event_subject = (clause..i).any(|k| EVENT_NOUNS_EN.contains(&t.word(k)));
        let after = t.word(i + 2);
        let (end, ok) = match after {
            "to" => {
                let verb = t.word(i + 3);
                let event_verb = EVENT_VERBS_EN.contains(&verb)
                    || (verb == "be" && EVENT_PARTICIPLES_EN.contains(&t.word(i + 4)));
                (
                    i + 3,
                    event_verb || (event_subject && !FORECAST_VERBS_EN.contains(&verb)),
                )
            }
            "for" | "on" | "in" | "within" | "by" | "before" | "next" | "later" | "soon" => {
                (i + 2, event_subject)
            }
            _ => (i + 2, false),
        };
        if !ok {
            return None;
        }
        let mut cue = make(CueKind::Expected, end, end, false);
        cue.anaphor = english_anaphor(t, clause, i);
        return Some(cue);
    }
    None
}

/// "it" or "the meeting" as the subject of a cue.
fn english_anaphor(t: &Tokens, clause: usize, cue: usize) -> Option<Anaphor> {
    let words: Vec<&str> = (clause..cue)
        .filter(|&k| is_word(t, k))
        .map(|k| t.word(k))
        .collect();
    match words.as_slice() {
        ["it"] => Some(Anaphor::Implied),
        ["the" | "this" | "that", .., noun] if EVENT_NOUNS_EN.contains(noun) => {
            Some(Anaphor::Noun(noun.to_string()))
        }
        _ => None,
    }
}

fn arabic_cue(text: &str, t: &Tokens, s: usize, e: usize, i: usize) -> Option<Cue> {
    let w = bare(t, i);
    let clause = clause_start(t, s, i);
    let base = |kind, end: usize, complement: usize| Cue {
        kind,
        start: i,
        end,
        complement,
        complement_byte: t.toks.get(complement).map_or(usize::MAX, |k| k.ostart),
        clause,
        anaphor: None,
        takes_clause: false,
    };
    let upto_ala = |from: usize, within: usize| {
        (from..(from + within).min(e))
            .take_while(|&k| t.toks[k].kind != Kind::Punct)
            .find(|&k| t.word(k) == "علي")
    };
    // اتفق الجانبان على …, تم الاتفاق على …
    let agreed = if AGREE_VERBS_AR.contains(&w) {
        upto_ala(i + 1, 5)
    } else if PASSIVE_AGREE_AR.contains(&w) && t.word(i + 1) == "الاتفاق" {
        upto_ala(i + 2, 5)
    } else {
        None
    };
    if let Some(ala) = agreed {
        if hedged_ar(t, s, i) {
            return None;
        }
        let mut cue = base(CueKind::Agree, ala + 1, ala + 1);
        if t.word(ala + 1) == "ان" {
            cue.complement = ala + 2;
            cue.complement_byte = t.toks.get(ala + 2).map_or(usize::MAX, |k| k.ostart);
            cue.takes_clause = true;
        }
        return Some(cue);
    }
    // تعهد / التزم / وعد / قرر (+ ب…, بأن …)
    if PLEDGE_VERBS_AR.contains(&w) {
        if hedged_ar(t, s, i) {
            return None;
        }
        // "أعلن" commits only with a decision word after it.
        if w.starts_with("اعلن") && !arabic_among(t.word(i + 1), &["عزم", "اعتزام", "نيه"])
        {
            return None;
        }
        let mut cue = base(CueKind::Agree, i + 1, i + 1);
        let window = (i + 1..(i + 5).min(e)).take_while(|&k| t.toks[k].kind != Kind::Punct);
        for k in window {
            let word = t.word(k);
            if word == "بان" || word == "ان" {
                cue.complement = k + 1;
                cue.complement_byte = t.toks.get(k + 1).map_or(usize::MAX, |x| x.ostart);
                cue.takes_clause = true;
                break;
            }
            if let Some(rest) = word.strip_prefix('ب')
                && rest.chars().nth(2).is_some()
            {
                cue.complement = k;
                let orig = t.original(text, k);
                let skip = orig.chars().next().map_or(0, char::len_utf8);
                cue.complement_byte = t.toks[k].ostart + skip;
                break;
            }
        }
        if cue.complement == i + 1 {
            // "قررت الحكومة السورية رفع الدعم": the subject after the verb is
            // definite, the complement (a verbal noun) is not.
            let mut k = i + 1;
            while k < e && is_word(t, k) && bare(t, k).starts_with("ال") {
                k += 1;
            }
            cue.complement = k;
            cue.complement_byte = t.toks.get(k).map_or(usize::MAX, |x| x.ostart);
        }
        if cue.complement >= e {
            return None;
        }
        return Some(cue);
    }
    // من المتوقع / من المقرر أن + event
    let expected_at = if w == "من"
        && definite_among(t, i + 1, EXPECTED_AR).is_some()
        && t.word(i + 2) == "ان"
    {
        Some(i + 3)
    } else if matches!(w, "يتوقع" | "يرتقب" | "ينتظر") && t.word(i + 1) == "ان" {
        Some(i + 2)
    } else {
        None
    };
    if let Some(verb) = expected_at {
        if hedged_ar(t, s, i) || verb >= e {
            return None;
        }
        let verb_word = bare(t, verb);
        let event_verb = EVENT_VERBS_AR.contains(&verb_word);
        let subject = definite_among(t, verb + 1, EVENT_NOUNS_AR);
        let event_noun = subject.is_some()
            || (verb + 1..(verb + 3).min(e)).any(|k| arabic_among(t.word(k), EVENT_NOUNS_AR));
        if !event_verb && !event_noun || FORECAST_VERBS_AR.contains(&verb_word) {
            return None;
        }
        let mut cue = base(CueKind::Expected, verb, verb);
        cue.anaphor = arabic_anaphor(t, verb, e, subject);
        return Some(cue);
    }
    // سوف + verb, and the future prefix سـ
    let (verb, end) = if w == "سوف" {
        (i + 1, i + 2)
    } else if is_future_verb(t, text, i) {
        (i, i + 1)
    } else {
        return None;
    };
    if verb >= e || hedged_ar(t, s, i) {
        return None;
    }
    let stem = if verb == i {
        future_stem(t, i)
    } else {
        bare(t, verb)
    };
    if FORECAST_VERBS_AR.contains(&stem) {
        return None;
    }
    let mut cue = base(CueKind::Will, end, i);
    // The subject before the verb ("الاجتماع سيعقد") or after it.
    let before = (clause..i)
        .filter(|&k| is_word(t, k))
        .find_map(|k| definite_among(t, k, EVENT_NOUNS_AR));
    let after = definite_among(t, verb + 1, EVENT_NOUNS_AR);
    cue.anaphor = match (before, after) {
        (Some(n), _) | (None, Some(n)) => Some(Anaphor::Noun(n)),
        _ if clause == i && EVENT_VERBS_AR.contains(&stem) => {
            arabic_anaphor(t, verb, e, None).filter(|a| *a == Anaphor::Implied)
        }
        _ => None,
    };
    Some(cue)
}

/// After an event verb: no subject at all (a deadline or the end follows)
/// is the event just spoken of; a definite event noun names it.
fn arabic_anaphor(t: &Tokens, verb: usize, e: usize, subject: Option<String>) -> Option<Anaphor> {
    if let Some(n) = subject {
        return Some(Anaphor::Noun(n));
    }
    let next = verb + 1;
    let nothing_follows = next >= e
        || t.toks[next].kind == Kind::Punct
        || matches!(
            bare(t, next),
            "في" | "خلال" | "قبل" | "بحلول" | "حتي" | "بعد" | "مطلع" | "نهايه" | "قريبا"
        );
    nothing_follows.then_some(Anaphor::Implied)
}

/// Token indexes in `from..to` where a complement splits into another
/// commitment: "and to", "وعلى", and a plain "and"/و when each side has a
/// deadline of its own (`has_deadline(a, b)` says whether tokens `a..b`
/// hold one).
pub(crate) fn splits(
    t: &Tokens,
    from: usize,
    to: usize,
    has_deadline: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    // (split token, first token of the next commitment)
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut last = from;
    for k in from + 1..to {
        let w = t.word(k);
        let next = if w == "and" {
            if t.word(k + 1) == "to" || (t.word(k + 1) == "also" && t.word(k + 2) == "to") {
                Some(k + if t.word(k + 1) == "also" { 3 } else { 2 })
            } else if has_deadline(last, k) && has_deadline(k + 1, to) {
                Some(k + 1)
            } else {
                None
            }
        } else if seq_at(t, k, &["as", "well", "as", "to"]) {
            Some(k + 4)
        } else if w == "وعلي" {
            Some(if t.word(k + 1) == "ان" {
                k + 2
            } else {
                k + 1
            })
        } else if w == "وان" && last == from {
            Some(k + 1)
        } else if is_arabic(w)
            && w.starts_with('و')
            && strip_conjunction(w) != w
            && has_deadline(last, k)
            && has_deadline(k + 1, to)
        {
            Some(k)
        } else {
            None
        };
        if let Some(n) = next
            && n < to
        {
            out.push((k, n));
            last = n;
        }
    }
    out
}

/// Where a title starting at token `from` stops, before `limit` (the first
/// deadline, the next commitment, the end): at a comma or like mark, a
/// purpose clause or a reporting tail. Returns the token after the title.
pub(crate) fn title_end(t: &Tokens, from: usize, limit: usize) -> usize {
    let mut k = from;
    while k < limit {
        let w = t.word(k);
        let stop = match t.toks[k].kind {
            Kind::Punct => {
                matches!(w, "," | ";" | ":" | "(" | ")" | "[" | "." | "?" | "!")
                    || (w == "-" && t.toks[k].space_before)
            }
            _ if is_arabic(w) => k > from && TITLE_STOPS_AR.contains(&w),
            _ => k > from && TITLE_STOPS_EN.iter().any(|p| seq_at(t, k, p)),
        };
        if stop {
            break;
        }
        k += 1;
    }
    // Not on "and", "to", "في" or a dangling mark.
    while k > from {
        let w = t.word(k - 1);
        let dangling = t.toks[k - 1].kind == Kind::Punct
            || TRAILING_EN.contains(&w)
            || TRAILING_AR.contains(&w);
        if !dangling {
            break;
        }
        k -= 1;
    }
    k
}

/// The folded event nouns of a title, for matching "the meeting" back to
/// "hold a meeting".
pub(crate) fn title_nouns(t: &Tokens, from: usize, to: usize) -> Vec<String> {
    let mut out = Vec::new();
    for k in from..to {
        let w = t.word(k);
        if is_arabic(w) {
            for (r, _) in arabic_readings(w) {
                // The accusative "مؤتمرا" names the same event as "المؤتمر".
                let r = r
                    .strip_suffix('ا')
                    .filter(|x| EVENT_NOUNS_AR.contains(x))
                    .unwrap_or(r);
                if EVENT_NOUNS_AR.contains(&r) {
                    out.push(r.to_string());
                }
            }
        } else if EVENT_NOUNS_EN.contains(&w) {
            out.push(w.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(CueKind, String)> {
        let t = Tokens::new(text);
        find(text, &t, 0..t.toks.len())
            .into_iter()
            .map(|c| {
                let span = t.toks[c.start].ostart..t.toks[c.end - 1].oend;
                (c.kind, text[span].to_string())
            })
            .collect()
    }

    #[test]
    fn arabic_future_prefix_needs_a_verb() {
        assert_eq!(kinds("سيعقد الوزراء اجتماعا")[0].0, CueKind::Will);
        assert_eq!(kinds("ستبدأ الشحنات الأسبوع المقبل").len(), 1);
        for noun in [
            "في سياق التطورات",
            "السياسة الإقليمية",
            "زار سوريا",
            "سياسة جديدة",
            "سيارات",
        ] {
            assert!(kinds(noun).is_empty(), "{noun}");
        }
    }

    #[test]
    fn arabic_forecast_futures_and_hedges_are_not_cues() {
        assert!(kinds("وسيتطلب التغلب على هذه التحديات جهودا").is_empty());
        assert!(kinds("من المرجح أن تستمر روسيا في لعب دور").is_empty());
        assert!(kinds("من المتوقع أن تشهد العلاقات تطورات إيجابية").is_empty());
        assert!(kinds("قد يعقد الاجتماع قريبا").is_empty());
        assert!(kinds("يجب مراقبة تطورات الاجتماع").is_empty());
    }

    #[test]
    fn arabic_agreement_cues_span_to_their_preposition() {
        assert_eq!(
            kinds("اتفق الجانبان على تبادل الأسرى"),
            [(CueKind::Agree, "اتفق الجانبان على".to_string())]
        );
        assert_eq!(
            kinds("كما تم الاتفاق على عقد اجتماع"),
            [(CueKind::Agree, "تم الاتفاق على".to_string())]
        );
        assert_eq!(kinds("وتعهدت قطر بتقديم مساعدات")[0].0, CueKind::Agree);
    }

    #[test]
    fn expected_needs_an_event() {
        assert_eq!(
            kinds("من المتوقع أن يعقد في غضون شهرين")[0].0,
            CueKind::Expected
        );
        assert_eq!(
            kinds("The summit is scheduled to take place in Cairo")[0].0,
            CueKind::Expected
        );
        assert!(kinds("Relations are expected to see positive developments").is_empty());
        assert!(kinds("Prices are expected to rise").is_empty());
    }

    #[test]
    fn english_hedges_negations_and_forecasts_are_not_cues() {
        for s in [
            "Iran may resume talks next week.",
            "Oil prices will rise by the end of the year.",
            "The deal could collapse.",
            "Russia will likely continue its support.",
            "Turkey has not agreed to reopen the border.",
            "The situation should be monitored.",
            "Will the sides meet again?",
            "If talks fail, Israel will resume strikes.",
            "It is the will of the people.",
        ] {
            assert!(kinds(s).is_empty(), "{s}: {:?}", kinds(s));
        }
    }

    #[test]
    fn reported_would_needs_a_reporting_verb() {
        assert_eq!(
            kinds("Talks would resume next week, the mediator said.")[0].0,
            CueKind::Would
        );
        assert!(kinds("Talks would resume next week in a better world.").is_empty());
    }

    #[test]
    fn agreed_that_absorbs_its_would() {
        let k = kinds("The sides agreed that talks would resume within a week, officials said.");
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].0, CueKind::Agree);
    }
}

//! Fuzz target for the deadline language: any bytes, read as text with an
//! anchor taken from the first bytes, must never make `parse` or `find`
//! panic, and what they return must hold together.

#![no_main]

use followup::deadline::{Deadline, Options, find_with};
use jiff::civil::Date;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(4));
    let mut seed = [0u8; 4];
    seed[..head.len()].copy_from_slice(head);
    // Anchors over the whole calendar jiff supports, edges included.
    // (Span::days panics past ±7,304,484 days, hence try_days.)
    let day = i64::from(u32::from_le_bytes(seed) % 7_304_485);
    let Ok(span) = jiff::Span::new().try_days(day) else {
        return;
    };
    let Ok(anchor) = Date::MIN.checked_add(span) else {
        return;
    };
    let horizon = i32::from(i16::from_le_bytes([seed[0], seed[3]]));
    let options = Options {
        vague_horizon_days: horizon,
    };
    let text = String::from_utf8_lossy(rest);

    if let Ok(d) = Deadline::parse_with(&text, anchor, &options) {
        assert!(d.earliest <= d.latest, "{text:?}: {d:?}");
        assert_eq!(d.anchor, anchor);
    }
    let mut last_end = 0;
    for m in find_with(&text, anchor, &options) {
        assert_eq!(&text[m.span.clone()], m.text, "{text:?}");
        assert!(m.span.start >= last_end, "overlapping mentions in {text:?}");
        assert!(m.deadline.earliest <= m.deadline.latest, "{text:?}: {m:?}");
        last_end = m.span.end;
    }
});

//! Fuzz target for `import`'s reader: any bytes, as JSON or as CSV, give
//! checked records or one message naming a line; never a panic. Records
//! it accepts keep their invariants.

#![no_main]

use followup::transfer::{self, Format, ImportContext};
use jiff::Timestamp;
use jiff::civil::date;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = if first % 2 == 0 { Format::Json } else { Format::Csv };
    let context = ImportContext {
        now: Timestamp::from_second(1_760_500_000).unwrap(),
        today: date(2025, 10, 15),
        author: "fuzz".into(),
        deadline_options: Default::default(),
    };
    match transfer::read(text, format, &context) {
        Ok(items) => {
            for item in items {
                let c = &item.record().commitment;
                assert!(!c.title.trim().is_empty());
                assert!(!c.title.contains(['\r', '\n', '\0']));
                let d = &c.deadline.deadline;
                assert!(d.earliest <= d.latest, "{d:?}");
                assert!(!item.record().revisions.is_empty());
            }
        }
        Err(message) => assert!(message.starts_with("line "), "{message}"),
    }
});

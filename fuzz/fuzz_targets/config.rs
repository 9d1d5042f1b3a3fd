//! Fuzz target for the config loader: any text must give a config or a
//! list of problems, each naming a line inside the text; never a panic.

#![no_main]

use std::path::Path;

use followup::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_toml(text, Path::new("/etc/followup")) {
        Ok(_) => {}
        Err(problems) => {
            assert!(!problems.is_empty(), "an error with no problem in it");
            let lines = text.lines().count().max(1);
            for problem in &problems {
                if let Some(line) = problem.line {
                    assert!((1..=lines + 1).contains(&line), "{problem:?} is past the end");
                }
            }
        }
    }
});

//! Aligned plain-text tables for terminals. Widths are measured in display
//! columns, so Arabic and wide characters line up; the last column is never
//! padded, which is why callers put free text (titles) there: a
//! right-to-left title then cannot push later columns around.

use std::borrow::Cow;
use std::io::Write;

use unicode_width::UnicodeWidthStr;

/// A table under construction: a header row and data rows, every cell's
/// text kept in one string. A list of thousands of lines spent a quarter
/// of its time allocating and freeing a string for each cell.
pub struct Table {
    /// Cells in a row: the header's.
    columns: usize,
    /// Every cell's text, one after another, row by row.
    text: String,
    /// Where each cell ends in `text`.
    ends: Vec<usize>,
}

/// A piece of a cell put together by [`Table::cell_parts`].
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    Text(&'a str),
    Number(i64),
}

/// Output is handed on in pieces of about this size, so that a list of
/// any length is never held twice.
const WRITE_AT: usize = 64 * 1024;

impl Table {
    pub fn new(header: &[&str]) -> Table {
        let mut table = Table {
            columns: header.len().max(1),
            text: String::new(),
            ends: Vec::new(),
        };
        table.row(header);
        table
    }

    /// Adds a row of cells.
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        for cell in cells {
            self.cell(cell.as_ref());
        }
        debug_assert_eq!(
            self.ends.len() % self.columns,
            0,
            "a row of the wrong length"
        );
    }

    /// Adds the next cell of the row being filled; a row is complete after
    /// as many cells as the header has.
    pub fn cell(&mut self, text: &str) {
        self.text.push_str(text);
        self.ends.push(self.text.len());
    }

    /// Adds the next cell from `parts`, written one after another (a
    /// [`Part::Number`] as its decimal digits).
    pub fn cell_parts(&mut self, parts: &[Part<'_>]) {
        for part in parts {
            match *part {
                Part::Text(text) => self.text.push_str(text),
                Part::Number(number) => push_number(&mut self.text, number),
            }
        }
        self.ends.push(self.text.len());
    }

    /// Adds the next cell: `text` shortened to `max` display columns, the
    /// cut marked with "…".
    pub fn clipped(&mut self, text: &str, max: usize) {
        clip_into(text, max, &mut self.text);
        self.ends.push(self.text.len());
    }

    pub fn is_empty(&self) -> bool {
        self.ends.len() <= self.columns
    }

    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        // Each cell as the terminal gets it, with its width, worked out
        // once: a list of thousands of lines spent a fifth of its time
        // scanning each cell three times (for control characters, for its
        // width, and for its padding).
        let mut start = 0;
        let cells: Vec<(Cow<'_, str>, usize)> = self
            .ends
            .iter()
            .map(|&end| {
                let cell = &self.text[start..end];
                start = end;
                shown(cell)
            })
            .collect();
        // The last cell of a row is never padded, so its width (a title,
        // the longest text in the row) never counts.
        let mut widths = vec![0; self.columns];
        for row in cells.chunks(self.columns) {
            for (i, (_, width)) in row.iter().enumerate().take(row.len() - 1) {
                widths[i] = widths[i].max(*width);
            }
        }
        let mut buffer = String::with_capacity(WRITE_AT.min(2 * self.text.len()) + 64);
        for row in cells.chunks(self.columns) {
            let line = buffer.len();
            for (i, (text, width)) in row.iter().enumerate() {
                buffer.push_str(text);
                if i + 1 < row.len() {
                    pad(&mut buffer, widths[i] - width + 2);
                }
            }
            let kept = buffer[line..].trim_end().len();
            buffer.truncate(line + kept);
            buffer.push('\n');
            if buffer.len() >= WRITE_AT {
                out.write_all(buffer.as_bytes())?;
                buffer.clear();
            }
        }
        out.write_all(buffer.as_bytes())
    }
}

/// Appends `columns` spaces, a run at a time: pushed as characters one
/// by one, padding was a fifth of a long list's work.
fn pad(line: &mut String, mut columns: usize) {
    const SPACES: &str = "                                ";
    while columns > 0 {
        let run = columns.min(SPACES.len());
        line.push_str(&SPACES[..run]);
        columns -= run;
    }
}

/// Appends the decimal digits of `number`, as `Display` writes them but
/// without the formatting machinery, which was a tenth of a long list's
/// work for its ids and day counts.
pub fn push_number(text: &mut String, number: i64) {
    if number < 0 {
        text.push('-');
    }
    let number = number.unsigned_abs();
    let mut unit = 1;
    while unit <= number / 10 {
        unit *= 10;
    }
    while unit > 0 {
        // A digit is below ten, so one ASCII character.
        text.push(char::from(b'0' + (number / unit % 10) as u8));
        unit /= 10;
    }
}

/// Whether `text` is all printable ASCII. Every byte is looked at, with
/// no early way out, so that the compiler checks many bytes at a time.
fn printable_ascii(text: &str) -> bool {
    text.bytes()
        .fold(true, |all, byte| all & (byte.wrapping_sub(0x20) < 0x5f))
}

/// `cell` as [`for_terminal`] shows it, and its width in display columns.
fn shown(cell: &str) -> (Cow<'_, str>, usize) {
    // Printable ASCII (ids, dates, statuses, most titles) is shown as it
    // is, one column a byte.
    if printable_ascii(cell) {
        return (Cow::Borrowed(cell), cell.len());
    }
    let visible = for_terminal(cell);
    let width = visible.width();
    (visible, width)
}

/// Stored text as it may reach the analyst's terminal, on one line.
/// Control characters other than tabs are shown as symbols, a line feed
/// as ␊ (text that may hold line breaks has them turned into spaces
/// first; one that reaches here came from outside, and printed raw it
/// could start a forged row of a table): every field is
/// checked for them on the way in, but a database written before a check
/// existed, or by hand, must not be able to send escape sequences. The
/// bidi embedding, override and isolate controls are dropped, as in
/// email: they are kept as data (an export gives them back), but one left
/// open would turn around whatever is printed after it on the line, a
/// status or a date. Arabic reads right to left without them.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    // C0 controls and DEL are bytes of their own in UTF-8; C1 controls are
    // the two-byte sequences starting 0xC2, and the bidi controls the
    // three-byte ones starting 0xE2 0x80 or 0xE2 0x81.
    let risky = |b: &u8| (*b < 0x20 && *b != b'\t') || matches!(*b, 0x7f | 0xc2 | 0xe2);
    if !text.as_bytes().iter().any(risky) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .filter(|c| !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
            .map(|c| match c {
                '\t' => c,
                // U+2400 CONTROL PICTURE FOR NULL onwards: ␀ … ␟, then ␡.
                '\0'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
                '\u{7f}' => '\u{2421}',
                c if c.is_control() => '\u{fffd}',
                c => c,
            })
            .collect(),
    )
}

/// Display columns of `text`. Most cells (ids, dates, statuses, English
/// titles) are printable ASCII, one column a byte; measuring those
/// character by character was a sixth of listing thousands of lines.
fn display_width(text: &str) -> usize {
    if printable_ascii(text) {
        text.len()
    } else {
        text.width()
    }
}

/// Appends `text` to `out`, shortened to at most `max` display columns,
/// the cut marked with "…".
fn clip_into(text: &str, max: usize, out: &mut String) {
    if display_width(text) <= max {
        out.push_str(text);
        return;
    }
    let mut width = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if width + w + 1 > max {
            break;
        }
        out.push(c);
        width += w;
    }
    out.push('…');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_by_display_width_with_arabic_text() {
        let mut table = Table::new(&["ID", "TAGS", "TITLE"]);
        table.row(vec!["1", "سوريا", "عقد اجتماع"]);
        table.row(vec!["12", "energy", "Open the pipeline"]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let title_columns: Vec<usize> = text
            .lines()
            .map(|line| {
                let cut = line.rfind("  ").unwrap() + 2;
                line[..cut].width()
            })
            .collect();
        assert_eq!(title_columns, vec![12, 12, 12], "{text}");
    }

    #[test]
    fn printable_ascii_is_measured_as_unicode_width_measures_it() {
        for text in [
            "",
            "ID",
            "2026-01-31",
            "~2026-01-31",
            "Hold the joint committee meeting; 3d late!",
        ] {
            assert_eq!(display_width(text), text.width(), "{text:?}");
        }
        for text in ["عقد اجتماع", "会议", "caf\u{e9}", "\u{202e}x"] {
            assert_eq!(display_width(text), text.width(), "{text:?}");
        }
    }

    #[test]
    fn control_characters_reach_the_terminal_only_as_symbols_and_bidi_controls_not_at_all() {
        let mut table = Table::new(&["KIND", "TEXT"]);
        table.row(vec!["no\u{1b}te", "a\0b\u{1b}[31mRED\u{7f}\u{9b}2J"]);
        table.row(vec!["note", "two\nlines\tand a tab"]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("no\u{241b}te"), "{text}");
        assert!(
            text.contains("a\u{2400}b\u{241b}[31mRED\u{2421}\u{fffd}2J"),
            "{text}"
        );
        // A line feed from a database written by hand cannot start a row.
        assert!(text.contains("two\u{240a}lines\tand a tab"), "{text}");
        assert_eq!(text.lines().count(), 3, "{text}");
        let mut table = Table::new(&["STATUS", "TITLE"]);
        table.row(vec![
            "open",
            "Sign \u{202e}laed\u{2066} \u{202b}عقد\u{202c} \u{2069}",
        ]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Sign laed عقد"), "{text:?}");
        // Direction marks change no order beyond themselves and stay.
        assert_eq!(for_terminal("سوريا\u{200f} and"), "سوريا\u{200f} and");
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{text:?}"
        );
    }

    #[test]
    fn printable_ascii_is_space_to_tilde_and_nothing_else() {
        for c in (0u32..0x250).filter_map(char::from_u32) {
            let text = format!("Hold the meeting {c} by Friday");
            assert_eq!(printable_ascii(&text), (' '..='~').contains(&c), "{:?}", c);
        }
        assert!(printable_ascii(""));
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        for number in [0, 7, -7, 10, 99, 100, 4_110, -365, i64::MAX, i64::MIN] {
            let mut text = String::from("x");
            push_number(&mut text, number);
            assert_eq!(text, format!("x{number}"));
        }
    }

    #[test]
    fn padding_of_any_width_is_that_many_spaces() {
        for columns in [0, 1, 31, 32, 33, 100] {
            let mut line = String::from("a");
            pad(&mut line, columns);
            assert_eq!(line, format!("a{}", " ".repeat(columns)));
        }
    }

    #[test]
    fn a_clipped_cell_marks_the_cut() {
        let clip = |text: &str, max: usize| {
            let mut out = String::new();
            clip_into(text, max, &mut out);
            out
        };
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(clip("عقد اجتماع", 4), "عقد…");
        // Wide characters count two columns each.
        assert_eq!(clip("会议会议", 5), "会议…");
    }
}

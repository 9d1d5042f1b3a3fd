//! Aligned plain-text tables for terminals. Widths are measured in display
//! columns, so Arabic and wide characters line up; the last column is never
//! padded, which is why callers put free text (titles) there: a
//! right-to-left title then cannot push later columns around.

use std::io::Write;

use unicode_width::UnicodeWidthStr;

/// A table under construction: a header row and data rows.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.len() <= 1
    }

    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        // The last cell of a row is never padded, so its width (a title,
        // the longest text in the row) is never measured.
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
                widths[i] = widths[i].max(display_width(cell));
            }
        }
        let mut line = String::new();
        for row in &self.rows {
            line.clear();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - display_width(cell) + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.write_all(line.trim_end().as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Display columns of `text`. Most cells (ids, dates, statuses, English
/// titles) are printable ASCII, one column a byte; measuring those
/// character by character was a sixth of listing thousands of lines.
fn display_width(text: &str) -> usize {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        text.len()
    } else {
        text.width()
    }
}

/// Shortens text to at most `max` display columns, marking the cut with "…".
pub fn clip(text: &str, max: usize) -> String {
    if display_width(text) <= max {
        return text.to_string();
    }
    let mut clipped = String::new();
    let mut width = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if width + w + 1 > max {
            break;
        }
        clipped.push(c);
        width += w;
    }
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_by_display_width_with_arabic_text() {
        let mut table = Table::new(&["ID", "TAGS", "TITLE"]);
        table.row(vec!["1".into(), "سوريا".into(), "عقد اجتماع".into()]);
        table.row(vec![
            "12".into(),
            "energy".into(),
            "Open the pipeline".into(),
        ]);
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
    fn clip_marks_the_cut() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}

//! Aligned columns for a person at a terminal: create_time as a local date-time, line breaks
//! and tabs shown as spaces, and the text columns cut (with `…`) so that a line fits the
//! terminal width. Column widths are fixed from the first batch, so the table streams.

use std::io::{self, Write};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use unicode_width::UnicodeWidthChar;

use super::{Buffered, LocalTimeFormat, Sink};
use crate::commands::query::value::{Cell, Column, cells};
use crate::record::col;

/// Columns that take the width the others leave.
const FLEXIBLE: [&str; 6] = [
    col::CONTENT,
    col::SOURCE,
    col::EXTRA_FIELDS,
    col::TEXT,
    col::TITLE,
    col::URL,
];
/// The widest a non-flexible column other than create_time gets.
const MAX_FIXED: usize = 24;
/// The narrowest a flexible column gets, whatever the terminal.
const MIN_FLEXIBLE: usize = 16;
const GAP: &str = "  ";

pub struct TableSink<'w> {
    out: Buffered<'w>,
    time: LocalTimeFormat,
    terminal_width: usize,
    names: Vec<String>,
    widths: Option<Vec<usize>>,
    rows: u64,
    scratch: Vec<u8>,
}

impl<'w> TableSink<'w> {
    pub fn new(
        out: Box<dyn Write + Send + 'w>,
        time: LocalTimeFormat,
        terminal_width: usize,
        schema: &SchemaRef,
    ) -> Self {
        TableSink {
            out: Buffered::new(out),
            time,
            terminal_width,
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            widths: None,
            rows: 0,
            scratch: Vec::new(),
        }
    }

    /// The text of one cell, as shown (before cutting).
    fn render(&mut self, cell: Cell<'_>) -> String {
        match cell {
            Cell::Null => String::new(),
            Cell::Str(s) => s.to_string(),
            Cell::Int(n) => n.to_string(),
            Cell::Bool(b) => if b { "yes" } else { "no" }.to_string(),
            Cell::List(items) => items.joined(),
            Cell::Time(t) => {
                self.scratch.clear();
                self.time.push(t, &mut self.scratch);
                String::from_utf8_lossy(&self.scratch).into_owned()
            }
        }
    }

    /// Fix the column widths from the rows of `batch` (the first one) and print the header.
    fn layout(&mut self, sample: &[Vec<String>]) {
        let mut widths: Vec<usize> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let longest = sample
                    .iter()
                    .map(|r| display_width(&r[i]))
                    .max()
                    .unwrap_or(0);
                let mut w = longest.max(name.len());
                if name == col::KIND {
                    // The first batch may be one day of texts: leave room for `location`,
                    // `transfer`… (kinds are at most 12 wide: `mini_program`).
                    w = w.max(8);
                }
                if FLEXIBLE.contains(&name.as_str()) || name == col::CREATE_TIME {
                    w
                } else {
                    w.min(MAX_FIXED.max(name.len()))
                }
            })
            .collect();
        let flexible: Vec<usize> = (0..widths.len())
            .filter(|&i| FLEXIBLE.contains(&self.names[i].as_str()))
            .collect();
        if !flexible.is_empty() {
            let fixed: usize = (0..widths.len())
                .filter(|i| !flexible.contains(i))
                .map(|i| widths[i])
                .sum::<usize>()
                + GAP.len() * (widths.len() - 1);
            let share =
                (self.terminal_width.saturating_sub(fixed) / flexible.len()).max(MIN_FLEXIBLE);
            for i in flexible {
                widths[i] = widths[i].min(share).max(self.names[i].len());
            }
        }
        // Still too wide for the terminal: narrow the widest columns (create_time stays whole).
        let floor = |i: usize| {
            if self.names[i] == col::CREATE_TIME {
                widths[i]
            } else {
                6
            }
        };
        let floors: Vec<usize> = (0..widths.len()).map(floor).collect();
        let gaps = GAP.len() * widths.len().saturating_sub(1);
        while widths.iter().sum::<usize>() + gaps > self.terminal_width {
            let Some(i) = (0..widths.len())
                .filter(|&i| widths[i] > floors[i])
                .max_by_key(|&i| widths[i] - floors[i])
            else {
                break;
            };
            widths[i] -= 1;
        }
        let header: Vec<String> = self.names.clone();
        self.push_line(&header, &widths);
        let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        self.push_line(&rule, &widths);
        self.widths = Some(widths);
    }

    fn push_line(&mut self, cells: &[String], widths: &[usize]) {
        let last = cells.len().saturating_sub(1);
        for (i, (text, &width)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                self.out.buf.extend_from_slice(GAP.as_bytes());
            }
            let shown = fit(text, width);
            self.out.buf.extend_from_slice(shown.as_bytes());
            if i < last {
                let pad = width.saturating_sub(display_width(&shown));
                self.out.buf.resize(self.out.buf.len() + pad, b' ');
            }
        }
        self.out.buf.push(b'\n');
    }
}

/// How a character is shown in a cell: line breaks, tabs and other control characters as a
/// space, so that a row stays on one line.
fn shown(c: char) -> char {
    if c.is_control() { ' ' } else { c }
}

/// The width of `s` on a terminal as a cell shows it (East Asian wide characters count two,
/// control characters one: they are shown as spaces).
fn display_width(s: &str) -> usize {
    s.chars().map(|c| shown(c).width().unwrap_or(0)).sum()
}

/// `s` on one line, cut to `width` columns with `…` when longer: every cut is marked.
fn fit(s: &str, width: usize) -> String {
    let total = display_width(s);
    let mut out = String::with_capacity(s.len().min(width * 4));
    if total <= width {
        out.extend(s.chars().map(shown));
        return out;
    }
    // Room for the mark.
    let room = width.saturating_sub(1);
    let mut used = 0;
    for c in s.chars().map(shown) {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

impl Sink for TableSink<'_> {
    fn write_rows(&mut self, batches: &[RecordBatch], rows: &[(u32, u32)]) -> io::Result<()> {
        let all: Vec<Vec<Column<'_>>> = batches.iter().map(cells).collect();
        let rendered: Vec<Vec<String>> = rows
            .iter()
            .map(|&(b, row)| {
                let cells: Vec<Cell<'_>> = all[b as usize]
                    .iter()
                    .map(|c| c.get(row as usize))
                    .collect();
                cells.into_iter().map(|cell| self.render(cell)).collect()
            })
            .collect();
        if self.widths.is_none() {
            self.layout(&rendered);
        }
        let widths = self.widths.clone().expect("laid out");
        for row in &rendered {
            self.push_line(row, &widths);
            self.rows += 1;
            self.out.maybe_flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.widths.is_none() {
            self.layout(&[]);
        }
        let line = format!(
            "({} row{})\n",
            self.rows,
            if self.rows == 1 { "" } else { "s" }
        );
        self.out.buf.extend_from_slice(line.as_bytes());
        self.out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_by_display_width() {
        assert_eq!(fit("hello", 10), "hello");
        assert_eq!(fit("hello world", 8), "hello w…");
        assert_eq!(fit("你好世界你好", 7), "你好世…");
        assert_eq!(display_width(&fit("你好世界你好", 7)), 7);
        assert_eq!(fit("a\nb\tc", 9), "a b c");
        assert_eq!(fit("exactly8", 8), "exactly8");
    }

    /// Issue 11, item 14: a multi-line cell was cut without a mark, because its line breaks
    /// counted as zero columns and were then shown as spaces.
    #[test]
    fn regression_table_cells_cut_without_a_mark() {
        let text = "第一行\n第二行\n第三行结束";
        // 11 wide characters and 2 breaks shown as spaces: 24 columns.
        assert_eq!(display_width(text), 24);
        assert_eq!(fit(text, 24), "第一行 第二行 第三行结束");
        // Before, a cut at 22 dropped "束" silently: "第一行 第二行 第三行结".
        let cut = fit(text, 22);
        assert_eq!(cut, "第一行 第二行 第三行…");
        assert!(display_width(&cut) <= 22, "{cut}");
        // A wide character that does not fit beside the mark is left out, not half shown.
        assert_eq!(fit("你好世界", 4), "你…");
        assert_eq!(fit("a\u{7}b", 3), "a b");
    }
}

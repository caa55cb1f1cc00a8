// SPDX-License-Identifier: GPL-2.0

//! The fact table, parsed from `facts.txt` and validated at compile time.
//!
//! `facts.txt` holds one fact per line. Every rule below is checked by `const` code, so a bad file
//! is a build error (a `const` panic naming the rule), never a surprise at run time:
//!
//! - the file ends with a newline, and there are at least [`MIN_FACTS`] lines;
//! - no line is empty or longer than [`MAX_FACT_LEN`] bytes (the newline not counted);
//! - only printable ASCII (no tabs, no `\r`), no leading or trailing space;
//! - no fact appears twice.

/// The file the facts come from; the testscripts check reads against the same file.
const TEXT: &[u8] = include_bytes!("facts.txt");

/// Longest fact accepted, in bytes, without its newline.
pub(crate) const MAX_FACT_LEN: usize = 200;

/// Fewest facts accepted.
pub(crate) const MIN_FACTS: usize = 64;

/// Number of facts in `facts.txt`.
pub(crate) const COUNT: usize = count_valid_lines(TEXT);

/// Every fact followed by its newline: exactly the bytes one open file reads.
const TABLE: [&[u8]; COUNT] = split_lines(TEXT);

// Evaluated at build time: the build fails if two lines are equal.
const _: () = assert_unique(&TABLE);

/// The fact table, in file order.
pub(crate) static FACTS: [&[u8]; COUNT] = TABLE;

/// Checks the whole file and returns its number of lines; panics (at compile time) on a bad file.
const fn count_valid_lines(text: &[u8]) -> usize {
    if text.is_empty() || text[text.len() - 1] != b'\n' {
        panic!("facts.txt must be non-empty and end with a newline");
    }
    let mut count = 0;
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let byte = text[i];
        if byte == b'\n' {
            let len = i - start;
            if len == 0 {
                panic!("facts.txt has an empty line");
            }
            if len > MAX_FACT_LEN {
                panic!("facts.txt has a line longer than MAX_FACT_LEN bytes");
            }
            if text[start] == b' ' || text[i - 1] == b' ' {
                panic!("facts.txt has a line with leading or trailing space");
            }
            count += 1;
            start = i + 1;
        } else if byte < b' ' || byte > b'~' {
            panic!("facts.txt may only hold printable ASCII and newlines");
        }
        i += 1;
    }
    if count < MIN_FACTS {
        panic!("facts.txt has fewer than MIN_FACTS facts");
    }
    count
}

/// Splits `text` (already validated to have `N` lines) into lines that keep their newline.
const fn split_lines<const N: usize>(text: &'static [u8]) -> [&'static [u8]; N] {
    let mut lines: [&[u8]; N] = [&[]; N];
    let mut n = 0;
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\n' {
            let (_, rest) = text.split_at(start);
            let (line, _) = rest.split_at(i + 1 - start);
            lines[n] = line;
            n += 1;
            start = i + 1;
        }
        i += 1;
    }
    lines
}

/// `a == b` for byte slices, usable in `const` context.
const fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Panics (at compile time) if two entries of `lines` are equal.
const fn assert_unique(lines: &[&[u8]]) {
    let mut i = 0;
    while i < lines.len() {
        let mut j = i + 1;
        while j < lines.len() {
            if bytes_equal(lines[i], lines[j]) {
                panic!("facts.txt has a duplicate fact");
            }
            j += 1;
        }
        i += 1;
    }
}

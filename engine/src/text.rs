//! Small text helpers every crate shows text with, kept in one place so forge says the
//! same thing the same way everywhere: escaping untrusted text for a terminal, capping it,
//! byte sizes and short hashes.
//!
//! Plugins are third-party code: anything they write (log lines, error messages, help)
//! reaches a terminal. [`escape_control`] is the one function that makes such text inert
//! before it is shown; [`escaped_lines`] also splits it at line breaks, so whoever prints
//! it can put the step id in front of every line and no plugin text can start a line of
//! its own that reads like forge's.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal as is: every C0 control (line breaks and tabs
/// too), DEL, every C1 control (U+0080–U+009F: U+009B is a one-byte CSI on some
/// terminals), and the invisible formatting characters that reorder or hide text (bidi
/// embeddings, overrides, isolates and marks; line and paragraph separators).
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every [`is_unsafe`] character shown visibly: `\n`, `\r` and `\t` as such,
/// other C0 controls and DEL as `\x1b`-style escapes, the rest as `\u{202e}`. Borrowed
/// when there is nothing to escape, which is the common case.
///
/// A backslash itself is left alone: plugin text is shown to people, who can tell a
/// plugin printing `\x1b` from one printing ESC by the colors that did not change.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c <= '\x7f' && is_unsafe(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` split at line breaks (`\n`, `\r\n`), each line [escaped](escape_control). A
/// trailing line break does not make an empty last line; empty text is one empty line.
pub fn escaped_lines(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let text = text
        .strip_suffix('\n')
        .map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
    text.split('\n')
        .map(|line| escape_control(line.strip_suffix('\r').unwrap_or(line)))
}

/// `text` cut to at most `max` bytes (at a char boundary), followed by a note of how many
/// bytes were dropped. Unchanged when it fits.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = text.len() - end;
    text.truncate(end);
    let _ = write!(text, "… [{dropped} more bytes dropped]");
    text
}

/// `1 step`, `3 steps`.
pub fn plural(n: usize, word: &str) -> String {
    plural_with(n, word, &format!("{word}s"))
}

/// `1 entry`, `3 entries`.
pub fn plural_with(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Bytes as a short human figure (`512 MiB`, `3.2 KiB`, `12 B`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// How many hex digits a hash (fingerprint, commit SHA, blob) is shown with when it is
/// shown to people: enough to be unique in any one project's history.
pub const SHORT_HASH_DIGITS: usize = 12;

/// The first [`SHORT_HASH_DIGITS`] characters of `hash` (all of it if shorter).
pub fn short_hash(hash: &str) -> &str {
    hash.get(..SHORT_HASH_DIGITS).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_shown_not_obeyed() {
        assert_eq!(
            escape_control("a\x1b[31mb\x07\0\x7f\u{9b}\u{202e}\u{2066}\tc\r\n"),
            "a\\x1b[31mb\\x07\\x00\\x7f\\u{9b}\\u{202e}\\u{2066}\\tc\\r\\n"
        );
        assert!(matches!(
            escape_control("plain text, ünïcode ✓"),
            Cow::Borrowed(_)
        ));
        let every: String = ('\0'..='\u{3000}').collect();
        let escaped = escape_control(&every);
        assert!(!escaped.chars().any(is_unsafe), "{escaped}");
    }

    #[test]
    fn lines_are_split_then_escaped() {
        let lines: Vec<_> = escaped_lines("one\r\ntwo\x1b\n\nthree\rx\n").collect();
        assert_eq!(lines, ["one", "two\\x1b", "", "three\\rx"]);
        assert_eq!(escaped_lines("").collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn truncation_keeps_a_char_boundary_and_says_what_was_dropped() {
        assert_eq!(truncate("short".into(), 16), "short");
        // "é" is two bytes: cutting at 3 would split the second one.
        assert_eq!(truncate("éééé".into(), 3), "é… [6 more bytes dropped]");
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(3277), "3.2 KiB");
        assert_eq!(human_bytes(64 * 1024 * 1024), "64 MiB");
        assert_eq!(human_bytes(5 << 40), "5 TiB");
    }

    #[test]
    fn short_hashes_have_one_width() {
        assert_eq!(short_hash("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_hash("abc"), "abc");
    }
}

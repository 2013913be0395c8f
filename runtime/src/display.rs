//! Bounded, escaped echoes of caller-controlled text: the one helper every error
//! message and log line uses for a key, a name, a kind or any other string that
//! came from a request, a spec or a file.
//!
//! Whoever writes an ExternalSecret chooses its keys, and whoever holds a client
//! certificate chooses every request field; neither may grow an error message or a
//! log without bound, forge a log line with a newline, or reach a terminal with an
//! ANSI escape. [`bounded`] keeps the first [`MAX_ECHO_CHARS`] characters, says how
//! long the rest was, and escapes every control character.
//!
//! ```
//! use eso_runtime::util::bounded;
//!
//! assert_eq!(bounded("db/password").to_string(), "db/password");
//! assert_eq!(bounded("a\nforged line").to_string(), "a\\nforged line");
//! let long = "k".repeat(10_000);
//! assert_eq!(
//!     bounded(&long).to_string(),
//!     format!("{}…(10000 bytes)", "k".repeat(eso_runtime::util::MAX_ECHO_CHARS))
//! );
//! ```

use std::fmt::{self, Write};

/// How many characters of a caller-controlled string are echoed into an error or log.
pub const MAX_ECHO_CHARS: usize = 256;

/// How long a whole error message may get, in bytes after escaping, before it is cut.
pub(crate) const MAX_MESSAGE_CHARS: usize = 2048;

/// `text`, at most [`MAX_ECHO_CHARS`] characters of it, control characters escaped.
pub fn bounded(text: &str) -> Bounded<'_> {
    Bounded {
        text,
        max_chars: MAX_ECHO_CHARS,
    }
}

/// Displays a string bounded and escaped; made by [`bounded`].
#[derive(Debug, Clone, Copy)]
pub struct Bounded<'a> {
    text: &'a str,
    max_chars: usize,
}

impl Bounded<'_> {
    /// The same text with another character limit.
    pub fn at_most(self, max_chars: usize) -> Self {
        Bounded { max_chars, ..self }
    }
}

impl fmt::Display for Bounded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The usual case, on every call's hot path: short printable ASCII, as it is.
        if self.text.len() <= self.max_chars && self.text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return f.write_str(self.text);
        }
        for (count, c) in self.text.chars().enumerate() {
            if count == self.max_chars {
                return write!(f, "…({} bytes)", self.text.len());
            }
            write_escaped(f, c)?;
        }
        Ok(())
    }
}

/// `Kind namespace/name`, each part [`bounded`]: how errors and logs name an object.
pub(crate) fn object_name<'a>(kind: &'a str, namespace: &'a str, name: &'a str) -> ObjectName<'a> {
    ObjectName { kind, namespace, name }
}

/// Displays `Kind namespace/name`; made by [`object_name`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectName<'a> {
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
}

impl fmt::Display for ObjectName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            bounded(self.kind),
            bounded(self.namespace),
            bounded(self.name)
        )
    }
}

/// Whether `c` must not reach a log line or a terminal as it is: C0 and C1
/// controls, DEL, and the Unicode format characters that reorder or hide text
/// (bidirectional overrides, zero-width characters, line and paragraph separators).
pub(crate) fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        )
}

/// Writes `c`, escaped as `\n`, `\t`, `\r` or `\u{…}` when [`needs_escape`] says so.
pub(crate) fn write_escaped(out: &mut impl Write, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if needs_escape(c) => write!(out, "\\u{{{:x}}}", c as u32),
        c => out.write_char(c),
    }
}

/// `message` with control characters escaped and cut at [`MAX_MESSAGE_CHARS`]
/// bytes of escaped text (so characters too): what an [`Error`](crate::Error)
/// keeps, whoever built it. Bytes, not characters, because escaping and UTF-8
/// grow a message: 2,048 characters could be 16 KiB, past what a gRPC client
/// accepts in a status header.
pub(crate) fn sanitize_message(message: String) -> String {
    let clean = message.len() <= MAX_MESSAGE_CHARS && !message.chars().any(needs_escape);
    if clean {
        return message;
    }
    let mut out = String::with_capacity(MAX_MESSAGE_CHARS + 32);
    let mut escaped = String::new();
    for c in message.chars() {
        escaped.clear();
        let _ = write_escaped(&mut escaped, c);
        if out.len() + escaped.len() > MAX_MESSAGE_CHARS {
            let _ = write!(out, "…({} bytes)", message.len());
            break;
        }
        out.push_str(&escaped);
    }
    out
}

/// A [`fmt::Write`] that escapes control characters on the way through: the log
/// formatter writes field values through it, so no value can end a log line.
pub(crate) struct EscapingWriter<'a, W: Write>(pub &'a mut W);

impl<W: Write> Write for EscapingWriter<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !s.chars().any(needs_escape) {
            return self.0.write_str(s);
        }
        for c in s.chars() {
            write_escaped(self.0, c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_clean_text_is_unchanged() {
        assert_eq!(bounded("team-a/db").to_string(), "team-a/db");
        assert_eq!(bounded("").to_string(), "");
        assert_eq!(bounded("ключ/秘密").to_string(), "ключ/秘密");
    }

    #[test]
    fn controls_and_hiding_characters_are_escaped() {
        assert_eq!(bounded("a\nb\r\tc").to_string(), "a\\nb\\r\\tc");
        assert_eq!(bounded("\u{1b}[31mred").to_string(), "\\u{1b}[31mred");
        assert_eq!(
            bounded("x\u{202e}y\u{200b}z\u{7f}").to_string(),
            "x\\u{202e}y\\u{200b}z\\u{7f}"
        );
        assert_eq!(bounded("\u{85}").to_string(), "\\u{85}");
    }

    #[test]
    fn long_text_is_cut_with_its_length() {
        let text = "é".repeat(300);
        let shown = bounded(&text).to_string();
        assert_eq!(shown, format!("{}…(600 bytes)", "é".repeat(MAX_ECHO_CHARS)));
        assert_eq!(bounded(&text).at_most(3).to_string(), "ééé…(600 bytes)");
        // Exactly at the limit: nothing cut.
        let exact = "a".repeat(MAX_ECHO_CHARS);
        assert_eq!(bounded(&exact).to_string(), exact);
    }

    #[test]
    fn messages_are_escaped_and_cut() {
        assert_eq!(sanitize_message("plain".into()), "plain");
        assert_eq!(sanitize_message("two\nlines".into()), "two\\nlines");
        let long = "m".repeat(1 << 20);
        let cut = sanitize_message(long);
        assert!(cut.len() < MAX_MESSAGE_CHARS + 32, "{}", cut.len());
        assert!(cut.ends_with("…(1048576 bytes)"), "{cut:.40}");
        // Escapes and multi-byte characters count by their bytes (found by the dispatch fuzz target).
        for long in ["\u{2028}".repeat(400), "\u{1}".repeat(2000), "秘".repeat(2000)] {
            let cut = sanitize_message(long);
            assert!(cut.len() < MAX_MESSAGE_CHARS + 32, "{}", cut.len());
        }
    }

    #[test]
    fn the_escaping_writer_escapes_everything_it_is_given() {
        let mut out = String::new();
        let (first, second) = ("a\nb", "\u{1b}c");
        let _ = write!(EscapingWriter(&mut out), "{first}|{second}");
        assert_eq!(out, "a\\nb|\\u{1b}c");
    }
}

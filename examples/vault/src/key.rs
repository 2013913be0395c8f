//! The rules a Vault key (and every other request- or spec-controlled path that becomes
//! part of a URL: `find.path`, `spec.mount`, `spec.auth.appRole.path`, `spec.namespace`)
//! must follow, so that it names a place under its mount and never a place elsewhere.
//!
//! Keys become URL path segments. The URL library follows the WHATWG URL standard: it
//! drops every tab, LF and CR wherever they are, and then resolves a segment that reads
//! `.` or `..` (also spelled `%2e`, `.%2E`, `%2e%2e`, …) by removing it and, for `..`, the
//! segment before it. A key `..\t/config` would so turn `/v1/secret/data/..\t/config`
//! into `/v1/secret//config`: out of `data/`, with the request's token. Other HTTP stacks
//! on the way (proxies, load balancers) treat a backslash as a `/` in http(s) URLs, or
//! decode `%2e` before resolving dots. A key is therefore refused when it
//!
//! - is empty, or longer than [`MAX_KEY_BYTES`] bytes;
//! - holds a control character: C0 (U+0000–U+001F, tab, LF and CR among them), DEL
//!   (U+007F) or C1 (U+0080–U+009F);
//! - holds a backslash `\`;
//! - starts or ends with `/`, or has an empty segment (`a//b`);
//! - has a segment that reads `.` or `..` once tab, LF and CR are dropped and `%2e` /
//!   `%2E` is read as a dot (`.`, `..`, `%2e`, `.%2E`, `%2E%2e`, …).
//!
//! Everything else is data: `?`, `#`, `%`, `;`, spaces and any other Unicode character
//! are percent-encoded into the key's own segment (see [`crate::api_url`]) and reach
//! Vault as part of the key, never as a query, a fragment or another segment.

use eso_runtime::util::bounded;
use eso_runtime::{Error, Result};
use std::fmt;

/// The longest key (or path) accepted, in bytes: even fully percent-encoded (three
/// bytes for each), the request line stays well under the 8 KiB that HTTP servers and
/// proxies commonly accept.
pub const MAX_KEY_BYTES: usize = 2048;

/// How many characters of a refused key its error message echoes (escaped, through
/// [`eso_runtime::util::bounded`]): the message says where the problem is, so the key need
/// not be shown whole, and the message stays under 1 KiB whatever the key holds.
const ECHO_CHARS: usize = 80;

/// Why a key or path is refused; byte offsets count from the key's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// The key is empty.
    Empty,
    /// The key is longer than [`MAX_KEY_BYTES`] bytes.
    TooLong {
        /// The key's length in bytes.
        bytes: usize,
    },
    /// A C0 or C1 control character or DEL.
    ControlCharacter {
        /// Where it is.
        at: usize,
        /// Which one.
        character: char,
    },
    /// A backslash, which HTTP stacks may read as `/`.
    Backslash {
        /// Where it is.
        at: usize,
    },
    /// The key starts with `/`.
    LeadingSlash,
    /// The key ends with `/`.
    TrailingSlash,
    /// Two `/` in a row.
    EmptySegment {
        /// Where the second `/` is.
        at: usize,
    },
    /// A segment that URL parsing reads as `.` or `..`.
    DotSegment {
        /// Where the segment starts.
        at: usize,
    },
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyProblem::Empty => f.write_str("it is empty"),
            KeyProblem::TooLong { bytes } => {
                write!(f, "it is {bytes} bytes long, more than the {MAX_KEY_BYTES} allowed")
            }
            KeyProblem::ControlCharacter { at, character } => write!(
                f,
                "it holds a control character (U+{:04X}) at byte {at}",
                u32::from(character)
            ),
            KeyProblem::Backslash { at } => write!(f, "it holds a backslash at byte {at}"),
            KeyProblem::LeadingSlash => f.write_str("it starts with '/'"),
            KeyProblem::TrailingSlash => f.write_str("it ends with '/'"),
            KeyProblem::EmptySegment { at } => write!(f, "it has an empty segment ('//' at byte {at})"),
            KeyProblem::DotSegment { at } => write!(
                f,
                "its segment at byte {at} is '.' or '..' as a URL reads it (%2e is a dot), which would leave the mount"
            ),
        }
    }
}

/// Whether a URL parser following the WHATWG URL standard reads `segment` as `.` or
/// `..`: tab, LF and CR are dropped first, and `%2e` / `%2E` counts as a dot.
pub fn segment_is_dot(segment: &str) -> bool {
    let bytes: Vec<u8> = segment
        .bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
        .collect();
    let mut dots = 0;
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        rest = match rest {
            [b'.', tail @ ..] => tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => tail,
            _ => return false,
        };
        dots += 1;
        if dots > 2 {
            return false;
        }
    }
    dots > 0
}

/// The first reason `key` is refused (see the [module](self) for the rules), or `None`
/// when it names a place under its mount.
pub fn key_problem(key: &str) -> Option<KeyProblem> {
    if key.is_empty() {
        return Some(KeyProblem::Empty);
    }
    if key.len() > MAX_KEY_BYTES {
        return Some(KeyProblem::TooLong { bytes: key.len() });
    }
    if let Some((at, character)) = key.char_indices().find(|&(_, c)| c.is_control()) {
        return Some(KeyProblem::ControlCharacter { at, character });
    }
    if let Some(at) = key.find('\\') {
        return Some(KeyProblem::Backslash { at });
    }
    if key.starts_with('/') {
        return Some(KeyProblem::LeadingSlash);
    }
    if key.ends_with('/') {
        return Some(KeyProblem::TrailingSlash);
    }
    let mut at = 0;
    for segment in key.split('/') {
        if segment.is_empty() {
            return Some(KeyProblem::EmptySegment { at });
        }
        if segment_is_dot(segment) {
            return Some(KeyProblem::DotSegment { at });
        }
        at += segment.len() + 1;
    }
    None
}

fn refusal(field: &str, key: &str, problem: KeyProblem) -> String {
    format!("{field} \"{}\" is refused: {problem}", bounded(key).at_most(ECHO_CHARS))
}

/// Checks a key (or path) from a request, as the [module](self) describes. The error is
/// `INVALID_ARGUMENT`, naming `field` (e.g. `remote_ref.key`), the key (bounded and
/// escaped) and what is wrong with it.
pub fn check_key(field: &str, key: &str) -> Result<()> {
    match key_problem(key) {
        None => Ok(()),
        Some(problem) => Err(Error::invalid_request(refusal(field, key, problem))),
    }
}

/// Checks a key prefix from a request (`find.path`): the rules of [`check_key`], except
/// that it may end with one `/` (a folder). The error is `INVALID_ARGUMENT`, naming
/// `field` and the prefix as given.
pub fn check_key_prefix(field: &str, prefix: &str) -> Result<()> {
    match key_problem(prefix.strip_suffix('/').unwrap_or(prefix)) {
        None => Ok(()),
        Some(problem) => Err(Error::invalid_request(refusal(field, prefix, problem))),
    }
}

/// Checks a path from an object's spec (e.g. `spec.mount`) by the same rules; the error
/// is `FAILED_PRECONDITION` (a configuration problem), naming `field` and the path.
pub fn check_spec_path(field: &str, path: &str) -> Result<()> {
    match key_problem(path) {
        None => Ok(()),
        Some(problem) => Err(Error::invalid_config(refusal(field, path, problem))),
    }
}

/// Whether a `/`-separated path stays where it is put: [`key_problem`] finds nothing.
pub fn path_is_clean(path: &str) -> bool {
    key_problem(path).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_as_a_url_reads_them() {
        for dot in [
            ".", "..", "%2e", "%2E", ".%2e", "%2e.", "%2E%2e", "%2e%2E", "..\t", "\t..", ".\n.", "%2\te", "\r.",
        ] {
            assert!(segment_is_dot(dot), "{dot:?}");
        }
        for not_dot in [
            "...",
            "%2e%2e%2e",
            "a..",
            "..a",
            "%2",
            "%2f",
            "%252e",
            "",
            "\t",
            "%e2",
            ". .",
        ] {
            assert!(!segment_is_dot(not_dot), "{not_dot:?}");
        }
    }

    #[test]
    fn keys_are_refused_for_the_first_problem_found() {
        let cases: &[(&str, Option<KeyProblem>)] = &[
            ("a/b", None),
            ("team/db/password", None),
            ("a?b#c%d;e f", None),
            ("...", None),
            ("a/.hidden/b", None),
            ("ключ/秘密", None),
            ("", Some(KeyProblem::Empty)),
            ("..\t", Some(KeyProblem::ControlCharacter { at: 2, character: '\t' })),
            (
                "a/..\r/b",
                Some(KeyProblem::ControlCharacter { at: 4, character: '\r' }),
            ),
            (
                "\u{1b}[31mred",
                Some(KeyProblem::ControlCharacter {
                    at: 0,
                    character: '\u{1b}',
                }),
            ),
            (
                "x\u{7f}",
                Some(KeyProblem::ControlCharacter {
                    at: 1,
                    character: '\u{7f}',
                }),
            ),
            (
                "é\u{85}",
                Some(KeyProblem::ControlCharacter {
                    at: 2,
                    character: '\u{85}',
                }),
            ),
            ("a\\..\\b", Some(KeyProblem::Backslash { at: 1 })),
            ("/a", Some(KeyProblem::LeadingSlash)),
            ("a/", Some(KeyProblem::TrailingSlash)),
            ("a//b", Some(KeyProblem::EmptySegment { at: 2 })),
            ("..", Some(KeyProblem::DotSegment { at: 0 })),
            ("a/./b", Some(KeyProblem::DotSegment { at: 2 })),
            ("a/b/.%2e", Some(KeyProblem::DotSegment { at: 4 })),
            ("%2E%2E/x", Some(KeyProblem::DotSegment { at: 0 })),
        ];
        for (key, expected) in cases {
            assert_eq!(key_problem(key), *expected, "{key:?}");
        }
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(
            key_problem(&long),
            Some(KeyProblem::TooLong {
                bytes: MAX_KEY_BYTES + 1
            })
        );
        assert_eq!(key_problem(&"k".repeat(MAX_KEY_BYTES)), None);
    }

    #[test]
    fn refusals_name_the_field_the_key_and_the_problem_bounded() {
        let error = check_key("remote_ref.key", "a/..\t/b").err();
        assert_eq!(
            error.as_ref().map(Error::kind),
            Some(eso_runtime::ErrorKind::InvalidRequest)
        );
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some("remote_ref.key \"a/..\\t/b\" is refused: it holds a control character (U+0009) at byte 4")
        );
        assert_eq!(check_key_prefix("find.path", "team/"), Ok(()));
        assert_eq!(check_key_prefix("find.path", "team/app"), Ok(()));
        for bad in ["/team/", "team//", "/", "..\t/", "team/../"] {
            assert!(check_key_prefix("find.path", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_key_prefix("find.path", "/team/")
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("find.path \"/team/\" is refused: it starts with '/'")
        );
        let error = check_spec_path("spec.mount", "kv/%2e%2e").err();
        assert_eq!(
            error.as_ref().map(Error::kind),
            Some(eso_runtime::ErrorKind::InvalidConfig)
        );
        let hostile = "\u{202e}\u{1b}[2J".repeat(100_000);
        let message = check_key("find.path", &hostile)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.len() < 1024, "{} bytes", message.len());
        assert!(!message.chars().any(char::is_control), "{message:?}");
        assert!(message.contains("bytes long"), "{message}");
    }
}

//! Logging with `tracing`: `RUST_LOG` filters (default: our crates at info,
//! dependencies at warn); text or JSON lines on stderr.
//!
//! Field values and messages can carry text from requests (a remote key, a
//! provider name). In the text format every control character in them is escaped
//! (`\n`, `\u{1b}`, …) so a value can neither start a forged log line nor reach a
//! terminal as an escape sequence; the JSON format escapes them as JSON strings.

use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber; does nothing if one is installed already.
/// `crate_name` is the provider binary's crate, logged at info by default.
pub(crate) fn init(format: LogFormat, crate_name: &str) {
    let default = format!("warn,eso_runtime=info,{}=info", crate_name.replace('-', "_"));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    // Colours only for a person at a terminal, never in `kubectl logs` or files.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let _ = match format {
        LogFormat::Text => builder.fmt_fields(escaped_fields()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Formats fields as `name=value`, space separated, the message bare, with every
/// control character escaped.
fn escaped_fields() -> impl for<'writer> tracing_subscriber::fmt::FormatFields<'writer> + Send + Sync + 'static {
    use std::fmt::Write;
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let mut escaped = crate::display::EscapingWriter(writer);
        if field.name() == "message" {
            write!(escaped, "{value:?}")
        } else {
            write!(escaped, "{field}={value:?}")
        }
    })
    .delimited(" ")
}

//! Runs the real `eso-gen` binary.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::time::Duration;

/// What one run of `eso-gen` did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output, raw.
    pub stdout: Vec<u8>,
    /// Standard error, as text.
    pub stderr: String,
}

impl Run {
    /// Standard output as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard output parsed as JSON; panics with both streams when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is not JSON ({error}); exit {:?}\nstdout: {}\nstderr: {}",
                self.code,
                self.stdout_text(),
                self.stderr
            )
        })
    }

    /// Asserts the exit code, showing both streams when it differs.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\nstdout: {}\nstderr: {}",
            self.stdout_text(),
            self.stderr
        );
        self
    }
}

/// Runs `eso-gen args…`, killing it after a minute.
pub async fn eso_gen<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_eso-gen"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .expect("eso-gen finished within a minute")
        .expect("eso-gen started");
    Run {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

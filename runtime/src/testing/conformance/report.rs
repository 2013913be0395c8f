//! What a run found: one [`CaseReport`] per case, printed as `PASS id`,
//! `FAIL id: why` or `SKIP id: why`, a summary line `N passed, M failed, K skipped`,
//! and JUnit XML.

use super::SUITE_VERSION;
use crate::testing::TestResult;
use std::fmt;
use std::time::Duration;

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check of the case held.
    Passed,
    /// A check failed: why (naming the call and the cause, never a secret value).
    Failed(String),
    /// The case does not apply to this provider or target: why.
    Skipped(String),
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// The case's stable id, e.g. `store.roundtrip.binary-value`.
    pub id: &'static str,
    /// Its one-line description.
    pub description: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
}

impl CaseReport {
    /// `PASS id`, `FAIL id: why` or `SKIP id: why`.
    pub fn line(&self) -> String {
        match &self.outcome {
            Outcome::Passed => format!("PASS {}", self.id),
            Outcome::Failed(why) => format!("FAIL {}: {why}", self.id),
            Outcome::Skipped(why) => format!("SKIP {}: {why}", self.id),
        }
    }
}

/// A whole run: every case of the table, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// What was addressed, e.g. `Fake default/backend through SecretStore`.
    pub target: String,
    /// One entry per case, in the table's order.
    pub cases: Vec<CaseReport>,
    /// How long the whole run took.
    pub duration: Duration,
}

impl Report {
    /// The number of cases that passed, failed and were skipped.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Outcome) -> bool| self.cases.iter().filter(|c| f(&c.outcome)).count();
        (
            count(|o| matches!(o, Outcome::Passed)),
            count(|o| matches!(o, Outcome::Failed(_))),
            count(|o| matches!(o, Outcome::Skipped(_))),
        )
    }

    /// `N passed, M failed, K skipped`.
    pub fn summary(&self) -> String {
        let (passed, failed, skipped) = self.counts();
        format!("{passed} passed, {failed} failed, {skipped} skipped")
    }

    /// True when no case failed.
    pub fn passed(&self) -> bool {
        self.counts().1 == 0
    }

    /// The ids of the cases that failed, in order.
    pub fn failed_ids(&self) -> Vec<&'static str> {
        self.ids(|o| matches!(o, Outcome::Failed(_)))
    }

    /// The ids of the cases that passed, in order.
    pub fn passed_ids(&self) -> Vec<&'static str> {
        self.ids(|o| matches!(o, Outcome::Passed))
    }

    /// The ids of the cases that were skipped, in order.
    pub fn skipped_ids(&self) -> Vec<&'static str> {
        self.ids(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn ids(&self, f: fn(&Outcome) -> bool) -> Vec<&'static str> {
        self.cases.iter().filter(|c| f(&c.outcome)).map(|c| c.id).collect()
    }

    /// The result of the case `id`, if it is in the report.
    pub fn case(&self, id: &str) -> Option<&CaseReport> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// `Ok` when no case failed; otherwise a failure listing the failed cases and
    /// the summary, for a provider's tests (`report.assert_passed()?`).
    pub fn assert_passed(&self) -> TestResult {
        if self.passed() {
            return Ok(());
        }
        let failures: Vec<String> = self
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed(_)))
            .map(CaseReport::line)
            .collect();
        Err(format!(
            "conformance ({}) against {}:\n{}\n{}",
            SUITE_VERSION,
            self.target,
            failures.join("\n"),
            self.summary()
        )
        .into())
    }

    /// The report as JUnit XML: one `testsuite`, one `testcase` per case (its
    /// `classname` the id up to the last dot), `failure` and `skipped` with the reason.
    ///
    /// ```
    /// use eso_runtime::testing::conformance::{CaseReport, Outcome, Report};
    /// use std::time::Duration;
    ///
    /// let report = Report {
    ///     target: "Fake default/backend".into(),
    ///     cases: vec![CaseReport { id: "store.get.missing-key", description: "d", outcome: Outcome::Failed("got <OK> & \"more\"".into()), duration: Duration::ZERO }],
    ///     duration: Duration::ZERO,
    /// };
    /// let xml = report.junit_xml();
    /// assert!(xml.contains(r#"<testcase classname="store.get" name="store.get.missing-key" time="0.000">"#));
    /// assert!(xml.contains("got &lt;OK&gt; &amp; &quot;more&quot;"));
    /// ```
    pub fn junit_xml(&self) -> String {
        let (_, failed, skipped) = self.counts();
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml.push_str(&format!(
            "<testsuites name=\"eso-conformance\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
            self.cases.len(),
            self.duration.as_secs_f64()
        ));
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
            escape(&format!("eso-conformance {SUITE_VERSION}: {}", self.target)),
            self.cases.len(),
            self.duration.as_secs_f64()
        ));
        xml.push_str(&format!(
            "    <properties><property name=\"suite\" value=\"{}\"/><property name=\"target\" value=\"{}\"/></properties>\n",
            escape(SUITE_VERSION),
            escape(&self.target)
        ));
        for case in &self.cases {
            let classname = case.id.rsplit_once('.').map_or(case.id, |(class, _)| class);
            let attributes = format!(
                "classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(classname),
                escape(case.id),
                case.duration.as_secs_f64()
            );
            let open = format!("    <testcase {attributes}>");
            match &case.outcome {
                Outcome::Passed => xml.push_str(&format!("    <testcase {attributes}/>\n")),
                Outcome::Failed(why) => xml.push_str(&format!(
                    "{open}\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(why),
                    escape(&format!("{}\n{why}", case.description))
                )),
                Outcome::Skipped(why) => xml.push_str(&format!(
                    "{open}\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    escape(why)
                )),
            }
        }
        xml.push_str("  </testsuite>\n</testsuites>\n");
        xml
    }
}

impl fmt::Display for Report {
    /// Every case's line, then the summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for case in &self.cases {
            writeln!(f, "{}", case.line())?;
        }
        write!(f, "{}", self.summary())
    }
}

/// Text escaped for an XML attribute or element: the five special characters as
/// entities, and characters XML 1.0 cannot hold (most control characters) as
/// `\u{…}`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push_str(&format!("&#{};", u32::from(c))),
            c if u32::from(c) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let case = |id, outcome| CaseReport {
            id,
            description: "what it checks",
            outcome,
            duration: Duration::from_millis(12),
        };
        Report {
            target: "Fake default/backend through SecretStore".into(),
            cases: vec![
                case("store.get.fixtures", Outcome::Passed),
                case(
                    "errors.missing-object",
                    Outcome::Failed("GetSecret: NOT_FOUND <&>\u{1}".into()),
                ),
                case(
                    "store.read-only.push-unimplemented",
                    Outcome::Skipped("the provider is READ_WRITE".into()),
                ),
            ],
            duration: Duration::from_millis(1500),
        }
    }

    #[test]
    fn lines_and_summary() {
        let report = report();
        assert_eq!(
            report.to_string(),
            "PASS store.get.fixtures\nFAIL errors.missing-object: GetSecret: NOT_FOUND <&>\u{1}\nSKIP store.read-only.push-unimplemented: the provider is READ_WRITE\n1 passed, 1 failed, 1 skipped"
        );
        assert_eq!(report.failed_ids(), ["errors.missing-object"]);
        assert_eq!(report.passed_ids(), ["store.get.fixtures"]);
        assert_eq!(report.skipped_ids(), ["store.read-only.push-unimplemented"]);
        let failure = report.assert_passed().unwrap_err();
        assert!(failure.message().contains("FAIL errors.missing-object"), "{failure:?}");
        assert!(
            failure.message().ends_with("1 passed, 1 failed, 1 skipped"),
            "{failure:?}"
        );
    }

    #[test]
    fn junit_is_escaped_xml() {
        let xml = report().junit_xml();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"eso-conformance\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"1.500\">"), "{xml}");
        assert!(
            xml.contains("<testcase classname=\"store.get\" name=\"store.get.fixtures\" time=\"0.012\"/>\n"),
            "{xml}"
        );
        assert!(xml.contains("<failure message=\"GetSecret: NOT_FOUND &lt;&amp;&gt;\\u{1}\">what it checks&#10;GetSecret: NOT_FOUND &lt;&amp;&gt;\\u{1}</failure>"), "{xml}");
        assert!(
            xml.contains("<skipped message=\"the provider is READ_WRITE\"/>"),
            "{xml}"
        );
        assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
        assert_eq!(xml.matches("</testcase>").count(), 2, "{xml}");
    }

    #[test]
    fn escape_covers_xml_specials_and_controls() {
        assert_eq!(
            escape("a<b>&\"c'\u{0}\u{1b}é"),
            "a&lt;b&gt;&amp;&quot;c&apos;\\u{0}\\u{1b}é"
        );
    }
}

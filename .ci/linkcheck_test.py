#!/usr/bin/env python3
"""Tests for .ci/linkcheck.py: a mini-book in a temporary folder, with links that
must pass and links that must be reported (file and line), so the check cannot
silently pass everything.

    python3 .ci/linkcheck_test.py
"""

import contextlib
import io
import os
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linkcheck  # noqa: E402

GOOD_PAGE = """\
# Guide

See [the other page](other.md), [its second part](other.md#second-part),
[a repeated heading](other.md#setup-1), [code in a heading](other.md#the-secretstore-trait),
[a custom id](other.md#pinned), [dashes](other.md#a--b), [setext](other.md#underlined),
[this page](#guide), ![an image](img.png) and [the code](../../runtime/lib.rs#L10).
A link [split
over lines](other.md#second-part) and a [reference][ref] link.

```md
[inside a code block](missing.md) is not a link
```

And `[inside a code span](missing.md)` neither. [External](https://example.com/#x).

[ref]: other.md#setup
"""

OTHER_PAGE = """\
# Other

## Second part

## Setup

## Setup

## The `SecretStore` trait

## Kept {#pinned}

## A -- B

Underlined
----------
"""


class MiniBook:
    """A repository with book/src/{SUMMARY,guide,other}.md and runtime/lib.rs."""

    def __init__(self, guide: str, summary_extra: str = ""):
        self.dir = tempfile.TemporaryDirectory()
        root = self.dir.name
        self.root = root
        self.src = os.path.join(root, "book", "src")
        os.makedirs(self.src)
        os.makedirs(os.path.join(root, "runtime"))
        self.write("runtime/lib.rs", "fn main() {}\n")
        self.write("book/src/img.png", "")
        self.write(
            "book/src/SUMMARY.md",
            "# Summary\n\n- [Guide](guide.md)\n- [Other](other.md)\n" + summary_extra,
        )
        self.write("book/src/guide.md", guide)
        self.write("book/src/other.md", OTHER_PAGE)

    def write(self, rel: str, text: str) -> None:
        with open(os.path.join(self.root, rel), "w", encoding="utf-8") as f:
            f.write(text)

    def run(self, *extra: str) -> tuple[int, list[str]]:
        """Runs the checker from the repository root; returns (exit code, lines)."""
        out = io.StringIO()
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            with contextlib.redirect_stdout(out):
                code = linkcheck.main(["--book", "book", "--root", ".", *extra])
        finally:
            os.chdir(cwd)
        return code, out.getvalue().splitlines()

    def close(self) -> None:
        self.dir.cleanup()


class LinkCheckTest(unittest.TestCase):
    def check(self, guide: str, summary_extra: str = "", *extra: str) -> tuple[int, list[str]]:
        book = MiniBook(guide, summary_extra)
        self.addCleanup(book.close)
        return book.run(*extra)

    def broken(self, lines: list[str]) -> list[str]:
        return [line for line in lines if not line.startswith("linkcheck:")]

    def test_good_links_pass(self):
        code, lines = self.check(GOOD_PAGE)
        self.assertEqual(self.broken(lines), [])
        self.assertEqual(code, 0)
        self.assertIn("0 broken", lines[-1])

    def test_broken_page_link_is_reported_with_file_and_line(self):
        code, lines = self.check("# Guide\n\ntext\n\nSee [gone](gone.md).\n")
        self.assertEqual(code, 1)
        self.assertEqual(self.broken(lines), ["book/src/guide.md:5: 'gone.md': no such file or folder"])

    def test_broken_anchor_is_reported(self):
        code, lines = self.check("# Guide\n\n[x](other.md#no-such-part) and [y](#nope)\n")
        self.assertEqual(code, 1)
        self.assertEqual(
            self.broken(lines),
            [
                "book/src/guide.md:3: 'other.md#no-such-part': no heading with id 'no-such-part' in book/src/other.md",
                "book/src/guide.md:3: '#nope': no heading with id 'nope' in book/src/guide.md",
            ],
        )

    def test_anchor_ids_follow_mdbook(self):
        # Near misses of the ids GOOD_PAGE uses: each must be refused.
        misses = ["setup-2", "the-secretstore-trait-1", "kept", "a---b", "a-b", "secondpart"]
        guide = "# Guide\n\n" + "\n".join(f"[m](other.md#{m})" for m in misses) + "\n"
        code, lines = self.check(guide)
        self.assertEqual(code, 1)
        self.assertEqual(len(self.broken(lines)), len(misses), lines)

    def test_broken_repository_link_and_escape(self):
        code, lines = self.check("# Guide\n\n[a](../../runtime/nope.rs)\n[b](../../../outside.md)\n")
        self.assertEqual(code, 1)
        self.assertEqual(
            self.broken(lines),
            [
                "book/src/guide.md:3: '../../runtime/nope.rs': no such file or folder",
                "book/src/guide.md:4: '../../../outside.md': points outside the repository",
            ],
        )

    def test_page_not_in_summary(self):
        book = MiniBook("# Guide\n\n[orphan](orphan.md)\n")
        self.addCleanup(book.close)
        book.write("book/src/orphan.md", "# Orphan\n")
        code, lines = book.run()
        self.assertEqual(code, 1)
        self.assertEqual(
            self.broken(lines),
            [
                "book/src/guide.md:3: 'orphan.md': page not listed in SUMMARY.md (not rendered)",
                "book/src/orphan.md:1: page not listed in SUMMARY.md (mdBook does not render it)",
            ],
        )

    def test_missing_summary_entry_and_undefined_reference(self):
        code, lines = self.check("# Guide\n\n[text][nowhere]\n", "- [Missing](missing.md)\n")
        self.assertEqual(code, 1)
        self.assertEqual(
            self.broken(lines),
            [
                "book/src/SUMMARY.md:5: 'missing.md': no such file or folder",
                "book/src/guide.md:3: reference link [nowhere] has no definition",
            ],
        )

    def test_extra_files_outside_the_book(self):
        book = MiniBook(GOOD_PAGE)
        self.addCleanup(book.close)
        book.write("README.md", "# Readme\n\n[ok](book/src/other.md#setup)\n[bad](book/src/other.md#teardown)\n")
        code, lines = book.run("README.md")
        self.assertEqual(code, 1)
        self.assertEqual(
            self.broken(lines),
            ["README.md:4: 'book/src/other.md#teardown': no heading with id 'teardown' in book/src/other.md"],
        )

    def test_html_ids_compared(self):
        book = MiniBook(GOOD_PAGE)
        self.addCleanup(book.close)
        html = os.path.join(book.root, "html")
        os.makedirs(html)
        book.write("html/guide.html", '<main><h1 id="guide">Guide</h1></main>')
        # mdBook would have said "second-part"; a disagreement must fail.
        book.write("html/other.html", '<main><h1 id="other">Other</h1><h2 id="second">Second part</h2></main>')
        code, lines = book.run("--html", "html")
        self.assertEqual(code, 1)
        broken = self.broken(lines)
        self.assertEqual(len(broken), 1, broken)
        self.assertTrue(broken[0].startswith("book/src/other.md:1: heading ids computed here"), broken)


class IdTest(unittest.TestCase):
    def test_id_from_content(self):
        # The cases of mdbook-html 0.5's own unit test (utils.rs).
        self.assertEqual(linkcheck.id_from_content("`--passes`: add more rustdoc passes"), "--passes-add-more-rustdoc-passes")
        self.assertEqual(linkcheck.id_from_content("Method-call 🐙 expressions \U0001f47c"), "method-call--expressions-")
        self.assertEqual(linkcheck.id_from_content("_-_12345"), "_-_12345")
        self.assertEqual(linkcheck.id_from_content("Über"), "über")

    def test_heading_text(self):
        self.assertEqual(linkcheck.heading_text("The `SecretStore` trait")[0], "The SecretStore trait")
        self.assertEqual(linkcheck.heading_text("[A link](x.md) and *emphasis*")[0], "A link and emphasis")
        self.assertEqual(linkcheck.heading_text("client_cache ##")[0], "client_cache")
        self.assertEqual(linkcheck.heading_text("Kept {#pinned .c}"), ("Kept", "pinned"))


if __name__ == "__main__":
    unittest.main(verbosity=1)

#!/usr/bin/env python3
"""Link check for the book and the top-level Markdown files (standard library only).

    python3 .ci/linkcheck.py [--book DIR] [--html DIR] [--root DIR] [FILE.md ...]

Checks every link in the book's pages (DIR/src, as listed in SUMMARY.md) and in the
extra FILEs given (README.md, CHANGELOG.md):

* a link to another page (`cli.md`, `../book/src/cli.md`) must name a file that
  exists, and a page of the book must link only to pages listed in SUMMARY.md
  (mdBook renders no others, so the link would be dead in the built book);
* a link into the repository (`../../proto/...`) must name a file or folder that
  exists inside --root (default: the current directory);
* `#anchor` (alone or after a Markdown page) must be a heading id of that page,
  computed as mdBook 0.5 computes them (rendered heading text, lowercased, letters,
  digits, `_` and `-` kept, whitespace to `-`, the rest dropped; `-1`, `-2` for
  repeats; `{#custom}` ids honoured), or a footnote or explicit HTML id;
* `[text][label]` needs a `[label]: target` definition.

Links with a scheme (https:, mailto:) are not fetched. Code blocks and code spans
are skipped. With --html (the built book), each page's heading ids in the HTML
must equal the computed ones, so the id rules here cannot drift from mdBook's.

Prints each broken link as `file:line: message` and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import urllib.parse
from dataclasses import dataclass, field

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
REF_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:[ \t]*(<[^>]*>|\S+)")
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)
HTML_ID = re.compile(r"""\bid\s*=\s*["']([^"']+)["']""", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass
class Link:
    target: str
    line: int


@dataclass
class Page:
    path: str
    links: list[Link] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # heading ids, in order
    other_ids: set[str] = field(default_factory=set)  # footnotes, raw HTML ids
    ref_defs: dict[str, str] = field(default_factory=dict)
    ref_uses: list[tuple[str, int]] = field(default_factory=list)


def blank_code(text: str) -> str:
    """The text with fenced code blocks and code spans replaced by spaces
    (newlines kept, so offsets and line numbers stay as in the file)."""
    lines = text.split("\n")
    out = []
    fence = None
    for line in lines:
        m = FENCE.match(line)
        if fence is None:
            if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):
                fence = m.group(2)
                out.append("")
                continue
            out.append(line)
        else:
            if m and m.group(2)[0] == fence[0] and len(m.group(2)) >= len(fence) and not m.group(3).strip():
                fence = None
            out.append("")
    text = "\n".join(out)
    return blank_code_spans(text)


def blank_code_spans(text: str) -> str:
    """Code spans (CommonMark: a run of n backticks up to the next run of exactly
    n, within one paragraph) replaced by spaces."""
    chars = list(text)
    i = 0
    n = len(text)
    while i < n:
        if text[i] == "\\":
            i += 2
            continue
        if text[i] != "`":
            i += 1
            continue
        j = i
        while j < n and text[j] == "`":
            j += 1
        run = j - i
        k = j
        end = -1
        while k < n:
            if text.startswith("\n\n", k):
                break
            if text[k] == "`":
                m = k
                while m < n and text[m] == "`":
                    m += 1
                if m - k == run:
                    end = m
                    break
                k = m
            else:
                k += 1
        if end < 0:
            i = j
            continue
        for p in range(i, end):
            if chars[p] != "\n":
                chars[p] = " "
        i = end
    return "".join(chars)


def id_from_content(content: str) -> str:
    """mdBook's `id_from_content` (mdbook-html 0.5, utils.rs)."""
    out = []
    for ch in content.strip().lower():
        if ch.isalnum() or ch in "_-":
            out.append(ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def unique_id(base: str, used: set[str]) -> str:
    if base not in used:
        used.add(base)
        return base
    counter = 1
    while f"{base}-{counter}" in used:
        counter += 1
    used.add(f"{base}-{counter}")
    return f"{base}-{counter}"


def heading_text(raw: str) -> tuple[str, str | None]:
    """The plain text a heading renders to, and its `{#id}` if it has one."""
    custom = None
    m = re.search(r"[ \t]*\{([^}]*)\}[ \t]*$", raw)
    if m and any(part.startswith("#") for part in m.group(1).split()):
        for part in m.group(1).split():
            if part.startswith("#"):
                custom = part[1:]
        raw = raw[: m.start()]
    raw = re.sub(r"[ \t]+#+[ \t]*$", "", raw)  # closing sequence
    text = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            text.append(raw[i + 1])
            i += 2
        elif ch == "`":
            j = i
            while j < len(raw) and raw[j] == "`":
                j += 1
            close = raw.find(raw[i:j], j)
            if close < 0:
                text.append(raw[i:j])
                i = j
            else:
                text.append(raw[j:close].strip() if raw[j:close].strip() else raw[j:close])
                i = close + (j - i)
        elif ch == "<":
            end = raw.find(">", i)
            if end < 0:
                text.append(ch)
                i += 1
            else:
                i = end + 1
        elif ch == "!" and raw.startswith("![", i):
            i += 1
        elif ch == "[":
            i += 1  # link text stays, its brackets go
        elif ch == "]" and raw.startswith("](", i):
            depth, j = 0, i + 1
            while j < len(raw):
                depth += raw[j] == "("
                depth -= raw[j] == ")"
                j += 1
                if depth == 0:
                    break
            i = j
        elif ch == "]":
            i += 1
        elif ch == "*":
            i += 1
        elif ch == "_" and not (text and text[-1][-1:].isalnum() and i + 1 < len(raw) and raw[i + 1].isalnum()):
            i += 1  # emphasis; an intraword underscore stays
        elif ch == "-" and raw.startswith("--", i):
            i += 3 if raw.startswith("---", i) else 2  # smart punctuation: an en or em dash
        elif ch == "&":
            m = re.match(r"&(#?\w+);", raw[i:])
            if m:
                text.append(html.unescape(m.group(0)))
                i += len(m.group(0))
            else:
                text.append(ch)
                i += 1
        else:
            text.append(ch)
            i += 1
    return "".join(text), custom


def parse(path: str) -> Page:
    with open(path, encoding="utf-8") as f:
        original = f.read()
    page = Page(path)
    text = blank_code(original)
    lines = text.split("\n")
    source = original.split("\n")  # code spans kept: heading text includes them
    used: set[str] = set()
    for number, line in enumerate(lines, 1):
        m = ATX.match(line)
        title = None
        if m and not line.startswith("    "):
            title = ATX.match(source[number - 1]).group(2) or ""
        elif (
            number < len(lines)
            and SETEXT.match(lines[number])
            and line.strip()
            and not line.startswith("    ")
            and not re.match(r"^\s*([-*+]|\d+[.)]|>|\|)", line)
            and (number == 1 or not lines[number - 2].strip())
        ):
            title = source[number - 1].strip()
        if title is not None:
            plain, custom = heading_text(title)
            page.ids.append(custom if custom else unique_id(id_from_content(plain), used))
        d = REF_DEF.match(line)
        if d:
            page.ref_defs[d.group(1).strip().lower()] = d.group(2).strip("<>")
            page.links.append(Link(d.group(2).strip("<>"), number))
        for h in HTML_LINK.finditer(line):
            page.links.append(Link(html.unescape(h.group(1)), number))
        for h in HTML_ID.finditer(line):
            page.other_ids.add(h.group(1))
        for fn in re.finditer(r"^\[\^([^\]]+)\]:", line):
            page.other_ids.add(f"footnote-{fn.group(1)}")
    # Inline links and images: `](` then a destination with balanced parentheses.
    for m in re.finditer(r"\]\(", text):
        if m.start() > 0 and text[m.start() - 1] == "\\":
            continue
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "<":
            end = text.find(">", i)
            target = text[i + 1 : end] if end > 0 else ""
        else:
            depth, j = 0, i
            while j < len(text) and not text[j].isspace():
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    if depth == 0:
                        break
                    depth -= 1
                j += 1
            target = text[i:j]
        page.links.append(Link(target, text.count("\n", 0, m.start()) + 1))
    # Full reference links: [text][label] (a collapsed [label][] uses the text).
    for m in re.finditer(r"\]\[([^\]]*)\]", text):
        label = m.group(1)
        if not label:
            start = text.rfind("[", 0, m.start())
            label = text[start + 1 : m.start()]
        page.ref_uses.append((" ".join(label.split()).lower(), text.count("\n", 0, m.start()) + 1))
    return page


def summary_pages(summary: str) -> list[str]:
    """The pages SUMMARY.md lists, relative to the book's src folder."""
    page = parse(summary)
    out = []
    for link in page.links:
        target = urllib.parse.unquote(link.target.split("#")[0])
        if target and not SCHEME.match(target):
            out.append(os.path.normpath(target))
    return out


class Checker:
    def __init__(self, root: str, src: str | None, listed: set[str]):
        self.root = os.path.realpath(root)
        self.src = os.path.realpath(src) if src else None
        self.listed = listed  # real paths of the pages in SUMMARY.md
        self.pages: dict[str, Page] = {}
        self.errors: list[str] = []

    def page(self, path: str) -> Page:
        real = os.path.realpath(path)
        if real not in self.pages:
            self.pages[real] = parse(path)
        return self.pages[real]

    def error(self, path: str, line: int, message: str) -> None:
        self.errors.append(f"{os.path.relpath(path)}:{line}: {message}")

    def check(self, path: str) -> None:
        page = self.page(path)
        in_book = self.src is not None and os.path.realpath(path).startswith(self.src + os.sep)
        for link in page.links:
            self.check_link(path, page, link, in_book)
        for label, line in page.ref_uses:
            if label not in page.ref_defs:
                self.error(path, line, f"reference link [{label}] has no definition")

    def check_link(self, path: str, page: Page, link: Link, in_book: bool) -> None:
        target = link.target
        if not target:
            self.error(path, link.line, "empty link target")
            return
        if SCHEME.match(target) or target.startswith("//"):
            return
        file_part, _, anchor = target.partition("#")
        file_part = urllib.parse.unquote(file_part.split("?")[0])
        anchor = urllib.parse.unquote(anchor)
        if file_part.startswith("/"):
            self.error(path, link.line, f"'{target}': absolute path (use a relative one)")
            return
        if file_part:
            resolved = os.path.realpath(os.path.join(os.path.dirname(path), file_part))
        else:
            resolved = os.path.realpath(path)
        if resolved != self.root and not resolved.startswith(self.root + os.sep):
            self.error(path, link.line, f"'{target}': points outside the repository")
            return
        if not os.path.exists(resolved):
            self.error(path, link.line, f"'{target}': no such file or folder")
            return
        if (
            in_book
            and file_part
            and resolved.endswith(".md")
            and resolved.startswith(self.src + os.sep)
            and resolved not in self.listed
        ):
            self.error(path, link.line, f"'{target}': page not listed in SUMMARY.md (not rendered)")
            return
        if anchor:
            if not resolved.endswith(".md"):
                return  # an anchor into source code (#L10) is not ours to check
            target_page = self.page(resolved)
            if anchor not in target_page.ids and anchor not in target_page.other_ids:
                self.error(path, link.line, f"'{target}': no heading with id '{anchor}' in {os.path.relpath(resolved)}")

    def compare_html(self, html_dir: str, src: str) -> None:
        """Each listed page's heading ids as mdBook rendered them must equal ours."""
        for real in sorted(self.listed):
            rel = os.path.relpath(real, os.path.realpath(src))
            built = os.path.join(html_dir, os.path.splitext(rel)[0] + ".html")
            if not os.path.exists(built):
                self.error(real, 1, f"built page {os.path.relpath(built)} is missing")
                continue
            with open(built, encoding="utf-8") as f:
                content = f.read()
            main = content.split("<main>", 1)[-1].split("</main>", 1)[0]
            rendered = re.findall(r"<(?:h[1-6]|dt)\b[^>]*\bid=\"([^\"]+)\"", main)
            rendered = [html.unescape(i) for i in rendered]
            computed = self.page(real).ids
            if rendered != computed:
                self.error(
                    real,
                    1,
                    f"heading ids computed here {computed} differ from mdBook's {rendered} "
                    f"in {os.path.relpath(built)} (fix .ci/linkcheck.py)",
                )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", help="the mdBook folder (with book.toml and src/)")
    parser.add_argument("--html", help="the built book, to check heading ids against")
    parser.add_argument("--root", default=".", help="the repository root (links may not leave it)")
    parser.add_argument("files", nargs="*", help="more Markdown files to check")
    args = parser.parse_args(argv)

    src = None
    listed: set[str] = set()
    pages: list[str] = []
    if args.book:
        src = os.path.join(args.book, "src")
        summary = os.path.join(src, "SUMMARY.md")
        for rel in summary_pages(summary):
            listed.add(os.path.realpath(os.path.join(src, rel)))
        pages = [summary] + sorted(
            os.path.join(dirpath, name)
            for dirpath, _, names in os.walk(src)
            for name in names
            if name.endswith(".md") and name != "SUMMARY.md"
        )
    checker = Checker(args.root, src, listed)
    for path in pages + args.files:
        checker.check(path)
    if src:
        for path in pages[1:]:
            if os.path.realpath(path) not in listed:
                checker.error(path, 1, "page not listed in SUMMARY.md (mdBook does not render it)")
    if args.html and src:
        checker.compare_html(args.html, src)
    for error in checker.errors:
        print(error)
    checked = sum(len(checker.pages[os.path.realpath(p)].links) for p in pages + args.files)
    print(f"linkcheck: {len(pages) + len(args.files)} files, {checked} links, {len(checker.errors)} broken")
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

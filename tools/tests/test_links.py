"""Every relative link and #anchor in the repository's Markdown files resolves.

In each Markdown file git tracks or would track (so a new page counts before it is added),
outside code, every `[text](target)`, `![alt](target)` and `[label]: target` without a scheme
must name a file or folder git has, relative to the linking file; a `#fragment` on a Markdown
file, or alone, must be the anchor GitHub gives one of its headings. Standard library only.
"""

import posixpath
import re
import subprocess
import unittest
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^ {0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+).*?\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^\s()<>]*)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def repository_files(root: Path) -> set[str]:
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(command, cwd=root, check=True, capture_output=True).stdout.decode("utf-8")
    return {path for path in listed.split("\0") if path and (root / path).is_file()}


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fence = [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if match and (fence is None or line.strip().startswith(fence)):
            fence = None if fence else match.group(1)
        elif fence is None:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor: the text in lower case, punctuation but `-`, `_` dropped, spaces hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a document's headings; a repeated one gets `-1`, `-2`, ... as on GitHub."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for match in filter(None, map(HEADING.match, prose(text))):
        slug = anchor(match.group(1))
        counts[slug] = counts.get(slug, 0) + 1
        found.add(slug if counts[slug] == 1 else f"{slug}-{counts[slug] - 1}")
    return found


def links(text: str) -> list[str]:
    """The link targets outside code that have no scheme."""
    found = []
    for line in map(lambda line: CODE_SPAN.sub("", line), prose(text)):
        found += INLINE_LINK.findall(line)
        found += DEFINITION.findall(line)
    return [target for target in found if target and not SCHEME.match(target)]


def check(documents: dict[str, str], files: set[str]) -> list[str]:
    """Problems with the links of `documents` (path: text), given the repository's `files`."""
    folders = {"/".join(path.split("/")[:depth]) for path in files for depth in range(1, path.count("/") + 1)}
    problems = []
    for source, text in sorted(documents.items()):
        for target in links(text):
            path, _, fragment = unquote(target).partition("#")
            base = "" if path.startswith("/") else posixpath.dirname(source)
            resolved = posixpath.normpath(posixpath.join(base, path.lstrip("/"))) if path else source
            if resolved.startswith("..") or (resolved not in files and resolved not in folders):
                problems.append(f"{source}: {target}: no such file or folder in the repository")
            elif fragment and resolved.endswith(".md") and fragment not in anchors(documents.get(resolved, "")):
                problems.append(f"{source}: {target}: {resolved} has no heading with the anchor #{fragment}")
    return problems


class RepositoryLinksTest(unittest.TestCase):
    def test_every_relative_link_and_anchor_resolves(self) -> None:
        files = repository_files(ROOT)
        documents = {path: (ROOT / path).read_text(encoding="utf-8") for path in files if path.endswith(".md")}
        self.assertIn("README.md", documents)
        problems = check(documents, files)
        self.assertEqual([], problems, "\n".join(problems))


class CheckerTest(unittest.TestCase):
    FILES = {"README.md", "docs/guide.md", "tools/run.sh"}
    GUIDE = "# Guide\n\n## Set `up` (once)\n\n## Use\n\n## Use\n"

    def check(self, readme: str) -> list[str]:
        return check({"README.md": readme, "docs/guide.md": self.GUIDE}, self.FILES)

    def test_links_that_resolve_pass(self) -> None:
        readme = ("# Top\n[g](docs/guide.md#set-up-once) [u](docs/guide.md#use-1) [t](tools/run.sh)\n"
                  "[d](docs/) [self](#top) [web](https://example.com/x) `[code](nowhere.md)`\n"
                  "```\n[block](nowhere.md)\n```\n[ref]: docs/guide.md#use\n")
        self.assertEqual([], self.check(readme))

    def test_a_missing_file_fails(self) -> None:
        for readme in ("[gone](docs/gone.md)", "![img](../outside.png)", "[d](tools/nothing/)"):
            with self.subTest(readme=readme):
                self.assertEqual(1, len(self.check(readme)), self.check(readme))
                self.assertIn("no such file or folder in the repository", self.check(readme)[0])

    def test_a_missing_anchor_fails(self) -> None:
        for readme in ("[g](docs/guide.md#usage)", "# Top\n[self](#bottom)", "[ref]: docs/guide.md#use-2"):
            with self.subTest(readme=readme):
                self.assertEqual(1, len(self.check(readme)), self.check(readme))
                self.assertIn("has no heading with the anchor", self.check(readme)[0])

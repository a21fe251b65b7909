"""What the documentation promises about the repository, checked against the repository.

- The README's two commands (run the stack with its demo; run all tests) exist, and CI
  (`.ci/run`) runs the README's test command.
- Every repository command the documentation's shell blocks show (`tools/...`, `.ci/run`)
  exists, and every path the repository maps (README, CONTRIBUTING) name exists.
- The README stays short: at most 400 lines; the rest is in docs/ and the parts' READMEs.
- The Terraform variables the deploy guide sets (`-var name=`, `name = ...` in a tfvars block)
  are variables of the example it applies, infra/terraform/examples/basic.

Links and anchors are tools/tests/test_links.py's. Standard library only.
"""

import os
import re
import subprocess
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README_LIMIT = 400
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
COMMAND = re.compile(r"(?:^|[\s;(&|])((?:tools|\.ci)/[\w./-]*[\w])")
MAP_ENTRY = re.compile(r"^([\w.][\w./-]*)(?:\s|$)")
TERRAFORM_VARIABLE = re.compile(r'^variable "(\w+)"', re.MULTILINE)


def read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under `heading`, to the next heading of its level or above."""
    level = heading.split(" ")[0]
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(rf"^#{{1,{len(level)}}} ", text[start:], re.MULTILINE)
    return text[start:start + following.start()] if following else text[start:]


def blocks(text: str, *kinds: str) -> list[str]:
    return [body for kind, body in FENCE.findall(text) if kind in kinds]


def shown_commands(text: str) -> set[str]:
    return {match for body in blocks(text, "sh", "bash", "console") for match in COMMAND.findall(body)}


def missing_map_paths(map_block: str) -> list[str]:
    """Paths a map names at the start of an unindented line that the repository lacks."""
    paths = [match.group(1) for match in map(MAP_ENTRY.match, map_block.splitlines()) if match]
    return [path for path in paths if not (ROOT / path).exists()]


def terraform_settings(guide: str) -> set[str]:
    names = {name for body in blocks(guide, "sh") for name in re.findall(r"-var\s+'?(\w+)=", body)}
    for body in blocks(guide, "hcl"):
        names |= set(re.findall(r"^(?:# ?)?(\w+)\s*=", body, re.MULTILINE))  # top level only
    return names


def documents() -> dict[str, str]:
    """Every Markdown file git tracks or would track."""
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.md"]
    listed = subprocess.run(command, cwd=ROOT, check=True, capture_output=True).stdout.decode("utf-8")
    return {path: read(path) for path in listed.split("\0") if path and (ROOT / path).is_file()}


class DocsTest(unittest.TestCase):
    def test_the_readme_has_the_two_commands_and_ci_runs_its_test_command(self) -> None:
        (block,) = blocks(section(read("README.md"), "## Two commands"), "sh")
        commands = [line.split()[0] for line in block.splitlines() if line.strip()]
        self.assertEqual(["tools/stack.sh", "tools/test.sh"], commands)
        for command in commands:
            self.assertTrue(os.access(ROOT / command, os.X_OK), f"{command} is not an executable file")
        ci = [line.strip() for line in read(".ci/run").splitlines() if not line.lstrip().startswith("#")]
        self.assertIn("tools/test.sh", ci, ".ci/run does not run the README's test command")

    def test_every_command_the_docs_show_exists(self) -> None:
        for path, text in documents().items():
            for command in sorted(shown_commands(text)):
                with self.subTest(document=path, command=command):
                    self.assertTrue((ROOT / command).is_file(), f"{path} shows {command}, which does not exist")

    def test_the_repository_maps_are_true(self) -> None:
        for path, heading in (("README.md", "## Repository map"), ("CONTRIBUTING.md", "## Layout")):
            (block,) = blocks(section(read(path), heading), "")
            self.assertGreater(len(block.splitlines()), 10, f"{path} {heading}: no map")
            self.assertEqual([], missing_map_paths(block), f"{path} {heading} names paths that do not exist")

    def test_the_readme_is_short(self) -> None:
        lines = len(read("README.md").splitlines())
        self.assertLessEqual(lines, README_LIMIT, f"README.md has {lines} lines; move detail to docs/")

    def test_the_deploy_guide_sets_only_variables_of_the_example(self) -> None:
        settings = terraform_settings(read("docs/deploy.md"))
        self.assertTrue({"jwt_issuer", "model_image_uri", "alarm_email"} <= settings, settings)
        variables = set(TERRAFORM_VARIABLE.findall(read("infra/terraform/examples/basic/variables.tf")))
        self.assertEqual(set(), settings - variables, "set by docs/deploy.md, not variables of examples/basic")

    # The checkers, shown what they must find.

    def test_the_checkers_find_what_is_wrong(self) -> None:
        self.assertEqual({"tools/nothing.sh", ".ci/run"}, shown_commands("```sh\ntools/nothing.sh --x\n(.ci/run)\n```"))
        self.assertEqual(set(), shown_commands("tools/prose.sh\n```text\ntools/text.sh\n```"))
        self.assertEqual(["tools/gone/"], missing_map_paths("tools/gone/   text\n  indented/  skipped\nREADME.md"))
        guide = "```sh\nterraform apply -var 'alarm_mail=x'\n```\n```hcl\n# arch = 1\nmap = {\n  key = 1\n}\n```"
        self.assertEqual({"alarm_mail", "arch", "map"}, terraform_settings(guide))
        self.assertEqual("b\n\n", section("# A\n## B\nb\n\n## C\nc\n", "## B"))

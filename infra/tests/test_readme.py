"""The README against the deployment templates.

README.md describes what a deploy creates and how to deploy it; these tests keep that true:

- the resource table ("### Deployed resources", under "## Architecture") names, in its
  "CloudFormation type" column, every resource type the SAM template deploys once the SAM
  transform has run (AWS::Serverless::Function becomes AWS::Lambda::Function and
  AWS::Lambda::Permission, ...), and, in its "Terraform" column, every resource type of the
  Terraform module; and it names nothing else: each CloudFormation type it names exists and is
  deployed by the template (before or after the transform), each Terraform type is the module's;
- the sections "Architecture", "Deploy" and "Operations" name only SAM parameters the template
  declares and Terraform variables that exist: in the example root configuration
  (infra/terraform/examples/basic) for `-var` options and terraform.tfvars blocks, there or in
  the module for names in the text;
- every link to a heading of the README (`[...](#anchor)`) or of infra/README.md
  (`[...](infra/README.md#anchor)`) leads to one.

A name counts as a SAM parameter where the README writes it as one: `Name=value` after
`--parameter-overrides`, `Parameter Name` in the table of `sam deploy --guided` prompts,
"SAM parameter `Name`", "`Name` (SAM)", or "`Name` / `name`" (the SAM parameter, then the
Terraform variable). Likewise a Terraform variable: `-var name=...`, `name = ...` at the top
level of an `hcl` block, "Terraform variable `name`", "`name` (Terraform)", or the second of
such a pair.

Run with tools/check-infra.sh, or `python -m unittest discover -s infra/tests` inside
.venv-infra, like the drift tests, whose loaders this uses.
"""

from __future__ import annotations

import re
import unittest
from pathlib import Path
from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from test_drift import (
    ROOT,
    TERRAFORM_DIR,
    TERRAFORM_EXAMPLE_DIR,
    load_sam_template,
    load_terraform,
    translate_sam,
)

README_PATH = ROOT / "README.md"
INFRA_README_PATH = ROOT / "infra" / "README.md"
RESOURCE_TABLE_HEADING = "### Deployed resources"
CLOUDFORMATION_COLUMN = "CloudFormation type"
TERRAFORM_COLUMN = "Terraform"
# The sections whose SAM parameters and Terraform variables are checked.
CHECKED_SECTIONS = ("Architecture", "Deploy", "Operations")
# Inputs the deploy guide must name, so that a change of its wording cannot make the name check
# pass by finding nothing.
REQUIRED_SAM_PARAMETERS = {"JwtIssuer", "JwtAudience", "ModelImageUri", "AlarmEmail", "MonthlyBudgetUsd"}
REQUIRED_TERRAFORM_VARIABLES = {"jwt_issuer", "jwt_audience", "model_image_uri", "alarm_email", "monthly_budget_usd"}

CFN_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")
TF_TYPE = re.compile(r"\baws_[a-z0-9_]+\b")
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([A-Za-z0-9_+-]*)")
PASCAL = r"[A-Z][A-Za-z0-9]*"
SNAKE = r"[a-z][a-z0-9_]*"
# Between the names of a list: `A`, `B` and `C`; `A` or `B`; `A` / `B`.
LIST_OF_CODE = r"((?:`[^`\n]+`(?:\s*(?:,|and|or|/)\s*)*)+)"


# --------------------------------------------------------------------------- reading markdown


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced code block, in order."""
    blocks = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence, info = match.group(1), match.group(2)
        body = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index])
            index += 1
        blocks.append((info, "\n".join(body)))
        index += 1
    return blocks


def without_code_blocks(text: str) -> str:
    """The text with every fenced code block's lines blanked (the line count is kept)."""
    out = []
    fence = None
    for line in text.splitlines():
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def sections(text: str) -> dict[str, str]:
    """The text of each level-2 section (`## Title`) by title, headings in code blocks ignored."""
    result: dict[str, list[str]] = {}
    current = None
    prose = without_code_blocks(text).splitlines()
    for line, plain in zip(text.splitlines(), prose):
        if plain.startswith("## "):
            current = plain[3:].strip()
            result[current] = []
        elif current is not None:
            result[current].append(line)
    return {title: "\n".join(lines) for title, lines in result.items()}


def table_cells(line: str) -> list[str]:
    """The cells of a markdown table row; a `|` inside a code span does not split."""
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    cells, cell, in_code = [], [], False
    for char in line:
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(char)
    cells.append("".join(cell).strip())
    return cells


def table_after(text: str, heading: str) -> tuple[list[str], list[list[str]]] | None:
    """Header and rows of the first table after the line `heading`, or None."""
    lines = without_code_blocks(text).splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        return None
    index = start + 1
    while index < len(lines) and not lines[index].lstrip().startswith("|"):
        if lines[index].startswith("#"):
            return None  # the next heading came first
        index += 1
    rows = []
    while index < len(lines) and lines[index].lstrip().startswith("|"):
        rows.append(table_cells(lines[index]))
        index += 1
    if len(rows) < 2:
        return None
    return rows[0], rows[2:]  # rows[1] is the |---| line


# --------------------------------------------------------------------------- the resource table


def resource_table_types(readme: str) -> tuple[set[str], set[str]] | str:
    """The CloudFormation and Terraform types the resource table names, or what is wrong with it."""
    table = table_after(readme, RESOURCE_TABLE_HEADING)
    if table is None:
        return f"README.md: no table after {RESOURCE_TABLE_HEADING!r}"
    header, rows = table
    missing = [column for column in (CLOUDFORMATION_COLUMN, TERRAFORM_COLUMN) if column not in header]
    if missing:
        return f"README.md {RESOURCE_TABLE_HEADING}: the table has no column {missing[0]!r} (columns: {header})"
    cfn_column, tf_column = header.index(CLOUDFORMATION_COLUMN), header.index(TERRAFORM_COLUMN)
    cfn_types: set[str] = set()
    tf_types: set[str] = set()
    for row in rows:
        if len(row) > cfn_column:
            cfn_types |= set(CFN_TYPE.findall(row[cfn_column]))
        if len(row) > tf_column:
            tf_types |= set(TF_TYPE.findall(row[tf_column]))
    return cfn_types, tf_types


def sam_resource_types(template: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The types the template deploys after the SAM transform, and the types it is written in."""
    written = {resource["Type"] for resource in template.get("Resources", {}).values()}
    translated = translate_sam(template)
    deployed = {resource["Type"] for resource in translated["Resources"].values()}
    return deployed, written


def terraform_resource_types(*modules: dict[str, Any]) -> set[str]:
    return {resource_type for module in modules for (resource_type, _name) in module["resource"]}


def cloudformation_types() -> set[str]:
    """Every resource type CloudFormation knows (cfn-lint's schemas), SAM's included."""
    return set(PROVIDER_SCHEMA_MANAGER.get_resource_types("us-east-1"))


def check_resource_table(
    readme: str,
    deployed: set[str],
    written: set[str],
    terraform_types: set[str],
    known_types: set[str],
) -> list[str]:
    """The table names every deployed type, in both columns, and nothing that is not deployed."""
    found = resource_table_types(readme)
    if isinstance(found, str):
        return [found]
    cfn_types, tf_types = found
    where = f"README.md {RESOURCE_TABLE_HEADING}"
    problems = []
    for resource_type in sorted(deployed - cfn_types):
        problems.append(
            f"{where}: the SAM template deploys {resource_type} (after the SAM transform), "
            f"which the {CLOUDFORMATION_COLUMN!r} column does not name"
        )
    for resource_type in sorted(terraform_types - tf_types):
        problems.append(
            f"{where}: the Terraform module deploys {resource_type}, which the {TERRAFORM_COLUMN!r} column does not name"
        )
    for resource_type in sorted(cfn_types - known_types):
        problems.append(f"{where}: {resource_type} is not a CloudFormation resource type")
    for resource_type in sorted((cfn_types & known_types) - deployed - written):
        problems.append(
            f"{where}: names {resource_type}, which the SAM template does not deploy (nor write before the transform)"
        )
    for resource_type in sorted(tf_types - terraform_types):
        problems.append(f"{where}: names {resource_type}, which the Terraform module does not deploy")
    return problems


# --------------------------------------------------------------------------- inputs named in the text


def shell_commands(text: str) -> list[str]:
    """Each command of the section's shell blocks (continuation lines joined) and each code span."""
    commands = []
    for info, body in fenced_blocks(text):
        if info not in ("sh", "bash", "shell", "console", ""):
            continue
        commands.extend(re.sub(r"\\\n", " ", body).splitlines())
    commands.extend(re.findall(r"`([^`\n]+)`", without_code_blocks(text)))
    return commands


def hcl_assignments(body: str) -> set[str]:
    """Names assigned at the top level of an HCL body (commented-out assignments included)."""
    names = set()
    depth = 0
    for line in body.splitlines():
        code = line.strip()
        commented = code.startswith("#")
        if commented:
            code = code.lstrip("#").strip()
        match = re.match(rf"({SNAKE})\s*=", code)
        if depth == 0 and match:
            names.add(match.group(1))
        if not commented:
            without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', code.split("#", 1)[0])
            depth += sum(without_strings.count(c) for c in "{[(") - sum(without_strings.count(c) for c in "}])")
    return names


def named_inputs(text: str) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """SAM parameters and Terraform variables the text names, each with where: for Terraform,
    `root` (a -var option or a tfvars block: the example's variables) or `text`."""
    sam: dict[str, set[str]] = {}
    terraform: dict[str, set[str]] = {"root": set(), "text": set()}
    sam["text"] = set()
    prose = without_code_blocks(text)

    for command in shell_commands(text):
        if "--parameter-overrides" in command:
            overrides = command.split("--parameter-overrides", 1)[1]
            sam["text"] |= set(re.findall(rf"(?:^|\s)['\"]?({PASCAL})=", overrides))
        terraform["root"] |= set(re.findall(rf"-var\s+['\"]?({SNAKE})\s*=", command))
    for info, body in fenced_blocks(text):
        if info in ("hcl", "terraform", "tf"):
            terraform["root"] |= hcl_assignments(body)

    for line in prose.splitlines():
        if line.lstrip().startswith("|"):
            first_cell = table_cells(line)[0]
            match = re.match(rf"Parameter ({PASCAL}(?:\s*,\s*{PASCAL})*)$", first_cell)
            if match:
                sam["text"] |= {name.strip() for name in match.group(1).split(",")}
    flat = re.sub(r"\s+", " ", prose)
    for match in re.finditer(r"SAM parameters? " + LIST_OF_CODE, flat):
        sam["text"] |= set(re.findall(r"`([^`]+)`", match.group(1)))
    for match in re.finditer(r"Terraform variables? " + LIST_OF_CODE, flat):
        terraform["text"] |= set(re.findall(r"`([^`]+)`", match.group(1)))
    sam["text"] |= set(re.findall(rf"`({PASCAL})` \(SAM\b", flat))
    terraform["text"] |= set(re.findall(rf"`({SNAKE})` \(Terraform\b", flat))
    for parameter, variable in re.findall(rf"`({PASCAL})` / `({SNAKE})`", flat):
        sam["text"].add(parameter)
        terraform["text"].add(variable)
    return sam, terraform


def check_named_inputs(
    readme: str,
    parameters: set[str],
    example_variables: set[str],
    module_variables: set[str],
) -> list[str]:
    """Every SAM parameter and Terraform variable the checked sections name exists."""
    problems = []
    texts = sections(readme)
    all_sam: set[str] = set()
    all_terraform: set[str] = set()
    for title in CHECKED_SECTIONS:
        if title not in texts:
            problems.append(f"README.md: no section '## {title}'")
            continue
        sam, terraform = named_inputs(texts[title])
        all_sam |= sam["text"]
        all_terraform |= terraform["root"] | terraform["text"]
        for name in sorted(sam["text"] - parameters):
            problems.append(f"README.md, {title}: SAM parameter {name} is not a parameter of infra/sam/template.yaml")
        for name in sorted(terraform["root"] - example_variables):
            problems.append(
                f"README.md, {title}: Terraform variable {name} (in -var or terraform.tfvars) "
                "is not a variable of infra/terraform/examples/basic"
            )
        for name in sorted(terraform["text"] - example_variables - module_variables):
            problems.append(
                f"README.md, {title}: Terraform variable {name} is not a variable of infra/terraform "
                "or infra/terraform/examples/basic"
            )
    for name in sorted(REQUIRED_SAM_PARAMETERS - all_sam):
        problems.append(f"README.md: the deploy guide never names the SAM parameter {name}")
    for name in sorted(REQUIRED_TERRAFORM_VARIABLES - all_terraform):
        problems.append(f"README.md: the deploy guide never names the Terraform variable {name}")
    return problems


# --------------------------------------------------------------------------- links to headings


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: its text in lower case, without punctuation but `-` and
    `_`, spaces as hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def heading_anchors(markdown: str) -> set[str]:
    """The ids of a document's headings; a repeated one gets -1, -2, ... as on GitHub."""
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    for line in without_code_blocks(markdown).splitlines():
        match = re.match(r"(#{1,6}) (.+)$", line)
        if not match:
            continue
        anchor = github_anchor(match.group(2))
        seen = counts.get(anchor, 0)
        counts[anchor] = seen + 1
        anchors.add(anchor if seen == 0 else f"{anchor}-{seen}")
    return anchors


def check_anchors(readme: str, infra_readme: str) -> list[str]:
    """Links to a heading of this README or of infra/README.md lead to one."""
    prose = without_code_blocks(readme)
    problems = []
    for document, text, prefix in (("README.md", readme, ""), ("infra/README.md", infra_readme, "infra/README.md")):
        anchors = heading_anchors(text)
        for target in sorted(set(re.findall(rf"\]\({re.escape(prefix)}#([^)\s]+)\)", prose))):
            if target not in anchors:
                problems.append(f"README.md: the link ({prefix}#{target}) leads to no heading of {document}")
    return problems


# --------------------------------------------------------------------------- tests


class ReadmeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.readme = README_PATH.read_text()
        cls.infra_readme = INFRA_README_PATH.read_text()
        cls.template = load_sam_template()
        cls.deployed, cls.written = sam_resource_types(cls.template)
        cls.module = load_terraform(TERRAFORM_DIR)
        cls.example = load_terraform(TERRAFORM_EXAMPLE_DIR)
        cls.terraform_types = terraform_resource_types(cls.module, cls.example)
        cls.known_types = cloudformation_types()
        cls.parameters = set(cls.template.get("Parameters", {}))
        cls.example_variables = set(cls.example["variable"])
        cls.module_variables = set(cls.module["variable"])

    def check_table(self, readme: str) -> list[str]:
        return check_resource_table(readme, self.deployed, self.written, self.terraform_types, self.known_types)

    def check_inputs(self, readme: str) -> list[str]:
        return check_named_inputs(readme, self.parameters, self.example_variables, self.module_variables)

    def assertFinds(self, problems: list[str], *fragments: str) -> None:
        matching = [problem for problem in problems if all(fragment in problem for fragment in fragments)]
        self.assertTrue(matching, f"expected a problem with {fragments}, got: {problems}")

    def test_resource_table_names_every_deployed_type(self) -> None:
        problems = self.check_table(self.readme)
        self.assertEqual([], problems, "\n".join(problems))

    def test_inputs_named_by_the_deploy_guide_exist(self) -> None:
        problems = self.check_inputs(self.readme)
        self.assertEqual([], problems, "\n".join(problems))

    def test_links_to_headings_resolve(self) -> None:
        problems = check_anchors(self.readme, self.infra_readme)
        self.assertEqual([], problems, "\n".join(problems))

    # The checkers themselves: each is shown a changed copy and must find the change.

    def without_type(self, readme: str, resource_type: str) -> str:
        """The README with every row of the resource table that names `resource_type` removed."""
        lines = readme.splitlines()
        start = lines.index(RESOURCE_TABLE_HEADING)
        return "\n".join(
            line for number, line in enumerate(lines)
            if number < start or not (line.lstrip().startswith("|") and resource_type in line)
        )

    def test_finds_a_deployed_type_missing_from_the_table(self) -> None:
        self.assertIn("AWS::Lambda::Permission", self.deployed)
        readme = self.without_type(self.readme, "AWS::Lambda::Permission")
        self.assertNotEqual(readme, self.readme)
        self.assertFinds(self.check_table(readme), "AWS::Lambda::Permission", "does not name")

    def test_finds_a_generated_type_missing_from_the_table(self) -> None:
        # Only the SAM transform makes it: the template is written with AWS::Serverless::HttpApi.
        self.assertNotIn("AWS::ApiGatewayV2::Stage", self.written)
        readme = self.without_type(self.readme, "AWS::ApiGatewayV2::Stage")
        self.assertFinds(self.check_table(readme), "AWS::ApiGatewayV2::Stage", "after the SAM transform")

    def test_finds_a_type_the_template_gains(self) -> None:
        deployed = self.deployed | {"AWS::S3::Bucket"}
        problems = check_resource_table(self.readme, deployed, self.written, self.terraform_types, self.known_types)
        self.assertFinds(problems, "AWS::S3::Bucket", "does not name")

    def test_finds_a_terraform_type_missing_from_the_table(self) -> None:
        readme = self.readme.replace("`aws_sqs_queue_redrive_allow_policy`", "")
        self.assertFinds(self.check_table(readme), "aws_sqs_queue_redrive_allow_policy", "does not name")

    def test_finds_a_misspelled_type(self) -> None:
        readme = self.readme.replace("`AWS::SQS::QueuePolicy`", "`AWS::SQS::QueuesPolicy`")
        problems = self.check_table(readme)
        self.assertFinds(problems, "AWS::SQS::QueuesPolicy", "is not a CloudFormation resource type")
        self.assertFinds(problems, "AWS::SQS::QueuePolicy", "does not name")

    def test_finds_a_type_the_template_does_not_deploy(self) -> None:
        readme = self.readme.replace("`AWS::SQS::QueuePolicy`", "`AWS::SQS::QueuePolicy`, `AWS::SQS::QueueInlinePolicy`")
        self.assertFinds(self.check_table(readme), "AWS::SQS::QueueInlinePolicy", "does not deploy")

    def test_finds_a_missing_table(self) -> None:
        readme = self.readme.replace(RESOURCE_TABLE_HEADING, "### Resources")
        self.assertFinds(self.check_table(readme), "no table after")

    def test_finds_an_unknown_sam_parameter(self) -> None:
        readme = self.readme.replace("AlarmEmail=ops@example.com", "AlarmEmails=ops@example.com")
        self.assertNotEqual(readme, self.readme)
        self.assertFinds(self.check_inputs(readme), "Deploy", "SAM parameter AlarmEmails")

    def test_finds_an_unknown_guided_prompt(self) -> None:
        readme = self.readme.replace("| Parameter MonthlyBudgetUsd |", "| Parameter MonthlyBudget |")
        self.assertNotEqual(readme, self.readme)
        self.assertFinds(self.check_inputs(readme), "SAM parameter MonthlyBudget ")

    def test_finds_an_unknown_terraform_variable(self) -> None:
        readme = self.readme.replace("-var alarm_email=", "-var alarm_mail=")
        self.assertNotEqual(readme, self.readme)
        self.assertFinds(self.check_inputs(readme), "Terraform variable alarm_mail", "examples/basic")

    def test_finds_an_unknown_tfvars_line(self) -> None:
        readme = self.readme.replace("monthly_budget_usd = 50 ", "monthly_budget = 50 ")
        self.assertNotEqual(readme, self.readme)
        self.assertFinds(self.check_inputs(readme), "Terraform variable monthly_budget ")

    def test_a_module_only_variable_is_not_a_root_variable(self) -> None:
        # package_dir is an input of the module, not of the example the guide applies.
        readme = self.readme.replace("-var alarm_email=", "-var package_dir=/tmp -var alarm_email=")
        self.assertFinds(self.check_inputs(readme), "Terraform variable package_dir", "examples/basic")

    def test_finds_an_unknown_variable_in_the_text(self) -> None:
        readme = self.readme.replace("the Terraform variable\n`architecture`", "the Terraform variable\n`arch`")
        self.assertNotEqual(readme, self.readme)
        self.assertFinds(self.check_inputs(readme), "Terraform variable arch ")

    def test_finds_a_guide_that_names_no_inputs(self) -> None:
        readme = self.readme.replace("MonthlyBudgetUsd", "the budget").replace("monthly_budget_usd", "the budget")
        self.assertFinds(self.check_inputs(readme), "never names the SAM parameter MonthlyBudgetUsd")
        self.assertFinds(self.check_inputs(readme), "never names the Terraform variable monthly_budget_usd")

    def test_finds_a_broken_link(self) -> None:
        readme = self.readme.replace("(#4-confirm-the-alarm-email)", "(#4-confirm-the-email)")
        self.assertNotEqual(readme, self.readme)
        self.assertFinds(check_anchors(readme, self.infra_readme), "(#4-confirm-the-email)")

    def test_finds_a_broken_link_into_the_infra_readme(self) -> None:
        readme = self.readme.replace("(infra/README.md#deploy-with-sam)", "(infra/README.md#deploy-with-sammy)")
        self.assertNotEqual(readme, self.readme)
        self.assertFinds(check_anchors(readme, self.infra_readme), "#deploy-with-sammy", "infra/README.md")

    def test_anchor_rules(self) -> None:
        self.assertEqual("the-common-crate-shared", github_anchor("The common crate (`shared/`)"))
        self.assertEqual("4-confirm-the-alarm-email", github_anchor("4. Confirm the alarm email"))
        self.assertEqual("tables-profiles-and-aggregates", github_anchor("Tables `profiles` and `aggregates`"))


if __name__ == "__main__":
    unittest.main()

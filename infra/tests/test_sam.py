"""What SAM makes of the rendered template, offline: the CloudFormation it generates.

The template is rendered from infra/stack.json by `cargo run -p stack -- sam` (tools/check-infra.sh
renders it to target/sam/template.json first; TEMPLATE overrides the path). The render's own
tests (crates/stack) check it against the manifest; these check what only the SAM transform
shows: it translates, SAM generates no role of its own, every generated resource that takes
tags carries the cost-allocation tags, and every route is behind the JWT authorizer.

Run with the pinned infra tools: .venv-infra/bin/python -m unittest discover -s infra/tests
"""

from __future__ import annotations

import copy
import json
import os
import unittest
from pathlib import Path
from typing import Any

import boto3
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError
from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(os.environ.get("TEMPLATE", ROOT / "target" / "sam" / "template.json"))
MANIFEST = ROOT / "infra" / "stack.json"


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation `sam deploy` submits, with CodeUri as the S3 URI it uploads to."""
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://deployment-bucket/bootstrap.zip"
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"), metrics=metrics)
    try:
        return translator.translate(template, parameter_values={}, get_managed_policy_map=lambda: {})
    finally:
        metrics.publish()


def tag_keys(resource_type: str, properties: dict[str, Any]) -> set[str] | None:
    """The tag keys a resource carries, or None when its type takes no tags (cfn-lint's schemas)."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    except ResourceNotFoundError as error:
        raise LookupError(f"cfn-lint does not know {resource_type}") from error
    names = schema.get("properties", {})
    tagged = str((schema.get("tagging") or {}).get("tagProperty", "")).rpartition("/")[2]
    name = tagged or next((n for n in ("Tags", "ResourceTags") if n in names), None)
    if name is None or name not in names:
        return None
    if resource_type == "AWS::ApiGatewayV2::Api" and "Body" in properties:
        return {tag.get("name") for tag in properties["Body"].get("tags", [])}
    tags = properties.get(name) or {}
    return set(tags) if isinstance(tags, dict) else {tag["Key"] for tag in tags}


def problems(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    try:
        translated = translate(template)
    except Exception as error:  # the translator's errors name the resource
        return [f"SAM transform fails: {error}"]
    found = []
    wanted_tags = set(manifest["cost_allocation_tags"])
    own_roles = {logical_id for logical_id, resource in template["Resources"].items() if resource["Type"] == "AWS::IAM::Role"}
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role" and logical_id not in own_roles:
            found.append(f"{logical_id}: SAM generated a role; every function must use its own")
        try:
            keys = tag_keys(resource["Type"], resource.get("Properties", {}))
        except LookupError as error:
            found.append(f"{logical_id}: {error}")
            continue
        if keys is not None and not wanted_tags <= keys:
            found.append(f"{logical_id} ({resource['Type']}): cost-allocation tags {sorted(wanted_tags - keys)} missing")
    paths = translated["Resources"].get("HttpApi", {}).get("Properties", {}).get("Body", {}).get("paths", {})
    authorizer = template["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"]
    for route in manifest["http_api"]["routes"]:
        method, path = route["route"].split(" ", 1)
        operation = paths.get(path, {}).get("x-amazon-apigateway-any-method" if method == "ANY" else method.lower())
        if operation is None:
            found.append(f"route {route['route']} is missing")
        elif [name for requirement in operation.get("security", []) for name in requirement] != [authorizer]:
            found.append(f"route {route['route']} is not behind {authorizer}")
    return found


class RenderedTemplate(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        if not TEMPLATE.is_file():
            raise unittest.SkipTest(f"{TEMPLATE} is missing: render it with `cargo run -p stack -- sam`")
        cls.manifest = json.loads(MANIFEST.read_text())
        cls.template = json.loads(TEMPLATE.read_text())

    def test_sam_makes_tagged_authorized_cloudformation_without_roles_of_its_own(self) -> None:
        self.assertEqual(problems(self.manifest, self.template), [])

    def test_the_checks_find_what_they_look_for(self) -> None:
        untagged = copy.deepcopy(self.template)
        del untagged["Globals"]["Function"]["Tags"]
        self.assertTrue(any("TodoApiFunction (AWS::Lambda::Function): cost-allocation tags" in p for p in problems(self.manifest, untagged)))
        role_less = copy.deepcopy(self.template)
        del role_less["Resources"]["TodoApiFunction"]["Properties"]["Role"]
        self.assertTrue(any("SAM generated a role" in p for p in problems(self.manifest, role_less)))
        open_route = copy.deepcopy(self.template)
        open_route["Resources"]["TodoApiFunction"]["Properties"]["Events"]["AnyTasks"]["Properties"]["Auth"] = {"Authorizer": "NONE"}
        self.assertIn("route ANY /tasks is not behind JwtAuthorizer", problems(self.manifest, open_route))


if __name__ == "__main__":
    unittest.main()

"""The moto server for infra/tests/deploy_test.py, with the gaps of moto 5.2.5 filled in-process.

Run by the deploy test with the emulator venv's python (.venv/bin/python, moto pinned in
tools/requirements.txt). It serves every moto service on 127.0.0.1 and a port the kernel picks,
prints `port <n>` on stdout once it accepts connections, and exits when its stdin closes, so
the server goes away with the test even if the test is killed without a chance to stop it.

The patches exist only because the AWS provider waits forever on, or fails at, what moto 5.2.5
lacks or answers unlike AWS:

- SQS RedriveAllowPolicy: SetQueueAttributes accepts it but GetQueueAttributes never returns
  it, and aws_sqs_queue_redrive_allow_policy polls until it reads back what it set. Here it is
  kept as a queue attribute and answered like the others (cleared by an empty value, as in SQS).
- SQS Policy: any SetQueueAttributes without a Policy clears the queue's policy, so when
  aws_sqs_queue_redrive_policy sets the RedrivePolicy of a queue just after
  aws_sqs_queue_policy set its Policy, the policy is gone and the provider polls for it until
  its timeout (in SQS, attributes not named are left alone). Here an unnamed Policy is kept.
- DynamoDB DeleteTable of a table that is not there: moto answers ResourceNotFoundException
  "Requested resource not found", where DynamoDB says "...: Table: <name> not found", the text
  by which the provider knows the table is already gone. An SDK retry of a DeleteTable that
  went through (seen once under load) then failed the destroy. Here it gets DynamoDB's text.
- CloudWatch DeleteDashboards of a dashboard that is not there: moto's ResourceNotFound answer
  does not decode, in the provider's SDK, as the typed error by which the provider knows the
  dashboard is already gone, so an SDK retry of a DeleteDashboards that went through (seen once,
  in CI, with cargo building beside it) failed the destroy. Here dashboards already gone are
  left out of the deletion: the end state the provider reaches against CloudWatch.
- Budgets ListTagsForResource (and TagResource, UntagResource): not implemented, so reading an
  aws_budgets_budget fails and the provider retries until its timeout. Here the tags given to
  CreateBudget are kept per budget ARN, and the three tag calls read and change them.
- Budgets DescribeSubscribersForNotification: not implemented either, and the provider reads
  every notification's subscribers after creating the budget (retrying until its timeout). moto
  already keeps the subscribers given with each notification; here the call returns them.

Nothing else is changed; this is test code, not part of the stack or of the emulator the local
stack uses.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict

from moto.budgets.exceptions import NotFoundException
from moto.budgets.models import BudgetsBackend
from moto.budgets.responses import BudgetsResponse
from moto.cloudwatch.models import CloudWatchBackend
from moto.dynamodb.exceptions import ResourceNotFoundException
from moto.dynamodb.models import DynamoDBBackend
from moto.server import ThreadedMotoServer
from moto.sqs.models import Queue


def patch_sqs_attributes() -> None:
    # _set_attributes already stores every attribute it is given as a snake_case field; listing
    # the name makes GetQueueAttributes accept and return it, and the class default covers queues
    # that never had one.
    Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"]
    Queue.redrive_allow_policy = None
    set_attributes = Queue._set_attributes

    def _set_attributes(self, attributes, now=None):  # type: ignore[no-untyped-def]
        # moto sets the policy from every call (None when not given); keep it unless named.
        kept = None if "Policy" in attributes else getattr(self, "_policy_json", None)
        set_attributes(self, attributes, now)
        if kept is not None:
            self._policy_json = kept
        # SQS removes the policy when it is set to the empty string (the provider's delete).
        if attributes.get("RedriveAllowPolicy") == "":
            self.redrive_allow_policy = None

    Queue._set_attributes = _set_attributes


def patch_dynamodb_delete_table() -> None:
    delete_table = DynamoDBBackend.delete_table

    def _delete_table(self: DynamoDBBackend, name: str):  # type: ignore[no-untyped-def]
        try:
            return delete_table(self, name)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(table_name=name) from None

    DynamoDBBackend.delete_table = _delete_table


def patch_cloudwatch_delete_dashboards() -> None:
    delete_dashboards = CloudWatchBackend.delete_dashboards

    def _delete_dashboards(self: CloudWatchBackend, dashboards: list[str]) -> str | None:
        return delete_dashboards(self, [name for name in dashboards if name in self.dashboards])

    CloudWatchBackend.delete_dashboards = _delete_dashboards


def patch_budgets_tags() -> None:
    # Tags by budget ARN, per backend (account and partition), like moto's own state.
    BudgetsBackend.resource_tags = None  # type: ignore[attr-defined]

    def tags(backend: BudgetsBackend) -> dict[str, dict[str, str]]:
        if backend.resource_tags is None:  # type: ignore[attr-defined]
            backend.resource_tags = defaultdict(dict)  # type: ignore[attr-defined]
        return backend.resource_tags  # type: ignore[attr-defined]

    def arn(response: BudgetsResponse, account_id: str, name: str) -> str:
        return f"arn:{response.partition}:budgets::{account_id}:budget/{name}"

    create_budget = BudgetsResponse.create_budget
    delete_budget = BudgetsResponse.delete_budget

    def _create_budget(self: BudgetsResponse) -> str:
        answer = create_budget(self)
        account_id = self._get_param("AccountId")
        name = self._get_param("Budget")["BudgetName"]
        for tag in self._get_param("ResourceTags", []):
            tags(self.backend)[arn(self, account_id, name)][tag["Key"]] = tag["Value"]
        return answer

    def _delete_budget(self: BudgetsResponse) -> str:
        answer = delete_budget(self)
        tags(self.backend).pop(arn(self, self._get_param("AccountId"), self._get_param("BudgetName")), None)
        return answer

    def list_tags_for_resource(self: BudgetsResponse) -> str:
        resource = tags(self.backend).get(self._get_param("ResourceARN"), {})
        return json.dumps({"ResourceTags": [{"Key": k, "Value": v} for k, v in resource.items()]})

    def tag_resource(self: BudgetsResponse) -> str:
        resource = tags(self.backend)[self._get_param("ResourceARN")]
        for tag in self._get_param("ResourceTags", []):
            resource[tag["Key"]] = tag["Value"]
        return json.dumps({})

    def untag_resource(self: BudgetsResponse) -> str:
        resource = tags(self.backend)[self._get_param("ResourceARN")]
        for key in self._get_param("ResourceTagKeys", []):
            resource.pop(key, None)
        return json.dumps({})

    def describe_subscribers_for_notification(self: BudgetsResponse) -> str:
        budgets = self.backend.budgets[self._get_param("AccountId")]
        name = self._get_param("BudgetName")
        if name not in budgets:
            raise NotFoundException(f"Unable to get budget: {name} - the budget doesn't exist.")

        # A notification is identified by these fields (ThresholdType defaults to PERCENTAGE).
        def identity(notification: dict) -> tuple:  # type: ignore[type-arg]
            return (
                notification.get("NotificationType"),
                notification.get("ComparisonOperator"),
                float(notification.get("Threshold", 0)),
                notification.get("ThresholdType", "PERCENTAGE"),
            )

        wanted = identity(self._get_param("Notification"))
        for notification in budgets[name].notifications:
            if identity(notification.details) == wanted:
                return json.dumps({"Subscribers": notification.subscribers})
        raise NotFoundException(f"Unable to get notification of budget {name}: it doesn't exist.")

    BudgetsResponse.create_budget = _create_budget
    BudgetsResponse.delete_budget = _delete_budget
    BudgetsResponse.list_tags_for_resource = list_tags_for_resource
    BudgetsResponse.tag_resource = tag_resource
    BudgetsResponse.untag_resource = untag_resource
    BudgetsResponse.describe_subscribers_for_notification = describe_subscribers_for_notification


def main() -> None:
    patch_sqs_attributes()
    patch_dynamodb_delete_table()
    patch_cloudwatch_delete_dashboards()
    patch_budgets_tags()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    # What moto_server -p sets: moto builds some URLs it returns from it.
    os.environ["MOTO_PORT"] = str(port)
    print(f"port {port}", flush=True)
    # Serve until the test closes our stdin (or dies, which closes it too).
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()

//! Tables, queues (with the policies that let rules send to them), streams, event buses and
//! their rules.

use serde_json::{Value, json};

use super::{Resources, STACK_NAME, Tags, deployed_name, get_att, logical_id, reference, spelled};
use crate::manifest::{BillingMode, Stack};

/// checkov's CloudFormation check for queue encryption knows only KMS keys.
fn sse_sqs_skip() -> Value {
    json!({ "checkov": { "skip": [{
        "id": "CKV_AWS_27",
        "comment": "SSE-SQS is on (SqsManagedSseEnabled); checkov's CloudFormation check knows only KmsMasterKeyId",
    }] } })
}

fn key_schema(partition: &str, sort: Option<&str>) -> Value {
    let mut schema = vec![json!({ "AttributeName": partition, "KeyType": "HASH" })];
    if let Some(sort) = sort {
        schema.push(json!({ "AttributeName": sort, "KeyType": "RANGE" }));
    }
    schema.into()
}

pub(super) fn tables(stack: &Stack, tags: &Tags, resources: &mut Resources) {
    for (key, table) in &stack.tables {
        let mut properties = json!({
            "TableName": deployed_name(key),
            "BillingMode": match table.billing_mode { BillingMode::PayPerRequest => "PAY_PER_REQUEST" },
            "AttributeDefinitions": table
                .attribute_definitions()
                .into_iter()
                .map(|(name, kind)| json!({ "AttributeName": name, "AttributeType": spelled(&kind) }))
                .collect::<Vec<_>>(),
            "KeySchema": key_schema(
                &table.partition_key.name,
                table.sort_key.as_ref().map(|sort| sort.name.as_str()),
            ),
            "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": table.point_in_time_recovery },
            "SSESpecification": { "SSEEnabled": table.server_side_encryption },
            "Tags": tags.list(),
        });
        if !table.global_secondary_indexes.is_empty() {
            properties["GlobalSecondaryIndexes"] = table
                .global_secondary_indexes
                .iter()
                .map(|(name, index)| {
                    json!({
                        "IndexName": name,
                        "KeySchema": key_schema(
                            &index.partition_key.name,
                            index.sort_key.as_ref().map(|sort| sort.name.as_str()),
                        ),
                        "Projection": { "ProjectionType": spelled(&index.projection) },
                    })
                })
                .collect();
        }
        if let Some(attribute) = &table.time_to_live_attribute {
            properties["TimeToLiveSpecification"] =
                json!({ "AttributeName": attribute, "Enabled": true });
        }
        // Tables hold user data or state the streams no longer hold after 24 hours: deleting
        // the stack, or a change that replaces a table, leaves it in place.
        resources.insert(
            logical_id(key, "Table"),
            json!({
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": properties,
            }),
        );
    }
}

pub(super) fn queues(stack: &Stack, tags: &Tags, resources: &mut Resources) {
    for (key, queue) in &stack.queues {
        // SQS-managed encryption: EventBridge can deliver without a key policy, and the
        // functions need no KMS permissions.
        let mut properties = json!({
            "QueueName": { "Fn::Sub": queue.deployed_name(STACK_NAME, key) },
            "VisibilityTimeout": queue.visibility_timeout_seconds,
            "MessageRetentionPeriod": queue.message_retention_seconds,
            "SqsManagedSseEnabled": true,
            "Tags": tags.list(),
        });
        if queue.fifo {
            // event-router sets every message's deduplication id (its eventId).
            properties["FifoQueue"] = true.into();
            properties["ContentBasedDeduplication"] = false.into();
        }
        if let Some(dead_letter) = &queue.dead_letter {
            properties["RedrivePolicy"] = json!({
                "deadLetterTargetArn": get_att(&logical_id(&dead_letter.queue, "Queue"), "Arn"),
                "maxReceiveCount": dead_letter.max_receive_count,
            });
        }
        // Only the queues that name this one as their dead-letter queue may use it. Their ARNs
        // are spelled out: a GetAtt would make the queues depend on each other.
        let sources: Vec<Value> = stack
            .queues
            .iter()
            .filter(|(_, source)| source.dead_letter.as_ref().is_some_and(|d| d.queue == *key))
            .map(|(source, source_queue)| {
                json!({ "Fn::Sub": format!(
                    "arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{}",
                    source_queue.deployed_name(STACK_NAME, source)
                ) })
            })
            .collect();
        if !sources.is_empty() {
            properties["RedriveAllowPolicy"] =
                json!({ "redrivePermission": "byQueue", "sourceQueueArns": sources });
        }
        resources.insert(
            logical_id(key, "Queue"),
            json!({
                "Type": "AWS::SQS::Queue",
                "Metadata": sse_sqs_skip(),
                "Properties": properties,
            }),
        );
    }
    // A queue that rules target lets those rules, and only them, send to it.
    let mut senders: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for bus in stack.event_buses.values() {
        for (rule, spec) in &bus.rules {
            senders
                .entry(spec.target.queue.as_str())
                .or_default()
                .push(logical_id(rule, "Rule"));
        }
    }
    for (queue, rules) in senders {
        let queue_id = logical_id(queue, "Queue");
        let statements: Vec<Value> = rules
            .iter()
            .map(|rule| {
                json!({
                    "Sid": rule,
                    "Effect": "Allow",
                    "Principal": { "Service": "events.amazonaws.com" },
                    "Action": "sqs:SendMessage",
                    "Resource": get_att(&queue_id, "Arn"),
                    "Condition": { "ArnEquals": { "aws:SourceArn": get_att(rule, "Arn") } },
                })
            })
            .collect();
        resources.insert(
            format!("{queue_id}Policy"),
            json!({
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [reference(&queue_id)],
                    "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
                },
            }),
        );
    }
}

pub(super) fn streams(stack: &Stack, tags: &Tags, resources: &mut Resources) {
    for (key, stream) in &stack.streams {
        let mut properties = json!({
            "Name": deployed_name(key),
            "StreamModeDetails": { "StreamMode": stream.capacity_mode.stream_mode() },
            "RetentionPeriodHours": stream.retention_hours,
            "Tags": tags.list(),
        });
        if let Some(shards) = stream.shard_count {
            properties["ShardCount"] = shards.into();
        }
        if stream.encryption {
            properties["StreamEncryption"] =
                json!({ "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis" });
        }
        resources.insert(
            logical_id(key, "Stream"),
            json!({ "Type": "AWS::Kinesis::Stream", "Properties": properties }),
        );
    }
}

pub(super) fn event_buses(stack: &Stack, tags: &Tags, resources: &mut Resources) {
    for (key, bus) in &stack.event_buses {
        let bus_id = logical_id(key, "EventBus");
        resources.insert(
            bus_id.clone(),
            json!({
                "Type": "AWS::Events::EventBus",
                "Properties": { "Name": deployed_name(key), "Tags": tags.list() },
            }),
        );
        for (rule, spec) in &bus.rules {
            let queue = &spec.target.queue;
            resources.insert(
                logical_id(rule, "Rule"),
                json!({
                    "Type": "AWS::Events::Rule",
                    "Properties": {
                        "Name": deployed_name(rule),
                        "EventBusName": reference(&bus_id),
                        "EventPattern": spec.pattern,
                        "State": "ENABLED",
                        "Targets": [{ "Id": queue, "Arn": get_att(&logical_id(queue, "Queue"), "Arn") }],
                        "Tags": tags.list(),
                    },
                }),
            );
        }
    }
}

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::*;

const DASHBOARD: &str = r#"{"widgets": [{"type": "text", "properties": {"markdown": "${prefix} in ${region}, API ${api_id}"}}]}"#;

fn render_manifest(manifest: &Value) -> Value {
    let stack = Stack::from_json(&manifest.to_string()).expect("a valid manifest");
    render(&RenderInput {
        stack: &stack,
        dashboard_body: Some(DASHBOARD),
        code_dir: "../lambda",
    })
    .expect("renders")
}

fn workspace_manifest() -> Value {
    serde_json::from_str(include_str!("../../../../infra/stack.json")).unwrap()
}

fn resource<'a>(template: &'a Value, id: &str) -> &'a Value {
    template["Resources"]
        .get(id)
        .unwrap_or_else(|| panic!("no resource {id}"))
}

/// Every `Ref`, `Fn::GetAtt` and `${...}` of a `Fn::Sub` in `value`, with where it was found.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("Ref") {
                found.push(target.clone());
            }
            if let Some(Value::Array(parts)) = map.get("Fn::GetAtt") {
                found.push(parts[0].as_str().unwrap().to_owned());
            }
            match map.get("Fn::Sub") {
                Some(Value::String(text)) => sub_variables(text, &BTreeSet::new(), found),
                Some(Value::Array(parts)) => {
                    let local: BTreeSet<String> =
                        parts[1].as_object().unwrap().keys().cloned().collect();
                    sub_variables(parts[0].as_str().unwrap(), &local, found);
                    references(&parts[1], found);
                }
                _ => {}
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

fn sub_variables(text: &str, local: &BTreeSet<String>, found: &mut Vec<String>) {
    for piece in text.split("${").skip(1) {
        let name = piece.split('}').next().unwrap();
        let name = name.split('.').next().unwrap();
        if !local.contains(name) && !name.starts_with('!') {
            found.push(name.to_owned());
        }
    }
}

#[test]
fn every_reference_names_a_resource_a_parameter_or_a_pseudo_parameter() {
    let template = render_manifest(&workspace_manifest());
    let mut known: BTreeSet<String> = template["Resources"]
        .as_object()
        .unwrap()
        .keys()
        .chain(template["Parameters"].as_object().unwrap().keys())
        .cloned()
        .collect();
    for pseudo in [
        "AWS::StackName",
        "AWS::Region",
        "AWS::AccountId",
        "AWS::Partition",
        "AWS::URLSuffix",
    ] {
        known.insert(pseudo.into());
    }
    let mut found = Vec::new();
    references(&template, &mut found);
    assert!(found.len() > 100, "{} references", found.len());
    let unknown: BTreeSet<_> = found.iter().filter(|name| !known.contains(*name)).collect();
    assert!(unknown.is_empty(), "unknown: {unknown:?}");
}

#[test]
fn names_follow_the_manifest_keys() {
    assert_eq!(pascal("ingest-dlq"), "IngestDlq");
    assert_eq!(pascal("cost_center"), "CostCenter");
    assert_eq!(
        logical_id("http-api-5xx-rate", "Alarm"),
        "HttpApi5xxRateAlarm"
    );
    let template = render_manifest(&workspace_manifest());
    let orders = resource(&template, "OrdersQueue");
    assert_eq!(
        orders["Properties"]["QueueName"],
        json!({"Fn::Sub": "${AWS::StackName}-orders.fifo"})
    );
    assert_eq!(orders["Properties"]["FifoQueue"], true);
    let todo = resource(&template, "TodoApiFunction");
    let events: Vec<&String> = todo["Properties"]["Events"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(events, ["AnyTasks", "AnyTasksId"]);
    assert!(
        template["Resources"]
            .get("EventRouterIngestEventSource")
            .is_some()
    );
    assert!(
        template["Resources"]
            .get("StreamEnrichmentErrorsAlarm")
            .is_some()
    );
    assert!(template["Resources"].get("MonthlyBudget").is_some());
}

#[test]
fn functions_share_the_globals_and_keep_their_own_settings() {
    let manifest = workspace_manifest();
    let template = render_manifest(&manifest);
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"], json!([{"Ref": "Architecture"}]));
    for (key, function) in manifest["functions"].as_object().unwrap() {
        let properties = &resource(&template, &logical_id(key, "Function"))["Properties"];
        assert_eq!(properties["MemorySize"], function["memory_mb"], "{key}");
        assert_eq!(properties["Timeout"], function["timeout_seconds"], "{key}");
        assert_eq!(
            properties["CodeUri"],
            format!("../lambda/{key}/bootstrap.zip")
        );
        assert!(
            properties.get("Handler").is_none(),
            "{key}: Handler is global"
        );
        let variables = properties["Environment"]["Variables"].as_object().unwrap();
        let names: Vec<&String> = function["environment"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(variables.keys().collect::<Vec<_>>(), names, "{key}");
    }
    let inference =
        &resource(&template, "InferenceFunction")["Properties"]["Environment"]["Variables"];
    assert_eq!(inference["FEATURES_TABLE"], json!({"Ref": "FeaturesTable"}));
    assert_eq!(
        inference["MODEL_ENDPOINT_NAME"],
        json!({"Fn::GetAtt": ["ModelEndpoint", "EndpointName"]})
    );
    assert_eq!(inference["SCORE_THRESHOLD"], "0.5");
}

#[test]
fn roles_grant_the_manifest_actions_on_their_resources_and_the_log_group() {
    let template = render_manifest(&workspace_manifest());
    let statements = &resource(&template, "TodoApiRole")["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    assert_eq!(statements[0]["Sid"], "TasksTable");
    assert_eq!(
        statements[0]["Resource"],
        json!([{"Fn::GetAtt": ["TasksTable", "Arn"]}, {"Fn::Sub": "${TasksTable.Arn}/index/by_status"}])
    );
    assert_eq!(statements[0]["Action"][0], "dynamodb:GetItem");
    assert_eq!(
        statements[1]["Resource"],
        json!([{"Fn::GetAtt": ["TodoApiLogGroup", "Arn"]}])
    );
    let inference = &resource(&template, "InferenceRole")["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    assert_eq!(inference[1]["Resource"], json!({"Ref": "ModelEndpoint"}));
}

#[test]
fn every_resource_that_takes_tags_carries_the_cost_tags() {
    let template = render_manifest(&workspace_manifest());
    let untaggable = [
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",
        "AWS::S3::BucketPolicy",
        "AWS::Logs::LogStream",
    ];
    let wanted = ["cost_center", "environment", "project"];
    let global_tags: Vec<&String> = template["Globals"]["Function"]["Tags"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(global_tags, wanted);
    for (id, resource) in template["Resources"].as_object().unwrap() {
        let kind = resource["Type"].as_str().unwrap();
        let properties = &resource["Properties"];
        let keys: Vec<String> = match kind {
            kind if untaggable.contains(&kind) => continue,
            "AWS::Serverless::Function" => continue,
            "AWS::Serverless::HttpApi" => properties["Tags"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect(),
            "AWS::Budgets::Budget" => tag_keys(&properties["ResourceTags"]),
            _ => tag_keys(&properties["Tags"]),
        };
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, wanted, "{id} ({kind})");
    }
}

fn tag_keys(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|tags| {
            tags.iter()
                .map(|tag| tag["Key"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_manifest_change_is_a_template_change() {
    let mut manifest = workspace_manifest();
    manifest["queues"]["audit"] = json!({
        "fifo": false, "visibility_timeout_seconds": 45, "message_retention_seconds": 86400,
        "dead_letter": {"queue": "ingest-dlq", "max_receive_count": 3}
    });
    manifest["monitoring"]["alarms"]["rejects-messages"]["threshold"] = json!(7);
    manifest["monitoring"]["alarms"]["rejects-messages"]["statistic"] = json!("p90");
    manifest["functions"]["todo-api"]["memory_mb"] = json!(512);
    manifest["streams"]["enriched"] = json!({
        "capacity_mode": "on_demand", "retention_hours": 48, "encryption": true
    });
    manifest["streams"]["activity"]["shard_count"] = json!(4);
    manifest["reasons"]
        .as_object_mut()
        .unwrap()
        .remove("streams.enriched.shard_count");
    let template = render_manifest(&manifest);
    let enriched = &resource(&template, "EnrichedStream")["Properties"];
    assert_eq!(enriched["StreamModeDetails"]["StreamMode"], "ON_DEMAND");
    assert!(enriched.get("ShardCount").is_none(), "{enriched}");
    assert_eq!(enriched["RetentionPeriodHours"], 48);
    let activity = &resource(&template, "ActivityStream")["Properties"];
    assert_eq!(activity["StreamModeDetails"]["StreamMode"], "PROVISIONED");
    assert_eq!(activity["ShardCount"], 4);
    let audit = &resource(&template, "AuditQueue")["Properties"];
    assert_eq!(audit["VisibilityTimeout"], 45);
    assert_eq!(audit["RedrivePolicy"]["maxReceiveCount"], 3);
    let allowed = &resource(&template, "IngestDlqQueue")["Properties"]["RedriveAllowPolicy"]["sourceQueueArns"];
    assert_eq!(allowed.as_array().unwrap().len(), 2, "{allowed}");
    assert!(allowed.to_string().contains("${AWS::StackName}-audit"));
    assert_eq!(
        template["Outputs"]["AuditQueueUrl"]["Value"],
        json!({"Ref": "AuditQueue"})
    );
    let alarm = &resource(&template, "RejectsMessagesAlarm")["Properties"];
    assert_eq!(alarm["Threshold"], 7);
    assert_eq!(alarm["ExtendedStatistic"], "p90");
    assert!(alarm.get("Statistic").is_none());
    assert_eq!(
        resource(&template, "TodoApiFunction")["Properties"]["MemorySize"],
        512
    );
}

#[test]
fn functions_of_different_architectures_are_refused() {
    let mut manifest = workspace_manifest();
    manifest["functions"]["inference"]["architecture"] = json!("x86_64");
    let stack = Stack::from_json(&manifest.to_string()).unwrap();
    let error = render(&RenderInput {
        stack: &stack,
        dashboard_body: Some(DASHBOARD),
        code_dir: ".",
    });
    assert!(
        error
            .unwrap_err()
            .to_string()
            .contains("different architectures")
    );
}

#[test]
fn the_dashboard_body_is_substituted_and_must_be_json() {
    let template = render_manifest(&workspace_manifest());
    let body =
        &resource(&template, "OperationsDashboard")["Properties"]["DashboardBody"]["Fn::Sub"];
    assert_eq!(body[0], DASHBOARD);
    assert_eq!(body[1]["api_id"], json!({"Ref": "HttpApi"}));
    let stack = Stack::workspace();
    let not_json = render(&RenderInput {
        stack: &stack,
        dashboard_body: Some("{"),
        code_dir: ".",
    });
    assert!(
        not_json
            .unwrap_err()
            .to_string()
            .contains("dashboard.json is not JSON")
    );
    let missing = render(&RenderInput {
        stack: &stack,
        dashboard_body: None,
        code_dir: ".",
    });
    assert!(missing.is_err());
}

#[test]
fn code_paths_are_relative_to_the_template() {
    assert_eq!(
        relative_path(Path::new("/w/target/sam"), Path::new("/w/target/lambda")),
        "../lambda"
    );
    assert_eq!(
        relative_path(Path::new("/w/infra/sam"), Path::new("/w/target/lambda")),
        "../../target/lambda"
    );
    assert_eq!(
        relative_path(Path::new("/w/a/../target"), Path::new("/w/target/lambda")),
        "lambda"
    );
    assert_eq!(relative_path(Path::new("/w"), Path::new("/w")), ".");
}

#[test]
fn the_written_template_is_the_render() {
    let out = std::env::temp_dir().join(format!("stack-sam-{}/template.json", std::process::id()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    render_to_file(
        &root.join("infra/stack.json"),
        None,
        &root.join("target/lambda"),
        &out,
    )
    .unwrap();
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    std::fs::remove_dir_all(out.parent().unwrap()).unwrap();
    let code = &written["Resources"]["TodoApiFunction"]["Properties"]["CodeUri"];
    assert!(
        code.as_str()
            .unwrap()
            .ends_with("target/lambda/todo-api/bootstrap.zip"),
        "{code}"
    );
    assert_eq!(written["Resources"].as_object().unwrap().len(), 73);
}

#[test]
fn the_dashboard_names_manifest_resources() {
    let stack = Stack::workspace();
    let body = include_str!("../../../../infra/dashboard.json");
    let keys: BTreeSet<&String> = stack
        .functions
        .keys()
        .chain(stack.tables.keys())
        .chain(stack.queues.keys())
        .chain(stack.streams.keys())
        .chain(stack.model_endpoints.keys())
        .collect();
    fn strings<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::String(text) => found.push(text),
            Value::Array(items) => items.iter().for_each(|v| strings(v, found)),
            Value::Object(map) => map.values().for_each(|v| strings(v, found)),
            _ => {}
        }
    }
    let body: Value = serde_json::from_str(body).unwrap();
    let mut all = Vec::new();
    strings(&body, &mut all);
    let named: Vec<&str> = all
        .into_iter()
        .filter_map(|text| text.strip_prefix("${prefix}-"))
        .collect();
    assert!(named.len() > 10, "{named:?}");
    for key in named {
        let key = key.trim_end_matches(".fifo");
        assert!(
            keys.contains(&key.to_owned()),
            "the dashboard names {key}, not in the manifest"
        );
    }
}

#[test]
fn the_low_latency_profile_renders_fan_out_consumers_windows_and_strong_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!(
        "stack-sam-profile-{}/template.json",
        std::process::id()
    ));
    render_to_file(
        &root.join("infra/stack.json"),
        Some("low-latency"),
        &root.join("target/lambda"),
        &out,
    )
    .unwrap();
    let template: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    std::fs::remove_dir_all(out.parent().unwrap()).unwrap();
    for (function, stream, consumer) in [
        (
            "StreamEnrichment",
            "ActivityStream",
            "StreamEnrichmentActivityConsumer",
        ),
        (
            "FeatureUpdates",
            "EnrichedStream",
            "FeatureUpdatesEnrichedConsumer",
        ),
    ] {
        let properties = &resource(&template, consumer)["Properties"];
        assert_eq!(
            properties["StreamARN"],
            json!({"Fn::GetAtt": [stream, "Arn"]})
        );
        let source_key = stream.trim_end_matches("Stream");
        let mapping =
            &resource(&template, &format!("{function}{source_key}EventSource"))["Properties"];
        assert_eq!(
            mapping["EventSourceArn"],
            json!({"Fn::GetAtt": [consumer, "ConsumerARN"]})
        );
        assert_eq!(mapping["MaximumBatchingWindowInSeconds"], 0);
        let statements = resource(&template, &format!("{function}Role"))["Properties"]["Policies"]
            [0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone();
        assert!(
            statements.iter().any(|s| s["Action"]
                == json!(["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"])
                && s["Resource"] == json!([{"Fn::GetAtt": [consumer, "ConsumerARN"]}])),
            "{statements:?}"
        );
    }
    let ingest = &resource(&template, "EventRouterIngestEventSource")["Properties"];
    assert_eq!(
        (
            ingest["BatchSize"].clone(),
            ingest["MaximumBatchingWindowInSeconds"].clone()
        ),
        (json!(10), json!(0))
    );
    assert_eq!(
        resource(&template, "InferenceFunction")["Properties"]["Environment"]["Variables"]["FEATURES_CONSISTENT_READ"],
        "true"
    );
    // As deployed: no consumer, mappings on the streams, eventual reads.
    let deployed = render_manifest(&workspace_manifest());
    assert!(
        deployed["Resources"]
            .get("FeatureUpdatesEnrichedConsumer")
            .is_none()
    );
    assert_eq!(
        resource(&deployed, "InferenceFunction")["Properties"]["Environment"]["Variables"]["FEATURES_CONSISTENT_READ"],
        "false"
    );
}

fn statements(template: &Value, role: &str) -> Vec<Value> {
    resource(template, role)["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn the_archive_delivers_its_stream_to_the_manifest_layout() {
    let template = render_manifest(&workspace_manifest());
    let archive = &resource(&template, "ActivityArchive")["Properties"];
    assert_eq!(
        archive["DeliveryStreamName"],
        json!({"Fn::Sub": "${AWS::StackName}-activity"})
    );
    assert_eq!(archive["DeliveryStreamType"], "KinesisStreamAsSource");
    assert_eq!(
        archive["KinesisStreamSourceConfiguration"],
        json!({
            "KinesisStreamARN": {"Fn::GetAtt": ["ActivityStream", "Arn"]},
            "RoleARN": {"Fn::GetAtt": ["ActivityArchiveRole", "Arn"]},
        })
    );
    let s3 = &archive["ExtendedS3DestinationConfiguration"];
    assert_eq!(
        s3["BucketARN"],
        json!({"Fn::GetAtt": ["ArchiveBucket", "Arn"]})
    );
    assert_eq!(
        s3["RoleARN"],
        json!({"Fn::GetAtt": ["ActivityArchiveRole", "Arn"]})
    );
    assert_eq!(s3["Prefix"], "activity/date=!{partitionKeyFromQuery:date}/");
    assert_eq!(
        s3["ErrorOutputPrefix"],
        "activity-errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/"
    );
    assert_eq!(s3["CompressionFormat"], "GZIP");
    assert_eq!(
        s3["BufferingHints"],
        json!({"IntervalInSeconds": 300, "SizeInMBs": 64})
    );
    assert_eq!(
        s3["DynamicPartitioningConfiguration"],
        json!({"Enabled": true, "RetryOptions": {"DurationInSeconds": 300}})
    );
    assert_eq!(
        s3["ProcessingConfiguration"],
        json!({"Enabled": true, "Processors": [
            {"Type": "MetadataExtraction", "Parameters": [
                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{date: .timestamp[0:10]}"},
                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
            ]},
            {"Type": "AppendDelimiterToRecord"},
        ]})
    );
    assert_eq!(
        s3["CloudWatchLoggingOptions"],
        json!({"Enabled": true, "LogGroupName": {"Ref": "ActivityArchiveLogGroup"},
               "LogStreamName": {"Ref": "ActivityArchiveLogStream"}})
    );
    assert_eq!(
        resource(&template, "ActivityArchiveLogGroup")["Properties"]["LogGroupName"],
        json!({"Fn::Sub": "/aws/kinesisfirehose/${AWS::StackName}-activity"})
    );
    assert_eq!(
        template["Outputs"]["ActivityArchiveUri"]["Value"],
        json!({"Fn::Sub": "s3://${ArchiveBucket}/activity/"})
    );
    assert_eq!(
        template["Outputs"]["ArchiveBucketName"]["Value"],
        json!({"Ref": "ArchiveBucket"})
    );
}

#[test]
fn the_archive_bucket_is_private_versioned_encrypted_tls_only_and_kept() {
    let template = render_manifest(&workspace_manifest());
    let bucket = resource(&template, "ArchiveBucket");
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    assert_eq!(bucket["UpdateReplacePolicy"], "Retain");
    let properties = &bucket["Properties"];
    assert_eq!(
        properties["BucketName"],
        json!({"Fn::Sub": "${AWS::StackName}-archive-${AWS::AccountId}"})
    );
    assert_eq!(
        properties["VersioningConfiguration"],
        json!({"Status": "Enabled"})
    );
    assert_eq!(
        properties["PublicAccessBlockConfiguration"],
        json!({"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true,
               "RestrictPublicBuckets": true})
    );
    assert_eq!(
        properties["OwnershipControls"],
        json!({"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    );
    let encryption = &properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "aws:kms"
    );
    assert_eq!(encryption["BucketKeyEnabled"], true);
    assert_eq!(
        properties["LifecycleConfiguration"]["Rules"],
        json!([
            {"Id": "activity", "Status": "Enabled", "Prefix": "activity",
             "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}],
             "ExpirationInDays": 400},
            {"Id": "versions-and-uploads", "Status": "Enabled",
             "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        ])
    );
    let policy = &resource(&template, "ArchiveBucketPolicy")["Properties"];
    assert_eq!(policy["Bucket"], json!({"Ref": "ArchiveBucket"}));
    assert_eq!(
        policy["PolicyDocument"]["Statement"],
        json!([{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [{"Fn::GetAtt": ["ArchiveBucket", "Arn"]}, {"Fn::Sub": "${ArchiveBucket.Arn}/*"}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }])
    );
}

#[test]
fn the_firehose_role_reads_its_stream_and_writes_its_prefixes_only() {
    let template = render_manifest(&workspace_manifest());
    let role = &resource(&template, "ActivityArchiveRole")["Properties"];
    assert_eq!(
        role["RoleName"],
        json!({"Fn::Sub": "${AWS::StackName}-activity-firehose"})
    );
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        trust["Principal"],
        json!({"Service": "firehose.amazonaws.com"})
    );
    assert_eq!(
        trust["Condition"],
        json!({"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}})
    );
    let by_sid: BTreeMap<String, (Value, Value)> = statements(&template, "ActivityArchiveRole")
        .into_iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow");
            (
                s["Sid"].as_str().unwrap().to_owned(),
                (s["Action"].clone(), s["Resource"].clone()),
            )
        })
        .collect();
    assert_eq!(
        by_sid["ReadStream"],
        (
            json!([
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:GetShardIterator",
                "kinesis:GetRecords",
                "kinesis:ListShards"
            ]),
            json!([{"Fn::GetAtt": ["ActivityStream", "Arn"]}])
        )
    );
    assert_eq!(
        by_sid["Bucket"],
        (
            json!([
                "s3:GetBucketLocation",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads"
            ]),
            json!([{"Fn::GetAtt": ["ArchiveBucket", "Arn"]}])
        )
    );
    assert_eq!(
        by_sid["Objects"],
        (
            json!(["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]),
            json!([{"Fn::Sub": "${ArchiveBucket.Arn}/activity/*"},
                   {"Fn::Sub": "${ArchiveBucket.Arn}/activity-errors/*"}])
        )
    );
    assert_eq!(
        by_sid["Logs"],
        (
            json!(["logs:PutLogEvents"]),
            json!([{"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/kinesisfirehose/${AWS::StackName}-activity:log-stream:DestinationDelivery"}])
        )
    );
    assert_eq!(by_sid.len(), 4, "{by_sid:?}");
}

#[test]
fn a_manifest_change_is_an_archive_change() {
    let mut manifest = workspace_manifest();
    manifest["archives"]["activity"] = json!({
        "stream": "enriched", "prefix": "raw/enriched", "partition_date_field": "eventTime",
        "buffer_interval_seconds": 120, "buffer_size_mib": 128,
        "infrequent_access_after_days": 60, "expire_after_days": 800,
    });
    let template = render_manifest(&manifest);
    let archive = &resource(&template, "ActivityArchive")["Properties"];
    assert_eq!(
        archive["KinesisStreamSourceConfiguration"]["KinesisStreamARN"],
        json!({"Fn::GetAtt": ["EnrichedStream", "Arn"]})
    );
    let s3 = &archive["ExtendedS3DestinationConfiguration"];
    assert_eq!(
        s3["Prefix"],
        "raw/enriched/date=!{partitionKeyFromQuery:date}/"
    );
    assert_eq!(
        s3["ErrorOutputPrefix"],
        "raw/enriched-errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/"
    );
    assert_eq!(
        s3["BufferingHints"],
        json!({"IntervalInSeconds": 120, "SizeInMBs": 128})
    );
    assert_eq!(
        s3["ProcessingConfiguration"]["Processors"][0]["Parameters"][0]["ParameterValue"],
        "{date: .eventTime[0:10]}"
    );
    let rule =
        &resource(&template, "ArchiveBucket")["Properties"]["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(rule["Prefix"], "raw/enriched");
    assert_eq!(rule["Transitions"][0]["TransitionInDays"], 60);
    assert_eq!(rule["ExpirationInDays"], 800);
    let role = statements(&template, "ActivityArchiveRole");
    assert_eq!(
        role[0]["Resource"],
        json!([{"Fn::GetAtt": ["EnrichedStream", "Arn"]}])
    );
    assert_eq!(
        role[2]["Resource"],
        json!([{"Fn::Sub": "${ArchiveBucket.Arn}/raw/enriched/*"},
               {"Fn::Sub": "${ArchiveBucket.Arn}/raw/enriched-errors/*"}])
    );
    assert_eq!(
        template["Outputs"]["ActivityArchiveUri"]["Value"],
        json!({"Fn::Sub": "s3://${ArchiveBucket}/raw/enriched/"})
    );
}

#[test]
fn without_archives_there_is_no_bucket() {
    let mut manifest = workspace_manifest();
    manifest.as_object_mut().unwrap().remove("archives");
    let reasons = manifest["reasons"].as_object_mut().unwrap();
    reasons.retain(|path, _| !path.starts_with("archives."));
    let template = render_manifest(&manifest);
    let kinds: BTreeSet<&str> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .map(|resource| resource["Type"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains("AWS::S3::Bucket"), "{kinds:?}");
    assert!(
        !kinds.contains("AWS::KinesisFirehose::DeliveryStream"),
        "{kinds:?}"
    );
    assert!(template["Outputs"].get("ArchiveBucketName").is_none());
}

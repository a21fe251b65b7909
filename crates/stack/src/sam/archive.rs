//! The archives: one S3 bucket for all of them (with its policy), and per archive a Firehose
//! delivery stream reading its Kinesis stream, the role Firehose assumes, and the log group and
//! stream it writes delivery errors to.
//!
//! Logical IDs: the bucket is `ArchiveBucket` (policy `ArchiveBucketPolicy`); archive `activity`
//! is the delivery stream `ActivityArchive` with `ActivityArchiveRole`,
//! `ActivityArchiveLogGroup` and `ActivityArchiveLogStream`.

use serde_json::{Value, json};

use super::{Resources, STACK_NAME, Tags, deployed_name, get_att, logical_id, reference};
use crate::manifest::archive::{
    ARCHIVE_ABORT_INCOMPLETE_UPLOAD_DAYS, ARCHIVE_LOG_RETENTION_DAYS, ARCHIVE_LOG_STREAM,
    ARCHIVE_NONCURRENT_VERSION_DAYS, ARCHIVE_RETRY_SECONDS,
};
use crate::manifest::{Stack, archive_bucket_name};

/// The bucket every archive writes to.
pub(super) const BUCKET: &str = "ArchiveBucket";

/// The archive's delivery stream: `ActivityArchive`.
pub(super) fn delivery_stream_id(key: &str) -> String {
    logical_id(key, "Archive")
}

/// `${AWS::StackName}-archive-${AWS::AccountId}`, as [`archive_bucket_name`] names it.
fn bucket_name() -> Value {
    json!({ "Fn::Sub": archive_bucket_name(STACK_NAME, Some("${AWS::AccountId}")) })
}

/// The log group Firehose writes an archive's delivery errors to, as the console names them.
fn log_group_name(key: &str) -> String {
    format!(
        "/aws/kinesisfirehose/{}",
        crate::resource_name(STACK_NAME, key)
    )
}

pub(super) fn resources(stack: &Stack, tags: &Tags, resources: &mut Resources) {
    if stack.archives.is_empty() {
        return;
    }
    // One rule per archive on its prefix (records and errors), and one for every object:
    // noncurrent versions and unfinished uploads.
    let mut rules: Vec<Value> = stack
        .archives
        .iter()
        .map(|(key, archive)| {
            json!({
                "Id": key,
                "Status": "Enabled",
                "Prefix": archive.lifecycle_prefix(),
                "Transitions": [{
                    "StorageClass": "STANDARD_IA",
                    "TransitionInDays": archive.infrequent_access_after_days,
                }],
                "ExpirationInDays": archive.expire_after_days,
            })
        })
        .collect();
    rules.push(json!({
        "Id": "versions-and-uploads",
        "Status": "Enabled",
        "NoncurrentVersionExpiration": { "NoncurrentDays": ARCHIVE_NONCURRENT_VERSION_DAYS },
        "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": ARCHIVE_ABORT_INCOMPLETE_UPLOAD_DAYS },
    }));
    // The archive is the only copy of the activity past the stream's 24 hours: deleting the
    // stack, or a change that replaces the bucket, leaves it in place.
    resources.insert(
        BUCKET.into(),
        json!({
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": bucket_name(),
                // The AWS-managed key aws/s3: no key to pay for or administer, and the
                // account's principals need no KMS permission for it. A bucket key makes S3
                // ask KMS for a data key now and then instead of once per object.
                "BucketEncryption": { "ServerSideEncryptionConfiguration": [{
                    "ServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms" },
                    "BucketKeyEnabled": true,
                }] },
                "VersioningConfiguration": { "Status": "Enabled" },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true,
                    "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true,
                    "RestrictPublicBuckets": true,
                },
                "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
                "LifecycleConfiguration": { "Rules": rules },
                "Tags": tags.list(),
            },
        }),
    );
    resources.insert(
        format!("{BUCKET}Policy"),
        json!({
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": reference(BUCKET),
                "PolicyDocument": { "Version": "2012-10-17", "Statement": [{
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [get_att(BUCKET, "Arn"), { "Fn::Sub": format!("${{{BUCKET}.Arn}}/*") }],
                    "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                }] },
            },
        }),
    );

    for (key, archive) in &stack.archives {
        let id = delivery_stream_id(key);
        let role = format!("{id}Role");
        let log_group = format!("{id}LogGroup");
        let log_stream = format!("{id}LogStream");
        let stream = logical_id(&archive.stream, "Stream");
        resources.insert(
            log_group.clone(),
            json!({
                "Type": "AWS::Logs::LogGroup",
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": {
                    "LogGroupName": { "Fn::Sub": log_group_name(key) },
                    "RetentionInDays": ARCHIVE_LOG_RETENTION_DAYS,
                    "Tags": tags.list(),
                },
            }),
        );
        resources.insert(
            log_stream.clone(),
            json!({
                "Type": "AWS::Logs::LogStream",
                "Properties": { "LogGroupName": reference(&log_group), "LogStreamName": ARCHIVE_LOG_STREAM },
            }),
        );
        // The objects of this archive only: its records and its errors.
        let objects: Vec<Value> = archive
            .written_prefixes()
            .iter()
            .map(|prefix| json!({ "Fn::Sub": format!("${{{BUCKET}.Arn}}/{prefix}*") }))
            .collect();
        let statements = json!([
            { "Sid": "ReadStream", "Effect": "Allow",
              "Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator",
                         "kinesis:GetRecords", "kinesis:ListShards"],
              "Resource": [get_att(&stream, "Arn")] },
            { "Sid": "Bucket", "Effect": "Allow",
              "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
              "Resource": [get_att(BUCKET, "Arn")] },
            { "Sid": "Objects", "Effect": "Allow",
              "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
              "Resource": objects },
            { "Sid": "Logs", "Effect": "Allow",
              "Action": ["logs:PutLogEvents"],
              "Resource": [{ "Fn::Sub": format!(
                  "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{}:log-stream:{ARCHIVE_LOG_STREAM}",
                  log_group_name(key)
              ) }] },
        ]);
        resources.insert(
            role.clone(),
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": { "Fn::Sub": format!("{STACK_NAME}-{key}-firehose") },
                    "Description": format!("Role Firehose assumes to archive stream {} to S3", archive.stream),
                    // This account's Firehose only (Firehose passes the account id as the
                    // external id).
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": { "Service": "firehose.amazonaws.com" },
                            "Action": "sts:AssumeRole",
                            "Condition": { "StringEquals": { "sts:ExternalId": reference("AWS::AccountId") } },
                        }],
                    },
                    "Policies": [{
                        "PolicyName": format!("{key}-firehose"),
                        "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
                    }],
                    "Tags": tags.list(),
                },
            }),
        );
        // The stream is encrypted with the AWS-managed key alias/aws/kinesis, which needs no KMS
        // permission of its readers. A Kinesis source cannot take Firehose's own server-side
        // encryption (that is for Direct PUT); S3 encrypts the objects at rest.
        resources.insert(
            id.clone(),
            json!({
                "Type": "AWS::KinesisFirehose::DeliveryStream",
                "Properties": {
                    "DeliveryStreamName": deployed_name(key),
                    "DeliveryStreamType": "KinesisStreamAsSource",
                    "KinesisStreamSourceConfiguration": {
                        "KinesisStreamARN": get_att(&stream, "Arn"),
                        "RoleARN": get_att(&role, "Arn"),
                    },
                    "ExtendedS3DestinationConfiguration": {
                        "BucketARN": get_att(BUCKET, "Arn"),
                        "RoleARN": get_att(&role, "Arn"),
                        "Prefix": archive.firehose_prefix(),
                        "ErrorOutputPrefix": archive.error_output_prefix(),
                        "CompressionFormat": "GZIP",
                        "BufferingHints": {
                            "IntervalInSeconds": archive.buffer_interval_seconds,
                            "SizeInMBs": archive.buffer_size_mib,
                        },
                        "DynamicPartitioningConfiguration": {
                            "Enabled": true,
                            "RetryOptions": { "DurationInSeconds": ARCHIVE_RETRY_SECONDS },
                        },
                        "ProcessingConfiguration": {
                            "Enabled": true,
                            "Processors": [
                                { "Type": "MetadataExtraction", "Parameters": [
                                    { "ParameterName": "MetadataExtractionQuery", "ParameterValue": archive.partition_query() },
                                    { "ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6" },
                                ] },
                                // A newline after each record: newline-delimited JSON.
                                { "Type": "AppendDelimiterToRecord" },
                            ],
                        },
                        "CloudWatchLoggingOptions": {
                            "Enabled": true,
                            "LogGroupName": reference(&log_group),
                            "LogStreamName": reference(&log_stream),
                        },
                    },
                    "Tags": tags.list(),
                },
            }),
        );
    }
}

/// The outputs: the bucket's name, and per archive where its records are.
pub(super) fn outputs(stack: &Stack, output: &mut impl FnMut(String, String, Value)) {
    if stack.archives.is_empty() {
        return;
    }
    output(
        format!("{BUCKET}Name"),
        "Name of the S3 bucket the archives are in".into(),
        reference(BUCKET),
    );
    for (key, archive) in &stack.archives {
        let id = delivery_stream_id(key);
        output(
            format!("{id}Uri"),
            format!(
                "Where the {key} archive's records are: one prefix per event date, {}YYYY-MM-DD/",
                archive.object_prefix()
            ),
            json!({ "Fn::Sub": archive.uri(&format!("${{{BUCKET}}}")) }),
        );
        output(
            format!("{id}DeliveryStreamName"),
            format!(
                "Name of the Firehose delivery stream archiving stream {}",
                archive.stream
            ),
            reference(&id),
        );
    }
}

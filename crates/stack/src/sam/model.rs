//! Model endpoints: the image (a parameter) as a SageMaker model, a serverless endpoint
//! configuration, the endpoint, and the role SageMaker assumes to run it.

use serde_json::{Value, json};

use super::functions::assume_role;
use super::{Resources, Tags, get_att, logical_id, reference};
use crate::manifest::Stack;

/// An ECR URI with an explicit tag or digest: the shape the role's ECR statement takes apart.
pub(super) const IMAGE_URI_PATTERN: &str = r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$";

/// Part `index` of `text` split at `separator`.
fn select(index: u32, separator: &str, text: Value) -> Value {
    json!({ "Fn::Select": [index, { "Fn::Split": [separator, text] }] })
}

pub(super) fn endpoints(stack: &Stack, tags: &Tags, resources: &mut Resources) {
    for (key, endpoint) in &stack.model_endpoints {
        let image = reference(&endpoint.image_parameter);
        let role = logical_id(key, "EndpointRole");
        let model = logical_id(key, "EndpointModel");
        let config = logical_id(key, "EndpointConfig");
        // <account>.dkr.ecr.<region>.amazonaws.com/<repository>(:<tag>|@<digest>)
        let host = select(0, "/", image.clone());
        let repository = select(
            1,
            ".amazonaws.com/",
            select(0, "@", select(0, ":", image.clone())),
        );
        let log_group = format!(
            "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/sagemaker/Endpoints/${{AWS::StackName}}-{key}"
        );
        let statements = json!([
            // GetAuthorizationToken has no resource-level permissions.
            { "Sid": "EcrAuthorization", "Effect": "Allow",
              "Action": ["ecr:GetAuthorizationToken"], "Resource": "*" },
            { "Sid": "EcrImage", "Effect": "Allow",
              "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
              "Resource": { "Fn::Sub": [
                  "arn:${AWS::Partition}:ecr:${Region}:${Account}:repository/${Repository}",
                  { "Account": select(0, ".", host.clone()),
                    "Region": select(3, ".", host),
                    "Repository": repository },
              ] } },
            // The endpoint's log group (SageMaker creates it on first start) and its streams.
            { "Sid": "Logs", "Effect": "Allow",
              "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
              "Resource": [{ "Fn::Sub": log_group }, { "Fn::Sub": format!("{log_group}:*") }] },
            // PutMetricData has no resource-level permissions; the condition keeps it to
            // SageMaker's endpoint namespace.
            { "Sid": "Metrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
              "Condition": { "StringEquals": { "cloudwatch:namespace": "/aws/sagemaker/Endpoints" } } },
        ]);
        resources.insert(
            role.clone(),
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": { "Fn::Sub": format!("${{AWS::StackName}}-{key}-sagemaker") },
                    "Description": "SageMaker execution role of the model endpoint (image pull, its logs and metrics)",
                    "AssumeRolePolicyDocument": assume_role("sagemaker.amazonaws.com"),
                    "Policies": [{
                        "PolicyName": format!("{key}-sagemaker"),
                        "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
                    }],
                    "Tags": tags.list(),
                },
            }),
        );
        let mut model_resource = json!({
            "Type": "AWS::SageMaker::Model",
            "Properties": {
                "ExecutionRoleArn": get_att(&role, "Arn"),
                "PrimaryContainer": { "Image": image },
                "EnableNetworkIsolation": endpoint.network_isolation,
                "Tags": tags.list(),
            },
        });
        if !endpoint.network_isolation {
            model_resource["Metadata"] = json!({ "checkov": { "skip": [{
                "id": "CKV_AWS_370",
                "comment": "serverless endpoints do not support network isolation (SageMaker's serverless feature exclusions); the server makes no outbound call",
            }] } });
        }
        // The model and the configuration take generated names: every property of theirs forces
        // a replacement, which CloudFormation cannot do to a named resource.
        resources.insert(model.clone(), model_resource);
        resources.insert(
            config.clone(),
            json!({
                "Type": "AWS::SageMaker::EndpointConfig",
                "Properties": {
                    "ProductionVariants": [{
                        "VariantName": "AllTraffic",
                        "ModelName": get_att(&model, "ModelName"),
                        "ServerlessConfig": {
                            "MemorySizeInMB": endpoint.serverless.memory_size_mb,
                            "MaxConcurrency": endpoint.serverless.max_concurrency,
                        },
                    }],
                    "Tags": tags.list(),
                },
            }),
        );
        resources.insert(
            logical_id(key, "Endpoint"),
            json!({
                "Type": "AWS::SageMaker::Endpoint",
                "Properties": {
                    "EndpointName": { "Fn::Sub": format!("${{AWS::StackName}}-{key}") },
                    "EndpointConfigName": get_att(&config, "EndpointConfigName"),
                    "Tags": tags.list(),
                },
            }),
        );
    }
}

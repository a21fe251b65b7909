//! Monitoring: the alarm topic (with its policy and an optional email subscription), one alarm
//! per manifest alarm and per function and function alarm, the dashboard, the optional budget.

use serde_json::{Value, json};

use super::{
    Resources, Tags, deployed_name, get_att, has_condition, logical_id, pascal, reference, spelled,
};
use crate::manifest::monitoring::{AlarmSpec, AlarmTarget};
use crate::manifest::{Stack, StackError};

/// The one variant of every endpoint configuration.
const VARIANT: &str = "AllTraffic";

pub(super) fn resources(
    stack: &Stack,
    tags: &Tags,
    dashboard_body: Option<&str>,
    resources: &mut Resources,
) -> Result<(), StackError> {
    let Some(monitoring) = &stack.monitoring else {
        return Ok(());
    };
    let topic_key = &monitoring.alarm_topic.key;
    let topic = logical_id(topic_key, "Topic");
    // Unencrypted: CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed
    // key, and the notifications carry names and states, no data (infra/checkov.yaml).
    resources.insert(
        topic.clone(),
        json!({
            "Type": "AWS::SNS::Topic",
            "Properties": { "TopicName": deployed_name(topic_key), "Tags": tags.list() },
        }),
    );
    let publisher = |sid: &str, service: &str, source_arn: &str| {
        json!({
            "Sid": sid, "Effect": "Allow", "Principal": { "Service": service },
            "Action": "sns:Publish", "Resource": reference(&topic),
            "Condition": {
                "StringEquals": { "aws:SourceAccount": reference("AWS::AccountId") },
                "ArnLike": { "aws:SourceArn": { "Fn::Sub": source_arn } },
            },
        })
    };
    // CloudWatch alarms and AWS Budgets of this account, and nothing else, may publish.
    resources.insert(
        format!("{topic}Policy"),
        json!({
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [reference(&topic)],
                "PolicyDocument": { "Version": "2012-10-17", "Statement": [
                    publisher("CloudWatchAlarms", "cloudwatch.amazonaws.com",
                        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"),
                    publisher("Budgets", "budgets.amazonaws.com",
                        "arn:${AWS::Partition}:budgets::${AWS::AccountId}:*"),
                ] },
            },
        }),
    );
    // AWS mails a confirmation link first; nothing is delivered until it is followed.
    let email = &monitoring.alarm_topic.email_parameter;
    resources.insert(
        format!("{}EmailSubscription", pascal(topic_key)),
        json!({
            "Type": "AWS::SNS::Subscription",
            "Condition": has_condition(email),
            "Properties": { "TopicArn": reference(&topic), "Protocol": "email", "Endpoint": reference(email) },
        }),
    );

    for (name, alarm) in &monitoring.alarms {
        let dimensions = match &alarm.target {
            Some(AlarmTarget::Queue(queue)) => (
                "AWS/SQS",
                json!([{ "Name": "QueueName", "Value": get_att(&logical_id(queue, "Queue"), "QueueName") }]),
            ),
            Some(AlarmTarget::Stream(stream)) => (
                "AWS/Kinesis",
                json!([{ "Name": "StreamName", "Value": reference(&logical_id(stream, "Stream")) }]),
            ),
            Some(AlarmTarget::Endpoint(endpoint)) => (
                "AWS/SageMaker",
                json!([
                    { "Name": "EndpointName", "Value": get_att(&logical_id(endpoint, "Endpoint"), "EndpointName") },
                    { "Name": "VariantName", "Value": VARIANT },
                ]),
            ),
            Some(AlarmTarget::HttpApi(_)) => (
                "AWS/ApiGateway",
                json!([{ "Name": "ApiId", "Value": reference("HttpApi") }]),
            ),
            None => {
                return Err(StackError::Invalid(format!(
                    "monitoring.alarms.{name}: no target"
                )));
            }
        };
        resources.insert(
            logical_id(name, "Alarm"),
            alarm_resource(name, alarm, dimensions, &topic, tags),
        );
    }
    for function in stack.functions.keys() {
        let function_id = logical_id(function, "Function");
        for (name, alarm) in &monitoring.function_alarms {
            resources.insert(
                format!("{}{}Alarm", pascal(function), pascal(name)),
                alarm_resource(
                    &format!("{function}-{name}"),
                    alarm,
                    (
                        "AWS/Lambda",
                        json!([{ "Name": "FunctionName", "Value": reference(&function_id) }]),
                    ),
                    &topic,
                    tags,
                ),
            );
        }
    }

    let dashboard = &monitoring.dashboard;
    let body = dashboard_body.ok_or_else(|| {
        StackError::Invalid(format!(
            "monitoring.dashboard: the body {} was not given to the render",
            dashboard.body
        ))
    })?;
    serde_json::from_str::<Value>(body).map_err(|error| {
        StackError::Invalid(format!(
            "monitoring.dashboard: {} is not JSON: {error}",
            dashboard.body
        ))
    })?;
    let mut variables = serde_json::Map::new();
    variables.insert("prefix".into(), reference("AWS::StackName"));
    variables.insert("region".into(), reference("AWS::Region"));
    if stack.http_api.is_some() {
        variables.insert("api_id".into(), reference("HttpApi"));
    }
    resources.insert(
        logical_id(&dashboard.key, "Dashboard"),
        json!({
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": deployed_name(&dashboard.key),
                "DashboardBody": { "Fn::Sub": [body, variables] },
                "Tags": tags.list(),
            },
        }),
    );

    if let Some(budget) = &monitoring.budget {
        let unit = spelled(&budget.time_unit);
        let notifications: Vec<Value> = budget
            .notifications
            .iter()
            .map(|notification| {
                json!({
                    "Notification": {
                        "NotificationType": spelled(&notification.kind),
                        "ComparisonOperator": "GREATER_THAN",
                        "Threshold": notification.threshold_percent,
                        "ThresholdType": "PERCENTAGE",
                    },
                    "Subscribers": [{ "SubscriptionType": "SNS", "Address": reference(&topic) }],
                })
            })
            .collect();
        // Counted once the filter tag is activated as a cost-allocation tag in the Billing
        // console; the topic must let Budgets publish first.
        resources.insert(
            logical_id(&unit.to_lowercase(), "Budget"),
            json!({
                "Type": "AWS::Budgets::Budget",
                "Condition": has_condition(&budget.amount_parameter),
                "DependsOn": format!("{topic}Policy"),
                "Properties": {
                    "Budget": {
                        "BudgetName": deployed_name(&unit.to_lowercase()),
                        "BudgetType": "COST",
                        "TimeUnit": unit,
                        "BudgetLimit": { "Amount": reference(&budget.amount_parameter), "Unit": "USD" },
                        "CostFilters": { "TagKeyValue": [{ "Fn::Join": ["", [
                            format!("user:{}$", budget.filter_tag),
                            reference(&pascal(&budget.filter_tag)),
                        ]] }] },
                    },
                    "NotificationsWithSubscribers": notifications,
                    "ResourceTags": tags.list(),
                },
            }),
        );
    }
    Ok(())
}

/// An alarm named `<stack>-<name>` that notifies the topic when it fires and when it clears.
fn alarm_resource(
    name: &str,
    alarm: &AlarmSpec,
    (namespace, dimensions): (&str, Value),
    topic: &str,
    tags: &Tags,
) -> Value {
    let mut properties = json!({
        "AlarmName": deployed_name(name),
        "AlarmDescription": alarm.description,
        "Namespace": namespace,
        "MetricName": alarm.metric,
        "Dimensions": dimensions,
        "Period": alarm.period_seconds,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "ComparisonOperator": spelled(&alarm.comparison),
        "Threshold": alarm.threshold,
        "TreatMissingData": spelled(&alarm.treat_missing_data),
        "AlarmActions": [reference(topic)],
        "OKActions": [reference(topic)],
        "Tags": tags.list(),
    });
    let statistic = if alarm.is_percentile() {
        "ExtendedStatistic"
    } else {
        "Statistic"
    };
    properties[statistic] = alarm.statistic.as_str().into();
    json!({ "Type": "AWS::CloudWatch::Alarm", "Properties": properties })
}

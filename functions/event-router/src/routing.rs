//! The routing table: which targets each kind of event goes to.
//!
//! Loaded once at init from JSON (`ROUTING_TABLE`, or the file `ROUTING_TABLE_FILE`, or the
//! built-in [`DEFAULT_ROUTING_TABLE`]). `${NAME}` in a string is replaced by the environment
//! variable `NAME`. Any mistake fails init with a message naming the route and target.
//!
//! ```json
//! {"routes": [
//!   {"detail_type": "user_activity",
//!    "targets": [{"kinesis": {"stream": "${ACTIVITY_STREAM}", "partition_key": "userId"}}]},
//!   {"detail_type": "order_placed", "source": "shop.checkout",
//!    "targets": [{"kinesis": {"stream": "${ACTIVITY_STREAM}", "payload": "activity"}},
//!                {"sqs": {"queue_url": "${ORDERS_QUEUE_URL}", "message_group": "userId"}}]}
//! ]}
//! ```
//!
//! A route matches on `detail_type` and, when given, `source`; a route with a source wins over
//! one without. `payload` is `event` (the canonical record of the event's own type, default) or
//! `activity` (the event as a user activity: an order becomes a `purchase`). `partition_key`
//! (default `userId`) and `message_group` name a field of that payload. A FIFO queue (URL ending
//! in `.fifo`) needs a `message_group` and gets the `eventId` as deduplication id; a standard
//! queue takes neither.

use std::collections::HashSet;

use serde::Deserialize;
use shared::events::{ORDER_PLACED, USER_ACTIVITY};

/// Activity events to the activity stream; orders to the activity stream as purchases and, as
/// orders, to the orders queue.
pub const DEFAULT_ROUTING_TABLE: &str = r#"{"routes": [
  {"detail_type": "user_activity",
   "targets": [{"kinesis": {"stream": "${ACTIVITY_STREAM}", "partition_key": "userId"}}]},
  {"detail_type": "order_placed",
   "targets": [{"kinesis": {"stream": "${ACTIVITY_STREAM}", "partition_key": "userId", "payload": "activity"}},
               {"sqs": {"queue_url": "${ORDERS_QUEUE_URL}", "message_group": "userId"}}]}
]}"#;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("routing table: {0}")]
pub struct RoutingError(String);

/// What is written to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// The canonical record of the event's own type.
    #[default]
    Event,
    /// The event as a user activity.
    Activity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Kinesis {
        stream: String,
        partition_key: String,
        payload: Payload,
    },
    Sqs {
        queue_url: String,
        /// Set exactly for FIFO queues.
        message_group: Option<String>,
        payload: Payload,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub detail_type: String,
    pub source: Option<String>,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingTable {
    routes: Vec<Route>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableConfig {
    routes: Vec<RouteConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteConfig {
    detail_type: String,
    #[serde(default)]
    source: Option<String>,
    targets: Vec<TargetConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum TargetConfig {
    Kinesis {
        stream: String,
        #[serde(default = "default_partition_key")]
        partition_key: String,
        #[serde(default)]
        payload: Payload,
    },
    Sqs {
        queue_url: String,
        #[serde(default)]
        message_group: Option<String>,
        #[serde(default)]
        payload: Payload,
    },
}

fn default_partition_key() -> String {
    "userId".into()
}

/// Fields a partition key or message group may name, per payload.
fn payload_fields(detail_type: &str, payload: Payload) -> &'static [&'static str] {
    match (detail_type, payload) {
        (ORDER_PLACED, Payload::Event) => &["eventId", "orderId", "userId", "currency"],
        _ => &["eventId", "userId", "type", "itemId"],
    }
}

impl RoutingTable {
    /// Parses `json`, replacing `${NAME}` with `variable("NAME")`.
    pub fn parse(
        json: &str,
        variable: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, RoutingError> {
        let config: TableConfig = serde_json::from_str(json)
            .map_err(|error| RoutingError(format!("not valid: {error}")))?;
        if config.routes.is_empty() {
            return Err(RoutingError("no routes".into()));
        }
        let mut seen = HashSet::new();
        let mut routes = Vec::new();
        for (position, route) in config.routes.into_iter().enumerate() {
            let name = format!("route {} ({})", position + 1, route.detail_type);
            let fail = |message: String| RoutingError(format!("{name}: {message}"));
            if route.detail_type != USER_ACTIVITY && route.detail_type != ORDER_PLACED {
                return Err(fail(format!(
                    "detail_type must be {USER_ACTIVITY} or {ORDER_PLACED}: no other has a schema"
                )));
            }
            if !seen.insert((route.detail_type.clone(), route.source.clone())) {
                return Err(fail(
                    "a route for this detail_type and source already exists".into(),
                ));
            }
            if route.targets.is_empty() {
                return Err(fail("no targets".into()));
            }
            let mut targets = Vec::new();
            for (index, target) in route.targets.into_iter().enumerate() {
                let fail = |message: String| fail(format!("target {}: {message}", index + 1));
                let substitute = |text: &str| substitute(text, &variable).map_err(&fail);
                let check_field = |field: &str, payload: Payload, what: &str| {
                    let fields = payload_fields(&route.detail_type, payload);
                    if fields.contains(&field) {
                        Ok(())
                    } else {
                        Err(fail(format!(
                            "{what} {field:?} is not a field of the payload; one of {fields:?}"
                        )))
                    }
                };
                targets.push(match target {
                    TargetConfig::Kinesis {
                        stream,
                        partition_key,
                        payload,
                    } => {
                        check_field(&partition_key, payload, "partition_key")?;
                        let stream = substitute(&stream)?;
                        if stream.is_empty() {
                            return Err(fail("the stream name is empty".into()));
                        }
                        Target::Kinesis {
                            stream,
                            partition_key,
                            payload,
                        }
                    }
                    TargetConfig::Sqs {
                        queue_url,
                        message_group,
                        payload,
                    } => {
                        let queue_url = substitute(&queue_url)?;
                        if !(queue_url.starts_with("https://") || queue_url.starts_with("http://"))
                        {
                            return Err(fail(format!(
                                "queue_url {queue_url:?} is not a queue URL"
                            )));
                        }
                        match (queue_url.ends_with(".fifo"), &message_group) {
                            (true, None) => {
                                return Err(fail("a FIFO queue needs a message_group".into()));
                            }
                            (false, Some(_)) => {
                                return Err(fail(
                                    "message_group is only for FIFO queues (URL ending in .fifo)"
                                        .into(),
                                ));
                            }
                            (true, Some(group)) => check_field(group, payload, "message_group")?,
                            (false, None) => {}
                        }
                        Target::Sqs {
                            queue_url,
                            message_group,
                            payload,
                        }
                    }
                });
            }
            // Two FIFO targets on one queue would share the eventId as deduplication id, and
            // SQS would drop the second.
            let mut fifo_queues = HashSet::new();
            for target in &targets {
                if let Target::Sqs {
                    queue_url,
                    message_group: Some(_),
                    ..
                } = target
                    && !fifo_queues.insert(queue_url.clone())
                {
                    return Err(fail(format!(
                        "two targets send to the FIFO queue {queue_url}"
                    )));
                }
            }
            routes.push(Route {
                detail_type: route.detail_type,
                source: route.source,
                targets,
            });
        }
        Ok(Self { routes })
    }

    /// The targets for an event: the route for its detail-type and source, else the one for its
    /// detail-type alone.
    pub fn targets(&self, detail_type: &str, source: &str) -> Option<&[Target]> {
        let for_type = || self.routes.iter().filter(|r| r.detail_type == detail_type);
        for_type()
            .find(|r| r.source.as_deref() == Some(source))
            .or_else(|| for_type().find(|r| r.source.is_none()))
            .map(|r| r.targets.as_slice())
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

fn substitute(text: &str, variable: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
        let name = &after[..end];
        let value = variable(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                format!("{text:?} needs the environment variable {name}, which is not set")
            })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "ACTIVITY_STREAM" => Some("prod-activity".into()),
            "ORDERS_QUEUE_URL" => {
                Some("https://sqs.us-east-1.amazonaws.com/1/prod-orders.fifo".into())
            }
            _ => None,
        }
    }

    fn error(json: &str) -> String {
        RoutingTable::parse(json, env).unwrap_err().to_string()
    }

    #[test]
    fn the_default_table_routes_activity_and_orders() {
        let table = RoutingTable::parse(DEFAULT_ROUTING_TABLE, env).unwrap();
        assert_eq!(
            table.targets(USER_ACTIVITY, "web"),
            Some(
                &[Target::Kinesis {
                    stream: "prod-activity".into(),
                    partition_key: "userId".into(),
                    payload: Payload::Event
                }][..]
            )
        );
        let orders = table.targets(ORDER_PLACED, "shop").unwrap();
        assert_eq!(orders.len(), 2);
        assert!(matches!(
            &orders[0],
            Target::Kinesis {
                payload: Payload::Activity,
                ..
            }
        ));
        assert!(matches!(&orders[1], Target::Sqs { message_group: Some(g), .. } if g == "userId"));
    }

    #[test]
    fn a_route_with_a_source_wins() {
        let table = RoutingTable::parse(
            r#"{"routes": [
              {"detail_type": "user_activity", "targets": [{"kinesis": {"stream": "all"}}]},
              {"detail_type": "user_activity", "source": "mobile", "targets": [{"kinesis": {"stream": "mobile"}}]}]}"#,
            env,
        )
        .unwrap();
        let stream = |source| match &table.targets(USER_ACTIVITY, source).unwrap()[0] {
            Target::Kinesis { stream, .. } => stream.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(stream("mobile"), "mobile");
        assert_eq!(stream("web"), "all");
        assert_eq!(table.targets(ORDER_PLACED, "web"), None);
    }

    #[test]
    fn mistakes_fail_with_the_route_and_target_named() {
        assert!(error("{").contains("not valid"));
        assert!(error(r#"{"routes": []}"#).contains("no routes"));
        let message = error(
            r#"{"routes": [{"detail_type": "invoice", "targets": [{"kinesis": {"stream": "s"}}]}]}"#,
        );
        assert!(
            message.contains("route 1 (invoice): detail_type must be"),
            "{message}"
        );
        let message = error(
            r#"{"routes": [{"detail_type": "user_activity", "targets": [{"kinesis": {"stream": "${NOPE}"}}]}]}"#,
        );
        assert!(
            message.contains("target 1") && message.contains("NOPE, which is not set"),
            "{message}"
        );
        let message = error(
            r#"{"routes": [{"detail_type": "user_activity", "targets": [{"kinesis": {"stream": "s", "partition_key": "orderId"}}]}]}"#,
        );
        assert!(message.contains("\"orderId\" is not a field"), "{message}");
        let message = error(
            r#"{"routes": [{"detail_type": "order_placed", "targets": [{"sqs": {"queue_url": "${ORDERS_QUEUE_URL}"}}]}]}"#,
        );
        assert!(
            message.contains("FIFO queue needs a message_group"),
            "{message}"
        );
        let message = error(
            r#"{"routes": [{"detail_type": "order_placed", "targets": [{"sqs": {"queue_url": "https://q/standard", "message_group": "userId"}}]}]}"#,
        );
        assert!(message.contains("only for FIFO"), "{message}");
        let message = error(
            r#"{"routes": [{"detail_type": "order_placed", "targets": [
            {"sqs": {"queue_url": "${ORDERS_QUEUE_URL}", "message_group": "userId"}},
            {"sqs": {"queue_url": "${ORDERS_QUEUE_URL}", "message_group": "orderId"}}]}]}"#,
        );
        assert!(
            message.contains("two targets send to the FIFO queue"),
            "{message}"
        );
        let message =
            error(r#"{"routes": [{"detail_type": "order_placed", "targets": [{"s3": {}}]}]}"#);
        assert!(message.contains("unknown variant `s3`"), "{message}");
        let message = error(
            r#"{"routes": [
            {"detail_type": "order_placed", "targets": [{"kinesis": {"stream": "a"}}]},
            {"detail_type": "order_placed", "targets": [{"kinesis": {"stream": "b"}}]}]}"#,
        );
        assert!(
            message.contains("route 2 (order_placed): a route for this detail_type"),
            "{message}"
        );
    }
}

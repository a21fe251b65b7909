//! The domain events of the pipeline, defined once: what producers put in an EventBridge
//! event's `detail`, how it is validated, and the canonical records the router writes onward.
//!
//! | detail-type     | producer detail      | canonical record                    |
//! |-----------------|----------------------|-------------------------------------|
//! | `user_activity` | [`ActivityDetail`]   | [`ActivityEvent`] (activity stream) |
//! | `order_placed`  | [`OrderPlacedDetail`]| [`OrderPlaced`] (orders queue), and [`OrderPlaced::as_activity`] (a `purchase` on the activity stream) |
//!
//! Every canonical record carries an `eventId`: the producer's `detail.eventId` when given,
//! else the EventBridge event's `id`. Consumers are idempotent on it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use time::{Duration, OffsetDateTime};

pub const USER_ACTIVITY: &str = "user_activity";
pub const ORDER_PLACED: &str = "order_placed";

/// Largest accepted `detail`, serialized (the rest of an EventBridge event is small and fixed).
pub const MAX_DETAIL_BYTES: usize = 16 * 1024;
pub const MAX_ID_CHARS: usize = 128;
pub const MAX_ATTRIBUTES: usize = 20;
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 64;
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 256;
pub const MAX_ORDER_ITEMS: usize = 100;
/// Largest accepted amount or price, in the currency's major unit.
pub const MAX_AMOUNT: f64 = 1_000_000_000.0;

/// Accepted distance between an event's own time and the time it is processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimits {
    /// How far ahead of the processing clock an event time may be (producers' clock skew).
    pub max_future_skew: Duration,
    /// How old an event may be when processed.
    pub max_age: Duration,
}

impl Default for TimeLimits {
    fn default() -> Self {
        Self {
            max_future_skew: Duration::minutes(5),
            max_age: Duration::days(7),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    Click,
    View,
    Search,
    AddToCart,
    Purchase,
    Login,
}

impl ActivityType {
    /// The name producers and records use (`add_to_cart`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ActivityType::Click => "click",
            ActivityType::View => "view",
            ActivityType::Search => "search",
            ActivityType::AddToCart => "add_to_cart",
            ActivityType::Purchase => "purchase",
            ActivityType::Login => "login",
        }
    }

    pub const ALL: [ActivityType; 6] = [
        ActivityType::Click,
        ActivityType::View,
        ActivityType::Search,
        ActivityType::AddToCart,
        ActivityType::Purchase,
        ActivityType::Login,
    ];
}

/// `detail` of a `user_activity` event, as producers send it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivityDetail {
    #[serde(default)]
    pub event_id: Option<String>,
    pub user_id: String,
    #[serde(rename = "type")]
    pub activity_type: ActivityType,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    #[serde(default)]
    pub item_id: Option<String>,
    #[serde(default)]
    pub amount: Option<f64>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// One user action, as written to the activity stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEvent {
    pub event_id: String,
    pub user_id: String,
    #[serde(rename = "type")]
    pub activity_type: ActivityType,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderItem {
    pub item_id: String,
    pub quantity: u32,
    pub price: f64,
}

/// `detail` of an `order_placed` event, as producers send it. Without `timestamp` the order is
/// placed at the EventBridge event's `time`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderPlacedDetail {
    #[serde(default)]
    pub event_id: Option<String>,
    pub order_id: String,
    pub user_id: String,
    pub amount: f64,
    pub currency: String,
    /// Each an object, as the detail is.
    #[serde(deserialize_with = "crate::json::objects")]
    pub items: Vec<OrderItem>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub timestamp: Option<OffsetDateTime>,
}

/// An order, as written to the orders queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub event_id: String,
    pub order_id: String,
    pub user_id: String,
    pub amount: f64,
    pub currency: String,
    pub items: Vec<OrderItem>,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
}

impl OrderPlaced {
    /// The order as the `purchase` activity of its user, with the order's amount.
    pub fn as_activity(&self) -> ActivityEvent {
        let item_id = match self.items.as_slice() {
            [only] => Some(only.item_id.clone()),
            _ => None,
        };
        ActivityEvent {
            event_id: self.event_id.clone(),
            user_id: self.user_id.clone(),
            activity_type: ActivityType::Purchase,
            timestamp: self.timestamp,
            item_id,
            amount: Some(self.amount),
            attributes: BTreeMap::from([
                ("orderId".to_owned(), self.order_id.clone()),
                ("currency".to_owned(), self.currency.clone()),
            ]),
        }
    }
}

/// A validated event of a known type.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    Activity(ActivityEvent),
    Order(OrderPlaced),
}

impl DomainEvent {
    pub fn event_id(&self) -> &str {
        match self {
            DomainEvent::Activity(event) => &event.event_id,
            DomainEvent::Order(order) => &order.event_id,
        }
    }

    pub fn detail_type(&self) -> &'static str {
        match self {
            DomainEvent::Activity(_) => USER_ACTIVITY,
            DomainEvent::Order(_) => ORDER_PLACED,
        }
    }

    /// The event as a user activity, when it is one or stands for one.
    pub fn as_activity(&self) -> ActivityEvent {
        match self {
            DomainEvent::Activity(event) => event.clone(),
            DomainEvent::Order(order) => order.as_activity(),
        }
    }

    /// The canonical record, as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            DomainEvent::Activity(event) => serde_json::to_value(event),
            DomainEvent::Order(order) => serde_json::to_value(order),
        };
        value.expect("canonical events serialize")
    }
}

/// Why an event can never be processed. Shown to operators with the rejected body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The message body is not JSON.
    NotJson(String),
    /// JSON, but not an EventBridge event.
    NotAnEvent(String),
    /// A detail-type this pipeline has no schema for.
    UnknownDetailType(String),
    /// The detail breaks its schema.
    Schema(String),
    TooLarge {
        bytes: usize,
        limit: usize,
    },
    InFuture {
        timestamp: String,
        skew: Duration,
    },
    TooOld {
        timestamp: String,
        age: Duration,
    },
}

impl Rejection {
    /// A stable code for counting and filtering rejects.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NotJson(_) => "not-json",
            Rejection::NotAnEvent(_) => "not-an-event",
            Rejection::UnknownDetailType(_) => "unknown-detail-type",
            Rejection::Schema(_) => "schema-violation",
            Rejection::TooLarge { .. } => "too-large",
            Rejection::InFuture { .. } => "timestamp-in-future",
            Rejection::TooOld { .. } => "timestamp-too-old",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotJson(error) => write!(f, "the body is not JSON: {error}"),
            Rejection::NotAnEvent(error) => {
                write!(f, "the body is not an EventBridge event: {error}")
            }
            Rejection::UnknownDetailType(detail_type) => write!(
                f,
                "detail-type {detail_type:?} is not one this pipeline knows ({USER_ACTIVITY}, {ORDER_PLACED})"
            ),
            Rejection::Schema(error) => write!(f, "detail: {error}"),
            Rejection::TooLarge { bytes, limit } => {
                write!(f, "detail is {bytes} bytes; the limit is {limit}")
            }
            Rejection::InFuture { timestamp, skew } => write!(
                f,
                "timestamp {timestamp} is more than {} s ahead of the processing clock",
                skew.whole_seconds()
            ),
            Rejection::TooOld { timestamp, age } => write!(
                f,
                "timestamp {timestamp} is older than the accepted {} s",
                age.whole_seconds()
            ),
        }
    }
}

/// The parts of the EventBridge envelope validation needs.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    pub id: Option<&'a str>,
    pub detail_type: &'a str,
    pub time: Option<OffsetDateTime>,
}

/// Validates `detail` (its JSON text, as the producer sent it) of the event `envelope`
/// describes. Event times are checked against the envelope's `time` (when the bus received the
/// event), or `now` when the envelope has none.
pub fn validate(
    envelope: Envelope<'_>,
    detail: &str,
    now: OffsetDateTime,
    limits: TimeLimits,
) -> Result<DomainEvent, Rejection> {
    let size = detail.len();
    if size > MAX_DETAIL_BYTES {
        return Err(Rejection::TooLarge {
            bytes: size,
            limit: MAX_DETAIL_BYTES,
        });
    }
    let event = match envelope.detail_type {
        USER_ACTIVITY => {
            let detail: ActivityDetail = parse_detail(detail)?;
            let event_id = event_id(detail.event_id, envelope.id)?;
            check_id("userId", &detail.user_id)?;
            if let Some(item_id) = &detail.item_id {
                check_id("itemId", item_id)?;
            }
            if let Some(amount) = detail.amount {
                check_amount("amount", amount)?;
            }
            check_attributes(&detail.attributes)?;
            DomainEvent::Activity(ActivityEvent {
                event_id,
                user_id: detail.user_id,
                activity_type: detail.activity_type,
                timestamp: detail.timestamp.to_offset(time::UtcOffset::UTC),
                item_id: detail.item_id,
                amount: detail.amount,
                attributes: detail.attributes,
            })
        }
        ORDER_PLACED => {
            let detail: OrderPlacedDetail = parse_detail(detail)?;
            let event_id = event_id(detail.event_id, envelope.id)?;
            check_id("orderId", &detail.order_id)?;
            check_id("userId", &detail.user_id)?;
            check_amount("amount", detail.amount)?;
            if detail.currency.len() != 3
                || !detail.currency.bytes().all(|b| b.is_ascii_uppercase())
            {
                return Err(Rejection::Schema(format!(
                    "currency {:?} is not an ISO 4217 code (three capital letters)",
                    detail.currency
                )));
            }
            if detail.items.is_empty() || detail.items.len() > MAX_ORDER_ITEMS {
                return Err(Rejection::Schema(format!(
                    "an order has 1..={MAX_ORDER_ITEMS} items, this one {}",
                    detail.items.len()
                )));
            }
            for item in &detail.items {
                check_id("items[].itemId", &item.item_id)?;
                check_amount("items[].price", item.price)?;
                if item.quantity == 0 {
                    return Err(Rejection::Schema(format!(
                        "item {} has quantity 0",
                        item.item_id
                    )));
                }
            }
            let timestamp = detail
                .timestamp
                .or(envelope.time)
                .map(|t| t.to_offset(time::UtcOffset::UTC))
                .ok_or_else(|| {
                    Rejection::Schema("no timestamp in detail and no time in the event".into())
                })?;
            DomainEvent::Order(OrderPlaced {
                event_id,
                order_id: detail.order_id,
                user_id: detail.user_id,
                amount: detail.amount,
                currency: detail.currency,
                items: detail.items,
                timestamp,
            })
        }
        other => return Err(Rejection::UnknownDetailType(other.to_owned())),
    };
    let timestamp = match &event {
        DomainEvent::Activity(event) => event.timestamp,
        DomainEvent::Order(order) => order.timestamp,
    };
    // Age and skew are measured against the time the bus received the event, when there is
    // one: the verdict is then the same on every redelivery (and after a DLQ redrive days
    // later), so a message is never routed once and rejected the next time.
    check_time(timestamp, envelope.time.unwrap_or(now), limits)?;
    Ok(event)
}

/// Deserializes a detail, naming the field at fault (`items[0].price: invalid type ...`).
fn parse_detail<T: serde::de::DeserializeOwned>(detail: &str) -> Result<T, Rejection> {
    parse_json(detail).map_err(|fault| Rejection::Schema(fault.to_string()))
}

/// Why a JSON text did not deserialize, and where: the path of the field at fault, `.` for
/// the document itself.
#[derive(Debug)]
struct JsonFault {
    path: String,
    error: serde_json::Error,
}

impl std::fmt::Display for JsonFault {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path == "." {
            write!(formatter, "{}", self.error)
        } else {
            write!(formatter, "{}: {}", self.path, self.error)
        }
    }
}

/// Deserializes `text`, one JSON object and nothing after it (an array of the fields would
/// otherwise pass for the struct). Tracking the path of the field at fault slows every parse
/// (about a quarter of decoding a record), so only a parse that failed is repeated with it: the
/// message is the same, and valid input never pays for it.
fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, JsonFault> {
    crate::json::expect_object(text.as_bytes()).map_err(|error| JsonFault {
        path: ".".into(),
        error,
    })?;
    fn whole<T>(
        mut deserializer: serde_json::Deserializer<serde_json::de::StrRead<'_>>,
        value: T,
    ) -> Result<T, JsonFault> {
        deserializer
            .end()
            .map(|()| value)
            .map_err(|error| JsonFault {
                path: ".".into(),
                error,
            })
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    if let Ok(value) = T::deserialize(&mut deserializer) {
        return whole(deserializer, value);
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => whole(deserializer, value),
        Err(error) => Err(JsonFault {
            path: error.path().to_string(),
            error: error.into_inner(),
        }),
    }
}

fn event_id(from_detail: Option<String>, envelope_id: Option<&str>) -> Result<String, Rejection> {
    let id = from_detail
        .or_else(|| envelope_id.map(str::to_owned))
        .ok_or_else(|| Rejection::Schema("no eventId in detail and no id in the event".into()))?;
    check_id("eventId", &id)?;
    Ok(id)
}

/// An id (`userId`, `eventId`, …): 1 to [`MAX_ID_CHARS`] characters, no control characters,
/// noncharacters or surrounding white space.
pub fn check_id(field: &str, value: &str) -> Result<(), Rejection> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_ID_CHARS {
        return Err(Rejection::Schema(format!(
            "{field} must be 1..={MAX_ID_CHARS} characters, not {chars}"
        )));
    }
    if value.chars().any(|c| c.is_control() || is_noncharacter(c)) || value.trim() != value {
        return Err(Rejection::Schema(format!(
            "{field} has control characters, noncharacters or surrounding white space"
        )));
    }
    Ok(())
}

/// U+FFFE, U+FFFF and the like: valid in JSON, refused by SQS.
fn is_noncharacter(c: char) -> bool {
    let code = c as u32;
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

fn check_amount(field: &str, amount: f64) -> Result<(), Rejection> {
    if amount.is_finite() && (0.0..=MAX_AMOUNT).contains(&amount) {
        Ok(())
    } else {
        Err(Rejection::Schema(format!(
            "{field} {amount} is outside 0..={MAX_AMOUNT}"
        )))
    }
}

fn check_attributes(attributes: &BTreeMap<String, String>) -> Result<(), Rejection> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(Rejection::Schema(format!(
            "{} attributes; the limit is {MAX_ATTRIBUTES}",
            attributes.len()
        )));
    }
    for (key, value) in attributes {
        let key_chars = key.chars().count();
        if key_chars == 0
            || key_chars > MAX_ATTRIBUTE_KEY_CHARS
            || key.chars().any(char::is_control)
        {
            return Err(Rejection::Schema(format!(
                "attribute name {key:?} must be 1..={MAX_ATTRIBUTE_KEY_CHARS} characters without control characters"
            )));
        }
        if value.chars().any(is_noncharacter) {
            return Err(Rejection::Schema(format!(
                "attribute {key} has noncharacters (such as U+FFFF)"
            )));
        }
        if value.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS {
            return Err(Rejection::Schema(format!(
                "attribute {key} is longer than {MAX_ATTRIBUTE_VALUE_CHARS} characters"
            )));
        }
    }
    Ok(())
}

/// Largest activity record read from a stream (the router writes a few hundred bytes).
pub const MAX_RECORD_BYTES: usize = 32 * 1024;

impl ActivityEvent {
    /// Reads an activity record as written to the activity stream, with the checks the router
    /// applied to its detail (ids, amount, attributes) and an event time no further ahead of
    /// `arrival`, when the stream took the record, than `max_future_skew`: the verdict is the
    /// same on every redelivery. Age is not checked: placing late events is the consumer's job.
    pub fn from_record(
        data: &[u8],
        arrival: OffsetDateTime,
        max_future_skew: Duration,
    ) -> Result<Self, Rejection> {
        if data.len() > MAX_RECORD_BYTES {
            return Err(Rejection::TooLarge {
                bytes: data.len(),
                limit: MAX_RECORD_BYTES,
            });
        }
        let text = std::str::from_utf8(data)
            .map_err(|error| Rejection::NotJson(format!("not UTF-8: {error}")))?;
        let event: ActivityEvent = parse_json(text).map_err(|fault| {
            if fault.error.is_syntax() || fault.error.is_eof() {
                Rejection::NotJson(fault.error.to_string())
            } else {
                Rejection::Schema(fault.to_string())
            }
        })?;
        check_id("eventId", &event.event_id)?;
        check_id("userId", &event.user_id)?;
        if let Some(item_id) = &event.item_id {
            check_id("itemId", item_id)?;
        }
        if let Some(amount) = event.amount {
            check_amount("amount", amount)?;
        }
        check_attributes(&event.attributes)?;
        let limits = TimeLimits {
            max_future_skew,
            max_age: Duration::MAX,
        };
        check_time(event.timestamp, arrival, limits)?;
        Ok(ActivityEvent {
            timestamp: event.timestamp.to_offset(time::UtcOffset::UTC),
            ..event
        })
    }
}

fn check_time(
    timestamp: OffsetDateTime,
    now: OffsetDateTime,
    limits: TimeLimits,
) -> Result<(), Rejection> {
    let shown = || {
        timestamp
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    if timestamp - now > limits.max_future_skew {
        return Err(Rejection::InFuture {
            timestamp: shown(),
            skew: limits.max_future_skew,
        });
    }
    if now - timestamp > limits.max_age {
        return Err(Rejection::TooOld {
            timestamp: shown(),
            age: limits.max_age,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    fn envelope(detail_type: &str) -> Envelope<'_> {
        Envelope {
            id: Some("eb-id-1"),
            detail_type,
            time: Some(NOW),
        }
    }

    fn activity(detail: serde_json::Value) -> Result<DomainEvent, Rejection> {
        validate(
            envelope(USER_ACTIVITY),
            &detail.to_string(),
            NOW,
            TimeLimits::default(),
        )
    }

    fn order(detail: serde_json::Value) -> Result<DomainEvent, Rejection> {
        validate(
            envelope(ORDER_PLACED),
            &detail.to_string(),
            NOW,
            TimeLimits::default(),
        )
    }

    fn valid_order() -> serde_json::Value {
        json!({"orderId": "o-1", "userId": "u-1", "amount": 25.5, "currency": "EUR",
               "items": [{"itemId": "sku-1", "quantity": 1, "price": 25.5}]})
    }

    #[test]
    fn an_activity_is_canonical_with_the_envelope_id_as_event_id() {
        let event = activity(json!({"userId": "u-1", "type": "add_to_cart",
            "timestamp": "2026-11-23T09:58:00+01:00", "itemId": "sku-1",
            "attributes": {"page": "home"}}))
        .unwrap();
        let DomainEvent::Activity(event) = event else {
            panic!("an activity")
        };
        assert_eq!(event.event_id, "eb-id-1");
        assert_eq!(event.activity_type, ActivityType::AddToCart);
        assert_eq!(event.timestamp, datetime!(2026-11-23 08:58:00 UTC));
        let record = serde_json::to_value(&event).unwrap();
        assert_eq!(record["type"], "add_to_cart");
        assert_eq!(record["userId"], "u-1");
        assert!(record.get("amount").is_none(), "absent fields stay absent");
    }

    #[test]
    fn time_is_judged_against_when_the_bus_received_the_event() {
        // Received 6 days ago with a timestamp from then, processed today (a DLQ redrive):
        // still valid, as it was on its first delivery.
        let received = NOW - Duration::days(6);
        let detail =
            json!({"userId": "u", "type": "view", "timestamp": "2026-11-17T09:59:00Z"}).to_string();
        let envelope = Envelope {
            id: Some("e"),
            detail_type: USER_ACTIVITY,
            time: Some(received),
        };
        let later = NOW + Duration::days(2);
        assert!(validate(envelope, &detail, later, TimeLimits::default()).is_ok());
        // Without an envelope time, the processing clock decides.
        let envelope = Envelope {
            time: None,
            ..envelope
        };
        assert_eq!(
            validate(envelope, &detail, later, TimeLimits::default())
                .unwrap_err()
                .code(),
            "timestamp-too-old"
        );
    }

    #[test]
    fn noncharacters_are_refused_and_times_become_utc() {
        let rejected = activity(
            json!({"userId": "u\u{FFFF}", "type": "view", "timestamp": "2026-11-23T09:59:00Z"}),
        );
        assert_eq!(rejected.unwrap_err().code(), "schema-violation");
        let event = activity(
            json!({"userId": "u", "type": "view", "timestamp": "2026-11-23T10:59:00+01:00"}),
        )
        .unwrap();
        let DomainEvent::Activity(event) = event else {
            panic!()
        };
        assert_eq!(
            serde_json::to_value(&event).unwrap()["timestamp"],
            "2026-11-23T09:59:00Z"
        );
    }

    #[test]
    fn type_names_are_the_serialized_ones() {
        for activity_type in ActivityType::ALL {
            assert_eq!(
                serde_json::to_value(activity_type).unwrap(),
                activity_type.as_str()
            );
        }
    }

    #[test]
    fn the_producers_event_id_wins() {
        let event = activity(json!({"eventId": "mine", "userId": "u", "type": "click",
            "timestamp": "2026-11-23T09:59:59Z"}))
        .unwrap();
        assert_eq!(event.event_id(), "mine");
    }

    #[test]
    fn an_order_stands_for_a_purchase_with_its_amount() {
        let DomainEvent::Order(order) = order(valid_order()).unwrap() else {
            panic!()
        };
        assert_eq!(order.timestamp, NOW, "the envelope's time");
        let purchase = order.as_activity();
        assert_eq!(purchase.activity_type, ActivityType::Purchase);
        assert_eq!(purchase.amount, Some(25.5));
        assert_eq!(purchase.item_id.as_deref(), Some("sku-1"));
        assert_eq!(purchase.attributes["orderId"], "o-1");
        assert_eq!(purchase.event_id, order.event_id);
    }

    #[test]
    fn schema_violations_say_what_is_wrong() {
        let reason = |result: Result<DomainEvent, Rejection>| {
            let rejection = result.unwrap_err();
            (rejection.code(), rejection.to_string())
        };
        let (code, text) = reason(activity(
            json!({"type": "click", "timestamp": "2026-11-23T09:59:00Z"}),
        ));
        assert_eq!(code, "schema-violation");
        assert!(text.contains("missing field `userId`"), "{text}");
        let (_, text) = reason(activity(
            json!({"userId": "u", "type": "hover", "timestamp": "2026-11-23T09:59:00Z"}),
        ));
        assert!(text.contains("unknown variant `hover`"), "{text}");
        let (_, text) = reason(activity(
            json!({"userId": "u", "type": "click", "timestamp": "yesterday"}),
        ));
        assert!(text.starts_with("detail: timestamp: "), "{text}");
        let mut bad = valid_order();
        bad["items"][0]["price"] = "free".into();
        let (_, text) = reason(order(bad));
        assert!(
            text.starts_with("detail: items[0].price: invalid type"),
            "{text}"
        );
        let (_, text) = reason(activity(
            json!({"userID": "u", "type": "click", "timestamp": "2026-11-23T09:59:00Z"}),
        ));
        assert!(text.contains("unknown field `userID`"), "{text}");
        let (_, text) = reason(activity(
            json!({"userId": " u", "type": "click", "timestamp": "2026-11-23T09:59:00Z"}),
        ));
        assert!(text.contains("white space"), "{text}");
        let (_, text) = reason(activity(
            json!({"userId": "u", "type": "click", "amount": -1.0, "timestamp": "2026-11-23T09:59:00Z"}),
        ));
        assert!(text.contains("amount -1"), "{text}");
        let attributes: BTreeMap<String, String> =
            (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
        let (_, text) = reason(activity(
            json!({"userId": "u", "type": "click", "attributes": attributes, "timestamp": "2026-11-23T09:59:00Z"}),
        ));
        assert!(text.contains("21 attributes"), "{text}");

        let mut bad = valid_order();
        bad["currency"] = "eur".into();
        assert!(reason(order(bad)).1.contains("ISO 4217"));
        let mut bad = valid_order();
        bad["items"] = json!([]);
        assert!(reason(order(bad)).1.contains("1..=100 items"));
        let mut bad = valid_order();
        bad["items"][0]["quantity"] = 0.into();
        assert!(reason(order(bad)).1.contains("quantity 0"));
    }

    #[test]
    fn a_detail_must_be_an_object_and_so_must_each_order_item() {
        let refused = |result: Result<DomainEvent, Rejection>| {
            let rejection = result.unwrap_err();
            assert_eq!(rejection.code(), "schema-violation", "{rejection}");
            rejection.to_string()
        };
        // Read by position, this array passed for a valid activity.
        let positional = json!(["e1", "user-1", "view", "2026-11-23T09:59:00Z"]);
        assert_eq!(
            refused(activity(positional)),
            "detail: must be a JSON object, not an array"
        );
        for (detail, kind) in [
            (json!("user-1"), "a string"),
            (json!(7), "a number"),
            (json!(null), "null"),
            (json!(true), "a boolean"),
        ] {
            assert_eq!(
                refused(activity(detail)),
                format!("detail: must be a JSON object, not {kind}")
            );
        }
        let positional_order = json!([null, "o-1", "u-1", 25.5, "EUR",
            [{"itemId": "sku-1", "quantity": 1, "price": 25.5}]]);
        assert_eq!(
            refused(order(positional_order)),
            "detail: must be a JSON object, not an array"
        );
        let mut bad = valid_order();
        bad["items"] =
            json!([{"itemId": "sku-1", "quantity": 1, "price": 20.5}, ["sku-2", 1, 5.0]]);
        let text = refused(order(bad));
        assert!(
            text.starts_with("detail: items[1]: must be a JSON object, not an array"),
            "{text}"
        );
        assert!(
            activity(json!({"userId": "u", "type": "view", "timestamp": "2026-11-23T09:59:00Z"}))
                .is_ok()
        );
        assert!(order(valid_order()).is_ok());
    }

    #[test]
    fn time_limits_and_size() {
        let at = |timestamp: &str| {
            activity(json!({"userId": "u", "type": "view", "timestamp": timestamp}))
                .map_err(|rejection| rejection.code())
        };
        assert!(at("2026-11-23T10:04:59Z").is_ok(), "inside the skew");
        assert_eq!(
            at("2026-11-23T10:05:01Z").unwrap_err(),
            "timestamp-in-future"
        );
        assert!(at("2026-11-16T10:00:01Z").is_ok(), "inside seven days");
        assert_eq!(at("2026-11-16T09:59:59Z").unwrap_err(), "timestamp-too-old");

        let big = "x".repeat(MAX_ATTRIBUTE_VALUE_CHARS);
        let attributes: BTreeMap<String, String> =
            (0..20).map(|i| (format!("k{i}"), big.clone())).collect();
        let mut detail = json!({"userId": "u", "type": "view", "timestamp": "2026-11-23T09:59:00Z",
                                "attributes": attributes});
        detail["padding"] = "x".repeat(MAX_DETAIL_BYTES).into();
        assert_eq!(activity(detail).unwrap_err().code(), "too-large");
        assert_eq!(
            validate(envelope("invoice_sent"), "{}", NOW, TimeLimits::default()).unwrap_err(),
            Rejection::UnknownDetailType("invoice_sent".into())
        );
    }

    #[test]
    fn activity_records_are_read_with_the_router_checks() {
        let arrival = NOW;
        let skew = Duration::minutes(5);
        let record = json!({"eventId": "e-1", "userId": "u-1", "type": "add_to_cart",
                            "timestamp": "2026-11-23T11:00:00+01:00", "amount": 3.5});
        let event =
            ActivityEvent::from_record(record.to_string().as_bytes(), arrival, skew).unwrap();
        assert_eq!(event.activity_type, ActivityType::AddToCart);
        assert_eq!(event.timestamp, NOW, "normalized to UTC");
        assert_eq!(event.amount, Some(3.5));

        let read = |data: &[u8]| ActivityEvent::from_record(data, arrival, skew).unwrap_err();
        assert_eq!(read(b"{\"eventId\": ").code(), "not-json");
        assert_eq!(read(&[0xff, 0xfe]).code(), "not-json");
        let trailing = format!("{record} x");
        assert_eq!(
            read(trailing.as_bytes()).code(),
            "not-json",
            "trailing data"
        );
        let missing =
            read(br#"{"eventId": "e", "type": "view", "timestamp": "2026-11-23T10:00:00Z"}"#);
        assert!(missing.to_string().contains("userId"), "{missing}");
        let bad_type = read(
            br#"{"eventId": "e", "userId": "u", "type": "hover", "timestamp": "2026-11-23T10:00:00Z"}"#,
        );
        assert!(
            bad_type.to_string().starts_with("detail: type:"),
            "{bad_type}"
        );
        let empty_user = read(
            br#"{"eventId": "e", "userId": "", "type": "view", "timestamp": "2026-11-23T10:00:00Z"}"#,
        );
        assert_eq!(empty_user.code(), "schema-violation");
        let future = read(
            br#"{"eventId": "e", "userId": "u", "type": "view", "timestamp": "2026-11-23T10:06:00Z"}"#,
        );
        assert_eq!(future.code(), "timestamp-in-future");
        let old = br#"{"eventId": "e", "userId": "u", "type": "view", "timestamp": "2020-01-01T00:00:00Z"}"#;
        assert!(
            ActivityEvent::from_record(old, arrival, skew).is_ok(),
            "late events are the consumer's to place"
        );
        assert_eq!(read(&vec![b' '; MAX_RECORD_BYTES + 1]).code(), "too-large");
    }

    #[test]
    fn an_activity_or_enriched_record_must_be_an_object() {
        let read = |data: &str| {
            ActivityEvent::from_record(data.as_bytes(), NOW, Duration::minutes(5))
                .map_err(|rejection| (rejection.code(), rejection.to_string()))
        };
        // Read by position, this array passed for a valid record.
        assert_eq!(
            read(r#"["e-1", "u-1", "view", "2026-11-23T09:59:00Z"]"#).unwrap_err(),
            (
                "schema-violation",
                "detail: must be a JSON object, not an array".to_owned()
            )
        );
        for (data, kind) in [
            (r#""e-1""#, "a string"),
            ("1.5", "a number"),
            ("null", "null"),
            ("true", "a boolean"),
        ] {
            assert_eq!(
                read(data).unwrap_err(),
                (
                    "schema-violation",
                    format!("detail: must be a JSON object, not {kind}")
                )
            );
        }
        assert_eq!(read(r#"["e-1", "#).unwrap_err().0, "not-json");
        assert_eq!(read("[] x").unwrap_err().0, "not-json");
        let enriched = json!({"eventId": "e-1", "userId": "u-1", "type": "view",
            "timestamp": "2026-11-23T09:59:00Z",
            "profile": {"found": false, "segment": "unknown", "country": "unknown",
                        "plan": "unknown", "signupTime": null},
            "session": {"id": "s-1", "position": 1}});
        assert_eq!(read(&enriched.to_string()).unwrap().user_id, "u-1");
    }
}

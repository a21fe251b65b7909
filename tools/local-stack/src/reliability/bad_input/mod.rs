//! The bad-input catalogue: malformed inputs sent through every trigger of the running stack
//! (the event bus, the ingest queue, both streams, both HTTP APIs, and Lambda events handed to
//! the functions directly), with good inputs interleaved. Every bad input must come out as a
//! reject with the expected code and a reason on the rejects queue, exactly once, or as a clear
//! error (a 4xx problem document, a function error): never a crash, a retry loop or a silent
//! loss. Every good input must be processed as if the bad ones had not been there.

mod catalogue;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageSystemAttributeName;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::Value;
use time::OffsetDateTime;

pub use catalogue::{Case, Expected, Input, Trigger, catalogue};

use crate::demo::features;
use crate::reliability::fault_workloads::{set_aside, wait_until_quiet};
use crate::report::render_verdict;
use emulator::functions::InvokeError;
use emulator::http_client::{HttpClient, excerpt};
use emulator::resources::Clients;
use emulator::running_stack::RunningStack;
use emulator::token;

/// How long the pipeline may take to reject or apply every input.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Queues where a message means an input was lost to a retry loop instead of rejected.
const LOSS_QUEUES: [&str; 3] = ["ingest-dlq", "enrichment-failures", "feature-failures"];

/// What each trigger's inputs came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TriggerCounts {
    pub tried: usize,
    /// Bad inputs set aside on the rejects queue with the expected code and a reason.
    pub rejected: usize,
    /// Bad inputs answered with a clear error (a problem document, a function error).
    pub refused: usize,
    /// Good inputs processed.
    pub processed: usize,
    /// Inputs whose outcome was not the expected one.
    pub failed: usize,
}

#[derive(Debug, Default)]
pub struct BadInputReport {
    pub counts: BTreeMap<Trigger, TriggerCounts>,
    /// Messages on the rejects queue, all of them traced back to their input or failures.
    pub rejects_seen: usize,
    pub elapsed: Duration,
    pub failures: Vec<String>,
}

impl BadInputReport {
    pub fn total(&self) -> TriggerCounts {
        self.counts
            .values()
            .fold(TriggerCounts::default(), |sum, c| TriggerCounts {
                tried: sum.tried + c.tried,
                rejected: sum.rejected + c.rejected,
                refused: sum.refused + c.refused,
                processed: sum.processed + c.processed,
                failed: sum.failed + c.failed,
            })
    }

    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn render(&self) -> String {
        let total = self.total();
        let mut out = String::from("bad input summary\n");
        out.push_str(&format!(
            "  {} inputs tried in {:.1} s: {} rejected with their reasons, {} refused with a clear error, {} good ones processed, {} failed\n",
            total.tried,
            self.elapsed.as_secs_f64(),
            total.rejected,
            total.refused,
            total.processed,
            total.failed
        ));
        out.push_str(&format!(
            "  {:<18} {:>6} {:>9} {:>8} {:>10} {:>7}\n",
            "trigger", "tried", "rejected", "refused", "processed", "failed"
        ));
        for (trigger, c) in &self.counts {
            out.push_str(&format!(
                "  {:<18} {:>6} {:>9} {:>8} {:>10} {:>7}\n",
                trigger.label(),
                c.tried,
                c.rejected,
                c.refused,
                c.processed,
                c.failed
            ));
        }
        for failure in self.failures.iter().take(12) {
            out.push_str(&format!("  FAILED {failure}\n"));
        }
        if self.failures.len() > 12 {
            out.push_str(&format!("  ... and {} more\n", self.failures.len() - 12));
        }
        render_verdict(&mut out, "bad input", self.passed());
        out
    }
}

/// A message seen on the rejects queue.
#[derive(Debug, Clone)]
pub struct SeenReject {
    pub body: Vec<u8>,
    pub attributes: BTreeMap<String, String>,
}

impl SeenReject {
    fn attribute(&self, name: &str) -> &str {
        self.attributes.get(name).map_or("", String::as_str)
    }

    /// Whether `marker` is in the body as sent, or in the body's base64 decoding.
    fn carries(&self, marker: &str) -> bool {
        let contains = |bytes: &[u8]| {
            bytes
                .windows(marker.len())
                .any(|window| window == marker.as_bytes())
        };
        contains(&self.body)
            || STANDARD
                .decode(self.body.trim_ascii())
                .is_ok_and(|decoded| contains(&decoded))
    }
}

/// Judges what the pipeline did with `cases`: `rejects` seen on the rejects queue and, for
/// each good event's user, the events its features count. Immediate outcomes (HTTP answers,
/// invocations) are judged as they come, in [`run`].
pub fn judge_pipeline(
    cases: &[Case],
    rejects: &[SeenReject],
    applied: &BTreeMap<String, u64>,
    report: &mut BadInputReport,
) {
    let mut rejects_of: Vec<Vec<&SeenReject>> = vec![Vec::new(); cases.len()];
    for reject in rejects {
        match cases.iter().position(|case| reject.carries(&case.marker)) {
            Some(index) => rejects_of[index].push(reject),
            None => report.failures.push(format!(
                "a reject no input explains: {} ({}): {}",
                reject.attribute("reject-code"),
                reject.attribute("reject-reason"),
                excerpt(&reject.body)
            )),
        }
    }
    report.rejects_seen += rejects.len();
    for (case, rejects) in cases.iter().zip(rejects_of) {
        let counts = report.counts.entry(case.trigger).or_default();
        let failure = match (&case.expected, rejects.as_slice()) {
            (Expected::Reject(code), [reject]) => {
                let by = reject.attribute("rejected-by");
                if reject.attribute("reject-code") != *code {
                    Some(format!(
                        "rejected as {} ({}), expected {code}",
                        reject.attribute("reject-code"),
                        reject.attribute("reject-reason")
                    ))
                } else if reject.attribute("reject-reason").is_empty() {
                    Some("rejected without a reason".to_owned())
                } else if !by.is_empty() && Some(by) != case.trigger.rejected_by() {
                    Some(format!("rejected by {by}"))
                } else {
                    counts.rejected += 1;
                    None
                }
            }
            (Expected::Reject(code), []) => Some(format!("lost: no {code} reject came")),
            (Expected::Reject(_), more) => Some(format!("rejected {} times", more.len())),
            (_, [first, ..]) => Some(format!(
                "a good input was rejected: {} ({})",
                first.attribute("reject-code"),
                first.attribute("reject-reason")
            )),
            (Expected::Applied { user }, []) => match applied.get(user).copied().unwrap_or(0) {
                1 => {
                    counts.processed += 1;
                    None
                }
                0 => Some(format!("lost: {user:?}'s features never counted it")),
                n => Some(format!("{user:?}'s features counted it {n} times")),
            },
            _ => None,
        };
        if let Some(failure) = failure {
            counts.failed += 1;
            report.failures.push(format!(
                "{}: {}: {failure}",
                case.trigger.label(),
                case.name
            ));
        }
    }
}

/// The users whose features must count a good event.
fn applied_users(cases: &[Case]) -> Vec<&str> {
    cases
        .iter()
        .filter_map(|case| match &case.expected {
            Expected::Applied { user } => Some(user.as_str()),
            _ => None,
        })
        .collect()
}

/// How many events each of `users`' features items counts now.
async fn read_applied(
    clients: &Clients,
    features: &str,
    users: &[&str],
) -> Result<BTreeMap<String, u64>, String> {
    let mut applied = BTreeMap::new();
    for user in users {
        let item = features::read_item(clients, features, user).await?;
        applied.insert((*user).to_owned(), features::stored_events(item.as_ref()));
    }
    Ok(applied)
}

/// Sends every case of the catalogue through `stack` and judges what came of each.
pub async fn run(stack: &RunningStack, run_id: &str) -> BadInputReport {
    let started = Instant::now();
    let mut report = BadInputReport::default();
    let resources = &stack.resources;
    let (Some(bus), Some(ingest), Some(rejects), Some(activity), Some(enriched), Some(features)) = (
        resources.event_buses.values().next(),
        resources.queues.get("ingest"),
        resources.queues.get("rejects"),
        resources.streams.get("activity"),
        resources.streams.get("enriched"),
        resources.tables.get("features"),
    ) else {
        report.failures.push(
            "the stack lacks the event bus, the ingest or rejects queue, a stream or the features table"
                .into(),
        );
        return report;
    };
    let clients = &stack.clients;
    let set_aside_before = set_aside(stack, &LOSS_QUEUES).await;
    let cases = catalogue(run_id, OffsetDateTime::now_utc());
    let http = HttpClient::new(Duration::from_secs(30));
    let authorization = format!(
        "Bearer {}",
        token::mint(
            &format!("bad-input-{run_id}"),
            OffsetDateTime::now_utc().unix_timestamp(),
            3600
        )
    );
    for case in &cases {
        report.counts.entry(case.trigger).or_default().tried += 1;
        let sent = match &case.input {
            Input::Event {
                detail_type,
                detail,
            } => put_event(clients, bus, detail_type, detail).await,
            Input::Message(body) => clients
                .sqs
                .send_message()
                .queue_url(&ingest.url)
                .message_body(body)
                .send()
                .await
                .map(drop)
                .map_err(|e| {
                    format!(
                        "SendMessage: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )
                }),
            Input::Record(data) => {
                let stream = if case.trigger == Trigger::ActivityStream {
                    activity
                } else {
                    enriched
                };
                clients
                    .kinesis
                    .put_record()
                    .stream_name(stream)
                    .partition_key(&case.marker)
                    .data(aws_sdk_kinesis::primitives::Blob::new(data.clone()))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| {
                        format!(
                            "PutRecord: {}",
                            aws_sdk_kinesis::error::DisplayErrorContext(e)
                        )
                    })
            }
            Input::Request {
                method,
                path,
                content_type,
                body,
            } => {
                let mut headers = vec![("authorization", authorization.as_str())];
                if let Some(content_type) = content_type {
                    headers.push(("content-type", content_type));
                }
                let url = format!("{}{path}", stack.api_url);
                match http
                    .send(
                        method.clone(),
                        &url,
                        &headers,
                        Some(Bytes::from(body.clone())),
                    )
                    .await
                {
                    Ok(response) => judge_answer(
                        &case.expected,
                        response.status.as_u16(),
                        response.header("content-type").unwrap_or(""),
                        &response.body,
                    ),
                    Err(error) => Err(error.to_string()),
                }
            }
            Input::Invocation { function, event } => match stack.function(function) {
                None => Err(format!("the stack has no function {function}")),
                Some(pool) => match pool.invoke(Bytes::from(event.to_string())).await {
                    Err(InvokeError::FunctionError { .. }) => Ok(()),
                    Ok(body) => Err(format!("accepted it: {}", excerpt(&body))),
                    Err(other) => Err(format!("expected a function error, got {other}")),
                },
            },
        };
        let counts = report.counts.entry(case.trigger).or_default();
        match sent {
            Err(failure) => {
                counts.failed += 1;
                report.failures.push(format!(
                    "{}: {}: {failure}",
                    case.trigger.label(),
                    case.name
                ));
            }
            Ok(()) => match case.expected {
                Expected::Problem(_) | Expected::FunctionError => counts.refused += 1,
                Expected::Answered(_) => counts.processed += 1,
                Expected::Reject(_) | Expected::Applied { .. } => {}
            },
        }
    }

    // The pipeline's part: wait for every reject and good event, then for quiet, then read
    // the rejects queue to the end.
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let expected_rejects = cases
        .iter()
        .filter(|case| matches!(case.expected, Expected::Reject(_)))
        .count();
    let users = applied_users(&cases);
    let mut seen = Vec::new();
    loop {
        match receive_rejects(clients, &rejects.url).await {
            Ok(batch) => seen.extend(batch),
            Err(error) => {
                report.failures.push(error);
                break;
            }
        }
        let all_applied = match read_applied(clients, features, &users).await {
            Ok(applied) => applied.values().all(|&events| events > 0),
            Err(error) => {
                report.failures.push(error);
                break;
            }
        };
        if (seen.len() >= expected_rejects && all_applied) || Instant::now() >= deadline {
            break;
        }
    }
    let quiet = wait_until_quiet(stack, &ingest.url, deadline).await;
    if !quiet {
        report.failures.push(format!(
            "the pipeline was not quiet within {SETTLE_TIMEOUT:?}"
        ));
    }
    loop {
        match receive_rejects(clients, &rejects.url).await {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => seen.extend(batch),
            Err(error) => {
                report.failures.push(error);
                break;
            }
        }
    }
    // Read once the pipeline is quiet: a copy counted late still shows.
    let applied = read_applied(clients, features, &users)
        .await
        .unwrap_or_else(|error| {
            report.failures.push(error);
            BTreeMap::new()
        });
    judge_pipeline(&cases, &seen, &applied, &mut report);
    let set_aside = set_aside(stack, &LOSS_QUEUES)
        .await
        .saturating_sub(set_aside_before);
    if set_aside > 0 {
        report.failures.push(format!(
            "{set_aside} messages reached the dead-letter or on-failure queues: a bad input was retried instead of rejected"
        ));
    }
    report.elapsed = started.elapsed();
    report
}

/// Whether an HTTP answer is the one `expected` names: the status, and for a refusal a problem
/// document with a reason.
fn judge_answer(
    expected: &Expected,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Result<(), String> {
    let answered = || format!("answered {status}: {}", excerpt(body));
    match expected {
        Expected::Answered(want) if status == *want => Ok(()),
        Expected::Problem(want) if status == *want => {
            let detail = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|problem| problem["detail"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if !content_type.starts_with("application/problem+json") {
                Err(format!(
                    "{} as {content_type:?}, not a problem document",
                    answered()
                ))
            } else if detail.trim().is_empty() {
                Err(format!("{}: a problem without a detail", answered()))
            } else {
                Ok(())
            }
        }
        Expected::Answered(want) | Expected::Problem(want) => {
            Err(format!("{}, expected {want}", answered()))
        }
        other => Err(format!("{} for an input expecting {other:?}", answered())),
    }
}

async fn put_event(
    clients: &Clients,
    bus: &str,
    detail_type: &str,
    detail: &str,
) -> Result<(), String> {
    let output = clients
        .eventbridge
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source("reliability.bad-input")
                .detail_type(detail_type)
                .detail(detail)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            format!(
                "PutEvents: {}",
                aws_sdk_eventbridge::error::DisplayErrorContext(e)
            )
        })?;
    match output.entries().first() {
        Some(entry) if entry.error_code().is_some() => Err(format!(
            "PutEvents refused it: {} {}",
            entry.error_code().unwrap_or_default(),
            entry.error_message().unwrap_or_default()
        )),
        _ => Ok(()),
    }
}

/// Up to 10 messages from the rejects queue, with their attributes; each is deleted once read,
/// so a message seen twice was sent twice.
async fn receive_rejects(clients: &Clients, url: &str) -> Result<Vec<SeenReject>, String> {
    let output = clients
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| {
            format!(
                "ReceiveMessage: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })?;
    let mut seen = Vec::new();
    for message in output.messages() {
        let attributes: BTreeMap<String, String> = message
            .message_attributes()
            .map(|attributes| {
                attributes
                    .iter()
                    .filter_map(|(name, value)| {
                        value.string_value().map(|v| (name.clone(), v.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let text = message.body().unwrap_or_default();
        let body = if attributes.get("body-encoding").map(String::as_str) == Some("base64") {
            STANDARD
                .decode(text)
                .unwrap_or_else(|_| text.as_bytes().to_vec())
        } else {
            text.as_bytes().to_vec()
        };
        seen.push(SeenReject { body, attributes });
        if let Some(handle) = message.receipt_handle() {
            clients
                .sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "DeleteMessage: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )
                })?;
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases() -> Vec<Case> {
        catalogue("run1", OffsetDateTime::now_utc())
    }

    fn input_bytes(input: &Input) -> Vec<u8> {
        match input {
            Input::Event { detail, .. } => detail.clone().into_bytes(),
            Input::Message(body) => body.clone().into_bytes(),
            Input::Record(data) => data.clone(),
            Input::Request { body, .. } => body.clone(),
            Input::Invocation { event, .. } => event.to_string().into_bytes(),
        }
    }

    fn reject_of(case: &Case, code: &str) -> SeenReject {
        let mut attributes = BTreeMap::from([
            ("reject-code".to_owned(), code.to_owned()),
            ("reject-reason".to_owned(), "a reason".to_owned()),
        ]);
        if let Some(by) = case
            .trigger
            .rejected_by()
            .filter(|by| *by != "event-router")
        {
            attributes.insert("rejected-by".to_owned(), by.to_owned());
        }
        SeenReject {
            body: input_bytes(&case.input),
            attributes,
        }
    }

    /// What a correct pipeline leaves: one reject per bad event, one count per good one.
    fn correct_outcome(cases: &[Case]) -> (Vec<SeenReject>, BTreeMap<String, u64>) {
        let rejects = cases
            .iter()
            .filter_map(|case| match case.expected {
                Expected::Reject(code) => Some(reject_of(case, code)),
                _ => None,
            })
            .collect();
        let applied = applied_users(cases)
            .into_iter()
            .map(|user| (user.to_owned(), 1))
            .collect();
        (rejects, applied)
    }

    #[test]
    fn every_pipeline_input_carries_its_own_marker_and_no_other() {
        let cases = cases();
        for case in cases
            .iter()
            .filter(|case| case.trigger.rejected_by().is_some())
        {
            let seen = SeenReject {
                body: input_bytes(&case.input),
                attributes: BTreeMap::new(),
            };
            let carried: Vec<&str> = cases
                .iter()
                .filter(|other| seen.carries(&other.marker))
                .map(|other| other.name)
                .collect();
            assert_eq!(
                carried,
                [case.name],
                "{}: {}",
                case.trigger.label(),
                case.name
            );
        }
    }

    #[test]
    fn every_trigger_has_good_inputs_between_bad_ones() {
        let cases = cases();
        for trigger in Trigger::ALL {
            let kinds: Vec<bool> = cases
                .iter()
                .filter(|case| case.trigger == trigger)
                .map(Case::is_good)
                .collect();
            let bad = kinds.iter().filter(|good| !**good).count();
            assert!(bad >= 4, "{}: {bad} bad inputs", trigger.label());
            if trigger != Trigger::LambdaEvent {
                let first_bad = kinds.iter().position(|good| !good).unwrap();
                let last_bad = kinds.iter().rposition(|good| !good).unwrap();
                assert!(
                    kinds[first_bad..last_bad].iter().any(|good| *good),
                    "{}: no good input among the bad ones",
                    trigger.label()
                );
            }
        }
    }

    /// Off the stack: event-router's plan (a bus event in the envelope the rule delivers) and
    /// the stream consumers' decoding give every pipeline input the verdict the catalogue
    /// expects, a reject with its code or none for a good input.
    #[test]
    fn the_decoders_give_every_pipeline_input_its_expected_verdict() {
        use event_router::routing::{DEFAULT_ROUTING_TABLE, RoutingTable};
        use shared::events::{ActivityEvent, TimeLimits};
        use time::format_description::well_known::Rfc3339;

        let now = OffsetDateTime::now_utc();
        let table = RoutingTable::parse(DEFAULT_ROUTING_TABLE, |name| match name {
            "ACTIVITY_STREAM" => Some("activity".into()),
            "ORDERS_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/orders.fifo".into()),
            _ => None,
        })
        .unwrap();
        let routed = |body: &str| {
            let plan =
                event_router::plan::plan([("m-1", body)], &table, now, TimeLimits::default());
            plan.rejects.first().map(|reject| reject.code)
        };
        let mut judged = 0;
        for case in catalogue("run1", now) {
            let verdict = match &case.input {
                Input::Event {
                    detail_type,
                    detail,
                } => {
                    let detail: Value = serde_json::from_str(detail).unwrap();
                    let body = serde_json::json!({"version": "0", "id": "eb-1",
                        "detail-type": detail_type, "source": "reliability.bad-input",
                        "time": now.format(&Rfc3339).unwrap(), "region": "us-east-1",
                        "resources": [], "detail": detail});
                    routed(&body.to_string())
                }
                Input::Message(body) => routed(body),
                Input::Record(data) => {
                    ActivityEvent::from_record(data, now, time::Duration::minutes(5))
                        .err()
                        .map(|rejection| rejection.code())
                }
                _ => continue,
            };
            let expected = match case.expected {
                Expected::Reject(code) => Some(code),
                _ => None,
            };
            assert_eq!(verdict, expected, "{}: {}", case.trigger.label(), case.name);
            judged += 1;
        }
        assert!(judged > 50, "{judged} pipeline inputs");
    }

    #[test]
    fn a_correct_pipeline_passes_and_each_wrong_outcome_fails_its_case() {
        let cases = cases();
        let (rejects, applied) = correct_outcome(&cases);
        let mut report = BadInputReport::default();
        judge_pipeline(&cases, &rejects, &applied, &mut report);
        assert!(report.passed(), "{:?}", report.failures);
        let total = report.total();
        assert_eq!(total.rejected, rejects.len());
        assert_eq!(total.processed, applied.len());

        let judged = |rejects: &[SeenReject], applied: &BTreeMap<String, u64>| {
            let mut report = BadInputReport::default();
            judge_pipeline(&cases, rejects, applied, &mut report);
            report.failures
        };
        // A lost reject, a reject sent twice, one with another code or from another function.
        let failures = judged(&rejects[1..], &applied);
        assert!(failures[0].contains("lost: no"), "{failures:?}");
        let mut twice = rejects.clone();
        twice.push(rejects[0].clone());
        assert!(judged(&twice, &applied)[0].contains("rejected 2 times"));
        let mut recoded = rejects.clone();
        recoded[0]
            .attributes
            .insert("reject-code".into(), "not-json".into());
        recoded[0]
            .attributes
            .insert("reject-code".into(), "too-large".into());
        assert!(judged(&recoded, &applied)[0].contains("rejected as too-large"));
        let mut unreasoned = rejects.clone();
        unreasoned[3]
            .attributes
            .insert("reject-reason".into(), String::new());
        assert!(judged(&unreasoned, &applied)[0].contains("without a reason"));
        let stream_reject = rejects
            .iter()
            .position(|r| r.attributes.contains_key("rejected-by"))
            .unwrap();
        let mut misrouted = rejects.clone();
        misrouted[stream_reject]
            .attributes
            .insert("rejected-by".into(), "todo-api".into());
        assert!(judged(&misrouted, &applied)[0].contains("rejected by todo-api"));
        // A reject nobody sent, and a good event rejected.
        let mut stray = rejects.clone();
        stray.push(SeenReject {
            body: b"something else".to_vec(),
            attributes: BTreeMap::new(),
        });
        assert!(judged(&stray, &applied)[0].contains("no input explains"));
        let good = cases.iter().find(|case| case.is_good()).unwrap();
        let mut good_rejected = rejects.clone();
        good_rejected.push(reject_of(good, "schema-violation"));
        assert!(judged(&good_rejected, &applied)[0].contains("a good input was rejected"));
        // A good event lost, or counted twice.
        for (count, failure) in [(0, "never counted it"), (2, "counted it 2 times")] {
            let mut wrong = applied.clone();
            *wrong.values_mut().next().unwrap() = count;
            let failures = judged(&rejects, &wrong);
            assert_eq!(failures.len(), 1);
            assert!(failures[0].contains(failure), "{failures:?}");
        }
    }

    #[test]
    fn a_reject_whose_body_was_base64_encoded_is_still_traced_to_its_input() {
        let cases = cases();
        let binary = cases.iter().find(|case| case.name == "not UTF-8").unwrap();
        let seen = SeenReject {
            body: input_bytes(&binary.input),
            attributes: BTreeMap::new(),
        };
        assert!(seen.carries(&binary.marker));
        let encoded = cases
            .iter()
            .find(|case| case.name == "base64 of a good record")
            .unwrap();
        let Input::Record(data) = &encoded.input else {
            panic!("a record")
        };
        assert!(!String::from_utf8_lossy(data).contains(&encoded.marker));
        assert!(reject_of(encoded, "not-json").carries(&encoded.marker));
    }

    #[test]
    fn an_answer_is_a_refusal_only_as_a_problem_document_with_a_detail() {
        let problem =
            br#"{"type":"/problems/validation","status":400,"detail":"task_name is not a string"}"#;
        let json = "application/problem+json";
        assert_eq!(
            judge_answer(&Expected::Problem(400), 400, json, problem),
            Ok(())
        );
        assert!(judge_answer(&Expected::Problem(400), 500, json, problem).is_err());
        assert!(judge_answer(&Expected::Problem(400), 400, "application/json", problem).is_err());
        assert!(judge_answer(&Expected::Problem(400), 400, json, br#"{"status":400}"#).is_err());
        assert_eq!(
            judge_answer(&Expected::Answered(201), 201, "application/json", b"{}"),
            Ok(())
        );
        assert!(judge_answer(&Expected::Answered(201), 400, json, problem).is_err());
    }
}

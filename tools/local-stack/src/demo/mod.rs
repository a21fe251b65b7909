//! The demo workload: users creating, listing, completing and deleting tasks over the HTTP API,
//! with every answer checked as it comes and the table checked at the end.
//!
//! Each user, concurrently with the others:
//! 1. creates `tasks_per_user` tasks (201, `Pending`, version 1, `Location`, `ETag`);
//! 2. lists them (newest first, all of them);
//! 3. completes the first half with `If-Match` (200, `Completed`, version 2);
//! 4. retries one of those updates with the stale ETag (412);
//! 5. lists the completed ones through the status filter;
//! 6. deletes one completed task (204), then reads it (404);
//! 7. lets another caller try to read, change and delete one of its tasks (404 each);
//! 8. calls without a token (401, from the authorizer).
//!
//! At the end the tasks table must hold, per user, exactly the tasks the run expects, with their
//! statuses. The report counts every check; [`DemoReport::passed`] is what the exit status says.

pub mod events;
pub mod features;
pub mod predictions;
pub mod training;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use hyper::{Method, StatusCode};
use serde_json::json;
use todo_api::handler::TaskList;
use todo_api::model::{Task, TaskStatus};

use crate::report::{percentile_ms, render_checks, render_verdict};
use emulator::http_client::{HttpClient, HttpResponse};
use emulator::token;

#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    pub users: usize,
    pub tasks_per_user: usize,
}

impl DemoOptions {
    /// Requests the demo makes in all; progress is shown against it.
    pub fn total_requests(&self) -> usize {
        let per_user = self.tasks_per_user // create
            + 1 // list
            + self.completed_per_user() // complete
            + 1 // stale update
            + 1 // list completed
            + 2 // delete, read deleted
            + 3 // another caller
            + 1; // no token
        self.users * per_user
    }

    fn completed_per_user(&self) -> usize {
        self.tasks_per_user.div_ceil(2)
    }
}

/// Where the demo writes and what it checks against.
pub struct DemoTarget<'a> {
    pub api_url: &'a str,
    pub dynamodb: &'a aws_sdk_dynamodb::Client,
    pub tasks_table: &'a str,
}

#[derive(Debug, Default)]
pub struct DemoReport {
    pub users: usize,
    pub tasks_per_user: usize,
    pub requests: usize,
    pub elapsed: Duration,
    /// Latencies per operation, in request order.
    pub latencies: BTreeMap<&'static str, Vec<Duration>>,
    pub checks_passed: usize,
    pub failures: Vec<String>,
    /// Tasks found in the table for the demo's users at the end.
    pub tasks_in_table: usize,
    pub tasks_expected: usize,
}

impl DemoReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.checks_passed > 0
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("demo summary\n");
        out.push_str(&format!(
            "  {} users x {} tasks: {} requests in {:.2} s\n",
            self.users,
            self.tasks_per_user,
            self.requests,
            self.elapsed.as_secs_f64()
        ));
        out.push_str("  operation         count   p50 ms   p99 ms\n");
        for (operation, latencies) in &self.latencies {
            out.push_str(&format!(
                "  {operation:<16} {:>6} {:>8.1} {:>8.1}\n",
                latencies.len(),
                percentile_ms(latencies, 50),
                percentile_ms(latencies, 99),
            ));
        }
        out.push_str(&format!(
            "  table check: {} tasks stored, {} expected\n",
            self.tasks_in_table, self.tasks_expected
        ));
        render_checks(&mut out, self.checks_passed, &self.failures);
        render_verdict(&mut out, "demo", self.passed());
        out
    }
}

/// A task's id and `ETag` from the API's answer to a create or an update.
pub fn task_id_and_etag(response: &HttpResponse) -> Option<(String, String)> {
    let task: serde_json::Value = response.json().ok()?;
    Some((
        task["id"].as_str()?.to_owned(),
        response.header("etag")?.to_owned(),
    ))
}

/// Shared by the users' tasks while the demo runs.
struct Recorder {
    requests: AtomicUsize,
    checks_passed: AtomicUsize,
    failures: Mutex<Vec<String>>,
    latencies: Mutex<BTreeMap<&'static str, Vec<Duration>>>,
}

impl Recorder {
    fn check(&self, ok: bool, what: impl FnOnce() -> String) -> bool {
        if ok {
            self.checks_passed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failures.lock().unwrap().push(what());
        }
        ok
    }

    fn failed(&self) -> usize {
        self.failures.lock().unwrap().len()
    }
}

/// One caller of the API.
struct Caller {
    client: HttpClient,
    api_url: String,
    token: Option<String>,
    recorder: Arc<Recorder>,
}

impl Caller {
    async fn call(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Option<HttpResponse> {
        let started = Instant::now();
        let result = self
            .client
            .send_as(
                self.token.as_deref(),
                method,
                &format!("{}{path}", self.api_url),
                headers,
                body,
            )
            .await;
        self.recorder.requests.fetch_add(1, Ordering::Relaxed);
        self.recorder
            .latencies
            .lock()
            .unwrap()
            .entry(operation)
            .or_default()
            .push(started.elapsed());
        match result {
            Ok(response) => Some(response),
            Err(error) => {
                self.recorder
                    .check(false, || format!("{operation}: {error}"));
                None
            }
        }
    }

    /// Checks the status; on a mismatch the failure names the body the API gave.
    fn expect_status(
        &self,
        operation: &str,
        response: &HttpResponse,
        expected: StatusCode,
    ) -> bool {
        self.recorder.check(response.status == expected, || {
            format!(
                "{operation}: status {} (expected {expected}): {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            )
        })
    }
}

/// A user's tasks as the demo expects them at the end.
#[derive(Debug, Default)]
struct Expected {
    owner: String,
    /// id -> status
    tasks: BTreeMap<String, TaskStatus>,
}

/// Runs the demo; `progress` shows a live counter on the terminal.
pub async fn run(target: &DemoTarget<'_>, options: DemoOptions, progress: bool) -> DemoReport {
    let started = Instant::now();
    let recorder = Arc::new(Recorder {
        requests: AtomicUsize::new(0),
        checks_passed: AtomicUsize::new(0),
        failures: Mutex::new(Vec::new()),
        latencies: Mutex::new(BTreeMap::new()),
    });
    let client = HttpClient::new(Duration::from_secs(35));
    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ticker = progress.then(|| spawn_progress(Arc::clone(&recorder), options.total_requests()));

    let mut users = tokio::task::JoinSet::new();
    for user in 0..options.users {
        let owner = format!("demo-{run_id}-user-{user:02}");
        let caller = Caller {
            client: client.clone(),
            api_url: target.api_url.to_owned(),
            token: Some(token::mint(&owner, now, 3600)),
            recorder: Arc::clone(&recorder),
        };
        let intruder = Caller {
            client: client.clone(),
            api_url: target.api_url.to_owned(),
            token: Some(token::mint(&format!("demo-{run_id}-intruder"), now, 3600)),
            recorder: Arc::clone(&recorder),
        };
        let anonymous = Caller {
            client: client.clone(),
            api_url: target.api_url.to_owned(),
            token: None,
            recorder: Arc::clone(&recorder),
        };
        users.spawn(async move {
            user_session(
                &caller,
                &intruder,
                &anonymous,
                owner,
                options.tasks_per_user,
            )
            .await
        });
    }
    let mut expected = Vec::new();
    while let Some(joined) = users.join_next().await {
        match joined {
            Ok(user) => expected.push(user),
            Err(error) => {
                recorder.check(false, || format!("a demo user's task failed: {error}"));
            }
        }
    }
    if let Some(ticker) = ticker {
        ticker.abort();
        let _ = ticker.await;
        let line = progress_line(&recorder, options.total_requests());
        if std::io::stderr().is_terminal() {
            eprintln!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    }

    let (tasks_in_table, tasks_expected) = check_table(target, &expected, &recorder).await;
    let recorder = Arc::try_unwrap(recorder).unwrap_or_else(|_| unreachable!("users joined"));
    DemoReport {
        users: options.users,
        tasks_per_user: options.tasks_per_user,
        requests: recorder.requests.into_inner(),
        elapsed: started.elapsed(),
        latencies: recorder.latencies.into_inner().unwrap(),
        checks_passed: recorder.checks_passed.into_inner(),
        failures: recorder.failures.into_inner().unwrap(),
        tasks_in_table,
        tasks_expected,
    }
}

fn spawn_progress(recorder: Arc<Recorder>, total: usize) -> tokio::task::JoinHandle<()> {
    let terminal = std::io::stderr().is_terminal();
    tokio::spawn(async move {
        let every = if terminal {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(2)
        };
        loop {
            let line = progress_line(&recorder, total);
            if terminal {
                eprint!("\r{line}");
            } else {
                eprintln!("{line}");
            }
            tokio::time::sleep(every).await;
        }
    })
}

fn progress_line(recorder: &Recorder, total: usize) -> String {
    format!(
        "demo: {}/{total} requests, {} checks passed, {} failed",
        recorder.requests.load(Ordering::Relaxed),
        recorder.checks_passed.load(Ordering::Relaxed),
        recorder.failed()
    )
}

async fn user_session(
    caller: &Caller,
    intruder: &Caller,
    anonymous: &Caller,
    owner: String,
    tasks_per_user: usize,
) -> Expected {
    let recorder = &caller.recorder;
    let mut expected = Expected {
        owner: owner.clone(),
        ..Expected::default()
    };
    // 1. create
    let mut created: Vec<(Task, String)> = Vec::new();
    for number in 1..=tasks_per_user {
        let name = format!("task {number} of {owner}");
        let Some(response) = caller
            .call(
                "create",
                Method::POST,
                "/tasks",
                &[],
                Some(json!({ "task_name": name })),
            )
            .await
        else {
            continue;
        };
        if !caller.expect_status("create", &response, StatusCode::CREATED) {
            continue;
        }
        let Ok(task) = response.json::<Task>() else {
            recorder.check(false, || "create: the body is not a task".into());
            continue;
        };
        recorder.check(
            task.task_name == name && task.status == TaskStatus::Pending && task.version == 1,
            || format!("create: unexpected task {task:?}"),
        );
        recorder.check(
            response.header("location") == Some(&format!("/tasks/{}", task.id)),
            || format!("create: Location {:?}", response.header("location")),
        );
        let etag = response.header("etag").unwrap_or_default().to_owned();
        recorder.check(!etag.is_empty(), || "create: no ETag".into());
        expected.tasks.insert(task.id.clone(), TaskStatus::Pending);
        created.push((task, etag));
    }

    // 2. list: all of them, newest first
    if let Some(response) = caller
        .call("list", Method::GET, "/tasks?limit=100", &[], None)
        .await
        && caller.expect_status("list", &response, StatusCode::OK)
    {
        let listed: Vec<String> = response
            .json::<TaskList>()
            .map(|list| list.items.into_iter().map(|t| t.id).collect())
            .unwrap_or_default();
        let newest_first: Vec<String> = created.iter().rev().map(|(t, _)| t.id.clone()).collect();
        recorder.check(listed == newest_first, || {
            format!("list: got {listed:?}, expected {newest_first:?}")
        });
    }

    // 3. complete the first half, each with its ETag
    let half = tasks_per_user.div_ceil(2).min(created.len());
    let mut completed: Vec<(String, String)> = Vec::new();
    for (task, etag) in &created[..half] {
        let path = format!("/tasks/{}", task.id);
        let Some(response) = caller
            .call(
                "complete",
                Method::PUT,
                &path,
                &[("if-match", etag)],
                Some(json!({ "status": "Completed" })),
            )
            .await
        else {
            continue;
        };
        if caller.expect_status("complete", &response, StatusCode::OK) {
            let updated = response.json::<Task>().ok();
            recorder.check(
                updated
                    .as_ref()
                    .is_some_and(|t| t.status == TaskStatus::Completed && t.version == 2),
                || format!("complete: unexpected task {updated:?}"),
            );
            expected
                .tasks
                .insert(task.id.clone(), TaskStatus::Completed);
            completed.push((task.id.clone(), etag.clone()));
        }
    }

    // 4. a stale ETag is refused
    if let Some((id, stale)) = completed.first()
        && let Some(response) = caller
            .call(
                "stale update",
                Method::PUT,
                &format!("/tasks/{id}"),
                &[("if-match", stale)],
                Some(json!({ "task_name": "overwritten" })),
            )
            .await
    {
        caller.expect_status("stale update", &response, StatusCode::PRECONDITION_FAILED);
    }

    // 5. the status filter lists exactly the completed ones
    if let Some(response) = caller
        .call(
            "list completed",
            Method::GET,
            "/tasks?status=Completed",
            &[],
            None,
        )
        .await
        && caller.expect_status("list completed", &response, StatusCode::OK)
    {
        let mut listed: Vec<String> = response
            .json::<TaskList>()
            .map(|list| list.items.into_iter().map(|t| t.id).collect())
            .unwrap_or_default();
        listed.sort();
        let mut wanted: Vec<String> = completed.iter().map(|(id, _)| id.clone()).collect();
        wanted.sort();
        recorder.check(listed == wanted, || {
            format!("list completed: got {listed:?}, expected {wanted:?}")
        });
    }

    // 6. delete one completed task; it is gone
    if let Some((id, _)) = completed.first() {
        let path = format!("/tasks/{id}");
        if let Some(response) = caller
            .call("delete", Method::DELETE, &path, &[], None)
            .await
            && caller.expect_status("delete", &response, StatusCode::NO_CONTENT)
        {
            expected.tasks.remove(id);
        }
        if let Some(response) = caller
            .call("get deleted", Method::GET, &path, &[], None)
            .await
        {
            caller.expect_status("get deleted", &response, StatusCode::NOT_FOUND);
        }
    }

    // 7. another caller cannot see, change or delete this user's task
    if let Some((task, _)) = created.last() {
        let path = format!("/tasks/{}", task.id);
        let attempts = [
            (Method::GET, None),
            (Method::PUT, Some(json!({ "task_name": "taken over" }))),
            (Method::DELETE, None),
        ];
        for (method, body) in attempts {
            if let Some(response) = intruder
                .call("other caller", method, &path, &[], body)
                .await
            {
                intruder.expect_status("other caller", &response, StatusCode::NOT_FOUND);
            }
        }
    }

    // 8. no token: the authorizer answers, the function never runs
    if let Some(response) = anonymous
        .call("no token", Method::GET, "/tasks", &[], None)
        .await
    {
        anonymous.expect_status("no token", &response, StatusCode::UNAUTHORIZED);
    }
    expected
}

/// Reads each demo user's partition and compares it with what the run expects.
async fn check_table(
    target: &DemoTarget<'_>,
    users: &[Expected],
    recorder: &Recorder,
) -> (usize, usize) {
    let mut stored_total = 0;
    let mut expected_total = 0;
    for user in users {
        expected_total += user.tasks.len();
        let query = target
            .dynamodb
            .query()
            .table_name(target.tasks_table)
            .key_condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", AttributeValue::S(user.owner.clone()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await;
        let items = match query {
            Ok(items) => items,
            Err(error) => {
                recorder.check(false, || {
                    format!(
                        "table check for {}: {}",
                        user.owner,
                        shared::dynamo::describe(&error)
                    )
                });
                continue;
            }
        };
        stored_total += items.len();
        let stored: BTreeMap<String, TaskStatus> = items
            .into_iter()
            .filter_map(|item| {
                let id = item.get("id")?.as_s().ok()?.clone();
                let status = TaskStatus::parse(item.get("status")?.as_s().ok()?).ok()?;
                Some((id, status))
            })
            .collect();
        recorder.check(stored == user.tasks, || {
            format!(
                "table check for {}: stored {stored:?}, expected {:?}",
                user.owner, user.tasks
            )
        });
    }
    (stored_total, expected_total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_total_counts_every_step() {
        let options = DemoOptions {
            users: 3,
            tasks_per_user: 5,
        };
        // 5 creates, 1 list, 3 completes, 1 stale, 1 filtered list, 2 delete+get, 3 intruder, 1 anonymous
        assert_eq!(options.total_requests(), 3 * 17);
    }

    #[test]
    fn a_report_with_a_failure_or_no_checks_does_not_pass() {
        let mut report = DemoReport {
            checks_passed: 10,
            ..DemoReport::default()
        };
        assert!(report.passed());
        assert!(report.render().ends_with("demo: PASS\n"));
        report.failures.push("list: wrong order".into());
        assert!(!report.passed());
        let text = report.render();
        assert!(text.contains("FAILED list: wrong order") && text.ends_with("demo: FAIL\n"));
        assert!(
            !DemoReport::default().passed(),
            "a run that checked nothing proves nothing"
        );
    }
}

//! Cross-user access attempts against todo-api through the HTTP API: one caller (the owner)
//! creates tasks, another (the intruder) tries to read, list, update, delete and page into
//! them, by id, by cursor, with preconditions and with tokens whose subject only looks like
//! the owner's. Every answer is judged: one that shows the owner's data, changes it, or tells
//! the intruder that the task exists (a 412 instead of a 404) is a breach. Last, the owner's
//! tasks are read back: any change is a breach too.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::demo::task_id_and_etag;
use crate::report::render_verdict;
use emulator::http_client::{HttpClient, HttpError, HttpResponse, excerpt};
use emulator::token;

/// One request the intruder makes, and what a correct API answers to it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub description: String,
    pub method: Method,
    pub path: String,
    pub token: Option<String>,
    pub if_match: Option<String>,
    pub body: Option<Value>,
    /// The answers that refuse the attempt without revealing anything.
    pub refused_with: &'static [StatusCode],
}

/// What the owner has, which no answer to the intruder may contain.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// The owner's task ids, as the API issued them.
    pub task_ids: Vec<String>,
    /// The owner's task names, unique to this run.
    pub task_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Refused the way the attempt expects, revealing nothing.
    Refused,
    /// The answer shows, changes or confirms the owner's data.
    Breach(String),
    /// Not a breach, but not the answer the API documents either (e.g. a 500).
    Unexpected(String),
}

/// Judges one answer to `attempt`.
pub fn judge(attempt: &Attempt, status: StatusCode, body: &[u8], secrets: &Secrets) -> Verdict {
    let text = String::from_utf8_lossy(body);
    // What the attempt itself carries (an id in its path, echoed by a problem document's
    // `instance`) is no news to the intruder; anything else of the owner's is.
    let sent = format!(
        "{} {}",
        attempt.path,
        attempt
            .body
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default()
    );
    let shown: Vec<&str> = secrets
        .task_ids
        .iter()
        .chain(&secrets.task_names)
        .map(String::as_str)
        .filter(|secret| text.contains(secret) && !sent.contains(secret))
        .collect();
    if !shown.is_empty() {
        return Verdict::Breach(format!(
            "{}: answered {status} showing the owner's {}",
            attempt.description,
            shown.join(", ")
        ));
    }
    let on_owners_task = secrets
        .task_ids
        .iter()
        .any(|id| attempt.path.starts_with(&format!("/tasks/{id}")));
    if on_owners_task && status.is_success() {
        return Verdict::Breach(format!(
            "{}: answered {status}: the owner's task was read or changed",
            attempt.description
        ));
    }
    let mutation = matches!(attempt.method, Method::PUT | Method::DELETE | Method::PATCH);
    if mutation && status.is_success() {
        return Verdict::Breach(format!(
            "{}: answered {status}: the change was made",
            attempt.description
        ));
    }
    if status == StatusCode::PRECONDITION_FAILED {
        return Verdict::Breach(format!(
            "{}: answered 412, which tells the intruder the task exists",
            attempt.description
        ));
    }
    if attempt.refused_with.contains(&status) {
        Verdict::Refused
    } else {
        Verdict::Unexpected(format!(
            "{}: answered {status} ({}), expected one of {:?}",
            attempt.description,
            excerpt(body),
            attempt
                .refused_with
                .iter()
                .map(StatusCode::as_u16)
                .collect::<Vec<_>>()
        ))
    }
}

/// The intruder's attempts on the owner's `tasks` (id and ETag each), with `owner_cursors`
/// (cursors the owner was issued, with the status filter each belongs to).
pub fn attempts(
    owner: &str,
    intruder_token: &str,
    tasks: &[(String, String)],
    owner_cursors: &[(String, Option<&str>)],
    now: i64,
) -> Vec<Attempt> {
    const NOT_FOUND: &[StatusCode] = &[StatusCode::NOT_FOUND];
    const LISTED: &[StatusCode] = &[StatusCode::OK];
    const UNAUTHORIZED: &[StatusCode] = &[StatusCode::UNAUTHORIZED];
    let intruder = Some(intruder_token.to_owned());
    let attempt = |description: String,
                   method: Method,
                   path: String,
                   if_match: Option<String>,
                   body: Option<Value>,
                   refused_with: &'static [StatusCode]| Attempt {
        description,
        method,
        path,
        token: intruder.clone(),
        if_match,
        body,
        refused_with,
    };
    let mut all = Vec::new();
    for (id, etag) in tasks {
        let path = format!("/tasks/{id}");
        all.push(attempt(
            format!("GET {path}"),
            Method::GET,
            path.clone(),
            None,
            None,
            NOT_FOUND,
        ));
        all.push(attempt(
            format!("GET {path} in lower case"),
            Method::GET,
            format!("/tasks/{}", id.to_lowercase()),
            None,
            None,
            NOT_FOUND,
        ));
        // A trailing slash or a second segment is another route, or none.
        for suffix in ["/", "/..", "%2F"] {
            all.push(attempt(
                format!("GET {path}{suffix}"),
                Method::GET,
                format!("{path}{suffix}"),
                None,
                None,
                &[StatusCode::NOT_FOUND, StatusCode::BAD_REQUEST],
            ));
        }
        for (label, body) in [
            ("rename", json!({"task_name": "taken over"})),
            ("complete", json!({"status": "Completed"})),
        ] {
            for if_match in [None, Some(etag.clone()), Some("*".to_owned())] {
                all.push(attempt(
                    format!("PUT {path} ({label}, If-Match {if_match:?})"),
                    Method::PUT,
                    path.clone(),
                    if_match,
                    Some(body.clone()),
                    NOT_FOUND,
                ));
            }
        }
        for if_match in [None, Some(etag.clone()), Some("*".to_owned())] {
            all.push(attempt(
                format!("DELETE {path} (If-Match {if_match:?})"),
                Method::DELETE,
                path.clone(),
                if_match,
                None,
                NOT_FOUND,
            ));
        }
        // A cursor forged to start just after the owner's task: it can only move within the
        // caller's own partition.
        let forged = URL_SAFE_NO_PAD.encode(json!({ "after": id }).to_string());
        all.push(attempt(
            format!("GET /tasks with a cursor forged from {id}"),
            Method::GET,
            format!("/tasks?next={forged}"),
            None,
            None,
            LISTED,
        ));
        // Creating a task with the owner's id: the server chooses ids; unknown fields are 400.
        all.push(attempt(
            format!("POST /tasks with the id {id}"),
            Method::POST,
            "/tasks".to_owned(),
            None,
            Some(json!({"id": id, "task_name": "taken over"})),
            &[StatusCode::BAD_REQUEST],
        ));
    }
    for query in ["", "?status=Pending", "?status=Completed", "?limit=100"] {
        all.push(attempt(
            format!("GET /tasks{query}"),
            Method::GET,
            format!("/tasks{query}"),
            None,
            None,
            LISTED,
        ));
    }
    for (cursor, status) in owner_cursors {
        let query = match status {
            Some(status) => format!("?status={status}&next={cursor}"),
            None => format!("?next={cursor}"),
        };
        all.push(attempt(
            format!(
                "GET /tasks with the owner's cursor{}",
                status.map(|s| format!(" ({s})")).unwrap_or_default()
            ),
            Method::GET,
            format!("/tasks{query}"),
            None,
            None,
            LISTED,
        ));
    }
    // Subjects that only look like the owner's: refused by the function (surrounding white
    // space, control characters), or another caller altogether (case, look-alike letters).
    let lookalikes = [
        (format!("{owner} "), UNAUTHORIZED),
        (format!(" {owner}"), UNAUTHORIZED),
        (format!("{owner}\u{0}"), UNAUTHORIZED),
        (format!("{owner}\n"), UNAUTHORIZED),
        (owner.to_uppercase(), NOT_FOUND),
        (owner.replace('o', "\u{043e}"), NOT_FOUND),
        (format!("{owner}\u{200b}"), NOT_FOUND),
    ];
    for (sub, refused_with) in lookalikes {
        let token = Some(token::mint(&sub, now, 600));
        for (id, _) in tasks.iter().take(1) {
            let path = format!("/tasks/{id}");
            all.push(Attempt {
                description: format!("GET {path} as {sub:?}"),
                method: Method::GET,
                path,
                token: token.clone(),
                if_match: None,
                body: None,
                refused_with,
            });
        }
        all.push(Attempt {
            description: format!("GET /tasks as {sub:?}"),
            method: Method::GET,
            path: "/tasks".to_owned(),
            token,
            if_match: None,
            body: None,
            refused_with: if refused_with == UNAUTHORIZED {
                UNAUTHORIZED
            } else {
                LISTED
            },
        });
    }
    all
}

/// What a run of the attempts found.
#[derive(Debug, Default)]
pub struct IsolationReport {
    pub attempts: usize,
    pub refused: usize,
    pub breaches: Vec<String>,
    pub unexpected: Vec<String>,
    /// Steps that had to work for the attempts to mean anything (the owner's own calls).
    pub setup_failures: Vec<String>,
}

impl IsolationReport {
    pub fn passed(&self) -> bool {
        self.attempts > 0
            && self.breaches.is_empty()
            && self.unexpected.is_empty()
            && self.setup_failures.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "isolation summary\n  {} attempts by one user on another's tasks: {} refused, {} succeeded, {} unexpected answers\n",
            self.attempts,
            self.refused,
            self.breaches.len(),
            self.unexpected.len()
        );
        for line in self
            .setup_failures
            .iter()
            .chain(&self.breaches)
            .chain(&self.unexpected)
        {
            out.push_str(&format!("    {line}\n"));
        }
        render_verdict(&mut out, "isolation", self.passed());
        out
    }
}

/// Runs the attempts against the HTTP API at `api_url`, as `intruder` on `owner`'s tasks.
/// Both names should be unique to the run.
pub async fn run(api_url: &str, owner: &str, intruder: &str) -> IsolationReport {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let client = HttpClient::new(Duration::from_secs(30));
    let owner_token = token::mint(owner, now, 600);
    let intruder_token = token::mint(intruder, now, 600);
    let mut report = IsolationReport::default();
    let send = |token: Option<&str>,
                method: Method,
                path: String,
                if_match: Option<String>,
                body: Option<Value>| {
        let client = client.clone();
        let url = format!("{api_url}{path}");
        let token = token.map(str::to_owned);
        async move {
            let headers: Vec<(&str, &str)> = if_match
                .as_deref()
                .map(|value| ("if-match", value))
                .into_iter()
                .collect();
            client
                .send_as(token.as_deref(), method, &url, &headers, body)
                .await
        }
    };

    // The owner's tasks, both statuses, and the intruder's own, so its lists have content.
    let mut secrets = Secrets::default();
    let mut tasks = Vec::new();
    for (n, status) in ["Pending", "Completed", "Pending"].iter().enumerate() {
        let name = format!("isolation secret {n} of {owner}");
        let created = send(
            Some(&owner_token),
            Method::POST,
            "/tasks".into(),
            None,
            Some(json!({"task_name": name, "status": status})),
        )
        .await;
        match created {
            Ok(response) if response.status == StatusCode::CREATED => {
                match task_id_and_etag(&response) {
                    Some((id, etag)) => {
                        secrets.task_ids.push(id.clone());
                        secrets.task_names.push(name);
                        tasks.push((id, etag));
                    }
                    None => report
                        .setup_failures
                        .push("the owner's POST /tasks answered without an id or ETag".into()),
                }
            }
            other => report.setup_failures.push(format!(
                "the owner's POST /tasks failed: {}",
                describe(&other)
            )),
        }
    }
    let own = send(
        Some(&intruder_token),
        Method::POST,
        "/tasks".into(),
        None,
        Some(json!({"task_name": format!("isolation task of {intruder}")})),
    )
    .await;
    if !matches!(&own, Ok(response) if response.status == StatusCode::CREATED) {
        report.setup_failures.push(format!(
            "the intruder's POST /tasks failed: {}",
            describe(&own)
        ));
    }
    let mut cursors = Vec::new();
    for status in [None, Some("Pending")] {
        let query = match status {
            Some(status) => format!("?limit=1&status={status}"),
            None => "?limit=1".to_owned(),
        };
        let listed = send(
            Some(&owner_token),
            Method::GET,
            format!("/tasks{query}"),
            None,
            None,
        )
        .await;
        match listed
            .as_ref()
            .ok()
            .and_then(|response| response.json::<Value>().ok())
        {
            Some(page) if page["next"].is_string() => {
                cursors.push((page["next"].as_str().unwrap_or_default().to_owned(), status));
            }
            _ => report.setup_failures.push(format!(
                "the owner's GET /tasks{query} gave no cursor: {}",
                describe(&listed)
            )),
        }
    }
    if !report.setup_failures.is_empty() {
        return report;
    }

    for attempt in attempts(owner, &intruder_token, &tasks, &cursors, now) {
        report.attempts += 1;
        let answer = send(
            attempt.token.as_deref(),
            attempt.method.clone(),
            attempt.path.clone(),
            attempt.if_match.clone(),
            attempt.body.clone(),
        )
        .await;
        match answer {
            Ok(response) => match judge(&attempt, response.status, &response.body, &secrets) {
                Verdict::Refused => report.refused += 1,
                Verdict::Breach(reason) => report.breaches.push(reason),
                Verdict::Unexpected(reason) => report.unexpected.push(reason),
            },
            Err(error) => report
                .unexpected
                .push(format!("{}: {error}", attempt.description)),
        }
    }

    // Nothing of the owner's changed: same version, same name.
    for ((id, etag), name) in tasks.iter().zip(&secrets.task_names) {
        let read = send(
            Some(&owner_token),
            Method::GET,
            format!("/tasks/{id}"),
            None,
            None,
        )
        .await;
        match &read {
            Ok(response)
                if response.status == StatusCode::OK
                    && response.header("etag") == Some(etag.as_str())
                    && response
                        .json::<Value>()
                        .ok()
                        .and_then(|task| task["task_name"].as_str().map(str::to_owned))
                        .as_deref()
                        == Some(name.as_str()) => {}
            other => report.breaches.push(format!(
                "the owner's task {id} is not as the owner left it: {}",
                describe(other)
            )),
        }
    }
    report
}

fn describe(answer: &Result<HttpResponse, HttpError>) -> String {
    match answer {
        Ok(response) => format!("{} {}", response.status, response.excerpt()),
        Err(error) => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets {
            task_ids: vec!["01JDAZ3M9X4Q7T2B8C5N6R0W1Y".into()],
            task_names: vec!["isolation secret 0 of alice".into()],
        }
    }

    fn get(refused_with: &'static [StatusCode]) -> Attempt {
        Attempt {
            description: "GET /tasks".into(),
            method: Method::GET,
            path: "/tasks".into(),
            token: None,
            if_match: None,
            body: None,
            refused_with,
        }
    }

    #[test]
    fn an_answer_showing_the_owners_id_or_name_is_a_breach_whatever_its_status() {
        let attempt = get(&[StatusCode::OK]);
        for body in [
            r#"{"items":[{"id":"01JDAZ3M9X4Q7T2B8C5N6R0W1Y"}],"next":null}"#,
            r#"{"detail":"isolation secret 0 of alice is not yours"}"#,
        ] {
            for status in [StatusCode::OK, StatusCode::NOT_FOUND] {
                assert!(matches!(
                    judge(&attempt, status, body.as_bytes(), &secrets()),
                    Verdict::Breach(_)
                ));
            }
        }
        let own = br#"{"items":[{"id":"01JDAZ3M9X4Q7T2B8C5N6R0W2Z"}],"next":null}"#;
        assert_eq!(
            judge(&attempt, StatusCode::OK, own, &secrets()),
            Verdict::Refused
        );
    }

    #[test]
    fn echoing_what_the_attempt_sent_is_no_breach_but_a_success_on_the_owners_task_is() {
        let mut read = get(&[StatusCode::NOT_FOUND]);
        read.path = "/tasks/01JDAZ3M9X4Q7T2B8C5N6R0W1Y".into();
        let problem = br#"{"status":404,"instance":"/tasks/01JDAZ3M9X4Q7T2B8C5N6R0W1Y"}"#;
        assert_eq!(
            judge(&read, StatusCode::NOT_FOUND, problem, &secrets()),
            Verdict::Refused
        );
        let task =
            br#"{"id":"01JDAZ3M9X4Q7T2B8C5N6R0W1Y","task_name":"isolation secret 0 of alice"}"#;
        assert!(matches!(
            judge(&read, StatusCode::OK, task, &secrets()),
            Verdict::Breach(reason) if reason.contains("isolation secret 0")
        ));
        assert!(matches!(
            judge(&read, StatusCode::OK, b"{}", &secrets()),
            Verdict::Breach(reason) if reason.contains("read or changed")
        ));
    }

    #[test]
    fn a_change_made_or_a_412_is_a_breach_and_other_statuses_are_unexpected() {
        let mut put = get(&[StatusCode::NOT_FOUND]);
        put.method = Method::PUT;
        assert!(matches!(
            judge(&put, StatusCode::OK, b"{}", &secrets()),
            Verdict::Breach(_)
        ));
        assert!(matches!(
            judge(&put, StatusCode::NO_CONTENT, b"", &secrets()),
            Verdict::Breach(_)
        ));
        let refused = judge(&put, StatusCode::PRECONDITION_FAILED, b"{}", &secrets());
        assert!(
            matches!(&refused, Verdict::Breach(reason) if reason.contains("exists")),
            "{refused:?}"
        );
        assert_eq!(
            judge(&put, StatusCode::NOT_FOUND, b"{}", &secrets()),
            Verdict::Refused
        );
        assert!(matches!(
            judge(&put, StatusCode::INTERNAL_SERVER_ERROR, b"{}", &secrets()),
            Verdict::Unexpected(_)
        ));
    }

    #[test]
    fn every_task_gets_every_route_and_precondition_and_lookalike_subjects_are_tried() {
        let tasks = vec![
            ("01JDAZ3M9X4Q7T2B8C5N6R0W1Y".to_owned(), "\"1\"".to_owned()),
            ("01JDAZ3M9X4Q7T2B8C5N6R0W2Z".to_owned(), "\"3\"".to_owned()),
        ];
        let cursors = vec![
            ("abc".to_owned(), None),
            ("def".to_owned(), Some("Pending")),
        ];
        let all = attempts("alice", "token-of-mallory", &tasks, &cursors, 0);
        for (n, (id, etag)) in tasks.iter().enumerate() {
            let on_task = |method: Method| {
                all.iter()
                    .filter(|a| a.method == method && a.path == format!("/tasks/{id}"))
                    .count()
            };
            let lookalikes = if n == 0 { 7 } else { 0 };
            assert_eq!(
                on_task(Method::GET),
                1 + lookalikes,
                "once as the intruder, and the first task once per look-alike subject"
            );
            assert_eq!(on_task(Method::PUT), 6);
            assert_eq!(on_task(Method::DELETE), 3);
            assert!(
                all.iter().any(
                    |a| a.method == Method::PUT && a.if_match.as_deref() == Some(etag.as_str())
                )
            );
        }
        assert!(
            all.iter()
                .any(|a| a.path == "/tasks?status=Pending&next=def")
        );
        assert!(all.iter().any(|a| a.path == "/tasks?next=abc"));
        let lookalike_tokens = all
            .iter()
            .filter(|a| a.token.as_deref() != Some("token-of-mallory"))
            .count();
        assert_eq!(lookalike_tokens, 7 * 2);
        assert!(
            all.iter()
                .filter(|a| a.token.as_deref() == Some("token-of-mallory"))
                .all(|a| !a.refused_with.is_empty())
        );
    }
}

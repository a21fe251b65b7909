//! todo-api against a real-protocol DynamoDB emulator: every route, every error, isolation.
//!
//! Against the emulator: `tools/test.sh`'s, or one the test kit starts (`testkit::emulator`).
//! Requests are built from the sample events in `events/todo-api/`, so the samples stay valid.

use std::path::PathBuf;

use lambda_http::http::header::{ALLOW, CONTENT_TYPE, ETAG, LOCATION};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use shared::clients::{self, ClientSettings};
use shared::http::Problem;
use todo_api::handler::TaskList;
use todo_api::model::{MAX_BODY_BYTES, MAX_TASK_NAME_CHARS, Task, TaskStatus};
use todo_api::{App, Config};

const ALICE: &str = "user-alice";
const BOB: &str = "user-bob";

/// A handler wired to a fresh table of its own, created the way the deployment creates it.
async fn app() -> App {
    let sdk = testkit::emulator::sdk_config(ClientSettings::http_api()).await;
    let client = clients::dynamodb(&sdk);
    let table = format!("TodoList-{}", ulid::Ulid::new());
    let stack = stack::Stack::workspace();
    stack::tables::create_table(&client, &table, &stack.tables["tasks"])
        .await
        .expect("create table");
    App::new(client, &Config { tasks_table: table })
}

fn sample(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/todo-api")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample event")).unwrap()
}

/// A request as API Gateway would send it: the sample event for the route, changed as asked.
struct Call {
    event: Value,
}

impl Call {
    fn new(sample_name: &str, owner: Option<&str>) -> Self {
        let mut event = sample(sample_name);
        match owner {
            Some(owner) => {
                event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(owner)
            }
            None => {
                event["requestContext"]
                    .as_object_mut()
                    .unwrap()
                    .remove("authorizer");
            }
        }
        Self { event }
    }

    fn create(owner: &str, body: Value) -> Self {
        Self::new("create-task.json", Some(owner)).body(&body.to_string())
    }

    fn list(owner: &str, query: &str) -> Self {
        let mut call = Self::new("list-tasks.json", Some(owner));
        call.event["rawQueryString"] = json!(query);
        call.event
            .as_object_mut()
            .unwrap()
            .remove("queryStringParameters");
        call
    }

    fn get(owner: &str, id: &str) -> Self {
        Self::new("get-task.json", Some(owner)).path(&format!("/tasks/{id}"))
    }

    fn update(owner: &str, id: &str, body: Value) -> Self {
        Self::new("update-task.json", Some(owner))
            .path(&format!("/tasks/{id}"))
            .without_header("if-match")
            .body(&body.to_string())
    }

    fn delete(owner: &str, id: &str) -> Self {
        Self::new("delete-task.json", Some(owner))
            .path(&format!("/tasks/{id}"))
            .without_header("if-match")
    }

    fn path(mut self, path: &str) -> Self {
        self.event["rawPath"] = json!(path);
        self.event["requestContext"]["http"]["path"] = json!(path);
        self
    }

    fn method(mut self, method: &str) -> Self {
        self.event["requestContext"]["http"]["method"] = json!(method);
        self
    }

    fn body(mut self, body: &str) -> Self {
        self.event["body"] = json!(body);
        self.header("content-length", &body.len().to_string())
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name] = json!(value);
        self
    }

    fn without_header(mut self, name: &str) -> Self {
        self.event["headers"].as_object_mut().unwrap().remove(name);
        self
    }

    async fn send(self, app: &App) -> Reply {
        let request = lambda_http::request::from_str(&self.event.to_string())
            .expect("an API Gateway v2 event");
        Reply(todo_api::handle(app, request).await)
    }
}

struct Reply(Response<Body>);

impl Reply {
    fn status(&self) -> u16 {
        self.0.status().as_u16()
    }

    fn header(&self, name: impl lambda_http::http::header::AsHeaderName) -> &str {
        self.0
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn text(&self) -> &str {
        match self.0.body() {
            Body::Text(text) => text,
            Body::Empty => "",
            Body::Binary(_) => panic!("binary body"),
            _ => panic!("unexpected body"),
        }
    }

    fn task(&self) -> Task {
        assert_eq!(
            self.header(CONTENT_TYPE),
            "application/json",
            "{}",
            self.text()
        );
        serde_json::from_str(self.text()).expect("a task")
    }

    fn list(&self) -> TaskList {
        assert_eq!(self.status(), 200, "{}", self.text());
        serde_json::from_str(self.text()).expect("a task list")
    }

    /// Asserts a problem+json answer with `status` whose detail mentions `detail`.
    #[track_caller]
    fn problem(&self, status: u16, detail: &str) -> Problem {
        assert_eq!(self.status(), status, "{}", self.text());
        assert_eq!(self.header(CONTENT_TYPE), "application/problem+json");
        let problem: Problem = serde_json::from_str(self.text()).expect("problem+json");
        assert_eq!(problem.status, status);
        assert!(
            problem.detail.contains(detail),
            "detail {:?} lacks {detail:?}",
            problem.detail
        );
        problem
    }
}

async fn create(app: &App, owner: &str, name: &str) -> Task {
    let reply = Call::create(owner, json!({ "task_name": name }))
        .send(app)
        .await;
    assert_eq!(reply.status(), 201, "{}", reply.text());
    reply.task()
}

#[tokio::test]
async fn create_then_get() {
    let app = app().await;
    let reply = Call::new("create-task.json", Some(ALICE)).send(&app).await;
    assert_eq!(reply.status(), 201, "{}", reply.text());
    let task = reply.task();
    assert_eq!(task.task_name, "Buy milk");
    assert_eq!(task.status, TaskStatus::Pending);
    assert_eq!(task.version, 1);
    assert_eq!(task.created_at, task.updated_at);
    assert_eq!(reply.header(LOCATION), format!("/tasks/{}", task.id));
    assert_eq!(reply.header(ETAG), "\"1\"");

    let reply = Call::get(ALICE, &task.id).send(&app).await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.header(ETAG), "\"1\"");
    assert_eq!(reply.task(), task);

    let reply = Call::create(
        ALICE,
        json!({"task_name": "done already", "status": "Completed"}),
    )
    .send(&app)
    .await;
    assert_eq!(reply.task().status, TaskStatus::Completed);
}

#[tokio::test]
async fn location_keeps_a_named_stage() {
    let app = app().await;
    let mut call = Call::create(ALICE, json!({"task_name": "staged"})).path("/prod/tasks");
    call.event["requestContext"]["stage"] = json!("prod");
    let reply = call.send(&app).await;
    assert_eq!(reply.status(), 201, "{}", reply.text());
    assert_eq!(
        reply.header(LOCATION),
        format!("/prod/tasks/{}", reply.task().id)
    );
}

#[tokio::test]
async fn list_is_newest_first_paginated_and_filtered() {
    let app = app().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(create(&app, ALICE, &format!("task {i}")).await);
        // Distinct milliseconds, so creation order is the id order.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let done = Call::update(ALICE, &created[1].id, json!({"status": "Completed"}))
        .send(&app)
        .await
        .task();

    // Default listing: all five, newest first.
    let all = Call::list(ALICE, "").send(&app).await.list();
    let names: Vec<_> = all.items.iter().map(|t| t.task_name.as_str()).collect();
    assert_eq!(names, ["task 4", "task 3", "task 2", "task 1", "task 0"]);
    assert_eq!(all.items[3], done);
    assert_eq!(all.next, None);

    // Pages of two: every task exactly once, in order.
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    for _ in 0..5 {
        let page = Call::list(ALICE, &query).send(&app).await.list();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|t| t.id));
        match page.next {
            Some(next) => query = format!("limit=2&next={next}"),
            None => break,
        }
    }
    let expected: Vec<_> = created.iter().rev().map(|t| t.id.clone()).collect();
    assert_eq!(seen, expected);

    // Status filter.
    let pending = Call::list(ALICE, "status=Pending").send(&app).await.list();
    assert_eq!(pending.items.len(), 4);
    assert!(
        pending
            .items
            .iter()
            .all(|t| t.status == TaskStatus::Pending)
    );
    assert!(pending.items.windows(2).all(|w| w[0].id > w[1].id));
    let completed = Call::list(ALICE, "status=Completed")
        .send(&app)
        .await
        .list();
    assert_eq!(completed.items, vec![done]);

    // Paging a filtered listing, and a cursor reused under another filter.
    let page = Call::list(ALICE, "status=Pending&limit=3")
        .send(&app)
        .await
        .list();
    let next = page.next.expect("more pending tasks");
    let rest = Call::list(ALICE, &format!("status=Pending&limit=3&next={next}"))
        .send(&app)
        .await
        .list();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].id, created[0].id);
    Call::list(ALICE, &format!("limit=3&next={next}"))
        .send(&app)
        .await
        .problem(400, "different status filter");
}

#[tokio::test]
async fn list_rejects_bad_parameters() {
    let app = app().await;
    for (query, detail) in [
        ("limit=0", "from 1 to 100"),
        ("limit=101", "from 1 to 100"),
        ("status=Done", "expected Pending or Completed"),
        ("next=garbage", "not a cursor this API issued"),
        ("sort=asc", "unknown query parameter"),
    ] {
        Call::list(ALICE, query)
            .send(&app)
            .await
            .problem(400, detail);
    }
}

#[tokio::test]
async fn update_changes_fields_and_bumps_the_version() {
    let app = app().await;
    let task = create(&app, ALICE, "draft").await;

    let renamed = Call::update(ALICE, &task.id, json!({"task_name": "final"}))
        .send(&app)
        .await;
    assert_eq!(renamed.status(), 200, "{}", renamed.text());
    assert_eq!(renamed.header(ETAG), "\"2\"");
    let renamed = renamed.task();
    assert_eq!(
        (renamed.task_name.as_str(), renamed.status, renamed.version),
        ("final", TaskStatus::Pending, 2)
    );
    assert_eq!(renamed.created_at, task.created_at);
    assert!(renamed.updated_at >= task.updated_at);

    let both = Call::update(
        ALICE,
        &task.id,
        json!({"task_name": "shipped", "status": "Completed"}),
    )
    .header("if-match", "\"2\"")
    .send(&app)
    .await
    .task();
    assert_eq!(
        (both.task_name.as_str(), both.status, both.version),
        ("shipped", TaskStatus::Completed, 3)
    );
    assert_eq!(Call::get(ALICE, &task.id).send(&app).await.task(), both);
}

#[tokio::test]
async fn if_match_guards_updates_and_deletes() {
    let app = app().await;
    let task = create(&app, ALICE, "contended").await;
    let change = || json!({"status": "Completed"});

    // A stale version loses, and nothing changes.
    Call::update(ALICE, &task.id, change())
        .header("if-match", "\"7\"")
        .send(&app)
        .await
        .problem(412, "version 1");
    Call::update(ALICE, &task.id, change())
        .header("if-match", "W/\"1\"")
        .send(&app)
        .await
        .problem(412, "version 1");
    Call::update(ALICE, &task.id, change())
        .header("if-match", "1")
        .send(&app)
        .await
        .problem(400, "If-Match");
    assert_eq!(Call::get(ALICE, &task.id).send(&app).await.task(), task);

    // The current version, one of a list, or * wins.
    let v2 = Call::update(ALICE, &task.id, change())
        .header("if-match", "\"0\", \"1\"")
        .send(&app)
        .await
        .task();
    assert_eq!(v2.version, 2);
    let v3 = Call::update(ALICE, &task.id, change())
        .header("if-match", "*")
        .send(&app)
        .await
        .task();
    assert_eq!(v3.version, 3);

    Call::delete(ALICE, &task.id)
        .header("if-match", "\"2\"")
        .send(&app)
        .await
        .problem(412, "version 3");
    let deleted = Call::delete(ALICE, &task.id)
        .header("if-match", "\"3\"")
        .send(&app)
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(deleted.text(), "");

    // Gone: every route says 404, with or without a precondition.
    Call::get(ALICE, &task.id)
        .send(&app)
        .await
        .problem(404, &task.id);
    Call::delete(ALICE, &task.id)
        .send(&app)
        .await
        .problem(404, &task.id);
    Call::update(ALICE, &task.id, change())
        .header("if-match", "\"3\"")
        .send(&app)
        .await
        .problem(404, &task.id);
}

#[tokio::test]
async fn owners_never_see_each_others_tasks() {
    let app = app().await;
    let alices = create(&app, ALICE, "alice's secret").await;
    let bobs_older = create(&app, BOB, "bob's older").await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let alices_newer = create(&app, ALICE, "alice's newer").await;

    // Bob cannot read, change or delete Alice's task, even knowing its id and version.
    Call::get(BOB, &alices.id)
        .send(&app)
        .await
        .problem(404, &alices.id);
    Call::update(BOB, &alices.id, json!({"task_name": "pwned"}))
        .send(&app)
        .await
        .problem(404, &alices.id);
    Call::update(BOB, &alices.id, json!({"task_name": "pwned"}))
        .header("if-match", "\"1\"")
        .send(&app)
        .await
        .problem(404, &alices.id);
    Call::delete(BOB, &alices.id)
        .send(&app)
        .await
        .problem(404, &alices.id);
    Call::delete(BOB, &alices.id)
        .header("if-match", "*")
        .send(&app)
        .await
        .problem(404, &alices.id);
    assert_eq!(Call::get(ALICE, &alices.id).send(&app).await.task(), alices);

    // Bob's listing holds only his task.
    let bobs = Call::list(BOB, "").send(&app).await.list();
    assert_eq!(bobs.items, vec![bobs_older.clone()]);

    // Alice's cursor, given to Bob, pages through Bob's partition only.
    let alice_page = Call::list(ALICE, "limit=1").send(&app).await.list();
    assert_eq!(alice_page.items[0].id, alices_newer.id);
    let next = alice_page.next.expect("alice has more");
    let borrowed = Call::list(BOB, &format!("limit=1&next={next}"))
        .send(&app)
        .await
        .list();
    assert!(
        borrowed.items.iter().all(|t| t.id != alices.id),
        "{borrowed:?}"
    );
    assert_eq!(borrowed.items, vec![bobs_older]);
}

#[tokio::test]
async fn requests_without_identity_are_401() {
    let app = app().await;
    for call in [
        Call::new("list-tasks.json", None),
        Call::new("create-task.json", None),
        Call::new("get-task.json", None),
    ] {
        let reply = call.send(&app).await;
        reply.problem(401, "no verified identity");
        assert_eq!(reply.header("www-authenticate"), "Bearer");
    }
    for malformed in ["  ", " user-alice", "user-alice\n"] {
        Call::new("list-tasks.json", Some(malformed))
            .send(&app)
            .await
            .problem(401, "sub claim is malformed");
    }
    Call::new("list-tasks.json", Some(&"x".repeat(256)))
        .send(&app)
        .await
        .problem(401, "longer than 255");
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = app().await;
    let reply = Call::new("get-task.json", Some(ALICE))
        .path("/projects")
        .send(&app)
        .await;
    let problem = reply.problem(404, "no resource at /projects");
    assert_eq!(problem.instance.as_deref(), Some("/projects"));

    let reply = Call::new("list-tasks.json", Some(ALICE))
        .method("PATCH")
        .send(&app)
        .await;
    reply.problem(405, "PATCH");
    assert_eq!(reply.header(ALLOW), "GET, POST");
    let reply = Call::new("get-task.json", Some(ALICE))
        .method("POST")
        .send(&app)
        .await;
    reply.problem(405, "POST");
    assert_eq!(reply.header(ALLOW), "GET, PUT, DELETE");

    // Ids this API never issues are not found without a lookup.
    Call::get(ALICE, "not-a-task-id")
        .send(&app)
        .await
        .problem(404, "not-a-task-id");
}

#[tokio::test]
async fn bodies_are_validated_precisely() {
    let app = app().await;
    let task = create(&app, ALICE, "target").await;
    let long_name = "x".repeat(MAX_TASK_NAME_CHARS + 1);
    let huge = format!(r#"{{"task_name":"{}"}}"#, "y".repeat(MAX_BODY_BYTES));
    let cases: Vec<(Call, u16, &str)> = vec![
        (
            Call::create(ALICE, json!({})).header("content-type", "text/plain"),
            415,
            "text/plain",
        ),
        (
            Call::create(ALICE, json!({})).without_header("content-type"),
            415,
            "Content-Type is missing",
        ),
        (
            Call::new("create-task.json", Some(ALICE)).body("{\"task_name\": "),
            400,
            "not valid JSON",
        ),
        (
            Call::new("create-task.json", Some(ALICE)).body(""),
            400,
            "request body is empty",
        ),
        (
            Call::new("create-task.json", Some(ALICE)).body(&huge),
            413,
            "the limit is 8192 bytes",
        ),
        (
            Call::create(ALICE, json!({"task_name": "a", "owner": BOB})),
            400,
            "unknown field `owner`",
        ),
        (
            Call::create(ALICE, json!({"task_name": ""})),
            400,
            "must not be empty",
        ),
        (
            Call::create(ALICE, json!({"task_name": long_name})),
            400,
            "the limit is 500",
        ),
        (
            Call::create(ALICE, json!({"task_name": "a", "status": "Done"})),
            400,
            "unknown variant `Done`",
        ),
        (
            Call::create(ALICE, json!(["task_name"])),
            400,
            "must be a JSON object",
        ),
        (
            Call::update(ALICE, &task.id, json!({})),
            400,
            "nothing to update",
        ),
        (
            Call::update(ALICE, &task.id, json!({"status": null})),
            400,
            "invalid type: null",
        ),
        (
            Call::update(ALICE, &task.id, json!({"version": 9})),
            400,
            "unknown field `version`",
        ),
    ];
    for (call, status, detail) in cases {
        call.send(&app).await.problem(status, detail);
    }
    // None of it changed the task, nor created one.
    assert_eq!(Call::get(ALICE, &task.id).send(&app).await.task(), task);
    assert_eq!(
        Call::list(ALICE, "").send(&app).await.list().items,
        vec![task]
    );
}

#[tokio::test]
async fn base64_encoded_bodies_are_accepted() {
    use base64::Engine;
    let app = app().await;
    let mut call = Call::new("create-task.json", Some(ALICE));
    call.event["body"] =
        json!(base64::engine::general_purpose::STANDARD.encode(r#"{"task_name":"encoded"}"#));
    call.event["isBase64Encoded"] = json!(true);
    let reply = call.send(&app).await;
    assert_eq!(reply.status(), 201, "{}", reply.text());
    assert_eq!(reply.task().task_name, "encoded");
}

#[tokio::test]
async fn every_sample_event_is_served() {
    let app = app().await;
    // The samples name a task that does not exist in a fresh table.
    let expectations = [
        ("create-task.json", 201),
        ("list-tasks.json", 200),
        ("get-task.json", 404),
        ("update-task.json", 404),
        ("delete-task.json", 404),
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/todo-api");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut expected: Vec<_> = expectations.iter().map(|(f, _)| f.to_string()).collect();
    expected.sort();
    assert_eq!(files, expected, "every sample has an expectation");
    for (file, status) in expectations {
        let reply = Call::new(file, Some(ALICE)).send(&app).await;
        assert_eq!(reply.status(), status, "{file}: {}", reply.text());
    }
}

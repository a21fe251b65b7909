//! The HTTP handler: route, identify, validate, call the store, answer.

use aws_sdk_dynamodb::Client;
use lambda_http::http::StatusCode;
use lambda_http::http::header::{ETAG, HeaderValue, LOCATION};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use shared::http::{
    ApiError, answer, empty_response, json_response, parse_json_body, raw_path, split_stage, stage,
};

use crate::config::Config;
use crate::identity::{self, Owner};
use crate::list_query;
use crate::model::{MAX_BODY_BYTES, NewTask, Task, TaskChanges};
use crate::preconditions::expected_version;
use crate::routes::{self, Route, TASKS_PATH};
use crate::store::TaskStore;

/// What the handler needs, built once at init.
#[derive(Debug, Clone)]
pub struct App {
    store: TaskStore,
}

impl App {
    pub fn new(client: Client, config: &Config) -> Self {
        Self {
            store: TaskStore::new(client, config.tasks_table.clone()),
        }
    }
}

/// The body of `GET /tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TaskList {
    pub items: Vec<Task>,
    /// Pass as `next` to get the following page; `null` on the last page. A page can be
    /// followed by an empty last page when the listing ends exactly at its limit.
    pub next: Option<String>,
}

/// Answers one request. Every failure becomes an RFC 9457 problem response; nothing escapes as
/// an unhandled error, so the runtime never reports a 502 for a request we understood.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let path = raw_path(&request).to_owned();
    answer(respond(app, &request, &path).await, &path)
}

async fn respond(app: &App, request: &Request, path: &str) -> Result<Response<Body>, ApiError> {
    let stage = stage(request);
    let route = routes::resolve(request.method(), path, stage)?;
    let owner = identity::owner(request)?;
    match route {
        Route::ListTasks => list(app, &owner, request).await,
        Route::CreateTask => {
            let new = parse_json_body::<NewTask>(request, MAX_BODY_BYTES)?.validate()?;
            let task = app.store.create(&owner, new).await?;
            tracing::info!(task_id = %task.id, "task created");
            let (prefix, _) = split_stage(path, stage);
            let mut response = with_etag(StatusCode::CREATED, &task);
            let location = format!("{prefix}{TASKS_PATH}/{}", task.id);
            response.headers_mut().insert(
                LOCATION,
                HeaderValue::from_str(&location).map_err(|e| ApiError::Internal(e.to_string()))?,
            );
            Ok(response)
        }
        Route::GetTask(id) => {
            let task = app.store.get(&owner, &id).await?;
            Ok(with_etag(StatusCode::OK, &task))
        }
        Route::UpdateTask(id) => {
            let changes = parse_json_body::<TaskChanges>(request, MAX_BODY_BYTES)?.validate()?;
            let expected = expected_version(request.headers())?;
            let task = app.store.update(&owner, &id, changes, &expected).await?;
            tracing::info!(task_id = %task.id, version = task.version, "task updated");
            Ok(with_etag(StatusCode::OK, &task))
        }
        Route::DeleteTask(id) => {
            let expected = expected_version(request.headers())?;
            app.store.delete(&owner, &id, &expected).await?;
            tracing::info!(task_id = %id, "task deleted");
            Ok(empty_response(StatusCode::NO_CONTENT))
        }
    }
}

async fn list(app: &App, owner: &Owner, request: &Request) -> Result<Response<Body>, ApiError> {
    let parameters = request.query_string_parameters_ref();
    let query = list_query::parse(parameters.into_iter().flat_map(|map| map.iter()))?;
    let page = app.store.list(owner, &query).await?;
    let body = TaskList {
        items: page.tasks,
        next: page.next.map(|cursor| cursor.encode()),
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn with_etag(status: StatusCode, task: &Task) -> Response<Body> {
    let mut response = json_response(status, task);
    if let Ok(etag) = HeaderValue::from_str(&task.etag()) {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

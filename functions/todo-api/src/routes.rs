//! Which operation a method and path ask for. Unknown paths are 404, known paths with a
//! method they do not serve are 405 with `Allow`.

use lambda_http::http::Method;
use shared::http::{ApiError, split_stage};
use ulid::Ulid;

/// An operation of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ListTasks,
    CreateTask,
    GetTask(String),
    UpdateTask(String),
    DeleteTask(String),
}

/// The collection path; a task is at `/tasks/{id}`.
pub const TASKS_PATH: &str = "/tasks";

/// Every operation as `(method, path template)`, as the OpenAPI document lists them. The
/// deployment routes `ANY` on both paths to the function, so 404 and 405 come from [`resolve`].
pub const ROUTES: [(&str, &str); 5] = [
    ("GET", "/tasks"),
    ("POST", "/tasks"),
    ("GET", "/tasks/{id}"),
    ("PUT", "/tasks/{id}"),
    ("DELETE", "/tasks/{id}"),
];

/// Resolves a request. `path` is the raw path API Gateway received; with a named stage
/// (not `$default`) it may start with `/{stage}`, which is not part of the route.
pub fn resolve(method: &Method, path: &str, stage: Option<&str>) -> Result<Route, ApiError> {
    let (_, path) = split_stage(path, stage);
    let not_found = || ApiError::NotFound(format!("no resource at {path}"));
    let mut segments = path.strip_prefix('/').ok_or_else(not_found)?.split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("tasks"), None, None) => match *method {
            Method::GET => Ok(Route::ListTasks),
            Method::POST => Ok(Route::CreateTask),
            _ => Err(not_allowed(method, vec![Method::GET, Method::POST])),
        },
        (Some("tasks"), Some(id), None) if !id.is_empty() => {
            let route = match *method {
                Method::GET => Route::GetTask,
                Method::PUT => Route::UpdateTask,
                Method::DELETE => Route::DeleteTask,
                _ => {
                    return Err(not_allowed(
                        method,
                        vec![Method::GET, Method::PUT, Method::DELETE],
                    ));
                }
            };
            // Only ids this API could have issued can exist: anything else is answered here,
            // without a database read.
            if !is_task_id(id) {
                return Err(ApiError::NotFound(format!("no task with id {id:?}")));
            }
            Ok(route(id.to_owned()))
        }
        _ => Err(not_found()),
    }
}

/// Task ids are ULIDs in canonical (upper-case Crockford base32) form: unique, and ordered by
/// creation time, which is what lets a list come back newest first from the key alone.
pub fn is_task_id(id: &str) -> bool {
    Ulid::from_string(id).is_ok_and(|ulid| ulid.to_string() == id)
}

fn not_allowed(method: &Method, allow: Vec<Method>) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.clone(),
        allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01JD5QG5V3W8J5XKZ3M4N6P7Q8";

    fn route(method: Method, path: &str) -> Result<Route, ApiError> {
        resolve(&method, path, None)
    }

    #[test]
    fn resolves_every_route() {
        assert_eq!(route(Method::GET, "/tasks"), Ok(Route::ListTasks));
        assert_eq!(route(Method::POST, "/tasks"), Ok(Route::CreateTask));
        let item = format!("/tasks/{ID}");
        assert_eq!(route(Method::GET, &item), Ok(Route::GetTask(ID.into())));
        assert_eq!(route(Method::PUT, &item), Ok(Route::UpdateTask(ID.into())));
        assert_eq!(
            route(Method::DELETE, &item),
            Ok(Route::DeleteTask(ID.into()))
        );
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in [
            "/",
            "/task",
            "/tasks/",
            &format!("/tasks/{ID}/x"),
            "tasks",
            "",
        ] {
            let err = route(Method::GET, path).unwrap_err();
            assert!(matches!(err, ApiError::NotFound(_)), "{path}: {err:?}");
        }
    }

    #[test]
    fn ids_that_cannot_exist_are_404_without_a_lookup() {
        let lower = ID.to_lowercase();
        for id in ["nope", "1", lower.as_str(), "01JD5QG5V3W8J5XKZ3M4N6P7Q8Z"] {
            let err = route(Method::GET, &format!("/tasks/{id}")).unwrap_err();
            assert!(matches!(err, ApiError::NotFound(_)), "{id}: {err:?}");
        }
    }

    #[test]
    fn wrong_methods_are_405_with_allow() {
        let err = route(Method::DELETE, "/tasks").unwrap_err();
        assert_eq!(
            err,
            ApiError::MethodNotAllowed {
                method: Method::DELETE,
                allow: vec![Method::GET, Method::POST]
            }
        );
        // Method is checked before the id: the resource's methods do not depend on it.
        let err = route(Method::PATCH, "/tasks/whatever").unwrap_err();
        assert!(matches!(err, ApiError::MethodNotAllowed { allow, .. } if allow.len() == 3));
    }

    #[test]
    fn named_stage_prefix_is_not_part_of_the_route() {
        let r = resolve(&Method::GET, "/prod/tasks", Some("prod"));
        assert_eq!(r, Ok(Route::ListTasks));
        let r = resolve(&Method::GET, "/tasks", Some("prod"));
        assert_eq!(r, Ok(Route::ListTasks));
        let r = resolve(&Method::GET, "/production/tasks", Some("prod"));
        assert!(r.is_err());
        let r = resolve(&Method::GET, "/tasks", Some("$default"));
        assert_eq!(r, Ok(Route::ListTasks));
    }
}

//! HTTP API route selection, as API Gateway does it for the manifest's route keys.
//!
//! A route key is `<METHOD|ANY> <path>`; path segments are literal, `{name}` (one non-empty
//! segment) or a final `{name+}` (the rest of the path). When several routes match, the most
//! specific wins: more literal segments, then no greedy segment, then a named method over `ANY`.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use stack::HttpApiSpec;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

#[derive(Debug, Clone)]
struct Route {
    key: String,
    /// `None` for `ANY`.
    method: Option<String>,
    segments: Vec<Segment>,
    function: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {route:?}: {reason}")]
pub struct RouteError {
    route: String,
    reason: &'static str,
}

/// The route a request selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route_key: &'a str,
    pub function: &'a str,
    pub path_parameters: HashMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    pub fn from_manifest(api: &HttpApiSpec) -> Result<Self, RouteError> {
        let routes = api
            .routes
            .iter()
            .map(|spec| {
                let (method, path) = spec.method_and_path();
                let error = |reason| RouteError {
                    route: spec.route.clone(),
                    reason,
                };
                let segments = split_path(path)
                    .iter()
                    .map(|segment| {
                        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(name) if name.ends_with('+') => {
                                Ok(Segment::Greedy(name.trim_end_matches('+').to_owned()))
                            }
                            Some("") => Err(error("empty path parameter name")),
                            Some(name) => Ok(Segment::Param(name.to_owned())),
                            None => Ok(Segment::Literal((*segment).to_owned())),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if segments
                    .iter()
                    .rev()
                    .skip(1)
                    .any(|segment| matches!(segment, Segment::Greedy(_)))
                {
                    return Err(error("a greedy {name+} segment must be the last"));
                }
                Ok(Route {
                    key: spec.route.clone(),
                    method: (method != "ANY").then(|| method.to_owned()),
                    segments,
                    function: spec.function.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { routes })
    }

    /// The route for `method` on the raw (still percent-encoded) `path`, if any.
    pub fn find(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        let request_segments = split_path(path);
        self.routes
            .iter()
            .filter(|route| route.method.as_deref().is_none_or(|m| m == method))
            .filter_map(|route| {
                let parameters = route.match_segments(&request_segments)?;
                let literals = route
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                let greedy = matches!(route.segments.last(), Some(Segment::Greedy(_)));
                let rank = (literals, !greedy, route.method.is_some());
                Some((rank, route, parameters))
            })
            .max_by_key(|(rank, _, _)| *rank)
            .map(|(_, route, path_parameters)| Matched {
                route_key: &route.key,
                function: &route.function,
                path_parameters,
            })
    }
}

impl Route {
    fn match_segments(&self, request: &[&str]) -> Option<HashMap<String, String>> {
        let mut parameters = HashMap::new();
        for (position, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Greedy(name) => {
                    let rest = request.get(position..).filter(|rest| !rest.is_empty())?;
                    parameters.insert(name.clone(), decode(&rest.join("/")));
                    return Some(parameters);
                }
                Segment::Literal(literal) => {
                    if request.get(position) != Some(&literal.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let value = request.get(position).filter(|value| !value.is_empty())?;
                    parameters.insert(name.clone(), decode(value));
                }
            }
        }
        (request.len() == self.segments.len()).then_some(parameters)
    }
}

fn split_path(path: &str) -> Vec<&str> {
    match path.strip_prefix('/') {
        Some("") | None => Vec::new(),
        Some(rest) => rest.split('/').collect(),
    }
}

fn decode(value: &str) -> String {
    percent_decode_str(value).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use stack::Stack;

    use super::*;

    fn table(routes: &[(&str, &str)]) -> RouteTable {
        let mut api = Stack::workspace().http_api.unwrap();
        api.routes = routes
            .iter()
            .map(|(route, function)| stack::RouteSpec {
                route: (*route).into(),
                function: (*function).into(),
            })
            .collect();
        RouteTable::from_manifest(&api).unwrap()
    }

    #[test]
    fn the_manifest_routes_select_todo_api_with_the_id() {
        let stack = Stack::workspace();
        let routes = RouteTable::from_manifest(stack.http_api.as_ref().unwrap()).unwrap();
        let list = routes.find("GET", "/tasks").unwrap();
        assert_eq!((list.route_key, list.function), ("ANY /tasks", "todo-api"));
        assert!(list.path_parameters.is_empty());
        let one = routes.find("DELETE", "/tasks/01J%2Fx").unwrap();
        assert_eq!(one.route_key, "ANY /tasks/{id}");
        assert_eq!(one.path_parameters["id"], "01J/x");
        assert_eq!(routes.find("GET", "/"), None);
        assert_eq!(
            routes.find("GET", "/tasks/"),
            None,
            "an empty segment is no id"
        );
        assert_eq!(routes.find("GET", "/tasks/a/b"), None);
        assert_eq!(routes.find("GET", "/other"), None);
    }

    #[test]
    fn the_most_specific_route_wins() {
        let routes = table(&[
            ("ANY /items/{proxy+}", "greedy"),
            ("ANY /items/{id}", "any-param"),
            ("GET /items/{id}", "get-param"),
            ("GET /items/special", "literal"),
        ]);
        let pick = |method, path| routes.find(method, path).map(|m| m.function.to_owned());
        assert_eq!(pick("GET", "/items/special").as_deref(), Some("literal"));
        assert_eq!(pick("GET", "/items/7").as_deref(), Some("get-param"));
        assert_eq!(pick("POST", "/items/7").as_deref(), Some("any-param"));
        assert_eq!(pick("POST", "/items/7/parts/2").as_deref(), Some("greedy"));
        assert_eq!(
            routes.find("PUT", "/items/a/b").unwrap().path_parameters["proxy"],
            "a/b"
        );
        assert_eq!(
            pick("GET", "/items"),
            None,
            "greedy needs at least one segment"
        );
    }

    #[test]
    fn a_greedy_segment_must_come_last() {
        let mut api = Stack::workspace().http_api.unwrap();
        api.routes[0].route = "ANY /{proxy+}/tail".into();
        let error = RouteTable::from_manifest(&api).unwrap_err();
        assert!(error.to_string().contains("must be the last"), "{error}");
    }
}

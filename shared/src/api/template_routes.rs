//! The route table (`api::routes`) and `template.yaml` declare the same routes. API Gateway
//! must deliver every route of the table (with the `OPTIONS` preflight of a frontend route) to
//! the function the table names, backend routes must take the IAM switch, and every
//! `AWS::ApiGatewayV2::Route` of the template must be one that a route of the table uses.
//!
//! A template route is matched the way API Gateway picks one for a request: on the API of the
//! function, by method (`ANY` matches every method), then by path segments, a literal before a
//! `{param}` before a greedy `{proxy+}`. So `GET /demo/{asset}` serves the table's four
//! `/demo/<file>` routes; a `{param}` of the table is matched only by a template `{param}`.

use std::collections::BTreeSet;

use serde_norway::Value;

use super::{Access, Function, FUNCTIONS};

/// One `AWS::ApiGatewayV2::Route` of the template, resolved down to the function it targets.
#[derive(Debug)]
struct GatewayRoute {
    resource: String,
    api: String,
    /// `METHOD /path`, or a WebSocket API's route key (`$connect`: then `method` is empty).
    key: String,
    method: String,
    path: Vec<Segment>,
    /// The function's folder under `functions/` (its `CodeUri`), e.g. `auth-start`.
    function: String,
    /// `AuthorizationType: !If [UseIam, AWS_IAM, NONE]`.
    iam: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
    Greedy,
}

/// Segments of a path in either syntax: `{name}` is one segment; `{*name}` (axum) and
/// `{name+}` (API Gateway) are the rest of the path.
fn segments(path: &str) -> Vec<Segment> {
    path.trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if name.starts_with('*') || name.ends_with('+') => Segment::Greedy,
            Some(_) => Segment::Param,
            None => Segment::Literal(s.to_owned()),
        })
        .collect()
}

/// How specifically the template path `gateway` takes every request of the table path `code`
/// (higher is more specific, compared segment by segment), or `None` when it does not.
fn covers(gateway: &[Segment], code: &[Segment]) -> Option<Vec<u8>> {
    let mut rank = Vec::new();
    for (i, g) in gateway.iter().enumerate() {
        match (g, code.get(i)) {
            (Segment::Greedy, Some(_)) => {
                rank.push(0);
                return Some(rank);
            }
            (Segment::Literal(a), Some(Segment::Literal(b))) if a == b => rank.push(2),
            (Segment::Param, Some(Segment::Literal(_) | Segment::Param)) => rank.push(1),
            _ => return None,
        }
    }
    (gateway.len() == code.len()).then_some(rank)
}

fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(t) if t.tag == tag => Some(&t.value),
        _ => None,
    }
}

fn string<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, found {value:?}"))
}

/// `!Ref Name` → `Name`.
fn reference<'a>(value: &'a Value, what: &str) -> &'a str {
    string(
        tagged(value, "Ref").unwrap_or_else(|| panic!("{what}: expected !Ref")),
        what,
    )
}

fn gateway_routes(template: &str) -> Vec<GatewayRoute> {
    let doc: Value = serde_norway::from_str(template).expect("template.yaml parses");
    let resources = doc["Resources"].as_mapping().expect("Resources is a mapping");
    let resource = |name: &str| &doc["Resources"][name];
    let mut out = Vec::new();
    for (name, body) in resources {
        if body["Type"].as_str() != Some("AWS::ApiGatewayV2::Route") {
            continue;
        }
        let name = string(name, "resource name");
        let props = &body["Properties"];
        let key = string(&props["RouteKey"], name);
        let (method, path) = match key.split_once(' ') {
            Some(split) => split,
            None if key.starts_with('$') => ("", key),
            None => panic!("{name}: RouteKey is neither 'METHOD /path' nor a WebSocket route key"),
        };
        // Target: !Sub "integrations/${<Integration>}" → IntegrationUri: !GetAtt <Function>.Arn
        let target = tagged(&props["Target"], "Sub").unwrap_or_else(|| panic!("{name}: Target is not !Sub"));
        let integration = string(target, name)
            .strip_prefix("integrations/${")
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{name}: Target is not integrations/${{…}}"));
        // `!GetAtt <Function>.Arn` (HTTP APIs), or the invocation URI a WebSocket API takes:
        // `!Sub "arn:…:lambda:path/2015-03-31/functions/${<Function>.Arn}/invocations"`.
        let uri = &resource(integration)["Properties"]["IntegrationUri"];
        let function = tagged(uri, "GetAtt")
            .map(|v| string(v, integration))
            .and_then(|s| s.strip_suffix(".Arn"))
            .or_else(|| {
                let sub = string(tagged(uri, "Sub")?, integration);
                sub.split_once("/functions/${")?.1.strip_suffix(".Arn}/invocations")
            })
            .unwrap_or_else(|| panic!("{integration}: IntegrationUri names no function's ARN"));
        let code_uri = string(&resource(function)["Properties"]["CodeUri"], function);
        let api = reference(&props["ApiId"], name);
        assert_eq!(
            reference(&resource(integration)["Properties"]["ApiId"], integration),
            api,
            "{name} targets {integration} of another API"
        );
        let iam = match props.get("AuthorizationType") {
            None => false,
            Some(v) => {
                let expected: Value = serde_norway::from_str("!If [UseIam, AWS_IAM, NONE]").unwrap();
                assert_eq!(v, &expected, "{name}: AuthorizationType is not the IAM switch");
                true
            }
        };
        out.push(GatewayRoute {
            resource: name.to_owned(),
            api: api.to_owned(),
            key: key.to_owned(),
            method: method.to_owned(),
            path: segments(path),
            function: code_uri
                .strip_prefix("functions/")
                .unwrap_or_else(|| panic!("{function}: CodeUri is not functions/<name>"))
                .to_owned(),
            iam,
        });
    }
    out
}

/// The API a function's routes are on in the template.
fn api_of(function: &Function) -> &'static str {
    match function.name {
        "callback-redirect" => "CallbackApi",
        "websocket" => "WebSocketApi",
        _ => "Api",
    }
}

/// What is wrong between the table and the template, one line per problem.
fn mismatches(template: &str) -> Vec<String> {
    let gateway = gateway_routes(template);
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for (function, route) in FUNCTIONS
        .iter()
        .flat_map(|f| (f.routes)().into_iter().map(move |r| (f, r)))
    {
        if route.access == Access::Socket {
            let key = format!("{} ({})", route.path, function.name);
            match gateway
                .iter()
                .find(|g| g.api == api_of(function) && g.key == route.path)
            {
                None => problems.push(format!("{key}: no route in template.yaml")),
                Some(g) => {
                    used.insert(g.resource.as_str());
                    if g.function != function.name {
                        problems.push(format!(
                            "{key}: template.yaml's {} sends it to {}",
                            g.resource, g.function
                        ));
                    }
                }
            }
            continue;
        }
        let code = segments(route.path);
        for method in route.gateway_methods() {
            let key = format!("{method} {} ({})", route.path, function.name);
            let best = gateway
                .iter()
                .filter(|g| g.api == api_of(function) && (g.method == method.as_str() || g.method == "ANY"))
                .filter_map(|g| covers(&g.path, &code).map(|rank| ((rank, g.method != "ANY"), g)))
                .max_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, g)| g);
            let Some(g) = best else {
                problems.push(format!("{key}: no route in template.yaml"));
                continue;
            };
            used.insert(g.resource.as_str());
            if g.function != function.name {
                problems.push(format!(
                    "{key}: template.yaml's {} sends it to {}",
                    g.resource, g.function
                ));
            }
            if g.iam != (route.access == Access::Backend) {
                problems.push(format!(
                    "{key}: template.yaml's {} {} the IAM switch (AuthorizationType)",
                    g.resource,
                    if g.iam { "has" } else { "lacks" }
                ));
            }
        }
    }
    for g in &gateway {
        if !used.contains(g.resource.as_str()) {
            problems.push(format!(
                "template.yaml's {} has no route in the route table",
                g.resource
            ));
        }
    }
    problems
}

fn template() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    std::fs::read_to_string(path).expect("template.yaml is at the repository root")
}

#[test]
fn every_route_of_the_table_is_in_the_template_and_back() {
    let problems = mismatches(&template());
    assert!(
        problems.is_empty(),
        "routes and template.yaml disagree:\n{}",
        problems.join("\n")
    );
}

/// The template without the resource `name` (its header line and everything indented below).
fn without_resource(template: &str, name: &str) -> String {
    let header = format!("  {name}:");
    let mut skipping = false;
    let mut lines = Vec::new();
    for line in template.lines() {
        skipping = line == header || (skipping && (line.starts_with("    ") || line.is_empty()));
        if !skipping {
            lines.push(line);
        }
    }
    assert!(lines.len() < template.lines().count(), "{name} is in the template");
    lines.join("\n")
}

#[test]
fn a_route_missing_from_either_side_or_on_another_function_is_reported() {
    let template = template();
    assert!(mismatches(&template).is_empty());

    let removed = without_resource(&template, "RouteOAuthResultPreflight");
    assert_eq!(
        mismatches(&removed),
        ["OPTIONS /oauth/result/{nonce} (auth-start): no route in template.yaml"]
    );
    let removed = without_resource(&template, "RouteSocketConnect");
    assert_eq!(
        mismatches(&removed),
        ["$connect (websocket): no route in template.yaml"]
    );

    let extra = template.replace(
        "  RouteLogs:\n",
        "  RouteStale:\n    Type: AWS::ApiGatewayV2::Route\n    Properties:\n      ApiId: !Ref Api\n      \
         RouteKey: GET /stale\n      Target: !Sub \"integrations/${AdminIntegration}\"\n  RouteLogs:\n",
    );
    assert_eq!(
        mismatches(&extra),
        ["template.yaml's RouteStale has no route in the route table"]
    );

    let moved = template.replace(
        "RouteKey: GET /logs\n      AuthorizationType: !If [UseIam, AWS_IAM, NONE]\n      \
         Target: !Sub \"integrations/${AdminIntegration}\"",
        "RouteKey: GET /logs\n      AuthorizationType: !If [UseIam, AWS_IAM, NONE]\n      \
         Target: !Sub \"integrations/${ConnectionsIntegration}\"",
    );
    assert_ne!(moved, template);
    assert_eq!(
        mismatches(&moved),
        ["GET /logs (admin): template.yaml's RouteLogs sends it to connections"]
    );

    let open = template.replace(
        "RouteKey: GET /connections\n      AuthorizationType: !If [UseIam, AWS_IAM, NONE]\n",
        "RouteKey: GET /connections\n",
    );
    assert_ne!(open, template);
    assert_eq!(
        mismatches(&open),
        ["GET /connections (connections): template.yaml's RouteListConnections lacks the IAM switch (AuthorizationType)"]
    );
}

#[test]
fn paths_match_as_api_gateway_picks_routes() {
    let s = segments;
    assert_eq!(covers(&s("/demo/{asset}"), &s("/demo/demo.css")), Some(vec![2, 1]));
    assert_eq!(covers(&s("/demo/demo.css"), &s("/demo/demo.css")), Some(vec![2, 2]));
    assert_eq!(covers(&s("/demo/{asset}"), &s("/demo")), None);
    assert_eq!(covers(&s("/oauth/{x}"), &s("/oauth/connect/{integration}")), None);
    assert_eq!(covers(&s("/oauth/connect"), &s("/oauth/{x}")), None);
    assert_eq!(covers(&s("/{proxy+}"), &s("/{*path}")), Some(vec![0]));
    assert_eq!(covers(&s("/{proxy+}"), &s("/a/b")), Some(vec![0]));
    assert_eq!(covers(&s("/a/{x}"), &s("/{*path}")), None);
}

/// Every function's router builds from its block (a duplicate method on a path would panic)
/// and serves exactly its own routes, preflights included: another function's answer the
/// router's JSON 404.
#[tokio::test]
async fn every_function_router_serves_exactly_its_routes() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let dir = tempfile::tempdir().unwrap();
    let config = crate::config::Config::new("dev", "http://127.0.0.1:3003".parse().unwrap(), None);
    let state = crate::local::open(dir.path(), config).unwrap().state;
    for function in FUNCTIONS {
        let router = super::router(function, state.clone());
        for owner in FUNCTIONS {
            for route in (owner.routes)().iter().filter(|r| r.handler.is_some()) {
                let path: Vec<_> = route
                    .path
                    .split('/')
                    .map(|s| if s.starts_with('{') { "x" } else { s })
                    .collect();
                for method in route.gateway_methods() {
                    let req = Request::builder()
                        .method(method.clone())
                        .uri(path.join("/"))
                        .body(Body::empty())
                        .unwrap();
                    let res = router.clone().oneshot(req).await.unwrap();
                    let status = res.status();
                    let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
                    let unrouted = status == 404 && body.windows(14).any(|w| w == b"No such route.");
                    assert_eq!(
                        unrouted,
                        owner.name != function.name,
                        "{method} {} on {}: {status}",
                        route.path,
                        function.name
                    );
                }
            }
        }
    }
}

//! Feeding a router real API Gateway HTTP API (payload 2.0) events through the
//! same adapter `lambda_http::run` uses, as Lambda would.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::{Value, json};

/// An event for `route` (e.g. `ANY /v1/device/{proxy+}`), as API Gateway sends it.
pub fn http_api_event(
    route: &str,
    method: &str,
    path: &str,
    headers: Value,
    body: &[u8],
    base64: bool,
) -> Value {
    let body = if base64 {
        B64.encode(body)
    } else {
        String::from_utf8(body.to_vec()).expect("a text body")
    };
    let route_prefix = route
        .split_once(' ')
        .map(|(_, p)| p.trim_end_matches("{proxy+}"))
        .unwrap_or("/");
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method, "path": path, "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9", "userAgent": "rampart-tests"
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": route,
            "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1_795_000_000_000i64
        },
        "pathParameters": {"proxy": path.strip_prefix(route_prefix).unwrap_or(path)},
        "body": body,
        "isBase64Encoded": base64
    })
}

/// The status and JSON body (`null` when empty) the handler answers an event with.
pub async fn invoke(router: &axum::Router, event: Value) -> (u16, Value) {
    let req: LambdaRequest = serde_json::from_value(event).expect("an API Gateway v2 event");
    let mut adapter = Adapter::from(router.clone());
    let resp = adapter
        .call(LambdaEvent::new(req, Context::default()))
        .await
        .expect("the router is infallible");
    let resp = serde_json::to_value(&resp).expect("the response serializes");
    let status = resp["statusCode"].as_u64().expect("a status code") as u16;
    let raw = resp["body"].as_str().unwrap_or_default();
    let body = if resp["isBase64Encoded"].as_bool() == Some(true) {
        String::from_utf8(B64.decode(raw).expect("base64 body")).expect("a text body")
    } else {
        raw.to_owned()
    };
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON body: {body:?}"))
    };
    (status, json)
}

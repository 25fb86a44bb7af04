//! JSON responses: the shapes callers and tests rely on.

use lambda_http::{
    Body, Response,
    http::{
        HeaderValue, StatusCode,
        header::{ALLOW, CONTENT_TYPE},
    },
};
use serde_json::{Value, json};

/// `200` with the dice: `{"player":..,"roll":4}` when the caller did not ask for a count,
/// `{"player":..,"rolls":[4,1,6]}` when it did (even `rolls=1`), so a client that sends
/// `rolls` always gets an array back.
pub(crate) fn rolled(player: Option<&str>, asked_for_count: bool, values: &[u8]) -> Response<Body> {
    let body = match values {
        [value] if !asked_for_count => json!({ "player": player, "roll": value }),
        _ => json!({ "player": player, "rolls": values }),
    };
    json_response(StatusCode::OK, &body)
}

/// An error status with `{"error":"<message>"}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": message }))
}

/// `405` with the `Allow` header RFC 9110 requires on it.
pub(crate) fn method_not_allowed(message: &str) -> Response<Body> {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, message);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET"));
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).expect("body is JSON")
    }

    #[test]
    fn single_roll_shape() {
        let response = rolled(Some("Alice"), false, &[4]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            body_json(&response),
            json!({ "player": "Alice", "roll": 4 })
        );
    }

    #[test]
    fn anonymous_player_is_null() {
        assert_eq!(
            body_json(&rolled(None, false, &[2])),
            json!({ "player": null, "roll": 2 })
        );
    }

    #[test]
    fn asking_for_a_count_always_gives_an_array() {
        assert_eq!(
            body_json(&rolled(Some("Bob"), true, &[5])),
            json!({ "player": "Bob", "rolls": [5] })
        );
        assert_eq!(
            body_json(&rolled(Some("Bob"), true, &[4, 1, 6])),
            json!({ "player": "Bob", "rolls": [4, 1, 6] })
        );
    }

    #[test]
    fn errors_are_json_with_the_message() {
        let response = error(StatusCode::BAD_REQUEST, "nope");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(body_json(&response), json!({ "error": "nope" }));
    }

    #[test]
    fn method_not_allowed_says_what_is() {
        let response = method_not_allowed("use GET");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "GET");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }
}

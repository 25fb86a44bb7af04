//! Routing: which requests reach the dice, and what the others get back.

use lambda_http::{
    Body, Error, Request, RequestExt, Response,
    aws_lambda_events::query_map::QueryMap,
    http::{Method, StatusCode},
};
use rand::Rng;

use crate::{
    query::{QueryError, RollQuery},
    response,
    roll::roll_dice,
};

/// The one path this function serves.
pub const ROUTE_PATH: &str = "/rolldice";

/// Handles one request from API Gateway (HTTP API, payload 2.0) or a Function URL.
///
/// Never returns `Err`: every problem with the request becomes a 4xx JSON response. The
/// `Result` is there because `lambda_http`'s `service_fn` expects one.
pub async fn handler(request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(&request, &mut rand::rng()))
}

/// [`handler`] with the random number generator passed in, so tests can seed it.
pub fn respond<R: Rng + ?Sized>(request: &Request, rng: &mut R) -> Response<Body> {
    let path = request.uri().path();
    if path != ROUTE_PATH {
        return reject_not_found(path);
    }
    if request.method() != Method::GET {
        return reject_method(request.method());
    }
    let empty = QueryMap::default();
    let query = request.query_string_parameters_ref().unwrap_or(&empty);
    match RollQuery::parse(query) {
        Ok(query) => {
            let values = roll_dice(rng, query.player, query.count());
            response::rolled(query.player, query.rolls.is_some(), &values)
        }
        Err(problem) => reject_query(&problem),
    }
}

// Each rejection is logged as a warning event so it shows on the invocation span: a 4xx
// has no error status in the trace, and without the event the reason would be lost.

fn reject_not_found(path: &str) -> Response<Body> {
    let message = format!("no route for {path}: try GET {ROUTE_PATH}?player=Alice");
    tracing::warn!(http.response.status_code = 404, reason = %message, "request rejected");
    response::error(StatusCode::NOT_FOUND, &message)
}

fn reject_method(method: &Method) -> Response<Body> {
    let message = format!("method {method} is not allowed on {ROUTE_PATH}: use GET");
    tracing::warn!(http.response.status_code = 405, reason = %message, "request rejected");
    response::method_not_allowed(&message)
}

fn reject_query(problem: &QueryError) -> Response<Body> {
    let message = problem.to_string();
    tracing::warn!(http.response.status_code = 400, reason = %message, "request rejected");
    response::error(StatusCode::BAD_REQUEST, &message)
}

#[cfg(test)]
mod tests {
    use lambda_http::http::header::{ALLOW, CONTENT_TYPE};
    use rand::{SeedableRng, rngs::StdRng};
    use serde_json::Value;

    use super::*;
    use crate::test_support::{Captured, capture};

    /// A sample event from `events/`, embedded at compile time, with the status it must get.
    macro_rules! sample {
        ($file:literal => $status:literal) => {
            (
                $file,
                include_str!(concat!("../../../events/", $file)),
                $status,
            )
        };
    }

    /// Every sample event and its status: the table in `events/README.md`.
    const EVENTS: [(&str, &str, u16); 10] = [
        sample!("apigw-v2-roll.json" => 200),
        sample!("apigw-v2-multi-roll.json" => 200),
        sample!("apigw-v2-anonymous.json" => 200),
        sample!("apigw-v2-rolls-zero.json" => 400),
        sample!("apigw-v2-rolls-abc.json" => 400),
        sample!("apigw-v2-rolls-too-many.json" => 400),
        sample!("apigw-v2-player-too-long.json" => 400),
        sample!("apigw-v2-wrong-method.json" => 405),
        sample!("apigw-v2-wrong-path.json" => 404),
        sample!("function-url-roll.json" => 200),
    ];

    fn event(name: &str) -> Request {
        let (_, json, _) = EVENTS
            .iter()
            .find(|(file, _, _)| *file == name)
            .unwrap_or_else(|| panic!("no event {name}"));
        lambda_http::request::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Responds to the named event with a seeded RNG, recording what was traced.
    fn respond_to(name: &str) -> (Response<Body>, Value, Captured) {
        let request = event(name);
        let (response, captured) = capture(|| respond(&request, &mut StdRng::seed_from_u64(42)));
        let body = serde_json::from_slice(response.body().as_ref())
            .unwrap_or_else(|e| panic!("{name}: body is not JSON: {e}"));
        (response, body, captured)
    }

    fn is_die(value: &Value) -> bool {
        value
            .as_u64()
            .is_some_and(|v| (1..=u64::from(crate::SIDES)).contains(&v))
    }

    fn assert_rejected(name: &str, status: u16, message_part: &str) {
        let (response, body, captured) = respond_to(name);
        assert_eq!(response.status(), status, "{name}");
        let message = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {body}"));
        assert!(message.contains(message_part), "{name}: {message}");
        assert!(
            captured.spans.is_empty(),
            "{name}: no roll span on a rejection"
        );
        let [warning] = captured.events.as_slice() else {
            panic!("{name}: expected one event, got {:?}", captured.events)
        };
        assert_eq!(warning.level, tracing::Level::WARN);
        assert_eq!(warning.field("reason"), Some(message));
        assert_eq!(
            warning.field("http.response.status_code"),
            Some(status.to_string().as_str())
        );
    }

    #[test]
    fn every_event_gets_its_documented_status_as_json() {
        for (name, _, status) in EVENTS {
            let (response, _, _) = respond_to(name);
            assert_eq!(response.status(), status, "{name}");
            assert_eq!(
                response.headers()[CONTENT_TYPE],
                "application/json",
                "{name}"
            );
        }
    }

    #[test]
    fn named_player_rolls_one_die_in_a_roll_span() {
        let (_, body, captured) = respond_to("apigw-v2-roll.json");
        assert_eq!(body["player"], "Alice");
        assert!(is_die(&body["roll"]), "{body}");
        assert!(body.get("rolls").is_none(), "{body}");
        let [span] = captured.spans.as_slice() else {
            panic!("expected the roll span, got {captured:?}")
        };
        assert_eq!(span.name, "roll");
        assert_eq!(span.field("dice.player"), Some("Alice"));
        assert_eq!(
            span.field("dice.value"),
            Some(body["roll"].to_string().as_str())
        );
        let [log] = captured.logs()[..] else {
            panic!("expected the roll's log event, got {captured:?}")
        };
        assert_eq!(log.level, tracing::Level::INFO);
        assert_eq!(
            log.field("message"),
            Some(format!("Alice rolled {}", body["roll"]).as_str())
        );
    }

    #[test]
    fn rolls_parameter_returns_that_many_dice() {
        let (_, body, captured) = respond_to("apigw-v2-multi-roll.json");
        assert_eq!(body["player"], "Bob");
        let rolls = body["rolls"].as_array().unwrap_or_else(|| panic!("{body}"));
        assert_eq!(rolls.len(), 3);
        assert!(rolls.iter().all(is_die), "{body}");
        let joined: Vec<String> = rolls.iter().map(Value::to_string).collect();
        assert_eq!(
            captured.spans[0].field("dice.values"),
            Some(joined.join(",").as_str())
        );
    }

    #[test]
    fn no_player_is_an_anonymous_roll() {
        let (_, body, captured) = respond_to("apigw-v2-anonymous.json");
        assert_eq!(body["player"], Value::Null);
        assert!(is_die(&body["roll"]), "{body}");
        assert_eq!(captured.spans[0].field("dice.player"), None);
    }

    #[test]
    fn function_url_events_are_served_too() {
        let (_, body, _) = respond_to("function-url-roll.json");
        assert_eq!(body["player"], "Carol");
        assert!(is_die(&body["roll"]), "{body}");
    }

    #[test]
    fn bad_queries_are_rejected_with_a_reason() {
        assert_rejected(
            "apigw-v2-rolls-zero.json",
            400,
            "rolls must be from 1 to 100, got 0",
        );
        assert_rejected("apigw-v2-rolls-too-many.json", 400, "got 101");
        assert_rejected("apigw-v2-rolls-abc.json", 400, "whole number");
        assert_rejected(
            "apigw-v2-player-too-long.json",
            400,
            "at most 64 characters, got 69",
        );
    }

    #[test]
    fn unknown_path_is_not_found() {
        assert_rejected("apigw-v2-wrong-path.json", 404, "no route for /other");
    }

    #[test]
    fn other_methods_are_not_allowed() {
        assert_rejected(
            "apigw-v2-wrong-method.json",
            405,
            "method POST is not allowed",
        );
        let (response, _, _) = respond_to("apigw-v2-wrong-method.json");
        assert_eq!(response.headers()[ALLOW], "GET");
    }

    #[tokio::test]
    async fn handler_uses_a_real_rng() {
        let response = handler(event("apigw-v2-roll.json"))
            .await
            .expect("never fails");
        assert_eq!(response.status(), StatusCode::OK);
    }
}

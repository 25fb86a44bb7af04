//! The dice roller: the example function for `lambda-otel`.
//!
//! `GET /rolldice` behind an API Gateway HTTP API (payload format 2.0) or a Lambda Function
//! URL. The handler lives here, outside `main`, so tests can call it with sample events.
//!
//! # Requests and responses
//!
//! Every response is `application/json`.
//!
//! | request | status | body |
//! | --- | --- | --- |
//! | `GET /rolldice?player=Alice` | 200 | `{"player":"Alice","roll":4}` |
//! | `GET /rolldice?player=Bob&rolls=3` | 200 | `{"player":"Bob","rolls":[4,1,6]}` |
//! | `GET /rolldice` | 200 | `{"player":null,"roll":2}` |
//! | `rolls` not a whole number from 1 to 100 | 400 | `{"error":"rolls must be ..."}` |
//! | `player` empty or over 64 characters | 400 | `{"error":"player must ..."}` |
//! | any other path | 404 | `{"error":"no route for /other: ..."}` |
//! | another method on `/rolldice` | 405, `Allow: GET` | `{"error":"method POST is not allowed ..."}` |
//!
//! An anonymous roll always has `"player": null`, never a missing key, so clients can rely on
//! one schema. Passing `rolls` (even `rolls=1`) always returns the `rolls` array.
//!
//! # Telemetry
//!
//! A successful request rolls inside a `roll` span (child of the invocation span made by
//! `lambda-otel`) with `dice.player` (when given), `dice.rolls`, and `dice.value` (one die)
//! or `dice.values` (several, comma-separated, e.g. `4,1,6`). A rejected request has no
//! `roll` span; its reason is a `WARN` event on the invocation span.
//!
//! # Calling it without Lambda
//!
//! [`respond`] takes the random number generator, so a test can seed it:
//!
//! ```
//! use std::collections::HashMap;
//!
//! use lambda_http::{Body, RequestExt, http::Request};
//!
//! let request = Request::get("/rolldice")
//!     .body(Body::Empty)?
//!     .with_query_string_parameters(HashMap::from([("player".to_owned(), "Alice".to_owned())]));
//! let response = dice_roller::respond(&request, &mut rand::rng());
//! assert_eq!(response.status(), 200);
//! assert!(str::from_utf8(response.body())?.starts_with(r#"{"player":"Alice","roll":"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod handler;
mod query;
mod response;
mod roll;
#[cfg(test)]
mod test_support;

pub use handler::{ROUTE_PATH, handler, respond};
pub use query::{MAX_PLAYER_CHARS, MAX_ROLLS};
pub use roll::SIDES;

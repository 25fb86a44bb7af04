//! A loopback stand-in for the X-Ray daemon: a UDP receiver that checks every
//! datagram as strictly as the daemon and the X-Ray service would, keeps the
//! valid segment documents and the violations, and places the runtime's `/next`
//! polls among the datagrams it received.
//!
//! # Why the polls come to the datagrams, not the datagrams to the timeline
//!
//! UDP has no answer: a correct exporter's `send` returns once the datagram is
//! queued on this socket, and the runtime may poll `/next` before this thread
//! has read it. Recording datagrams on the [`Timeline`] as they are read would
//! make "sent before `/next`" fail at random for a correct exporter. Instead a
//! watcher thread sends a marker datagram to the daemon's own socket the moment
//! it sees a `/next` poll on the timeline (still holding the timeline's lock).
//! The socket queues datagrams in order, so everything read before marker #n
//! was queued before it, and a correct exporter's documents, sent before the
//! runtime polled, always are: [`XrayDaemon::documents_before_next_poll`]. A
//! late document counts as on time only if it lands in the instant between the
//! poll and the watcher's wake-up. Start the daemon before the runtime, so the
//! watcher is waiting before the first poll.
//!
//! # What is checked
//!
//! The daemon's framing (the exact header line, one JSON document, at most
//! [`MAX_DATAGRAM`] bytes) and the segment-document rules of X-Ray's
//! documentation and JSON schema (`xray-segmentdocument-schema-v1.0.0`) as
//! enforced by `opentelemetry-aws`'s translator; see [`Rule`]. Unknown fields
//! are allowed, as in the schema.
//!
//! [`Timeline`]: super::timeline::Timeline

mod arrivals;
mod checker;
mod daemon;
mod datagram;
mod document;
mod fields;
mod rules;

// Test files use different parts of the daemon (as `#![allow(dead_code)]` in
// `common` says for the harness), and a re-export one of them does not use
// warns in that test crate.
#[allow(unused_imports)]
pub use self::{
    daemon::XrayDaemon,
    datagram::{HEADER, MAX_DATAGRAM, parse_datagram},
    document::{Document, Violation},
    rules::{Problem, Rule},
};

//! Where the invocation span's parent and links come from.

mod carrier;

pub(crate) use carrier::TraceHeaders;

//! X-Ray segment documents over UDP to the X-Ray daemon.

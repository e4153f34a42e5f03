//! Detect: rules on event time over normalized events.

pub mod sigma;

//! PLACEHOLDER (being written): the syslog header.

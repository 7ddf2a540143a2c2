// Unit tests for the classification rules, with hand-built segments.
use super::*;
use crate::decode::TcpFlags;

#[test]
fn placeholder() {}

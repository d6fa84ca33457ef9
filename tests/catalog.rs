//! The prompt catalogue covers every prompt the conversation core can ask for.
#[test]
fn placeholder() {}

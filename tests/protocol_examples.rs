//! Every example frame in docs/protocol.md parses with the server's own types, so the
//! documentation cannot drift from the code.

use croupier::games::slot::SpinOutcome;
use croupier::protocol::{parse_client_frame, ServerFrame};

fn blocks(tag: &str) -> Vec<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md")).unwrap();
    let fence = format!("\n```json {tag}\n");
    let mut found = Vec::new();
    let mut rest = doc.as_str();
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("```").expect("closed fence");
        found.push(body[..end].trim().to_string());
        rest = &body[end + 3..];
    }
    found
}

#[test]
fn client_examples_parse() {
    let examples = blocks("client");
    assert!(examples.len() >= 5);
    for text in examples {
        let compact: serde_json::Value = serde_json::from_str(&text).unwrap();
        parse_client_frame(&compact.to_string()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    }
}

#[test]
fn server_examples_parse() {
    let examples = blocks("server");
    assert!(examples.len() >= 8);
    for text in examples {
        let frame: ServerFrame =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        if let ServerFrame::SpinResult { outcome, .. } = frame {
            serde_json::from_value::<SpinOutcome>(outcome)
                .expect("spin outcome example is a SpinOutcome");
        }
    }
}

//! The operator API (issue 15) against the real binary, as an operator's back end uses it:
//! keys, launch, deposits and withdrawals (idempotent like Stripe's keys, also across a
//! restart, a kill -9 and two nodes), balances, statements, round recall, replay and void, free
//! rounds, the books per operator, the ledger's chain heads, the OpenAPI document, and every bad input refused with nothing changed.
//!
//! A module of the integration test binary, one file per concern; the helpers every file uses
//! are here.
//!
//! | file | checks |
//! |---|---|
//! | `money.rs` | funding, launching, playing and withdrawing; idempotency; kill -9; two nodes |
//! | `access.rs` | operators reach only their own players; bad inputs; rates; fun money vs pools |
//! | `rounds.rs` | statements, recall, replay, void |
//! | `free_rounds.rs` | free rounds granted, played, cancelled, expired; bad grants |
//! | `contract.rs` | the OpenAPI document against the live routes |
//! | `integrity.rs` | chain heads paged and kept, `croupier heads` and `audit --heads`, an edit found |

use crate::common;

mod access;
mod contract;
mod free_rounds;
mod integrity;
mod money;
mod rounds;

use common::*;
use serde_json::{json, Value};

/// The two operators of these tests: house plays EUR only, rival EUR and GBP.
pub struct Brands {
    pub house: Operator,
    pub rival: Operator,
}

impl Brands {
    pub(crate) fn new() -> Brands {
        Brands {
            house: Operator::new("house"),
            rival: Operator::new("rival"),
        }
    }

    pub fn file(&self, house_lines: &str) -> String {
        format!(
            "{}{}",
            self.house.entry(&["EUR"], house_lines),
            self.rival.entry(&["EUR", "GBP"], "")
        )
    }

    pub fn node(&self) -> NodeConfig {
        NodeConfig::shipped().no_tables().operators(&self.file(""))
    }
}

/// An answer of the operator API: status, the `Idempotent-Replayed` header, the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub replayed: bool,
    pub body: Value,
}

pub async fn call(
    server: &Server,
    key: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Reply {
    let url = format!("{}{path}", server.operator);
    let request = match method {
        "GET" => http().get(url),
        "DELETE" => http().delete(url),
        _ => http().post(url),
    };
    let request = if key.is_empty() {
        request
    } else {
        request.bearer_auth(key)
    };
    let request = match body {
        Some(text) => request
            .header("content-type", "application/json")
            .body(text.to_string()),
        None => request,
    };
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    let replayed = reply.headers().get("idempotent-replayed").is_some();
    let text = reply.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{method} {path}: not JSON ({status}): {text}"));
    Reply {
        status,
        replayed,
        body,
    }
}

pub async fn transfer(server: &Server, key: &str, player: &str, way: &str, body: Value) -> Reply {
    let path = format!("/v1/operator/players/{player}/{way}");
    call(server, key, "POST", &path, Some(&body.to_string())).await
}

pub fn money(tx: &str, amount: &str, currency: &str) -> Value {
    json!({"transaction_id": tx, "amount": amount, "currency": currency})
}

pub async fn balance(server: &Server, key: &str, player: &str) -> Reply {
    let path = format!("/v1/operator/players/{player}/balance");
    call(server, key, "GET", &path, None).await
}

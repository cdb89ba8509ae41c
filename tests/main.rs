//! The integration tests: ONE test binary, one module per concern, each driving the real
//! `croupier` binary (or, for `table_actor`, the real actors in-process) through real clients on
//! loopback, on real SQLite, PostgreSQL, Redis, nginx and HAProxy that `scripts/test.sh` starts.
//!
//! One binary, not one per file: every file used to compile and link its own copy of `common`
//! and of the clients' generic code, about 20 seconds each on the 2-core CI machine, most of
//! the cold build. `cargo test --release --test integration security::` runs one module.
//!
//! | module | checks |
//! |---|---|
//! | `common` | the harness: the real binary on free ports, clients, proxies, services |
//! | `bad_input` | every bad input gets a clear error and changes nothing |
//! | `cli` | the command line: bad config named, `rng-dump`, `rtp` |
//! | `spin_flow` | real spins over a real WebSocket, the money checked |
//! | `exactly_once` | a resent `req_id` answered byte for byte and never charged twice |
//! | `crash_recovery` | after a kill -9, every acknowledged round is in the ledger |
//! | `jurisdictions` | the shipped uk and de profiles, launch choice, table caps, the interval across nodes |
//! | `limits` | player limits: loss, wager, deposit, session time, the cooling-off, across nodes |
//! | `jackpots` | concurrent spinners on a shared pool; exact shares; one winner per cycle |
//! | `live_tables`, `table_actor` | live tables through real clients; the table actor in-process |
//! | `cluster`, `cluster_tables`, `cluster_resume`, `cluster_pause`, `cluster_redis_wipe` | three nodes behind nginx on PostgreSQL and Redis |
//! | `haproxy` | HAProxy's health checks and drain in front of a cluster |
//! | `postgres_node`, `postgres_restart`, `redis_restart` | the node on PostgreSQL; each service restarted under play |
//! | `security` | the security review's findings, attacked as an outsider would |
//! | `tls` | TLS on the players' listener |
//! | `logs` | structured JSON logs carry the session, player and round |
//! | `fuzz` | arbitrary input to every parser an outsider reaches |
//! | `fair` | provably fair play: 1,000 rounds verified after a rotation, a forged seed refused, bad client seeds |
//! | `protocol_examples` | every example frame of docs/protocol.md parses |
//! | `operators` | the operator API (its own table of files) |
//! | `ops_files` | dashboards, alerts, nginx, deploy files and docs against a real node |

mod common;

mod bad_input;
mod cli;
mod cluster;
mod cluster_pause;
mod cluster_redis_wipe;
mod cluster_resume;
mod cluster_tables;
mod config_version;
mod crash_recovery;
mod exactly_once;
mod fair;
mod fuzz;
mod haproxy;
mod jackpots;
mod jurisdictions;
mod limits;
mod live_tables;
mod logs;
mod operators;
mod ops_files;
mod postgres_node;
mod postgres_restart;
mod protocol_examples;
mod redis_restart;
mod reload;
mod rtp_variants;
mod security;
mod spin_flow;
mod table_actor;
mod tls;

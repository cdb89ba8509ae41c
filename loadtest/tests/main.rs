//! The load tester's integration tests: ONE test binary (as the server's `tests/main.rs`), one
//! module per concern; each file used to link a test binary of its own, about a minute of the
//! 2-core CI machine's cold build apiece.
//!
//! | module | checks |
//! |---|---|
//! | `support` | the in-process stand-in server (`start_mock`) |
//! | `cli_exit` | the binary's exit codes and JSON report against the stand-in |
//! | `echo_loop` | bounded loops against the tester's own echo server, with drops |
//! | `faulty_server` | a server that charges a resend twice fails the money audit |
//! | `smoke_server` | the real croupier binary (`CROUPIER_BIN`): spins, drops, `hold` |

mod support;

mod cli_exit;
mod echo_loop;
mod faulty_server;
mod smoke_server;

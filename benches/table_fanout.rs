//! Fan-out cost of one live table, in-process: N seats (detached connections whose queues a
//! reader task drains, as the socket writers do) at a table on fast timings; reports what the
//! table spends per event to serialise it once and queue it to every seat, read back from the
//! `croupier_table_broadcast_duration_seconds` histogram. The end-to-end figure over real
//! sockets is `croupier-loadtest table-fanout` (docs/benchmarks.md).
//!
//! Run: `cargo bench --bench table_fanout`

use std::time::Duration;

use croupier::ids::PlayerId;
use croupier::table::actor::{Join, SitDown};
use croupier::table::testing::{embedded_deps, fast_tables};
use croupier::table::Pusher;
use croupier::table::TableRegistry;

/// Seat counts measured.
const SEATS: [usize; 3] = [100, 1_000, 5_000];
/// How long each seat count runs: two 4-second rounds (1 s betting + 3 s of pauses).
const RUN_FOR: Duration = Duration::from_secs(8);
/// Each detached seat's queue: as deep as a real connection's default send queue.
const QUEUE: usize = 256;

fn main() {
    let system = actix::System::new();
    system.block_on(async {
        println!("seats   events   mean per event   per seat");
        for seats in SEATS {
            let dir = tempfile::tempdir().expect("temp dir");
            let (deps, _ledger) = embedded_deps(&dir.path().join("bench.db")).await;
            let metrics = deps.metrics.clone();
            let registry = TableRegistry::start(fast_tables(1), deps, 1);
            let table = registry.get("roulette_1").expect("shipped table");
            let mut queues = Vec::with_capacity(seats);
            for s in 0..seats {
                let (pusher, queue) = Pusher::detached(&format!("bench-{s}"), QUEUE);
                let join = Join {
                    player: PlayerId::parse(&format!("p{s}")).expect("valid id"),
                    pusher,
                    again: SitDown::First,
                };
                let joined = table
                    .local()
                    .expect("runs here")
                    .send(join)
                    .await
                    .expect("table answers");
                assert!(joined.is_ok(), "seat {s} joins");
                queues.push(queue);
            }
            // The reader: empties every queue often, standing in for the socket writers.
            let stop = tokio_util::sync::CancellationToken::new();
            let reader_stop = stop.clone();
            let reader = actix::spawn(async move {
                let mut received = 0u64;
                while !reader_stop.is_cancelled() {
                    for q in queues.iter_mut() {
                        while q.try_recv_text().is_some() {
                            received += 1;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                received
            });
            let histogram = metrics
                .tables
                .broadcast_seconds
                .with_label_values(&["roulette_1"]);
            let (sum0, count0) = (histogram.get_sample_sum(), histogram.get_sample_count());
            tokio::time::sleep(RUN_FOR).await;
            let (sum, count) = (
                histogram.get_sample_sum() - sum0,
                histogram.get_sample_count() - count0,
            );
            stop.cancel();
            let received = reader.await.unwrap_or(0);
            let seated = metrics
                .tables
                .seated
                .with_label_values(&["roulette_1"])
                .get();
            assert_eq!(seated as usize, seats, "no seat was dropped");
            let mean = sum / count.max(1) as f64;
            println!(
                "{seats:>5}   {count:>6}   {:>11.3} ms   {:>6.0} ns   ({received} frames read)",
                mean * 1e3,
                mean * 1e9 / seats as f64
            );
            registry.stop_all("shutdown").await;
        }
    });
}

//! Closed-loop spinners for the cluster tests, and the books they keep.

use super::*;

/// Connection attempts a [`spinner`] makes before it gives up (200 ms apart).
pub const SPINNER_CONNECT_ATTEMPTS: usize = 50;

/// Spins `classic_sevens` at 1.00 until `stop`, `pause` apart, reconnecting with the token when
/// the connection breaks; a spin answered busy is resent with its `req_id` until answered.
/// Returns the cents staked and won over every acknowledged spin, the final balance and how
/// many busy answers it got.
pub async fn spinner(
    server: String,
    token: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pause: Duration,
) -> (i64, i64, i64, usize) {
    // A node that just died, or one that cannot read the session yet: try again, bounded.
    let connect = || async {
        for _ in 0..SPINNER_CONNECT_ATTEMPTS {
            if let Ok((mut ws, _)) = ws_connect(ws_request(&server, &token)).await {
                if next_json(&mut ws).await["type"] == "welcome" {
                    return Some(ws);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    };
    let mut ws = connect().await.expect("first connection");
    let (mut staked, mut won, mut busy) = (0, 0, 0);
    let mut i = 0;
    // A spin answered "busy" may still commit: resend its req_id until it is answered, even
    // after `stop` (bounded), so the books below count it.
    let mut unresolved = false;
    let mut resends_after_stop = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed)
        || (unresolved && resends_after_stop < 200)
    {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            resends_after_stop += 1;
        }
        let req = format!("s{i}");
        let frame = json!({"type": "spin", "req_id": req, "game": "classic_sevens", "bet": "1.00"});
        if ws.send(frame.to_string().into()).await.is_err() {
            ws = connect().await.expect("reconnect");
            continue;
        }
        let reply = loop {
            match try_next_json(&mut ws).await {
                Some(r) if r["req_id"] == req.as_str() => break Some(r),
                Some(_) => continue,
                None => break None,
            }
        };
        let Some(reply) = reply else {
            // The node died under the spin: it may have committed; resend its req_id.
            unresolved = true;
            ws = connect().await.expect("reconnect");
            continue;
        };
        match reply["type"].as_str() {
            Some("spin_result") => {
                staked += cents(reply["bet"].as_str().unwrap());
                won += cents(reply["win"].as_str().unwrap());
                i += 1;
                unresolved = false;
            }
            // Opened on a node that died: voided and refunded, nothing staked.
            Some("error") if reply["code"] == "round_void" => {
                i += 1;
                unresolved = false;
            }
            _ if reply["code"] == "server_busy" || reply["code"] == "service_unavailable" => {
                busy += 1;
                unresolved = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => panic!("unexpected reply {reply}"),
        }
        tokio::time::sleep(pause).await;
    }
    let balance = loop {
        let _ = ws
            .send(
                json!({"type": "balance", "req_id": "final"})
                    .to_string()
                    .into(),
            )
            .await;
        let Some(r) = try_next_json(&mut ws).await else {
            ws = connect().await.expect("reconnect");
            continue;
        };
        if r["type"] == "balance" {
            break cents(r["balance"].as_str().unwrap());
        }
    };
    (staked, won, balance, busy)
}

/// What a set of [`spinner`]s did, added up.
pub struct SpinTotals {
    pub staked: i64,
    pub won: i64,
    pub balances: i64,
    pub busy: usize,
    /// The least any one spinner staked (0: one never got a spin in).
    pub least_staked: i64,
}

/// Waits for every spinner and adds up their books.
pub async fn spinners_done(
    spinners: Vec<tokio::task::JoinHandle<(i64, i64, i64, usize)>>,
) -> SpinTotals {
    let mut totals = SpinTotals {
        staked: 0,
        won: 0,
        balances: 0,
        busy: 0,
        least_staked: i64::MAX,
    };
    for spinner in spinners {
        let (staked, won, balance, busy) = spinner.await.unwrap();
        totals.staked += staked;
        totals.won += won;
        totals.balances += balance;
        totals.busy += busy;
        totals.least_staked = totals.least_staked.min(staked);
    }
    totals
}

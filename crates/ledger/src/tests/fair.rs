//! Conformance cases of provably fair seeds, run on both databases by the parent suite's
//! `conformance!` list: a fair open takes the next nonce of the seed in force (and a replayed
//! open the nonce its round took), no seed means no round, a rotation reveals exactly the seed
//! in force (once), and a seed that does not hash to its commitment is never revealed.

use super::*;
use crate::fair::{NewSeed, Reveal};
use sha2::{Digest, Sha256};

fn seed_hex(index: i64) -> String {
    format!("{:064x}", index + 1)
}

fn commitment(index: i64) -> String {
    hex::encode(Sha256::digest(hex::decode(seed_hex(index)).unwrap()))
}

fn rotation(player: &str, index: i64, client: &str) -> Movement {
    Movement::RotateSeed {
        player: pid(player),
        reveal: (index > 0).then(|| Reveal {
            seed_index: index - 1,
            server_seed: seed_hex(index - 1),
        }),
        next: NewSeed {
            seed_index: index,
            commitment: commitment(index),
            key_id: "k1".into(),
            client_seed: client.into(),
        },
    }
}

fn fair(m: Movement) -> Movement {
    Movement::Fair {
        movement: Box::new(m),
    }
}

pub(super) async fn fair_rounds_take_nonces_in_order_and_a_rotation_reveals_once(l: &dyn Ledger) {
    l.ensure_account(&pid("fp"), "EUR").await.unwrap();
    one(l, deposit("fd", "fp", 1_000)).await.unwrap();
    // No seed in force: no round opens, nothing is debited.
    let r0 = RoundId::new_v7();
    assert_eq!(
        one(l, fair(open(&r0, "fp", "q0", Some(10)))).await,
        Err(MovementError::NoFairSeed)
    );
    assert_eq!(
        l.account(&pid("fp")).await.unwrap().unwrap().balance_minor,
        1_000
    );
    assert!(l.round(&r0).await.unwrap().is_none());

    one(l, rotation("fp", 0, "lucky")).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = RoundId::new_v7();
        let opened = one(l, fair(open(&r, "fp", &format!("q{}", i + 1), Some(10)))).await;
        let Ok(Applied::RoundOpened { fair: Some(n), .. }) = opened else {
            panic!("{opened:?}");
        };
        assert_eq!(
            (n.seed_index, n.nonce, n.client_seed.as_str()),
            (0, i, "lucky")
        );
        assert_eq!(n.commitment, commitment(0));
        one(l, settle(&r, "fp", 0)).await.unwrap();
        ids.push(r);
    }
    // A resend of the first open answers its round and its nonce; no nonce is taken.
    let again = one(l, fair(open(&RoundId::new_v7(), "fp", "q1", Some(10)))).await;
    let Ok(Applied::RoundOpened {
        replayed: true,
        fair: Some(n),
        ..
    }) = again
    else {
        panic!("{again:?}");
    };
    assert_eq!(n.nonce, 0);
    assert_eq!(
        l.fair_seed(&pid("fp")).await.unwrap().unwrap().next_nonce,
        3
    );

    // Before the reveal the round's seed is not in the ledger.
    let before = l.fair_round(&ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (before.nonce, before.seed.server_seed.as_deref()),
        (1, None)
    );

    // A rotation that does not fit (skips an index, reveals no seed) is refused, nothing changes.
    let mut skip = rotation("fp", 1, "x");
    if let Movement::RotateSeed { next, .. } = &mut skip {
        next.seed_index = 2;
    }
    assert!(matches!(
        one(l, skip).await,
        Err(MovementError::StaleSeed(_))
    ));
    let Ok(Applied::SeedRotated {
        revealed: Some(old),
        current,
        replayed: false,
    }) = one(l, rotation("fp", 1, "second")).await
    else {
        panic!("rotation");
    };
    assert_eq!(old.server_seed.as_deref(), Some(seed_hex(0).as_str()));
    assert_eq!(
        (old.next_nonce, current.seed_index, current.next_nonce),
        (3, 1, 0)
    );
    // The same rotation again answers what it left.
    assert!(matches!(
        one(l, rotation("fp", 1, "second")).await,
        Ok(Applied::SeedRotated { replayed: true, .. })
    ));
    let after = l.fair_round(&ids[1]).await.unwrap().unwrap();
    assert_eq!(
        after.seed.server_seed.as_deref(),
        Some(seed_hex(0).as_str())
    );
    assert_eq!(after.round.round_id, ids[1]);
    // The next round takes nonce 0 of the new seed.
    let r = RoundId::new_v7();
    let Ok(Applied::RoundOpened { fair: Some(n), .. }) =
        one(l, fair(open(&r, "fp", "q9", Some(10)))).await
    else {
        panic!("open on the new seed");
    };
    assert_eq!((n.seed_index, n.nonce), (1, 0));
    assert!(l.fair_round(&RoundId::new_v7()).await.unwrap().is_none());
}

pub(super) async fn a_seed_that_does_not_match_its_commitment_is_never_revealed(l: &dyn Ledger) {
    l.ensure_account(&pid("gp"), "EUR").await.unwrap();
    one(l, deposit("gd", "gp", 100)).await.unwrap();
    one(l, rotation("gp", 0, "c")).await.unwrap();
    let forged = Movement::RotateSeed {
        player: pid("gp"),
        reveal: Some(Reveal {
            seed_index: 0,
            server_seed: seed_hex(7),
        }),
        next: NewSeed {
            seed_index: 1,
            commitment: commitment(1),
            key_id: "k1".into(),
            client_seed: "c".into(),
        },
    };
    assert!(
        l.commit_batch(&[forged]).await.is_err(),
        "a forged reveal fails its batch"
    );
    let seed = l.fair_seed(&pid("gp")).await.unwrap().unwrap();
    assert_eq!((seed.seed_index, seed.server_seed), (0, None));
}

//! Conformance cases of time-outs and self-exclusions, run on both databases by the parent
//! suite's `conformance!` list: an exclusion stands until it ends, is extended by a longer one
//! (or an indefinite one) and never shortened, and an ended one gives way to any new one.

use super::*;
use crate::clock::now_ms;
use crate::exclusion::ExclusionReason::{Operator, SelfExclusion, TimeOut};

pub(super) async fn an_exclusion_is_extended_but_never_shortened(l: &dyn Ledger) {
    let p = pid("op:excluded");
    assert_eq!(l.exclusion(&p).await.unwrap(), None, "never excluded");
    let hour = 3_600_000;
    let now = now_ms();
    // No account is needed: an operator may exclude a player who has never played.
    let first = l.exclude(&p, Some(now + hour), TimeOut).await.unwrap();
    assert_eq!((first.until_ms, first.reason), (Some(now + hour), TimeOut));
    assert!(first.in_force(now_ms()));
    // Shorter: the longer one stands, unchanged.
    let kept = l.exclude(&p, Some(now + hour / 2), Operator).await.unwrap();
    assert_eq!(kept, first);
    // Longer: extends it.
    let longer = l
        .exclude(&p, Some(now + 2 * hour), SelfExclusion)
        .await
        .unwrap();
    assert_eq!(
        (longer.until_ms, longer.reason),
        (Some(now + 2 * hour), SelfExclusion)
    );
    // Indefinite: replaces a dated one, and no dated one replaces it.
    let ever = l.exclude(&p, None, SelfExclusion).await.unwrap();
    assert_eq!(ever.until_ms, None);
    let still = l
        .exclude(&p, Some(now + 100 * hour), TimeOut)
        .await
        .unwrap();
    assert_eq!(still, ever);
    assert_eq!(l.exclusion(&p).await.unwrap(), Some(ever));
    // Other players are not touched.
    assert_eq!(l.exclusion(&pid("op:other")).await.unwrap(), None);
}

pub(super) async fn an_ended_exclusion_gives_way_to_a_new_one(l: &dyn Ledger) {
    let p = pid("op:back");
    let short = l.exclude(&p, Some(now_ms() + 60), TimeOut).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let ended = l.exclusion(&p).await.unwrap().unwrap();
    assert_eq!(ended, short, "an ended exclusion is still read back");
    assert!(!ended.in_force(now_ms()));
    // Any new one, however short, replaces it.
    let until = now_ms() + 30_000;
    let next = l.exclude(&p, Some(until), Operator).await.unwrap();
    assert_eq!((next.until_ms, next.reason), (Some(until), Operator));
    // An end in the past is refused and changes nothing.
    assert!(l.exclude(&p, Some(now_ms() - 1), TimeOut).await.is_err());
    assert_eq!(l.exclusion(&p).await.unwrap(), Some(next));
}

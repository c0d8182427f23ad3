//! The expiry sweep's DynamoDB read cost on a large table, as a figure rather than a
//! pass/fail test (`cargo xtask bench` runs it): 10,000 active grants that are not
//! due and 10 that are, on a real moto_server, then one `list_grants_due`. The
//! tests' `the_sweep_reads_only_what_is_due_among_ten_thousand_grants` asserts the
//! same bound; this prints the numbers.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use hogwarden_core::model::{Grant, RequestStatus};
use hogwarden_core::ports::Store;
use hogwarden_store_sqlite::conformance::fixtures::{grant, project, request_in};

#[allow(dead_code)]
#[path = "../tests/aws/harness.rs"]
mod harness;

const NOT_DUE: i64 = 10_000;
const DUE: i64 = 10;

#[tokio::main]
async fn main() {
    let store = harness::dynamo_store().await;
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2030-06-15T12:30:00Z").expect("a valid time").with_timezone(&Utc);
    let r = request_in(RequestStatus::Applied, "ana", now - Duration::days(1));
    let not_due: Vec<Grant> =
        (0..NOT_DUE).map(|i| grant(&r, project(i % 50 + 1), now - Duration::hours(2), Some(now + Duration::minutes(1 + i)))).collect();
    let due: Vec<Grant> =
        (0..DUE).map(|i| grant(&r, project(1), now - Duration::hours(3), Some(now - Duration::minutes(70 - i * 7)))).collect();
    let loading = Instant::now();
    store.put_grants_unguarded(&not_due).await.expect("loading the grants that are not due");
    store.put_grants_unguarded(&due).await.expect("loading the due grants");
    println!("loaded {NOT_DUE} grants not due + {DUE} due into moto in {:.1} s", loading.elapsed().as_secs_f64());

    let before = store.reads();
    let found = store.list_grants_due(now, 100).await.expect("the sweep's query");
    let reads = store.reads() - before;

    let bound = DUE as u64 + 5;
    let verdict = if reads <= bound && found.len() == DUE as usize { "within bound" } else { "OVER bound" };
    println!(
        "sweep read cost: {reads} items read (ScannedCount) to find {} due of {} grants; bound due+5 = {bound}: {verdict}",
        found.len(),
        NOT_DUE + DUE
    );
}

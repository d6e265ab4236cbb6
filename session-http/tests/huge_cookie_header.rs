//! Reading the session cookies of one request costs memory linear in the `Cookie`
//! header and a small constant beyond it, whatever the header holds: thousands of
//! `session` cookies and a chunk far longer than any cookie included.
//!
//! One test in this file: it counts the process's heap (dhat), which works for one
//! test at a time.

use session_core::MAX_CANDIDATES;
use session_http::framing::{CookieOptions, COOKIE_BYTES};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// 15,000 distinct `session` cookies of 20 bytes and a 200 KB `session.1`: about
/// 400 KB, the most a server built on hyper accepts in its request head.
fn hostile_header() -> String {
    let mut header = String::with_capacity(420_000);
    for i in 0..15_000 {
        header.push_str(&format!("session=g{i:019}; "));
    }
    header.push_str("session.1=");
    header.push_str(&"c".repeat(200_000));
    header
}

#[test]
fn a_400_kb_header_of_15000_session_cookies_costs_a_small_constant_beyond_itself() {
    let header = hostile_header();
    let options = CookieOptions::default();
    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get();
    let (candidates, sent) = options.read([header.as_str()]);
    let after = dhat::HeapStats::get();

    let extra = after.max_bytes.saturating_sub(before.curr_bytes);
    // Sixteen candidate tokens of at most one cookie each (the long chunk is no
    // cookie a browser sends), and the vectors that hold them.
    let bound = MAX_CANDIDATES * (COOKIE_BYTES + 64) + 4096;
    assert!(
        extra <= bound,
        "reading a {} byte header took {extra} bytes of heap beyond it (bound {bound})",
        header.len()
    );
    assert_eq!(candidates.len(), MAX_CANDIDATES);
    assert_eq!(
        candidates.first().map(String::as_str),
        Some("g0000000000000000000")
    );
    assert!(sent <= 4, "{sent} chunk names to clear");
    // Four such requests at once cost four times that, each on its own.
    let blocks = after.total_blocks - before.total_blocks;
    assert!(
        blocks < 64,
        "reading the header allocated {blocks} times: not a bounded number"
    );
}

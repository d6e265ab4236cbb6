//! The browser's cookie limits, which the cookie store (what fits in its cookies) and
//! every HTTP integration (how a token is split over cookies) share.
//!
//! ```
//! use session_core::cookie::{capacity, COOKIE_BYTES};
//!
//! // One cookie named `session` carries 4096 bytes less `session=`.
//! assert_eq!(capacity("session", 1), COOKIE_BYTES - "session=".len());
//! ```

/// The most bytes of name plus value a browser keeps for one cookie.
pub const COOKIE_BYTES: usize = 4096;

/// How many token bytes `max_chunks` cookies named after `name` (`name`, `name.1`,
/// `name.2`, ...) can carry: each 4096 bytes less its name and the `=`.
pub fn capacity(name: &str, max_chunks: usize) -> usize {
    (0..max_chunks)
        .map(|i| {
            // The length of the chunk's name, without building it.
            let suffix = if i == 0 { 0 } else { 1 + decimal_digits(i) };
            COOKIE_BYTES.saturating_sub(name.len() + suffix + 1)
        })
        .sum()
}

/// How many decimal digits `n` is written with.
fn decimal_digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

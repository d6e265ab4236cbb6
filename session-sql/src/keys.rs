//! Session keys as the database holds them.
//!
//! A session key is any text, NUL included, but PostgreSQL's `text` and JSONB keys
//! cannot hold NUL (U+0000). Keys are stored through a reversible escape, so every key
//! the other stores hold is held here exactly:
//!
//! | key holds | stored as |
//! |---|---|
//! | U+0000 | U+0001 `0` |
//! | U+0001 | U+0001 U+0001 |
//! | anything else | itself |
//!
//! A key with neither character (nearly all of them) is stored as it is, without a
//! copy. Values need no escape: they are stored as their JSON text, in which
//! `serde_json` writes every control character as an escape (`\u0000`).

use std::borrow::Cow;

/// The escape character.
const ESCAPE: char = '\u{1}';

/// `key` as stored.
pub(crate) fn stored(key: &str) -> Cow<'_, str> {
    if !key.bytes().any(|b| b <= 1) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        match c {
            '\u{0}' => out.push_str("\u{1}0"),
            ESCAPE => out.push_str("\u{1}\u{1}"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The key that `stored` holds; text no escape of [`stored`] could have made (an
/// escape at the end, or before another character) is kept as it is.
pub(crate) fn from_stored(stored: &str) -> Cow<'_, str> {
    if !stored.contains(ESCAPE) {
        return Cow::Borrowed(stored);
    }
    let mut out = String::with_capacity(stored.len());
    let mut chars = stored.chars();
    while let Some(c) = chars.next() {
        if c != ESCAPE {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('\u{0}'),
            Some(ESCAPE) => out.push(ESCAPE),
            Some(other) => {
                out.push(ESCAPE);
                out.push(other);
            }
            None => out.push(ESCAPE),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_are_stored_as_they_are() {
        for key in ["user", "", "é🦀", "\u{2}\u{1f}"] {
            assert!(matches!(stored(key), Cow::Borrowed(k) if k == key));
        }
    }

    #[test]
    fn nul_and_the_escape_are_escaped_and_come_back() {
        assert_eq!(stored("a\u{0}b"), "a\u{1}0b");
        assert_eq!(stored("\u{1}0"), "\u{1}\u{1}0");
        assert!(!stored("\u{0}\u{0}").contains('\u{0}'));
    }

    proptest::proptest! {
        #[test]
        fn every_key_round_trips_and_distinct_keys_stay_distinct(
            a in "[\u{0}\u{1}0a-b\u{e9}]{0,12}",
            b in "[\u{0}\u{1}0a-b\u{e9}]{0,12}",
        ) {
            let kept = stored(&a);
            proptest::prop_assert_eq!(from_stored(&kept), a.as_str());
            proptest::prop_assert!(!kept.contains('\u{0}'), "NUL stored for {:?}", a);
            proptest::prop_assert_eq!(a == b, stored(&a) == stored(&b));
        }
    }
}

//! Splitting a long token over numbered cookies: `session`, `session.1`, `session.2`...
//!
//! Browsers keep at most 4096 bytes of name and value per cookie. A token longer than
//! one cookie can carry is split into chunks, each chunk cookie named after the first
//! with `.N` appended. The cookie store refuses tokens larger than
//! [`capacity`] allows, so the HTTP layer never drops or truncates a session.
//!
//! ```
//! use session_core::chunks;
//!
//! let token = "x".repeat(5000);
//! let parts = chunks::split("session", &token, 4).expect("fits in 4 cookies");
//! assert_eq!(parts.len(), 2);
//! assert_eq!(parts[0].0, "session");
//! assert_eq!(parts[1].0, "session.1");
//! assert!(parts.iter().all(|(name, value)| name.len() + 1 + value.len() <= 4096));
//! assert_eq!(parts.concat_values(), token);
//! ```

/// The most bytes of name plus value a browser keeps for one cookie.
pub const COOKIE_BYTES: usize = 4096;

/// The name of chunk `index` (0 is the plain name).
pub fn chunk_name(name: &str, index: usize) -> String {
    if index == 0 {
        name.to_owned()
    } else {
        format!("{name}.{index}")
    }
}

/// Token bytes one cookie named `chunk_name` can carry: 4096 less the name and the
/// `=` between name and value (counting the `=` keeps us clear of browsers that do).
fn room(chunk_name: &str) -> usize {
    COOKIE_BYTES.saturating_sub(chunk_name.len() + 1)
}

/// How many token bytes `max_chunks` cookies named after `name` can carry.
pub fn capacity(name: &str, max_chunks: usize) -> usize {
    (0..max_chunks)
        .map(|i| {
            // The length of `chunk_name(name, i)`, without building it.
            let suffix = if i == 0 { 0 } else { 1 + i.to_string().len() };
            COOKIE_BYTES.saturating_sub(name.len() + suffix + 1)
        })
        .sum()
}

/// The chunks of one token, in order: `(cookie name, value)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunks<'a>(Vec<(String, &'a str)>);

impl<'a> Chunks<'a> {
    /// Number of cookies.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no chunks (never, for a split token).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over `(cookie name, value)`.
    pub fn iter(&self) -> impl Iterator<Item = &(String, &'a str)> {
        self.0.iter()
    }

    /// The token again.
    pub fn concat_values(&self) -> String {
        self.0.iter().map(|(_, v)| *v).collect()
    }
}

impl<'a> std::ops::Index<usize> for Chunks<'a> {
    type Output = (String, &'a str);
    fn index(&self, i: usize) -> &Self::Output {
        &self.0[i]
    }
}

/// Splits an ASCII token into at most `max_chunks` cookies; `None` when it does not fit
/// (see [`capacity`]) or is not ASCII (tokens are base64url text).
pub fn split<'a>(name: &str, token: &'a str, max_chunks: usize) -> Option<Chunks<'a>> {
    if !token.is_ascii() || token.len() > capacity(name, max_chunks) {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = token;
    let mut index = 0;
    loop {
        let chunk_name = chunk_name(name, index);
        let (head, tail) = rest.split_at(room(&chunk_name).min(rest.len()));
        out.push((chunk_name, head));
        rest = tail;
        index += 1;
        if rest.is_empty() {
            return Some(Chunks(out));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_token_is_one_cookie_under_the_plain_name() {
        let parts = split("s", "abc", 4);
        assert_eq!(parts.map(|p| p.0), Some(vec![("s".to_owned(), "abc")]));
    }

    #[test]
    fn a_token_at_capacity_fits_and_one_byte_more_does_not() {
        let cap = capacity("session", 3);
        assert_eq!(cap, 3 * 4096 - "session=".len() - 2 * "session.1=".len());
        let token = "a".repeat(cap);
        let parts = split("session", &token, 3);
        assert_eq!(parts.as_ref().map(Chunks::len), Some(3));
        assert_eq!(parts.map(|p| p.concat_values()), Some(token));
        assert_eq!(split("session", &"a".repeat(cap + 1), 3), None);
    }

    #[test]
    fn capacity_matches_the_chunk_names() {
        for chunks in [1, 2, 9, 10, 11, 32] {
            let by_name: usize = (0..chunks).map(|i| room(&chunk_name("s", i))).sum();
            assert_eq!(capacity("s", chunks), by_name, "{chunks} chunks");
        }
    }

    #[test]
    fn non_ascii_tokens_are_refused() {
        assert_eq!(split("s", "é", 4), None);
    }
}

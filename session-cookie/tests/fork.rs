//! Nonces stay unique across `fork()`: a prefork server that seals cookies before it
//! forks, then in parent and child alike, never seals two cookies with one nonce.
//!
//! One test in this file: the forked child copies only the thread that forks, so the
//! process should run nothing else meanwhile.

use std::io::{Read, Write};
use std::os::fd::FromRawFd;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use session_cookie::{CookieStore, Key, Keyring};
use session_core::{Record, SessionStore, StoredValue};

/// The nonce of a sealed cookie: bytes 5 to 29 (after the version and key id).
fn nonce_of(token: &str) -> Vec<u8> {
    let bytes = URL_SAFE_NO_PAD.decode(token).unwrap_or_default();
    bytes.get(5..29).map(<[u8]>::to_vec).unwrap_or_default()
}

fn seal(store: &CookieStore, runtime: &tokio::runtime::Runtime) -> String {
    let mut record = Record::new(session_core::now_ms(), session_core::now_ms() + 60_000);
    record.insert("user", StoredValue::persistent(r#""ada""#));
    runtime.block_on(store.create(&record)).unwrap_or_default()
}

#[test]
fn parent_and_child_never_seal_with_the_same_nonce() -> Result<(), Box<dyn std::error::Error>> {
    let store = CookieStore::new(Keyring::new(Key::from_bytes([7; 32]), []));
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    // Sealing before the fork sets up whatever the sealing keeps per thread.
    let before = seal(&store, &runtime);
    assert_eq!(nonce_of(&before).len(), 24, "{before}");

    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe failed");
    // SAFETY: the child only seals, writes to the pipe and leaves with _exit, which
    // runs no destructor or atexit handler of the parent's.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let tokens: Vec<String> = (0..4).map(|_| seal(&store, &runtime)).collect();
        // SAFETY: fds[1] is the pipe's write end, owned by this process from here.
        let mut out = unsafe { std::fs::File::from_raw_fd(fds[1]) };
        let _ = out.write_all(tokens.join("\n").as_bytes());
        drop(out);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: fds[1] is the write end, which the parent does not use.
    unsafe { libc::close(fds[1]) };
    let parent: Vec<String> = (0..4).map(|_| seal(&store, &runtime)).collect();
    let mut text = String::new();
    // SAFETY: fds[0] is the pipe's read end, owned by the parent from here.
    unsafe { std::fs::File::from_raw_fd(fds[0]) }.read_to_string(&mut text)?;
    let mut status = 0;
    // SAFETY: `pid` is the child forked above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let child: Vec<&str> = text.lines().collect();
    assert_eq!(child.len(), 4, "the child sealed {} cookies", child.len());

    let mut nonces: Vec<Vec<u8>> = parent
        .iter()
        .map(String::as_str)
        .chain(child)
        .chain([before.as_str()])
        .map(nonce_of)
        .collect();
    let sealed = nonces.len();
    nonces.sort();
    nonces.dedup();
    assert_eq!(
        nonces.len(),
        sealed,
        "parent and child sealed with the same nonce"
    );
    Ok(())
}

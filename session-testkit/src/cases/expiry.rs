//! Idle timeout and absolute lifetime, with short timeouts.

use std::time::Duration;

use session_core::{Error, Expiry};
use tokio::time::sleep;

use crate::Kit;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A session left idle past its timeout is gone; the next request starts fresh.
pub async fn idle_timeout_expires_the_session(kit: Kit) -> Result<(), Error> {
    let kit = kit.with_expiry(Expiry::new(ms(400)));
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    sleep(ms(800)).await;
    let v = super::user_of(&mut c).await?;
    assert_eq!(v, None);
    Ok(())
}

/// Every request that loads the session pushes the idle deadline back.
pub async fn each_load_refreshes_the_idle_timeout(kit: Kit) -> Result<(), Error> {
    let kit = kit.with_expiry(Expiry::new(ms(1200)));
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    // 4 x 400 ms = 1.6 s in all, past the 1.2 s timeout; 800 ms of slack per step.
    for _ in 0..4 {
        sleep(ms(400)).await;
        let v = super::user_of(&mut c).await?;
        assert_eq!(
            v.as_deref(),
            Some("ada"),
            "an active session stays alive past its idle timeout"
        );
    }
    Ok(())
}

/// The absolute lifetime ends even an active session.
pub async fn lifetime_caps_an_active_session(kit: Kit) -> Result<(), Error> {
    let kit = kit.with_expiry(Expiry::new(ms(1500)).with_lifetime(ms(2000)));
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    // Reads at about 0.5 s and 1 s (alive), then at about 2.3 s: past the lifetime,
    // although never idle for the 1.5 s timeout.
    for _ in 0..2 {
        sleep(ms(500)).await;
        let v = super::user_of(&mut c).await?;
        assert_eq!(v.as_deref(), Some("ada"));
    }
    sleep(ms(1300)).await;
    let v = super::user_of(&mut c).await?;
    assert_eq!(
        v, None,
        "past the lifetime the session is gone although it was active"
    );
    Ok(())
}

/// One read of the session through `c`: whether it reported its idle deadline moved
/// by a meaningful share ([`Session::lifetime_moved`](session_core::Session::lifetime_moved)).
async fn read_moves_deadline(c: &mut crate::Client) -> Result<bool, Error> {
    let session = c.begin();
    let user = session.get::<String>("user").await?;
    assert_eq!(user.as_deref(), Some("ada"));
    c.finish(&session).await?;
    Ok(session.lifetime_moved())
}

/// A persistent cookie's `Max-Age` follows the idle deadline, so the session says when
/// the deadline moved by more than a hundredth of the idle timeout, whether the
/// store refreshed it in its load or the session saved it: a read a moment after
/// the last move reports none (the client's cookie holds), a read past the share
/// reports one, and the read right after that none again.
pub async fn a_moved_idle_deadline_is_reported_for_the_cookie(kit: Kit) -> Result<(), Error> {
    // A share of 1 s: the reads "at once" have that long.
    let kit = kit.with_expiry(Expiry::new(ms(100_000)));
    let mut c = kit.client();
    super::sign_in(&mut c).await?;
    assert!(
        !read_moves_deadline(&mut c).await?,
        "a read at once reported a moved deadline"
    );
    sleep(ms(1_500)).await;
    assert!(
        read_moves_deadline(&mut c).await?,
        "a read 1.5 s later (past a hundredth of 100 s) did not report the moved deadline; \
         a store that refreshes the deadline in `load` says from where (Record::set_moved_from)"
    );
    assert!(
        !read_moves_deadline(&mut c).await?,
        "the read right after the move reported another"
    );
    Ok(())
}

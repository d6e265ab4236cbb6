//! What the `Session` does with a store that breaks the contract, and how it drives
//! a store that has only the plain level.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use session_core::{Error, Expiry, MemoryStore, Record, Session, SessionStore, TokenUpdate};

/// Answers `create` with an empty token: a cookie without a value names nothing.
struct EmptyTokens;

#[async_trait]
impl SessionStore for EmptyTokens {
    async fn load(&self, _: &str, _: &Expiry) -> Result<Option<Record>, Error> {
        Ok(None)
    }
    async fn create(&self, _: &Record) -> Result<String, Error> {
        Ok(String::new())
    }
    async fn save(&self, _: &str, _: &Record) -> Result<Option<String>, Error> {
        Ok(None)
    }
    async fn destroy(&self, _: &str) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::test]
async fn an_empty_token_from_create_is_a_contract_breach_not_unavailable() {
    let session = Session::new(Arc::new(EmptyTokens), Expiry::default(), None);
    assert!(session.set("user", "ada").await.is_ok());
    match session.commit().await {
        Err(e @ Error::Contract { .. }) => assert!(!e.is_unavailable(), "{e}"),
        other => panic!("expected a contract breach, got {other:?}"),
    }
}

/// The plain level only (a `MemoryStore` behind it), recording each call.
#[derive(Default)]
struct Plain {
    inner: MemoryStore,
    calls: Mutex<Vec<&'static str>>,
}

impl Plain {
    fn log(&self, call: &'static str) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(call);
    }
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl SessionStore for Plain {
    async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error> {
        self.log("load");
        self.inner.load(token, expiry).await
    }
    async fn create(&self, record: &Record) -> Result<String, Error> {
        self.log("create");
        self.inner.create(record).await
    }
    async fn save(&self, token: &str, record: &Record) -> Result<Option<String>, Error> {
        self.log("save");
        self.inner.save(token, record).await
    }
    async fn destroy(&self, token: &str) -> Result<(), Error> {
        self.log("destroy");
        self.inner.destroy(token).await
    }
}

async fn commit(session: Session) -> Result<Option<String>, Error> {
    Ok(match session.commit().await? {
        TokenUpdate::Send(token) => Some(token),
        _ => None,
    })
}

#[tokio::test]
async fn a_plain_store_gets_whole_records_and_regenerate_is_create_then_destroy(
) -> Result<(), Error> {
    let store = Arc::new(Plain::default());
    let first = Session::new(store.clone(), Expiry::default(), None);
    first.set("a", &1).await?;
    let token = commit(first).await?;
    assert_eq!(store.take(), ["create"]);

    // A write-only request loads first: the store gets the whole record back.
    let write = Session::new(store.clone(), Expiry::default(), token.clone());
    write.set("b", &2).await?;
    let token = commit(write).await?;
    assert_eq!(store.take(), ["load", "save"]);

    let login = Session::new(store.clone(), Expiry::default(), token.clone());
    login.regenerate().await?;
    let new = commit(login).await?;
    assert_eq!(store.take(), ["load", "create", "destroy"]);
    assert_ne!(new, token);

    let old = Session::new(store.clone(), Expiry::default(), token);
    assert!(!old.has("a").await?, "the old token is destroyed");
    let next = Session::new(store.clone(), Expiry::default(), new);
    assert_eq!(next.get::<i32>("a").await?, Some(1));
    assert_eq!(next.get::<i32>("b").await?, Some(2));
    Ok(())
}

/// A `Plain` store whose loads take a while (so that clones of one session overlap)
/// and whose first load can fail as unavailable.
#[derive(Default)]
struct SlowLoads {
    plain: Plain,
    fail_first: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl SessionStore for SlowLoads {
    async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error> {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if self
            .fail_first
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            self.plain.log("failed load");
            return Err(Error::Unavailable {
                store: "slow",
                source: "down for the test".into(),
            });
        }
        self.plain.load(token, expiry).await
    }
    async fn create(&self, record: &Record) -> Result<String, Error> {
        self.plain.create(record).await
    }
    async fn save(&self, token: &str, record: &Record) -> Result<Option<String>, Error> {
        self.plain.save(token, record).await
    }
    async fn destroy(&self, token: &str) -> Result<(), Error> {
        self.plain.destroy(token).await
    }
}

#[tokio::test]
async fn clones_of_one_session_that_read_at_once_load_it_once() -> Result<(), Error> {
    let store = Arc::new(SlowLoads::default());
    let first = Session::new(store.clone(), Expiry::default(), None);
    first.set("a", &1).await?;
    first.set("b", &2).await?;
    let token = commit(first).await?;
    store.plain.take();

    let session = Session::new(store.clone(), Expiry::default(), token);
    let clone = session.clone();
    let (a, b, has) = tokio::join!(
        session.get::<i32>("a"),
        clone.get::<i32>("b"),
        session.has("c")
    );
    assert_eq!((a?, b?, has?), (Some(1), Some(2), false));
    assert_eq!(store.plain.take(), ["load"], "one load for every clone");
    assert!(session.was_loaded() && clone.was_loaded());
    Ok(())
}

#[tokio::test]
async fn a_load_that_failed_is_tried_again_by_the_next_call() -> Result<(), Error> {
    let store = Arc::new(SlowLoads::default());
    let first = Session::new(store.clone(), Expiry::default(), None);
    first.set("user", "ada").await?;
    let token = commit(first).await?;
    store.plain.take();

    store
        .fail_first
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let session = Session::new(store.clone(), Expiry::default(), token.clone());
    let error = session.get::<String>("user").await.err();
    assert!(error.is_some_and(|e| e.is_unavailable()));
    assert!(!session.was_loaded(), "a failed load loaded nothing");
    assert_eq!(session.get::<String>("user").await?.as_deref(), Some("ada"));
    assert_eq!(store.plain.take(), ["failed load", "load"]);
    assert_eq!(session.current_token(), token.as_deref());
    Ok(())
}

#[tokio::test]
async fn a_change_made_after_the_commit_is_not_saved() -> Result<(), Error> {
    let store = Arc::new(Plain::default());
    let session = Session::new(store.clone(), Expiry::default(), None);
    session.set("a", &1).await?;
    let token = commit(session.clone()).await?;
    session.set("late", &true).await?;
    assert_eq!(session.commit().await?, TokenUpdate::Keep);
    assert_eq!(store.take(), ["create"]);

    let next = Session::new(store.clone(), Expiry::default(), token);
    assert_eq!(next.get::<i32>("a").await?, Some(1));
    assert!(!next.has("late").await?);
    Ok(())
}

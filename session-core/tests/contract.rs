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

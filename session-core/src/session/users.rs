//! Signing in and out, and the user's sessions seen from a request ([`crate::users`]).

use super::*;
use crate::users::{new_device_id, Device, DEVICE_KEY, USER_KEY};
use crate::{EventSink, SessionEvent};

impl Session {
    /// Signs the session in as `user`: a new token and cross-site form token (as
    /// [`regenerate`](Self::regenerate)), and a new device id, so that the user's
    /// other sessions list this one and can end it. Signing in as another user ends
    /// the previous user's binding.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.login("ada").await?;
    /// assert_eq!(session.user().await?.as_deref(), Some("ada"));
    /// # Ok(()) }
    /// ```
    pub async fn login(&self, user: &str) -> Result<(), Error> {
        let device = new_device_id()?;
        self.regenerate().await?;
        self.set(USER_KEY, user).await?;
        self.set(DEVICE_KEY, &device).await
    }

    /// The user this session is signed in as, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// assert_eq!(session.user().await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn user(&self) -> Result<Option<String>, Error> {
        self.get(USER_KEY).await
    }

    /// This signed-in session's device id (what [`devices`](Self::devices) lists it
    /// under), if signed in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.login("ada").await?;
    /// assert_eq!(session.device().await?.map(|d| d.len()), Some(22));
    /// # Ok(()) }
    /// ```
    pub async fn device(&self) -> Result<Option<String>, Error> {
        self.get(DEVICE_KEY).await
    }

    /// Signs out: ends the session (as [`invalidate`](Self::invalidate)) and takes it
    /// out of the user's sessions. On a server store no copy of the old cookie opens
    /// it again; on the cookie store that holds only with a revocation registry (a
    /// copy of a cookie without one stays valid until it expires).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.login("ada").await?;
    /// session.logout().await?;
    /// assert_eq!(session.user().await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn logout(&self) -> Result<(), Error> {
        // Loaded first: the commit unbinds the user it finds.
        drop(self.loaded().await?);
        self.invalidate().await
    }

    /// The signed-in user's live sessions, oldest first, this one marked
    /// [`current`](Device::current). [`Error::NotSignedIn`] when the session is not
    /// signed in; [`Error::NoUserIndex`] when the store keeps no index.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let session = Session::new(store.clone(), Expiry::default(), None);
    /// session.login("ada").await?;
    /// let TokenUpdate::Send(token) = session.commit().await? else { unreachable!() };
    ///
    /// let next = Session::new(store, Expiry::default(), Some(token));
    /// let devices = next.devices().await?;
    /// assert_eq!(devices.len(), 1);
    /// assert!(devices[0].current);
    /// # Ok(()) }
    /// ```
    pub async fn devices(&self) -> Result<Vec<Device>, Error> {
        let Bound { user, device } = self.signed_in().await?;
        let mut devices = self
            .inner
            .store
            .users()?
            .list(&user, &self.inner.expiry)
            .await?;
        for listed in &mut devices {
            listed.current = listed.id == device;
        }
        Ok(devices)
    }

    /// Ends the signed-in user's session on `device` (a [`Device::id`] of
    /// [`devices`](Self::devices)); false when the user has no live session there.
    /// Naming this session's own device signs this one out.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// # let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.login("ada").await?;
    /// assert!(!session.revoke_device("no-such-device").await?);
    /// # Ok(()) }
    /// ```
    pub async fn revoke_device(&self, device: &str) -> Result<bool, Error> {
        let signed_in = self.signed_in().await?;
        if device == signed_in.device {
            self.logout().await?;
            return Ok(true);
        }
        let revoked = self
            .inner
            .store
            .users()?
            .revoke(&signed_in.user, device)
            .await?;
        if revoked {
            self.tell(&SessionEvent::Revoked {
                user: signed_in.user,
                device: Some(device.to_owned()),
                count: 1,
            });
        }
        Ok(revoked)
    }

    /// Ends every other session of the signed-in user ("sign out other devices");
    /// how many ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionStore, TokenUpdate};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    /// let laptop = Session::new(store.clone(), Expiry::default(), None);
    /// laptop.login("ada").await?;
    /// laptop.commit().await?;
    /// let phone = Session::new(store.clone(), Expiry::default(), None);
    /// phone.login("ada").await?;
    /// let TokenUpdate::Send(token) = phone.commit().await? else { unreachable!() };
    ///
    /// let phone = Session::new(store, Expiry::default(), Some(token));
    /// assert_eq!(phone.revoke_other_devices().await?, 1);
    /// assert_eq!(phone.devices().await?.len(), 1);
    /// # Ok(()) }
    /// ```
    pub async fn revoke_other_devices(&self) -> Result<u64, Error> {
        let Bound { user, device } = self.signed_in().await?;
        let count = self
            .inner
            .store
            .users()?
            .revoke_others(&user, Some(&device))
            .await?;
        if count > 0 {
            self.tell(&SessionEvent::Revoked {
                user,
                device: None,
                count,
            });
        }
        Ok(count)
    }

    /// Sends this session's lifecycle events to `sink` (from the next one on).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use session_core::{Expiry, MemoryStore, Session, SessionEvent};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
    /// let session = Session::new(Arc::new(MemoryStore::new()), Expiry::default(), None);
    /// session.on_event(Arc::new(|event: &SessionEvent| tracing::info!(?event, "session")));
    /// session.set("theme", "dark").await?;
    /// session.commit().await?; // SessionEvent::Created
    /// # Ok(()) }
    /// ```
    pub fn on_event(&self, sink: EventSink) {
        if self.inner.events.set(sink).is_err() {
            tracing::warn!("a session's event sink was set twice; the first stays");
        }
    }

    fn tell(&self, event: &SessionEvent) {
        if let Some(sink) = self.inner.events.get() {
            sink(event);
        }
    }

    /// The signed-in user and device, or [`Error::NotSignedIn`].
    async fn signed_in(&self) -> Result<Bound, Error> {
        let st = self.loaded().await?;
        Bound::of(&st.view).ok_or(Error::NotSignedIn)
    }

    /// After a commit that stored `update`: tells the store's user index of a
    /// session bound or ended by this request (nothing, and no store call, for a
    /// request that neither signed in or out nor renewed a signed-in session), then
    /// the event sink.
    pub(super) async fn follow_users(
        &self,
        st: &State,
        after: Option<Bound>,
        renewed: bool,
        update: &TokenUpdate,
    ) -> Result<(), Error> {
        let before = st.bound.clone();
        let ended = matches!(update, TokenUpdate::Remove);
        let after = if ended { None } else { after };
        let token = match update {
            TokenUpdate::Send(token) => Some(token.as_str()),
            _ => self.current_token(),
        };
        let bind = after
            .as_ref()
            .filter(|now| before.as_ref() != Some(*now) || (renewed && token.is_some()));
        let unbind = before.as_ref().filter(|then| after.as_ref() != Some(*then));
        if bind.is_some() || unbind.is_some() {
            let index = self.inner.store.users();
            match (index, unbind) {
                (Ok(index), Some(then)) => index.unbind(&then.user, &then.device).await?,
                // A store without an index has nothing to keep in step.
                (Err(_), _) | (_, None) => {}
            }
            if let (Ok(index), Some(now), Some(token)) = (self.inner.store.users(), bind, token) {
                let created = match self.inner.loaded.get() {
                    Some(Loaded::Live { created_ms, .. }) if !st.created => *created_ms,
                    _ => now_ms(),
                };
                index
                    .bind(&now.user, &now.device, token, created, &self.inner.expiry)
                    .await?;
            }
        }
        if self.inner.events.get().is_none() {
            return Ok(());
        }
        if st.created && bind.is_none() {
            self.tell(&SessionEvent::Created);
        }
        if let Some(then) = unbind {
            self.tell(&SessionEvent::SignedOut {
                user: then.user.clone(),
                device: then.device.clone(),
            });
        }
        match bind {
            Some(now) if before.as_ref() != Some(now) => self.tell(&SessionEvent::SignedIn {
                user: now.user.clone(),
                device: now.device.clone(),
            }),
            _ if renewed && !ended => self.tell(&SessionEvent::Regenerated),
            _ => {}
        }
        Ok(())
    }
}

//! A typed session struct: one serde value under one key, read and written whole, and
//! an extractor of its own so handlers receive the struct.
//!
//! `cargo run -p session-examples --example typed`, then
//! `curl -c jar -b jar -X POST localhost:3000/cart/apple` a few times and
//! `curl -b jar localhost:3000/cart`.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use session_tower::{CookieStore, Session, SessionLayer};

/// What this app keeps in the session.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cart {
    items: Vec<String>,
    coupon: Option<String>,
}

impl Cart {
    const KEY: &'static str = "cart";
}

/// The cart of the request's session, with the session to save it back.
struct CartSession {
    session: Session,
    cart: Cart,
}

impl<S: Send + Sync> FromRequestParts<S> for CartSession {
    type Rejection = session_tower::Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        let cart = session.get(Cart::KEY).await?.unwrap_or_default();
        Ok(CartSession { session, cart })
    }
}

impl CartSession {
    async fn save(&self) -> Result<(), session_tower::Error> {
        Ok(self.session.set(Cart::KEY, &self.cart).await?)
    }
}

async fn show(cart: CartSession) -> Json<Cart> {
    Json(cart.cart)
}

async fn add(
    mut cart: CartSession,
    Path(item): Path<String>,
) -> Result<Json<Cart>, session_tower::Error> {
    cart.cart.items.push(item);
    cart.save().await?;
    Ok(Json(cart.cart))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = CookieStore::new(session_examples::keyring()?);
    let app = Router::new()
        .route("/cart", get(show))
        .route("/cart/{item}", post(add))
        .layer(SessionLayer::new(store));
    axum::serve(session_examples::listen().await?, app).await?;
    Ok(())
}

//! The actix demo served on its own thread, for the actix tests.

use session_actix::SessionMiddleware;
use session_demo::About;

pub type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Serves the actix demo on its own thread (actix runs its own runtime) with the
/// middleware `make` builds there; the base URL.
pub fn serve_actix<F, Fut>(make: F) -> Result<String, Boxed>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<SessionMiddleware, Boxed>>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let (ready, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let sessions = match make().await {
                Ok(sessions) => sessions,
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            };
            let _ = ready.send(Ok(()));
            if let Err(e) =
                session_demo::actix::serve(listener, sessions, About::new("test", false)).await
            {
                panic!("actix demo failed: {e}");
            }
        });
    });
    started.recv()??;
    Ok(base)
}

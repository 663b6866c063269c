//! The chat server as a library: `run` serves the embedded UI and Socket.io on a bound listener.
//!
//! `main` and the integration tests both call [`run`], so what is tested is what ships.

mod assets;
mod chat;
mod transport;

use std::future::Future;

use axum::{Router, routing::get};
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tower_layer::Layer;

pub use chat::Chat;

/// Serves until `shutdown` resolves, then disconnects every socket and drains HTTP connections.
pub async fn run(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (socket_layer, io) = SocketIo::builder()
        .max_payload(shared::MAX_PACKET_BYTES)
        .ws_max_message_size(shared::MAX_PACKET_BYTES as usize)
        .with_state(Chat::new())
        .build_layer();
    io.ns("/", transport::on_connect);

    // The layer is applied once, by hand: `Router::layer` would call it once per endpoint, and
    // each call builds a separate Engine.IO server that does not know the others' sessions.
    let socket_io = socket_layer.layer(Router::new().fallback(assets::serve));
    // socketioxide answers every path under /socket.io/, so the client script is routed in front.
    let app = Router::new()
        .route(assets::SOCKET_IO_CLIENT_PATH, get(assets::serve))
        .fallback_service(socket_io);

    let addr = listener.local_addr()?;
    tracing::info!("chat listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            io.close().await;
        })
        .await?;
    tracing::info!("server stopped");
    Ok(())
}

//! Socket.io binary packets: the chat has no use for them, and the parser would buffer their
//! attachments (up to 10 MB per socket, kept after the socket closed), so a client that sends
//! one is disconnected at once.

use serde_json::json;

use crate::{helpers::TestApp, raw::RawWebSocket};

/// A binary event announcing `attachments` attachments, as socket.io-client encodes
/// `emit("chatMessage", buffer)`: `5<count>-["chatMessage",{"_placeholder":true,"num":0}]`, in
/// an Engine.IO message (`4`).
fn binary_event(attachments: usize) -> String {
    format!(
        "45{attachments}-{}",
        json!([crate::helpers::event::CHAT_MESSAGE, {"_placeholder": true, "num": 0}])
    )
}

#[tokio::test]
async fn a_binary_event_whose_attachment_never_comes_is_disconnected() {
    let app = TestApp::spawn().await;
    let mut client = RawWebSocket::connect(&app.url).await;
    client.send_packet(binary_event(1)).await;
    client.closed().await;
    RawWebSocket::still_chats(&app.url).await;
    app.stop().await;
}

#[tokio::test]
async fn a_binary_event_with_many_attachments_is_disconnected() {
    let app = TestApp::spawn().await;
    let mut client = RawWebSocket::connect(&app.url).await;
    const ATTACHMENTS: usize = 1_000;
    client.send_packet(binary_event(ATTACHMENTS)).await;
    // At most 1,000 x 1 KiB; the server may close the connection before they are all sent.
    for _ in 0..ATTACHMENTS {
        if client.send_binary(vec![0xA5; 1024]).await.is_err() {
            break;
        }
    }
    client.closed().await;
    RawWebSocket::still_chats(&app.url).await;
    app.stop().await;
}

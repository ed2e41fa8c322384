//! An axum router served on `127.0.0.1:0` for the length of a test: the one way the
//! hand-written peers (`fault`, `provider`) start. Stopped when dropped.

use axum::Router;

pub struct LocalPeer {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl LocalPeer {
    pub async fn start(app: Router) -> LocalPeer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port is free");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the peer runs");
        });
        LocalPeer { url, server }
    }
}

impl Drop for LocalPeer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

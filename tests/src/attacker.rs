//! `AttackerHost`: a host an attacker controls, standing on loopback. It counts every connection
//! accepted and every byte received and sent, keeps what it received, and answers as told — not
//! at all, a small JSON body, or an endless one — so a test can prove that no byte of a request
//! reached it, or that Latchkey stopped reading a huge answer after its limit. Put it behind a
//! name with `app.names.insert("evil.example", host.addr)`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How the host answers each request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `200` with this JSON body.
    Json(String),
    /// `200` with a JSON body of `bytes` bytes, sent in 16 KiB writes until the client hangs
    /// up; `content_length` announces the size up front, otherwise the body is chunked.
    Huge { bytes: usize, content_length: bool },
}

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    received: AtomicUsize,
    sent: AtomicUsize,
    seen: Mutex<Vec<u8>>,
}

pub struct AttackerHost {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
    /// Connections that ended (the answer was written or the client hung up).
    ended: watch::Receiver<usize>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for AttackerHost {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl AttackerHost {
    pub async fn start(answer: Answer) -> AttackerHost {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // A small send buffer: what the kernel holds for a client that stopped reading is small,
        // so the bytes sent measure what the client read.
        socket.set_send_buffer_size(16 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let (ended_tx, ended) = watch::channel(0usize);
        let ended_tx = Arc::new(ended_tx);
        let shared = counts.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let (counts, answer, ended_tx) = (shared.clone(), answer.clone(), ended_tx.clone());
                tokio::spawn(async move {
                    serve(stream, &counts, &answer).await;
                    ended_tx.send_modify(|n| *n += 1);
                });
            }
        });
        AttackerHost {
            addr,
            counts,
            ended,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn connections(&self) -> usize {
        self.counts.accepted.load(Ordering::SeqCst)
    }
    pub fn bytes_received(&self) -> usize {
        self.counts.received.load(Ordering::SeqCst)
    }
    pub fn bytes_sent(&self) -> usize {
        self.counts.sent.load(Ordering::SeqCst)
    }
    /// Everything received, as text (requests are small).
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.counts.seen.lock().unwrap()).into_owned()
    }

    /// Waits until `n` connections have ended, so the byte counts are final.
    pub async fn ended(&self, n: usize) {
        let mut ended = self.ended.clone();
        tokio::time::timeout(std::time::Duration::from_secs(30), ended.wait_for(|e| *e >= n))
            .await
            .expect("the connections end")
            .expect("the host runs");
    }

    /// Asserts that nothing at all reached this host.
    #[track_caller]
    pub fn assert_untouched(&self) {
        assert_eq!(
            (self.connections(), self.bytes_received()),
            (0, 0),
            "the attacker's host was reached: {:?}",
            self.received()
        );
    }
}

/// Reads one request head (and what arrives with it), then answers.
async fn serve(mut stream: TcpStream, counts: &Counts, answer: &Answer) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                counts.received.fetch_add(n, Ordering::SeqCst);
                counts.seen.lock().unwrap().extend_from_slice(&buf[..n]);
                head.extend_from_slice(&buf[..n]);
            }
        }
        // Not HTTP (a TLS handshake, to a host the URL says is https): counted, then hung up on.
        if !head[0].is_ascii_uppercase() {
            return;
        }
    }
    // A form or JSON body follows the head; it is small and arrives with it.
    match answer {
        Answer::Json(body) => {
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(reply.as_bytes()).await.is_ok() {
                counts.sent.fetch_add(body.len(), Ordering::SeqCst);
            }
        }
        Answer::Huge { bytes, content_length } => {
            let framing = if *content_length {
                format!("content-length: {bytes}")
            } else {
                "transfer-encoding: chunked".to_owned()
            };
            let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{framing}\r\n\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let piece = vec![b'a'; 16 * 1024];
            let mut left = *bytes;
            while left > 0 {
                let n = left.min(piece.len());
                let frame = if *content_length {
                    piece[..n].to_vec()
                } else {
                    [format!("{n:x}\r\n").as_bytes(), &piece[..n], b"\r\n"].concat()
                };
                if stream.write_all(&frame).await.is_err() {
                    return;
                }
                counts.sent.fetch_add(n, Ordering::SeqCst);
                left -= n;
            }
            if !*content_length {
                let _ = stream.write_all(b"0\r\n\r\n").await;
            }
        }
    }
}

//! The real `latchkey serve` binary, started on a free port with a data directory of the
//! test's (two may share one: the store is a file several processes can open).
//!
//! The binary lives in another crate, so Cargo can't hand us its path: `LATCHKEY_BIN` names it
//! (the test steps build it and set it); otherwise it is looked up next to the test's own
//! executable (`target/<profile>/latchkey`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn latchkey_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LATCHKEY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("latchkey");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p latchkey-cli` first or set LATCHKEY_BIN",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `latchkey serve`; killed when dropped.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
}

impl Served {
    /// Stops the server and returns everything it printed on stdout.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        out
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Starts `latchkey serve` on a random port with `data_dir` and waits until it answers.
pub async fn serve(data_dir: &Path) -> Served {
    let address = format!("127.0.0.1:{}", free_port());
    let child = Command::new(latchkey_bin())
        .args(["serve", "--listen", &address, "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the latchkey binary starts");
    let served = Served {
        child,
        address: format!("http://{address}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{}/no-such-route", served.address)).await.is_err() {
        assert!(Instant::now() < deadline, "latchkey serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served
}

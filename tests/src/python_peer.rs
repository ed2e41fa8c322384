//! How the Python peers start (`tests/peers/<dir>/<script>`): the script prints one JSON line
//! when ready (`{"port", "control_port", "ca", …}`: its TLS port, its plain control port, its
//! test CA) and exits when its stdin closes; it is killed on drop too. The GitHub stand-in, the
//! two-step peers and the OAuth 1.0a peer are this with their own control calls.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::Value;

pub struct PythonPeer {
    /// The peer's TLS port on 127.0.0.1.
    pub addr: SocketAddr,
    /// The test CA's certificate (PEM).
    pub ca: String,
    /// The JSON line it printed when ready.
    pub ready: Value,
    control: String,
    child: Child,
    _stdin: ChildStdin,
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PythonPeer {
    /// `python script` in `tests/peers/<dir>`; `needs` says what it needs when it does not start.
    pub fn start(python: &str, dir: &str, script: &str, needs: &str) -> PythonPeer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers").join(dir);
        let mut child = Command::new(python)
            .arg(script)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{python} does not start: {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the peer's stdout is readable");
        let ready: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|_| panic!("the peer {script} did not start with {python} ({needs})"));
        PythonPeer {
            addr: SocketAddr::from(([127, 0, 0, 1], ready["port"].as_u64().unwrap() as u16)),
            ca: ready["ca"].as_str().unwrap().to_owned(),
            control: format!("http://127.0.0.1:{}", ready["control_port"]),
            ready,
            child,
            _stdin: stdin,
        }
    }

    /// A JSON body to the control port's `path` (`/_config`, `/_now`), which must succeed.
    pub async fn post(&self, path: &str, body: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.control))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// The peer's counters (`GET /_stats` on the control port).
    pub async fn stats(&self) -> Value {
        reqwest::get(format!("{}/_stats", self.control))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

//! AWS STS and IAM on moto with request authentication on (`tests/peers/aws/sts.py`), over TLS
//! for the regional STS names, one process per `StsPeer`. `spawn_sts_app()` starts a stack that
//! trusts the peer's CA and leads `sts.<region>.amazonaws.com` to it, so Latchkey calls STS at
//! its real URL. The peer runs with the Python of moto's venv: `LATCHKEY_MOTO_PYTHON`, set by
//! the steps that run the e2e suite (`tests/lib/moto.bash`'s `venv_setup`).

use serde_json::Value;

use crate::app::{spawn_app_with, TestApp};
use crate::python_peer::PythonPeer;

/// The STS names the peer answers for.
pub const HOSTS: [&str; 2] = ["sts.us-east-1.amazonaws.com", "sts.eu-west-1.amazonaws.com"];

pub struct StsPeer(PythonPeer);

impl std::ops::Deref for StsPeer {
    type Target = PythonPeer;
    fn deref(&self) -> &PythonPeer {
        &self.0
    }
}

impl StsPeer {
    pub fn start() -> StsPeer {
        let python = std::env::var("LATCHKEY_MOTO_PYTHON").unwrap_or_else(|_| {
            panic!("LATCHKEY_MOTO_PYTHON must name the Python of moto's venv (tests/lib/moto.bash: venv_setup)")
        });
        StsPeer(PythonPeer::start(
            &python,
            "aws",
            "sts.py",
            "moto[server] and boto3, openssl",
        ))
    }

    fn field(&self, name: &str) -> String {
        self.ready[name].as_str().unwrap().to_owned()
    }
    /// The integration's IAM access key (allowed `sts:AssumeRole`).
    pub fn access_key(&self) -> (String, String) {
        (self.field("access_key_id"), self.field("secret_access_key"))
    }
    /// The customer's role, and the external id its trust policy requires.
    pub fn role(&self) -> (String, String) {
        (self.field("role_arn"), self.field("external_id"))
    }
    /// How many requests of `action` (`AssumeRole`, `GetCallerIdentity`) the peer received.
    pub async fn received(&self, action: &str) -> u64 {
        self.stats().await["actions"][action].as_u64().unwrap_or(0)
    }
    pub async fn refused(&self) -> u64 {
        self.stats().await["refused"].as_u64().unwrap()
    }
}

/// A stack reaching STS at the peer.
pub async fn spawn_sts_app() -> (TestApp, StsPeer) {
    let peer = StsPeer::start();
    let ca = peer.ca.clone();
    let app = spawn_app_with(|config| config.extra_root_certificates = Some(ca)).await;
    for host in HOSTS {
        app.names.insert(host, peer.addr);
    }
    (app, peer)
}

/// The integration body of an `aws-sigv4` integration with the peer's access key.
pub fn integration(peer: &StsPeer, key: &str, service: &str) -> Value {
    let (id, secret) = peer.access_key();
    serde_json::json!({"provider": "aws-sigv4", "unique_key": key, "integration_config": {
        "service": service, "defaultRegion": "us-east-1",
        "awsAccessKeyId": id, "awsSecretAccessKey": secret}})
}

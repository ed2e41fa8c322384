//! The end-to-end test harness of Latchkey, shared by every test in `tests/tests/` (the `e2e` binary and `log_secrets`): one
//! `spawn_app()` starts the whole local router on a random loopback port with a fresh data
//! directory, and the peers it talks to run beside it — the certified `oidc-provider` (a real
//! OAuth server, `oidc`), a cookie-jar `Browser` that drives its login and consent pages, a
//! `FaultPeer` for token endpoints that misbehave on purpose, local stand-ins for a
//! provider's own API and token endpoints (`provider`), each on its own `LocalPeer`, a team's
//! webhook receiver with a receiver's own signature checks (`receiver`), the two-step providers'
//! token endpoints over TLS (`two_step`, a Python peer), and an
//! `AttackerHost` that counts whatever reaches it.

pub mod app;
pub mod attacker;
pub mod aws_sts;
pub mod backend;
pub mod browser;
pub mod fault;
pub mod github;
pub mod local_peer;
pub mod oidc;
pub mod provider;
pub mod python_peer;
pub mod receiver;
pub mod served;
pub mod two_step;
pub mod wire;

pub use app::{assert_no_secret, spawn_app, spawn_app_with, spawn_app_with_oidc, StartedFlow, TestApp};
pub use attacker::{Answer, AttackerHost};
pub use browser::{Browser, Landing, ResultPage};
pub use fault::{Fault, FaultPeer};
pub use local_peer::LocalPeer;
pub use oidc::{oidc_peer, OAuthClient, OidcPeer, ProviderStats};
pub use provider::{ClientCredentialsPeer, ProviderApi, SalesforceLikeTokenPeer};
pub use receiver::{Delivery, WebhookReceiver};
pub use two_step::{spawn_sessions_app, spawn_two_step_app, TwoStepPeer};

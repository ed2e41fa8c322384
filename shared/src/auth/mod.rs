//! One module per auth mode. Each turns a provider's answer into `Credentials`; writing them is
//! the connection path's job (`crate::connections`), shared by every mode.

pub mod client_credentials;
pub mod oauth2;
pub mod pkce;
pub mod verification;

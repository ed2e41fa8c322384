//! Names to addresses for outgoing requests. The guarded client's resolver keeps only public
//! addresses (`address::non_public`), and the connection is made to exactly those: the check is
//! on what is connected to, so a name that resolves differently a second time (DNS rebinding)
//! gains nothing. `Lookup` is where names are looked up — the system resolver, or a fixed table
//! a test fills (`NameTable`) so a public-looking name can lead to a local listener.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;

use super::address::non_public;

/// Looks names up. Addresses with port 0 take the URL's port; others keep their own unless the
/// URL names one.
pub trait Lookup: Send + Sync {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>>;
}

/// The system resolver (`getaddrinfo`, through tokio).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.collect()) })
    }
}

/// Names with fixed addresses, the rest through the system resolver: lets a test stand a local
/// listener in for `evil.instructure.com` without touching `/etc/hosts`.
#[derive(Default)]
pub struct NameTable {
    names: RwLock<HashMap<String, Vec<SocketAddr>>>,
}

impl NameTable {
    pub fn insert(&self, name: &str, addr: SocketAddr) {
        if let Ok(mut names) = self.names.write() {
            names.entry(name.to_ascii_lowercase()).or_default().push(addr);
        }
    }
}

impl Lookup for NameTable {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        let fixed = self
            .names
            .read()
            .ok()
            .and_then(|n| n.get(&host.to_ascii_lowercase()).cloned());
        match fixed {
            Some(addrs) => Box::pin(async move { Ok(addrs) }),
            None => SystemLookup.lookup(host),
        }
    }
}

/// A name that led only to addresses end users may not reach. Found in a failed request's
/// error chain, it tells a refusal from a network failure.
#[derive(Debug)]
pub struct AddressRefused(pub &'static str);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the name resolves only to {}", self.0)
    }
}

impl std::error::Error for AddressRefused {}

/// The resolver of one client: `public_only` for requests whose host an end user chose.
pub(super) struct Resolver {
    pub lookup: Arc<dyn Lookup>,
    pub public_only: bool,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.lookup.clone();
        let public_only = self.public_only;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = lookup.lookup(host).await?;
            if !public_only {
                return Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs);
            }
            let mut refused = None;
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match non_public(a.ip()) {
                    None => true,
                    Some(why) => {
                        refused.get_or_insert(why);
                        false
                    }
                })
                .collect();
            match refused {
                Some(why) if public.is_empty() => {
                    Err(Box::new(AddressRefused(why)) as Box<dyn std::error::Error + Send + Sync>)
                }
                _ => Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

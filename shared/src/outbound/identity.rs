//! Mutual TLS: a client certificate and its private key, presented to a provider that asks for
//! one (the catalog's `require_client_certificate`: ADP). A request carries its connection's
//! `ClientIdentity`; `Outbound` sends it through a client built for that identity (kept, a
//! bounded number of them, so a hot connection does not build one per request), with the same
//! resolver, roots and rules as every other request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::crypto::keys;

/// PEM labels a client certificate and its private key may have.
const CERTIFICATE: &str = "CERTIFICATE";
const PRIVATE_KEYS: &[&str] = &["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

/// Clients kept, one per identity and address rule; past this, the cache starts over.
const KEPT_CLIENTS: usize = 256;

/// Why a certificate and key cannot be presented. Never holds either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("client_certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)")]
    Certificate,
    #[error("client_private_key is not a PEM private key (-----BEGIN PRIVATE KEY-----)")]
    PrivateKey,
    #[error("client_certificate and client_private_key do not make a TLS client identity")]
    Unusable,
}

/// A client certificate with its private key, as canonical PEM. `Debug` shows neither.
#[derive(Clone)]
pub struct ClientIdentity {
    pem: Arc<String>,
    /// SHA-256 of `pem`: which kept client serves it.
    id: [u8; 32],
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientIdentity(..)")
    }
}

impl ClientIdentity {
    /// Reads a certificate and key as an end user pastes them: real or escaped (`\n`) line
    /// breaks, surrounding space. Fails when either is not PEM of its kind, or when TLS cannot
    /// use the pair.
    pub fn from_pem(certificate: &str, private_key: &str) -> Result<Self, IdentityError> {
        let (label, cert_der) = keys::pem(certificate).map_err(|_| IdentityError::Certificate)?;
        if label != CERTIFICATE {
            return Err(IdentityError::Certificate);
        }
        let (key_label, key_der) = keys::pem(private_key).map_err(|_| IdentityError::PrivateKey)?;
        if !PRIVATE_KEYS.contains(&key_label.as_str()) {
            return Err(IdentityError::PrivateKey);
        }
        let pem = format!(
            "{}{}",
            keys::pem_encode(CERTIFICATE, &cert_der),
            keys::pem_encode(&key_label, &key_der)
        );
        reqwest::Identity::from_pem(pem.as_bytes()).map_err(|_| IdentityError::Unusable)?;
        // A key that does not fit the certificate shows when a client takes the pair.
        reqwest::Client::builder()
            .identity(reqwest::Identity::from_pem(pem.as_bytes()).map_err(|_| IdentityError::Unusable)?)
            .build()
            .map_err(|_| IdentityError::Unusable)?;
        let id = Sha256::digest(pem.as_bytes()).into();
        Ok(Self { pem: Arc::new(pem), id })
    }

    pub(super) fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(self.pem.as_bytes()).expect("checked when the identity was read")
    }
}

/// The clients built for identities, by identity and whether they reach public addresses only.
#[derive(Default)]
pub(super) struct IdentityClients {
    clients: Mutex<HashMap<([u8; 32], bool), reqwest::Client>>,
}

impl IdentityClients {
    /// The client of `identity` (built by `build` the first time).
    pub(super) fn get(
        &self,
        identity: &ClientIdentity,
        public_only: bool,
        build: impl FnOnce(&ClientIdentity) -> reqwest::Client,
    ) -> reqwest::Client {
        let key = (identity.id, public_only);
        if let Some(client) = self.clients.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return client;
        }
        let client = build(identity);
        if let Ok(mut clients) = self.clients.lock() {
            if clients.len() >= KEPT_CLIENTS {
                clients.clear();
            }
            clients.insert(key, client.clone());
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("testdata/client-cert.pem");
    const KEY: &str = include_str!("testdata/client-key.pem");
    const OTHER_KEY: &str = include_str!("testdata/other-key.pem");

    #[test]
    fn a_pasted_pem_pair_is_read_and_never_shown() {
        let identity = ClientIdentity::from_pem(CERT, KEY).unwrap();
        assert_eq!(format!("{identity:?}"), "ClientIdentity(..)");
        let escaped =
            ClientIdentity::from_pem(&CERT.replace('\n', "\\n"), &format!("  {}  ", KEY.replace('\n', "\\n"))).unwrap();
        assert_eq!(escaped.id, identity.id, "escaped line breaks read the same");
    }

    #[test]
    fn what_is_not_a_certificate_and_key_is_refused_by_kind() {
        assert_eq!(
            ClientIdentity::from_pem("MIIB…", KEY).unwrap_err(),
            IdentityError::Certificate
        );
        assert_eq!(
            ClientIdentity::from_pem(KEY, KEY).unwrap_err(),
            IdentityError::Certificate
        );
        assert_eq!(
            ClientIdentity::from_pem(CERT, CERT).unwrap_err(),
            IdentityError::PrivateKey
        );
        let broken = KEY.replace("MIG", "AAA");
        assert!(ClientIdentity::from_pem(CERT, &broken).is_err());
        let mismatched = ClientIdentity::from_pem(CERT, OTHER_KEY);
        assert!(
            matches!(mismatched, Err(IdentityError::Unusable)),
            "a key that is not the certificate's: {mismatched:?}"
        );
        for e in [
            IdentityError::Certificate,
            IdentityError::PrivateKey,
            IdentityError::Unusable,
        ] {
            assert!(!e.to_string().contains("MIG"), "{e}");
        }
    }

    #[test]
    fn clients_are_kept_per_identity_and_rule() {
        let clients = IdentityClients::default();
        let identity = ClientIdentity::from_pem(CERT, KEY).unwrap();
        let mut built = 0;
        for public_only in [false, true, false, true] {
            clients.get(&identity, public_only, |_| {
                built += 1;
                reqwest::Client::new()
            });
        }
        assert_eq!(built, 2, "one client per identity and address rule");
    }
}

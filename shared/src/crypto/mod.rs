//! Sealing of secrets at rest. `Sealer` is the seam: `local` seals with a key file, the KMS
//! sealer (AWS) with envelope encryption. Both bind every blob to a `SealContext`, so a blob
//! copied onto another record does not open.

pub mod keys;
#[cfg(feature = "aws")]
pub mod kms;
#[cfg(feature = "sqlite")]
pub mod local;

use async_trait::async_trait;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key service could not be reached; nothing was sealed or opened.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    /// The blob is malformed, tampered with, or belongs to another context.
    #[error("sealed blob does not open in this context")]
    Invalid,
}

impl From<SealError> for crate::error::Error {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Unavailable(detail) => {
                tracing::error!(%detail, "key service unavailable");
                crate::error::Error::unavailable("The key service")
            }
            SealError::Invalid => {
                tracing::error!("sealed blob failed to open (wrong context or tampered)");
                crate::error::Error::internal()
            }
        }
    }
}

/// What a sealed blob is bound to. Used as AES-GCM associated data (and as the KMS encryption
/// context), so it must be rebuilt identically to open the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealContext(BTreeMap<&'static str, String>);

impl SealContext {
    /// Credentials of one connection.
    pub fn connection(environment: &str, integration: &str, connection: &str) -> Self {
        Self(BTreeMap::from([
            ("environment", environment.to_owned()),
            ("integration", integration.to_owned()),
            ("connection", connection.to_owned()),
        ]))
    }
    /// An integration's own secrets (client secret, app private key).
    pub fn integration(environment: &str, integration: &str) -> Self {
        Self(BTreeMap::from([
            ("environment", environment.to_owned()),
            ("integration", integration.to_owned()),
            ("connection", String::new()),
        ]))
    }
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }
    /// Canonical bytes for AEAD associated data: `k=v` lines in key order, lengths prefixed so
    /// no two contexts share an encoding.
    pub fn aad(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            for part in [k.as_bytes(), v.as_bytes()] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part);
            }
        }
        out
    }
}

#[async_trait]
pub trait Sealer: Send + Sync {
    async fn seal(&self, plaintext: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError>;
    async fn open(&self, blob: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError>;
}

/// Writes a new file readable by its owner only (key material: the sealing key, the
/// environment keys); fails if it exists.
pub fn write_private_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Cryptographically random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).expect("the OS random source is available");
    buf
}

/// A random token for URLs and headers: 32 bytes, base64url without padding.
pub fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// AES-256-GCM with a random 96-bit nonce: `nonce || ciphertext+tag`. Shared by the local
/// sealer (key file) and the KMS sealer (data key), so there is one AEAD path.
pub fn aes_gcm_seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let cipher = aes_gcm::Aes256Gcm::new(key.into());
    let nonce = random_bytes::<12>();
    let ct = cipher
        .encrypt((&nonce).into(), Payload { msg: plaintext, aad })
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(12 + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

pub fn aes_gcm_open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    if sealed.len() < 12 + 16 {
        return Err(SealError::Invalid);
    }
    let (nonce, ct) = sealed.split_at(12);
    let cipher = aes_gcm::Aes256Gcm::new(key.into());
    cipher
        .decrypt(aes_gcm::Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| SealError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_encode_unambiguously() {
        let a = SealContext::connection("dev", "ab", "c");
        let b = SealContext::connection("dev", "a", "bc");
        assert_ne!(a.aad(), b.aad());
        assert_ne!(
            SealContext::integration("dev", "x").aad(),
            SealContext::connection("dev", "x", "y").aad()
        );
    }

    #[test]
    fn aead_round_trip_and_tamper() {
        let key = random_bytes::<32>();
        let sealed = aes_gcm_seal(&key, b"hello", b"ctx");
        assert_eq!(aes_gcm_open(&key, &sealed, b"ctx").unwrap(), b"hello");
        assert!(matches!(aes_gcm_open(&key, &sealed, b"other"), Err(SealError::Invalid)));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(aes_gcm_open(&key, &tampered, b"ctx"), Err(SealError::Invalid)));
        assert!(matches!(
            aes_gcm_open(&key, &sealed[..10], b"ctx"),
            Err(SealError::Invalid)
        ));
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}

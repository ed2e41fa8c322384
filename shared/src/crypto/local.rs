//! The local sealer: AES-256-GCM under a 32-byte key kept in a file of the data directory,
//! created on first start with mode 0600. Blob format: `0x01 || nonce(12) || ciphertext+tag`.

use async_trait::async_trait;
use std::path::Path;

use super::{aes_gcm_open, aes_gcm_seal, random_bytes, SealContext, SealError, Sealer};

const FORMAT_V1: u8 = 1;

pub struct LocalSealer {
    key: [u8; 32],
}

impl LocalSealer {
    pub fn from_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Loads the key file, creating it (0600) when it does not exist yet.
    pub fn open_or_create(path: &Path) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} must hold exactly 32 bytes", path.display()),
                    )
                })?;
                Ok(Self::from_key(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = random_bytes::<32>();
                super::write_private_file(path, &key)?;
                Ok(Self::from_key(key))
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Sealer for LocalSealer {
    async fn seal(&self, plaintext: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError> {
        let mut out = vec![FORMAT_V1];
        out.extend(aes_gcm_seal(&self.key, plaintext, &context.aad()));
        Ok(out)
    }

    async fn open(&self, blob: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError> {
        match blob.split_first() {
            Some((&FORMAT_V1, rest)) => aes_gcm_open(&self.key, rest, &context.aad()),
            _ => Err(SealError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_moved_to_another_connection_does_not_open() {
        let sealer = LocalSealer::from_key(random_bytes());
        let a = SealContext::connection("dev", "github", "alice");
        let b = SealContext::connection("dev", "github", "bob");
        let blob = sealer.seal(b"{\"access_token\":\"t\"}", &a).await.unwrap();
        assert_eq!(sealer.open(&blob, &a).await.unwrap(), b"{\"access_token\":\"t\"}");
        assert!(matches!(sealer.open(&blob, &b).await, Err(SealError::Invalid)));
    }

    #[tokio::test]
    async fn unknown_format_versions_are_refused() {
        let sealer = LocalSealer::from_key(random_bytes());
        let ctx = SealContext::integration("dev", "x");
        let mut blob = sealer.seal(b"s", &ctx).await.unwrap();
        blob[0] = 9;
        assert!(matches!(sealer.open(&blob, &ctx).await, Err(SealError::Invalid)));
        assert!(matches!(sealer.open(&[], &ctx).await, Err(SealError::Invalid)));
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sealing.key");
        let first = LocalSealer::open_or_create(&path).unwrap();
        let again = LocalSealer::open_or_create(&path).unwrap();
        assert_eq!(first.key, again.key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

//! The AWS sealer: envelope encryption with KMS. Each blob is sealed with an AES-256 data key
//! from `GenerateDataKey`, whose encryption context is the blob's `SealContext`; the same pairs
//! are part of the AES-GCM associated data. Blob format (version 2):
//!
//! `0x02 || u16 BE length of the encrypted data key || encrypted data key || nonce(12) || ciphertext+tag`
//!
//! The associated data is `0x02 || encrypted data key || SealContext::aad()`, so neither the key
//! nor the context can be swapped. Decrypted data keys are cached per instance, bounded by
//! age, uses and entries: a warm read of a connection opens its blob with no KMS call. Sealing
//! reuses a data key only for the same context, and at most `max_uses` times.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use zeroize_on_drop::DataKey;

use super::{aes_gcm_open, aes_gcm_seal, SealContext, SealError, Sealer};

const FORMAT: u8 = 0x02;

/// Bounds of the data key cache.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    /// A cached key is dropped this long after KMS returned it.
    pub max_age: Duration,
    /// A data key seals at most this many blobs (then a fresh one is generated); a cached
    /// decrypted key opens at most this many before KMS is asked again.
    pub max_uses: u64,
    /// Entries per cache (sealing and opening each); the oldest goes first.
    pub max_entries: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            max_uses: 1000,
            max_entries: 1000,
        }
    }
}

mod zeroize_on_drop {
    /// A plaintext data key, overwritten when dropped.
    pub struct DataKey(pub [u8; 32]);

    impl Drop for DataKey {
        fn drop(&mut self) {
            for b in self.0.iter_mut() {
                // Volatile so the wipe is not optimized away.
                unsafe { std::ptr::write_volatile(b, 0) };
            }
        }
    }
}

struct Entry {
    key: std::sync::Arc<DataKey>,
    encrypted: Vec<u8>,
    born: Instant,
    uses: u64,
}

#[derive(Default)]
struct Cache {
    /// Sealing: context AAD → current data key.
    seal: HashMap<Vec<u8>, Entry>,
    /// Opening: (encrypted data key, context AAD) → plaintext key.
    open: HashMap<(Vec<u8>, Vec<u8>), Entry>,
}

fn evict<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, Entry>, limits: &CacheLimits) {
    map.retain(|_, e| e.born.elapsed() < limits.max_age && e.uses < limits.max_uses);
    while map.len() >= limits.max_entries.max(1) {
        let oldest = map.iter().min_by_key(|(_, e)| e.born).map(|(k, _)| k.clone());
        match oldest {
            Some(k) => map.remove(&k),
            None => break,
        };
    }
}

pub struct KmsSealer {
    client: aws_sdk_kms::Client,
    key_id: String,
    limits: CacheLimits,
    cache: Mutex<Cache>,
    kms_calls: AtomicU64,
}

fn kms_error<E, R>(e: SdkError<E, R>) -> SealError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        // The blob (or its context) is wrong, not the service.
        Some("InvalidCiphertextException") | Some("IncorrectKeyException") => SealError::Invalid,
        _ => {
            tracing::warn!(error = %DisplayErrorContext(&e), "KMS call failed");
            SealError::Unavailable(e.code().unwrap_or("unreachable").to_owned())
        }
    }
}

fn context_map(context: &SealContext) -> HashMap<String, String> {
    context.pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn aad(encrypted_key: &[u8], context: &SealContext) -> Vec<u8> {
    let mut out = vec![FORMAT];
    out.extend_from_slice(encrypted_key);
    out.extend_from_slice(&context.aad());
    out
}

fn to_key(bytes: &[u8]) -> Result<DataKey, SealError> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| SealError::Invalid)?;
    Ok(DataKey(arr))
}

impl KmsSealer {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>, limits: CacheLimits) -> Self {
        Self {
            client,
            key_id: key_id.into(),
            limits,
            cache: Mutex::new(Cache::default()),
            kms_calls: AtomicU64::new(0),
        }
    }

    /// KMS calls this sealer made (for tests and the benchmarks).
    pub fn kms_calls(&self) -> u64 {
        self.kms_calls.load(Ordering::Relaxed)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn data_key(&self, context: &SealContext) -> Result<(std::sync::Arc<DataKey>, Vec<u8>), SealError> {
        let ctx = context.aad();
        {
            let mut cache = self.cache();
            evict(
                &mut cache.seal,
                &CacheLimits {
                    max_entries: usize::MAX,
                    ..self.limits
                },
            );
            if let Some(e) = cache.seal.get_mut(&ctx) {
                e.uses += 1;
                return Ok((e.key.clone(), e.encrypted.clone()));
            }
        }
        self.kms_calls.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(kms_error)?;
        let plain = out
            .plaintext()
            .ok_or(SealError::Unavailable("no plaintext key".into()))?;
        let encrypted = out
            .ciphertext_blob()
            .ok_or(SealError::Unavailable("no encrypted key".into()))?
            .as_ref()
            .to_vec();
        let key = std::sync::Arc::new(to_key(plain.as_ref())?);
        let mut cache = self.cache();
        evict(&mut cache.seal, &self.limits);
        cache.seal.insert(
            ctx,
            Entry {
                key: key.clone(),
                encrypted: encrypted.clone(),
                born: Instant::now(),
                uses: 1,
            },
        );
        Ok((key, encrypted))
    }

    async fn decrypted_key(
        &self,
        encrypted: &[u8],
        context: &SealContext,
    ) -> Result<std::sync::Arc<DataKey>, SealError> {
        let id = (encrypted.to_vec(), context.aad());
        {
            let mut cache = self.cache();
            evict(
                &mut cache.open,
                &CacheLimits {
                    max_entries: usize::MAX,
                    ..self.limits
                },
            );
            if let Some(e) = cache.open.get_mut(&id) {
                e.uses += 1;
                return Ok(e.key.clone());
            }
        }
        self.kms_calls.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(encrypted.to_vec()))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(kms_error)?;
        let plain = out.plaintext().ok_or(SealError::Invalid)?;
        let key = std::sync::Arc::new(to_key(plain.as_ref())?);
        let mut cache = self.cache();
        evict(&mut cache.open, &self.limits);
        cache.open.insert(
            id,
            Entry {
                key: key.clone(),
                encrypted: Vec::new(),
                born: Instant::now(),
                uses: 1,
            },
        );
        Ok(key)
    }
}

#[async_trait]
impl Sealer for KmsSealer {
    async fn seal(&self, plaintext: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError> {
        let (key, encrypted) = self.data_key(context).await?;
        let len = u16::try_from(encrypted.len()).map_err(|_| SealError::Unavailable("data key too long".into()))?;
        let body = aes_gcm_seal(&key.0, plaintext, &aad(&encrypted, context));
        let mut out = Vec::with_capacity(3 + encrypted.len() + body.len());
        out.push(FORMAT);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&encrypted);
        out.extend_from_slice(&body);
        Ok(out)
    }

    async fn open(&self, blob: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError> {
        if blob.len() < 3 || blob[0] != FORMAT {
            return Err(SealError::Invalid);
        }
        let len = u16::from_be_bytes([blob[1], blob[2]]) as usize;
        if blob.len() < 3 + len {
            return Err(SealError::Invalid);
        }
        let (encrypted, body) = blob[3..].split_at(len);
        let key = self.decrypted_key(encrypted, context).await?;
        aes_gcm_open(&key.0, body, &aad(encrypted, context))
    }
}

//! TLS on the players' listener: the certificate chain and key named by `server.tls_cert` and
//! `server.tls_key`, checked to belong together, served to every new connection, and read
//! again every `server.tls_reload_seconds` so that a renewed certificate takes over without a
//! restart. Connections already open keep the certificate they shook hands with. A renewal
//! that does not load (a half-written file, the key of another certificate) changes nothing:
//! the last good pair stays in service, the failure is logged and
//! `croupier_tls_reload_failing` is 1 until the files on disk are a good pair again.
//!
//! The admin listener stays plain HTTP: it belongs on loopback or a private network
//! (docs/security.md). [`dev_cert`] writes a throw-away CA and certificate for development,
//! the compose stack and the tests.

pub mod dev_cert;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::metrics::TlsMetrics;

/// Largest certificate or key file read: a chain of a few certificates is a few KiB; a file
/// far larger is not a certificate, and reading it every few seconds would cost memory.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The one protocol the players' listener speaks inside TLS (actix-web here serves HTTP/1.1
/// and WebSocket upgrades, which need HTTP/1.1).
const ALPN_HTTP1: &[u8] = b"http/1.1";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: larger than {MAX_PEM_BYTES} bytes, not a PEM certificate or key")]
    TooLarge { path: String },
    #[error("{path}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it")]
    NoCertificate { path: String },
    #[error("{path}: not valid PEM: {message}")]
    Pem { path: String, message: String },
    #[error("{path}: no PEM private key (PKCS#8, PKCS#1 or SEC1) in it")]
    NoKey { path: String },
    #[error("{path}: the key cannot sign for TLS: {message}")]
    UnusableKey { path: String, message: String },
    #[error("{key} is not the key of the certificate in {cert}: {message}")]
    KeyMismatch {
        cert: String,
        key: String,
        message: String,
    },
    #[error("{path}: the first certificate cannot be parsed: {message}")]
    BadCertificate { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Generate(String),
}

/// The certificate and key in service, and where they are read from.
pub struct Certificates {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<Loaded>,
    /// SHA-256 over both files as last read: unchanged files are not parsed again.
    files: Mutex<[u8; 32]>,
}

/// One loaded pair.
struct Loaded {
    key: Arc<CertifiedKey>,
    /// The end-entity certificate's notAfter, Unix seconds.
    not_after: i64,
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificates")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("not_after", &self.not_after())
            .finish()
    }
}

impl Certificates {
    /// Loads the pair; an error names the file and what is wrong with it.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<Certificates>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let files = read_files(cert_path, key_path)?;
        let loaded = parse(&provider, cert_path, &files.cert, key_path, &files.key)?;
        Ok(Arc::new(Certificates {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            provider,
            current: ArcSwap::from_pointee(loaded),
            files: Mutex::new(files.digest),
        }))
    }

    /// Reads the files again: `Ok(true)` when a new pair is now served, `Ok(false)` when the
    /// files are unchanged, an error (and the old pair still served) when they do not load.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let files = read_files(&self.cert_path, &self.key_path)?;
        let mut last = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if *last == files.digest {
            return Ok(false);
        }
        let loaded = parse(
            &self.provider,
            &self.cert_path,
            &files.cert,
            &self.key_path,
            &files.key,
        )?;
        self.current.store(Arc::new(loaded));
        *last = files.digest;
        Ok(true)
    }

    /// The served certificate's notAfter, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.current.load().not_after
    }

    /// The end-entity certificate now served (DER).
    pub fn served(&self) -> CertificateDer<'static> {
        self.current.load().key.cert[0].clone()
    }

    /// The rustls configuration of the players' listener: TLS 1.2 and 1.3 with rustls' safe
    /// defaults, no client certificates, HTTP/1.1, the certificate from `self` at each
    /// handshake.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load().key.clone())
    }
}

/// Both files as read, and one digest over them.
struct Files {
    digest: [u8; 32],
    cert: Vec<u8>,
    key: Vec<u8>,
}

/// Both files' bytes (bounded by [`MAX_PEM_BYTES`]) and one digest over them.
fn read_files(cert: &Path, key: &Path) -> Result<Files, TlsError> {
    let cert = read_bounded(cert)?;
    let key = read_bounded(key)?;
    let mut hash = Sha256::new();
    hash.update((cert.len() as u64).to_be_bytes());
    hash.update(&cert);
    hash.update(&key);
    Ok(Files {
        digest: hash.finalize().into(),
        cert,
        key,
    })
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    let shown = || path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| TlsError::Read {
        path: shown(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| TlsError::Read {
            path: shown(),
            source,
        })?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::TooLarge { path: shown() });
    }
    Ok(bytes)
}

/// The chain (end-entity first) and key, checked to be a pair that can sign.
fn parse(
    provider: &CryptoProvider,
    cert_path: &Path,
    cert: &[u8],
    key_path: &Path,
    key: &[u8],
) -> Result<Loaded, TlsError> {
    let cert_shown = cert_path.display().to_string();
    let key_shown = key_path.display().to_string();
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: cert_shown.clone(),
            message: e.to_string(),
        })?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate { path: cert_shown });
    };
    let not_after = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| TlsError::BadCertificate {
            path: cert_shown.clone(),
            message: e.to_string(),
        })?
        .1
        .validity()
        .not_after
        .timestamp();
    let private = PrivateKeyDer::from_pem_slice(key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: key_shown.clone(),
        },
        other => TlsError::Pem {
            path: key_shown.clone(),
            message: other.to_string(),
        },
    })?;
    let signer = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| TlsError::UnusableKey {
            path: key_shown.clone(),
            message: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|e| TlsError::KeyMismatch {
        cert: cert_shown,
        key: key_shown,
        message: e.to_string(),
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        not_after,
    })
}

/// Reads the files every `every` until `shutdown`; see the module doc for what a failure does.
pub fn start_reloader(
    certificates: Arc<Certificates>,
    every: Duration,
    metrics: TlsMetrics,
    shutdown: CancellationToken,
) {
    metrics.not_after.set(certificates.not_after());
    metrics.failing.set(0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let certs = certificates.clone();
            let outcome = tokio::task::spawn_blocking(move || certs.reload()).await;
            match outcome {
                Ok(Ok(true)) => {
                    metrics.reloads.inc();
                    metrics.not_after.set(certificates.not_after());
                    metrics.failing.set(0);
                    tracing::info!(
                        not_after = certificates.not_after(),
                        "TLS certificate reloaded: new connections get the new one"
                    );
                }
                Ok(Ok(false)) => metrics.failing.set(0),
                Ok(Err(error)) => {
                    // Once per failing period of the files, not once per tick.
                    if metrics.failing.get() == 0 {
                        tracing::error!(%error, "TLS certificate not reloaded; the previous one is still served");
                    }
                    metrics.failing.set(1);
                }
                Err(error) => tracing::error!(%error, "TLS reload task failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests;

//! The gateway's TLS server side: the certificate (configured files, or a
//! self-signed one made on first start and kept in the data folder) and a
//! rustls configuration that picks up renewed certificate files without a
//! restart.
//!
//! rustls with the ring provider: TLS 1.3 and 1.2 only, ECDHE key exchange
//! and AEAD ciphers only (rustls offers nothing weaker).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error("TLS setup: {0}")]
    Setup(String),
}

fn file_err(path: &Path, detail: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// Where the certificate and key live.
#[derive(Debug, Clone)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertPaths {
    /// The configured files, or `<data_dir>/tls/{cert,key}.pem` when none
    /// are configured (made self-signed for `hostname` when missing).
    pub fn resolve(
        cert: &str,
        key: &str,
        data_dir: &Path,
        hostname: &str,
    ) -> Result<CertPaths, TlsError> {
        if !cert.trim().is_empty() {
            return Ok(CertPaths {
                cert: PathBuf::from(cert.trim()),
                key: PathBuf::from(key.trim()),
            });
        }
        let dir = data_dir.join("tls");
        let paths = CertPaths {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        if !paths.cert.exists() || !paths.key.exists() {
            self_signed(&paths, hostname)?;
        }
        Ok(paths)
    }
}

/// Makes a self-signed certificate for `hostname` (and localhost), the key
/// readable by its owner only.
pub fn self_signed(paths: &CertPaths, hostname: &str) -> Result<(), TlsError> {
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".into());
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError::Setup(format!("cannot make a self-signed certificate: {e}")))?;
    if let Some(dir) = paths.cert.parent() {
        std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    }
    write_private(&paths.key, made.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&paths.cert, made.cert.pem()).map_err(|e| file_err(&paths.cert, e))?;
    info!(cert = %paths.cert.display(), %hostname, "made a self-signed TLS certificate; configure tls.cert and tls.key for a real one");
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| file_err(path, e))?;
    f.write_all(bytes).map_err(|e| file_err(path, e))?;
    f.sync_all().map_err(|e| file_err(path, e))
}

/// Reads a PEM certificate chain and its private key.
pub fn load_certified_key(paths: &CertPaths) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&paths.cert)
        .map_err(|e| file_err(&paths.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(&paths.cert, e))?;
    if certs.is_empty() {
        return Err(file_err(&paths.cert, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&paths.key).map_err(|e| file_err(&paths.key, e))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| file_err(&paths.key, e))?;
    let ck = CertifiedKey::new(certs, signing);
    ck.keys_match()
        .map_err(|e| file_err(&paths.key, format!("does not match the certificate: {e}")))?;
    Ok(ck)
}

fn modified(paths: &CertPaths) -> Option<(SystemTime, SystemTime)> {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(&paths.cert)?, m(&paths.key)?))
}

/// The current certificate, reloaded when its files change (renewals).
/// A changed file that does not load is logged and the last good
/// certificate stays in use.
#[derive(Debug)]
pub struct ReloadingCert {
    paths: CertPaths,
    current: ArcSwap<CertifiedKey>,
    stamp: Mutex<Option<(SystemTime, SystemTime)>>,
}

impl ReloadingCert {
    pub fn load(paths: CertPaths) -> Result<ReloadingCert, TlsError> {
        let stamp = modified(&paths);
        let key = load_certified_key(&paths)?;
        Ok(ReloadingCert {
            paths,
            current: ArcSwap::from_pointee(key),
            stamp: Mutex::new(stamp),
        })
    }

    /// Reloads when the files' modification times changed.
    pub fn refresh(&self) {
        let now = modified(&self.paths);
        let mut stamp = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
        if now.is_none() || now == *stamp {
            return;
        }
        match load_certified_key(&self.paths) {
            Ok(key) => {
                self.current.store(Arc::new(key));
                *stamp = now;
                info!(cert = %self.paths.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                // Keep the old stamp so a half-written pair is retried.
                warn!(error = %e, "changed TLS certificate does not load; keeping the previous one");
            }
        }
    }

    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.refresh();
        Some(self.current())
    }
}

/// A TLS acceptor over the reloading certificate.
pub fn acceptor(cert: Arc<ReloadingCert>) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = CertPaths::resolve("", "", dir.path(), "gw.test").expect("made");
        let first = std::fs::read(&paths.cert).expect("cert");
        let again = CertPaths::resolve("", "", dir.path(), "gw.test").expect("kept");
        assert_eq!(first, std::fs::read(&again.cert).expect("cert"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&paths.key).expect("key").permissions(),
        );
        assert_eq!(mode & 0o077, 0, "the key is private to its owner");
        load_certified_key(&paths).expect("loads");
    }

    #[test]
    fn renewed_certificate_files_are_picked_up_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = CertPaths::resolve("", "", dir.path(), "gw.test").expect("made");
        let cert = ReloadingCert::load(paths.clone()).expect("load");
        let before = cert.current().cert[0].clone();
        // A renewal: new files with a later modification time.
        std::thread::sleep(std::time::Duration::from_millis(20));
        self_signed(&paths, "gw.test").expect("renew");
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        for p in [&paths.cert, &paths.key] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .and_then(|f| f.set_modified(later))
                .expect("touch");
        }
        cert.refresh();
        let renewed = cert.current().cert[0].clone();
        assert_ne!(before, renewed, "the renewed certificate is served");
        // A broken file keeps the last good certificate.
        std::fs::write(&paths.cert, "not a certificate").expect("break");
        let later = later + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&paths.cert)
            .and_then(|f| f.set_modified(later))
            .expect("touch");
        cert.refresh();
        assert_eq!(cert.current().cert[0], renewed);
    }
}

//! `croupier dev-cert`: a throw-away certificate authority and a server certificate it signed,
//! for development, the compose stack and the tests. Never for players on the internet: no
//! one but whoever is told to trust `ca.pem` trusts it.
//!
//! Files written into the output directory (keys mode 0600, each file written whole to a
//! temporary name and renamed, so a node reloading them never reads half a file):
//! - `ca.pem`, `ca-key.pem`: the authority, made once and reused while both are there, so a
//!   renewed server certificate is still trusted by clients that trust `ca.pem`;
//! - `cert.pem`: the server certificate followed by the authority's (a chain, as
//!   `server.tls_cert` and nginx's `ssl_certificate` expect);
//! - `key.pem`: the server certificate's key (`server.tls_key`, nginx's `ssl_certificate_key`);
//! - `bundle.pem`: `cert.pem` then `key.pem`, the one file HAProxy's `crt` takes.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use super::TlsError;

/// Longest a development server certificate may be valid (browsers refuse more than 398 days).
pub const MAX_DAYS: u32 = 398;
/// The development authority's validity: long, it only ever signs throw-away certificates.
const CA_DAYS: i64 = 3650;
/// Certificates are valid from an hour ago, so a clock slightly behind still accepts them.
const BACKDATE: Duration = Duration::hours(1);

/// What `croupier dev-cert` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// New files written; `ca_reused` when the authority already in the directory signed them.
    Written { ca_reused: bool },
    /// `cert.pem` and `key.pem` were already there and `force` was not given: nothing changed.
    Kept,
}

/// The paths [`write`] writes in `dir`.
pub struct Files {
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub bundle: PathBuf,
}

impl Files {
    pub fn in_dir(dir: &Path) -> Files {
        Files {
            ca: dir.join("ca.pem"),
            ca_key: dir.join("ca-key.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            bundle: dir.join("bundle.pem"),
        }
    }
}

/// Writes a server certificate for `names` (host names or IP addresses) valid for `days`.
pub fn write(dir: &Path, names: &[String], days: u32, force: bool) -> Result<Outcome, TlsError> {
    if names.is_empty() {
        return Err(TlsError::Generate("at least one --name is needed".into()));
    }
    if days == 0 || days > MAX_DAYS {
        return Err(TlsError::Generate(format!(
            "--days must be between 1 and {MAX_DAYS}, got {days}"
        )));
    }
    let files = Files::in_dir(dir);
    if !force && files.cert.exists() && files.key.exists() {
        return Ok(Outcome::Kept);
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let now = OffsetDateTime::now_utc();
    let (issuer, ca_pem, ca_reused) = match existing_ca(&files)? {
        Some((issuer, pem)) => (issuer, pem, true),
        None => {
            let (issuer, ca_pem, ca_key_pem) = new_ca(now).map_err(generate)?;
            write_file(&files.ca_key, ca_key_pem.as_bytes(), true)?;
            write_file(&files.ca, ca_pem.as_bytes(), false)?;
            (issuer, ca_pem, false)
        }
    };
    let mut params = CertificateParams::new(names.to_vec()).map_err(generate)?;
    params
        .distinguished_name
        .push(DnType::CommonName, names[0].as_str());
    params
        .distinguished_name
        .push(DnType::OrganizationName, "croupier development");
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(i64::from(days));
    let key = KeyPair::generate().map_err(generate)?;
    let cert = params.signed_by(&key, &issuer).map_err(generate)?;
    let chain = format!("{}{}", cert.pem(), ca_pem);
    let key_pem = key.serialize_pem();
    // Key first: until cert.pem is replaced too a reloading node sees a mismatch and keeps
    // serving the old pair (it tries again at its next check).
    write_file(&files.key, key_pem.as_bytes(), true)?;
    write_file(&files.cert, chain.as_bytes(), false)?;
    write_file(&files.bundle, format!("{chain}{key_pem}").as_bytes(), true)?;
    Ok(Outcome::Written { ca_reused })
}

/// The authority already in the directory, if both its files are there and load.
fn existing_ca(files: &Files) -> Result<Option<(Issuer<'static, KeyPair>, String)>, TlsError> {
    if !(files.ca.exists() && files.ca_key.exists()) {
        return Ok(None);
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| TlsError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let (pem, key_pem) = (read(&files.ca)?, read(&files.ca_key)?);
    let unusable = |e: rcgen::Error| {
        TlsError::Generate(format!(
            "{} / {}: {e} (remove both to make a new authority)",
            files.ca.display(),
            files.ca_key.display()
        ))
    };
    let key = KeyPair::from_pem(&key_pem).map_err(unusable)?;
    let issuer = Issuer::from_ca_cert_pem(&pem, key).map_err(unusable)?;
    Ok(Some((issuer, pem)))
}

/// A new authority: the issuer, its certificate and its key, both PEM.
fn new_ca(now: OffsetDateTime) -> Result<(Issuer<'static, KeyPair>, String, String), rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params
        .distinguished_name
        .push(DnType::CommonName, "croupier development CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "croupier development");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(CA_DAYS);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let key_pem = key.serialize_pem();
    Ok((Issuer::new(params, key), cert.pem(), key_pem))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename;
/// `secret` files are created mode 0600.
fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), TlsError> {
    use std::io::Write;
    let failed = |source| TlsError::Write {
        path: path.display().to_string(),
        source,
    };
    let temporary = path.with_extension("pem.tmp");
    // A temporary file left by an interrupted run would keep its old mode.
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&temporary).map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(failed)
}

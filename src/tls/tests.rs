//! The certificate store on files `dev_cert` writes: loading, refusing bad pairs with the file
//! named, and reloading only what changed.

use super::dev_cert::{self, Files, Outcome};
use super::*;

fn names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

fn fresh(dir: &Path) -> Files {
    assert_eq!(
        dev_cert::write(dir, &names(), 30, false).unwrap(),
        Outcome::Written { ca_reused: false }
    );
    Files::in_dir(dir)
}

fn first_cert(path: &Path) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

#[test]
fn a_written_pair_loads_and_serves_the_end_entity_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let files = fresh(dir.path());
    let certs = Certificates::load(&files.cert, &files.key).unwrap();
    assert_eq!(certs.served(), first_cert(&files.cert));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let days = (certs.not_after() - now) / 86_400;
    assert!((29..=30).contains(&days), "valid for 30 days, got {days}");
    certs.server_config().unwrap();
}

#[test]
fn an_existing_pair_is_kept_unless_forced_and_a_forced_one_reuses_the_authority() {
    let dir = tempfile::tempdir().unwrap();
    let files = fresh(dir.path());
    let before = std::fs::read(&files.cert).unwrap();
    let ca = std::fs::read(&files.ca).unwrap();
    assert_eq!(
        dev_cert::write(dir.path(), &names(), 30, false).unwrap(),
        Outcome::Kept
    );
    assert_eq!(std::fs::read(&files.cert).unwrap(), before);
    assert_eq!(
        dev_cert::write(dir.path(), &names(), 30, true).unwrap(),
        Outcome::Written { ca_reused: true }
    );
    assert_ne!(std::fs::read(&files.cert).unwrap(), before);
    assert_eq!(std::fs::read(&files.ca).unwrap(), ca);
}

#[cfg(unix)]
#[test]
fn keys_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let files = fresh(dir.path());
    for path in [&files.key, &files.ca_key, &files.bundle] {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[test]
fn bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(dev_cert::write(dir.path(), &[], 30, false).is_err());
    assert!(dev_cert::write(dir.path(), &names(), 0, false).is_err());
    assert!(dev_cert::write(dir.path(), &names(), dev_cert::MAX_DAYS + 1, false).is_err());
    assert!(!dir.path().join("cert.pem").exists());
}

#[test]
fn bad_files_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let files = fresh(dir.path());
    let other = tempfile::tempdir().unwrap();
    let other = fresh(other.path());
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let missing = dir.path().join("missing.pem");
    let empty = write("empty.pem", b"");
    let garbage = write(
        "garbage.pem",
        b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let huge = write("huge.pem", &vec![b'A'; MAX_PEM_BYTES as usize + 1]);
    let key_only = write("key-only.pem", &std::fs::read(&files.key).unwrap());
    let cases: [(&Path, &Path, &str); 7] = [
        (&missing, &files.key, "cannot read"),
        (&empty, &files.key, "no PEM certificate"),
        (&garbage, &files.key, "not valid PEM"),
        (&huge, &files.key, "larger than"),
        (&key_only, &files.key, "no PEM certificate"),
        (&files.cert, &files.cert, "no PEM private key"),
        (&files.cert, &other.key, "is not the key of the certificate"),
    ];
    for (cert, key, expected) in cases {
        let error = Certificates::load(cert, key).unwrap_err().to_string();
        assert!(error.contains(expected), "{cert:?} {key:?}: {error}");
        let named = if expected.contains("key") && !expected.contains("not the key") {
            key
        } else {
            cert
        };
        assert!(error.contains(&named.display().to_string()), "{error}");
    }
}

#[test]
fn reload_serves_a_renewal_and_keeps_the_old_pair_when_the_new_one_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let files = fresh(dir.path());
    let certs = Certificates::load(&files.cert, &files.key).unwrap();
    let first = certs.served();
    assert!(!certs.reload().unwrap(), "unchanged files are not a reload");
    dev_cert::write(dir.path(), &names(), 30, true).unwrap();
    assert!(certs.reload().unwrap());
    let second = certs.served();
    assert_ne!(second, first);
    assert_eq!(second, first_cert(&files.cert));
    // A renewal half done (the new key, the old certificate): refused, the second pair stays.
    let other = tempfile::tempdir().unwrap();
    let other = fresh(other.path());
    std::fs::copy(&other.key, &files.key).unwrap();
    assert!(certs.reload().is_err());
    assert_eq!(certs.served(), second);
    // Finished: the new certificate arrives too.
    std::fs::copy(&other.cert, &files.cert).unwrap();
    assert!(certs.reload().unwrap());
    assert_eq!(certs.served(), first_cert(&other.cert));
}

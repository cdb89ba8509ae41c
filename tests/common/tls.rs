//! TLS for the tests: throw-away certificates from `croupier::tls::dev_cert` (the code behind
//! `croupier dev-cert`), and HTTP and WebSocket clients that trust them.
//!
//! Every [`TestCa`] made in a test process is trusted by [`http`] and [`ws_connect`] from
//! then on, so a harness that puts TLS in front of nodes (nginx, HAProxy, a TLS node) hands
//! out an `https://` base and the usual helpers (`open_session_at`, `Client::connect_at`)
//! work on it unchanged. Plain `http://` bases work as before.

use std::sync::{Arc, Mutex};

use croupier::tls::dev_cert::{self, Files};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::*;

/// The authorities every client of this test process trusts (see the module doc).
static TRUSTED: Mutex<Vec<CertificateDer<'static>>> = Mutex::new(Vec::new());

/// A development authority and a server certificate for `localhost` and `127.0.0.1`, in a
/// temporary directory that lives as long as this value.
pub struct TestCa {
    pub dir: tempfile::TempDir,
    pub files: Files,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::in_dir(dir.path());
        dev_cert::write(dir.path(), &names(), 30, false).expect("dev certificate");
        let ca = CertificateDer::from_pem_file(&files.ca).expect("ca.pem");
        TRUSTED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(ca);
        TestCa { dir, files }
    }

    /// A new server certificate from the same authority, written over the old one.
    pub fn renew(&self) {
        dev_cert::write(self.dir.path(), &names(), 30, true).expect("renewed certificate");
    }

    /// The end-entity certificate now in `cert.pem`.
    pub fn leaf(&self) -> CertificateDer<'static> {
        first_certificate(&self.files.cert)
    }
}

fn names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

/// The first certificate in a PEM file.
pub fn first_certificate(path: &Path) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .next()
        .expect("a certificate")
        .unwrap()
}

/// A rustls client configuration trusting every [`TestCa`] of this process (and nothing else).
pub fn client_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in TRUSTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        roots.add(ca.clone()).expect("a CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// An HTTP client for `http://` and `https://` bases (trusting every [`TestCa`]).
pub fn http() -> reqwest::Client {
    let mut builder = reqwest::Client::builder().tls_built_in_root_certs(false);
    for ca in TRUSTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(ca).unwrap());
    }
    builder.build().expect("an HTTP client")
}

/// Opens a WebSocket over `ws://` or `wss://` (trusting every [`TestCa`]).
pub async fn ws_connect(
    request: WsRequest,
) -> Result<
    (
        WebSocketStream<MaybeTlsStream<TcpStream>>,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    let connector = tokio_tungstenite::Connector::Rustls(client_config());
    tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector)).await
}

/// The certificate a TLS WebSocket was served (its end-entity certificate).
pub fn peer_certificate(
    ws: &WebSocketStream<MaybeTlsStream<TcpStream>>,
) -> Option<CertificateDer<'static>> {
    match ws.get_ref() {
        MaybeTlsStream::Rustls(stream) => stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|c| c.clone().into_owned()),
        _ => None,
    }
}

//! A TLS terminator in front of the emulator, so a function's first call pays what it pays in
//! AWS: a TLS handshake (with the root certificates loaded and checked) before its request.
//! The certificate is self-signed for 127.0.0.1 (`tools/perf.sh` makes it with openssl); the
//! function trusts it through `SSL_CERT_FILE`, a bundle of the system's roots plus it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("{path}: {message}")]
    Pem { path: String, message: String },
    #[error("TLS settings: {0}")]
    Tls(#[from] rustls::Error),
    #[error("listening: {0}")]
    Listen(std::io::Error),
}

pub struct TlsProxy {
    /// `https://127.0.0.1:<port>`.
    pub endpoint: String,
    task: JoinHandle<()>,
}

impl TlsProxy {
    /// Accepts TLS on a free loopback port and relays each connection, decrypted, to
    /// `upstream` (`host:port` of the plain-HTTP emulator).
    pub async fn start(
        certificate: &Path,
        key: &Path,
        upstream: String,
    ) -> Result<Self, ProxyError> {
        let pem = |path: &Path, message: String| ProxyError::Pem {
            path: path.display().to_string(),
            message,
        };
        let chain = CertificateDer::pem_file_iter(certificate)
            .map_err(|e| pem(certificate, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem(certificate, e.to_string()))?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, e.to_string()))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(ProxyError::Listen)?;
        let port = listener.local_addr().map_err(ProxyError::Listen)?.port();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    // A failed handshake or a closed upstream ends this connection only.
                    let Ok(mut client) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        Ok(Self {
            endpoint: format!("https://127.0.0.1:{port}"),
            task,
        })
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

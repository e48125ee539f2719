//! TLS for `serve --tls-cert`: the rustls server configuration (the
//! server's certificate and key, the client CA of mutual authentication,
//! the protocol profile) built once at start, and the handshake of one
//! connection with its failure told in a sentence ([`handshake_failure`]).
//! The accept loop ([`crate::listen`]) runs the handshake; the dev
//! certificates to rehearse with are written by [`crate::certs`].
//!
//! Profiles:
//! - `default`: TLS 1.2 and 1.3, rustls's (ring) cipher suites;
//! - `spine`: TLS 1.2 only, with the Spine's cipher list (DOMAIN-STU3 §4:
//!   `AESGCM+EECDH`, `AESGCM+EDH`, `AES256+EECDH`, `AES256+EDH`) cut to
//!   what rustls implements — the ECDHE AES-GCM suites ([`SPINE_SUITES`]).
//!   rustls has no DHE and no CBC suites, so `AESGCM+EDH`, `AES256+EDH`
//!   and the CBC members of `AES256+EECDH` are not offered.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring::cipher_suite;
use rustls::crypto::CryptoProvider;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The Spine profile's suites, in the Spine's order of preference
/// (`AESGCM+EECDH`, then `AES256+EECDH`'s GCM members, already in it).
pub const SPINE_SUITES: [SupportedCipherSuite; 4] = [
    cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
];

/// TLS 1.2 sessions kept for resumption (by session id).
const SESSION_CACHE: usize = 4096;

/// `--tls-profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsProfile {
    /// TLS 1.2 and 1.3.
    #[default]
    Default,
    /// TLS 1.2 with the Spine's cipher suites.
    Spine,
}

/// What `serve`'s TLS flags name.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// `--tls-cert`: the server's certificate chain (PEM, leaf first).
    pub cert: PathBuf,
    /// `--tls-key`: its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `--client-ca`: when given, a client certificate chained to one of
    /// these CA certificates (PEM) is required.
    pub client_ca: Option<PathBuf>,
    pub profile: TlsProfile,
}

/// Why the TLS configuration cannot be built (at start, never per request).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read PEM certificates: {reason}")]
    Certificates { path: PathBuf, reason: String },
    #[error("{path}: holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path}: cannot read a PEM private key: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("--client-ca {path}: {reason}")]
    ClientCa { path: PathBuf, reason: String },
    #[error("the TLS configuration is refused: {0}")]
    Config(String),
}

impl TlsSettings {
    /// The rustls server configuration (HTTP/1.1 only, as the listener).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let certs = read_certs(&self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|error| TlsError::Key {
            path: self.key.clone(),
            reason: error.to_string(),
        })?;
        let provider = Arc::new(self.provider());
        let versions: &[&rustls::SupportedProtocolVersion] = match self.profile {
            TlsProfile::Default => &[&rustls::version::TLS13, &rustls::version::TLS12],
            TlsProfile::Spine => &[&rustls::version::TLS12],
        };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|error| TlsError::Config(error.to_string()))?;
        let builder = match &self.client_ca {
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certs(path).map_err(|error| TlsError::ClientCa {
                    path: path.clone(),
                    reason: error.to_string(),
                })? {
                    roots.add(cert).map_err(|error| TlsError::ClientCa {
                        path: path.clone(),
                        reason: error.to_string(),
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|error| TlsError::ClientCa {
                            path: path.clone(),
                            reason: error.to_string(),
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|error| TlsError::Config(format!("the certificate and key: {error}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
        // TLS 1.3 resumption by stateless tickets.
        if self.profile == TlsProfile::Default {
            config.ticketer = rustls::crypto::ring::Ticketer::new()
                .map_err(|error| TlsError::Config(error.to_string()))?;
        }
        Ok(Arc::new(config))
    }

    /// The ring provider, its suites cut to the profile's.
    fn provider(&self) -> CryptoProvider {
        let mut provider = rustls::crypto::ring::default_provider();
        if self.profile == TlsProfile::Spine {
            provider.cipher_suites = SPINE_SUITES.to_vec();
        }
        provider
    }

    /// For the startup line: `TLS 1.2+1.3, client certificate required`.
    pub fn describe(&self) -> String {
        let protocols = match self.profile {
            TlsProfile::Default => "TLS 1.2/1.3",
            TlsProfile::Spine => "TLS 1.2, Spine cipher suites",
        };
        let clients = match &self.client_ca {
            Some(path) => format!("client certificate from {} required", path.display()),
            None => "no client certificate asked".to_string(),
        };
        format!("{protocols}; {clients}")
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::Certificates {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// A failed handshake's reason in words a consumer's developer can act on.
pub fn handshake_failure(error: &std::io::Error) -> String {
    use rustls::{CertificateError, Error};
    let tls = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>());
    match tls {
        Some(Error::NoCertificatesPresented) => {
            "the client sent no certificate (one is required)".to_string()
        }
        Some(Error::InvalidCertificate(CertificateError::Expired)) => {
            "the client certificate has expired".to_string()
        }
        Some(Error::InvalidCertificate(CertificateError::ExpiredContext { .. })) => {
            format!("the client certificate has expired ({error})")
        }
        Some(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            "the client certificate is not issued by the --client-ca".to_string()
        }
        Some(Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
            "the client does not speak TLS (plain HTTP to a TLS port?)".to_string()
        }
        Some(Error::PeerIncompatible(_)) => {
            format!("the client offers no protocol version or cipher suite this profile allows ({error})")
        }
        Some(other) => other.to_string(),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spine_suites_are_tls12_ecdhe_aes_gcm() {
        for suite in SPINE_SUITES {
            let name = format!("{:?}", suite.suite());
            assert!(name.contains("ECDHE") && name.contains("GCM"), "{name}");
            assert_eq!(suite.version(), &rustls::version::TLS12);
        }
    }

    #[test]
    fn missing_files_are_named() {
        let settings = TlsSettings {
            cert: PathBuf::from("/nonexistent/cert.pem"),
            key: PathBuf::from("/nonexistent/key.pem"),
            client_ca: None,
            profile: TlsProfile::Default,
        };
        let Err(error) = settings.server_config() else {
            panic!("a missing certificate file is refused");
        };
        assert!(
            error.to_string().contains("/nonexistent/cert.pem"),
            "{error}"
        );
    }
}

//! `gpconnect-mock certs DIR`: development certificates to rehearse TLS
//! mutual authentication with ([`crate::tls`]) — a CA, a server
//! certificate for `localhost`/`127.0.0.1` (and `--san` names), a valid
//! client certificate, and for the failures an expired one and one from
//! a foreign CA. ECDSA P-256 keys (rcgen with ring generates no RSA).
//! Nothing is overwritten unless asked: every file is checked before any
//! is written.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// The files `certs` writes, by role.
pub mod names {
    pub const CA: &str = "ca.pem";
    pub const CA_KEY: &str = "ca.key.pem";
    pub const SERVER: &str = "server.pem";
    pub const SERVER_KEY: &str = "server.key.pem";
    pub const CLIENT: &str = "client.pem";
    pub const CLIENT_KEY: &str = "client.key.pem";
    pub const EXPIRED: &str = "client-expired.pem";
    pub const EXPIRED_KEY: &str = "client-expired.key.pem";
    pub const FOREIGN_CA: &str = "foreign-ca.pem";
    pub const FOREIGN: &str = "client-foreign.pem";
    pub const FOREIGN_KEY: &str = "client-foreign.key.pem";
}

/// Every file, in the order written, with what it is.
pub const FILES: [(&str, &str); 11] = [
    (
        names::CA,
        "development CA certificate (give it to --client-ca and to clients as the trusted root)",
    ),
    (names::CA_KEY, "development CA private key"),
    (names::SERVER, "server certificate (--tls-cert)"),
    (names::SERVER_KEY, "server private key (--tls-key)"),
    (names::CLIENT, "valid client certificate, issued by the CA"),
    (names::CLIENT_KEY, "its private key"),
    (
        names::EXPIRED,
        "expired client certificate, issued by the CA (refused)",
    ),
    (names::EXPIRED_KEY, "its private key"),
    (
        names::FOREIGN_CA,
        "a foreign CA's certificate (not trusted)",
    ),
    (
        names::FOREIGN,
        "client certificate issued by the foreign CA (refused)",
    ),
    (names::FOREIGN_KEY, "its private key"),
];

#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("{} exist(s); nothing was written (give --force to replace them)", list(.0))]
    Exists(Vec<PathBuf>),
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("`{0}` is not a DNS name or IP address")]
    BadSan(String),
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the files of [`FILES`] into `dir` (created if needed); `sans`
/// are added to the server certificate's names. Returns the paths written.
pub fn write(dir: &Path, sans: &[String], force: bool) -> Result<Vec<PathBuf>, CertsError> {
    for san in sans {
        let ok = !san.is_empty()
            && (san.parse::<std::net::IpAddr>().is_ok()
                || san
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'*')));
        if !ok {
            return Err(CertsError::BadSan(san.clone()));
        }
    }
    let paths: Vec<PathBuf> = FILES.iter().map(|(name, _)| dir.join(name)).collect();
    let existing: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).cloned().collect();
    if !existing.is_empty() && !force {
        return Err(CertsError::Exists(existing));
    }
    let set = generate(sans)?;
    std::fs::create_dir_all(dir).map_err(|error| CertsError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let contents = [
        set.ca,
        set.ca_key,
        set.server,
        set.server_key,
        set.client,
        set.client_key,
        set.expired,
        set.expired_key,
        set.foreign_ca,
        set.foreign,
        set.foreign_key,
    ];
    for ((path, text), (name, _)) in paths.iter().zip(contents).zip(FILES) {
        write_file(path, &text, name.ends_with(".key.pem"))?;
    }
    Ok(paths)
}

/// The PEM texts of one set.
struct CertSet {
    ca: String,
    ca_key: String,
    server: String,
    server_key: String,
    client: String,
    client_key: String,
    expired: String,
    expired_key: String,
    foreign_ca: String,
    foreign: String,
    foreign_key: String,
}

fn generate(sans: &[String]) -> Result<CertSet, rcgen::Error> {
    let now = OffsetDateTime::now_utc();
    let valid = (now - Duration::days(1), now + Duration::days(825));
    let (ca, ca_key) = authority("gpconnect-mock development CA", valid)?;
    let (foreign_ca, foreign_ca_key) = authority("gpconnect-mock foreign CA (untrusted)", valid)?;

    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    names.extend(
        sans.iter()
            .filter(|s| !names.contains(s))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let server_key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    (params.not_before, params.not_after) = valid;
    let server = params.signed_by(&server_key, &ca, &ca_key)?;

    let client = |issuer: &rcgen::Certificate, issuer_key: &KeyPair, span| {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["ssp.localhost".to_string()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "ssp.localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        (params.not_before, params.not_after) = span;
        let cert = params.signed_by(&key, issuer, issuer_key)?;
        Ok::<_, rcgen::Error>((cert.pem(), key.serialize_pem()))
    };
    let (client_pem, client_key) = client(&ca, &ca_key, valid)?;
    let (expired, expired_key) = client(
        &ca,
        &ca_key,
        (now - Duration::days(60), now - Duration::days(1)),
    )?;
    let (foreign, foreign_key) = client(&foreign_ca, &foreign_ca_key, valid)?;
    Ok(CertSet {
        ca: ca.pem(),
        ca_key: ca_key.serialize_pem(),
        server: server.pem(),
        server_key: server_key.serialize_pem(),
        client: client_pem,
        client_key,
        expired,
        expired_key,
        foreign_ca: foreign_ca.pem(),
        foreign,
        foreign_key,
    })
}

fn authority(
    name: &str,
    (not_before, not_after): (OffsetDateTime, OffsetDateTime),
) -> Result<(rcgen::Certificate, KeyPair), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = not_before;
    params.not_after = not_after;
    let cert = params.self_signed(&key)?;
    Ok((cert, key))
}

fn write_file(path: &Path, text: &str, private: bool) -> Result<(), CertsError> {
    let io = |error| CertsError::Io {
        path: path.to_path_buf(),
        error,
    };
    std::fs::write(path, text).map_err(io)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(dir.path(), &["mock.internal".to_string()], false).unwrap();
        assert_eq!(written.len(), FILES.len());
        for path in &written {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(text.starts_with("-----BEGIN"), "{}", path.display());
        }
        let before = std::fs::read_to_string(dir.path().join(names::CLIENT)).unwrap();
        let error = write(dir.path(), &[], false).unwrap_err();
        assert!(matches!(error, CertsError::Exists(ref paths) if paths.len() == FILES.len()));
        assert_eq!(
            std::fs::read_to_string(dir.path().join(names::CLIENT)).unwrap(),
            before
        );
        write(dir.path(), &[], true).unwrap();
        assert_ne!(
            std::fs::read_to_string(dir.path().join(names::CLIENT)).unwrap(),
            before
        );
    }

    #[test]
    fn the_server_config_loads_what_certs_writes() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &[], false).unwrap();
        for profile in [
            crate::tls::TlsProfile::Default,
            crate::tls::TlsProfile::Spine,
        ] {
            let settings = crate::tls::TlsSettings {
                cert: dir.path().join(names::SERVER),
                key: dir.path().join(names::SERVER_KEY),
                client_ca: Some(dir.path().join(names::CA)),
                profile,
            };
            settings.server_config().unwrap();
        }
    }

    #[test]
    fn a_bad_san_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            write(dir.path(), &["a b".to_string()], false),
            Err(CertsError::BadSan(_))
        ));
        assert!(!dir.path().join(names::CA).exists());
    }
}

//! The real path (issue 21): TLS mutual authentication with the
//! certificates `certs` writes, the Spine profile's versions and cipher
//! suites, the directory's lookups and the proxy's checks and forwarding.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{client, project_dir, run_cli, Server};
use crate::gpc1;

const METADATA: &str = "urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1";
const ENDPOINT: &str = "https://provider.example/B82617/STU3/1/gpconnect/fhir";
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const INTERACTION_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhsServiceInteractionId";
const SSP_SYSTEM: &str = "http://fhir.nhs.net/ValueSet/gpconnect-schedule-response-code-1-0";

/// `certs` into a fresh directory.
fn certs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let (code, out, err) = run_cli(&["certs", path, "--san", "mock.internal"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("client-expired.pem"), "{out}");
    // Nothing is overwritten without --force.
    let (code, _, err) = run_cli(&["certs", path]);
    assert_ne!(code, 0);
    assert!(err.contains("nothing was written"), "{err}");
    dir
}

fn tls_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let mut args = vec![
        "--no-watch".to_string(),
        "--tls-cert".into(),
        file("server.pem"),
        "--tls-key".into(),
        file("server.key.pem"),
        "--client-ca".into(),
        file("ca.pem"),
    ];
    args.extend(extra.iter().map(|arg| arg.to_string()));
    args
}

fn start(args: &[String]) -> Server {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&args)
}

/// A reqwest client trusting the dev CA, presenting `identity`
/// (`client`, `client-expired`, `client-foreign`) if given.
fn tls_client(dir: &Path, identity: Option<&str>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10));
    if let Some(name) = identity {
        let mut pem = std::fs::read(dir.join(format!("{name}.pem"))).unwrap();
        pem.extend(std::fs::read(dir.join(format!("{name}.key.pem"))).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn mutual_tls_takes_only_a_valid_client_certificate_from_the_ca() {
    let dir = certs();
    let server = start(&tls_args(dir.path(), &[]));
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let url = server.base.replace("127.0.0.1", "localhost") + "/__admin/health";

    let ok = tls_client(dir.path(), Some("client"))
        .get(&url)
        .send()
        .await;
    assert_eq!(
        ok.expect("the valid client certificate is taken").status(),
        200
    );

    for (identity, reason) in [
        (None, "the client sent no certificate"),
        (Some("client-expired"), "the client certificate has expired"),
        (Some("client-foreign"), "not issued by the --client-ca"),
    ] {
        let refused = tls_client(dir.path(), identity).get(&url).send().await;
        assert!(refused.is_err(), "{identity:?} was let in: {refused:?}");
        assert!(server.logged(reason), "{identity:?}: {}", server.logs());
    }
    assert!(server.logged("TLS handshake failed"), "{}", server.logs());
    assert!(
        server.logs().contains("peer=127.0.0.1:"),
        "{}",
        server.logs()
    );
    // Plain HTTP on a TLS port is no request.
    let plain = client()
        .get(url.replace("https://", "http://"))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

/// A rustls client of its own: `versions`, `suites` (none: all).
fn rustls_client(
    dir: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
    suites: Option<Vec<rustls::SupportedCipherSuite>>,
) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject as _;
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(suites) = suites {
        provider.cipher_suites = suites;
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(dir.join("client.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(dir.join("client.key.pem")).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A health request over `connector`: the status line, or the error.
async fn health(connector: &tokio_rustls::TlsConnector, address: &str) -> Result<String, String> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, stream)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tls.write_all(b"GET /__admin/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or("").to_string())
}

#[tokio::test]
async fn the_spine_profile_takes_tls_1_2_with_the_spine_suites_only() {
    use rustls::crypto::ring::cipher_suite;
    let dir = certs();
    let server = start(&tls_args(dir.path(), &["--tls-profile", "spine"]));
    let address = server.address().to_string();
    let tls12 = rustls_client(dir.path(), &[&rustls::version::TLS12], None);
    assert_eq!(health(&tls12, &address).await.unwrap(), "HTTP/1.1 200 OK");

    let tls13 = rustls_client(dir.path(), &[&rustls::version::TLS13], None);
    let refused = health(&tls13, &address).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.starts_with("handshake")),
        "{refused:?}"
    );

    let chacha = rustls_client(
        dir.path(),
        &[&rustls::version::TLS12],
        Some(vec![
            cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]),
    );
    let refused = health(&chacha, &address).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.starts_with("handshake")),
        "{refused:?}"
    );
    assert!(
        server.logged("no protocol version or cipher suite"),
        "{}",
        server.logs()
    );

    // The default profile takes TLS 1.3.
    let server = start(&tls_args(dir.path(), &[]));
    assert_eq!(
        health(&tls13, server.address()).await.unwrap(),
        "HTTP/1.1 200 OK"
    );
}

#[tokio::test]
async fn plain_http_and_tls_listen_side_by_side() {
    let dir = certs();
    let server = start(&tls_args(dir.path(), &["--tls-port", "0"]));
    assert!(server.base.starts_with("http://"), "{}", server.base);
    let plain = client()
        .get(server.url("/__admin/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    let tls = server.tls_base().replace("127.0.0.1", "localhost");
    let secure = tls_client(dir.path(), Some("client"))
        .get(format!("{tls}/__admin/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(secure.status(), 200);
}

/// A directory search: (status, body).
async fn sds(http: &reqwest::Client, base: &str, query: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = http.get(format!("{base}/spine-directory/FHIR/R4/{query}"));
    if let Some(key) = key {
        request = request.header("apikey", key);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

/// A proxied 1.x `operation` to `target` (`/{endpoint}{path}`), with
/// `edit` applied to the valid headers.
async fn proxied(
    http: &reqwest::Client,
    base: &str,
    target: &str,
    operation: &str,
    edit: &[(&str, &str)],
) -> (u16, Value) {
    let mut headers: Vec<(String, String)> = gpc1::headers(operation)
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    for (name, value) in edit {
        headers.retain(|(known, _)| !known.eq_ignore_ascii_case(name));
        headers.push((name.to_string(), value.to_string()));
    }
    let mut request = http.get(format!("{base}/{target}"));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

/// The proxy's OperationOutcome shape; its display.
fn ssp_display(body: &Value, status: u16) -> String {
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert!(body["id"].is_string(), "{body}");
    assert!(body.get("meta").is_none(), "not profiled: {body}");
    let coding = &body["issue"][0]["details"]["coding"][0];
    assert_eq!(coding["system"], SSP_SYSTEM, "{body}");
    assert_eq!(coding["code"], status.to_string(), "{body}");
    assert_eq!(coding["display"], body["issue"][0]["diagnostics"], "{body}");
    coding["display"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn lookup_then_proxied_call_over_mutual_tls() {
    let dir = certs();
    let server = start(&tls_args(dir.path(), &[]));
    let base = server.base.replace("127.0.0.1", "localhost");
    let http = tls_client(dir.path(), Some("client"));
    let org = format!("organization={ODS_SYSTEM}|B82617");
    let interaction = format!("identifier={INTERACTION_SYSTEM}|{METADATA}");
    let (status, devices) = sds(
        &http,
        &base,
        &format!("Device?{org}&{interaction}"),
        Some("k"),
    )
    .await;
    assert_eq!(status, 200, "{devices}");
    assert_eq!(devices["total"], 1, "{devices}");
    let device = &devices["entry"][0]["resource"];
    assert_eq!(device["identifier"][0]["value"], gpc1::PROVIDER_ASID);
    let (_, endpoints) = sds(
        &http,
        &base,
        &format!("Endpoint?{org}&{interaction}"),
        Some("k"),
    )
    .await;
    let address = endpoints["entry"][0]["resource"]["address"]
        .as_str()
        .unwrap();
    assert_eq!(address, ENDPOINT);
    let (status, body) = proxied(
        &http,
        &base,
        &format!("{address}/metadata"),
        "Metadata_Read",
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resourceType"], "CapabilityStatement");
}

#[tokio::test]
async fn the_directory_lists_the_mounted_apis_and_wants_an_apikey() {
    let server = Server::start(&["--no-watch", "--sds-apikey", "letmein"]);
    let http = client();
    let org = format!("organization={ODS_SYSTEM}|B82617");
    let interaction = format!("identifier={INTERACTION_SYSTEM}|{METADATA}");
    let search = format!("Endpoint?{org}&{interaction}");
    let (status, body) = sds(&http, &server.base, &search, None).await;
    assert_eq!(
        (status, &body["resourceType"]),
        (401, &Value::from("OperationOutcome"))
    );
    let (status, _) = sds(&http, &server.base, &search, Some("wrong")).await;
    assert_eq!(status, 403);
    let (status, body) = sds(&http, &server.base, &search, Some("letmein")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "searchset");
    assert_eq!(body["entry"][0]["search"]["mode"], "match");
    // The Access Document API's own endpoint, by its own interaction.
    let documents = "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:metadata-1";
    let (_, body) = sds(
        &http,
        &server.base,
        &format!("Endpoint?{org}&identifier={INTERACTION_SYSTEM}|{documents}"),
        Some("letmein"),
    )
    .await;
    assert_eq!(
        body["entry"][0]["resource"]["address"],
        "https://provider.example/B82617/STU3/1/gpconnect/documents/fhir",
        "{body}"
    );
    // By organisation and party key: every interaction of the system.
    let key = "identifier=https://fhir.nhs.uk/Id/nhsMhsPartyKey|B82617-9198738";
    let (_, body) = sds(
        &http,
        &server.base,
        &format!("Endpoint?{org}&{key}"),
        Some("letmein"),
    )
    .await;
    assert!(body["total"].as_u64().unwrap() > 10, "{body}");
    for bad in [
        format!("Device?{org}"),
        "Endpoint?identifier=nonsense".to_string(),
        format!("Device?{org}&{interaction}&colour=red"),
    ] {
        let (status, body) = sds(&http, &server.base, &bad, Some("letmein")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(
            body["issue"][0]["details"]["coding"][0]["code"],
            "BAD_REQUEST"
        );
    }
    let (status, body) = sds(
        &http,
        &server.base,
        &format!("Device?organization={ODS_SYSTEM}|ZZZ99&{interaction}"),
        Some("letmein"),
    )
    .await;
    assert_eq!((status, body["total"].as_u64()), (200, Some(0)));
}

#[tokio::test]
async fn the_proxy_refuses_as_the_spine_secure_proxy_does() {
    let server = Server::start(&["--no-watch"]);
    let http = client();
    let base = server.base.as_str();
    let metadata = format!("{ENDPOINT}/metadata");
    // Served, also when a hop collapsed the scheme's slashes.
    let (status, body) = proxied(&http, base, &metadata, "Metadata_Read", &[]).await;
    assert_eq!(
        (status, &body["resourceType"]),
        (200, &Value::from("CapabilityStatement"))
    );
    let collapsed = metadata.replace("https://", "https:/");
    let (status, _) = proxied(&http, base, &collapsed, "Metadata_Read", &[]).await;
    assert_eq!(status, 200);
    // The provider's own checks still apply behind the proxy.
    let (status, body) = proxied(
        &http,
        base,
        &metadata,
        "Metadata_Read",
        &[("Authorization", "Bearer x")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["meta"]["profile"][0]
        .as_str()
        .unwrap()
        .contains("GPConnect-OperationOutcome"));

    let with_port = metadata.replace("provider.example", "provider.example:443");
    /// (target, header edits, status, display prefix)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, u16, String);
    let cases: Vec<Case> = vec![
        (
            with_port.clone(),
            vec![],
            400,
            format!("ENDPOINT_{ENDPOINT}_CPAID_"),
        ),
        (
            metadata.clone(),
            vec![("Ssp-From", "123456789012")],
            403,
            "ASID_CHECK_FAILED_MESSAGESENDER_123456789012".into(),
        ),
        (
            metadata.clone(),
            vec![("Ssp-To", "999999999999")],
            403,
            "PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_999999999999".into(),
        ),
        (
            metadata.clone(),
            vec![("Content-Type", "text/plain")],
            415,
            "Unsupported_Media_Type".into(),
        ),
        (
            "https://unreachable.example/A20047/STU3/1/gpconnect/fhir/metadata".into(),
            vec![("Ssp-To", "918999199999")],
            502,
            "ERROR_COMMUNICATING_TO_ENDPOINT_URL_https://unreachable.example/A20047/STU3/1/gpconnect/fhir".into(),
        ),
    ];
    for (target, edit, status, needle) in cases {
        let (got, body) = proxied(&http, base, &target, "Metadata_Read", &edit).await;
        assert_eq!(got, status, "{target} {edit:?}: {body}");
        let display = ssp_display(&body, status);
        assert!(display.starts_with(&needle), "{display}");
    }
    let (_, body) = proxied(&http, base, &with_port, "Metadata_Read", &[]).await;
    assert!(ssp_display(&body, 400).ends_with(&format!("_VARIES_FROM_TARGETURL_{with_port}")));
}

#[tokio::test]
async fn a_consumer_calls_only_the_interactions_the_mount_file_allows() {
    let dir = tempfile::tempdir().unwrap();
    let downloads = project_dir().join("downloads");
    let root = project_dir();
    let mount = format!(
        "apis:\n  - name: foundations\n    spec: {}\n    scenarios: {}\n    templates: {}\n    base_path: /B82617/STU3/1/gpconnect/fhir\n    era: stu3\n    asid: '918999198738'\n    ods_code: B82617\n    endpoint: https://gp.example/B82617/STU3/1/gpconnect/fhir\nconsumers:\n  - asid: '200000000359'\n    interactions:\n      - {METADATA}\n",
        downloads.join("stu3/foundations.yaml").display(),
        root.join("scenarios/foundations").display(),
        root.join("templates/foundations").display(),
    );
    let file = dir.path().join("apis.yaml");
    std::fs::write(&file, mount).unwrap();
    let server = Server::start(&["--no-watch", "--mount", file.to_str().unwrap()]);
    let http = client();
    let endpoint = "https://gp.example/B82617/STU3/1/gpconnect/fhir";
    let (status, body) = proxied(
        &http,
        &server.base,
        &format!("{endpoint}/metadata"),
        "Metadata_Read",
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = proxied(
        &http,
        &server.base,
        &format!("{endpoint}/Practitioner/1"),
        "Practitioner_Read",
        &[],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        ssp_display(&body, 403),
        format!(
            "PARTYKEY_INTERACTION_CHECK_FAILED_MESSAGERECEIVER_{}",
            gpc1::PROVIDER_ASID
        )
    );
    // The default endpoint is not this API's any more.
    let (status, body) = proxied(
        &http,
        &server.base,
        &format!("{ENDPOINT}/metadata"),
        "Metadata_Read",
        &[],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(ssp_display(&body, 400).starts_with(&format!("ENDPOINT_{endpoint}_CPAID_")));
}

#[tokio::test]
async fn a_stalled_handshake_is_closed_and_tls_drains_on_shutdown() {
    let dir = certs();
    let mut server = start(&tls_args(dir.path(), &["--header-read-timeout", "1"]));
    // A client that connects and says nothing is closed after the timeout.
    let mut idle = std::net::TcpStream::connect(server.address()).unwrap();
    let (_, closed) = crate::common::read_until_closed(&mut idle, Duration::from_secs(5));
    assert!(closed, "the silent connection was left open");
    assert!(
        server.logged("TLS handshake failed: not completed within 1 s"),
        "{}",
        server.logs()
    );
    // A kept-alive mutual-TLS connection does not hold up a graceful stop.
    let http = tls_client(dir.path(), Some("client"));
    let url = server.base.replace("127.0.0.1", "localhost") + "/__admin/health";
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
}

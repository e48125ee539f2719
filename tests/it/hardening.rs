//! The HTTP edge (issue #15): connection timeouts and limits, graceful
//! shutdown, the admin API's guard, CORS, HEAD, gzip, HTTP strictness and
//! flag validation, each against the real binary.

use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::common::{raw_exchange, read_until_closed, run_cli, Server};
use crate::gpc;

/// The head of a raw response, lower-cased, and its body.
fn split(response: &[u8]) -> (String, Vec<u8>) {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |p| p + 4);
    (
        String::from_utf8_lossy(&response[..end]).to_ascii_lowercase(),
        response[end..].to_vec(),
    )
}

fn status_of(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn quiet() -> Vec<&'static str> {
    vec!["--no-watch", "--journal-size", "10"]
}

#[test]
fn slow_request_head_is_cut_off_after_the_header_read_timeout() {
    let mut args = quiet();
    args.extend(["--header-read-timeout", "1"]);
    let server = Server::start(&args);
    let started = Instant::now();
    let (read, closed) = raw_exchange(
        server.address(),
        b"GET /fhir/metadata HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1",
        Duration::from_secs(5),
    );
    let elapsed = started.elapsed();
    assert!(closed, "the connection is closed");
    let (head, body) = split(&read);
    assert_eq!(status_of(&head), 408, "{head}");
    assert!(body.is_empty(), "no body: {body:?}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(2500),
        "closed after {elapsed:?}"
    );
    assert!(server.logged("the request head did not arrive within 1 s (answered 408)"));
    assert!(server.logged("peer=127.0.0.1:"));
}

#[test]
fn a_connection_that_sends_nothing_is_closed_without_an_answer() {
    let mut args = quiet();
    args.extend(["--header-read-timeout", "1"]);
    let server = Server::start(&args);
    let (read, closed) = raw_exchange(server.address(), b"", Duration::from_secs(5));
    assert!(closed, "the connection is closed");
    assert!(read.is_empty(), "nothing answered: {read:?}");
}

#[test]
fn idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let mut args = quiet();
    args.extend(["--idle-timeout", "1", "--header-read-timeout", "5"]);
    let server = Server::start(&args);
    let mut stream = std::net::TcpStream::connect(server.address()).unwrap();
    stream
        .write_all(b"GET /__admin/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let (read, closed) = read_until_closed(&mut stream, Duration::from_secs(4));
    let elapsed = started.elapsed();
    let (head, _) = split(&read);
    assert_eq!(status_of(&head), 200, "{head}");
    assert!(closed, "the idle connection is closed");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(2500),
        "closed after {elapsed:?}"
    );
}

#[test]
fn oversized_head_gets_431_with_an_operation_outcome() {
    let mut args = quiet();
    args.extend(["--max-header-bytes", "8192"]);
    let server = Server::start(&args);
    let request = format!(
        "GET /fhir/metadata HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    let (read, closed) = raw_exchange(server.address(), request.as_bytes(), Duration::from_secs(5));
    let (head, body) = split(&read);
    assert_eq!(status_of(&head), 431, "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        head.contains("content-type: application/json+fhir"),
        "{head}"
    );
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("OperationOutcome") && body.contains("at most 8192"),
        "{body}"
    );
    assert!(closed);
    // Far above the limit hyper's parser refuses it without reading it all.
    let request = format!(
        "GET /fhir/metadata HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40_000)
    );
    let (read, _) = raw_exchange(server.address(), request.as_bytes(), Duration::from_secs(5));
    assert_eq!(status_of(&split(&read).0), 431);
    // Too many fields.
    let mut request = "GET /fhir/metadata HTTP/1.1\r\nHost: localhost\r\n".to_string();
    for i in 0..150 {
        request.push_str(&format!("X-H{i}: v\r\n"));
    }
    request.push_str("\r\n");
    let (read, _) = raw_exchange(server.address(), request.as_bytes(), Duration::from_secs(5));
    assert_eq!(status_of(&split(&read).0), 431);
}

#[test]
fn body_over_the_cap_is_refused_from_content_length_before_reading() {
    let server = Server::start(&quiet());
    let (read, closed) = raw_exchange(
        server.address(),
        b"POST /fhir/Patient/$gpc.getcarerecord HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n",
        Duration::from_secs(5),
    );
    let text = String::from_utf8_lossy(&read).to_ascii_lowercase();
    assert!(!text.contains("100 continue"), "{text}");
    let (head, body) = split(&read);
    assert_eq!(status_of(&head), 413, "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("OperationOutcome"));
    assert!(closed, "the connection is closed after the 413");
}

#[test]
fn malformed_chunked_body_is_400_not_413() {
    let server = Server::start(&quiet());
    let (read, _) = raw_exchange(
        server.address(),
        b"POST /fhir/Patient/$gpc.getcarerecord HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        Duration::from_secs(5),
    );
    let (head, body) = split(&read);
    assert_eq!(status_of(&head), 400, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("OperationOutcome"));
}

#[test]
fn http11_without_host_or_with_two_is_400() {
    let server = Server::start(&quiet());
    let (read, _) = raw_exchange(
        server.address(),
        b"GET /fhir/metadata HTTP/1.1\r\n\r\n",
        Duration::from_secs(5),
    );
    let (head, body) = split(&read);
    assert_eq!(status_of(&head), 400, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("must have a Host header"));
    let (read, _) = raw_exchange(
        server.address(),
        b"GET /__admin/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        Duration::from_secs(5),
    );
    let (head, body) = split(&read);
    assert_eq!(status_of(&head), 400, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("2 Host headers"));
}

#[tokio::test]
async fn duplicate_ssp_from_is_400_naming_it() {
    let server = Server::start(&quiet());
    let mut request = crate::common::client().get(server.url("/fhir/metadata"));
    for (name, value) in gpc::headers("Metadata_Metadata", "9000000009") {
        request = request.header(name, value);
    }
    let response = request
        .header("Ssp-From", "123456789012")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["code"],
        "BAD_REQUEST"
    );
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(diagnostics.contains("Ssp-From"), "{diagnostics}");
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let server = Server::start(&quiet());
    let client = crate::common::client();
    let send = |method: reqwest::Method| {
        let mut request = client.request(method, server.url("/fhir/metadata"));
        for (name, value) in gpc::headers("Metadata_Metadata", "9000000009") {
            request = request.header(name, value);
        }
        request.send()
    };
    let get = send(reqwest::Method::GET).await.unwrap();
    assert_eq!(get.status(), 200);
    let get_type = get.headers()["content-type"].clone();
    let get_body = get.bytes().await.unwrap();
    let head = send(reqwest::Method::HEAD).await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], get_type);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        get_body.len().to_string()
    );
    assert_eq!(head.headers()["x-mock-operation"], "Metadata_Metadata");
    assert!(head.bytes().await.unwrap().is_empty());
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits() {
    let mut args = quiet();
    args.extend(["--shutdown-timeout", "5"]);
    let mut server = Server::start(&args);
    // An idle keep-alive connection must not hold the process.
    let mut idle = std::net::TcpStream::connect(server.address()).unwrap();
    idle.write_all(b"GET /__admin/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // A slow upload: the head and half the body now, the rest later.
    let mut slow = std::net::TcpStream::connect(server.address()).unwrap();
    slow.write_all(
        b"POST /fhir/Patient/$gpc.getcarerecord HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json+fhir\r\nContent-Length: 4\r\n\r\n{}",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(700));
    slow.write_all(b"  ").unwrap();
    let (read, _) = read_until_closed(&mut slow, Duration::from_secs(5));
    let (head, body) = split(&read);
    // The contract refuses it (no SSP headers), but it is answered.
    assert_eq!(status_of(&head), 400, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("OperationOutcome"));
    let status = server
        .wait_exit(Duration::from_secs(4))
        .expect("the process exits");
    assert!(status.success(), "{status:?}");
    assert!(signalled.elapsed() < Duration::from_secs(4));
    assert!(server.logged("SIGTERM received"));
}

#[test]
fn sigterm_gives_up_on_requests_after_the_shutdown_timeout() {
    let mut args = quiet();
    args.extend(["--shutdown-timeout", "1", "--body-read-timeout", "30"]);
    let mut server = Server::start(&args);
    let mut slow = std::net::TcpStream::connect(server.address()).unwrap();
    slow.write_all(
        b"POST /fhir/Patient/$gpc.getcarerecord HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\n{",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    server.signal("TERM");
    server
        .wait_exit(Duration::from_secs(4))
        .expect("the process exits");
    let elapsed = signalled.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert!(server.logged("still in flight after 1 s"));
}

#[tokio::test]
async fn admin_refuses_cross_site_state_changes() {
    let server = Server::start(&quiet());
    let client = crate::common::client();
    let response = client
        .post(server.url("/__admin/reset"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("evil.example"));
    let response = client
        .delete(server.url("/__admin/requests"))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Its own origin, and no Origin at all (curl), may.
    let own = server.base.clone();
    let response = client
        .post(server.url("/__admin/reset"))
        .header("Origin", own)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client
        .post(server.url("/__admin/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Reading is not a state change.
    let response = client
        .get(server.url("/__admin/health"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn admin_refuses_foreign_host_names_unless_allowed() {
    let mut args = quiet();
    args.extend(["--allowed-host", "gpc-mock"]);
    let server = Server::start(&args);
    let client = crate::common::client();
    let response = client
        .get(server.url("/__admin/requests"))
        .header("Host", "attacker.example:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("DNS rebinding"));
    for host in ["gpc-mock:8080", "localhost:1", "127.0.0.1", "[::1]:8080"] {
        let response = client
            .get(server.url("/__admin/health"))
            .header("Host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
    // The spec's own paths are not guarded.
    let response = client
        .get(server.url("/fhir/metadata"))
        .header("Host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), 403);
}

#[tokio::test]
async fn admin_token_is_required_when_given() {
    let mut args = quiet();
    args.extend(["--admin-token", "t0ken-for-tests"]);
    let server = Server::start(&args);
    let client = crate::common::client();
    for path in ["/__admin/health", "/__admin/postman/environment"] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(response.headers().contains_key("www-authenticate"));
    }
    let response = client
        .post(server.url("/__admin/reset"))
        .header("Authorization", "Bearer wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    for path in ["/__admin/health", "/__admin/postman/environment"] {
        let response = client
            .get(server.url(path))
            .bearer_auth("t0ken-for-tests")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[test]
fn non_loopback_listener_without_token_warns() {
    let server = Server::start(&["--no-watch", "--host", "0.0.0.0"]);
    assert!(server.logged("has no token"));
    let logs = server.logs();
    assert!(!logs.contains('\u{1b}'), "no colour codes in piped logs");
}

#[tokio::test]
async fn cors_answers_preflight_and_exposes_the_mock_headers() {
    let mut args = quiet();
    args.extend(["--cors", "http://app.test:3000"]);
    let server = Server::start(&args);
    let client = crate::common::client();
    let response = client
        .request(reqwest::Method::OPTIONS, server.url("/fhir/Patient/1"))
        .header("Origin", "http://app.test:3000")
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "ssp-traceid, authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://app.test:3000"
    );
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("GET"));
    assert!(headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("ssp-traceid"));
    let response = client
        .get(server.url("/fhir/metadata"))
        .header("Origin", "http://app.test:3000")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://app.test:3000"
    );
    let exposed = headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "etag",
        "location",
        "x-mock-scenario",
        "x-mock-operation",
        "x-contract-violation",
    ] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // Another origin gets no grant; without --cors there is none at all.
    let response = client
        .get(server.url("/fhir/metadata"))
        .header("Origin", "http://other.test")
        .send()
        .await
        .unwrap();
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
    let plain = Server::start(&quiet());
    let response = client
        .get(plain.url("/fhir/metadata"))
        .header("Origin", "http://app.test:3000")
        .send()
        .await
        .unwrap();
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn gzip_answers_and_gzip_request_bodies() {
    use std::io::Read as _;
    let server = Server::start(&quiet());
    let client = crate::common::client();
    let headers = gpc::headers("Metadata_Metadata", "9000000009");
    let mut request = client
        .get(server.url("/fhir/metadata"))
        .header("Accept-Encoding", "gzip");
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(metadata["resourceType"], "Conformance");
    // A compressed request body is read decompressed.
    let parameters = gpc::care_record_parameters("9658218873", "SUM");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(parameters.to_string().as_bytes())
        .unwrap();
    let body = encoder.finish().unwrap();
    let mut request = client
        .post(server.url("/fhir/Patient/$gpc.getcarerecord"))
        .header("Content-Type", gpc::FHIR_JSON)
        .header("Content-Encoding", "gzip")
        .body(body);
    for (name, value) in gpc::headers("PatientOperation_GetCareRecord", "9658218873") {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"Bundle\""), "{text}");
    // A gzip bomb is capped after decompression: 413.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; 5 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 64 * 1024);
    let response = client
        .post(server.url("/fhir/Patient/$gpc.getcarerecord"))
        .header("Content-Type", gpc::FHIR_JSON)
        .header("Content-Encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn answers_in_the_best_accepted_coding_and_coded_bodies_refused_clearly() {
    use std::io::Read as _;
    let server = Server::start(&quiet());
    let client = crate::common::client();
    let metadata = |accept: &'static str| {
        let mut request = client.get(server.url("/fhir/metadata"));
        if !accept.is_empty() {
            request = request.header("Accept-Encoding", accept);
        }
        for (name, value) in gpc::headers("Metadata_Metadata", "9000000009") {
            request = request.header(name, value);
        }
        request.send()
    };
    let plain = metadata("").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["vary"], "accept-encoding");
    let plain = plain.text().await.unwrap();
    // br first at equal q; a coding at q=0 is never used.
    let response = metadata("gzip, deflate, br").await.unwrap();
    assert_eq!(response.headers()["content-encoding"], "br");
    let bytes = response.bytes().await.unwrap();
    let mut text = String::new();
    brotli::Decompressor::new(&bytes[..], 4096)
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, plain);
    let response = metadata("br;q=0, deflate").await.unwrap();
    assert_eq!(response.headers()["content-encoding"], "deflate");
    let bytes = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::ZlibDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, plain);
    // A body in a coding the mock does not read is 415; a corrupt one 400.
    for (coding, status, says) in [
        (
            "compress",
            415,
            "Content-Encoding \"compress\" is not supported",
        ),
        ("gzip", 400, "the gzip request body cannot be decoded"),
    ] {
        let mut request = client
            .post(server.url("/fhir/Patient/$gpc.getcarerecord"))
            .header("Content-Type", gpc::FHIR_JSON)
            .header("Content-Encoding", coding)
            .body("not encoded");
        for (name, value) in gpc::headers("PatientOperation_GetCareRecord", "9658218873") {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{coding}");
        let outcome: serde_json::Value = response.json().await.unwrap();
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap_or("");
        assert!(diagnostics.contains(says), "{diagnostics}");
    }
}

#[test]
fn flag_values_are_validated_with_clear_errors() {
    let (code, _, stderr) = run_cli(&["serve", "--journal-size", "18446744073709551615"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--journal-size"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for (flag, value) in [
        ("--header-read-timeout", "0"),
        ("--idle-timeout", "soon"),
        ("--max-header-bytes", "10"),
        ("--cors", "app.test"),
        ("--allowed-host", "http://x/"),
        ("--admin-token", "short"),
    ] {
        let (code, _, stderr) = run_cli(&["serve", flag, value]);
        assert_eq!(code, 2, "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
}

#[test]
fn slow_request_body_gets_408_after_the_body_read_timeout() {
    let mut args = quiet();
    args.extend(["--body-read-timeout", "1"]);
    let server = Server::start(&args);
    let started = Instant::now();
    let (read, closed) = raw_exchange(
        server.address(),
        b"POST /fhir/Patient/$gpc.getcarerecord HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"resourceType\"",
        Duration::from_secs(5),
    );
    let elapsed = started.elapsed();
    let (head, body) = split(&read);
    assert_eq!(status_of(&head), 408, "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("did not arrive within 1 s"));
    assert!(closed);
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
    assert!(server.logged("the request body did not arrive within 1 s"));
}

#[test]
fn at_the_descriptor_limit_the_listener_logs_and_backs_off() {
    let server = Server::start_with_file_limit(64, &quiet());
    // Hold connections open until accept fails for want of descriptors.
    let mut held = Vec::new();
    for _ in 0..80 {
        match std::net::TcpStream::connect(server.address()) {
            Ok(stream) => held.push(stream),
            Err(_) => break,
        }
    }
    assert!(
        server.logged("the open-file limit is reached"),
        "{}",
        server.logs()
    );
    // Freeing descriptors lets the waiting clients in.
    held.clear();
    let (read, _) = raw_exchange(
        server.address(),
        b"GET /__admin/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(status_of(&split(&read).0), 200);
    assert!(server.logged("accepting connections again"));
}

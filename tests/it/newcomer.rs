//! A newcomer's first hour (#16): paths that cannot be meant are refused,
//! the embedded pack serves from any directory, and a new file's specific
//! scenario is not hidden by another file's catch-all.

use reqwest::Method;

use crate::common::{client, project_dir, run_cli, Server};
use crate::gpc::request;

/// `--scenarios`, `--templates` and `--spec` naming nothing: exit 2, naming
/// the flag and the path, for every command that loads a pack.
#[test]
fn paths_that_do_not_exist_are_refused_naming_them() {
    for command in ["serve", "check", "postman"] {
        for (flag, path) in [
            ("--scenarios", "scenarioz"),
            ("--templates", "no/such/templates"),
            ("--spec", "downloads/swagger/swager.json"),
        ] {
            let (code, _, stderr) = run_cli(
                &[command, flag, path, "--port", "0"][..if command == "serve" { 5 } else { 3 }],
            );
            assert_eq!(code, 2, "{command} {flag} {path}: {stderr}");
            assert!(
                stderr.contains(&format!("{flag} {path}")),
                "{command}: {stderr}"
            );
        }
    }
    let (code, _, stderr) = run_cli(&["routes", "--spec", "nope.yaml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--spec nope.yaml: no such file"),
        "{stderr}"
    );
}

/// Outside a checkout, `serve` with no flags answers from the pack built
/// into the binary, and says so.
#[tokio::test]
async fn the_embedded_pack_serves_from_any_directory() {
    let elsewhere = tempfile::tempdir().expect("temp");
    let server = Server::start_in(elsewhere.path(), &[]);
    assert!(
        server.banner().contains("built into the binary"),
        "{}",
        server.banner()
    );
    assert!(
        server.banner().contains("gpconnect-mock init DIR"),
        "{}",
        server.banner()
    );
    let http = client();
    let response = request(
        &http,
        Method::GET,
        &server.url("/fhir/Patient/2"),
        "Patient_Read",
    )
    .send()
    .await
    .expect("send");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-mock-scenario"));
}

/// In a checkout, the checkout's files are served, and the line says so.
#[test]
fn a_checkout_serves_its_own_files() {
    let server = Server::start_in(&project_dir(), &[]);
    assert!(
        server.banner().contains("the checkout in"),
        "{}",
        server.banner()
    );
}

//! The command line: raw flags only; `main` turns them into sources and settings.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::contract::ProfileChoice;
use crate::fhir::Era;

#[derive(Debug, Parser)]
#[command(
    name = "gpconnect-mock",
    version,
    about = "Mock and contract server for the NHS GP Connect FHIR APIs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the definition: a route for every operation, answered by scenarios.
    Serve(Box<ServeArgs>),
    /// Print one line per operation, grouped by API: method, full path, operation key, response codes.
    Routes(RoutesArgs),
    /// Prove the scenario pack against the definition: every scenario reachable, every answer valid.
    Check(CheckArgs),
    /// List the contract's rules that apply to the definition: name, answer, operations, source.
    Rules(RulesArgs),
    /// Write a Postman collection (one request per scenario, with tests) and its environment.
    Postman(PostmanArgs),
    /// Write the default definition and pack built into the binary to DIR, for editing.
    Init(InitArgs),
    /// Write development TLS certificates to DIR: a CA, a server certificate, and client certificates (valid, expired, foreign CA).
    Certs(CertsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CertsArgs {
    /// Where to write ca.pem, server.pem, client.pem, client-expired.pem,
    /// client-foreign.pem and their keys (created if needed)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// A further DNS name or IP address of the server certificate (besides
    /// localhost and 127.0.0.1); repeatable
    #[arg(long = "san", value_name = "NAME")]
    pub sans: Vec<String>,
    /// Replace files that exist (else nothing is written when one does)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsProfileArg {
    /// TLS 1.2 and 1.3
    Default,
    /// TLS 1.2 only, with the Spine's cipher suites (ECDHE with AES-GCM)
    Spine,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Where to write `downloads/apis.yaml`, `downloads/swagger/swagger.json`,
    /// `scenarios/` and `templates/` (created if needed; existing files are
    /// never overwritten)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct RulesArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Force the FHIR era instead of detecting it from the definition's media types
    #[arg(long, value_enum, value_name = "ERA")]
    pub fhir: Option<FhirEra>,
    /// Rules beyond the spec's own: auto = gpconnect when the definition's media types are FHIR
    #[arg(long, value_enum, value_name = "PROFILE", default_value = "auto")]
    pub profile: ProfileArg,
    /// Print the whole catalogue as the README's Markdown table instead
    #[arg(long)]
    pub markdown: bool,
}

/// Where the definition and the scenario pack come from.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Swagger 2.0 or OpenAPI 3.0 definition, JSON or YAML [default: the project's downloads/swagger/swagger.json]
    #[arg(long, value_name = "PATH")]
    pub spec: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RoutesArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub mount: MountArgs,
}

/// Which APIs are mounted.
#[derive(Debug, Clone, Args)]
pub struct MountArgs {
    /// Mount file listing the APIs to serve (YAML; see downloads/apis.yaml) [default: downloads/apis.yaml, in a checkout or built in]
    #[arg(long, value_name = "FILE", conflicts_with = "spec")]
    pub mount: Option<PathBuf>,
    /// Serve only the API of this name (repeatable) [default: every API of the mount file]
    #[arg(long = "api", value_name = "NAME")]
    pub apis: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PackArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub mount: MountArgs,
    /// Directory of scenario files (*.yaml) [default: scenarios/ with the default definition]
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Directory of Handlebars templates [default: templates/ with the default definition]
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Force the FHIR era instead of detecting it from the definition's media types
    #[arg(long, value_enum, value_name = "ERA")]
    pub fhir: Option<FhirEra>,
    /// Rules beyond the spec's own: auto = gpconnect when the definition's media types are FHIR
    #[arg(long, value_enum, value_name = "PROFILE", default_value = "auto")]
    pub profile: ProfileArg,
    /// What to do with a request that breaks the contract
    #[arg(long, value_enum, value_name = "MODE", default_value = "strict")]
    pub contract: ContractArg,
    /// The provider ASID that Ssp-To must name [default: 918999198993]
    #[arg(long, value_name = "ASID")]
    pub asid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FhirEra {
    Dstu2,
    Stu3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    /// gpconnect for FHIR definitions, else none
    Auto,
    /// GP Connect: SSP headers, JWT, interaction ids, identifier searches; OperationOutcome errors
    Gpconnect,
    /// The spec's rules only; application/problem+json errors
    None,
}

impl From<FhirEra> for Era {
    fn from(era: FhirEra) -> Era {
        match era {
            FhirEra::Dstu2 => Era::Dstu2,
            FhirEra::Stu3 => Era::Stu3,
        }
    }
}

impl From<ProfileArg> for ProfileChoice {
    fn from(profile: ProfileArg) -> ProfileChoice {
        match profile {
            ProfileArg::Auto => ProfileChoice::Auto,
            ProfileArg::Gpconnect => ProfileChoice::GpConnect,
            ProfileArg::None => ProfileChoice::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ContractArg {
    /// Reject a violating request with the first violation
    Strict,
    /// Serve it anyway, adding X-Contract-Violation headers and logging
    Warn,
    /// Do not check requests
    Off,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Do not watch the spec, scenarios and templates for changes
    #[arg(long)]
    pub no_watch: bool,
    /// How many requests /__admin/requests keeps (0 turns the journal off; at most 100000)
    #[arg(long, default_value_t = 1000, value_name = "N",
          value_parser = clap::value_parser!(u32).range(..=MAX_JOURNAL_SIZE))]
    pub journal_size: u32,
    /// Check every answer against the definition; mismatches are logged and
    /// added as X-Contract-Violation headers
    #[arg(long)]
    pub validate_responses: bool,
    /// Threads answering requests [default: half the CPU cores, at least 1,
    /// leaving the rest to the client under test]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
    /// Seconds a client has to send a request's line and headers, from
    /// connecting or from the request's first byte; then the connection is closed
    /// (after a 408 when part of the head came)
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = seconds)]
    pub header_read_timeout: Duration,
    /// Seconds an idle keep-alive connection is kept open for a next request
    #[arg(long, value_name = "SECS", default_value = "75", value_parser = seconds)]
    pub idle_timeout: Duration,
    /// Seconds a client has to send a request body (408 after)
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds)]
    pub body_read_timeout: Duration,
    /// Largest request line and headers, in bytes (431 above)
    #[arg(long, value_name = "BYTES", default_value_t = 65536,
          value_parser = clap::value_parser!(u32).range(4096..=16 * 1024 * 1024))]
    pub max_header_bytes: u32,
    /// Most header fields in one request (431 above)
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u16).range(8..=10_000))]
    pub max_headers: u16,
    /// Seconds requests in flight have to finish after SIGTERM or Ctrl-C
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub shutdown_timeout: Duration,
    /// Let browser pages from ORIGIN call the mock (CORS); repeatable; `*` for any origin
    #[arg(long = "cors", value_name = "ORIGIN", value_parser = origin)]
    pub cors: Vec<String>,
    /// A host name (besides localhost and IP addresses) the admin API answers to; repeatable
    #[arg(long = "allowed-host", value_name = "NAME", value_parser = host_name)]
    pub allowed_hosts: Vec<String>,
    /// Require `Authorization: Bearer TOKEN` on every /__admin/ request
    #[arg(long, value_name = "TOKEN", value_parser = token, env = "GPCONNECT_MOCK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Serve TLS with this certificate chain (PEM); without --tls-port, on
    /// --port instead of plain HTTP
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require a client certificate chained to this CA (PEM): mutual TLS
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Serve TLS on this port, beside plain HTTP on --port (0 picks a free one)
    #[arg(long, value_name = "N", requires = "tls_cert")]
    pub tls_port: Option<u16>,
    /// TLS versions and cipher suites
    #[arg(
        long,
        value_enum,
        value_name = "PROFILE",
        default_value = "default",
        requires = "tls_cert"
    )]
    pub tls_profile: TlsProfileArg,
    /// The `apikey` the Spine Directory Service API requires [default: any non-empty value]
    #[arg(
        long,
        value_name = "KEY",
        env = "GPCONNECT_MOCK_SDS_APIKEY",
        hide_env_values = true
    )]
    pub sds_apikey: Option<String>,
}

/// `--journal-size` at most: each slot is allocated up front.
pub const MAX_JOURNAL_SIZE: i64 = 100_000;

/// A positive number of seconds, fractions allowed, at most a day.
fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(value > 0.0 && value <= 86_400.0) {
        return Err(format!(
            "`{text}`: give a number of seconds above 0 and at most 86400"
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

/// `*`, or `scheme://host[:port]`.
fn origin(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    if text == "*" {
        return Ok(text.to_string());
    }
    let valid = (text.starts_with("http://") || text.starts_with("https://"))
        && !text
            .split_once("://")
            .is_some_and(|(_, rest)| rest.is_empty() || rest.contains('/'))
        && http::HeaderValue::from_str(text).is_ok();
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not an origin: give `*` or scheme://host[:port], e.g. http://localhost:3000"
        ))
    }
}

/// A host name without port, lower case.
fn host_name(text: &str) -> Result<String, String> {
    let text = text.trim();
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if valid {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{text}` is not a host name: give a name without scheme or port, e.g. mock or gpc.internal"
        ))
    }
}

/// A token that fits in a header value.
fn token(text: &str) -> Result<String, String> {
    if text.len() < 8 {
        return Err("the admin token must be at least 8 characters".to_string());
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the admin token must be printable ASCII without spaces".to_string());
    }
    Ok(text.to_string())
}

impl ServeArgs {
    /// The worker threads to run: `--workers`, else half the cores. The
    /// mock shares the machine with the client it serves (and that
    /// client's test runner). On a two-core EPYC shared with the load
    /// generator, one worker answered every `benches/load.sh` case at 50
    /// connections as fast as two or faster, with a p99 near the bare
    /// server's instead of 2–2.7× it (the DSTU2 read: 90.0 % → 103.4 % of
    /// the bare server; 1.x Patient/2: 75.5 % → 79.7 %). An earlier, slower
    /// two-core machine measured the opposite (1.x Patient/2: 18.6 k →
    /// 25.1 k requests/s with two), and one per core was the default then.
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            Some(workers) => usize::from(workers),
            None => {
                std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Report format
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct PostmanArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Directory to write gpconnect-mock.postman_collection.json and gpconnect-mock.postman_environment.json into (created if needed; `postman/` is git-ignored in a checkout)
    #[arg(long, value_name = "DIR", default_value = "postman")]
    pub out: PathBuf,
    /// The mock's address, the environment's baseUrl
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
}

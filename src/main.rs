//! The binary: parse flags, load, then serve or print. The only `anyhow` user.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use gpconnect_mock::app::App;
use gpconnect_mock::cli::{
    CheckArgs, Cli, Command, ContractArg, FhirEra, PackArgs, PostmanArgs, ProfileArg, ReportFormat,
    ServeArgs, SpecArgs,
};
use gpconnect_mock::contract::{ContractMode, ContractSettings, ProfileChoice};
use gpconnect_mock::fhir::Era;
use gpconnect_mock::server;
use gpconnect_mock::snapshot::{Settings, Snapshot, Sources};
use gpconnect_mock::spec;

/// Exit code for a definition or pack that does not load.
const EXIT_LOAD_FAILED: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` narrates at info; the one-shot commands only warn, so their
    // own output stays readable.
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Routes(args) => routes(args),
        Command::Check(args) => check(args),
        Command::Postman(args) => postman(args),
    }
}

/// The sources the flags name; a path that does not exist is refused
/// (exit 2, naming it): a typo in a CI path must not pass as "0 scenarios".
fn sources(pack: &PackArgs) -> Result<Sources, ExitCode> {
    Sources::resolve(
        pack.spec.spec.clone(),
        pack.scenarios.clone(),
        pack.templates.clone(),
    )
    .map_err(|error| {
        eprintln!("error: {error}");
        ExitCode::from(EXIT_LOAD_FAILED)
    })
}

fn settings(pack: &PackArgs) -> Settings {
    Settings {
        era_override: pack.fhir.map(|era| match era {
            FhirEra::Dstu2 => Era::Dstu2,
            FhirEra::Stu3 => Era::Stu3,
        }),
        contract: ContractSettings {
            profile: match pack.profile {
                ProfileArg::Auto => ProfileChoice::Auto,
                ProfileArg::Gpconnect => ProfileChoice::GpConnect,
                ProfileArg::None => ProfileChoice::None,
            },
            mode: match pack.contract {
                ContractArg::Strict => ContractMode::Strict,
                ContractArg::Warn => ContractMode::Warn,
                ContractArg::Off => ContractMode::Off,
            },
            asid: pack.asid.clone(),
        },
        journal_size: 0,
        validate_responses: false,
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let sources = match sources(&args.pack) {
        Ok(sources) => sources,
        Err(code) => return code,
    };
    let settings = Settings {
        journal_size: args.journal_size,
        validate_responses: args.validate_responses,
        ..settings(&args.pack)
    };
    let snapshot = match load(&sources, &settings) {
        Ok(snapshot) => snapshot,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.worker_threads())
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve_async(args, snapshot, sources, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_async(
    args: ServeArgs,
    snapshot: Snapshot,
    sources: Sources,
    settings: Settings,
) -> anyhow::Result<()> {
    let address = format!("{}:{}", args.host, args.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let (operations, scenarios, templates) = snapshot.counts();
    let summary = format!(
        "{operations} operations, {scenarios} scenarios, {templates} templates from {}",
        sources.describe()
    );
    let app = App::new(snapshot, sources, settings);
    if !args.no_watch {
        gpconnect_mock::reload::spawn_watcher(app.clone())
            .context("cannot watch the spec and pack for changes")?;
    }
    let workers = args.worker_threads();
    let threads = if workers == 1 { "thread" } else { "threads" };
    println!("gpconnect-mock listening on http://{local} ({summary}; {workers} worker {threads})");
    server::run(listener, app, shutdown_signal())
        .await
        .context("server failed")
}

async fn shutdown_signal() {
    // Without a signal handler the process would still end on Ctrl-C; this
    // lets in-flight requests finish first.
    let _ = tokio::signal::ctrl_c().await;
}

fn routes(args: SpecArgs) -> ExitCode {
    let sources = match Sources::resolve(args.spec, None, None) {
        Ok(sources) => sources,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_LOAD_FAILED);
        }
    };
    let spec = sources.apis.first().and_then(|api| api.spec.as_ref());
    let loaded = match spec {
        Some(path) => spec::load_file(path),
        None => spec::load_str(
            gpconnect_mock::snapshot::EMBEDDED_SPEC,
            gpconnect_mock::snapshot::EMBEDDED_SPEC_LABEL,
        ),
    };
    let model = match loaded {
        Ok(model) => model,
        Err(errors) => {
            eprintln!("error: cannot load the definition: {errors}");
            return ExitCode::from(EXIT_LOAD_FAILED);
        }
    };
    let width = model
        .operations
        .iter()
        .map(|op| op.full_path.len())
        .max()
        .unwrap_or(0);
    let key_width = model
        .operations
        .iter()
        .map(|op| op.key.len())
        .max()
        .unwrap_or(0);
    for op in &model.operations {
        let codes: Vec<String> = op.responses.iter().map(|r| r.status.label()).collect();
        println!(
            "{:<7} {:<width$}  {:<key_width$}  {}",
            op.method.as_str(),
            op.full_path,
            op.key,
            codes.join(" ")
        );
    }
    ExitCode::SUCCESS
}

fn check(args: CheckArgs) -> ExitCode {
    let started = std::time::Instant::now();
    let sources = match sources(&args.pack) {
        Ok(sources) => sources,
        Err(code) => return code,
    };
    let settings = settings(&args.pack);
    let snapshot = match load(&sources, &settings) {
        Ok(snapshot) => snapshot,
        Err(code) => return code,
    };
    let report = gpconnect_mock::check::run(&snapshot);
    match args.format {
        ReportFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("error: cannot write the report: {error}");
                return ExitCode::FAILURE;
            }
        },
        ReportFormat::Human => {
            for finding in &report.findings {
                println!("{finding}");
            }
            println!(
                "check: {} operations, {} scenarios: {} errors, {} warnings ({:.0} ms)",
                report.operations,
                report.scenarios,
                report.errors,
                report.warnings,
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
    }
    if report.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn postman(args: PostmanArgs) -> ExitCode {
    let sources = match sources(&args.pack) {
        Ok(sources) => sources,
        Err(code) => return code,
    };
    let settings = settings(&args.pack);
    let snapshot = match load(&sources, &settings) {
        Ok(snapshot) => snapshot,
        Err(code) => return code,
    };
    let export = gpconnect_mock::postman::export(&snapshot, &args.base_url);
    for skipped in &export.skipped {
        println!("skipped: {skipped}");
    }
    match gpconnect_mock::postman::write(&export, &args.out) {
        Ok([collection, environment]) => {
            println!("wrote {}", collection.display());
            println!("wrote {}", environment.display());
            println!(
                "postman: {} requests in {} folders, {} scenarios skipped, baseUrl {}",
                export.requests,
                export.collection.item.len(),
                export.skipped.len(),
                args.base_url
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Loads a snapshot, or prints every load error and gives exit code 2.
fn load(sources: &Sources, settings: &Settings) -> Result<Snapshot, ExitCode> {
    Snapshot::load(sources, settings, 1).map_err(|errors| {
        eprintln!("error: cannot load: {errors}");
        ExitCode::from(EXIT_LOAD_FAILED)
    })
}

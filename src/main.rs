//! The binary: parse flags, load, then serve or print. The only `anyhow` user.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use gpconnect_mock::admin::AdminGuard;
use gpconnect_mock::app::App;
use gpconnect_mock::cli::{
    CertsArgs, CheckArgs, Cli, Command, ContractArg, InitArgs, PackArgs, PostmanArgs, ReportFormat,
    RoutesArgs, RulesArgs, ServeArgs, SpecArgs, TlsProfileArg,
};
use gpconnect_mock::contract::{ContractMode, ContractSettings};
use gpconnect_mock::fhir::Era;
use gpconnect_mock::listen::Limits;
use gpconnect_mock::mount::SourceFlags;
use gpconnect_mock::pack::PackDir;
use gpconnect_mock::server;
use gpconnect_mock::snapshot::{Settings, Snapshot, Sources};
use gpconnect_mock::spec;
use gpconnect_mock::tls::{TlsProfile, TlsSettings};

/// Exit code for a definition or pack that does not load.
const EXIT_LOAD_FAILED: u8 = 2;

/// `println!` for the commands' output, which is often piped: a reader
/// that goes away (`gpconnect-mock routes | head`) ends the command quietly
/// instead of panicking on the broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, $($arg)*).and_then(|()| stdout.flush()).is_err() {
            std::process::exit(0);
        }
    }};
}

/// [`out!`] without the newline.
macro_rules! out_inline {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        if write!(stdout, $($arg)*).and_then(|()| stdout.flush()).is_err() {
            std::process::exit(0);
        }
    }};
}

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
        .with_ansi(colour_logs())
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Routes(args) => routes(args),
        Command::Rules(args) => rules(args),
        Command::Check(args) => check(args),
        Command::Postman(args) => postman(args),
        Command::Init(args) => init(args),
        Command::Certs(args) => certs(args),
    }
}

/// Colour only for a terminal, and never with `NO_COLOR` set (no-color.org).
fn colour_logs() -> bool {
    use std::io::IsTerminal as _;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

/// The sources the flags name; a path that does not exist is refused
/// (exit 2, naming it): a typo in a CI path must not pass as "0 scenarios".
fn sources(pack: &PackArgs) -> Result<Sources, ExitCode> {
    Sources::resolve(&SourceFlags {
        spec: pack.spec.spec.clone(),
        mount: pack.mount.mount.clone(),
        scenarios: pack.scenarios.clone(),
        templates: pack.templates.clone(),
        apis: pack.mount.apis.clone(),
    })
    .map_err(|error| {
        eprintln!("error: {error}");
        ExitCode::from(EXIT_LOAD_FAILED)
    })
}

fn settings(pack: &PackArgs) -> Settings {
    Settings {
        era_override: pack.fhir.map(Era::from),
        contract: ContractSettings {
            profile: pack.profile.into(),
            mode: match pack.contract {
                ContractArg::Strict => ContractMode::Strict,
                ContractArg::Warn => ContractMode::Warn,
                ContractArg::Off => ContractMode::Off,
            },
            asid: pack.asid.clone(),
        },
        journal_size: 0,
        validate_responses: false,
        sds_apikey: None,
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let sources = match sources(&args.pack) {
        Ok(sources) => sources,
        Err(code) => return code,
    };
    let settings = Settings {
        journal_size: usize::try_from(args.journal_size).unwrap_or(usize::MAX),
        validate_responses: args.validate_responses,
        sds_apikey: args.sds_apikey.clone().filter(|key| !key.is_empty()),
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
    let result = runtime.block_on(serve_async(args, snapshot, sources, settings));
    // Connections still open after the drain, and the file watcher, are
    // not waited for.
    runtime.shutdown_background();
    match result {
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
    // With TLS flags: TLS on --tls-port beside plain HTTP on --port, or
    // without --tls-port, TLS on --port alone.
    let tls = tls_settings(&args);
    let tls_config = match &tls {
        Some(settings) => Some(settings.server_config().context("cannot set up TLS")?),
        None => None,
    };
    let bind = |port: u16| {
        let address = format!("{}:{port}", args.host);
        async move {
            let listener = tokio::net::TcpListener::bind(&address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            let local = listener
                .local_addr()
                .context("cannot read the bound address")?;
            anyhow::Ok((listener, local))
        }
    };
    let (listener, local) = bind(args.port).await?;
    let second = match args.tls_port {
        Some(port) if tls_config.is_some() => Some(bind(port).await?),
        _ => None,
    };
    let first_tls = if second.is_some() {
        None
    } else {
        tls_config.clone()
    };
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
    let edge = edge(&args);
    if !local.ip().is_loopback() && edge.admin.token.is_none() {
        tracing::warn!(
            "listening on {local}, which other machines can reach, and the admin API (/__admin/: reset, reload, the request journal with its NHS numbers) has no token: give --admin-token (or GPCONNECT_MOCK_ADMIN_TOKEN) unless this network is yours alone"
        );
    }
    let scheme = if first_tls.is_some() { "https" } else { "http" };
    out!("gpconnect-mock listening on {scheme}://{local} ({summary}; {workers} worker {threads})");
    if let (Some(settings), Some((_, tls_local))) = (&tls, &second) {
        out!(
            "gpconnect-mock listening on https://{tls_local} ({})",
            settings.describe()
        );
    } else if let Some(settings) = &tls {
        out!("TLS: {}", settings.describe());
    }
    let signal = shutdown_signal().context("cannot listen for shutdown signals")?;
    // One signal stops every listener.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = stop.send(true);
    });
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let plain = server::run(
        listener,
        app.clone(),
        edge.clone(),
        first_tls,
        until_stopped(),
    );
    match second {
        Some((tls_listener, _)) => {
            let secure = server::run(tls_listener, app, edge, tls_config, until_stopped());
            let (plain, secure) = tokio::join!(plain, secure);
            plain.and(secure).context("server failed")?;
        }
        None => plain.await.context("server failed")?,
    }
    tracing::info!("stopped");
    Ok(())
}

/// The TLS flags, when `--tls-cert` is given.
fn tls_settings(args: &ServeArgs) -> Option<TlsSettings> {
    let (cert, key) = (args.tls_cert.clone()?, args.tls_key.clone()?);
    Some(TlsSettings {
        cert,
        key,
        client_ca: args.client_ca.clone(),
        profile: match args.tls_profile {
            TlsProfileArg::Default => TlsProfile::Default,
            TlsProfileArg::Spine => TlsProfile::Spine,
        },
    })
}

/// Writes the development certificates (see `gpconnect_mock::certs`).
fn certs(args: CertsArgs) -> ExitCode {
    match gpconnect_mock::certs::write(&args.dir, &args.sans, args.force) {
        Ok(paths) => {
            for (path, (_, what)) in paths.iter().zip(gpconnect_mock::certs::FILES) {
                out!("wrote {}  ({what})", path.display());
            }
            let dir = args.dir.display();
            out!(
                "next: gpconnect-mock serve --tls-cert {dir}/server.pem --tls-key {dir}/server.key.pem --client-ca {dir}/ca.pem"
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn edge(args: &ServeArgs) -> server::Edge {
    server::Edge {
        limits: Limits {
            header_read_timeout: args.header_read_timeout,
            idle_timeout: args.idle_timeout,
            body_read_timeout: args.body_read_timeout,
            max_header_bytes: usize::try_from(args.max_header_bytes).unwrap_or(usize::MAX),
            max_headers: usize::from(args.max_headers),
            shutdown_timeout: args.shutdown_timeout,
        },
        cors: args.cors.clone(),
        admin: AdminGuard {
            allowed_hosts: args.allowed_hosts.clone(),
            token: args.admin_token.clone(),
            trusted_origins: args.cors.clone(),
        },
    }
}

/// Completes on the first SIGINT (Ctrl-C) or SIGTERM: the server then
/// stops accepting and lets requests in flight finish. A second signal
/// during the drain ends the process at once.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!("{name} received: finishing requests in flight (again to stop at once)");
            tokio::spawn(async move {
                tokio::select! {
                    _ = terminate.recv() => {},
                    _ = interrupt.recv() => {},
                }
                tracing::warn!("second signal: stopping now");
                std::process::exit(130);
            });
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Writes the embedded definition and pack to `DIR`, so that `serve` run
/// there (a checkout-shaped directory) serves and hot-reloads the copies.
fn init(args: InitArgs) -> ExitCode {
    let dir = &args.dir;
    let spec = dir.join("downloads/swagger/swagger.json");
    let mount = dir.join(gpconnect_mock::mount::DEFAULT_MOUNT);
    if let Some(existing) = [&spec, &mount].into_iter().find(|path| path.exists()) {
        eprintln!(
            "error: {} exists; nothing was written (init never overwrites)",
            existing.display()
        );
        return ExitCode::from(EXIT_LOAD_FAILED);
    }
    let written = (|| -> anyhow::Result<(usize, usize)> {
        let embedded =
            |path: &str| PackDir::embedded(path).with_context(|| format!("{path} is not built in"));
        let scenarios = embedded("scenarios")?
            .write_to(&dir.join("scenarios"))
            .context("cannot write scenarios/")?;
        let templates = embedded("templates")?
            .write_to(&dir.join("templates"))
            .context("cannot write templates/")?;
        embedded("downloads")?
            .write_to(&dir.join("downloads"))
            .context("cannot write downloads/")?;
        Ok((scenarios, templates))
    })();
    match written {
        Ok((scenarios, templates)) => {
            out!(
                "wrote {} (the APIs to mount) and the definitions beside it ({} …), {scenarios} files under {}, {templates} under {}",
                mount.display(),
                spec.display(),
                dir.join("scenarios").display(),
                dir.join("templates").display()
            );
            out!(
                "next: cd {} && gpconnect-mock serve   (edits are served as you save)",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_LOAD_FAILED)
        }
    }
}

fn rules(args: RulesArgs) -> ExitCode {
    use gpconnect_mock::contract::{catalogue, Profile};
    if args.markdown {
        out_inline!("{}", catalogue::markdown());
        return ExitCode::SUCCESS;
    }
    let model = match load_model(args.spec) {
        Ok(model) => model,
        Err(code) => return code,
    };
    let era = args
        .fhir
        .map(Era::from)
        .or_else(|| Era::detect(model.media_types()));
    let profile = Profile::resolve(args.profile.into(), era);
    out_inline!("{}", catalogue::text(&model, profile.era()));
    ExitCode::SUCCESS
}

/// The definition `--spec` names, or the embedded default.
fn load_model(spec: SpecArgs) -> Result<spec::ApiModel, ExitCode> {
    let flags = SourceFlags {
        spec: spec.spec,
        ..SourceFlags::default()
    };
    let sources = match Sources::resolve(&flags) {
        Ok(sources) => sources,
        Err(error) => {
            eprintln!("error: {error}");
            return Err(ExitCode::from(EXIT_LOAD_FAILED));
        }
    };
    let loaded = match sources.apis.first() {
        Some(api) => api.spec.load(),
        None => gpconnect_mock::snapshot::Definition::default().load(),
    };
    loaded.map_err(|errors| {
        eprintln!("error: cannot load the definition: {errors}");
        ExitCode::from(EXIT_LOAD_FAILED)
    })
}

/// One line per operation, grouped by API under a header line naming it
/// and its base path.
fn routes(args: RoutesArgs) -> ExitCode {
    let sources = match Sources::resolve(&SourceFlags {
        spec: args.spec.spec,
        mount: args.mount.mount,
        apis: args.mount.apis,
        ..SourceFlags::default()
    }) {
        Ok(sources) => sources,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_LOAD_FAILED);
        }
    };
    let mut models = Vec::new();
    for source in &sources.apis {
        match source.load_model() {
            Ok(loaded) => models.push((source, loaded)),
            Err(errors) => {
                eprintln!("error: cannot load the definition: {errors}");
                return ExitCode::from(EXIT_LOAD_FAILED);
            }
        }
    }
    let operations = || models.iter().flat_map(|(_, (model, _))| &model.operations);
    let width = operations().map(|op| op.full_path.len()).max().unwrap_or(0);
    let key_width = operations().map(|op| op.key.len()).max().unwrap_or(0);
    for (index, (source, (model, base_path))) in models.iter().enumerate() {
        if index > 0 {
            out!();
        }
        let base = if base_path.is_empty() { "/" } else { base_path };
        let ods = source
            .ods_code
            .as_ref()
            .map(|ods| format!(", ODS {ods}"))
            .unwrap_or_default();
        out!(
            "# {} at {base} ({}, {} operations{ods})",
            source.name,
            model.source,
            model.operations.len()
        );
        for op in &model.operations {
            let codes: Vec<String> = op.responses.iter().map(|r| r.status.label()).collect();
            out!(
                "{:<7} {:<width$}  {:<key_width$}  {}",
                op.method.as_str(),
                op.full_path,
                op.key,
                codes.join(" ")
            );
        }
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
            Ok(text) => out!("{text}"),
            Err(error) => {
                eprintln!("error: cannot write the report: {error}");
                return ExitCode::FAILURE;
            }
        },
        ReportFormat::Human => {
            for finding in &report.findings {
                out!("{finding}");
            }
            if report.apis.len() > 1 {
                for api in &report.apis {
                    out!("{api}");
                }
            }
            out!(
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
        out!("skipped: {skipped}");
    }
    match gpconnect_mock::postman::write(&export, &args.out) {
        Ok([collection, environment]) => {
            out!("wrote {}", collection.display());
            out!("wrote {}", environment.display());
            out!(
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

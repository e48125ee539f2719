//! The command line: raw flags only; `main` turns them into sources and settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    Serve(ServeArgs),
    /// Print one line per operation: method, full path, operation key, response codes.
    Routes(SpecArgs),
}

/// Where the definition and the scenario pack come from.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Swagger 2.0 or OpenAPI 3.0 definition, JSON or YAML [default: the project's downloads/swagger/swagger.json]
    #[arg(long, value_name = "PATH")]
    pub spec: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PackArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Directory of scenario files (*.yaml) [default: scenarios/ with the default definition]
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Directory of Handlebars templates [default: templates/ with the default definition]
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Force the FHIR era instead of detecting it from the definition's media types
    #[arg(long, value_enum, value_name = "ERA")]
    pub fhir: Option<FhirEra>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FhirEra {
    Dstu2,
    Stu3,
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
}

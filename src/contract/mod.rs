//! Contract checks: what a request must satisfy before a scenario answers it.
//!
//! A [`Contract`] is compiled once per snapshot from the definition and the
//! settings; [`Contract::check`] runs between routing and scenario
//! selection and lists every [`Violation`] of one request. Two sets of rules:
//!
//! - [`spec_rules`]: what any definition says — required parameters, their
//!   types, formats, enums, patterns and bounds, the request body and its
//!   schema, `Content-Type`, `Accept`.
//! - [`gpconnect`]: GP Connect's rules (DOMAIN.md §3, §4, §7) — the SSP
//!   headers, the interaction id (rows of [`interactions`]), the provider
//!   ASID, the JWT ([`jwt`]) and
//!   identifier searches ([`nhs_number`]); each era's operation parameters
//!   ([`operations`] DSTU2, [`operations_stu3`] 1.x,
//!   [`operations_structured`] Access Record Structured) and request bodies
//!   ([`resources`], [`resources_stu3`]) against the resource descriptions
//!   ([`profiles`], [`profiles_stu3`]).
//!
//! JSON Schema validators are compiled lazily, once per snapshot, on the
//! first request that needs them, so startup stays fast with big definitions.

pub mod catalogue;
pub mod gpconnect;
pub mod interactions;
pub mod jwt;
pub mod nhs_number;
pub mod operations;
pub mod operations_documents;
pub mod operations_structured;
pub mod operations_stu3;
pub mod profiles;
pub mod profiles_stu3;
pub mod resources;
pub mod resources_stu3;
pub mod spec_rules;
pub mod tokens;

use http::{HeaderName, HeaderValue, StatusCode};

pub use catalogue::RuleId;

use crate::answer::Answer;
use crate::fhir::{Era, ErrorStyle, Outcome, SpineCode};
use crate::negotiate::Negotiated;
use crate::request::MockRequest;
use crate::spec::ApiModel;

/// The header that carries each violation in `warn` mode.
pub const VIOLATION_HEADER: HeaderName = HeaderName::from_static("x-contract-violation");

/// The provider ASID when `--asid` is not given (the demonstrator's).
pub const DEFAULT_ASID: &str = "918999198993";

/// What to do with a request that breaks the contract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContractMode {
    /// Reject it with the first violation.
    #[default]
    Strict,
    /// Serve it anyway; list the violations in `X-Contract-Violation`.
    Warn,
    /// Do not check.
    Off,
}

/// Which rules beyond the definition's own apply (`--profile`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProfileChoice {
    /// GP Connect when the definition's media types are FHIR, else none.
    #[default]
    Auto,
    GpConnect,
    None,
}

/// The command line's say on the contract (`--profile`, `--contract`, `--asid`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractSettings {
    /// Which rules beyond the definition's own apply.
    pub profile: ProfileChoice,
    /// Reject, warn about, or skip violations.
    pub mode: ContractMode,
    /// The provider ASID `Ssp-To` must name (`None`: [`DEFAULT_ASID`]).
    pub asid: Option<String>,
}

/// The profile in force for a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    GpConnect(Era),
    None,
}

impl Profile {
    /// Resolves the choice against the definition: `auto` is GP Connect when
    /// the era is forced or detected. A forced GP Connect profile without a
    /// known era speaks STU3 (GP Connect 1.x).
    pub fn resolve(choice: ProfileChoice, era: Option<Era>) -> Profile {
        match (choice, era) {
            (ProfileChoice::None, _) => Profile::None,
            (ProfileChoice::Auto, None) => Profile::None,
            (_, Some(era)) => Profile::GpConnect(era),
            (ProfileChoice::GpConnect, None) => Profile::GpConnect(Era::Stu3),
        }
    }

    pub fn era(self) -> Option<Era> {
        match self {
            Profile::GpConnect(era) => Some(era),
            Profile::None => None,
        }
    }
}

/// One broken rule: the answer it deserves and what was wrong where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: RuleId,
    pub status: StatusCode,
    pub code: SpineCode,
    /// What was wrong: a header, claim or parameter name, or `body /json/pointer`.
    pub at: String,
    /// What was expected, as a predicate of `at` ("must be 300, was 600").
    pub message: String,
}

impl Violation {
    /// A violation of `rule`, answered as the catalogue says.
    pub fn of(rule: RuleId, at: impl Into<String>, message: impl Into<String>) -> Self {
        Self::about(rule, "", at, message)
    }

    /// A violation of `rule` about a `resource` type (whose not-found code
    /// a not-found rule answers with).
    pub fn about(
        rule: RuleId,
        resource: &str,
        at: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let entry = rule.rule();
        Self {
            rule,
            status: entry.status,
            code: entry.spine_code(resource),
            at: at.into(),
            message: message.into(),
        }
    }

    /// The OperationOutcome's `diagnostics`: `at`, the message, and the
    /// rule's name to look up in `gpconnect-mock rules`.
    pub fn diagnostics(&self) -> String {
        format!(
            "{} {} (rule {})",
            self.at,
            self.message,
            self.rule.rule().name
        )
    }

    pub fn outcome(&self) -> Outcome {
        Outcome::new(self.status, self.code, self.diagnostics())
    }

    /// `X-Contract-Violation: <at>: <message>`, reduced to what HTTP allows.
    fn header_value(&self) -> HeaderValue {
        let name = self.rule.rule().name;
        violation_header(&self.at, &format!("{} (rule {name})", self.message))
    }
}

/// An `X-Contract-Violation` value, `<where>: <what>`, in printable ASCII.
pub fn violation_header(at: &str, message: &str) -> HeaderValue {
    let text = format!("{at}: {message}");
    let clean: String = text
        .chars()
        .take(500)
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect();
    HeaderValue::from_str(&clean).unwrap_or(HeaderValue::from_static("unprintable"))
}

/// A request value quoted for diagnostics: Debug-escaped and cut short, so
/// that neither control characters nor huge values reach a response.
pub fn shown(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() > MAX {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut:?}…")
    } else {
        format!("{value:?}")
    }
}

/// The rules of one operation, compiled.
#[derive(Debug)]
struct OperationContract {
    /// The catalogue's rules that apply to this operation.
    rules: catalogue::RuleSet,
    spec: spec_rules::OperationRules,
    gpc: Option<gpconnect::OperationRules>,
}

/// Every operation's rules for one snapshot, plus the settings that apply them.
#[derive(Debug)]
pub struct Contract {
    mode: ContractMode,
    profile: Profile,
    asid: String,
    operations: Vec<OperationContract>,
}

impl Contract {
    /// Compiles the rules of every operation of `model`. Cheap: schemas are
    /// compiled into validators only when first needed.
    pub fn compile(model: &ApiModel, settings: &ContractSettings, era: Option<Era>) -> Contract {
        let profile = Profile::resolve(settings.profile, era);
        let operations = model
            .operations
            .iter()
            .map(|operation| OperationContract {
                rules: catalogue::RuleSet::for_operation(
                    profile.era(),
                    &operation.method,
                    &operation.path,
                ),
                spec: spec_rules::OperationRules::compile(operation, &model.schema_root, profile),
                gpc: profile
                    .era()
                    .map(|era| gpconnect::OperationRules::compile(operation, era)),
            })
            .collect();
        Contract {
            mode: settings.mode,
            profile,
            asid: settings
                .asid
                .clone()
                .unwrap_or_else(|| DEFAULT_ASID.to_string()),
            operations,
        }
    }

    /// The `Ssp-InteractionID`s operation `index` accepts (none without
    /// the GP Connect profile).
    pub fn interactions(&self, index: usize) -> &[String] {
        self.operations
            .get(index)
            .and_then(|operation| operation.gpc.as_ref())
            .map_or(&[], |gpc| gpc.interactions())
    }

    /// The provider ASID that `Ssp-To` must name.
    pub fn asid(&self) -> &str {
        &self.asid
    }

    pub fn mode(&self) -> ContractMode {
        self.mode
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Errors are GP Connect OperationOutcomes of the era, or RFC 7807
    /// problem documents under profile `none`.
    pub fn error_style(&self) -> ErrorStyle {
        match self.profile {
            Profile::GpConnect(era) => ErrorStyle::Fhir(era),
            Profile::None => ErrorStyle::Problem,
        }
    }

    /// Every GP Connect response carries `Cache-Control: no-store`.
    pub fn no_store(&self) -> bool {
        matches!(self.profile, Profile::GpConnect(_))
    }

    /// The one verdict on `request` to operation `index`: every violation,
    /// in the order the rules run (headers, JWT, media types, parameters,
    /// body). Empty when the mode is `off` or the request is fine.
    pub fn check(
        &self,
        model: &ApiModel,
        index: usize,
        request: &MockRequest,
        path_params: &[(String, String)],
        negotiated: &Negotiated,
    ) -> Verdict {
        let mut out = Vec::new();
        if self.mode == ContractMode::Off {
            return Verdict::new(self.mode, out);
        }
        let (Some(rules), Some(operation)) =
            (self.operations.get(index), model.operations.get(index))
        else {
            return Verdict::new(self.mode, out);
        };
        let root = &model.schema_root;
        match (&rules.gpc, self.profile) {
            (Some(gpc), Profile::GpConnect(era)) => {
                let jwt = gpc.check_headers(request, era, &self.asid, &mut out);
                rules
                    .spec
                    .check_media(operation, request, Some((era, negotiated)), &mut out);
                rules
                    .spec
                    .check_params(operation, root, request, path_params, &mut out);
                gpc.check_identifier_search(request, era, &mut out);
                gpc.check_operation(request, path_params, jwt.as_deref(), &mut out);
                rules.spec.check_body(operation, root, request, &mut out);
                gpc.check_care_record(request, era, jwt.as_deref(), &mut out);
            }
            _ => {
                rules.spec.check_media(operation, request, None, &mut out);
                rules
                    .spec
                    .check_params(operation, root, request, path_params, &mut out);
                rules.spec.check_body(operation, root, request, &mut out);
            }
        }
        // The catalogue decides which rules apply to the operation.
        out.retain(|violation| rules.rules.contains(violation.rule));
        Verdict::new(self.mode, out)
    }
}

/// The rules a scenario is served despite (`skip_checks`, `skip_rules`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Waiver {
    #[default]
    None,
    /// `skip_checks: true`: every rule.
    All,
    /// `skip_rules: [...]`: these rules.
    Rules(Vec<RuleId>),
}

impl Waiver {
    pub fn waives(&self, rule: RuleId) -> bool {
        match self {
            Waiver::None => false,
            Waiver::All => true,
            Waiver::Rules(rules) => rules.contains(&rule),
        }
    }
}

/// The contract's one verdict on one request. What it means for the answer
/// depends on the scenario chosen (which may waive the checks), so the
/// request path asks [`Verdict::ruling`] once that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    mode: ContractMode,
    violations: Vec<Violation>,
}

/// What a verdict does to the answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Ruling<'v> {
    /// Answer the first violation instead of any scenario (`strict`).
    Reject(&'v Violation),
    /// Serve the answer; each of these is reported on it (`warn`, or a
    /// scenario with `skip_checks`). Empty for a clean request.
    Serve(&'v [Violation]),
}

impl Verdict {
    pub fn new(mode: ContractMode, violations: Vec<Violation>) -> Self {
        Self { mode, violations }
    }

    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// The verdict applied to the chosen scenario's waiver: in `strict`
    /// mode the first violation it does not waive is the answer.
    pub fn ruling(&self, waiver: &Waiver) -> Ruling<'_> {
        if self.mode != ContractMode::Strict {
            return Ruling::Serve(&self.violations);
        }
        match self.violations.iter().find(|v| !waiver.waives(v.rule)) {
            Some(first) => Ruling::Reject(first),
            None => Ruling::Serve(&self.violations),
        }
    }
}

/// Logs a rejection (the answer itself says what is wrong).
pub fn log_rejection(operation_key: &str, violation: &Violation) {
    tracing::info!(
        operation = operation_key,
        status = violation.status.as_u16(),
        "request rejected: {}",
        violation.diagnostics()
    );
}

/// A served answer to a request with violations (`warn` mode, or a
/// scenario that skips checks): one `X-Contract-Violation` each, logged.
pub fn annotate(answer: &mut Answer, operation_key: &str, violations: &[Violation]) {
    for violation in violations {
        tracing::warn!(
            operation = operation_key,
            "contract violation: {}",
            violation.diagnostics()
        );
        answer
            .headers
            .append(VIOLATION_HEADER, violation.header_value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_resolution() {
        assert_eq!(
            Profile::resolve(ProfileChoice::Auto, Some(Era::Dstu2)),
            Profile::GpConnect(Era::Dstu2)
        );
        assert_eq!(Profile::resolve(ProfileChoice::Auto, None), Profile::None);
        assert_eq!(
            Profile::resolve(ProfileChoice::None, Some(Era::Stu3)),
            Profile::None
        );
        assert_eq!(
            Profile::resolve(ProfileChoice::GpConnect, None),
            Profile::GpConnect(Era::Stu3)
        );
    }

    #[test]
    fn rulings_follow_mode_and_waiver() {
        let violation = Violation::of(RuleId::SspHeader, "header Ssp-From", "is required");
        let jwt = Violation::of(RuleId::JwtTime, "JWT claim exp", "must not be in the past");
        let strict = Verdict::new(ContractMode::Strict, vec![violation.clone(), jwt.clone()]);
        assert_eq!(strict.ruling(&Waiver::None), Ruling::Reject(&violation));
        assert_eq!(
            strict.ruling(&Waiver::Rules(vec![RuleId::SspHeader])),
            Ruling::Reject(&jwt)
        );
        assert!(matches!(
            strict.ruling(&Waiver::Rules(vec![RuleId::SspHeader, RuleId::JwtTime])),
            Ruling::Serve([_, _])
        ));
        assert!(matches!(strict.ruling(&Waiver::All), Ruling::Serve([_, _])));
        let warn = Verdict::new(ContractMode::Warn, vec![violation.clone()]);
        assert_eq!(
            warn.ruling(&Waiver::None),
            Ruling::Serve(std::slice::from_ref(&violation))
        );
        let clean = Verdict::new(ContractMode::Strict, Vec::new());
        assert!(clean.is_clean());
        assert_eq!(clean.ruling(&Waiver::None), Ruling::Serve(&[]));
    }

    #[test]
    fn violation_texts_name_the_rule() {
        let violation = Violation::of(
            RuleId::JwtTime,
            "JWT claim exp - iat",
            "must be 300, was 600",
        );
        assert_eq!(violation.status, StatusCode::BAD_REQUEST);
        assert_eq!(violation.code, SpineCode::BAD_REQUEST);
        assert_eq!(
            violation.diagnostics(),
            "JWT claim exp - iat must be 300, was 600 (rule jwt-time)"
        );
        assert_eq!(
            violation.header_value(),
            "JWT claim exp - iat: must be 300, was 600 (rule jwt-time)"
        );
        let odd = Violation::of(RuleId::SspHeader, "header X", "was \u{1}é");
        assert_eq!(odd.header_value(), "header X: was ?? (rule ssp-header)");
        let unknown = Violation::about(
            RuleId::UnknownId,
            "Patient",
            "path parameter id",
            "names no Patient",
        );
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.code, SpineCode::PATIENT_NOT_FOUND);
    }

    #[test]
    fn shown_quotes_and_cuts() {
        assert_eq!(shown("a\"b"), "\"a\\\"b\"");
        assert!(shown(&"x".repeat(500)).len() < 100);
    }
}

//! GP Connect's own rules (DOMAIN.md §2–§4, §7): the SSP headers, the
//! interaction id per operation, the provider ASID, the JWT, identifier
//! searches and DSTU2 `$gpc.getcarerecord`'s NHS number.

use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::{HeaderName, Method};
use serde_json::Value;

use super::catalogue::shape_of;
pub use super::interactions::{lookup, table, Interaction};
use super::jwt::{self, Expectation, RecordKind};
use super::nhs_number;
use super::operations::{self, ParamsKind};
use super::operations_stu3;
use super::resources::{self, BodyKind};
use super::tokens::TokenCache;
pub use super::tokens::TokenFacts;
use super::{shown, RuleId, Violation};
use crate::fhir::Era;
use crate::request::MockRequest;
use crate::spec::{Operation, Param, ParamLocation};

/// A header's trimmed text, or a violation: missing, blank or not text.
/// `name` is the lower-case header name, `label` how messages spell it.
fn present<'r>(
    request: &'r MockRequest,
    name: &HeaderName,
    label: &str,
    out: &mut Vec<Violation>,
) -> Option<&'r str> {
    let problem = match request.headers.get(name).map(|value| value.to_str()) {
        Some(Ok(value)) if !value.trim().is_empty() => return Some(value.trim()),
        Some(Ok(_)) => "must not be blank",
        Some(Err(_)) => "must be visible ASCII text",
        None => "is required",
    };
    out.push(Violation::of(
        RuleId::SspHeader,
        format!("header {label}"),
        problem,
    ));
    None
}

const SSP_TRACE_ID: HeaderName = HeaderName::from_static("ssp-traceid");
const SSP_FROM: HeaderName = HeaderName::from_static("ssp-from");
const SSP_TO: HeaderName = HeaderName::from_static("ssp-to");
const SSP_INTERACTION_ID: HeaderName = HeaderName::from_static("ssp-interactionid");

/// Headers these rules check (the spec's own rules skip them).
pub const SSP_HEADERS: [&str; 5] = [
    "Ssp-TraceID",
    "Ssp-From",
    "Ssp-To",
    "Ssp-InteractionID",
    "Authorization",
];

/// Whether `param` is a header these rules check themselves.
pub fn covers_header(param: &Param) -> bool {
    param.location == ParamLocation::Header
        && SSP_HEADERS
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&param.name))
}

/// The 1.x capability an interaction id belongs to (DOMAIN.md §2c): each
/// has its own root and metadata id, and an id of another capability is
/// no interaction of this root (DOMAIN-STU3.md §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Foundations and Appointment Management (`…/gpconnect/fhir`).
    Foundations,
    /// Access Record Structured (`…/gpconnect/structured/fhir`).
    Structured,
    /// Access Document (`…/gpconnect/documents/fhir`).
    Documents,
}

impl Capability {
    /// The capability of an interaction id.
    pub fn of_interaction(id: &str) -> Capability {
        if id.contains(":structured:")
            || id.contains(":gpc.getstructuredrecord")
            || id.contains(":gpc.migratestructuredrecord")
        {
            Capability::Structured
        } else if id.contains(":documents:") {
            Capability::Documents
        } else {
            Capability::Foundations
        }
    }

    /// The capability a root serves, by its path: a `structured` or
    /// `documents` segment, else Foundations.
    pub fn of_path(full_path: &str) -> Capability {
        let mut segments = full_path.split('/');
        if segments.clone().any(|s| s == "structured") {
            Capability::Structured
        } else if segments.any(|s| s == "documents") {
            Capability::Documents
        } else {
            Capability::Foundations
        }
    }
}

/// The identifier searches of the interaction tables (type-level GETs):
/// the resource searched, and whether `identifier` is optional (a
/// HealthcareService search without one lists every service, 1.2.8).
fn table_search(method: &Method, path: &str) -> Option<(&'static str, bool)> {
    if method != Method::GET {
        return None;
    }
    let shape = shape_of(path);
    [
        ("/Patient", "Patient", false),
        ("/Practitioner", "Practitioner", false),
        ("/Organization", "Organization", false),
        ("/Location", "Location", false),
        ("/HealthcareService", "HealthcareService", true),
    ]
    .into_iter()
    .find(|(end, ..)| shape.ends_with(end))
    .map(|(_, resource, optional)| (resource, optional))
}

/// The resource an identifier search finds (a GET whose `identifier`
/// query parameter is required), e.g. `Patient` for `GET /fhir/Patient`.
pub fn identifier_search_resource(operation: &Operation) -> Option<&str> {
    if operation.method != Method::GET {
        return None;
    }
    operation
        .params
        .iter()
        .find(|p| p.location == ParamLocation::Query && p.name == "identifier" && p.required)?;
    operation
        .path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|segment| !segment.starts_with('{') && !segment.is_empty())
}

pub fn nhs_number_system(era: Era) -> &'static str {
    match era {
        Era::Dstu2 => "http://fhir.nhs.net/Id/nhs-number",
        Era::Stu3 => "https://fhir.nhs.uk/Id/nhs-number",
    }
}

/// The identifier systems a search of `resource` accepts (DOMAIN.md §7),
/// or `None` for a resource without a known list.
pub fn identifier_systems(era: Era, resource: &str) -> Option<&'static [&'static str]> {
    Some(match (era, resource) {
        (Era::Dstu2, "Patient") => &["http://fhir.nhs.net/Id/nhs-number"],
        // The JWT's quirky `sds-user-id` system (no `/Id/`) is accepted as an alias.
        (Era::Dstu2, "Practitioner") => &[
            "http://fhir.nhs.net/Id/sds-user-id",
            "http://fhir.nhs.net/sds-user-id",
        ],
        (Era::Dstu2, "Organization") => &[
            "http://fhir.nhs.net/Id/ods-organization-code",
            "http://fhir.nhs.net/Id/ods-site-code",
        ],
        (Era::Dstu2, "Location") => &["http://fhir.nhs.net/Id/ods-site-code"],
        (Era::Stu3, "Patient") => &["https://fhir.nhs.uk/Id/nhs-number"],
        (Era::Stu3, "Practitioner") => &["https://fhir.nhs.uk/Id/sds-user-id"],
        // The demonstrator accepts both forms.
        (Era::Stu3, "Organization") => &[
            "https://fhir.nhs.uk/Id/ods-organization-code",
            "http://fhir.nhs.net/Id/ods-organization-code",
        ],
        (Era::Stu3, "Location") => &["https://fhir.nhs.uk/Id/ods-site-code"],
        (Era::Stu3, "HealthcareService") => &["https://fhir.nhs.uk/Id/uec-dos-service-id"],
        _ => return None,
    })
}

/// GP Connect's rules for one operation.
#[derive(Debug)]
pub struct OperationRules {
    /// Accepted `Ssp-InteractionID`s; empty when neither the spec nor the table knows.
    interactions: Vec<String>,
    kind: Option<RecordKind>,
    write: bool,
    /// The resource of an identifier search.
    search: Option<String>,
    /// `identifier` may be left out (a HealthcareService search).
    search_optional: bool,
    /// DSTU2 `$gpc.getcarerecord`.
    care_record: bool,
    /// 1.x `$gpc.migratestructuredrecord` (its JWT differs).
    migrate: bool,
    /// The operation's parameter rules (DSTU2).
    params: Option<ParamsKind>,
    /// The operation's parameter rules (1.x).
    params_stu3: Option<operations_stu3::ParamsKind>,
    /// What its body is checked as.
    body: Option<BodyKind>,
    /// `GET /fhir/metadata`, for messages.
    label: String,
    /// Tokens already checked for this operation.
    tokens: TokenCache,
}

impl OperationRules {
    /// The spec's `default`/`enum` of the `Ssp-InteractionID` header wins;
    /// else the built-in table by method and path shape.
    pub fn compile(operation: &Operation, era: Era) -> OperationRules {
        let mut interactions: Vec<String> = Vec::new();
        if let Some(param) = operation.params.iter().find(|p| {
            p.location == ParamLocation::Header && p.name.eq_ignore_ascii_case("Ssp-InteractionID")
        }) {
            let enumerated = param.schema.get("enum").and_then(Value::as_array);
            for value in enumerated
                .into_iter()
                .flatten()
                .chain(param.schema.get("default"))
            {
                if let Some(id) = value.as_str() {
                    if !interactions.iter().any(|known| known == id) {
                        interactions.push(id.to_string());
                    }
                }
            }
        }
        let row = lookup(era, &operation.method, &operation.path).or_else(|| {
            // An unusual path: find the row by the spec's interaction id.
            table(era).iter().find(|row| {
                row.ids
                    .iter()
                    .any(|id| interactions.iter().any(|i| i == id))
            })
        });
        if let Some(row) = row {
            if interactions.is_empty() {
                // 1.x: only the ids of this root's capability (the
                // structured metadata id is no interaction of Foundations).
                let capability = Capability::of_path(&operation.full_path);
                let own =
                    |id: &&&str| era == Era::Dstu2 || Capability::of_interaction(id) == capability;
                let ids: Vec<&str> = row.ids.iter().filter(own).copied().collect();
                let ids = if ids.is_empty() {
                    row.ids.to_vec()
                } else {
                    ids
                };
                interactions = ids.into_iter().map(str::to_string).collect();
            } else if row.method == "PUT" && row.shape == "/Appointment/{id}" {
                // Amend and cancel: accept both whatever the spec says.
                for id in row.ids {
                    if !interactions.iter().any(|known| known == id) {
                        interactions.push(id.to_string());
                    }
                }
            }
        }
        // An identifier search by the definition (`identifier` required),
        // else by the table's shape (a definition may leave it optional).
        let by_table = table_search(&operation.method, &operation.path);
        let search = identifier_search_resource(operation)
            .or(by_table.map(|(resource, _)| resource))
            .map(str::to_string);
        OperationRules {
            interactions,
            kind: row.map(|r| r.kind),
            write: row.map(|r| r.write).unwrap_or_else(|| operation.is_write()),
            search_optional: by_table.is_some_and(|(_, optional)| optional),
            search,
            migrate: era == Era::Stu3
                && operation.method == Method::POST
                && operation.path.ends_with("/$gpc.migratestructuredrecord"),
            care_record: era == Era::Dstu2
                && operation.method == Method::POST
                && operation.path.ends_with("/$gpc.getcarerecord"),
            params: row
                .filter(|_| era == Era::Dstu2)
                .and_then(|r| ParamsKind::of(r.method, r.shape)),
            params_stu3: row
                .filter(|_| era == Era::Stu3)
                .and_then(|r| operations_stu3::ParamsKind::of(r.method, r.shape)),
            body: row.and_then(|r| BodyKind::of(era, r.method, r.shape)),
            label: format!("{} {}", operation.method, operation.full_path),
            tokens: TokenCache::default(),
        }
    }

    /// Whether this is 1.x `$gpc.migratestructuredrecord`, whose JWT has
    /// the reason `migration` and a `conf/` scope.
    pub fn is_migrate(&self) -> bool {
        self.migrate
    }

    pub fn interactions(&self) -> &[String] {
        &self.interactions
    }

    /// The SSP headers, the interaction id, `Ssp-To` and the JWT. Returns
    /// what later rules need of the JWT.
    pub fn check_headers(
        &self,
        request: &MockRequest,
        era: Era,
        asid: &str,
        out: &mut Vec<Violation>,
    ) -> Option<Arc<TokenFacts>> {
        present(request, &SSP_TRACE_ID, "Ssp-TraceID", out);
        present(request, &SSP_FROM, "Ssp-From", out);
        if let Some(to) = present(request, &SSP_TO, "Ssp-To", out) {
            if to != asid {
                out.push(Violation::of(
                    RuleId::SspTo,
                    "header Ssp-To",
                    format!("must be this provider's ASID {asid}, was {}", shown(to)),
                ));
            }
        }
        let interaction = present(request, &SSP_INTERACTION_ID, "Ssp-InteractionID", out);
        // Access Document's migrate shares `GET /Binary/{id}` with its
        // retrieve: the interaction says which JWT the request needs.
        let migrate = self.migrate || interaction.is_some_and(|id| id.contains(":rest:migrate:"));
        if let Some(id) = interaction {
            if !self.interactions.is_empty() && !self.interactions.iter().any(|i| i == id) {
                let known = table(era).iter().any(|row| row.ids.contains(&id));
                out.push(Violation::of(
                    RuleId::InteractionId,
                    "header Ssp-InteractionID",
                    format!(
                        "must be {} for {}, was {}{}",
                        self.interactions.join(" or "),
                        self.label,
                        shown(id),
                        if known {
                            " (the interaction of another operation)"
                        } else {
                            " (not a known interaction)"
                        }
                    ),
                ));
            }
        }
        // A token seen before skips decoding, and even the header's text
        // check: the cache is keyed by (keyed hashes of) the header's exact bytes.
        let now = chrono::Utc::now().timestamp();
        // The cache holds verdicts for this operation's own expectation; a
        // migrate through a shared endpoint is checked afresh.
        let header = request
            .headers
            .get(AUTHORIZATION)
            .map(|v| v.as_bytes())
            .filter(|_| migrate == self.migrate);
        if let Some((facts, violations)) = header.and_then(|bytes| self.tokens.get(bytes, now)) {
            out.extend(violations);
            return Some(facts);
        }
        let authorization = present(request, &AUTHORIZATION, "Authorization", out)?;
        let token = match authorization.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") => token.trim(),
            _ => {
                out.push(Violation::of(
                    RuleId::AuthorizationBearer,
                    "header Authorization",
                    format!(
                        "must be `Bearer <JWT>`, was {}",
                        shown(authorization.split(' ').next().unwrap_or(""))
                    ),
                ));
                return None;
            }
        };
        let jwt = match jwt::decode(token) {
            Ok(jwt) => jwt,
            Err(error) => {
                out.push(Violation::of(
                    RuleId::JwtMalformed,
                    "header Authorization",
                    format!("must carry an unsigned JWT: the token {error}"),
                ));
                return None;
            }
        };
        let expect = Expectation {
            era,
            kind: self.kind,
            write: self.write,
            migrate,
            now,
        };
        let mut found = Vec::new();
        jwt::check_claims(&jwt.claims, &expect, &mut found);
        let facts = Arc::new(TokenFacts::of(&jwt));
        if let Some(header) = header {
            let exp = jwt.claims.get("exp").and_then(Value::as_i64);
            self.tokens.put(header, facts.clone(), exp, &found, now);
        }
        out.extend(found);
        Some(facts)
    }

    /// Identifier searches: exactly one `identifier=system|value`, a known
    /// system, and a valid NHS number (DOMAIN.md §7).
    pub fn check_identifier_search(
        &self,
        request: &MockRequest,
        era: Era,
        out: &mut Vec<Violation>,
    ) {
        let Some(resource) = &self.search else {
            return;
        };
        let at = "query parameter identifier";
        if let Some((name, _)) = request
            .query
            .iter()
            .find(|(name, _)| name != "identifier" && name.eq_ignore_ascii_case("identifier"))
        {
            out.push(Violation::of(
                RuleId::IdentifierParam,
                format!("query parameter {name}"),
                "has the wrong case: the parameter is `identifier`",
            ));
            return;
        }
        let mut values = request.query_values("identifier");
        let Some(value) = values.next() else {
            if self.search_optional {
                return;
            }
            out.push(Violation::of(
                RuleId::IdentifierParam,
                at,
                format!("is required: {resource}?identifier=<system>|<value>"),
            ));
            return;
        };
        if values.next().is_some() {
            out.push(Violation::of(
                RuleId::IdentifierParam,
                at,
                "must be given exactly once",
            ));
            return;
        }
        let invalid = |message: String| Violation::of(RuleId::IdentifierSyntax, at, message);
        let Some((system, id)) = value.split_once('|') else {
            out.push(invalid(format!(
                "must be <system>|<value>, was {}",
                shown(value)
            )));
            return;
        };
        if system.is_empty() || id.is_empty() {
            out.push(invalid(format!(
                "must have both a system and a value (<system>|<value>), was {}",
                shown(value)
            )));
            return;
        }
        if let Some(systems) = identifier_systems(era, resource) {
            // 1.2.8 names one error for a service search: a token that is
            // no DOS service id is unparsable (422), not a system error.
            let rule = if resource == "HealthcareService" {
                RuleId::IdentifierSyntax
            } else {
                RuleId::IdentifierSystem
            };
            if !systems.contains(&system) {
                out.push(Violation::of(
                    rule,
                    at,
                    format!(
                        "system must be {} for a {resource} search, was {}",
                        systems.join(" or "),
                        shown(system)
                    ),
                ));
                return;
            }
        }
        if system == nhs_number_system(era) {
            if let Err(error) = nhs_number::check(id) {
                out.push(Violation::of(
                    RuleId::IdentifierNhsNumber,
                    at,
                    format!("NHS number {} {error}", shown(id)),
                ));
            }
        }
    }

    /// The operation's own parameters and body (DOMAIN.md §11).
    pub fn check_operation(
        &self,
        request: &MockRequest,
        path_params: &[(String, String)],
        jwt: Option<&TokenFacts>,
        out: &mut Vec<Violation>,
    ) {
        if let Some(kind) = self.params {
            operations::check(kind, request, jwt, out);
        }
        if let Some(kind) = self.params_stu3 {
            operations_stu3::check(kind, request, jwt, out);
        }
        if let (Some(kind), Some(body)) = (self.body, request.body_json()) {
            let id = path_params
                .iter()
                .find(|(name, _)| name == "id")
                .map(|(_, value)| value.as_str());
            resources::check_body(kind, body, id, out);
        }
    }

    /// DSTU2 `$gpc.getcarerecord`: the body's `patientNHSNumber` must be the
    /// JWT's `requested_record` NHS number.
    pub fn check_care_record(
        &self,
        request: &MockRequest,
        era: Era,
        jwt: Option<&TokenFacts>,
        out: &mut Vec<Violation>,
    ) {
        if !self.care_record || era != Era::Dstu2 {
            return;
        }
        let (Some(jwt), Some(body)) = (jwt, request.body_json()) else {
            return;
        };
        let Some((index, body_number)) = body
            .get("parameter")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .find(|(_, p)| p.get("name").and_then(Value::as_str) == Some("patientNHSNumber"))
            .and_then(|(i, p)| {
                p.get("valueIdentifier")
                    .and_then(|v| v.get("value"))
                    .and_then(Value::as_str)
                    .map(|v| (i, v))
            })
        else {
            return;
        };
        let jwt_number = jwt.requested_nhs_number.as_deref();
        if jwt_number != Some(body_number) {
            out.push(Violation::of(
                RuleId::CareRecordNhsNumberMismatch,
                format!("body /parameter/{index}/valueIdentifier/value (patientNHSNumber)"),
                format!(
                    "must equal the JWT requested_record NHS number {}, was {}",
                    jwt_number.map(shown).unwrap_or_else(|| "(none)".into()),
                    shown(body_number)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::interactions::{DSTU2, STU3};
    use RecordKind::{Organization as O, Patient as P};

    #[test]
    fn interaction_table_by_method_and_shape() {
        let id = |era, method: Method, path: &str| lookup(era, &method, path).map(|row| row.ids[0]);
        assert_eq!(
            id(Era::Dstu2, Method::GET, "/fhir/metadata"),
            Some("urn:nhs:names:services:gpconnect:fhir:rest:read:metadata")
        );
        assert_eq!(
            id(
                Era::Dstu2,
                Method::GET,
                "/fhir/Patient/{patientId}/Appointment"
            ),
            Some("urn:nhs:names:services:gpconnect:fhir:rest:search:patient_appointments")
        );
        assert_eq!(
            id(Era::Dstu2, Method::POST, "/fhir/Appointment"),
            Some("urn:nhs:names:services:gpconnect:fhir:rest:create:appointment")
        );
        assert_eq!(
            id(Era::Stu3, Method::GET, "/Patient/{id}"),
            Some("urn:nhs:names:services:gpconnect:fhir:rest:read:patient-1")
        );
        assert_eq!(
            id(Era::Stu3, Method::POST, "/Patient/$gpc.registerpatient"),
            Some("urn:nhs:names:services:gpconnect:fhir:operation:gpc.registerpatient-1")
        );
        let put = lookup(Era::Stu3, &Method::PUT, "/Appointment/{id}").map(|r| r.ids.to_vec());
        assert_eq!(
            put,
            Some(vec![
                "urn:nhs:names:services:gpconnect:fhir:rest:update:appointment-1",
                "urn:nhs:names:services:gpconnect:fhir:rest:cancel:appointment-1"
            ])
        );
        assert_eq!(id(Era::Stu3, Method::GET, "/Order"), None);
        assert_eq!(id(Era::Dstu2, Method::DELETE, "/fhir/Patient/{id}"), None);
        // Every DSTU2 id lacks the suffix; every STU3 one has it.
        assert!(DSTU2
            .iter()
            .flat_map(|r| r.ids)
            .all(|id| !id.ends_with("-1")));
        assert!(STU3.iter().flat_map(|r| r.ids).all(|id| id.ends_with("-1")));
    }

    #[test]
    fn a_1x_root_takes_only_its_own_capabilitys_ids() {
        let spec = r#"
swagger: '2.0'
info: {title: t, version: '1'}
basePath: /B82617/STU3/1/gpconnect/fhir
produces: [application/fhir+json]
paths:
  /metadata:
    get:
      responses: {'200': {description: ok}}
  /HealthcareService:
    get:
      responses: {'200': {description: ok}}
"#;
        let model = crate::spec::load_str(spec, "t.yaml").expect("loads");
        let rules = |key: &str| {
            let operation = model
                .operations
                .iter()
                .find(|op| op.path == key)
                .expect("operation");
            OperationRules::compile(operation, Era::Stu3)
        };
        assert_eq!(
            rules("/metadata").interactions(),
            ["urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1"]
        );
        let services = rules("/HealthcareService");
        assert_eq!(services.search.as_deref(), Some("HealthcareService"));
        assert!(services.search_optional);
        assert_eq!(
            Capability::of_path("/B82617/STU3/1/gpconnect/structured/fhir/metadata"),
            Capability::Structured
        );
        assert_eq!(
            Capability::of_interaction(
                "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1"
            ),
            Capability::Structured
        );
    }

    #[test]
    fn scopes_of_the_table() {
        let row = |method: Method, path: &str| {
            lookup(Era::Dstu2, &method, path).map(|r| (r.kind, r.write))
        };
        assert_eq!(
            row(Method::POST, "/fhir/Patient/$gpc.getcarerecord"),
            Some((P, false))
        );
        assert_eq!(
            row(Method::POST, "/fhir/Organization/$gpc.getschedule"),
            Some((O, false))
        );
        assert_eq!(row(Method::PUT, "/fhir/Appointment/{id}"), Some((P, true)));
        assert_eq!(row(Method::GET, "/fhir/Location/{id}"), Some((O, false)));
    }
}

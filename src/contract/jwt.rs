//! The GP Connect JWT (DOMAIN.md §4): decoding the unsigned token once, and
//! checking its claims for the era and the operation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::{shown, RuleId, Violation};
use crate::fhir::Era;

/// DSTU2's fixed audience.
pub const DSTU2_AUDIENCE: &str = "https://authorize.fhir.nhs.net/token";

/// Seconds between `iat` and `exp`, exactly.
pub const LIFETIME: i64 = 300;

pub const SCOPES: [&str; 4] = [
    "patient/*.read",
    "patient/*.write",
    "organization/*.read",
    "organization/*.write",
];

/// Why a token is not a well-formed unsigned JWT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("must have 3 dot-separated segments (header.payload.signature), had {0}")]
    Segments(usize),
    #[error("must have an empty signature (alg none): the token must end with `.`")]
    Signature,
    #[error("has an empty {0} segment")]
    Empty(&'static str),
    #[error("{segment} segment must be base64url without padding, found `{found}`")]
    Alphabet { segment: &'static str, found: char },
    #[error("{segment} segment is not valid base64url: {detail}")]
    Base64 {
        segment: &'static str,
        detail: String,
    },
    #[error("{segment} segment is not a JSON object: {detail}")]
    Json {
        segment: &'static str,
        detail: String,
    },
    #[error("header must be exactly {{\"alg\":\"none\",\"typ\":\"JWT\"}}: {0}")]
    Header(String),
}

/// A decoded token: its claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    pub claims: Map<String, Value>,
}

/// Decodes `header.payload.` (no signature) and checks the header.
/// base64url of `{"alg":"none","typ":"JWT"}`.
const CANONICAL_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";

pub fn decode(token: &str) -> Result<Jwt, JwtError> {
    let segments: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = segments.as_slice() else {
        return Err(JwtError::Segments(segments.len()));
    };
    if !signature.is_empty() {
        return Err(JwtError::Signature);
    }
    let claims = segment_object(payload, "payload")?;
    // Nearly every client sends exactly this header; skip decoding it.
    if *header == CANONICAL_HEADER {
        return Ok(Jwt { claims });
    }
    let header = segment_object(header, "header")?;
    if let Some(extra) = header.keys().find(|k| *k != "alg" && *k != "typ") {
        return Err(JwtError::Header(format!("unexpected key {extra}")));
    }
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "none" => {}
        Some(other) => return Err(JwtError::Header(format!("alg must be none, was {other}"))),
        None => return Err(JwtError::Header("alg is missing".into())),
    }
    match header.get("typ") {
        Some(Value::String(typ)) if typ == "JWT" => {}
        Some(other) => return Err(JwtError::Header(format!("typ must be JWT, was {other}"))),
        None => return Err(JwtError::Header("typ is missing".into())),
    }
    Ok(Jwt { claims })
}

fn segment_object(text: &str, segment: &'static str) -> Result<Map<String, Value>, JwtError> {
    if text.is_empty() {
        return Err(JwtError::Empty(segment));
    }
    let outside = |b: &u8| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    if let Some(position) = text.bytes().position(|b| outside(&b)) {
        let found = text[position..].chars().next().unwrap_or('?');
        return Err(JwtError::Alphabet { segment, found });
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|error| JwtError::Base64 {
            segment,
            detail: error.to_string(),
        })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(JwtError::Json {
            segment,
            detail: "not an object".into(),
        }),
        Err(error) => Err(JwtError::Json {
            segment,
            detail: error.to_string(),
        }),
    }
}

/// Patient-centred or organisation-level: the `patient/*` or `organization/*` scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Patient,
    Organization,
}

impl RecordKind {
    pub fn scope_prefix(self) -> &'static str {
        match self {
            RecordKind::Patient => "patient",
            RecordKind::Organization => "organization",
        }
    }
}

/// What the operation expects of the claims.
#[derive(Debug, Clone, Copy)]
pub struct Expectation {
    pub era: Era,
    /// `None`: the operation's kind is unknown; either scope kind is accepted.
    pub kind: Option<RecordKind>,
    pub write: bool,
    /// A migrate interaction (Access Record Structured's, Access Document's
    /// `migrate:binary-1`): `reason_for_request` is
    /// `migration`, the scope carries `conf/N` or `conf/R`, and
    /// `requesting_practitioner` may be left out (DOMAIN-STU3.md §1.1).
    pub migrate: bool,
    /// Now, in UNIX seconds.
    pub now: i64,
}

fn claim(name: &str) -> String {
    format!("JWT claim {name}")
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => shown(text),
        other => shown(&other.to_string()),
    }
}

/// Checks the claims of a decoded token (DOMAIN.md §4).
pub fn check_claims(claims: &Map<String, Value>, expect: &Expectation, out: &mut Vec<Violation>) {
    // DOMAIN.md §4 [unsure]: 2017-18 DSTU2 drafts named the practitioner
    // claim `requesting_identity` (a Practitioner or a Person). Tolerated as
    // an alias in DSTU2 only, when `requesting_practitioner` is absent.
    if expect.era == Era::Dstu2 && !claims.contains_key("requesting_practitioner") {
        if let Some(identity) = claims.get("requesting_identity").filter(|v| v.is_object()) {
            let mut aliased = claims.clone();
            let mut practitioner = identity.clone();
            if practitioner.get("resourceType").and_then(Value::as_str) == Some("Person") {
                practitioner["resourceType"] = Value::String("Practitioner".into());
            }
            aliased.insert("requesting_practitioner".into(), practitioner);
            aliased.remove("requesting_identity");
            return check_claims(&aliased, expect, out);
        }
    }
    const REQUIRED: [&str; 10] = [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "reason_for_request",
        "requested_scope",
        "requesting_device",
        "requesting_organization",
        "requesting_practitioner",
    ];
    let dstu2 = (expect.era == Era::Dstu2).then_some("requested_record");
    let mut missing = false;
    let optional = expect.migrate.then_some("requesting_practitioner");
    for name in REQUIRED
        .iter()
        .copied()
        .chain(dstu2)
        .filter(|name| Some(*name) != optional)
    {
        match claims.get(name) {
            None => {
                out.push(Violation::of(
                    RuleId::JwtClaimRequired,
                    claim(name),
                    "is required",
                ));
                missing = true;
            }
            Some(Value::Null) => {
                out.push(Violation::of(
                    RuleId::JwtClaimRequired,
                    claim(name),
                    "must not be null",
                ));
                missing = true;
            }
            Some(_) => {}
        }
    }
    if expect.era == Era::Stu3 && claims.contains_key("requested_record") {
        out.push(Violation::of(
            RuleId::JwtRequestedRecordAbsent,
            claim("requested_record"),
            "must be absent in GP Connect 1.x (STU3)",
        ));
    }
    if missing {
        return;
    }
    check_times(claims, expect.now, out);
    if let Some(reason) = claims.get("reason_for_request") {
        let wanted = if expect.migrate {
            "migration"
        } else {
            "directcare"
        };
        if reason.as_str() != Some(wanted) {
            out.push(Violation::of(
                RuleId::JwtReason,
                claim("reason_for_request"),
                format!("must be {wanted}, was {}", text_of(reason)),
            ));
        }
    }
    if expect.era == Era::Dstu2 {
        if let Some(aud) = claims.get("aud") {
            if aud.as_str() != Some(DSTU2_AUDIENCE) {
                out.push(Violation::of(
                    RuleId::JwtAudience,
                    claim("aud"),
                    format!("must be {DSTU2_AUDIENCE}, was {}", text_of(aud)),
                ));
            }
        }
    }
    let record_kind = check_resources(claims, expect.era, out);
    if expect.era == Era::Dstu2 {
        super::resources::check_claim_resources(claims, out);
    }
    check_scope(claims, expect, record_kind, out);
    let practitioner_id = claims
        .get("requesting_practitioner")
        .and_then(|p| p.get("id"));
    if let (Some(sub), Some(id)) = (claims.get("sub"), practitioner_id) {
        if sub != id {
            out.push(Violation::of(
                RuleId::JwtSubject,
                claim("sub"),
                format!(
                    "must equal requesting_practitioner.id {}, was {}",
                    text_of(id),
                    text_of(sub)
                ),
            ));
        }
    } else if practitioner_id.is_none() && !expect.migrate {
        out.push(Violation::of(
            RuleId::JwtSubject,
            claim("requesting_practitioner.id"),
            "is required (sub must equal it)",
        ));
    }
}

fn check_times(claims: &Map<String, Value>, now: i64, out: &mut Vec<Violation>) {
    let integer = |name: &str, out: &mut Vec<Violation>| -> Option<i64> {
        let value = claims.get(name)?;
        let number = value.as_i64();
        if number.is_none() {
            out.push(Violation::of(
                RuleId::JwtTime,
                claim(name),
                format!("must be an integer UNIX time, was {}", text_of(value)),
            ));
        }
        number
    };
    let exp = integer("exp", out);
    let iat = integer("iat", out);
    let (Some(exp), Some(iat)) = (exp, iat) else {
        return;
    };
    let lifetime = i128::from(exp) - i128::from(iat);
    if lifetime != i128::from(LIFETIME) {
        out.push(Violation::of(
            RuleId::JwtTime,
            claim("exp - iat"),
            format!("must be {LIFETIME}, was {lifetime}"),
        ));
    }
    if exp < now {
        out.push(Violation::of(
            RuleId::JwtTime,
            claim("exp"),
            format!(
                "must not be in the past: {exp} is {} seconds before now ({now})",
                i128::from(now) - i128::from(exp)
            ),
        ));
    }
    // A future iat is tolerated (DOMAIN.md §4: clock skew).
}

/// The claim resources must be FHIR resources of the right type (else 422).
/// Returns the kind of DSTU2's `requested_record`, when it is one.
fn check_resources(
    claims: &Map<String, Value>,
    era: Era,
    out: &mut Vec<Violation>,
) -> Option<RecordKind> {
    let mut wrong_type = |name: &str, expected: &str, value: &Value| {
        let found = value.get("resourceType");
        out.push(Violation::of(
            match era {
                Era::Dstu2 => RuleId::JwtClaimResourceType,
                Era::Stu3 => RuleId::JwtClaimResourceInvalid,
            },
            claim(&format!("{name}.resourceType")),
            match found {
                Some(found) => format!("must be {expected}, was {}", text_of(found)),
                None if value.is_object() => format!("must be {expected}, was absent"),
                None => format!("must be {expected}: the claim is not a FHIR resource"),
            },
        ));
    };
    for (name, expected) in [
        ("requesting_device", "Device"),
        ("requesting_organization", "Organization"),
        ("requesting_practitioner", "Practitioner"),
    ] {
        if let Some(value) = claims.get(name) {
            if value.get("resourceType").and_then(Value::as_str) != Some(expected) {
                wrong_type(name, expected, value);
            }
        }
    }
    if era != Era::Dstu2 {
        return None;
    }
    let record = claims.get("requested_record")?;
    match record.get("resourceType").and_then(Value::as_str) {
        Some("Patient") => Some(RecordKind::Patient),
        Some("Organization") => Some(RecordKind::Organization),
        _ => {
            wrong_type("requested_record", "Patient or Organization", record);
            None
        }
    }
}

fn check_scope(
    claims: &Map<String, Value>,
    expect: &Expectation,
    record_kind: Option<RecordKind>,
    out: &mut Vec<Violation>,
) {
    let Some(value) = claims.get("requested_scope") else {
        return;
    };
    let at = claim("requested_scope");
    // 1.x patient reads may add a confidentiality: ` conf/N`, or (migrate
    // only) ` conf/R`; migrate needs one (DOMAIN-STU3.md §1.1).
    let (value, conf) = match value.as_str().and_then(|s| s.split_once(' ')) {
        Some((base, conf)) if expect.era == Era::Stu3 => {
            (Value::String(base.to_string()), Some(conf))
        }
        _ => (value.clone(), None),
    };
    let value = &value;
    let conf_problem = match conf {
        None if expect.migrate => Some("must end with conf/N or conf/R for migrate".to_string()),
        Some(conf) if value.as_str() != Some("patient/*.read") => {
            Some(format!("may add {conf} only to patient/*.read"))
        }
        Some("conf/N") => None,
        Some("conf/R") if expect.migrate => None,
        Some(other) => Some(format!(
            "must end with conf/N{}, was {}",
            if expect.migrate { " or conf/R" } else { "" },
            shown(other)
        )),
        None => None,
    };
    if let Some(problem) = conf_problem {
        out.push(Violation::of(RuleId::JwtScope, at, problem));
        return;
    }
    let Some(scope) = value.as_str().filter(|s| SCOPES.contains(s)) else {
        out.push(Violation::of(
            RuleId::JwtScope,
            at,
            format!(
                "must be one of {}, was {}",
                SCOPES.join(", "),
                text_of(value)
            ),
        ));
        return;
    };
    let access = if expect.write { "write" } else { "read" };
    let wanted = expect
        .kind
        .map(|kind| format!("{}/*.{access}", kind.scope_prefix()));
    match &wanted {
        Some(wanted) if scope != wanted => {
            out.push(Violation::of(
                RuleId::JwtScope,
                at,
                format!("must be {wanted} for this operation, was {scope}"),
            ));
            return;
        }
        None if !scope.ends_with(access) => {
            out.push(Violation::of(
                RuleId::JwtScope,
                at,
                format!("must be a .{access} scope for this operation, was {scope}"),
            ));
            return;
        }
        _ => {}
    }
    if let Some(kind) = record_kind {
        if !scope.starts_with(kind.scope_prefix()) {
            out.push(Violation::of(
                RuleId::JwtScope,
                at,
                format!(
                    "must start with {}/ since requested_record is a {}, was {scope}",
                    kind.scope_prefix(),
                    match kind {
                        RecordKind::Patient => "Patient",
                        RecordKind::Organization => "Organization",
                    }
                ),
            ));
        }
    }
}

/// The confidentiality `requested_scope` adds (`patient/*.read conf/N` →
/// `N`), if any.
pub fn confidentiality(claims: &Map<String, Value>) -> Option<&str> {
    claims
        .get("requested_scope")?
        .as_str()?
        .split_once(" conf/")
        .map(|(_, conf)| conf)
}

/// The NHS number of DSTU2's `requested_record` Patient: the value of its
/// identifier with an `nhs-number` system, else of its first identifier.
pub fn requested_nhs_number(claims: &Map<String, Value>) -> Option<&str> {
    let identifiers = claims
        .get("requested_record")?
        .get("identifier")?
        .as_array()?;
    identifiers
        .iter()
        .find(|i| {
            i.get("system")
                .and_then(Value::as_str)
                .is_some_and(|s| s.ends_with("/nhs-number"))
        })
        .or_else(|| identifiers.first())?
        .get("value")?
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(header: &str, payload: &Value) -> String {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        )
    }

    const HEADER: &str = r#"{"alg":"none","typ":"JWT"}"#;

    #[test]
    fn decodes_a_valid_token() {
        let jwt = decode(&token(HEADER, &json!({"sub": "1"}))).expect("decodes");
        assert_eq!(jwt.claims["sub"], "1");
    }

    #[test]
    fn decoding_edge_cases() {
        let good = token(HEADER, &json!({"sub": "1"}));
        let cases: Vec<(String, &str)> = vec![
            (
                good.trim_end_matches('.').to_string(),
                "3 dot-separated segments",
            ),
            (format!("{good}."), "had 4"),
            (format!("{good}sig"), "empty signature"),
            (
                format!(".{}", &good[good.find('.').unwrap_or(0) + 1..]),
                "empty header",
            ),
            (good.replacen('.', "=.", 1), "found `=`"),
            (good.replacen('.', "+.", 1), "found `+`"),
            (
                format!("{}.e30.", URL_SAFE_NO_PAD.encode("[1]")),
                "not an object",
            ),
            (
                format!("{}.bm90IGpzb24.", URL_SAFE_NO_PAD.encode(HEADER)),
                "payload segment is not a JSON object",
            ),
            (
                token(r#"{"alg":"HS256","typ":"JWT"}"#, &json!({})),
                "alg must be none",
            ),
            (
                token(r#"{"alg":"none","typ":"jwt"}"#, &json!({})),
                "typ must be JWT",
            ),
            (token(r#"{"alg":"none"}"#, &json!({})), "typ is missing"),
            (
                token(r#"{"alg":"none","typ":"JWT","kid":"1"}"#, &json!({})),
                "unexpected key kid",
            ),
            ("a.b".to_string(), "had 2"),
            ("".to_string(), "had 1"),
            ("é.é.".to_string(), "found `é`"),
            ("A.A.".to_string(), "not valid base64url"),
        ];
        for (token, expected) in cases {
            let error = decode(&token).expect_err(&token).to_string();
            assert!(error.contains(expected), "{token}: {error}");
        }
    }

    fn claims(era: Era) -> Map<String, Value> {
        let value = json!({
            "iss": "http://consumer", "sub": "1", "aud": DSTU2_AUDIENCE,
            "exp": 1_000_300, "iat": 1_000_000,
            "reason_for_request": "directcare", "requested_scope": "patient/*.read",
            "requested_record": {"resourceType": "Patient", "identifier": [{"system": "http://fhir.nhs.net/Id/nhs-number", "value": "9658218873"}]},
            "requesting_device": {"resourceType": "Device"},
            "requesting_organization": {"resourceType": "Organization", "identifier": [{"system": "http://fhir.nhs.net/Id/ods-organization-code", "value": "GPC001"}]},
            "requesting_practitioner": {"resourceType": "Practitioner", "id": "1", "name": {"family": ["Demo"]}, "identifier": [{"system": "http://fhir.nhs.net/sds-user-id", "value": "UNK"}]}
        });
        let mut map = value.as_object().cloned().unwrap_or_default();
        if era == Era::Stu3 {
            map.remove("requested_record");
        }
        map
    }

    fn run(claims: &Map<String, Value>, era: Era, write: bool) -> Vec<Violation> {
        let mut out = Vec::new();
        let expect = Expectation {
            era,
            kind: Some(RecordKind::Patient),
            write,
            migrate: false,
            now: 1_000_100,
        };
        check_claims(claims, &expect, &mut out);
        out
    }

    #[test]
    fn valid_claims_pass_in_both_eras() {
        assert_eq!(run(&claims(Era::Dstu2), Era::Dstu2, false), vec![]);
        assert_eq!(run(&claims(Era::Stu3), Era::Stu3, false), vec![]);
        assert_eq!(
            requested_nhs_number(&claims(Era::Dstu2)),
            Some("9658218873")
        );
    }

    #[test]
    fn claim_rules() {
        let broken = |edit: &dyn Fn(&mut Map<String, Value>), era: Era| {
            let mut c = claims(era);
            edit(&mut c);
            run(&c, era, false)
                .first()
                .map(|v| (v.status.as_u16(), v.diagnostics()))
                .unwrap_or_default()
        };
        let (status, text) = broken(
            &|c| {
                c.insert("exp".into(), json!(1_000_600));
            },
            Era::Dstu2,
        );
        assert_eq!(
            (status, text.as_str()),
            (
                400,
                "JWT claim exp - iat must be 300, was 600 (rule jwt-time)"
            )
        );
        let (_, text) = broken(
            &|c| {
                c.insert("exp".into(), json!(1_000_050));
                c.insert("iat".into(), json!(999_750));
            },
            Era::Dstu2,
        );
        assert!(text.contains("must not be in the past"), "{text}");
        let (_, text) = broken(
            &|c| {
                c.insert("exp".into(), json!(i64::MAX));
                c.insert("iat".into(), json!(i64::MIN));
            },
            Era::Dstu2,
        );
        assert!(text.contains("exp - iat must be 300"), "{text}");
        let (_, text) = broken(
            &|c| {
                c.remove("requested_record");
            },
            Era::Dstu2,
        );
        assert_eq!(
            text,
            "JWT claim requested_record is required (rule jwt-claim-required)"
        );
        let (_, text) = broken(
            &|c| {
                c.insert(
                    "requested_record".into(),
                    json!({"resourceType": "Patient"}),
                );
            },
            Era::Stu3,
        );
        assert!(text.contains("must be absent"), "{text}");
        let (status, _) = broken(
            &|c| {
                c.insert(
                    "requesting_device".into(),
                    json!({"resourceType": "Patient"}),
                );
            },
            Era::Stu3,
        );
        assert_eq!(status, 422);
        let (_, text) = broken(
            &|c| {
                c.insert("requested_scope".into(), json!("organization/*.read"));
            },
            Era::Stu3,
        );
        assert!(text.contains("must be patient/*.read"), "{text}");
        let (_, text) = broken(
            &|c| {
                c.insert("sub".into(), json!("2"));
            },
            Era::Stu3,
        );
        assert!(
            text.contains("must equal requesting_practitioner.id"),
            "{text}"
        );
        // Tolerated: a future iat with the right lifetime, any STU3 aud.
        let (status, _) = broken(
            &|c| {
                c.insert("iat".into(), json!(1_000_300));
                c.insert("exp".into(), json!(1_000_600));
                c.insert(
                    "aud".into(),
                    json!("https://provider.example/STU3/1/gpconnect"),
                );
            },
            Era::Stu3,
        );
        assert_eq!(status, 0);
    }

    #[test]
    fn write_scope_for_write_operations() {
        let mut c = claims(Era::Stu3);
        c.insert("requested_scope".into(), json!("patient/*.write"));
        assert_eq!(run(&c, Era::Stu3, true), vec![]);
        assert!(!run(&c, Era::Stu3, false).is_empty());
    }

    #[test]
    fn dstu2_accepts_requesting_identity_as_an_alias() {
        let mut claims = valid_dstu2_claims_for_alias_test();
        let practitioner = claims
            .remove("requesting_practitioner")
            .expect("practitioner claim");
        claims.insert("requesting_identity".into(), practitioner);
        let expect = Expectation {
            era: Era::Dstu2,
            kind: None,
            write: false,
            migrate: false,
            now: claims["iat"].as_i64().unwrap_or(0),
        };
        let mut out = Vec::new();
        check_claims(&claims, &expect, &mut out);
        assert!(
            out.is_empty(),
            "{:?}",
            out.iter().map(|v| v.diagnostics()).collect::<Vec<_>>()
        );
        let stu3 = Expectation {
            era: Era::Stu3,
            ..expect
        };
        let mut out = Vec::new();
        check_claims(&claims, &stu3, &mut out);
        assert!(!out.is_empty(), "STU3 has no alias");
    }

    fn valid_dstu2_claims_for_alias_test() -> Map<String, Value> {
        let claims = crate::sample::jwt_claims(&crate::sample::JwtRequest {
            era: Era::Dstu2,
            record_kind: "patient",
            write: false,
            nhs_number: "9658218873",
            ods_code: "A20047",
            now: 1_700_000_000,
        });
        match claims {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn canonical_header_constant_is_the_encoded_header() {
        assert_eq!(
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            CANONICAL_HEADER
        );
    }
}

//! The GP Connect JWT of a sample request (DOMAIN.md §4): the claims for
//! an era, scope and patient, the identity they claim (the consumer's
//! practitioner, organisation and device), and the unsigned token. The
//! Postman export's script builds the same claims at send time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::fhir::Era;

/// The practice a DSTU2 organisation-level JWT's `requested_record` names.
pub const RECORD_ODS_CODE: &str = "A20047";

/// The identity a generated GP Connect JWT claims.
#[derive(Debug, Clone, Copy)]
pub struct JwtRequest<'a> {
    pub era: Era,
    /// `patient` or `organization`.
    pub record_kind: &'a str,
    pub write: bool,
    pub nhs_number: &'a str,
    pub ods_code: &'a str,
    /// UNIX seconds.
    pub now: i64,
}

/// Who a generated GP Connect JWT says is asking: the consumer's values.
/// The Postman export puts the same values in its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIdentity {
    pub iss: String,
    pub aud: String,
    /// `requesting_practitioner.id`, and so `sub`.
    pub practitioner_id: String,
    pub practitioner_sds_user_id: String,
    pub practitioner_family: String,
    pub practitioner_given: String,
    pub practitioner_prefix: String,
    /// DSTU2's `practitionerRole` job role code.
    pub practitioner_job_role: String,
    pub organization_ods_code: String,
    pub organization_name: String,
    pub device_id: String,
    pub device_system: String,
    pub device_value: String,
    pub device_model: String,
    pub device_version: String,
}

impl Default for JwtIdentity {
    fn default() -> Self {
        Self {
            iss: "https://consumer.example.org".into(),
            aud: "https://authorize.fhir.nhs.net/token".into(),
            practitioner_id: "1".into(),
            practitioner_sds_user_id: "G13579135".into(),
            practitioner_family: "Consumer".into(),
            practitioner_given: "Test".into(),
            practitioner_prefix: "Dr".into(),
            practitioner_job_role: "R0260".into(),
            organization_ods_code: "GPCA0001".into(),
            organization_name: "Consumer Organisation".into(),
            device_id: "1".into(),
            device_system: "https://consumer.example.org/device".into(),
            device_value: "gpconnect-mock".into(),
            device_model: "gpconnect-mock".into(),
            device_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The claims of DOMAIN.md §4 for the era, with the default identity.
pub fn jwt_claims(request: &JwtRequest<'_>) -> Value {
    jwt_claims_as(request, &JwtIdentity::default())
}

/// The claims of DOMAIN.md §4 for the era, claiming `identity`.
pub fn jwt_claims_as(request: &JwtRequest<'_>, identity: &JwtIdentity) -> Value {
    let scope = format!(
        "{}/*.{}",
        request.record_kind,
        if request.write { "write" } else { "read" }
    );
    let (nhs_system, ods_system, sds_system) = jwt_systems(request.era);
    let mut claims = json!({
        "iss": identity.iss,
        "sub": identity.practitioner_id,
        "aud": identity.aud,
        "exp": request.now + 300,
        "iat": request.now,
        "reason_for_request": "directcare",
        "requested_scope": scope,
        "requesting_device": {
            "resourceType": "Device", "id": identity.device_id,
            "identifier": [{"system": identity.device_system, "value": identity.device_value}],
            "model": identity.device_model, "version": identity.device_version
        },
        "requesting_organization": {
            "resourceType": "Organization", "id": "1",
            "identifier": [{"system": ods_system, "value": identity.organization_ods_code}],
            "name": identity.organization_name
        },
    });
    let practitioner = match request.era {
        Era::Dstu2 => json!({
            "resourceType": "Practitioner", "id": identity.practitioner_id,
            "name": {
                "family": [identity.practitioner_family],
                "given": [identity.practitioner_given],
                "prefix": [identity.practitioner_prefix]
            },
            "identifier": [{"system": sds_system, "value": identity.practitioner_sds_user_id}],
            "practitionerRole": [{"role": {"coding": [{"system": "http://fhir.nhs.net/ValueSet/sds-job-role-name-1", "code": identity.practitioner_job_role}]}}]
        }),
        Era::Stu3 => json!({
            "resourceType": "Practitioner", "id": identity.practitioner_id,
            "name": [{
                "family": identity.practitioner_family,
                "given": [identity.practitioner_given],
                "prefix": [identity.practitioner_prefix]
            }],
            "identifier": [{"system": sds_system, "value": identity.practitioner_sds_user_id}]
        }),
    };
    claims["requesting_practitioner"] = practitioner;
    if request.era == Era::Dstu2 {
        claims["requested_record"] = if request.record_kind == "patient" {
            json!({"resourceType": "Patient", "identifier": [{"system": nhs_system, "value": request.nhs_number}]})
        } else {
            json!({"resourceType": "Organization", "identifier": [{"system": ods_system, "value": request.ods_code}]})
        };
    }
    claims
}

/// The (NHS number, ODS code, SDS user id) identifier systems of the JWT's
/// claims in `era` (DSTU2's SDS system lacks `/Id/`, as GP Connect 0.x has it).
pub fn jwt_systems(era: Era) -> (&'static str, &'static str, &'static str) {
    match era {
        Era::Dstu2 => (
            "http://fhir.nhs.net/Id/nhs-number",
            "http://fhir.nhs.net/Id/ods-organization-code",
            "http://fhir.nhs.net/sds-user-id",
        ),
        Era::Stu3 => (
            "https://fhir.nhs.uk/Id/nhs-number",
            "https://fhir.nhs.uk/Id/ods-organization-code",
            "https://fhir.nhs.uk/Id/sds-user-id",
        ),
    }
}

/// An unsigned JWT: `{"alg":"none","typ":"JWT"}`, the claims, an empty signature.
pub fn unsigned_jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_is_unsigned_with_300_second_lifetime() {
        let claims = jwt_claims(&JwtRequest {
            era: Era::Dstu2,
            record_kind: "patient",
            write: false,
            nhs_number: "9658218873",
            ods_code: "A20047",
            now: 1000,
        });
        assert_eq!(claims["exp"], 1300);
        assert_eq!(
            claims["requested_record"]["identifier"][0]["value"],
            "9658218873"
        );
        let token = unsigned_jwt(&claims);
        assert!(token.ends_with('.') && token.matches('.').count() == 2);
        assert!(!token.contains('='));
    }
}

//! The catalogue itself. One entry per rule; the checks that report each
//! live in the sibling modules of `contract` (named in `source` where the
//! behaviour is the definition's own).

use super::{Code, Eras, Rule};
use crate::fhir::SpineCode;
use http::StatusCode;

const fn spine(code: SpineCode) -> Code {
    Code::Fixed(code)
}

const BAD_REQUEST: Code = spine(SpineCode::BAD_REQUEST);
const INVALID_PARAMETER: Code = spine(SpineCode::INVALID_PARAMETER);
const INVALID_RESOURCE: Code = spine(SpineCode::INVALID_RESOURCE);
const INVALID_NHS_NUMBER: Code = spine(SpineCode::INVALID_NHS_NUMBER);
const INVALID_IDENTIFIER_SYSTEM: Code = spine(SpineCode::INVALID_IDENTIFIER_SYSTEM);

catalogue_of! {
    // ---- the definition's own rules (any definition)
    MediaType {
        name: "media-type",
        eras: Any,
        operations: [],
        answer: (UNSUPPORTED_MEDIA_TYPE, BAD_REQUEST),
        source: "DOMAIN.md §6",
        summary: "`_format`, `Accept` or `Content-Type` names a format the operation does not serve or take, or a body comes without `Content-Type`",
    }
    ParamRequired {
        name: "param-required",
        eras: Any,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "the definition (`required`)",
        summary: "a parameter the definition requires (query, header or path) is missing",
    }
    QueryParamInvalid {
        name: "query-param-invalid",
        eras: Any,
        operations: [],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "the definition (parameter schema); DOMAIN.md §5",
        summary: "a query parameter's value breaks its type, format, enum, pattern or bounds",
    }
    HeaderParamInvalid {
        name: "header-param-invalid",
        eras: Any,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "the definition (parameter schema)",
        summary: "a header parameter's value is not text or breaks its schema",
    }
    PathParamInvalid {
        name: "path-param-invalid",
        eras: Plain,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "the definition (parameter schema)",
        summary: "a path parameter breaks its schema (GP Connect definitions answer `unknown-id` instead)",
    }
    UnknownId {
        name: "unknown-id",
        eras: GpConnect,
        operations: [],
        answer: (NOT_FOUND, Code::NotFoundOfResource),
        source: "DOMAIN.md §11 Ids",
        summary: "an id in the path that cannot name a resource (`1@`, `##`, breaks the definition's pattern): not found, whatever its characters",
    }
    BodyRequired {
        name: "body-required",
        eras: Any,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "the definition (`in: body`, `required`)",
        summary: "the operation takes a body and none was sent",
    }
    BodyMalformed {
        name: "body-malformed",
        eras: Any,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §5",
        summary: "the body is not valid JSON, or not valid FHIR XML (line and column named)",
    }
    BodyResourceInvalid {
        name: "body-resource-invalid",
        eras: Any,
        operations: [],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "the definition (body schema); DOMAIN.md §5",
        summary: "a resource body breaks the definition's schema",
    }
    BodyParametersInvalid {
        name: "body-parameters-invalid",
        eras: Any,
        operations: [],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "the definition (body schema); DOMAIN.md §5",
        summary: "an operation's `Parameters` body breaks the definition's schema",
    }

    // ---- the Spine Secure Proxy headers (DOMAIN.md §3)
    SspHeader {
        name: "ssp-header",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §3, §10.1",
        summary: "`Ssp-TraceID`, `Ssp-From`, `Ssp-To`, `Ssp-InteractionID` or `Authorization` is missing, blank or not ASCII",
    }
    SspTo {
        name: "ssp-to",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §3, §10.1",
        summary: "`Ssp-To` is not this provider's ASID",
    }
    InteractionId {
        name: "interaction-id",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §2, §10.1",
        summary: "`Ssp-InteractionID` is not the interaction of the operation called",
    }

    // ---- the JWT (DOMAIN.md §4)
    AuthorizationBearer {
        name: "authorization-bearer",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §4, §10.3",
        summary: "`Authorization` is not `Bearer <JWT>`",
    }
    JwtMalformed {
        name: "jwt-malformed",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §4, §10.3",
        summary: "the token is not an unsigned JWT (segments, base64url, JSON, `alg: none`, `typ: JWT`)",
    }
    JwtClaimRequired {
        name: "jwt-claim-required",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §4",
        summary: "a claim is missing or null",
    }
    JwtTime {
        name: "jwt-time",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §4",
        summary: "`exp` or `iat` is not an integer UNIX time, `exp - iat` is not 300, or `exp` is past (a future `iat` is tolerated)",
    }
    JwtReason {
        name: "jwt-reason",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §4",
        summary: "`reason_for_request` is not `directcare`",
    }
    JwtAudience {
        name: "jwt-audience",
        eras: Dstu2,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §4",
        summary: "`aud` is not the Spine authorisation URL (1.x accepts any `aud`)",
    }
    JwtSubject {
        name: "jwt-subject",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §4",
        summary: "`sub` is not `requesting_practitioner.id`",
    }
    JwtScope {
        name: "jwt-scope",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §4",
        summary: "`requested_scope` is unknown, or not the read/write scope of the operation and record",
    }
    JwtRequestedRecordAbsent {
        name: "jwt-requested-record-absent",
        eras: Stu3,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §4",
        summary: "1.x tokens carry no `requested_record`",
    }
    JwtClaimResourceType {
        name: "jwt-claim-resource-type",
        eras: Dstu2,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §11 JWT claim resources (0.7.3)",
        summary: "a claim resource has the wrong `resourceType`, or is not a resource",
    }
    JwtClaimResourceInvalid {
        name: "jwt-claim-resource-invalid",
        eras: Stu3,
        operations: [],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN.md §4, §10.4",
        summary: "a claim resource has the wrong `resourceType`, or is not a resource",
    }

    // ---- identifier searches (DOMAIN.md §7)
    IdentifierParam {
        name: "identifier-param",
        eras: GpConnect,
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization", "GET /Location"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §5, §7",
        summary: "`identifier` is missing, given twice, or spelled in another case",
    }
    IdentifierSyntax {
        name: "identifier-syntax",
        eras: GpConnect,
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization", "GET /Location"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN.md §7",
        summary: "`identifier` is not `<system>|<value>` with both parts",
    }
    IdentifierSystem {
        name: "identifier-system",
        eras: GpConnect,
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization", "GET /Location"],
        answer: (BAD_REQUEST, INVALID_IDENTIFIER_SYSTEM),
        source: "DOMAIN.md §5, §7",
        summary: "the identifier system is not one the resource is searched by",
    }
    IdentifierNhsNumber {
        name: "identifier-nhs-number",
        eras: GpConnect,
        operations: ["GET /Patient"],
        answer: (BAD_REQUEST, INVALID_NHS_NUMBER),
        source: "DOMAIN.md §5, §7",
        summary: "the NHS number searched is not 10 digits or fails its modulus 11 check digit",
    }
    IdentifierSearchStray {
        name: "identifier-search-extra-parameter",
        eras: Dstu2,
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §11 Searches",
        summary: "an identifier search carries a parameter other than `identifier` and `_format`",
    }
    JwtRecordMismatch {
        name: "jwt-requested-record-patient",
        eras: Dstu2,
        operations: ["GET /Patient"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN.md §11 JWT claim resources",
        summary: "a Patient search for another patient than the JWT's `requested_record`",
    }
    CareRecordNhsNumberMismatch {
        name: "care-record-requested-record",
        eras: Dstu2,
        operations: ["POST /Patient/$gpc.getcarerecord"],
        answer: (BAD_REQUEST, INVALID_NHS_NUMBER),
        source: "DOMAIN.md §4",
        summary: "the body's `patientNHSNumber` is not the JWT `requested_record`'s NHS number",
    }
}

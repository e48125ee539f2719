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
        source: "DOMAIN §6",
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
        source: "the definition (parameter schema); DOMAIN §5",
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
        source: "DOMAIN §11 Ids",
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
        source: "DOMAIN §5",
        summary: "the body is not valid JSON, or not valid FHIR XML (line and column named)",
    }
    BodyResourceInvalid {
        name: "body-resource-invalid",
        eras: Any,
        operations: [],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "the definition (body schema); DOMAIN §5",
        summary: "a resource body breaks the definition's schema",
    }
    BodyParametersInvalid {
        name: "body-parameters-invalid",
        eras: Any,
        operations: [],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "the definition (body schema); DOMAIN §5",
        summary: "an operation's `Parameters` body breaks the definition's schema",
    }

    // ---- the Spine Secure Proxy headers (DOMAIN.md §3)
    SspHeader {
        name: "ssp-header",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §3, §10.1",
        summary: "`Ssp-TraceID`, `Ssp-From`, `Ssp-To`, `Ssp-InteractionID` or `Authorization` is missing, blank or not ASCII",
    }
    SspTo {
        name: "ssp-to",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §3, §10.1",
        summary: "`Ssp-To` is not this provider's ASID",
    }
    InteractionId {
        name: "interaction-id",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §2, §10.1",
        summary: "`Ssp-InteractionID` is not the interaction of the operation called",
    }

    // ---- the JWT (DOMAIN.md §4)
    AuthorizationBearer {
        name: "authorization-bearer",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4, §10.3",
        summary: "`Authorization` is not `Bearer <JWT>`",
    }
    JwtMalformed {
        name: "jwt-malformed",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4, §10.3",
        summary: "the token is not an unsigned JWT (segments, base64url, JSON, `alg: none`, `typ: JWT`)",
    }
    JwtClaimRequired {
        name: "jwt-claim-required",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4",
        summary: "a claim is missing or null",
    }
    JwtTime {
        name: "jwt-time",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4",
        summary: "`exp` or `iat` is not an integer UNIX time, `exp - iat` is not 300, or `exp` is past (a future `iat` is tolerated)",
    }
    JwtReason {
        name: "jwt-reason",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4",
        summary: "`reason_for_request` is not `directcare`",
    }
    JwtAudience {
        name: "jwt-audience",
        eras: Dstu2,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4",
        summary: "`aud` is not the Spine authorisation URL (1.x accepts any `aud`)",
    }
    JwtSubject {
        name: "jwt-subject",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4",
        summary: "`sub` is not `requesting_practitioner.id`",
    }
    JwtScope {
        name: "jwt-scope",
        eras: GpConnect,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4",
        summary: "`requested_scope` is unknown, or not the read/write scope of the operation and record",
    }
    JwtRequestedRecordAbsent {
        name: "jwt-requested-record-absent",
        eras: Stu3,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4",
        summary: "1.x tokens carry no `requested_record`",
    }
    JwtClaimResourceType {
        name: "jwt-claim-resource-type",
        eras: Dstu2,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §11 JWT claim resources (0.7.3)",
        summary: "a claim resource has the wrong `resourceType`, or is not a resource",
    }
    JwtClaimResourceInvalid {
        name: "jwt-claim-resource-invalid",
        eras: Stu3,
        operations: [],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §4, §10.4",
        summary: "a claim resource has the wrong `resourceType`, or is not a resource",
    }

    JwtClaimResourceElement {
        name: "jwt-claim-resource-element",
        eras: Dstu2,
        operations: [],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §11 JWT claim resources (0.7.3)",
        summary: "`requesting_device`, `requesting_organization` or `requesting_practitioner` carries an element its resource type does not define, or one of the wrong type",
    }
    JwtOrganizationIdentifier {
        name: "jwt-organization-identifier",
        eras: Dstu2,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §11 JWT claim resources (0.7.3)",
        summary: "`requesting_organization` has no identifier with the ODS organisation code system and a value",
    }
    JwtPractitionerIdentifier {
        name: "jwt-practitioner-identifier",
        eras: Dstu2,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §4, §11 JWT claim resources (0.7.3)",
        summary: "`requesting_practitioner` has no identifier with the SDS user id system and a value (`UNK` is fine)",
    }
    JwtPractitionerName {
        name: "jwt-practitioner-name",
        eras: Dstu2,
        operations: [],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §11 JWT claim resources (0.7.3)",
        summary: "`requesting_practitioner.name` has neither `family` nor `given`",
    }

    // ---- identifier searches (DOMAIN.md §7)
    IdentifierParam {
        name: "identifier-param",
        eras: GpConnect,
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization", "GET /Location"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §5, §7",
        summary: "`identifier` is missing, given twice, or spelled in another case",
    }
    IdentifierSyntax {
        name: "identifier-syntax",
        eras: GpConnect,
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization", "GET /Location"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §7",
        summary: "`identifier` is not `<system>|<value>` with both parts",
    }
    IdentifierSystem {
        name: "identifier-system",
        eras: GpConnect,
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization", "GET /Location"],
        answer: (BAD_REQUEST, INVALID_IDENTIFIER_SYSTEM),
        source: "DOMAIN §5, §7",
        summary: "the identifier system is not one the resource is searched by",
    }
    IdentifierNhsNumber {
        name: "identifier-nhs-number",
        eras: GpConnect,
        operations: ["GET /Patient"],
        answer: (BAD_REQUEST, INVALID_NHS_NUMBER),
        source: "DOMAIN §5, §7",
        summary: "the NHS number searched is not 10 digits or fails its modulus 11 check digit",
    }
    IdentifierSearchStray {
        name: "identifier-search-extra-parameter",
        eras: Dstu2,
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §11 Searches",
        summary: "an identifier search carries a parameter other than `identifier` and `_format`",
    }
    JwtRecordMismatch {
        name: "jwt-requested-record-patient",
        eras: Dstu2,
        operations: ["GET /Patient"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §11 JWT claim resources",
        summary: "a Patient search for another patient than the JWT's `requested_record`",
    }
    CareRecordNhsNumberMismatch {
        name: "care-record-requested-record",
        eras: Dstu2,
        operations: ["POST /Patient/$gpc.getcarerecord"],
        answer: (BAD_REQUEST, INVALID_NHS_NUMBER),
        source: "DOMAIN §4",
        summary: "the body's `patientNHSNumber` is not the JWT `requested_record`'s NHS number",
    }
    // ---- DSTU2 $gpc.getcarerecord parameters (DOMAIN.md §11)
    CareRecordParameterName {
        name: "care-record-parameter-name",
        eras: Dstu2,
        operations: ["POST /Patient/$gpc.getcarerecord"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §11 getcarerecord parameters",
        summary: "a parameter other than `patientNHSNumber`, `recordSection` and `timePeriod` (names are case-sensitive)",
    }
    CareRecordNhsNumber {
        name: "care-record-nhs-number",
        eras: Dstu2,
        operations: ["POST /Patient/$gpc.getcarerecord"],
        answer: (BAD_REQUEST, INVALID_NHS_NUMBER),
        source: "DOMAIN §11 getcarerecord parameters",
        summary: "`patientNHSNumber` missing or repeated, not a `valueIdentifier`, its system not the NHS number system, or the number not 10 digits passing modulus 11",
    }
    CareRecordSection {
        name: "care-record-section",
        eras: Dstu2,
        operations: ["POST /Patient/$gpc.getcarerecord"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §11 getcarerecord parameters",
        summary: "`recordSection` missing or repeated, not a `valueCodeableConcept` with one coding and a code, or its system not the record-section system",
    }
    CareRecordSectionSystemEmpty {
        name: "care-record-section-system-empty",
        eras: Dstu2,
        operations: ["POST /Patient/$gpc.getcarerecord"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §11 getcarerecord parameters",
        summary: "`recordSection`'s coding has an empty `system`",
    }
    CareRecordTimePeriod {
        name: "care-record-time-period",
        eras: Dstu2,
        operations: ["POST /Patient/$gpc.getcarerecord"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §11 getcarerecord parameters",
        summary: "`timePeriod` repeated or not a `valuePeriod`, a bound neither a FHIR date nor a dateTime with seconds and zone, or start after end",
    }

    // ---- DSTU2 $gpc.getschedule (DOMAIN.md §11 getschedule)
    ScheduleParameter {
        name: "schedule-parameter",
        eras: Dstu2,
        operations: ["POST /Organization/$gpc.getschedule", "POST /Organization/{id}/$gpc.getschedule"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §11 getschedule",
        summary: "`timePeriod` missing or repeated, or a parameter the operation does not define (the instance path takes only `timePeriod`; the type-level path also `odsCode`)",
    }
    ScheduleTimePeriod {
        name: "schedule-time-period",
        eras: Dstu2,
        operations: ["POST /Organization/$gpc.getschedule", "POST /Organization/{id}/$gpc.getschedule"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §10.11, §11 getschedule",
        summary: "`timePeriod` without both `start` and `end`, a bound not a full date (`yyyy-MM-dd`) or dateTime, start after end, or longer than 14 days",
    }

    // ---- DSTU2 patient appointments
    AppointmentsStart {
        name: "appointments-start",
        eras: Dstu2,
        operations: ["GET /Patient/{id}/Appointment"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §11 Patient appointments",
        summary: "`start` is not an optional search prefix (`eq`, `ne`, `gt`, `lt`, `ge`, `le`, `sa`, `eb`, `ap`) followed by a FHIR date or dateTime",
    }

    // ---- DSTU2 booking, amend and cancel (DOMAIN.md §11 Booking, Amend and cancel)
    AppointmentBodyType {
        name: "appointment-body-type",
        eras: Dstu2,
        operations: ["POST /Appointment", "PUT /Appointment/{id}"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §11 Booking",
        summary: "the body is not an Appointment (a Patient, a Bundle, …)",
    }
    AppointmentCreateId {
        name: "appointment-create-id",
        eras: Dstu2,
        operations: ["POST /Appointment"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §11 Booking",
        summary: "a booking carries an `id` (the provider assigns it)",
    }
    AppointmentProfile {
        name: "appointment-profile",
        eras: Dstu2,
        operations: ["POST /Appointment"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §11 Booking",
        summary: "a booking breaks the Appointment profile: `start`, `end`, `slot` or `participant` missing, an element the profile does not define, a value of the wrong type, an identifier without a value",
    }
    AppointmentExtension {
        name: "appointment-extension",
        eras: Dstu2,
        operations: ["POST /Appointment", "PUT /Appointment/{id}"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §11 Booking",
        summary: "an extension without `url`, without a value, or whose url is not a GP Connect one",
    }
    AppointmentParticipants {
        name: "appointment-participants",
        eras: Dstu2,
        operations: ["POST /Appointment"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §11 Booking",
        summary: "the participants do not include a Patient and a Practitioner",
    }
    AppointmentUpdateInvalid {
        name: "appointment-update-invalid",
        eras: Dstu2,
        operations: ["PUT /Appointment/{id}"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §11 Amend and cancel",
        summary: "an amend or cancel body breaks the Appointment profile, or its `id` is not the one in the path",
    }
    AppointmentCancelReason {
        name: "appointment-cancel-reason",
        eras: Dstu2,
        operations: ["PUT /Appointment/{id}"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §10.13, §11 Amend and cancel",
        summary: "a cancel (`status: cancelled`) without the cancellation-reason extension (exact url) and a non-empty `valueString`",
    }

    // ---- DSTU2 Order (Task Management)
    OrderProfile {
        name: "order-profile",
        eras: Dstu2,
        operations: ["POST /Order"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §11 Order",
        summary: "the body is not an Order, lacks `subject` or `detail`, carries an element the profile does not define, or has no GP Connect profile in `meta.profile`",
    }
    OrderReference {
        name: "order-reference",
        eras: Dstu2,
        operations: ["POST /Order"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §11 Order",
        summary: "a reference that does not resolve locally: `#id` naming no contained resource, or not a relative `Type/id`",
    }
    OrderDate {
        name: "order-date",
        eras: Dstu2,
        operations: ["POST /Order"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §11 Order",
        summary: "`date` is not today (UTC, a day's tolerance either side for time zones)",
    }
}

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
const FHIR_CONSTRAINT_VIOLATION: Code = spine(SpineCode::FHIR_CONSTRAINT_VIOLATION);
const CONFLICTING_VALUES: Code = spine(SpineCode::CONFLICTING_VALUES);

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
        summary: "`reason_for_request` is not `directcare` (`migration` for the migrate interactions: Access Record Structured's migrate and Access Document's `migrate:binary-1`)",
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
        summary: "`requested_scope` is unknown, or not the read/write scope of the operation and record; in 1.x, a confidentiality other than ` conf/N` on `patient/*.read` (migrate: it must have ` conf/N` or ` conf/R`)",
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
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization", "GET /Location", "GET /HealthcareService"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §5, §7",
        summary: "`identifier` is missing (optional on `GET /HealthcareService`), given twice, or spelled in another case",
    }
    IdentifierSyntax {
        name: "identifier-syntax",
        eras: GpConnect,
        operations: ["GET /Patient", "GET /Practitioner", "GET /Organization", "GET /Location", "GET /HealthcareService"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §7; DOMAIN-STU3 §3 (HealthcareService)",
        summary: "`identifier` is not `<system>|<value>` with both parts; on `GET /HealthcareService`, its system is not the DOS service id (`https://fhir.nhs.uk/Id/uec-dos-service-id`)",
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

    // ---- versions (DOMAIN.md §3, §5; DOMAIN-STU3.md §7.2)
    IfMatchMalformed {
        name: "if-match-malformed",
        eras: Dstu2,
        operations: ["PUT /Appointment/{id}"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §3",
        summary: "`If-Match` is not a list of entity tags (`W/\"<versionId>\"`, `\"<versionId>\"` or `*`); 1.x answers it as stale",
    }
    IfMatchStale {
        name: "if-match-stale",
        eras: GpConnect,
        operations: ["PUT /Appointment/{id}"],
        answer: (CONFLICT, FHIR_CONSTRAINT_VIOLATION),
        source: "DOMAIN §3, §5; DOMAIN-STU3 §7.2",
        summary: "`If-Match` names another version than the stored one (1.x: or is no entity tag, `invalidEtag`); nothing changes. Without `If-Match` an amend or cancel goes on, in both eras",
    }

    // ---- 1.x search for free slots (DOMAIN.md §2b, §10.11; the 1.x pack's SearchForFreeSlots)
    SlotSearchParameterMissing {
        name: "slot-search-parameter-missing",
        eras: Stu3,
        operations: ["GET /Slot"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN §2b, §5, §10.11",
        summary: "`start`, `end` or `status` is missing, or no `_include` is `Slot:schedule`",
    }
    SlotSearchDate {
        name: "slot-search-date",
        eras: Stu3,
        operations: ["GET /Slot"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §2b, §10.11",
        summary: "`start` is not `ge`, or `end` not `le`, followed by a full date (`yyyy-MM-dd`) or a dateTime with seconds and an offset; or either is given twice",
    }
    SlotSearchWindow {
        name: "slot-search-window",
        eras: Stu3,
        operations: ["GET /Slot"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §2b, §10.11",
        summary: "`start` is after `end`, or the two are more than 14 days apart",
    }
    SlotSearchStatus {
        name: "slot-search-status",
        eras: Stu3,
        operations: ["GET /Slot"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §2b, §10.11",
        summary: "`status` is not `free` (or is given twice)",
    }

    // ---- Access Document's document search (DOMAIN-STU3.md §2, §6.15)
    DocumentSearchInclude {
        name: "document-search-include",
        eras: Stu3,
        operations: ["GET /Patient/{id}/DocumentReference"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN-STU3 §2, §6.15",
        summary: "a document search without all four `_include`s (`DocumentReference:subject:Patient`, `:custodian:Organization`, `:author:Organization`, `:author:Practitioner`) or without `_revinclude:recurse=PractitionerRole:practitioner`",
    }
    DocumentSearchAuthor {
        name: "document-search-author",
        eras: Stu3,
        operations: ["GET /Patient/{id}/DocumentReference"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN-STU3 §2, §6.15",
        summary: "`author` is not `https://fhir.nhs.uk/Id/ods-organization-code|<ODS code>`, or is given twice",
    }
    DocumentSearchCreated {
        name: "document-search-created",
        eras: Stu3,
        operations: ["GET /Patient/{id}/DocumentReference"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN-STU3 §2, §6.15",
        summary: "a `created` that is not `ge` or `le` and a date (`yyyy`, `yyyy-MM`, `yyyy-MM-dd`) or a dateTime with seconds and an offset; two `ge`s or two `le`s; the `ge` date after the `le` one",
    }

    // ---- Access Record Structured 1.6 (DOMAIN-STU3.md §1.2-§1.4, §6.7-9, §6.13)
    StructuredResource {
        name: "structured-parameters-resource",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.getstructuredrecord", "POST /Patient/$gpc.migratestructuredrecord"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN-STU3 §1.3",
        summary: "the body is not a FHIR Parameters resource with a `parameter` list of named parameters, or a parameter or part is given twice",
    }
    StructuredNhsNumber {
        name: "structured-nhs-number",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.getstructuredrecord", "POST /Patient/$gpc.migratestructuredrecord"],
        answer: (BAD_REQUEST, INVALID_NHS_NUMBER),
        source: "DOMAIN-STU3 §1.3, §6.9",
        summary: "`patientNHSNumber` is not 10 digits passing modulus 11",
    }
    StructuredIdentifierSystem {
        name: "structured-identifier-system",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.getstructuredrecord", "POST /Patient/$gpc.migratestructuredrecord"],
        answer: (BAD_REQUEST, INVALID_IDENTIFIER_SYSTEM),
        source: "DOMAIN-STU3 §1.3 [demo]",
        summary: "`patientNHSNumber`'s identifier system is not `https://fhir.nhs.uk/Id/nhs-number`",
    }
    StructuredParameter {
        name: "structured-parameter",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.getstructuredrecord", "POST /Patient/$gpc.migratestructuredrecord"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN-STU3 §1.2, §1.3, §6.7, §6.9",
        summary: "no `patientNHSNumber` or not a `valueIdentifier` with a value; no clinical area asked for; `includeAllergies` without `includeResolvedAllergies`; a known part without a value or of the wrong type; a date not a whole date, in the future (a diary date: in the past), a period's start after its end; `includeNumberOfMostRecent` below 1; `filterStatus` not active/inactive",
    }
    StructuredRecentWithPeriod {
        name: "structured-recent-with-period",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.getstructuredrecord"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN-STU3 §1.3, §6.8",
        summary: "`includeConsultations` has both `consultationSearchPeriod` and `includeNumberOfMostRecent`",
    }
    StructuredCombination {
        name: "structured-combination",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.getstructuredrecord"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN-STU3 §1.2, §6.9",
        summary: "with `includeConsultations`: `medicationSearchFromDate`, `uncategorisedDataSearchPeriod`, `filterStatus`, `referralSearchPeriod`, `diaryEntriesSearchDate`, `includeNotGiven` or `includeStatus`; with `includeProblems` the same but `filterStatus`; except the two predefined searches",
    }
    MigrateParameter {
        name: "migrate-parameter",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.migratestructuredrecord"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN-STU3 §1.3, §1.4, §6.13",
        summary: "a parameter other than `patientNHSNumber` and `includeFullRecord`, a part other than `includeSensitiveInformation`, or no `includeFullRecord` with a boolean `includeSensitiveInformation`",
    }
    MigrateConflictingValues {
        name: "migrate-sensitive-scope",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.migratestructuredrecord"],
        answer: (BAD_REQUEST, CONFLICTING_VALUES),
        source: "DOMAIN-STU3 §1.3, §6.13",
        summary: "`includeSensitiveInformation` is true but the JWT's `requested_scope` is `conf/N`",
    }

    // ---- 1.x patient appointments (DOMAIN.md §2b, §10.14)
    AppointmentsStartRange {
        name: "appointments-start-range",
        eras: Stu3,
        operations: ["GET /Patient/{id}/Appointment"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §2b, §10.14",
        summary: "not exactly two `start`s, one `ge` and one `le`, each a date only (`yyyy-MM-dd`), the `ge` one not after the `le` one",
    }
    AppointmentsStartPast {
        name: "appointments-start-past",
        eras: Stu3,
        operations: ["GET /Patient/{id}/Appointment"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §2b, §10.14",
        summary: "a `start` date before today (UTC): appointments in the past cannot be searched",
    }

    // ---- 1.x $gpc.registerpatient (DOMAIN-STU3.md §3; the 1.x pack's PatientRegister)
    RegisterPatientBody {
        name: "register-patient-body",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.registerpatient"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN-STU3 §3",
        summary: "the body is not a `Parameters` with one `registerPatient` holding a `Patient` resource (a missing one, another parameter, another resource type)",
    }
    RegisterPatientDuplicate {
        name: "register-patient-duplicate",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.registerpatient"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN-STU3 §3, §7",
        summary: "`registerPatient` is given more than once",
    }
    RegisterPatientProfile {
        name: "register-patient-profile",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.registerpatient"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN-STU3 §3",
        summary: "the Patient breaks CareConnect-GPC-Patient-1 as registration takes it: no `meta.profile`, an element registration forbids (`active`, `multipleBirth[x]`, `contact`, `generalPractitioner`, `managingOrganization`, `maritalStatus`, …) or the type does not define, a value of the wrong type, an address not `home`/`temp` or two of one use, an extension other than one `nhsCommunication`",
    }
    RegisterPatientDemographics {
        name: "register-patient-demographics",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.registerpatient"],
        answer: (BAD_REQUEST, BAD_REQUEST),
        source: "DOMAIN-STU3 §3, §7",
        summary: "the Patient lacks what a PDS trace needs: no `birthDate`, not exactly one `official` name with `family` and `given`; or an identifier without `system`, two phone numbers of one use, two email addresses",
    }
    RegisterPatientNhsNumber {
        name: "register-patient-nhs-number",
        eras: Stu3,
        operations: ["POST /Patient/$gpc.registerpatient"],
        answer: (BAD_REQUEST, INVALID_NHS_NUMBER),
        source: "DOMAIN-STU3 §3; DOMAIN §5, §7",
        summary: "the Patient has no identifier with the NHS number system, or its value is not 10 digits passing modulus 11",
    }

    // ---- 1.x book, amend and cancel (DOMAIN.md §2b, §10.12–13; DOMAIN-STU3.md §3)
    BookingProfile {
        name: "booking-profile",
        eras: Stu3,
        operations: ["POST /Appointment"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §2b, §10.12; DOMAIN-STU3 §3",
        summary: "the body is not an Appointment, or breaks GPConnect-Appointment-1: no `meta.profile`, `status` not `booked`, `start`, `end`, `slot`, `participant`, `created` or `description` missing, `reason` or `specialty` sent, an element the type does not define, a value of the wrong type, a participant without `actor` or `status`, an identifier without a value",
    }
    BookingParticipants {
        name: "booking-participants",
        eras: Stu3,
        operations: ["POST /Appointment"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §2b, §10.12",
        summary: "the participants do not include a Patient and a Location",
    }
    BookingOrganisation {
        name: "booking-organisation",
        eras: Stu3,
        operations: ["POST /Appointment"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §2b; DOMAIN-STU3 §3",
        summary: "no booking-organisation extension, or its `valueReference` is not `#<id>` of a contained Organization with an ODS code identifier, a `name` and a `telecom` (and no element Organization lacks)",
    }
    AppointmentExtensionStu3 {
        name: "appointment-extension-1x",
        eras: Stu3,
        operations: ["POST /Appointment", "PUT /Appointment/{id}"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN-STU3 §3; the 1.x pack's AppointmentCancel",
        summary: "an extension without `url` or value, whose url is not a GP Connect 1.x one (`https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-…`), or a cancellation reason on a booking or an amend",
    }
    AppointmentReference {
        name: "appointment-reference",
        eras: Stu3,
        operations: ["POST /Appointment", "PUT /Appointment/{id}"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN-STU3 §3; the 1.x pack's AppointmentBook, AppointmentCancel",
        summary: "a `slot` or participant `actor` reference that is not relative `<Type>/<id>` with a FHIR id (an absolute URL, `Slot/4##`), a slot reference to another type; on an amend or cancel, a booking organisation that is not `#<id>` of a contained resource",
    }
    AppointmentTextLength {
        name: "appointment-text-length",
        eras: Stu3,
        operations: ["POST /Appointment", "PUT /Appointment/{id}"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §2b",
        summary: "`description` longer than 100 characters, or `comment` longer than 500",
    }
    AppointmentUpdateProfile {
        name: "appointment-update-profile",
        eras: Stu3,
        operations: ["PUT /Appointment/{id}"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN §10.13; the 1.x pack's AppointmentAmend",
        summary: "an amend or cancel body that is not an Appointment, breaks GPConnect-Appointment-1 (as `booking-profile`, any `status`), or whose `id` is absent or not the one in the path",
    }
    AppointmentCancelReasonMissing {
        name: "appointment-cancel-reason-missing",
        eras: Stu3,
        operations: ["PUT /Appointment/{id}"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_RESOURCE),
        source: "DOMAIN-STU3 §3; the 1.x pack's AppointmentCancel",
        summary: "a cancel (`status: cancelled`) without the cancellation-reason extension (`…/Extension-GPConnect-AppointmentCancellationReason-1`, exact url)",
    }
    AppointmentCancelReasonEmpty {
        name: "appointment-cancel-reason-empty",
        eras: Stu3,
        operations: ["PUT /Appointment/{id}"],
        answer: (UNPROCESSABLE_ENTITY, INVALID_PARAMETER),
        source: "DOMAIN §10.13; the 1.x pack's AppointmentCancel",
        summary: "the cancellation reason has no `valueString`, or a blank one",
    }
}

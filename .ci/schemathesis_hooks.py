"""Schemathesis hooks for gpconnect-mock (loaded via SCHEMATHESIS_HOOKS).

1. GP Connect speaks FHIR JSON under media types schemathesis does not know
   as JSON: DSTU2's `application/json+fhir` (not a `+json` suffix) and STU3's
   `application/fhir+json`. Bodies are sent and read as plain JSON.
2. Cases whose headers were generated as valid get valid GP Connect headers
   (provider ASID, a fresh unsigned JWT with the operation's scope), so the
   fuzzed paths, queries and bodies reach the scenarios instead of stopping
   at the JWT check. Cases with deliberately invalid headers are left alone.
"""

import base64
import json
import time
import uuid

import schemathesis
from schemathesis.core.parameters import ParameterLocation

FHIR_JSON = ["application/json+fhir", "application/fhir+json"]
PROVIDER_ASID = "918999198993"
CONSUMER_ASID = "200000000359"

schemathesis.serializer.alias(FHIR_JSON, "application/json")


@schemathesis.deserializer(*FHIR_JSON)
def fhir_json(ctx, response):
    return json.loads(response.content)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _nhs_number(body) -> str:
    """The body's patientNHSNumber, so $gpc.getcarerecord's JWT matches it."""
    if isinstance(body, dict):
        for parameter in body.get("parameter") or []:
            if isinstance(parameter, dict) and parameter.get("name") == "patientNHSNumber":
                value = (parameter.get("valueIdentifier") or {}).get("value")
                if isinstance(value, str):
                    return value
    return "9658218873"


def _jwt(method: str, path: str, body) -> str:
    patient = any(part in path for part in ("/Patient", "/Appointment", "/Order"))
    write = method in ("POST", "PUT") and "$gpc." not in path
    scope = ("patient" if patient else "organization") + ("/*.write" if write else "/*.read")
    if patient:
        record = {"resourceType": "Patient", "identifier": [{"system": "http://fhir.nhs.net/Id/nhs-number", "value": _nhs_number(body)}]}
    else:
        record = {"resourceType": "Organization", "identifier": [{"system": "http://fhir.nhs.net/Id/ods-organization-code", "value": "A20047"}]}
    now = int(time.time())
    claims = {
        "iss": "http://schemathesis.example",
        "sub": "1",
        "aud": "https://authorize.fhir.nhs.net/token",
        "exp": now + 300,
        "iat": now,
        "reason_for_request": "directcare",
        "requested_scope": scope,
        "requested_record": record,
        "requesting_device": {"resourceType": "Device", "id": "1", "identifier": [{"system": "Schemathesis", "value": "1"}], "model": "schemathesis", "version": "4"},
        "requesting_organization": {"resourceType": "Organization", "id": "1", "identifier": [{"system": "http://fhir.nhs.net/Id/ods-organization-code", "value": "GPCA0001"}], "name": "Fuzz"},
        "requesting_practitioner": {"resourceType": "Practitioner", "id": "1", "name": {"family": ["Fuzz"]}, "identifier": [{"system": "http://fhir.nhs.net/sds-user-id", "value": "UNK"}]},
    }
    header = _b64(b'{"alg":"none","typ":"JWT"}')
    payload = _b64(json.dumps(claims).encode())
    return f"{header}.{payload}."


def _headers_negative(case) -> bool:
    try:
        return bool(case.meta and case.meta.is_negative_at(ParameterLocation.HEADER))
    except Exception:  # an older or newer metadata shape: treat as valid
        return False


@schemathesis.hook
def map_case(context, case):
    if _headers_negative(case):
        return case
    operation = case.operation
    headers = dict(case.headers or {})
    headers["Ssp-TraceID"] = str(uuid.uuid4())
    headers["Ssp-From"] = CONSUMER_ASID
    headers["Ssp-To"] = PROVIDER_ASID
    headers["Authorization"] = "Bearer " + _jwt(operation.method.upper(), operation.path, case.body)
    case.headers = headers
    return case

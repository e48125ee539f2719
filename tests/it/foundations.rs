//! The GP Connect 1.x Foundations pack (`scenarios/foundations`,
//! `templates/foundations`) on the default server, beside the DSTU2 API:
//! the CapabilityStatement, patients by role, `$gpc.registerpatient`,
//! practitioners, organisations, locations and the 1.2.8 HealthcareService
//! switch.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{client, copy_tree, project_dir, Server};
use crate::gpc;
use crate::gpc1::{self, entries_of, spine_code, Reply, BASE};

const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const PROFILE: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/";

async fn get(server: &Server, path: &str, operation: &str) -> Reply {
    gpc1::send(server, Method::GET, path, operation, None).await
}

async fn search_patient(server: &Server, nhs: &str) -> Reply {
    get(
        server,
        &format!("/Patient?identifier={NHS_SYSTEM}%7C{nhs}"),
        "Patient_Search",
    )
    .await
}

async fn register(server: &Server, body: Value) -> Reply {
    gpc1::send(
        server,
        Method::POST,
        "/Patient/$gpc.registerpatient",
        "Patient_Register",
        Some(body),
    )
    .await
}

/// A `$gpc.registerpatient` body for the person with these demographics.
fn registration(nhs: &str, family: &str, given: &str, gender: &str, birth_date: &str) -> Value {
    json!({
        "resourceType": "Parameters",
        "parameter": [{
            "name": "registerPatient",
            "resource": {
                "resourceType": "Patient",
                "meta": {"profile": [format!("{PROFILE}CareConnect-GPC-Patient-1")]},
                "identifier": [{"system": NHS_SYSTEM, "value": nhs}],
                "name": [{"use": "official", "family": family, "given": [given]}],
                "gender": gender,
                "birthDate": birth_date
            }
        }]
    })
}

fn profile_of(resource: &Value) -> &str {
    resource["meta"]["profile"][0].as_str().unwrap_or("")
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The sub-extension `url` of a Patient's registration details.
fn registration_detail<'a>(patient: &'a Value, url: &str) -> &'a Value {
    patient["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["url"] == format!("{PROFILE}Extension-CareConnect-GPC-RegistrationDetails-1"))
        .and_then(|e| e["extension"].as_array())
        .into_iter()
        .flatten()
        .find(|e| e["url"] == url)
        .unwrap_or(&Value::Null)
}

/// Checks a served Patient's CareConnect-GPC-Patient-1 shape.
fn assert_patient(patient: &Value, id: &str, nhs: &str, family: &str, gender: &str, birth: &str) {
    assert_eq!(patient["resourceType"], "Patient", "{patient}");
    assert_eq!(patient["id"], id, "{patient}");
    assert_eq!(
        profile_of(patient),
        format!("{PROFILE}CareConnect-GPC-Patient-1")
    );
    assert_eq!(patient["meta"]["versionId"], "1");
    let identifier = &patient["identifier"][0];
    assert_eq!(identifier["system"], NHS_SYSTEM);
    assert_eq!(identifier["value"], nhs);
    assert_eq!(
        identifier["extension"][0]["url"],
        format!("{PROFILE}Extension-CareConnect-GPC-NHSNumberVerificationStatus-1")
    );
    assert_eq!(
        identifier["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "01"
    );
    assert_eq!(patient["name"][0]["use"], "official");
    assert_eq!(patient["name"][0]["family"], family);
    assert_eq!(patient["gender"], gender);
    assert_eq!(patient["birthDate"], birth);
    assert!(registration_detail(patient, "registrationPeriod")["valuePeriod"]["start"].is_string());
    assert_eq!(
        registration_detail(patient, "registrationType")["valueCodeableConcept"]["coding"][0]
            ["system"],
        "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-RegistrationType-1"
    );
    assert!(patient["managingOrganization"]["reference"]
        .as_str()
        .is_some_and(|r| r.starts_with("Organization/")));
}

fn registration_type(patient: &Value) -> &str {
    registration_detail(patient, "registrationType")["valueCodeableConcept"]["coding"][0]["code"]
        .as_str()
        .unwrap_or("")
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.body["resourceType"], "OperationOutcome",
        "{}",
        reply.body
    );
    assert_eq!(spine_code(&reply.body), code, "{}", reply.body);
    assert_eq!(
        profile_of(&reply.body),
        format!("{PROFILE}GPConnect-OperationOutcome-1")
    );
}

fn assert_searchset(reply: &Reply, entries: usize) {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["resourceType"], "Bundle");
    assert_eq!(reply.body["type"], "searchset");
    let found = reply.body["entry"].as_array().map_or(0, Vec::len);
    assert_eq!(found, entries, "{}", reply.body);
}

#[tokio::test]
async fn foundations_capability_statement_beside_the_dstu2_api() {
    let server = Server::start(&[]);
    let reply = get(&server, "/metadata", "Metadata_Read").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let statement = &reply.body;
    assert_eq!(statement["resourceType"], "CapabilityStatement");
    assert_eq!(statement["version"], "1.5.0");
    assert_eq!(statement["fhirVersion"], "3.0.1");
    assert_eq!(
        statement["format"],
        json!(["application/fhir+json", "application/fhir+xml"])
    );
    assert_eq!(header(&reply, "cache-control"), "no-store");
    assert_eq!(header(&reply, "etag"), "W/\"1\"");
    let rest = &statement["rest"][0];
    let types: Vec<&str> = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    for wanted in [
        "Patient",
        "Organization",
        "Practitioner",
        "Location",
        "Appointment",
        "Slot",
    ] {
        assert!(types.contains(&wanted), "{wanted} missing: {types:?}");
    }
    // 1.2.8 service filtering is off by default: a 1.2.7 statement.
    assert!(!types.contains(&"HealthcareService"), "{types:?}");
    assert!(statement.get("extension").is_none());
    assert_eq!(rest["operation"][0]["name"], "gpc.registerpatient");
    assert!(rest["resource"][0]["profile"]["reference"]
        .as_str()
        .unwrap()
        .starts_with(PROFILE));

    // The DSTU2 API still answers on the same server.
    let dstu2 = gpc::send(
        &server,
        Method::GET,
        "/fhir/Patient/2",
        "Patient_Read",
        "9658218873",
        None,
    )
    .await;
    assert_eq!(dstu2.status, 200, "{}", dstu2.body);
    assert_eq!(dstu2.body["resourceType"], "Patient");
    assert_eq!(
        profile_of(&dstu2.body),
        "http://fhir.nhs.net/StructureDefinition/gpconnect-patient-1"
    );
}

#[tokio::test]
async fn foundations_patients_are_served_by_their_roles() {
    let server = Server::start(&[]);
    // (NHS number, logical id, family, gender, birth date, served?)
    let patients = [
        ("9690937278", "1", "SAMUAL", "male", "1938-12-11", true),
        ("9690937286", "2", "SKELLY", "male", "1925-04-21", true),
        // no consent to record sharing: found and read all the same
        ("9690938576", "15", "McCAIN", "female", "1972-09-16", true),
        // superseded NHS number: served
        ("9690938622", "11", "HORN", "female", "1978-11-28", true),
        // not on PDS but held by the practice: served
        ("9476718943", "14", "HOPLEY", "female", "1927-05-15", true),
        // sensitive
        ("9690938533", "9", "CLAY", "female", "2000-09-09", false),
        ("9690938541", "10", "REEVES", "female", "1960-03-28", false),
        // deceased
        ("9690938681", "18", "ROONEY", "male", "1968-02-03", false),
        // inactive registration
        ("9690938142", "21", "INACTIVE", "male", "1970-01-01", false),
    ];
    for (nhs, id, family, gender, birth, served) in patients {
        let search = search_patient(&server, nhs).await;
        assert_searchset(&search, usize::from(served));
        let read = get(&server, &format!("/Patient/{id}"), "Patient_Read").await;
        if served {
            let found = entries_of(&search.body, "Patient");
            assert_patient(found[0], id, nhs, family, gender, birth);
            assert_eq!(read.status, 200, "{}", read.body);
            assert_patient(&read.body, id, nhs, family, gender, birth);
            assert_eq!(header(&read, "etag"), "W/\"1\"");
            assert_eq!(header(&read, "cache-control"), "no-store");
        } else {
            assert_error(&read, 404, "PATIENT_NOT_FOUND");
        }
    }
    // The practice patient's GP and branch surgery.
    let read = get(&server, "/Patient/1", "Patient_Read").await;
    assert_eq!(
        read.body["generalPractitioner"][0]["reference"],
        "Practitioner/1"
    );
    assert_eq!(
        registration_detail(&read.body, "preferredBranchSurgery")["valueReference"]["reference"],
        "Location/16"
    );
    assert_eq!(registration_type(&read.body), "R");

    // Unknown: no entries, 404; register pool patients are not the practice's.
    assert_searchset(&search_patient(&server, "9999999999").await, 0);
    assert_searchset(&search_patient(&server, "9651258500").await, 0);
    assert_error(
        &get(&server, "/Patient/999", "Patient_Read").await,
        404,
        "PATIENT_NOT_FOUND",
    );
    assert_error(
        &get(&server, "/Patient/1@", "Patient_Read").await,
        404,
        "PATIENT_NOT_FOUND",
    );

    // Malformed identifiers (DOMAIN.md §7).
    assert_error(
        &search_patient(&server, "1234567891").await,
        400,
        "INVALID_NHS_NUMBER",
    );
    assert_error(
        &get(
            &server,
            "/Patient?identifier=https://fhir.nhs.uk/Id/sds-user-id%7C9690937278",
            "Patient_Search",
        )
        .await,
        400,
        "INVALID_IDENTIFIER_SYSTEM",
    );
    assert_error(
        &get(&server, "/Patient", "Patient_Search").await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &get(
            &server,
            &format!("/Patient?identifier={NHS_SYSTEM}%7C"),
            "Patient_Search",
        )
        .await,
        422,
        "INVALID_PARAMETER",
    );

    // FHIR XML on request (`_format` wins over the helpers' `Accept`).
    let response = gpc1::request(
        &client(),
        Method::GET,
        &server,
        "/Patient/2?_format=application/fhir%2Bxml",
        "Patient_Read",
    )
    .send()
    .await
    .expect("xml read");
    assert_eq!(response.status(), 200);
    let xml = response.text().await.unwrap();
    assert!(
        xml.contains("<Patient xmlns=\"http://hl7.org/fhir\">") && xml.contains("9690937286"),
        "{xml}"
    );
}

#[tokio::test]
async fn foundations_register_patient_outcomes() {
    let server = Server::start(&[]);
    // A PDS patient of the register pool: a temporary registration.
    let rea = registration("9651258500", "REA", "Clive", "male", "1951-03-10");
    let registered = register(&server, rea.clone()).await;
    assert_searchset(&registered, 1);
    assert_eq!(
        profile_of(&registered.body),
        format!("{PROFILE}GPConnect-Searchset-Bundle-1")
    );
    let patient = entries_of(&registered.body, "Patient")[0].clone();
    let id = patient["id"].as_str().unwrap().to_string();
    assert!(!id.is_empty());
    assert_patient(&patient, &id, "9651258500", "REA", "male", "1951-03-10");
    assert_eq!(registration_type(&patient), "T");
    assert_eq!(header(&registered, "cache-control"), "no-store");

    // It is stored: found by search and read, still temporary.
    let search = search_patient(&server, "9651258500").await;
    assert_searchset(&search, 1);
    assert_eq!(entries_of(&search.body, "Patient")[0]["id"], id.as_str());
    let read = get(&server, &format!("/Patient/{id}"), "Patient_Read").await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(registration_type(&read.body), "T");

    // Registering again, or an active practice patient: duplicates.
    assert_error(&register(&server, rea).await, 409, "DUPLICATE_REJECTED");
    assert_error(
        &register(
            &server,
            registration("9690937278", "SAMUAL", "Lucien", "male", "1938-12-11"),
        )
        .await,
        409,
        "DUPLICATE_REJECTED",
    );

    // What PDS says decides the rest.
    let outcomes = [
        // birth date not PDS's
        (
            registration("9651258519", "SOFFE", "Oscar", "male", "1937-03-12"),
            400,
            "INVALID_PATIENT_DEMOGRAPHICS",
        ),
        // family name not PDS's
        (
            registration("9651258519", "SMITH", "Oscar", "male", "1937-03-11"),
            400,
            "INVALID_PATIENT_DEMOGRAPHICS",
        ),
        // sensitive
        (
            registration("9690938533", "CLAY", "Anita", "female", "2000-09-09"),
            400,
            "INVALID_PATIENT_DEMOGRAPHICS",
        ),
        // deceased
        (
            registration("9690938681", "ROONEY", "James", "male", "1968-02-03"),
            400,
            "INVALID_PATIENT_DEMOGRAPHICS",
        ),
        // not on PDS (held by the practice all the same)
        (
            registration("9476718943", "HOPLEY", "Georgina", "female", "1927-05-15"),
            400,
            "INVALID_PATIENT_DEMOGRAPHICS",
        ),
        // a valid number PDS does not know
        (
            registration("9999999999", "NOBODY", "No", "male", "1950-01-01"),
            400,
            "INVALID_PATIENT_DEMOGRAPHICS",
        ),
        // superseded NHS number
        (
            registration("9690938622", "HORN", "Alexi", "female", "1978-11-28"),
            400,
            "INVALID_NHS_NUMBER",
        ),
    ];
    for (body, status, code) in outcomes {
        let reply = register(&server, body.clone()).await;
        assert_error(&reply, status, code);
    }
    // The family name is compared without case; given names are not.
    let soffe = registration("9651258519", "Soffe", "Oscar James", "male", "1937-03-11");
    assert_searchset(&register(&server, soffe).await, 1);

    // No NHS number on the Patient.
    let mut anonymous = registration("9651258527", "FLYNN", "Tommy", "male", "1950-04-10");
    anonymous["parameter"][0]["resource"]["identifier"] = json!([]);
    assert_error(
        &register(&server, anonymous).await,
        400,
        "INVALID_NHS_NUMBER",
    );
    // Not a Parameters with a registerPatient Patient.
    assert_error(
        &register(
            &server,
            json!({"resourceType": "Parameters", "parameter": [{"name": "other", "valueString": "x"}]}),
        )
        .await,
        422,
        "INVALID_RESOURCE",
    );

    // An inactive registration is re-activated, temporary, under its id.
    let inactive = registration("9690938142", "INACTIVE", "Ira", "male", "1970-01-01");
    let reply = register(&server, inactive).await;
    assert_searchset(&reply, 1);
    assert_eq!(entries_of(&reply.body, "Patient")[0]["id"], "21");
    let read = get(&server, "/Patient/21", "Patient_Read").await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(registration_type(&read.body), "T");

    // A reset forgets the registrations.
    let reset = client()
        .post(server.url("/__admin/reset"))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 200);
    assert_searchset(&search_patient(&server, "9651258500").await, 0);
    assert_error(
        &get(&server, "/Patient/21", "Patient_Read").await,
        404,
        "PATIENT_NOT_FOUND",
    );
}

#[tokio::test]
async fn foundations_practitioners_organisations_and_locations() {
    let server = Server::start(&[]);
    // (SDS user id, entries, role profiles of the first)
    for (sds, entries, roles) in [
        ("G13579135", 1, 0),
        ("G11111116", 1, 1),
        ("G22345655", 1, 2),
        ("G22222226", 2, 1),
        ("G99999999", 0, 0),
    ] {
        let reply = get(
            &server,
            &format!("/Practitioner?identifier=https://fhir.nhs.uk/Id/sds-user-id%7C{sds}"),
            "Practitioner_Search",
        )
        .await;
        assert_searchset(&reply, entries);
        if let Some(first) = entries_of(&reply.body, "Practitioner").first() {
            assert_eq!(
                profile_of(first),
                format!("{PROFILE}CareConnect-GPC-Practitioner-1")
            );
            let identifiers = first["identifier"].as_array().unwrap();
            assert_eq!(identifiers[0]["value"], sds);
            let role_profiles = identifiers
                .iter()
                .filter(|i| i["system"] == "https://fhir.nhs.uk/Id/sds-role-profile-id")
                .count();
            assert_eq!(role_profiles, roles, "{sds}");
        }
    }
    let gilbert = get(&server, "/Practitioner/1", "Practitioner_Read").await;
    assert_eq!(gilbert.status, 200, "{}", gilbert.body);
    assert_eq!(gilbert.body["name"][0]["family"], "Gilbert");
    assert_eq!(gilbert.body["name"][0]["given"][0], "Nichole");
    assert_eq!(header(&gilbert, "etag"), "W/\"1\"");
    assert_error(
        &get(&server, "/Practitioner/99", "Practitioner_Read").await,
        404,
        "PRACTITIONER_NOT_FOUND",
    );

    for (ods, entries) in [("B82617", 1), ("R1A14", 2), ("X12345", 1), ("INVOC1", 0)] {
        let reply = get(
            &server,
            &format!(
                "/Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code%7C{ods}"
            ),
            "Organization_Search",
        )
        .await;
        assert_searchset(&reply, entries);
        for organization in entries_of(&reply.body, "Organization") {
            assert_eq!(organization["identifier"][0]["value"], ods);
        }
    }
    let practice = get(&server, "/Organization/7", "Organization_Read").await;
    assert_eq!(practice.status, 200, "{}", practice.body);
    assert_eq!(practice.body["name"], "COXWOLD SURGERY");
    assert_eq!(
        profile_of(&practice.body),
        format!("{PROFILE}CareConnect-GPC-Organization-1")
    );
    assert_error(
        &get(&server, "/Organization/99", "Organization_Read").await,
        404,
        "ORGANISATION_NOT_FOUND",
    );
    // The version the ETag names: not modified.
    let response = gpc1::request(
        &client(),
        Method::GET,
        &server,
        "/Organization/7",
        "Organization_Read",
    )
    .header("If-None-Match", "W/\"1\"")
    .send()
    .await
    .expect("conditional read");
    assert_eq!(response.status(), 304);

    // SIT1, SIT2, SIT3 and the practice's own sites.
    for (id, site, organization) in [
        ("1", "Z26556", "Organization/1"),
        ("8", "Z33432", "Organization/3"),
        ("3", "Z33433", "Organization/2"),
        ("16", "Z55555", "Organization/7"),
        ("17", "Z55556", "Organization/7"),
    ] {
        let reply = get(&server, &format!("/Location/{id}"), "Location_Read").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["id"], id);
        assert_eq!(
            reply.body["identifier"][0]["system"],
            "https://fhir.nhs.uk/Id/ods-site-code"
        );
        assert_eq!(reply.body["identifier"][0]["value"], site);
        assert_eq!(
            reply.body["managingOrganization"]["reference"],
            organization
        );
        assert_eq!(
            profile_of(&reply.body),
            format!("{PROFILE}CareConnect-GPC-Location-1")
        );
    }
    assert_error(
        &get(&server, "/Location/99", "Location_Read").await,
        404,
        "NO_RECORD_FOUND",
    );
}

const DOS_SYSTEM: &str = "https://fhir.nhs.uk/Id/uec-dos-service-id";

#[tokio::test]
async fn foundations_healthcare_services_are_off_by_default() {
    let server = Server::start(&[]);
    let search = get(
        &server,
        &format!("/HealthcareService?identifier={DOS_SYSTEM}%7C9999999998"),
        "HealthcareService_Search",
    )
    .await;
    assert_searchset(&search, 0);
    assert_searchset(
        &get(&server, "/HealthcareService", "HealthcareService_Search").await,
        0,
    );
    assert_error(
        &get(&server, "/HealthcareService/1", "HealthcareService_Read").await,
        404,
        "NO_RECORD_FOUND",
    );
    assert_error(
        &get(
            &server,
            "/HealthcareService?identifier=https://fhir.nhs.uk/Id/ods-organization-code%7CB82617",
            "HealthcareService_Search",
        )
        .await,
        422,
        "INVALID_PARAMETER",
    );
}

/// The switch as `scenarios/foundations/state/practice.yaml` documents it:
/// a copy of the pack with `serviceFiltering: enabled`.
#[tokio::test]
async fn foundations_healthcare_services_switched_on() {
    let project = project_dir();
    let dir = tempfile::tempdir().expect("temp");
    copy_tree(
        &project.join("scenarios/foundations"),
        &dir.path().join("scenarios"),
    );
    copy_tree(
        &project.join("templates/foundations"),
        &dir.path().join("templates"),
    );
    let settings = dir.path().join("scenarios/state/practice.yaml");
    let text = std::fs::read_to_string(&settings).expect("practice.yaml");
    assert!(text.contains("serviceFiltering: supplier-disabled"));
    std::fs::write(
        &settings,
        text.replace(
            "serviceFiltering: supplier-disabled",
            "serviceFiltering: enabled",
        ),
    )
    .expect("write");
    let spec = project.join("downloads/stu3/foundations.yaml");
    let mount = dir.path().join("apis.yaml");
    std::fs::write(
        &mount,
        format!(
            "apis:\n  - name: gpconnect-foundations\n    spec: {}\n    scenarios: scenarios\n    templates: templates\n    era: stu3\n    asid: '918999198738'\n    ods_code: B82617\n",
            spec.display()
        ),
    )
    .expect("mount");
    let server = Server::start(&["--mount", &mount.display().to_string(), "--no-watch"]);

    let metadata = get(&server, "/metadata", "Metadata_Read").await;
    assert_eq!(metadata.status, 200, "{}", metadata.body);
    assert_eq!(
        metadata.body["extension"][0]["url"],
        format!("{PROFILE}Extension-GPConnect-ServiceFilteringStatus-1")
    );
    assert_eq!(metadata.body["extension"][0]["valueCode"], "enabled");
    assert!(metadata.body["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["type"] == "HealthcareService"));

    let one = get(
        &server,
        &format!("/HealthcareService?identifier={DOS_SYSTEM}%7C9999999998"),
        "HealthcareService_Search",
    )
    .await;
    assert_searchset(&one, 1);
    let service = entries_of(&one.body, "HealthcareService")[0];
    assert_eq!(
        profile_of(service),
        format!("{PROFILE}CareConnect-GPC-HealthcareService-1")
    );
    assert_eq!(service["identifier"][0]["system"], DOS_SYSTEM);
    assert_eq!(service["providedBy"]["reference"], "Organization/7");
    assert!(service["name"].is_string());
    assert_searchset(
        &get(&server, "/HealthcareService", "HealthcareService_Search").await,
        2,
    );
    assert_searchset(
        &get(
            &server,
            &format!("/HealthcareService?identifier={DOS_SYSTEM}%7C1234"),
            "HealthcareService_Search",
        )
        .await,
        0,
    );
    let read = get(&server, "/HealthcareService/2", "HealthcareService_Read").await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["identifier"][0]["value"], "9999999999");
    assert_error(
        &get(&server, "/HealthcareService/9", "HealthcareService_Read").await,
        404,
        "NO_RECORD_FOUND",
    );
}

/// `BASE` is where the mount file puts the 1.x API.
#[test]
fn foundations_base_path_is_the_mounts() {
    let mount = std::fs::read_to_string(project_dir().join("downloads/apis.yaml")).unwrap();
    assert!(mount.contains(&format!("base_path: {BASE}")), "{mount}");
    assert!(mount.find("gpconnect-dstu2") < mount.find("gpconnect-foundations"));
}

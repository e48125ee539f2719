//! The GP Connect Access Document 1.6 pack (`scenarios/documents`,
//! `templates/documents`) on the default server, at its own root beside
//! Foundations: the CapabilityStatement, finding patients by role, a
//! patient's documents with their includes and `created` bounds, the
//! document over 5 MB, Binary reads, and the document search rules.

use base64::Engine;
use reqwest::Method;
use serde_json::Value;

use crate::common::{project_dir, Server};
use crate::gpc1::{self, entries_of, spine_code, Reply, DOCUMENTS_BASE};

const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const INCLUDES: &str = "_include=DocumentReference:subject:Patient\
    &_include=DocumentReference:custodian:Organization\
    &_include=DocumentReference:author:Organization\
    &_include=DocumentReference:author:Practitioner\
    &_revinclude:recurse=PractitionerRole:practitioner";
/// The retrieve limit: 5 MB.
const LIMIT: u64 = 5 * 1024 * 1024;

async fn get(server: &Server, path: &str, operation: &str) -> Reply {
    gpc1::send_to(server, DOCUMENTS_BASE, Method::GET, path, operation, None).await
}

async fn find_patient(server: &Server, nhs: &str) -> Reply {
    get(
        server,
        &format!("/Patient?identifier={NHS_SYSTEM}%7C{nhs}"),
        "Documents_Patient_Search",
    )
    .await
}

async fn documents(server: &Server, patient: &str, extra: &str) -> Reply {
    get(
        server,
        &format!("/Patient/{patient}/DocumentReference?{INCLUDES}{extra}"),
        "Documents_DocumentReference_Search",
    )
    .await
}

fn ids(resources: &[&Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn seed(name: &str) -> Value {
    let path = project_dir().join(format!("scenarios/documents/state/{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

#[tokio::test]
async fn metadata_is_the_access_document_capability_statement() {
    let server = Server::start(&[]);
    let reply = get(&server, "/metadata", "Documents_Metadata_Read").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["resourceType"], "CapabilityStatement");
    assert_eq!(reply.body["version"], "1.6.0");
    assert_eq!(reply.body["fhirVersion"], "3.0.1");
    let types: Vec<&str> = reply.body["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert_eq!(types, ["Patient", "DocumentReference", "Binary"]);

    // The Foundations metadata id is no interaction of this root.
    let foundations = gpc1::request_to(
        &crate::common::client(),
        Method::GET,
        &server,
        DOCUMENTS_BASE,
        "/metadata",
        "Documents_Metadata_Read",
    )
    .header("Ssp-InteractionID", gpc1::interaction_id("Metadata_Read"))
    .send()
    .await
    .unwrap();
    assert_eq!(foundations.status().as_u16(), 400);
}

#[tokio::test]
async fn patient_search_finds_gms_active_patients_only() {
    let server = Server::start(&[]);
    let found = find_patient(&server, "9690937286").await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(ids(&entries_of(&found.body, "Patient")), ["2"]);
    let url = found.body["entry"][0]["fullUrl"].as_str().unwrap();
    assert_eq!(url, server.url(&format!("{DOCUMENTS_BASE}/Patient/2")));
    assert!(!found.body["id"].as_str().unwrap_or_default().is_empty());
    // Sensitive, deceased, inactive, temporary and unknown: none.
    for nhs in [
        "9690938533",
        "9690938541",
        "9690938681",
        "9690938142",
        "9651258500",
        "9999999999",
    ] {
        let reply = find_patient(&server, nhs).await;
        assert_eq!(reply.status, 200, "{nhs}: {}", reply.body);
        assert!(entries_of(&reply.body, "Patient").is_empty(), "{nhs}");
    }
    // A malformed search is the request checks' 400.
    let twice = get(
        &server,
        &format!(
            "/Patient?identifier={NHS_SYSTEM}%7C9690937286&identifier={NHS_SYSTEM}%7C9690937286"
        ),
        "Documents_Patient_Search",
    )
    .await;
    assert_eq!(twice.status, 400, "{}", twice.body);
    let cased = get(
        &server,
        &format!("/Patient?Identifier={NHS_SYSTEM}%7C9690937286"),
        "Documents_Patient_Search",
    )
    .await;
    assert_eq!(cased.status, 400, "{}", cased.body);
}

#[tokio::test]
async fn patient2_documents_with_includes_and_created_bounds() {
    let server = Server::start(&[]);
    let all = documents(&server, "2", "").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body["type"], "searchset");
    assert_eq!(
        ids(&entries_of(&all.body, "DocumentReference")),
        ["1", "2", "3"]
    );
    assert_eq!(ids(&entries_of(&all.body, "Patient")), ["2"]);
    assert_eq!(ids(&entries_of(&all.body, "Organization")), ["2", "7", "8"]);
    assert_eq!(ids(&entries_of(&all.body, "Practitioner")), ["1"]);
    assert_eq!(ids(&entries_of(&all.body, "PractitionerRole")), ["1"]);
    let base = server.url(DOCUMENTS_BASE);
    for entry in all.body["entry"].as_array().unwrap() {
        let resource = &entry["resource"];
        assert_eq!(
            entry["fullUrl"],
            format!(
                "{base}/{}/{}",
                resource["resourceType"].as_str().unwrap(),
                resource["id"].as_str().unwrap()
            )
        );
    }
    let letter = entries_of(&all.body, "DocumentReference")[0];
    let attachment = &letter["content"][0]["attachment"];
    assert_eq!(attachment["contentType"], "application/pdf");
    assert_eq!(attachment["url"], format!("{base}/Binary/1"));
    assert!(attachment["size"].as_u64().unwrap() > 0);
    assert_eq!(letter["type"]["coding"][0]["code"], "824331000000106");
    assert_eq!(letter["subject"]["reference"], "Patient/2");
    assert_eq!(letter["custodian"]["reference"], "Organization/7");

    // 2021-03-15 is inside ge2020..le2021-03-15 (its whole day); 2019 and 2024 are not.
    let range = documents(&server, "2", "&created=ge2020-01-01&created=le2021-03-15").await;
    assert_eq!(range.status, 200, "{}", range.body);
    assert_eq!(ids(&entries_of(&range.body, "DocumentReference")), ["2"]);
    // Organization/2 authors only the 2019 letter: not included now.
    assert_eq!(ids(&entries_of(&range.body, "Organization")), ["7", "8"]);
    let since = documents(&server, "2", "&created=ge2022").await;
    assert_eq!(ids(&entries_of(&since.body, "DocumentReference")), ["3"]);

    let by_author = documents(
        &server,
        "2",
        "&author=https://fhir.nhs.uk/Id/ods-organization-code%7CR1A14",
    )
    .await;
    assert_eq!(
        ids(&entries_of(&by_author.body, "DocumentReference")),
        ["1"]
    );

    // `description` matches the description or the type, ignoring case.
    for (text, expected) in [
        ("LETTER", vec!["1", "2"]),
        ("telephone", vec!["3"]),
        ("x-ray", vec![]),
    ] {
        let found = documents(&server, "2", &format!("&description={text}")).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(
            ids(&entries_of(&found.body, "DocumentReference")),
            expected,
            "{text}"
        );
    }
}

#[tokio::test]
async fn patient3_has_no_documents_and_unknown_patients_are_not_found() {
    let server = Server::start(&[]);
    let none = documents(&server, "3", "").await;
    assert_eq!(none.status, 200, "{}", none.body);
    assert!(entries_of(&none.body, "DocumentReference").is_empty());
    assert_eq!(ids(&entries_of(&none.body, "Patient")), ["3"]);
    assert_eq!(ids(&entries_of(&none.body, "Organization")), ["7"]);
    // Unknown, temporary (22), inactive (21), sensitive (9), deceased (18).
    for id in ["999", "22", "21", "9", "18"] {
        let reply = documents(&server, id, "").await;
        assert_eq!(reply.status, 404, "{id}: {}", reply.body);
        assert_eq!(spine_code(&reply.body), "PATIENT_NOT_FOUND", "{id}");
    }
}

#[tokio::test]
async fn a_document_over_5mb_is_listed_without_url_and_not_served() {
    let server = Server::start(&[]);
    let reply = documents(&server, "4", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let listed = entries_of(&reply.body, "DocumentReference");
    assert_eq!(ids(&listed), ["4"]);
    let attachment = &listed[0]["content"][0]["attachment"];
    assert!(attachment.get("url").is_none(), "{attachment}");
    assert!(attachment["size"].as_u64().unwrap() > LIMIT);
    assert!(attachment["title"]
        .as_str()
        .unwrap()
        .contains("greater than maximum allowable (5MB)"));
    let read = get(&server, "/Binary/4", "Documents_Binary_Read").await;
    assert_eq!(read.status, 404, "{}", read.body);
    assert_eq!(spine_code(&read.body), "NO_RECORD_FOUND");
}

#[tokio::test]
async fn binary_read_serves_the_file() {
    let server = Server::start(&[]);
    for (id, file, content_type) in [
        ("1", "skelly-discharge-letter.pdf", "application/pdf"),
        ("2", "skelly-clinic-letter.rtf", "application/rtf"),
        ("3", "skelly-practice-note.txt", "text/plain"),
    ] {
        let reply = get(&server, &format!("/Binary/{id}"), "Documents_Binary_Read").await;
        assert_eq!(reply.status, 200, "{id}: {}", reply.body);
        assert_eq!(reply.body["resourceType"], "Binary");
        assert_eq!(reply.body["contentType"], content_type);
        assert_eq!(reply.body["meta"]["versionId"], "1");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(reply.body["content"].as_str().unwrap())
            .unwrap();
        let expected =
            std::fs::read(project_dir().join("scenarios/documents/files").join(file)).unwrap();
        assert_eq!(bytes, expected, "{file}");
    }
    let pdf = get(&server, "/Binary/1", "Documents_Binary_Read").await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(pdf.body["content"].as_str().unwrap())
        .unwrap();
    assert!(bytes.starts_with(b"%PDF-1.4") && bytes.ends_with(b"%%EOF\n"));
    // Migrate reads the same endpoint.
    let migrate = get(&server, "/Binary/2", "Documents_Binary_Migrate").await;
    assert_eq!(migrate.status, 200, "{}", migrate.body);
    let unknown = get(&server, "/Binary/77", "Documents_Binary_Read").await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(spine_code(&unknown.body), "NO_RECORD_FOUND");
}

#[tokio::test]
async fn document_search_rules() {
    let server = Server::start(&[]);
    let only_subject = get(
        &server,
        "/Patient/2/DocumentReference?_include=DocumentReference:subject:Patient",
        "Documents_DocumentReference_Search",
    )
    .await;
    assert_eq!(only_subject.status, 422, "{}", only_subject.body);
    assert_eq!(spine_code(&only_subject.body), "INVALID_PARAMETER");
    let author = documents(&server, "2", "&author=R1A14").await;
    assert_eq!(author.status, 422, "{}", author.body);
    assert_eq!(spine_code(&author.body), "INVALID_PARAMETER");
    let created = documents(&server, "2", "&created=yesterday").await;
    assert_eq!(created.status, 422, "{}", created.body);
    assert_eq!(spine_code(&created.body), "INVALID_PARAMETER");
}

/// The seeds agree with the files: each Binary's content is its file, each
/// document's size its file's, and `overLimit` is exactly size > 5 MB.
#[test]
fn seeds_agree_with_the_files() {
    let binaries = seed("binaries");
    let files = project_dir().join("scenarios/documents/files");
    for binary in binaries["documents"].as_array().unwrap() {
        let bytes = std::fs::read(files.join(binary["file"].as_str().unwrap())).unwrap();
        let content = base64::engine::general_purpose::STANDARD
            .decode(binary["content"].as_str().unwrap())
            .unwrap();
        assert_eq!(content, bytes, "{}", binary["file"]);
    }
    let documents = seed("documents");
    for document in documents["documents"].as_array().unwrap() {
        let size = document["size"].as_u64().unwrap();
        let over = document["overLimit"].as_bool().unwrap_or(false);
        assert_eq!(over, size > LIMIT, "{}", document["id"]);
        if let Some(binary) = document["binary"].as_str() {
            let file = binaries["documents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["id"] == binary)
                .unwrap_or_else(|| panic!("no binary {binary}"));
            let bytes = std::fs::read(files.join(file["file"].as_str().unwrap())).unwrap();
            assert_eq!(size, bytes.len() as u64, "{}", document["id"]);
            assert_eq!(document["contentType"], file["contentType"]);
        } else {
            assert!(over, "{} has no file", document["id"]);
        }
    }
}

/// patient15 has dissented from sharing their record: found by the patient
/// search, but their documents are not shared (403 NO_PATIENT_CONSENT).
#[tokio::test]
async fn a_dissented_patient_is_found_but_their_documents_are_not_shared() {
    let server = Server::start(&[]);
    let found = find_patient(&server, "9690938576").await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(ids(&entries_of(&found.body, "Patient")), ["15"]);
    let search = documents(&server, "15", "").await;
    assert_eq!(search.status, 403, "{}", search.body);
    assert_eq!(spine_code(&search.body), "NO_PATIENT_CONSENT");
    assert_eq!(search.body["issue"][0]["code"], "forbidden");
    let shared = documents(&server, "2", "").await;
    assert_eq!(
        shared.status, 200,
        "another patient's documents: {}",
        shared.body
    );
}

/// The switch of `scenarios/documents/state/practice.yaml`, as it documents
/// it: with `access: disabled`, finding patients, searching documents and
/// retrieving one answer 403 ACCESS DENIED; migration is answered as usual.
#[tokio::test]
async fn a_practice_with_access_document_switched_off_answers_access_denied() {
    let checkout = crate::common::checkout_with(
        "scenarios/documents/state/practice.yaml",
        "access: enabled",
        "access: disabled",
    );
    let server = Server::start_in(checkout.path(), &[]);
    for reply in [
        find_patient(&server, "9690937286").await,
        documents(&server, "2", "").await,
        get(&server, "/Binary/1", "Documents_Binary_Read").await,
    ] {
        assert_eq!(reply.status, 403, "{}", reply.body);
        assert_eq!(spine_code(&reply.body), "ACCESS DENIED");
    }
    let migrate = get(&server, "/Binary/1", "Documents_Binary_Migrate").await;
    assert_eq!(
        migrate.status, 200,
        "migration despite the switch: {}",
        migrate.body
    );
    assert_eq!(migrate.body["resourceType"], "Binary");
}

/// A document's migration (`migrate:binary-1`) needs the migration JWT
/// (reason `migration`, a `conf/` scope), as Access Record Structured's
/// migrate does; a retrieval's JWT is refused on it, and the reverse.
#[tokio::test]
async fn binary_migration_needs_the_migration_jwt() {
    let server = Server::start(&[]);
    let migrate = get(&server, "/Binary/1", "Documents_Binary_Migrate").await;
    assert_eq!(migrate.status, 200, "{}", migrate.body);
    let client = crate::common::client();
    let retrieval_jwt = gpc1::headers("Documents_Binary_Read")
        .into_iter()
        .find(|(name, _)| *name == "Authorization")
        .map(|(_, value)| value)
        .unwrap();
    let mut builder = client.get(server.url(&format!("{DOCUMENTS_BASE}/Binary/1")));
    for (name, value) in gpc1::headers("Documents_Binary_Migrate") {
        let value = if name == "Authorization" {
            retrieval_jwt.clone()
        } else {
            value
        };
        builder = builder.header(name, value);
    }
    let refused = builder.send().await.unwrap();
    let refused = Reply::read(refused, "/Binary/1").await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(spine_code(&refused.body), "BAD_REQUEST");
    let diagnostics = refused.body["issue"][0]["diagnostics"].to_string();
    assert!(diagnostics.contains("migration"), "{diagnostics}");
    // The retrieval still takes its own JWT on the same endpoint.
    let read = get(&server, "/Binary/1", "Documents_Binary_Read").await;
    assert_eq!(read.status, 200, "{}", read.body);
}

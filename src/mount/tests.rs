use super::*;

fn parse_text(text: &str) -> Result<Vec<ApiSource>, String> {
    let root = Root::Disk(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("downloads"));
    parse(text, "apis.yaml", &root).map_err(|errors| errors.to_string())
}

#[test]
fn the_embedded_mount_file_mounts_the_embedded_pack() {
    let apis = parse(EMBEDDED_MOUNT, "embedded", &Root::Embedded).expect("loads");
    assert_eq!(apis[0].name, "gpconnect-dstu2");
    assert_eq!(
        apis[0].spec,
        Definition::default(),
        "the embedded definition"
    );
    assert_eq!(apis[0].scenarios, PackDir::embedded("scenarios/dstu2"));
    for api in &apis {
        assert!(matches!(api.spec, Definition::Embedded(_)), "{}", api.name);
        for (dir, disk) in [(&api.scenarios, "scenarios"), (&api.templates, "templates")] {
            let dir = dir.as_ref().expect("a pack");
            let label = dir.label();
            let sub = label.trim_end_matches(" (embedded)");
            assert!(sub.starts_with(disk), "{label}");
            let checkout = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(sub);
            assert_eq!(
                dir.files().expect("reads"),
                PackDir::Disk(checkout).files().expect("reads"),
                "{label}: the embedded files are the checkout's, relative to it"
            );
        }
    }
}

#[test]
fn every_field_is_read() {
    let apis = parse_text(
        "apis:\n  - name: one\n    spec: swagger/swagger.json\n    scenarios: ../scenarios\n    templates: ../templates\n    base_path: /B82617/STU3/1/gpconnect/fhir/\n    era: stu3\n    asid: '918999198738'\n    ods_code: B82617\n",
    )
    .expect("loads");
    let api = &apis[0];
    assert_eq!(api.name, "one");
    assert!(api
        .spec
        .path()
        .is_some_and(|p| p.ends_with("swagger/swagger.json")));
    let scenarios = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    assert_eq!(
        api.scenarios,
        Some(PackDir::Disk(scenarios)),
        "`..` taken back"
    );
    assert_eq!(
        api.base_path.as_deref(),
        Some("/B82617/STU3/1/gpconnect/fhir")
    );
    assert_eq!(api.era, Some(Era::Stu3));
    assert_eq!(api.asid.as_deref(), Some("918999198738"));
    assert_eq!(api.ods_code.as_deref(), Some("B82617"));
}

#[test]
fn an_unknown_field_names_its_place_and_line() {
    let error = parse_text("apis:\n  - name: one\n    spec: swagger/swagger.json\n    asdi: '1'\n")
        .expect_err("asdi is not a field");
    assert!(error.contains("apis.yaml:4:"), "{error}");
    assert!(
        error.contains("apis[0]") && error.contains("asdi"),
        "{error}"
    );
}

#[test]
fn a_missing_name_is_named() {
    let error = parse_text("apis:\n  - spec: swagger/swagger.json\n").expect_err("no name");
    assert!(error.contains("apis.yaml:2:"), "{error}");
    assert!(error.contains("name"), "{error}");
}

#[test]
fn a_wrong_era_names_its_line_and_field() {
    let error = parse_text("apis:\n  - name: one\n    spec: swagger/swagger.json\n    era: r4\n")
        .expect_err("r4 is not an era");
    assert!(error.contains("apis.yaml:4:"), "{error}");
    assert!(error.contains("era"), "{error}");
}

#[test]
fn checks_after_parsing_name_the_entry_field_and_line() {
    let error = parse_text(
        "apis:\n  - name: one\n    spec: swagger/swagger.json\n  - name: one\n    spec: nowhere.json\n    templates: ../nowhere\n    base_path: fhir\n    asid: ASID\n    ods_code: B8-2617\n",
    )
    .expect_err("six problems");
    for needle in [
        "apis.yaml:4: apis[1].name: `one` names an API already listed",
        "apis.yaml:5: apis[1].spec: ",
        "nowhere.json: no such file",
        "apis.yaml:6: apis[1].templates: ",
        "apis.yaml:7: apis[1].base_path: `fhir` is not a base path",
        "apis.yaml:8: apis[1].asid: `ASID` is not an ASID",
        "apis.yaml:9: apis[1].ods_code: ",
    ] {
        assert!(error.contains(needle), "{needle:?} in {error}");
    }
    assert!(error.starts_with("6 errors"), "{error}");
}

#[test]
fn an_empty_list_is_an_error() {
    let error = parse_text("apis: []\n").expect_err("nothing to mount");
    assert!(
        error.contains("apis.yaml:1: `apis` lists no API"),
        "{error}"
    );
}

#[test]
fn the_embedded_tree_has_only_the_default_files() {
    let error = parse(
        "apis:\n  - name: one\n    spec: other.json\n",
        "embedded",
        &Root::Embedded,
    )
    .expect_err("not embedded")
    .to_string();
    assert!(
        error.contains("downloads/other.json is not built into the binary"),
        "{error}"
    );
}

#[test]
fn api_keeps_the_named_and_refuses_the_unknown() {
    let mut apis = vec![
        ApiSource {
            name: "a".into(),
            ..ApiSource::default()
        },
        ApiSource {
            name: "b".into(),
            ..ApiSource::default()
        },
    ];
    let error = select(&mut apis.clone(), &["c".into()]).expect_err("no c");
    assert_eq!(
        error.to_string(),
        "--api c: no such API; the mount file names `a`, `b`"
    );
    select(&mut apis, &["b".into()]).expect("b is known");
    assert_eq!(apis.len(), 1);
    assert_eq!(apis[0].name, "b");
}

#[test]
fn base_paths_are_normalised() {
    assert_eq!(base_path("/fhir/").as_deref(), Ok("/fhir"));
    assert_eq!(base_path("/").as_deref(), Ok(""));
    assert!(base_path("/a//b").is_err());
    assert!(base_path("/{ods}/fhir").is_err());
}

#[test]
fn joined_paths_read_as_written_from_the_working_directory() {
    assert_eq!(
        joined(Path::new("downloads"), "../scenarios"),
        PathBuf::from("scenarios")
    );
    assert_eq!(
        joined(Path::new("."), "apis/x.json"),
        PathBuf::from("apis/x.json")
    );
    assert_eq!(joined(Path::new("a"), "../../b"), PathBuf::from("../b"));
    assert_eq!(joined(Path::new("/srv/m"), "../s"), PathBuf::from("/srv/s"));
    assert_eq!(joined(Path::new("downloads"), ".."), PathBuf::from("."));
}

#[test]
fn a_name_is_a_word_that_fits_in_urls_and_variables() {
    let error = parse_text("apis:\n  - name: my api\n    spec: swagger/swagger.json\n")
        .expect_err("a space");
    assert!(
        error.contains("apis.yaml:2: apis[0].name: `my api` is not a name"),
        "{error}"
    );
}

#[test]
fn the_spine_sections_are_read_and_checked() {
    let root = Root::Disk(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("downloads"));
    let text = "apis:\n  - name: one\n    spec: swagger/swagger.json\n    endpoint: https://gp.example/fhir/\nconsumers:\n  - asid: '1'\n    interactions: '*'\n  - asid: '2'\n    interactions: [urn:a]\nproviders:\n  - asid: '3'\n    ods_code: A1\n    endpoint: https://x.example/y\n    interactions: [urn:b]\n";
    let mount = parse_mount(text, "apis.yaml", &root).expect("loads");
    assert_eq!(
        mount.apis[0].endpoint.as_deref(),
        Some("https://gp.example/fhir")
    );
    assert_eq!(mount.spine.consumers.len(), 2);
    assert!(mount.spine.consumers[0].allows("urn:z"));
    assert!(mount.spine.consumers[1].allows("urn:a"));
    assert!(!mount.spine.consumers[1].allows("urn:z"));
    assert_eq!(mount.spine.providers[0].endpoint, "https://x.example/y");
    // Without the sections: the test consumer, allowed everything.
    let plain = parse_mount(
        "apis:\n  - name: one\n    spec: swagger/swagger.json\n",
        "apis.yaml",
        &root,
    )
    .expect("loads");
    assert_eq!(plain.spine, crate::spine::SpineConfig::default());

    let bad = "apis:\n  - name: one\n    spec: swagger/swagger.json\n    endpoint: ftp://x\nconsumers:\n  - asid: abc\n    interactions: all\n";
    let error = parse_mount(bad, "apis.yaml", &root)
        .expect_err("refused")
        .to_string();
    assert!(
        error.contains("apis[0].endpoint: `ftp://x` is not an endpoint URL"),
        "{error}"
    );
    assert!(
        error.contains("consumers: [0].asid `abc` is not an ASID"),
        "{error}"
    );
    assert!(
        error.contains("[0].interactions `all`: give `*` or a list"),
        "{error}"
    );
}

//! Focused cases for each rule, both ways.

use super::*;
use crate::fhir::Era;

fn xml(json: &str) -> String {
    json_to_xml(json).unwrap()
}

/// JSON → XML → JSON gives the same tree (numbers as written, key order).
fn round_trip(json: &str, era: Era) {
    let original = Json::parse(json).unwrap();
    let written = to_xml::tree_to_xml(&original).unwrap();
    let back = xml_to_json(&written, era).unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(back, original, "\n{written}\n{}", back.to_text());
}

#[test]
fn root_is_named_by_resource_type_in_the_fhir_namespace() {
    let out = xml(r#"{"resourceType":"Patient","id":"1","active":true}"#);
    assert_eq!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?><Patient xmlns="http://hl7.org/fhir"><id value="1"/><active value="true"/></Patient>"#
    );
    assert!(matches!(
        json_to_xml(r#"{"id":"1"}"#),
        Err(XmlError::NotResource(_))
    ));
    assert!(matches!(json_to_xml("[1]"), Err(XmlError::NotResource(_))));
    assert!(matches!(json_to_xml("{"), Err(XmlError::Json { .. })));
}

#[test]
fn primitives_are_value_attributes_escaped() {
    let out = xml(r#"{"resourceType":"Patient","birthDate":"1970-01-01","gender":"a<b&\"c'"}"#);
    assert!(out.contains(r#"<birthDate value="1970-01-01"/>"#), "{out}");
    assert!(
        out.contains(r#"<gender value="a&lt;b&amp;&quot;c&apos;"/>"#),
        "{out}"
    );
    round_trip(
        r#"{"resourceType":"Patient","gender":"a<b&\"c'\n"}"#,
        Era::Stu3,
    );
    // Whitespace an XML parser would normalise to spaces in an attribute
    // is written as character references, so it reads back as written.
    let out = xml(r#"{"resourceType":"Patient","gender":"a\nb\tc\rd"}"#);
    assert!(
        out.contains(r#"<gender value="a&#xA;b&#x9;c&#xD;d"/>"#),
        "{out}"
    );
    round_trip(
        r#"{"resourceType":"Patient","gender":"a\nb\tc\rd"}"#,
        Era::Dstu2,
    );
}

#[test]
fn decimals_keep_their_written_precision() {
    let json = r#"{"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},"extension":[{"url":"http://x","valueDecimal":2.000}]}"#;
    let out = xml(json);
    assert!(out.contains(r#"<value value="1.50"/>"#), "{out}");
    assert!(out.contains(r#"<valueDecimal value="2.000"/>"#), "{out}");
    round_trip(json, Era::Stu3);
}

#[test]
fn element_siblings_merge_into_the_primitive() {
    let json = r#"{"resourceType":"Patient","birthDate":"1970","_birthDate":{"id":"b1","extension":[{"url":"http://e","valueDateTime":"1970-01-01T10:00:00Z"}]}}"#;
    let out = xml(json);
    assert!(
        out.contains(r#"<birthDate id="b1" value="1970"><extension url="http://e"><valueDateTime value="1970-01-01T10:00:00Z"/></extension></birthDate>"#),
        "{out}"
    );
    round_trip(json, Era::Stu3);
}

#[test]
fn arrays_repeat_and_primitive_arrays_pair_with_their_extras() {
    let json = r#"{"resourceType":"Patient","name":[{"use":"official","family":"Smith","given":["A","B","C"],"_given":[null,{"extension":[{"url":"http://e","valueString":"x"}]},null]}]}"#;
    let out = xml(json);
    assert!(
        out.contains(r#"<given value="A"/><given value="B"><extension url="http://e"><valueString value="x"/></extension></given><given value="C"/>"#),
        "{out}"
    );
    round_trip(json, Era::Stu3);
    // One item still is an array where FHIR says the element repeats.
    round_trip(
        r#"{"resourceType":"Patient","identifier":[{"system":"s","value":"9658218873"}],"name":[{"family":["Smith"],"given":["A"]}]}"#,
        Era::Dstu2,
    );
}

#[test]
fn extensions_carry_url_as_an_attribute_and_elements_their_id() {
    let json = r#"{"resourceType":"Patient","id":"p","extension":[{"url":"http://a","valueCodeableConcept":{"coding":[{"system":"s","code":"c","display":"d"}]}}],"modifierExtension":[{"url":"http://m","valueBoolean":false}],"telecom":[{"id":"t1","system":"phone","value":"01234"}]}"#;
    let out = xml(json);
    assert!(out.contains(r#"<id value="p"/>"#), "{out}");
    assert!(
        out.contains(r#"<extension url="http://a"><valueCodeableConcept><coding>"#),
        "{out}"
    );
    assert!(
        out.contains(r#"<modifierExtension url="http://m"><valueBoolean value="false"/>"#),
        "{out}"
    );
    assert!(
        out.contains(r#"<telecom id="t1"><system value="phone"/>"#),
        "{out}"
    );
    round_trip(json, Era::Stu3);
    // Only an extension's url is an attribute: Bundle.link.url is an element.
    let bundle = r#"{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"http://x/Patient?a=1&b=2"}]}"#;
    assert!(xml(bundle).contains(r#"<url value="http://x/Patient?a=1&amp;b=2"/>"#));
    round_trip(bundle, Era::Stu3);
}

#[test]
fn narrative_div_is_xhtml_markup_not_text() {
    let json = r#"{"resourceType":"Composition","section":[{"title":"Summary","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>a &amp; <b>b</b></p><br/></div>"}}]}"#;
    let out = xml(json);
    assert!(
        out.contains(
            r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>a &amp; <b>b</b></p><br/></div>"#
        ),
        "{out}"
    );
    round_trip(json, Era::Dstu2);
    // Without its namespace, it is given the XHTML one.
    let bare =
        xml(r#"{"resourceType":"Patient","text":{"status":"generated","div":"<div>x</div>"}}"#);
    assert!(
        bare.contains(r#"<div xmlns="http://www.w3.org/1999/xhtml">x</div>"#),
        "{bare}"
    );
    // Broken markup is refused, never sent.
    assert!(matches!(
        json_to_xml(r#"{"resourceType":"Patient","text":{"div":"<div><p></div>"}}"#),
        Err(XmlError::Unwritable(_))
    ));
}

#[test]
fn nested_resources_are_wrapped() {
    let json = r##"{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"fullUrl":"Patient/1","resource":{"resourceType":"Patient","id":"1","contained":[{"resourceType":"Organization","id":"o","name":"X"}],"managingOrganization":{"reference":"#o"}},"search":{"mode":"match"}}]}"##;
    let out = xml(json);
    assert!(
        out.contains(r#"<entry><fullUrl value="Patient/1"/><resource><Patient><id value="1"/><contained><Organization><id value="o"/><name value="X"/></Organization></contained>"#),
        "{out}"
    );
    assert!(out.contains(r#"<total value="1"/>"#));
    round_trip(json, Era::Stu3);
    let parameters = r#"{"resourceType":"Parameters","parameter":[{"name":"patientNHSNumber","valueIdentifier":{"system":"http://fhir.nhs.net/Id/nhs-number","value":"9658218873"}},{"name":"p","resource":{"resourceType":"Patient","active":true}},{"name":"recordSection","part":[{"name":"x","valueString":"y"}]}]}"#;
    round_trip(parameters, Era::Dstu2);
}

#[test]
fn malformed_xml_names_line_and_column() {
    let error = xml_to_json(
        "<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"1\">\n</Patient>",
        Era::Stu3,
    )
    .unwrap_err();
    let XmlError::Xml { line, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(*line, 3, "{error}");
    assert!(error.to_string().contains("line 3 column"), "{error}");
    let error = xml_to_json(
        "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"1\"/>",
        Era::Stu3,
    )
    .unwrap_err();
    assert!(error.to_string().contains("not closed"), "{error}");
    let error = xml_to_json("<Patient><id value=\"1\"/></Patient>", Era::Stu3).unwrap_err();
    assert!(matches!(error, XmlError::NotResource(_)), "{error}");
    let error = xml_to_json(
        "<Patient xmlns=\"http://hl7.org/fhir\">text</Patient>",
        Era::Stu3,
    )
    .unwrap_err();
    assert!(error.to_string().contains("line 1 column"), "{error}");
}

#[test]
fn xml_in_reads_typical_request_bodies() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a booking -->
<Appointment xmlns="http://hl7.org/fhir">
  <status value="booked"/>
  <slot><reference value="Slot/1"/></slot>
  <minutesDuration value="15"/>
  <participant>
    <actor><reference value="Patient/2"/></actor>
    <status value="accepted"/>
  </participant>
</Appointment>"#;
    let json = xml_to_json(body, Era::Dstu2).unwrap();
    assert_eq!(
        json.to_text(),
        r#"{"resourceType":"Appointment","status":"booked","slot":[{"reference":"Slot/1"}],"minutesDuration":15,"participant":[{"actor":{"reference":"Patient/2"},"status":"accepted"}]}"#
    );
}

#[test]
fn hostile_nesting_is_refused_not_a_crash() {
    let deep = format!(
        "<Patient xmlns=\"http://hl7.org/fhir\">{}{}</Patient>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    let error = xml_to_json(&deep, Era::Stu3).unwrap_err();
    assert!(error.to_string().contains("nested deeper"), "{error}");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Json::parse(&deep).is_err());
}

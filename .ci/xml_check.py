"""Reads every FHIR XML answer the Rust converter wrote with lxml (an
independent XML parser, PyPI, pinned in xml_check.sh) and checks it
against its JSON twin by FHIR's XML rules, implemented here afresh and
independently of src/fhir_xml:

- well-formed; root element named by resourceType, in the FHIR namespace;
- every element in the FHIR namespace, except the narrative div (XHTML);
- no text outside the div;
- each JSON member is, in order, the element(s) of that name: primitives
  with value="..." (numbers as written in the JSON text, booleans
  true/false), their _name sibling's id and extensions on the same
  element; arrays as repeated elements; extension url and element id as
  attributes; nested resources wrapped in their member's element;
- the div is the JSON's XHTML, as markup.

Usage: python xml_check.py DIR   (DIR holds NAME.json and NAME.xml pairs)
"""
import json
import sys
from decimal import Decimal
from pathlib import Path

from lxml import etree

FHIR = "http://hl7.org/fhir"
XHTML = "http://www.w3.org/1999/xhtml"


class Mismatch(Exception):
    pass


def number_text(value):
    # json.loads keeps the written text of numbers via parse_float/parse_int below.
    return value.text if isinstance(value, Raw) else None


class Raw:
    def __init__(self, text):
        self.text = text


def load_json(path):
    return json.loads(
        path.read_text(encoding="utf-8"),
        parse_float=Raw,
        parse_int=Raw,
        object_pairs_hook=list,
    )


def tag(element):
    return etree.QName(element).localname


def ns(element):
    return etree.QName(element).namespace


def primitive_text(value):
    if isinstance(value, Raw):
        Decimal(value.text)  # a number
        return value.text
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    raise Mismatch(f"not a primitive: {value!r}")


def is_object(value):
    return isinstance(value, list) and all(
        isinstance(p, tuple) and len(p) == 2 for p in value
    ) and (value == [] or isinstance(value[0], tuple))


def get(members, key):
    for k, v in members:
        if k == key:
            return v
    return None


def expected_elements(members, kind):
    """(name, value, extra) for each element the members stand for, in order."""
    keys = [k for k, _ in members]
    out = []
    for key, value in members:
        if key == "resourceType":
            continue
        if kind != "resource" and key == "id" and isinstance(value, str):
            continue
        if kind == "extension" and key == "url" and isinstance(value, str):
            continue
        if key.startswith("_"):
            if key[1:] in keys:
                continue
            items = value if isinstance(value, list) and not is_object(value) else [value]
            out.extend((key[1:], None, item) for item in items)
            continue
        extra = get(members, "_" + key)
        if value is None:
            continue
        if isinstance(value, list) and not is_object(value):
            extras = extra if isinstance(extra, list) else []
            for index, item in enumerate(value):
                out.append((key, item, extras[index] if index < len(extras) else None))
        else:
            out.append((key, value, extra))
    return out


def check_children(element, members, kind, where):
    children = [c for c in element if not isinstance(c, etree._Comment)]
    if element.text and element.text.strip():
        raise Mismatch(f"{where}: text content outside a div")
    expected = expected_elements(members, kind)
    if len(children) != len(expected):
        raise Mismatch(
            f"{where}: {len(children)} child elements, JSON has {len(expected)}: "
            f"{[tag(c) for c in children]} vs {[e[0] for e in expected]}"
        )
    for child, (name, value, extra) in zip(children, expected):
        at = f"{where}/{name}"
        if tag(child) != name:
            raise Mismatch(f"{at}: element <{tag(child)}> where <{name}> belongs")
        if child.tail and child.tail.strip():
            raise Mismatch(f"{at}: text content outside a div")
        check_element(child, name, value, extra, at)


def check_element(element, name, value, extra, where):
    if name == "div" and isinstance(value, str):
        if ns(element) != XHTML:
            raise Mismatch(f"{where}: the div is not in the XHTML namespace")
        expected = etree.fromstring(value.encode("utf-8"))
        if not same_markup(expected, element, top=True):
            raise Mismatch(f"{where}: the div's markup differs from the JSON's")
        return
    if ns(element) != FHIR:
        raise Mismatch(f"{where}: not in the FHIR namespace")
    if is_object(value) and get(value, "resourceType") is not None:
        inner = [c for c in element if not isinstance(c, etree._Comment)]
        if len(inner) != 1 or tag(inner[0]) != get(value, "resourceType"):
            raise Mismatch(f"{where}: a nested resource must be wrapped: <{name}><{get(value, 'resourceType')}>")
        check_resource(inner[0], value, where + "/" + get(value, "resourceType"))
        return
    if is_object(value):
        kind = "extension" if name in ("extension", "modifierExtension") else "element"
        attributes = {k: v for k, v in value if (k == "id" or (k == "url" and kind == "extension")) and isinstance(v, str)}
        if dict(element.attrib) != attributes:
            raise Mismatch(f"{where}: attributes {dict(element.attrib)} vs {attributes}")
        check_children(element, value, kind, where)
        return
    # A primitive (value may be None when only its _name exists).
    attributes = {}
    if value is not None:
        attributes["value"] = primitive_text(value)
    extra_members = extra if is_object(extra) else []
    if get(extra_members, "id") is not None:
        attributes["id"] = get(extra_members, "id")
    if dict(element.attrib) != attributes:
        raise Mismatch(f"{where}: attributes {dict(element.attrib)} vs {attributes}")
    check_children(element, [(k, v) for k, v in extra_members if k != "id"], "element", where)


def same_markup(a, b, top=False):
    """Same XHTML: tags (with namespaces), attributes, text, children, tails."""
    if a.tag != b.tag or dict(a.attrib) != dict(b.attrib) or (a.text or "") != (b.text or ""):
        return False
    if not top and (a.tail or "") != (b.tail or ""):
        return False
    if len(a) != len(b):
        return False
    return all(same_markup(x, y) for x, y in zip(a, b))


def check_resource(element, members, where):
    if ns(element) != FHIR:
        raise Mismatch(f"{where}: the resource is not in the FHIR namespace")
    if tag(element) != get(members, "resourceType"):
        raise Mismatch(f"{where}: root <{tag(element)}> for resourceType {get(members, 'resourceType')}")
    if element.attrib:
        raise Mismatch(f"{where}: a resource element has no attributes, found {dict(element.attrib)}")
    check_children(element, members, "resource", where)


def main(directory):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    pairs = sorted(Path(directory).glob("*.xml"))
    if not pairs:
        print(f"xml_check: no XML answers in {directory}", file=sys.stderr)
        return 1
    failures = 0
    for xml_path in pairs:
        json_path = xml_path.with_suffix(".json")
        try:
            root = etree.parse(str(xml_path), parser).getroot()
            members = load_json(json_path)
            # Empty arrays are not FHIR; the XML leaves them out.
            check_resource(root, strip_empty(members), "")
        except (Mismatch, etree.XMLSyntaxError, ValueError, ArithmeticError) as error:
            failures += 1
            print(f"FAIL {xml_path.name}: {error}", file=sys.stderr)
    print(f"xml_check: {len(pairs) - failures} of {len(pairs)} XML answers agree with their JSON (lxml {etree.__version__})")
    return 1 if failures else 0


def strip_empty(value):
    if is_object(value):
        return [(k, strip_empty(v)) for k, v in value if v != []]
    if isinstance(value, list):
        return [strip_empty(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

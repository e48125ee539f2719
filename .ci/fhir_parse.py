"""Builds every JSON answer the check dump wrote with the `fhir.resources`
models of its FHIR version (an independent implementation of FHIR's
resource definitions, PyPI, pinned in fhir_parse.sh).

The file names are `<era>--<api>--<operation>--<scenario>.json`; the era
(`STU3` or `DSTU2`) picks the models. Every STU3 answer must build; so must
every DSTU2 answer. Prints one line per API and exits non-zero on the first
answer a model refuses, naming the file and the model's complaint.

Usage: python fhir_parse.py DIR
"""
import json
import sys
from collections import Counter
from pathlib import Path

from fhir.resources.DSTU2 import construct_fhir_element as dstu2
from fhir.resources.STU3 import construct_fhir_element as stu3

def build_dstu2(resource_type, body):
    """The DSTU2 models of fhir.resources 7.1.0 take every Schedule inside
    a Bundle for a Slot (a defect of the library: a Bundle holding a
    Schedule never builds, whatever it holds). So a DSTU2 Bundle's entry
    resources are built each with its own model, then the Bundle with its
    entries' resources left out."""
    if resource_type != "Bundle":
        return dstu2(resource_type, body)
    shell = dict(body)
    shell["entry"] = []
    for entry in body.get("entry", []):
        resource = entry.get("resource")
        if resource is not None:
            build_dstu2(resource["resourceType"], resource)
        shell["entry"].append({k: v for k, v in entry.items() if k != "resource"})
    if not shell["entry"]:
        del shell["entry"]
    return dstu2("Bundle", shell)


MODELS = {"STU3": stu3, "DSTU2": build_dstu2}


def main(directory):
    files = sorted(Path(directory).glob("*.json"))
    if not files:
        print(f"no answers in {directory}", file=sys.stderr)
        return 1
    parsed = Counter()
    failures = []
    for path in files:
        era, api = path.name.split("--")[:2]
        build = MODELS.get(era)
        if build is None:
            failures.append(f"{path.name}: unknown era {era}")
            continue
        body = json.loads(path.read_text(encoding="utf-8"))
        try:
            build(body["resourceType"], body)
        except Exception as error:  # the models raise pydantic errors
            failures.append(f"{path.name}: {era} {body.get('resourceType')}: {error}")
            continue
        parsed[(era, api)] += 1
    for (era, api), count in sorted(parsed.items()):
        print(f"{api}: {count} answers built with the fhir.resources {era} models")
    for failure in failures:
        print(f"REFUSED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

#!/usr/bin/env bash
# FHIR XML, checked by an independent parser: every answer of the default
# pack is written as JSON and FHIR XML (by the check dump test, see
# src/check.rs), then .ci/xml_check.py reads each XML with lxml (PyPI,
# pinned, in .ci/venv-xml) and checks it against its JSON twin by FHIR's
# XML rules, implemented there independently of src/fhir_xml.
#
#   bash .ci/xml_check.sh              # as CI runs it
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=5.3.0
VENV=.ci/venv-xml
OUT=.ci/out/xml

if ! "$VENV/bin/python" -c "import lxml, sys; sys.exit(lxml.__version__ != '$VERSION')" 2>/dev/null; then
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "lxml==$VERSION"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
GPCONNECT_MOCK_XML_DUMP="$(pwd)/$OUT" cargo test --locked --quiet --lib -- \
  check::tests::default_pack_answers_survive_fhir_xml >/dev/null
"$VENV/bin/python" .ci/xml_check.py "$OUT"

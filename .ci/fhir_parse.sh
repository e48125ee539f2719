#!/usr/bin/env bash
# Every JSON answer of the default packs, parsed by independent FHIR models:
# the check dump test (src/check/mod.rs) writes each answer of every default
# API as JSON, then .ci/fhir_parse.py builds it with the Python
# `fhir.resources` models of its era (STU3 for the 1.x APIs, DSTU2 for the
# original one; PyPI, pinned below, in .ci/venv-fhir). A model refuses
# unknown elements, wrong types and malformed primitives.
#
#   bash .ci/fhir_parse.sh              # as CI runs it
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=7.1.0
VENV=.ci/venv-fhir
OUT=.ci/out/fhir-parse

if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('fhir.resources') != '$VERSION')" 2>/dev/null; then
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "fhir.resources==$VERSION"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
GPCONNECT_MOCK_XML_DUMP="$(pwd)/$OUT" cargo test --locked --quiet --lib -- \
  check::tests::default_pack_answers_survive_fhir_xml >/dev/null
"$VENV/bin/python" .ci/fhir_parse.py "$OUT"

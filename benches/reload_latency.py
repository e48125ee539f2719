#!/usr/bin/env python3
"""Hot-reload latency: from a template write to the first response that
carries the new content, over N edits (debounce included).

    cargo build --release && python3 benches/reload_latency.py [--edits 50]

Runs the release binary on a temporary copy of the default pack, edits the
template of `GET /fhir/Patient/2` N times (alternating in-place writes and
atomic rename saves) and polls until each edit is served. Prints median,
p95 and max in milliseconds.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "gpconnect-mock")


def sample_headers(base):
    url = base + "/__admin/sample-request?operation=Patient_Read&scenario=patient-meakin"
    with urllib.request.urlopen(url) as response:
        sample = json.load(response)
    return sample["url"], sample["headers"]


def note_of(url, headers):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response).get("note")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=50)
    options = parser.parse_args()
    if not os.path.exists(BINARY):
        raise SystemExit("build first: cargo build --release")
    work = tempfile.mkdtemp(prefix="gpconnect-reload-")
    try:
        shutil.copytree(os.path.join(ROOT, "scenarios", "dstu2"), os.path.join(work, "scenarios"))
        shutil.copytree(os.path.join(ROOT, "templates", "dstu2"), os.path.join(work, "templates"))
        spec = os.path.join(ROOT, "downloads", "swagger", "swagger.json")
        process = subprocess.Popen(
            [BINARY, "serve", "--port", "0", "--spec", spec, "--scenarios", os.path.join(work, "scenarios"),
             "--templates", os.path.join(work, "templates")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            for line in process.stdout:
                if "listening on http://" in line:
                    base = "http://" + line.split("listening on http://")[1].split()[0]
                    break
            template = os.path.join(work, "templates", "patient", "read-meakin.json.hbs")
            latencies = []
            for n in range(options.edits):
                url, headers = sample_headers(base)  # a fresh JWT each edit
                body = '{"resourceType": "Patient", "id": "2", "note": "edit %d"}' % n
                started = time.perf_counter()
                if n % 2:
                    temporary = template + ".tmp~"
                    with open(temporary, "w") as f:
                        f.write(body)
                    os.replace(temporary, template)
                else:
                    with open(template, "w") as f:
                        f.write(body)
                while note_of(url, headers) != "edit %d" % n:
                    time.sleep(0.001)
                latencies.append((time.perf_counter() - started) * 1000)
            latencies.sort()
            p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
            print(f"reload latency, write -> first response with the new content, {len(latencies)} edits:")
            print(f"  median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms")
        finally:
            process.kill()
            process.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

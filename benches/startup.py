#!/usr/bin/env python3
"""Startup time of gpconnect-mock: from process start to the `listening on`
line, and to the first 200 answer, over several runs.

    cargo build --release && python3 benches/startup.py [--spec PATH] [--runs N]

Prints median and max for both measures. With `--spec` the given definition
is loaded without a scenario pack (e.g. ../shared/specs/gpconnect-swagger.json).
"""
import argparse
import os
import statistics
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The release binary of this checkout, under $CARGO_TARGET_DIR when set.
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
BINARY = os.path.join(TARGET_DIR, "release", "gpconnect-mock")


def first_ok(base, path):
    while True:
        try:
            with urllib.request.urlopen(base + path, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception:
            time.sleep(0.0005)


def run_once(spec, probe):
    args = [BINARY, "serve", "--port", "0", "--no-watch"]
    if spec:
        args += ["--spec", spec]
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in process.stdout:
            if "listening on http://" in line:
                listening = time.perf_counter() - started
                address = line.split("listening on http://")[1].split()[0]
                first_ok("http://" + address, probe)
                answered = time.perf_counter() - started
                return listening, answered
        raise SystemExit("the server exited before listening")
    finally:
        process.kill()
        process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec")
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    if not os.path.exists(BINARY):
        raise SystemExit("build first: cargo build --release")
    # The admin health endpoint answers 200 without GP Connect headers.
    probe = "/__admin/health"
    runs = [run_once(options.spec, probe) for _ in range(options.runs)]
    listening = [r[0] * 1000 for r in runs]
    answered = [r[1] * 1000 for r in runs]
    label = options.spec or "default definition and pack"
    print(f"startup of gpconnect-mock ({label}), {options.runs} runs:")
    print(f"  process start -> listening:  median {statistics.median(listening):6.1f} ms, max {max(listening):6.1f} ms")
    print(f"  process start -> first 200:  median {statistics.median(answered):6.1f} ms, max {max(answered):6.1f} ms")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Installs everything the test suite needs, then runs the whole suite.
#  - system: Debian's chromium + chromium-driver for the HTML report's browser test (when root),
#    default-jre-headless for the Spark engine's tests
#  - python: a virtual environment in .venv with cartlens and its test extras
# pytest's exit status 5 ("no tests collected") is turned into a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[cartlens] installing chromium + chromium-driver (apt-get)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
      || echo "[cartlens] warning: could not install chromium"
  fi
fi
# a Java runtime for the Spark engine's tests (PySpark local mode)
if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[cartlens] installing default-jre-headless (apt-get)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null) \
      || echo "[cartlens] warning: could not install a Java runtime"
  fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv || exit 1
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[test]' || exit 1
.venv/bin/python -m ruff check src tests bench || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "[cartlens] pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"

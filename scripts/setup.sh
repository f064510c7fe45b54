#!/usr/bin/env bash
# Set up everything fm2s needs on a fresh Debian/Ubuntu-like machine, into ./.venv:
#   - system packages (when run as root with apt): Java (with javac, which the tests' Fiji
#     harness needs), ImageJ 1.x (libij-java), xvfb
#   - PyTorch 2.13.0 FIRST (on the project machines this is a CPU wheel that lies on disk;
#     any other torch requirement would pull a multi-GB CUDA build), then fm2s with extras.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v javac >/dev/null 2>&1 || need_apt+=(default-jdk-headless)
[ -f /usr/share/java/ij.jar ] || need_apt+=(libij-java)
command -v xvfb-run >/dev/null 2>&1 || need_apt+=(xvfb)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install ${need_apt[*]} (Debian/Ubuntu: sudo apt-get install ${need_apt[*]});" \
         "the ImageJ parts of fm2s need them" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing torch==2.13.0"
  .venv/bin/python -m pip install -q torch==2.13.0
fi
echo "setup: installing fm2s (editable) with the imagej, test, bench and cluster extras"
.venv/bin/python -m pip install -q -e ".[imagej,test,bench,cluster]"
.venv/bin/python -c "import fm2s, torch; print(f'setup: fm2s {fm2s.__version__}, torch {torch.__version__}, ready')"

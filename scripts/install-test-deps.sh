#!/usr/bin/env bash
# Installs what the tests need when missing: PostgreSQL and Redis (the cluster's conformance and
# cluster tests), promtool, nginx, HAProxy and Python 3 with PyYAML (tests/ops_files,
# tests/haproxy.rs), and dieharder and SciPy (scripts/rng-report.sh, its quick run in
# tests/cli.rs).
# Idempotent; Debian 12, as root (or with sudo). Prints what it did.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
# The test runs `python3` from PATH, falling back to /usr/bin/python3: one of them needs yaml.
if ! python3 -c 'import yaml' >/dev/null 2>&1 && ! /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1; then
  missing+=(python3 python3-yaml)
fi
command -v dieharder >/dev/null 2>&1 || missing+=(dieharder)
if ! python3 -c 'import scipy' >/dev/null 2>&1 && ! /usr/bin/python3 -c 'import scipy' >/dev/null 2>&1; then
  missing+=(python3-scipy)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: postgresql, redis-server, promtool, nginx, haproxy, python3-yaml, dieharder and python3-scipy already present; nothing to do"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-test-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-test-deps: installing ${missing[*]}"
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian may start the services it installs (nginx on :80, prometheus on :9090, on machines
# whose policy allows it); the tests need only the binaries, so stop what was just installed.
for service in postgresql redis-server prometheus nginx haproxy; do
  [[ " ${missing[*]} " == *" $service "* ]] || continue
  if [ -d /run/systemd/system ] && systemctl is-active --quiet "$service" 2>/dev/null; then
    $sudo systemctl stop "$service" && echo "install-test-deps: stopped the $service service"
  elif [ -x "/etc/init.d/$service" ] && $sudo "/etc/init.d/$service" status >/dev/null 2>&1; then
    $sudo "/etc/init.d/$service" stop >/dev/null && echo "install-test-deps: stopped the $service service"
  fi
done
echo "install-test-deps: done ($(promtool --version 2>&1 | head -n1); $(nginx -v 2>&1); $(haproxy -v 2>&1 | head -n1))"

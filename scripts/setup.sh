#!/usr/bin/env bash
# Installs everything serin's demo and tests need on a fresh machine of this kind, and nothing twice:
# npm packages (from the lock file), Debian packages (curl, openssl, prometheus and zsh, as root), the
# Go-built control plane (cached under ~/.cache/serin), and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for tool in curl:curl openssl:openssl /usr/bin/prometheus:prometheus zsh:zsh; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool##*:}")
done
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing ${need_apt[*]}; install them (apt-get install ${need_apt[*]}) or run as root" >&2
    exit 1
  fi
  echo "setup: apt-get install ${need_apt[*]}"
  apt-get update -qq
  # --no-install-recommends: the prometheus package alone, not its exporters and their services.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# npm ci only when the lock changed since the last install.
stamp=node_modules/.serin-lock.sha256
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$lock_sum" ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" >"$stamp"
fi

bash scripts/build-controlplane.sh

echo "setup: tsc"
rm -rf dist
npx tsc -p .
chmod +x dist/src/cli/main.js dist/src/cli/kubectl-serin.js dist/src/cli/kubectl-complete-serin.js

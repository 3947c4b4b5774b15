#!/usr/bin/env bash
# Build the two peers the comparison benchmark runs beside serin, Flagger (cmd/flagger) and Argo Rollouts
# (cmd/rollouts-controller), from the Go modules pinned in bench/peers/<peer>/, into the control plane's
# cache, and copy each peer's CRDs from its module beside its binary. Only bench/peers.ts calls this:
# `npm test` never builds the peers.
#
# Cache layout and key are the control plane's (scripts/build-controlplane.sh):
#   ${SERIN_CACHE:-$HOME/.cache/serin}/controlplane/<peer>-<version>-<key12>/<binary>
# <key12> = first 12 hex digits of sha256(go.mod, go.sum, the build flags, GOOS/GOARCH). A module whose
# go.mod names a `toolchain` is built with exactly that Go release (GOTOOLCHAIN), fetched by the go
# command like any module.
#
# At the end ${SERIN_CACHE:-$HOME/.cache/serin}/controlplane/peers.env holds FLAGGER=, FLAGGER_CRDS=,
# ARGO_ROLLOUTS=, ARGO_ROLLOUTS_CRDS= (absolute paths) and FLAGGER_VERSION=, ARGO_ROLLOUTS_VERSION=.
#
# Usage: build.sh [flagger] [argo-rollouts] (default: both). Naming one builds only that peer and
# rewrites only its lines of peers.env (the detection benchmark needs Flagger alone).
#
# Environment: SERIN_CACHE (cache root), SERIN_BUILD_JOBS (go build -p, default 2).
set -euo pipefail
shopt -s inherit_errexit

PEERS=("$@")
if ((${#PEERS[@]} == 0)); then PEERS=(flagger argo-rollouts); fi
for peer in "${PEERS[@]}"; do
  case "$peer" in
    flagger | argo-rollouts) ;;
    *)
      echo "build-peers: unknown peer $peer (known: flagger, argo-rollouts)" >&2
      exit 2
      ;;
  esac
done
wanted() { [[ " ${PEERS[*]} " == *" $1 "* ]]; }

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${SERIN_CACHE:-$HOME/.cache/serin}/controlplane"
JOBS="${SERIN_BUILD_JOBS:-2}"

if ! command -v go >/dev/null 2>&1; then
  echo "build-peers: the Go toolchain (go) is not on PATH" >&2
  exit 1
fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$OUT/.lock"
  flock 9
fi

TMP_PATHS=()
cleanup() { if ((${#TMP_PATHS[@]})); then rm -rf "${TMP_PATHS[@]}"; fi; }
trap cleanup EXIT

export CGO_ENABLED=0
GOOS_ARCH="$(go env GOOS)/$(go env GOARCH)"
COMMON_FLAGS="CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w"

# required_version DIR MODULE: the version of MODULE that DIR/go.mod requires.
required_version() {
  awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1/go.mod"
}

# toolchain_of DIR: the `toolchain` directive of DIR/go.mod, or "local".
toolchain_of() {
  awk '$1 == "toolchain" { print $2; found = 1; exit } END { if (!found) print "local" }' "$1/go.mod"
}

# module_dir DIR MODULE: where the go command unpacked MODULE (downloading it if needed).
module_dir() {
  (cd "$1" && GOTOOLCHAIN="$(toolchain_of "$1")" go mod download -json "$2" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

# build PEER DIR PKG BINARY MODULE LDFLAGS CRD_COPY: sets BUILT (the binary) and CRDS (its CRD folder).
# CRD_COPY is a function called with the module's source folder and the destination folder.
build() {
  local peer="$1" dir="$2" pkg="$3" bin="$4" module="$5" ldflags="$6" copy_crds="$7"
  local version toolchain key dest tmp start
  version="$(required_version "$dir" "$module")"
  toolchain="$(toolchain_of "$dir")"
  key="$(
    {
      for f in go.mod go.sum; do
        printf '== %s\n' "$f"
        cat "$dir/$f"
      done
      printf '== flags\n%s\n%s\n%s\n' "$COMMON_FLAGS" "$ldflags" "$GOOS_ARCH"
    } | sha256sum | cut -c1-12
  )"
  dest="$OUT/$peer-$version-$key"
  BUILT="$dest/$bin"
  CRDS="$dest/crds"
  VERSION="$version"
  if [[ -x "$BUILT" ]]; then
    echo "$peer $version: cached ($BUILT)"
  else
    mkdir -p "$dest"
    tmp="$(mktemp "$dest/.$bin.tmp.XXXXXX")"
    TMP_PATHS+=("$tmp")
    start=$SECONDS
    if ! (cd "$dir" && GOTOOLCHAIN="$toolchain" go build -p "$JOBS" -trimpath -buildvcs=false \
        -ldflags "-s -w $ldflags" -o "$tmp" "$pkg") >&2; then
      echo "$peer $version: build FAILED" >&2
      exit 1
    fi
    chmod 0755 "$tmp"
    mv -f "$tmp" "$BUILT"
    echo "$peer $version: built in $((SECONDS - start))s with Go $toolchain ($BUILT)"
  fi
  if [[ ! -d "$CRDS" ]]; then
    local src staged
    src="$(module_dir "$dir" "$module")"
    staged="$(mktemp -d "$dest/.crds.XXXXXX")"
    TMP_PATHS+=("$staged")
    "$copy_crds" "$src" "$staged"
    chmod -R a+rX,u+w "$staged"
    mv "$staged" "$CRDS"
  fi
}

# Flagger's Canary, MetricTemplate and AlertProvider CRDs are one file in its module.
flagger_crds() { cp "$1/artifacts/flagger/crd.yaml" "$2/"; }
# Argo Rollouts ships a kustomization over one file per CRD (applied with `kubectl apply -k`).
argo_crds() { cp "$1"/manifests/crds/*.yaml "$2/"; }

ENV_LINES=()
if wanted flagger; then
  build flagger "$HERE/flagger" github.com/fluxcd/flagger/cmd/flagger flagger github.com/fluxcd/flagger \
    "" flagger_crds
  ENV_LINES+=("FLAGGER=$BUILT" "FLAGGER_CRDS=$CRDS" "FLAGGER_VERSION=$VERSION")
fi

if wanted argo-rollouts; then
  ARGO_DIR="$HERE/argo-rollouts"
  ARGO_MODULE=github.com/argoproj/argo-rollouts
  ARGO_VER="$(required_version "$ARGO_DIR" "$ARGO_MODULE")"
  # What upstream's Makefile sets; the module proxy records no commit, so gitCommit stays empty.
  ARGO_LD="-X $ARGO_MODULE/utils/version.version=${ARGO_VER#v} -X $ARGO_MODULE/utils/version.gitTreeState=clean"
  build argo-rollouts "$ARGO_DIR" "$ARGO_MODULE/cmd/rollouts-controller" rollouts-controller "$ARGO_MODULE" \
    "$ARGO_LD" argo_crds
  ENV_LINES+=("ARGO_ROLLOUTS=$BUILT" "ARGO_ROLLOUTS_CRDS=$CRDS" "ARGO_ROLLOUTS_VERSION=$VERSION")
fi

# The lines of the peers not built this time are kept from the previous peers.env.
tmp_env="$(mktemp "$OUT/.peers.env.XXXXXX")"
TMP_PATHS+=("$tmp_env")
{
  if [[ -f "$OUT/peers.env" ]]; then
    keys="$(printf '%s\n' "${ENV_LINES[@]%%=*}")"
    awk -F= -v keys="$keys" 'BEGIN { split(keys, list, "\n"); for (i in list) rewritten[list[i]] = 1 }
      !($1 in rewritten)' "$OUT/peers.env"
  fi
  printf '%s\n' "${ENV_LINES[@]}"
} >"$tmp_env"
mv -f "$tmp_env" "$OUT/peers.env"
echo "wrote $OUT/peers.env"

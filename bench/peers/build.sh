#!/usr/bin/env bash
# Build the two peers the comparison benchmark runs beside serin, Flagger (cmd/flagger) and Argo Rollouts
# (cmd/rollouts-controller), from the Go modules pinned in bench/peers/<peer>/, into the control plane's
# cache, and copy each peer's CRDs from its module beside its binary. Only bench/peers.ts calls this:
# `npm test` never builds the peers.
#
# Cache layout and key are the control plane's (scripts/lib/go-cache.sh):
#   ${SERIN_CACHE:-$HOME/.cache/serin}/controlplane/<peer>-<version>-<key12>/<binary>
# Argo Rollouts' go.mod names a `toolchain`: it is built with exactly that Go release.
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
# shellcheck source=../../scripts/lib/go-cache.sh
source "$HERE/../../scripts/lib/go-cache.sh"
go_cache_open build-peers

# build PEER DIR PKG BINARY MODULE LDFLAGS COPY_CRDS: sets BUILT (the binary), CRDS (its CRD folder) and
# VERSION. COPY_CRDS is called with the module's source folder and the destination folder.
build() {
  local peer="$1" dir="$2" pkg="$3" bin="$4" module="$5" ldflags="$6" copy_crds="$7"
  VERSION="$(go_cache_modver "$dir" "$module")"
  go_cache_build "$peer" "$dir" "$pkg" "$bin" "$VERSION" "$ldflags"
  CRDS="$(dirname "$BUILT")/crds"
  if [[ ! -d "$CRDS" ]]; then go_cache_from_module "$dir" "$module" "$CRDS" "$copy_crds"; fi
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
  ARGO_VER="$(go_cache_modver "$ARGO_DIR" "$ARGO_MODULE")"
  # What upstream's Makefile sets; the module proxy records no commit, so gitCommit stays empty.
  ARGO_LD="-X $ARGO_MODULE/utils/version.version=${ARGO_VER#v} -X $ARGO_MODULE/utils/version.gitTreeState=clean"
  build argo-rollouts "$ARGO_DIR" "$ARGO_MODULE/cmd/rollouts-controller" rollouts-controller "$ARGO_MODULE" \
    "$ARGO_LD" argo_crds
  ENV_LINES+=("ARGO_ROLLOUTS=$BUILT" "ARGO_ROLLOUTS_CRDS=$CRDS" "ARGO_ROLLOUTS_VERSION=$VERSION")
fi

# The lines of the peers not built this time are kept from the previous peers.env.
KEPT=()
if [[ -f "$OUT/peers.env" ]]; then
  keys="$(printf '%s\n' "${ENV_LINES[@]%%=*}")"
  mapfile -t KEPT < <(awk -F= -v keys="$keys" 'BEGIN { split(keys, list, "\n"); for (i in list) rewritten[list[i]] = 1 }
    !($1 in rewritten)' "$OUT/peers.env")
fi
go_cache_write "$OUT/peers.env" "${KEPT[@]}" "${ENV_LINES[@]}"
echo "wrote $OUT/peers.env"

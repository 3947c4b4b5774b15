#!/usr/bin/env bash
# Build the real control-plane binaries used by serin's end-to-end tests and demo
# (kube-apiserver, kube-controller-manager and kube-scheduler for each Kubernetes
# minor under test/controlplane/kubernetes-*, etcd, kwok, helm v3, helm v4, cert-manager's
# controller and cainjector) from the Go modules pinned under test/controlplane/, with the Go
# toolchain only.
#
# Binaries are cached outside the repo:
#   ${SERIN_CACHE:-$HOME/.cache/serin}/controlplane/<tool>-<version>-<key12>/<binary>
# where <key12> is the first 12 hex digits of the sha256 of the tool's
# go.mod + go.sum + every .go file of the folder + the build flags below. A binary is
# rebuilt only when that file is missing, i.e. when a pin or a flag changed.
#
# At the end ${SERIN_CACHE:-$HOME/.cache/serin}/controlplane/paths.env holds
# KUBERNETES_VERSIONS= and KUBERNETES_DEFAULT= (minors such as 1.34), then
# KUBE_APISERVER_<minor>=, KUBE_CONTROLLER_MANAGER_<minor>=, KUBE_SCHEDULER_<minor>=
# (1_34 for 1.34), ETCD=, HELM3=, HELM4=, KWOK= (absolute paths) and KWOK_STAGES=
# (the folder of kwok's stage definitions), CERT_MANAGER_CONTROLLER=, CERT_MANAGER_CAINJECTOR= and
# CERT_MANAGER_CRDS= (the folder of cert-manager's CRDs) for the local cluster.
#
# Environment:
#   SERIN_CACHE        cache root (default $HOME/.cache/serin)
#   SERIN_BUILD_JOBS   go build -p (default 2)
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
SRC="$ROOT/test/controlplane"

CACHE_ROOT="${SERIN_CACHE:-$HOME/.cache/serin}"
OUT="$CACHE_ROOT/controlplane"
JOBS="${SERIN_BUILD_JOBS:-2}"

if ! command -v go >/dev/null 2>&1; then
  echo "build-controlplane: the Go toolchain (go) is not on PATH" >&2
  exit 1
fi

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# Serialise concurrent runs (e.g. several test workers) on one cache.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$OUT/.lock"
  flock 9
fi

# Partial outputs are removed if the script is interrupted or fails.
TMP_FILES=()
cleanup() { if ((${#TMP_FILES[@]})); then rm -f "${TMP_FILES[@]}"; fi; }
trap cleanup EXIT

export CGO_ENABLED=0
GOOS_ARCH="$(go env GOOS)/$(go env GOARCH)"

# Flags common to every build. Part of every cache key: changing them here
# rebuilds everything. (-p only affects parallelism, so it is not.)
COMMON_FLAGS="CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w"

# modver DIR MODULE: the version of MODULE selected in DIR/go.mod (a replace
# directive's target version wins over the require line).
modver() {
  awk -v m="$2" '
    $1 == m && $2 == "=>" && $4 ~ /^v/ { rep = $4 }
    $1 == "replace" && $2 == m && $3 == "=>" && $5 ~ /^v/ { rep = $5 }
    $1 == m && $2 ~ /^v/ && req == "" { req = $2 }
    $1 == "require" && $2 == m && $3 ~ /^v/ && req == "" { req = $3 }
    END { if (rep != "") print rep; else print req }
  ' "$1/go.mod"
}

# cache_key DIR EXTRA: sha256 of go.mod, go.sum, main.go (if present), the
# common flags, the tool's own flags and the target platform.
cache_key() {
  local dir="$1" extra="$2" f
  {
    for f in go.mod go.sum $(cd "$dir" && find . -name '*.go' | LC_ALL=C sort); do
      if [[ -f "$dir/$f" ]]; then
        printf '== %s\n' "$f"
        cat "$dir/$f"
      fi
    done
    printf '== flags\n%s\n%s\n%s\n' "$COMMON_FLAGS" "$extra" "$GOOS_ARCH"
  } | sha256sum | cut -c1-12
}

# build TOOL DIR PKG BINARY VERSION EXTRA_LDFLAGS [LATE_LDFLAGS_CMD]
# Sets BUILT to the absolute path of the binary and prints one status line on
# stdout; the Go toolchain's own output goes to stderr.
build() {
  local tool="$1" dir="$2" pkg="$3" bin="$4" version="$5" extra="$6" late="${7:-}"
  local key dest target tmp start secs ldflags
  BUILT=""
  key="$(cache_key "$dir" "$extra")"
  dest="$OUT/$tool-$version-$key"
  target="$dest/$bin"
  if [[ -x "$target" ]]; then
    echo "$tool $version: cached ($target)"
    BUILT="$target"
    return 0
  fi
  mkdir -p "$dest"
  tmp="$(mktemp "$dest/.$bin.tmp.XXXXXX")"
  TMP_FILES+=("$tmp")
  start=$SECONDS
  ldflags="-s -w $extra"
  if [[ -n "$late" ]]; then
    # Flags derived only from the pinned modules (so already covered by the
    # key), computed when a build is actually needed.
    ldflags="$ldflags $(cd "$dir" && eval "$late")"
  fi
  if ! (cd "$dir" && go build -p "$JOBS" -trimpath -buildvcs=false \
      -ldflags "$ldflags" -o "$tmp" "$pkg") >&2; then
    rm -f "$tmp"
    echo "$tool $version: build FAILED" >&2
    exit 1
  fi
  chmod 0755 "$tmp"
  mv -f "$tmp" "$target"
  secs=$((SECONDS - start))
  echo "$tool $version: built in ${secs}s ($target)"
  BUILT="$target"
}

# --- Kubernetes: kube-apiserver, kube-controller-manager, kube-scheduler -------
# One module per Kubernetes minor under test/controlplane/kubernetes-<minor>/, each with the three
# commands as packages, so that the three binaries come from the same pinned release.
# k8s_ld VERSION: the version variables upstream's build sets (hack/lib/version.sh).
k8s_ld() {
  local ver="$1" major minor p ld=""
  major="${ver#v}"; major="${major%%.*}"
  minor="${ver#v*.}"; minor="${minor%%.*}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$ver -X $p.gitMajor=$major"
    ld+=" -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    # The module proxy does not record the release commit; clear the
    # "$Format:%H$" placeholder instead of inventing a hash.
    ld+=" -X $p.gitCommit="
  done
  echo "$ld"
}
# buildDate = the release's publication time recorded for the pinned module
# (deterministic, unlike the wall clock).
K8S_LATE='d=$(go list -m -f "{{.Time.UTC.Format \"2006-01-02T15:04:05Z\"}}" k8s.io/kubernetes); echo "-X k8s.io/component-base/version.buildDate=$d -X k8s.io/client-go/pkg/version.buildDate=$d"'
K8S_ENV=()
K8S_MINORS=()
for K8S_DIR in "$SRC"/kubernetes-*; do
  minor="${K8S_DIR##*/kubernetes-}"   # 1.34
  K8S_MINORS+=("$minor")
  ver="$(modver "$K8S_DIR" k8s.io/kubernetes)"
  ld="$(k8s_ld "$ver")"
  suffix="${minor//./_}"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    build "$cmd" "$K8S_DIR" "./$cmd" "$cmd" "$ver" "$ld" "$K8S_LATE"
    var="${cmd//-/_}"; var="${var^^}"
    K8S_ENV+=("${var}_${suffix}=$BUILT")
  done
done
# The default version the tests and the demo run on; the other is for the version matrix.
K8S_DEFAULT="1.34"

# --- etcd --------------------------------------------------------------------
ETCD_DIR="$SRC/etcd"
ETCD_VER="$(modver "$ETCD_DIR" go.etcd.io/etcd/server/v3)"
build etcd "$ETCD_DIR" . etcd "$ETCD_VER" ""
ETCD="$BUILT"

# --- helm v3 / v4 (built directly from helm's own cmd/helm package) ----------
helm_ld() { # helm_ld DIR MAJOR
  local dir="$1" major="$2" ver kver kmaj kmin
  ver="$(modver "$dir" "helm.sh/helm/v$major")"
  echo -n "-X helm.sh/helm/v$major/internal/version.version=$ver"
  echo -n " -X helm.sh/helm/v$major/internal/version.gitTreeState=clean"
  if [[ "$major" == 3 ]]; then
    # Same as helm's Makefile: default .Capabilities.KubeVersion and lint
    # deprecation checks follow the client-go minor helm was built with.
    kver="$(modver "$dir" k8s.io/client-go)"; kver="${kver#v}"
    kmaj=$(( ${kver%%.*} + 1 )); kmin="${kver#*.}"; kmin="${kmin%%.*}"
    echo -n " -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$kmaj"
    echo -n " -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kmin"
    echo -n " -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$kmaj"
    echo -n " -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kmin"
  fi
}
HELM3_DIR="$SRC/helm3"
HELM3_VER="$(modver "$HELM3_DIR" helm.sh/helm/v3)"
build helm3 "$HELM3_DIR" helm.sh/helm/v3/cmd/helm helm "$HELM3_VER" "$(helm_ld "$HELM3_DIR" 3)"
HELM3="$BUILT"

HELM4_DIR="$SRC/helm4"
HELM4_VER="$(modver "$HELM4_DIR" helm.sh/helm/v4)"
build helm4 "$HELM4_DIR" helm.sh/helm/v4/cmd/helm helm "$HELM4_VER" "$(helm_ld "$HELM4_DIR" 4)"
HELM4="$BUILT"

# --- kwok: a fake Node and Ready pods, with its stage definitions ---------------
KWOK_DIR="$SRC/kwok"
KWOK_VER="$(modver "$KWOK_DIR" sigs.k8s.io/kwok)"
build kwok "$KWOK_DIR" sigs.k8s.io/kwok/cmd/kwok kwok "$KWOK_VER" ""
KWOK="$BUILT"
# The stages kwok's own module ships (kustomize/stage/): node initialize and heartbeat, pod ready,
# complete and delete. Copied beside the binary so that nothing reads the module cache at run time.
KWOK_STAGES="$(dirname "$KWOK")/stages"
if [[ ! -f "$KWOK_STAGES/pod-ready.yaml" ]]; then
  kwok_src="$(cd "$KWOK_DIR" && go mod download -json sigs.k8s.io/kwok | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  tmp_stages="$(mktemp -d "$(dirname "$KWOK")/.stages.XXXXXX")"
  cp "$kwok_src"/kustomize/stage/node/fast/node-initialize.yaml \
    "$kwok_src"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    "$kwok_src"/kustomize/stage/pod/fast/pod-ready.yaml \
    "$kwok_src"/kustomize/stage/pod/fast/pod-complete.yaml \
    "$kwok_src"/kustomize/stage/pod/fast/pod-delete.yaml "$tmp_stages"/
  chmod -R a+rX,u+w "$tmp_stages"
  rm -rf "$KWOK_STAGES"
  mv "$tmp_stages" "$KWOK_STAGES"
fi

# --- cert-manager: controller and cainjector, with its CRDs ---------------------
# Both commands are built from one module (test/controlplane/cert-manager/) around the pinned release's
# library packages. The release's CRDs (deploy/crds/ in its module) are copied beside the binaries.
CM_DIR="$SRC/cert-manager"
CM_VER="$(modver "$CM_DIR" github.com/cert-manager/cert-manager)"
build cert-manager-controller "$CM_DIR" ./controller cert-manager-controller "$CM_VER" ""
CERT_MANAGER_CONTROLLER="$BUILT"
build cert-manager-cainjector "$CM_DIR" ./cainjector cert-manager-cainjector "$CM_VER" ""
CERT_MANAGER_CAINJECTOR="$BUILT"
CERT_MANAGER_CRDS="$(dirname "$CERT_MANAGER_CONTROLLER")/crds"
if [[ ! -f "$CERT_MANAGER_CRDS/cert-manager.io_certificates.yaml" ]]; then
  cm_src="$(cd "$CM_DIR" && go mod download -json github.com/cert-manager/cert-manager | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  tmp_crds="$(mktemp -d "$(dirname "$CERT_MANAGER_CONTROLLER")/.crds.XXXXXX")"
  cp "$cm_src"/deploy/crds/*.cert-manager.io_*.yaml "$cm_src"/deploy/crds/cert-manager.io_*.yaml "$tmp_crds"/
  chmod -R a+rX,u+w "$tmp_crds"
  rm -rf "$CERT_MANAGER_CRDS"
  mv "$tmp_crds" "$CERT_MANAGER_CRDS"
fi

# --- paths.env ---------------------------------------------------------------
tmp_env="$(mktemp "$OUT/.paths.env.XXXXXX")"
TMP_FILES+=("$tmp_env")
{
  echo "KUBERNETES_VERSIONS=${K8S_MINORS[*]}"
  echo "KUBERNETES_DEFAULT=$K8S_DEFAULT"
  printf '%s\n' "${K8S_ENV[@]}"
  echo "ETCD=$ETCD"
  echo "HELM3=$HELM3"
  echo "HELM4=$HELM4"
  echo "KWOK=$KWOK"
  echo "KWOK_STAGES=$KWOK_STAGES"
  echo "CERT_MANAGER_CONTROLLER=$CERT_MANAGER_CONTROLLER"
  echo "CERT_MANAGER_CAINJECTOR=$CERT_MANAGER_CAINJECTOR"
  echo "CERT_MANAGER_CRDS=$CERT_MANAGER_CRDS"
} >"$tmp_env"
mv -f "$tmp_env" "$OUT/paths.env"
echo "wrote $OUT/paths.env"

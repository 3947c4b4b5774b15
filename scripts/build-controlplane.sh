#!/usr/bin/env bash
# Build the real control-plane binaries used by serin's end-to-end tests and demo
# (kube-apiserver, kube-controller-manager and kube-scheduler for each Kubernetes
# minor under test/controlplane/kubernetes-*, etcd, kwok, helm v3, helm v4, cert-manager's
# controller and cainjector) from the Go modules pinned under test/controlplane/, with the Go
# toolchain only.
#
# Binaries are cached outside the repo, with the layout and key of scripts/lib/go-cache.sh:
#   ${SERIN_CACHE:-$HOME/.cache/serin}/controlplane/<tool>-<version>-<key12>/<binary>
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
# shellcheck source=lib/go-cache.sh
source "$ROOT/scripts/lib/go-cache.sh"
go_cache_open build-controlplane

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
  ver="$(go_cache_modver "$K8S_DIR" k8s.io/kubernetes)"
  ld="$(k8s_ld "$ver")"
  suffix="${minor//./_}"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    go_cache_build "$cmd" "$K8S_DIR" "./$cmd" "$cmd" "$ver" "$ld" "$K8S_LATE"
    var="${cmd//-/_}"; var="${var^^}"
    K8S_ENV+=("${var}_${suffix}=$BUILT")
  done
done
# The default version the tests and the demo run on; the other is for the version matrix.
K8S_DEFAULT="1.34"

# --- etcd --------------------------------------------------------------------
ETCD_DIR="$SRC/etcd"
ETCD_VER="$(go_cache_modver "$ETCD_DIR" go.etcd.io/etcd/server/v3)"
go_cache_build etcd "$ETCD_DIR" . etcd "$ETCD_VER" ""
ETCD="$BUILT"

# --- helm v3 / v4 (built directly from helm's own cmd/helm package) ----------
helm_ld() { # helm_ld DIR MAJOR
  local dir="$1" major="$2" ver kver kmaj kmin
  ver="$(go_cache_modver "$dir" "helm.sh/helm/v$major")"
  echo -n "-X helm.sh/helm/v$major/internal/version.version=$ver"
  echo -n " -X helm.sh/helm/v$major/internal/version.gitTreeState=clean"
  if [[ "$major" == 3 ]]; then
    # Same as helm's Makefile: default .Capabilities.KubeVersion and lint
    # deprecation checks follow the client-go minor helm was built with.
    kver="$(go_cache_modver "$dir" k8s.io/client-go)"; kver="${kver#v}"
    kmaj=$(( ${kver%%.*} + 1 )); kmin="${kver#*.}"; kmin="${kmin%%.*}"
    echo -n " -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$kmaj"
    echo -n " -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kmin"
    echo -n " -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$kmaj"
    echo -n " -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kmin"
  fi
}
HELM3_DIR="$SRC/helm3"
HELM3_VER="$(go_cache_modver "$HELM3_DIR" helm.sh/helm/v3)"
go_cache_build helm3 "$HELM3_DIR" helm.sh/helm/v3/cmd/helm helm "$HELM3_VER" "$(helm_ld "$HELM3_DIR" 3)"
HELM3="$BUILT"

HELM4_DIR="$SRC/helm4"
HELM4_VER="$(go_cache_modver "$HELM4_DIR" helm.sh/helm/v4)"
go_cache_build helm4 "$HELM4_DIR" helm.sh/helm/v4/cmd/helm helm "$HELM4_VER" "$(helm_ld "$HELM4_DIR" 4)"
HELM4="$BUILT"

# --- kwok: a fake Node and Ready pods, with its stage definitions ---------------
KWOK_DIR="$SRC/kwok"
KWOK_VER="$(go_cache_modver "$KWOK_DIR" sigs.k8s.io/kwok)"
go_cache_build kwok "$KWOK_DIR" sigs.k8s.io/kwok/cmd/kwok kwok "$KWOK_VER" ""
KWOK="$BUILT"
# The stages kwok's own module ships (kustomize/stage/): node initialize and heartbeat, pod ready,
# complete and delete. Copied beside the binary so that nothing reads the module cache at run time.
KWOK_STAGES="$(dirname "$KWOK")/stages"
kwok_stages() {
  cp "$1"/kustomize/stage/node/fast/node-initialize.yaml \
    "$1"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    "$1"/kustomize/stage/pod/fast/pod-ready.yaml \
    "$1"/kustomize/stage/pod/fast/pod-complete.yaml \
    "$1"/kustomize/stage/pod/fast/pod-delete.yaml "$2"/
}
if [[ ! -f "$KWOK_STAGES/pod-ready.yaml" ]]; then
  go_cache_from_module "$KWOK_DIR" sigs.k8s.io/kwok "$KWOK_STAGES" kwok_stages
fi

# --- cert-manager: controller and cainjector, with its CRDs ---------------------
# Both commands are built from one module (test/controlplane/cert-manager/) around the pinned release's
# library packages. The release's CRDs (deploy/crds/ in its module) are copied beside the binaries.
CM_DIR="$SRC/cert-manager"
CM_VER="$(go_cache_modver "$CM_DIR" github.com/cert-manager/cert-manager)"
go_cache_build cert-manager-controller "$CM_DIR" ./controller cert-manager-controller "$CM_VER" ""
CERT_MANAGER_CONTROLLER="$BUILT"
go_cache_build cert-manager-cainjector "$CM_DIR" ./cainjector cert-manager-cainjector "$CM_VER" ""
CERT_MANAGER_CAINJECTOR="$BUILT"
CERT_MANAGER_CRDS="$(dirname "$CERT_MANAGER_CONTROLLER")/crds"
cert_manager_crds() { cp "$1"/deploy/crds/*.cert-manager.io_*.yaml "$1"/deploy/crds/cert-manager.io_*.yaml "$2"/; }
if [[ ! -f "$CERT_MANAGER_CRDS/cert-manager.io_certificates.yaml" ]]; then
  go_cache_from_module "$CM_DIR" github.com/cert-manager/cert-manager "$CERT_MANAGER_CRDS" cert_manager_crds
fi

# --- paths.env ---------------------------------------------------------------
go_cache_write "$OUT/paths.env" \
  "KUBERNETES_VERSIONS=${K8S_MINORS[*]}" \
  "KUBERNETES_DEFAULT=$K8S_DEFAULT" \
  "${K8S_ENV[@]}" \
  "ETCD=$ETCD" \
  "HELM3=$HELM3" \
  "HELM4=$HELM4" \
  "KWOK=$KWOK" \
  "KWOK_STAGES=$KWOK_STAGES" \
  "CERT_MANAGER_CONTROLLER=$CERT_MANAGER_CONTROLLER" \
  "CERT_MANAGER_CAINJECTOR=$CERT_MANAGER_CAINJECTOR" \
  "CERT_MANAGER_CRDS=$CERT_MANAGER_CRDS"
echo "wrote $OUT/paths.env"

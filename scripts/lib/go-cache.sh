# Building pinned Go commands into serin's binary cache. Sourced (not run) by
# scripts/build-controlplane.sh and bench/peers/build.sh, which share one cache and one layout:
#   ${SERIN_CACHE:-$HOME/.cache/serin}/controlplane/<tool>-<version>-<key12>/<binary>
# where <key12> is the first 12 hex digits of the sha256 of the folder's go.mod + go.sum + every .go file
# of the folder + the build flags + the target platform. A binary is rebuilt only when that file is
# missing, i.e. when a pin or a flag changed. A folder whose go.mod names a `toolchain` is built with
# exactly that Go release (GOTOOLCHAIN), fetched by the go command like any module.
#
# Environment: SERIN_CACHE (cache root), SERIN_BUILD_JOBS (go build -p, default 2).

# go_cache_open NAME: checks for Go, sets OUT (the cache folder, absolute), JOBS, GOOS_ARCH and
# COMMON_FLAGS, takes the cache's lock (so concurrent builds on one cache wait for each other) and removes
# every path listed in TMP_PATHS when the script exits. NAME prefixes the error messages.
go_cache_open() {
  if ! command -v go >/dev/null 2>&1; then
    echo "$1: the Go toolchain (go) is not on PATH" >&2
    exit 1
  fi
  OUT="${SERIN_CACHE:-$HOME/.cache/serin}/controlplane"
  mkdir -p "$OUT"
  OUT="$(cd "$OUT" && pwd)"
  JOBS="${SERIN_BUILD_JOBS:-2}"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUT/.lock"
    flock 9
  fi
  TMP_PATHS=()
  trap go_cache_cleanup EXIT
  export CGO_ENABLED=0
  GOOS_ARCH="$(go env GOOS)/$(go env GOARCH)"
  # Flags common to every build, part of every cache key: changing them rebuilds everything. (-p only
  # affects parallelism, so it is not.)
  COMMON_FLAGS="CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s -w"
}

# Partial outputs are removed if the script is interrupted or fails.
go_cache_cleanup() { if ((${#TMP_PATHS[@]})); then rm -rf "${TMP_PATHS[@]}"; fi; }

# go_cache_modver DIR MODULE: the version of MODULE selected in DIR/go.mod (a replace directive's target
# version wins over the require line).
go_cache_modver() {
  awk -v m="$2" '
    $1 == m && $2 == "=>" && $4 ~ /^v/ { rep = $4 }
    $1 == "replace" && $2 == m && $3 == "=>" && $5 ~ /^v/ { rep = $5 }
    $1 == m && $2 ~ /^v/ && req == "" { req = $2 }
    $1 == "require" && $2 == m && $3 ~ /^v/ && req == "" { req = $3 }
    END { if (rep != "") print rep; else print req }
  ' "$1/go.mod"
}

# go_cache_toolchain DIR: the `toolchain` directive of DIR/go.mod, or nothing.
go_cache_toolchain() { awk '$1 == "toolchain" { print $2; exit }' "$1/go.mod"; }

# go_cache_in DIR COMMAND...: runs COMMAND in DIR with the Go release DIR/go.mod names, if it names one.
go_cache_in() {
  local dir="$1" toolchain
  shift
  toolchain="$(go_cache_toolchain "$dir")"
  (
    cd "$dir"
    if [[ -n "$toolchain" ]]; then export GOTOOLCHAIN="$toolchain"; fi
    "$@"
  )
}

# go_cache_key DIR EXTRA: the cache key of DIR built with the extra ldflags EXTRA.
go_cache_key() {
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

# go_cache_build TOOL DIR PKG BINARY VERSION EXTRA_LDFLAGS [LATE_LDFLAGS_CMD]
# Sets BUILT to the absolute path of the binary and prints one status line on stdout; the Go
# toolchain's own output goes to stderr. LATE_LDFLAGS_CMD is evaluated in DIR only when a build is
# needed, for flags derived from the pinned modules alone (so already covered by the key).
go_cache_build() {
  local tool="$1" dir="$2" pkg="$3" bin="$4" version="$5" extra="$6" late="${7:-}"
  local dest target tmp start ldflags
  BUILT=""
  dest="$OUT/$tool-$version-$(go_cache_key "$dir" "$extra")"
  target="$dest/$bin"
  if [[ -x "$target" ]]; then
    echo "$tool $version: cached ($target)"
    BUILT="$target"
    return 0
  fi
  mkdir -p "$dest"
  tmp="$(mktemp "$dest/.$bin.tmp.XXXXXX")"
  TMP_PATHS+=("$tmp")
  start=$SECONDS
  ldflags="-s -w $extra"
  if [[ -n "$late" ]]; then ldflags="$ldflags $(cd "$dir" && eval "$late")"; fi
  if ! go_cache_in "$dir" go build -p "$JOBS" -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp" "$pkg" >&2; then
    echo "$tool $version: build FAILED" >&2
    exit 1
  fi
  chmod 0755 "$tmp"
  mv -f "$tmp" "$target"
  echo "$tool $version: built in $((SECONDS - start))s with $(go_cache_in "$dir" go env GOVERSION) ($target)"
  BUILT="$target"
}

# go_cache_from_module DIR MODULE DEST COPY: fills the folder DEST (beside a binary) with files of
# MODULE's source, as DIR/go.mod pins it: COPY is called with the module's folder and a staging folder,
# which then replaces DEST whole, so that nothing reads the module cache at run time.
go_cache_from_module() {
  local dir="$1" module="$2" dest="$3" copy="$4" src staged
  src="$(go_cache_in "$dir" go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  staged="$(mktemp -d "$(dirname "$dest")/.$(basename "$dest").XXXXXX")"
  TMP_PATHS+=("$staged")
  "$copy" "$src" "$staged"
  chmod -R a+rX,u+w "$staged"
  rm -rf "$dest"
  mv "$staged" "$dest"
}

# go_cache_write FILE LINE...: replaces FILE with the lines, atomically.
go_cache_write() {
  local file="$1" tmp
  shift
  tmp="$(mktemp "$(dirname "$file")/.$(basename "$file").XXXXXX")"
  TMP_PATHS+=("$tmp")
  printf '%s\n' "$@" >"$tmp"
  mv -f "$tmp" "$file"
}

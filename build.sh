#!/usr/bin/env bash
# EdgeAgent build entry point. Every target installs what is missing on a fresh Debian machine
# (Debian packages via apt-get, the ONNX Runtime native library via `npm pack`, NuGet restore for the
# rest), then does its job. Idempotent and quiet when everything is present.
#
#   ./build.sh [build]      build everything (Release)
#   ./build.sh test         build and run every test project; last line: "N passed, N failed, N skipped"
#   ./build.sh demo [--keep] broker + hub + agents on this machine through a release cycle (Ctrl-C stops all)
#   ./build.sh publish      trimmed self-contained linux-x64 agent in out/publish/linux-x64
#   ./build.sh package      out/deb/edgeagent_<version>_amd64.deb (see packaging/INSTALL.md)
#   ./build.sh publish-aot  Native AOT agent where the NativeAOT runtime pack is reachable
#   ./build.sh bench [NAME] the benchmarks recorded in docs/BENCHMARKS.md
#   ./build.sh chaos [ARGS] the chaos suite, every fault scenario in full (docs/CHAOS.md; CI runs the short form)
#   ./build.sh fleet ARGS   the fleet simulation, e.g. --devices 1000 --rate 10 --duration 60 (docs/FLEET.md)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
CONFIG=${CONFIG:-Release}
ORT_VERSION=1.30.0
# Pinned SHA-256 of libonnxruntime.so.1 inside onnxruntime-node@1.30.0 (bin/napi-v6/linux/<arch>/).
ORT_SHA256_X64=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
ORT_SHA256_ARM64=1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76
ORT_CACHE=${EDGEAGENT_ORT_CACHE:-$HOME/.cache/edgeagent/ort}
export EDGEAGENT_ORT_CACHE=$ORT_CACHE
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '%s\n' "$*" >&2; }
die() { say "build.sh: $*"; exit 1; }

# --- prerequisites -----------------------------------------------------------------------------
APT_PACKAGES=(mosquitto mosquitto-clients libonnx-testdata sqlite3 gcc libc6-dev systemd postgresql chromium faketime)
apt_updated=0
ensure_apt() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing Debian packages (${missing[*]}) and no apt-get to install them"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  if [ $apt_updated -eq 0 ]; then $sudo apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

ensure_dotnet() {
  command -v dotnet >/dev/null || die "the .NET SDK 10 is not installed (dotnet not on PATH); install it first"
}

ort_ok() { # $1 arch dir, $2 sha
  local f="$ORT_CACHE/$ORT_VERSION/$1/libonnxruntime.so.1"
  [ -f "$f" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$2" ]
}

# Fetches the official ONNX Runtime native library from the npm package onnxruntime-node and keeps
# the linux-x64 and linux-arm64 copies in a cache outside the repository, SHA-256 verified.
ensure_ort() {
  ort_ok linux-x64 $ORT_SHA256_X64 && ort_ok linux-arm64 $ORT_SHA256_ARM64 && return 0
  command -v npm >/dev/null || ensure_apt npm
  say "fetching ONNX Runtime $ORT_VERSION (npm package onnxruntime-node)"
  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null 2>npm.err) \
    || die "npm pack onnxruntime-node@$ORT_VERSION failed: $(tail -3 "$tmp/npm.err")"
  tar -xzf "$tmp"/onnxruntime-node-$ORT_VERSION.tgz -C "$tmp" package/bin/napi-v6/linux \
    || die "onnxruntime-node tarball has no linux libraries"
  local arch src sha
  for arch in x64 arm64; do
    src="$tmp/package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
    if [ $arch = x64 ]; then sha=$ORT_SHA256_X64; else sha=$ORT_SHA256_ARM64; fi
    [ "$(sha256sum "$src" | cut -d' ' -f1)" = "$sha" ] \
      || die "libonnxruntime.so.1 ($arch) from npm does not match the pinned SHA-256 $sha; refusing to use it"
    mkdir -p "$ORT_CACHE/$ORT_VERSION/linux-$arch"
    cp "$src" "$ORT_CACHE/$ORT_VERSION/linux-$arch/libonnxruntime.so.1.tmp"
    mv "$ORT_CACHE/$ORT_VERSION/linux-$arch/libonnxruntime.so.1.tmp" "$ORT_CACHE/$ORT_VERSION/linux-$arch/libonnxruntime.so.1"
  done
}

prereqs() { ensure_dotnet; ensure_apt "${APT_PACKAGES[@]}"; ensure_ort; }

build() {
  prereqs
  dotnet build EdgeAgent.sln -c "$CONFIG" -nologo -clp:ErrorsOnly -v:q || die "build failed"
}

agent_bin() { echo "$ROOT/agent/EdgeAgent.Agent/bin/$CONFIG/net10.0/edgeagent"; }

# --- test: every test project, one summary line ------------------------------------------------
# Each project runs on its own (sequentially: the suites start brokers and child processes, and CI has
# two cores); counts come from the TRX report, so a crashed test host is a failure, never a silent 0.
run_tests() {
  build
  local results; results=$(mktemp -d)
  local passed=0 failed=0 skipped=0 proj name log trx counters p f s rc
  for proj in $(find tests -name '*.Tests.csproj' | sort); do
    name=$(basename "$proj" .csproj)
    log="$results/$name.log"; trx="$results/$name.trx"
    say "== $name"
    rc=0
    dotnet test "$proj" -c "$CONFIG" --no-build --nologo ${TEST_FILTER:+--filter "$TEST_FILTER"} \
      --logger "trx;LogFileName=$trx" --logger "console;verbosity=minimal" >"$log" 2>&1 || rc=$?
    counters=$(grep -o '<Counters [^>]*>' "$trx" 2>/dev/null || true)
    if [ -n "$counters" ]; then
      p=$(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters")
      f=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$counters")
      s=$(sed -E 's/.* notExecuted="([0-9]+)".*/\1/' <<<"$counters")
      local e; e=$(sed -E 's/.* error="([0-9]+)".*/\1/' <<<"$counters"); f=$((f + e))
      say "   $p passed, $f failed, $s skipped"
      # The failing tests with their messages and the first stack lines: CI keeps nothing else (flakes need them).
      [ "$f" -gt 0 ] && { grep -E -A10 '^\s*Failed ' "$log" | head -80 >&2 || true; }
    else
      p=0 f=1 s=0; say "   test run did not complete (exit $rc):"; tail -30 "$log" >&2
    fi
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; say "   dotnet test exited $rc:"; tail -30 "$log" >&2; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  done
  if [ -n "${EDGEAGENT_TEST_RESULTS:-}" ]; then mkdir -p "$EDGEAGENT_TEST_RESULTS"; cp "$results"/* "$EDGEAGENT_TEST_RESULTS"/; fi
  rm -rf "$results"
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
}

# The whole system on loopback: Mosquitto (TLS + ACLs), edgehub on SQLite and agent daemons, walked
# through a release cycle (tools/EdgeAgent.Demo). --keep leaves it running until Ctrl-C.
demo() {
  build
  local dir="${EDGEAGENT_DEMO_DIR:-$ROOT/out/demo}"
  mkdir -p "$dir"
  dotnet "$ROOT/tools/EdgeAgent.Demo/bin/$CONFIG/net10.0/edgeagent-demo.dll" --dir "$dir" \
    --agent-bin "$(agent_bin)" --hub-bin "$ROOT/cloud-hub/EdgeAgent.Hub/bin/$CONFIG/net10.0/edgehub" "$@"
}

publish() {
  prereqs
  local out="$ROOT/out/publish/linux-x64"
  dotnet publish agent/EdgeAgent.Agent/EdgeAgent.Agent.csproj -c "$CONFIG" -r linux-x64 --self-contained \
    -p:PublishTrimmed=true -nologo -clp:ErrorsOnly -v:q -o "$out" || die "publish failed"
  "$out/edgeagent" --version >/dev/null || die "published agent does not start"
  say "published: $out/edgeagent ($(du -sh "$out" | cut -f1))"
}

# The .deb a device operator installs (packaging/INSTALL.md): trimmed self-contained agent, ONNX
# Runtime, systemd unit, default config, user/group set-up.
package() {
  publish
  packaging/build-deb.sh "$ROOT/out/publish/linux-x64" "$ROOT/out/deb"
}

publish_aot() {
  prereqs
  local out="$ROOT/out/publish-aot/linux-x64"
  if ! dotnet publish agent/EdgeAgent.Agent/EdgeAgent.Agent.csproj -c "$CONFIG" -r linux-x64 \
      -p:PublishAot=true -nologo -v:q -o "$out" >"$ROOT/out/publish-aot.log" 2>&1; then
    if grep -q 'NativeAOT' "$ROOT/out/publish-aot.log"; then
      die "Native AOT publish needs the package Microsoft.NETCore.App.Runtime.NativeAOT.linux-x64 (and the ILCompiler pack), which the NuGet source here does not provide. The agent is AOT-compatible (IsAotCompatible, analyzers as errors); use './build.sh publish' for a trimmed self-contained build, or run this target where the pack is reachable. Log: out/publish-aot.log"
    fi
    die "Native AOT publish failed; see out/publish-aot.log"
  fi
  "$out/edgeagent" --version >/dev/null || die "AOT agent does not start"
  say "published (Native AOT): $out/edgeagent"
}

# Benchmarks recorded in docs/BENCHMARKS.md. `./build.sh bench [NAME...]`; no name runs them all.
bench() {
  build
  local names=("$@"); [ ${#names[@]} -eq 0 ] && names=(ort)
  local n
  for n in "${names[@]}"; do
    case "$n" in
      ort) say "== engine vs raw ONNX Runtime (tests/bench/ort-baseline/run.sh)"
           EDGEAGENT_BIN="$(agent_bin)" tests/bench/ort-baseline/run.sh ;;
      *) die "unknown benchmark '$n' (ort)" ;;
    esac
  done
}

target=${1:-build}; [ $# -gt 0 ] && shift
case "$target" in
  build) build ;;
  test) run_tests ;;
  demo) demo "$@" ;;
  publish) publish ;;
  package) package ;;
  publish-aot) mkdir -p out; publish_aot ;;
  bench) bench "$@" ;;
  chaos) build; dotnet "tests/EdgeAgent.Chaos/bin/$CONFIG/net10.0/EdgeAgent.Chaos.dll" "$@" ;;
  fleet) build; dotnet "tests/EdgeAgent.FleetSim/bin/$CONFIG/net10.0/EdgeAgent.FleetSim.dll" "$@" ;;
  prereqs) prereqs ;;
  *) die "unknown target '$target' (build, test, demo, publish, package, publish-aot, bench, chaos, fleet)" ;;
esac

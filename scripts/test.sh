#!/usr/bin/env bash
# The whole edgeauth test suite: the command the README gives a newcomer, and
# the one CI runs (.ci/run calls this file). It installs what the tests need
# when it is missing (Debian's chromium for the browser test, redis-server
# for the fleet tests, which start and stop their own servers), checks
# formatting and vet, runs every test once, and fails when any test skipped:
# a required part that could not run is a failure, not a pass.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. System packages the tests drive for real.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# redis-cli (Cluster creation) is in redis-tools, a dependency of redis-server;
# Sentinel is redis-server --sentinel. Listed for a host that has one only.
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if ((${#missing[@]})); then
	echo "test.sh: installing ${missing[*]} from Debian's packages"
	if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); else sudo_cmd=(); fi
	"${sudo_cmd[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Caddy writes autosave and PKI data under the XDG folders: keep it out of $HOME.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export XDG_CONFIG_HOME="$scratch/config" XDG_DATA_HOME="$scratch/data"

# 3. Formatting and vet.
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

# 4. Every test, once. -v so that skips are visible; the full log is kept.
log="$scratch/test.log"
status=0
go test -count=1 -timeout 12m -v ./... >"$log" 2>&1 || status=$?
# Package results, failures and the messages of failing tests; the whole log on a failure.
grep -E '^(ok|FAIL|panic:)|--- (FAIL|SKIP)|\.go:[0-9]+: ' "$log" | grep -vE '^\s*--- PASS' || true
if [ "$status" -ne 0 ]; then cp "$log" ./test-failure.log; echo "test.sh: full log in test-failure.log"; fi
skips=$(grep -E -- '--- SKIP' "$log" || true)
if [ -n "$skips" ]; then
	echo "test.sh: tests were skipped; every test is required:"; echo "$skips"
	status=1
fi
passed=$(grep -cE -- '--- PASS' "$log" || true)
failed=$(grep -cE -- '--- FAIL' "$log" || true)
echo "tests: $passed passed, $failed failed"
exit $status

#!/usr/bin/env bash
# Installs what the tests need (the real servers, from Debian packages) when missing,
# builds the solution once and runs every test project. Ends with one line "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v victoria-metrics >/dev/null 2>&1 || need+=(victoria-metrics)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing test servers: ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
results="$(pwd)/TestResults"
rm -rf "$results"
mkdir -p "$results"

if ! dotnet build Telemetry.sln -c Release -nologo -v quiet; then
  echo "The build failed; no test ran."
  echo "build: 0 passed, 0 failed"
  exit 1
fi

# Every test project in its own results directory: test hosts started in the same instant would
# otherwise write reports of the same name, and a project's totals could be lost.
status=0
projects=(tests/*/*.Tests.csproj)
pids=()
for project in "${projects[@]}"; do
  name=$(basename "$project" .csproj)
  timeout 25m dotnet test --project "$project" -c Release --no-build \
    --results-directory "$results/$name" --report-xunit-junit --no-progress &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=$?
done

# Totals from the JUnit reports of every test project (one <testsuites> per project).
passed=0; failed=0; skipped=0
shopt -s nullglob
reports=("$results"/*/*.xml)
if [ ${#reports[@]} -lt ${#projects[@]} ]; then
  echo "Only ${#reports[@]} of ${#projects[@]} test projects wrote a report."
  status=1
fi
for report in "${reports[@]}"; do
  read -r t f e s < <(python3 - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) for s in suites)
e = sum(int(s.get("errors", 0)) for s in suites)
k = sum(int(s.get("skipped", 0)) for s in suites)
print(t, f, e, k)
PY
)
  failed=$((failed + f + e)); skipped=$((skipped + s)); passed=$((passed + t - f - e - s))
done
if [ ${#reports[@]} -eq 0 ]; then
  echo "No test report was written."
  status=1
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The runner failed without a failing test (crash, timeout, build of a test host): count it.
  failed=1
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"

#!/usr/bin/env bash
# CPU profile of the silo under a steady load: starts mosquitto, victoria-metrics and a Release
# silo on free loopback ports (as run.sh does), drives VEHICLES trucks for DURATION, records a
# CPU profile of the silo for TRACE_SECONDS after WARMUP_SECONDS with `perf record -e cpu-clock`
# (on-CPU samples only; JIT-compiled methods named through DOTNET_PerfMapEnabled), and prints the
# hottest methods (self and with callees) plus the silo's CPU per stored sample over that window.
#
# Parameters (environment):
#   VEHICLES=20000  DURATION=00:01:30  FORMAT=hj1239  WARMUP_SECONDS=40  TRACE_SECONDS=20
#   SILO_ARGS="..."   extra silo settings, e.g. "--Telemetry:TimeSeries:Policy=adaptive"
#   SILO_ENV="..."    extra environment of the silo process only (NAME=value ...), e.g.
#                     "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=46" (the runtime's thread-pool spinning)
#   LOAD_ARGS="..."   extra load-generator options, e.g. "--drain-timeout 00:00:10"
#   DEVICES=1         the silo's embedded broker with device authentication and one connection per truck
#                     (secrets issued with telemetry-cli devices add-many), instead of mosquitto
#   OUT=/tmp/silo.perf.data
#   ALLOC_TRACE=/tmp/silo-alloc.nettrace   also records 8 s of allocation samples (dotnet-trace gc-verbose;
#                             dotnet tool install -g dotnet-trace) and prints the bytes by type and by
#                             allocating stack (bench/Telemetry.AllocationReport)
#   GCDUMP=/tmp/silo.gcdump   also takes a heap snapshot (dotnet-gcdump) after the profile and prints
#                             its summary and the GC heap bytes per vehicle (fixed costs included)
# Needs perf (Debian linux-perf).
set -euo pipefail
trap 'echo "profile.sh: stopped at line $LINENO (exit $?); the silo and load logs are kept in /tmp/profile-silo.log and /tmp/profile-load.log" >&2' ERR
cd "$(dirname "$0")/../.."
root=$(pwd)
VEHICLES=${VEHICLES:-20000}
DURATION=${DURATION:-00:01:30}
FORMAT=${FORMAT:-hj1239}
WARMUP_SECONDS=${WARMUP_SECONDS:-40}
TRACE_SECONDS=${TRACE_SECONDS:-20}
SILO_ARGS=${SILO_ARGS:-}
SILO_ENV=${SILO_ENV:-}
DEVICES=${DEVICES:-}
LOAD_ARGS=${LOAD_ARGS:-}
OUT=${OUT:-/tmp/silo.perf.data}
command -v perf >/dev/null || { echo "perf is missing: apt-get install -y linux-perf"; exit 1; }
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

dotnet build src/Telemetry.Silo -c Release -nologo -v quiet >/dev/null
dotnet build simulators/Telemetry.Simulator -c Release -nologo -v quiet >/dev/null
[ -n "$DEVICES" ] && dotnet build src/Telemetry.Cli -c Release -nologo -v quiet >/dev/null
[ -n "${ALLOC_TRACE:-}" ] && dotnet build bench/Telemetry.AllocationReport -c Release -nologo -v quiet >/dev/null
silo_dll=$root/src/Telemetry.Silo/bin/Release/net10.0/Telemetry.Silo.dll
sim_dll=$root/simulators/Telemetry.Simulator/bin/Release/net10.0/Telemetry.Simulator.dll

dir=$(mktemp -d /tmp/telemetry-profile-XXXXXX)
pids=()
cleanup() { cp "$dir/report.json" /tmp/profile-report.json 2>/dev/null || true; cp "$dir/load.log" /tmp/profile-load.log 2>/dev/null || true; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; cp "$dir/silo.log" /tmp/profile-silo.log 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() { local what=$1 seconds=$2; shift 2
  for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "timed out waiting for $what"; return 1; }

mqtt_port=$(free_port); vm_port=$(free_port); api_port=$(free_port); silo_port=$(free_port); gw_port=$(free_port)
if [ -n "$DEVICES" ]; then
  mqtt_args="--Telemetry:Mqtt:Mode=Embedded --Telemetry:Mqtt:Host=127.0.0.1 --Telemetry:Mqtt:Port=$mqtt_port --Telemetry:Mqtt:ClientId=profile-silo-$api_port"
  need=$((VEHICLES + 8192))
  [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ] && { ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; }
else
  mqtt_args="--Telemetry:Mqtt:Mode=External --Telemetry:Mqtt:Host=127.0.0.1 --Telemetry:Mqtt:Port=$mqtt_port --Telemetry:Mqtt:ClientId=profile-silo-$api_port"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n' "$mqtt_port" > "$dir/mosquitto.conf"
  [ "$(id -u)" -eq 0 ] && echo "user root" >> "$dir/mosquitto.conf"
  "$mosquitto_bin" -c "$dir/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 & pids+=($!)
fi
victoria-metrics -storageDataPath="$dir/vm" -httpListenAddr=127.0.0.1:$vm_port > "$dir/vm.log" 2>&1 & pids+=($!)
wait_for victoria-metrics 30 curl -sf "http://127.0.0.1:$vm_port/health"
# shellcheck disable=SC2086
(cd "$dir" && exec env DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 $SILO_ENV dotnet "$silo_dll" --Urls=http://127.0.0.1:$api_port \
  $mqtt_args --Telemetry:TimeSeries:InfluxUrl=http://127.0.0.1:$vm_port/ \
  --Telemetry:Orleans:SiloPort=$silo_port --Telemetry:Orleans:GatewayPort=$gw_port $SILO_ARGS > "$dir/silo.log" 2>&1) & silo_pid=$!; pids+=($silo_pid)
silo_dotnet=""
if [ -n "$DEVICES" ]; then
  wait_for "the silo's API" 60 curl -sf "http://127.0.0.1:$api_port/health"
  dotnet "$sim_dll" vins --vehicles "$VEHICLES" > "$dir/vins.txt"
  dotnet "$root/src/Telemetry.Cli/bin/Release/net10.0/telemetry-cli.dll" devices add-many --vins "$dir/vins.txt" --out "$dir/secrets.csv" \
    --database "$dir/data/telemetry.db" > /dev/null
  LOAD_ARGS="$LOAD_ARGS --device-secrets $dir/secrets.csv"
else
  wait_for "the silo's subscription" 60 grep -q "Ingest subscribed" "$dir/silo.log"
fi
silo_dotnet=$(pgrep -f "Telemetry.Silo.dll.*profile-silo-$api_port" | head -1)

dotnet "$sim_dll" load --vehicles "$VEHICLES" --duration "$DURATION" --broker 127.0.0.1:$mqtt_port --format "$FORMAT" \
  --api "http://127.0.0.1:$api_port/" --api-key "@$dir/data/keys/admin.key" --silo-pid "$silo_dotnet" --fault-share 0.002 --history-minutes 5 \
  --report "$dir/report.json" $LOAD_ARGS > "$dir/load.log" 2>&1 & load_pid=$!
sleep "$WARMUP_SECONDS"
cpu0=$(awk '{print $14+$15}' /proc/$silo_dotnet/stat)
# A busy silo may be slow to answer: a few tries, 10 s each, and a clear stop rather than a silent 0.
metric() {
  local text=""
  for _ in 1 2 3; do text=$(curl -s --max-time 10 "http://127.0.0.1:$api_port/metrics") && break; text=""; sleep 1; done
  [ -n "$text" ] || { echo "the silo's /metrics did not answer (3 tries of 10 s); see /tmp/profile-silo.log" >&2; return 1; }
  printf '%s\n' "$text" | awk -v m="$1" 'index($0, m) == 1 {s+=$2} END{printf "%.0f\n", s+0}'
}
stored0=$(metric telemetry_samples_accepted_total); alloc0=$(metric dotnet_gc_heap_total_allocated)
t0=$(date +%s.%N); commits0=$(metric telemetry_storage_journal_commits_total); appended0=$(metric telemetry_storage_journal_appended_total)
perf record -e cpu-clock -F 499 -g -p "$silo_dotnet" -o "$OUT" -- sleep "$TRACE_SECONDS" > /dev/null 2>&1
cpu1=$(awk '{print $14+$15}' /proc/$silo_dotnet/stat)
if [ -n "${ALLOC_TRACE:-}" ]; then
  PATH="$PATH:$HOME/.dotnet/tools" dotnet-trace collect -p "$silo_dotnet" --profile gc-verbose --duration 00:00:00:08 -o "$ALLOC_TRACE" > /dev/null
fi
stored1=$(metric telemetry_samples_accepted_total); alloc1=$(metric dotnet_gc_heap_total_allocated)
t1=$(date +%s.%N); commits1=$(metric telemetry_storage_journal_commits_total); appended1=$(metric telemetry_storage_journal_appended_total)
if [ -n "${GCDUMP:-}" ]; then
  PATH="$PATH:$HOME/.dotnet/tools" dotnet-gcdump collect -p "$silo_dotnet" -o "$GCDUMP" > /dev/null
  PATH="$PATH:$HOME/.dotnet/tools" dotnet-gcdump report "$GCDUMP" > "$GCDUMP.txt" 2>&1 || true
fi
while kill -0 "$load_pid" 2>/dev/null; do sleep 1; done
tail -25 "$dir/load.log"
python3 - "$cpu0" "$cpu1" "$stored0" "$stored1" "$alloc0" "$alloc1" "$commits0" "$commits1" "$appended0" "$appended1" "$t0" "$t1" <<'PY'
import os, sys
cpu0, cpu1, s0, s1, a0, a1, c0, c1, r0, r1, t0, t1 = (float(x) for x in sys.argv[1:])
ticks = os.sysconf('SC_CLK_TCK')
cpu = (cpu1 - cpu0) / ticks
n = s1 - s0
print(f"silo CPU during the profile: {cpu:.1f} s for {n:.0f} accepted samples: {1e6 * cpu / n if n else float('nan'):.1f} us/sample, {(a1 - a0) / n if n else float('nan'):.0f} bytes allocated/sample")
commits = c1 - c0
seconds = t1 - t0
print(f"journal during the profile: {commits / seconds:.0f} group commits/s, {(r1 - r0) / commits if commits else float('nan'):.1f} records per commit")
PY
if [ -n "${GCDUMP:-}" ] && [ -s "$GCDUMP.txt" ]; then
  echo "== heap snapshot ($GCDUMP.txt), $VEHICLES vehicles"
  head -30 "$GCDUMP.txt"
  # The first line is the heap's total (live objects after the snapshot's GC); fixed costs (buffers,
  # metric points, the runtime) are included, so it is an upper bound of the bytes per vehicle.
  awk -v n="$VEHICLES" '/GC Heap bytes/ {gsub(",", "", $1); printf "GC heap in the snapshot: %.0f bytes, %.0f per vehicle\n", $1, $1 / n; exit}' "$GCDUMP.txt"
fi
if [ -n "${ALLOC_TRACE:-}" ] && [ -s "$ALLOC_TRACE" ]; then
  echo "== allocations during 8 s ($ALLOC_TRACE)"
  dotnet "$root/bench/Telemetry.AllocationReport/bin/Release/net10.0/Telemetry.AllocationReport.dll" "$ALLOC_TRACE" --top 12 || true
fi
echo "== self"
perf report -i "$OUT" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -60 || true
echo "== with callees"
perf report -i "$OUT" --children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -80 || true

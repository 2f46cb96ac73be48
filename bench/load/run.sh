#!/usr/bin/env bash
# Load ladder: for every step, starts a fresh mosquitto, victoria-metrics and Release silo on free
# loopback ports in fresh temporary directories, runs `Telemetry.Simulator load` against them,
# stops them, and finally measures victoria-metrics' own ingest ceiling and writes a Markdown table.
#
# Parameters (environment):
#   STEPS="2000 5000 10000 20000"  vehicles per step
#   DURATION=00:01:00              live schedule per step
#   FORMATS="hj1239"               any of hj1239 gb17691 json
#   POLICIES="default"             storage policies (--Telemetry:TimeSeries:Policy=...), e.g. "full adaptive";
#                                  "default" passes none (a silo without the setting)
#   CONNECTIONS=4  QOS=1  FAULT_SHARE=0.002  HISTORY_MINUTES=30  MAX_LAG=10  DRAIN=00:01:00
#   STEP_TIMEOUT=600               seconds before a step is killed
#   CEILING_SECONDS=20             TSDB ceiling run (0 skips it)
#   OUT=bench/results/load.md      the Markdown table; reports go next to it in OUT_DIR
#   OUT_DIR=bench/results/load     one JSON report per step, the silo's telemetry_* counters at its end
#                                  (*.silo-metrics.txt) and its warnings by event, counted (*.silo-warnings.log)
#   TITLE="..."                    heading of the table
#   KEEP_LOGS=1                    also copy each step's whole silo log to OUT_DIR (*.silo.log)
#   DEVICES=1                      terminals as in the field: no mosquitto; the silo's embedded broker with device
#                                  authentication, and one connection per truck with its own secret (issued for the
#                                  step's VINs with `telemetry-cli devices add-many`; CONNECTIONS is then ignored)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

STEPS=${STEPS:-"2000 5000 10000 20000"}
DURATION=${DURATION:-00:01:00}
FORMATS=${FORMATS:-hj1239}
POLICIES=${POLICIES:-default}
CONNECTIONS=${CONNECTIONS:-4}
QOS=${QOS:-1}
FAULT_SHARE=${FAULT_SHARE:-0.002}
HISTORY_MINUTES=${HISTORY_MINUTES:-30}
MAX_LAG=${MAX_LAG:-10}
DRAIN=${DRAIN:-00:01:00}
STEP_TIMEOUT=${STEP_TIMEOUT:-600}
CEILING_SECONDS=${CEILING_SECONDS:-20}
OUT=${OUT:-bench/results/load.md}
OUT_DIR=${OUT_DIR:-bench/results/load}
TITLE=${TITLE:-"Load ladder"}
DEVICES=${DEVICES:-}

for bin in mosquitto victoria-metrics python3; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || { echo "$bin is missing: apt-get install -y mosquitto victoria-metrics python3"; exit 1; }
done
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "Building (Release)..."
dotnet build src/Telemetry.Silo -c Release -nologo -v quiet >/dev/null
dotnet build simulators/Telemetry.Simulator -c Release -nologo -v quiet >/dev/null
[ -n "$DEVICES" ] && dotnet build src/Telemetry.Cli -c Release -nologo -v quiet >/dev/null
cli_dll=$root/src/Telemetry.Cli/bin/Release/net10.0/telemetry-cli.dll
silo_dll=$root/src/Telemetry.Silo/bin/Release/net10.0/Telemetry.Silo.dll
sim_dll=$root/simulators/Telemetry.Simulator/bin/Release/net10.0/Telemetry.Simulator.dll

work=$(mktemp -d /tmp/telemetry-load-XXXXXX)
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/*.json "$OUT_DIR"/*.vm-bytes "$OUT_DIR"/*.silo-metrics.txt "$OUT_DIR"/*.silo-warnings.log "$OUT_DIR"/*.silo.log
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() { # what, seconds, command...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "timed out waiting for $what"; return 1
}

start_stack() { # dir, policy, vehicles, VIN prefix
  local dir=$1 policy=$2 vehicles=$3 prefix=$4
  mkdir -p "$dir"
  mqtt_port=$(free_port); vm_port=$(free_port); api_port=$(free_port); silo_port=$(free_port); gw_port=$(free_port)
  local mqtt_args
  if [ -n "$DEVICES" ]; then
    # The silo's own broker; terminals authenticate.
    broker_pid=""
    mqtt_args=(--Telemetry:Mqtt:Mode=Embedded)
  else
    cat > "$dir/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
CONF
    [ "$(id -u)" -eq 0 ] && echo "user root" >> "$dir/mosquitto.conf"
    "$mosquitto_bin" -c "$dir/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 & broker_pid=$!; pids+=("$broker_pid")
    mqtt_args=(--Telemetry:Mqtt:Mode=External --Telemetry:Mqtt:ClientId=load-silo-$api_port)
  fi
  # No deduplication: a sample the pipeline wrote twice shows as duplicated.
  victoria-metrics -storageDataPath="$dir/vm" -httpListenAddr=127.0.0.1:$vm_port -search.latencyOffset=0s > "$dir/vm.log" 2>&1 & vm_pid=$!; pids+=("$vm_pid")
  wait_for "victoria-metrics" 30 curl -sf "http://127.0.0.1:$vm_port/health"
  local policy_arg=()
  [ "$policy" != default ] && policy_arg=("--Telemetry:TimeSeries:Policy=$policy")
  (cd "$dir" && exec dotnet "$silo_dll" --Urls=http://127.0.0.1:$api_port \
    "${mqtt_args[@]}" --Telemetry:Mqtt:Host=127.0.0.1 --Telemetry:Mqtt:Port=$mqtt_port \
    --Telemetry:TimeSeries:InfluxUrl=http://127.0.0.1:$vm_port/ \
    --Telemetry:Orleans:SiloPort=$silo_port --Telemetry:Orleans:GatewayPort=$gw_port \
    --Telemetry:TimeSeries:FileDirectory="$dir/timeseries" --Telemetry:Alerts:FilePath="$dir/alerts.jsonl" \
    --Telemetry:DeadLetters:FilePath="$dir/dead-letters.jsonl" "${policy_arg[@]}" > "$dir/silo.log" 2>&1) & silo_pid=$!; pids+=("$silo_pid")
  wait_for "the silo's API" 60 curl -sf "http://127.0.0.1:$api_port/health"
  if [ -n "$DEVICES" ]; then
    echo "   issuing $vehicles device secrets"
    dotnet "$sim_dll" vins --vehicles "$vehicles" --vin-prefix "$prefix" > "$dir/vins.txt"
    dotnet "$cli_dll" devices add-many --vins "$dir/vins.txt" --out "$dir/secrets.csv" --database "$dir/data/telemetry.db" > /dev/null
  else
    wait_for "the silo's subscription" 60 grep -q "Ingest subscribed" "$dir/silo.log"
  fi
}

describe_cpu() { grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'; }
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src simulators || echo "+changes")

n=0
for format in $FORMATS; do
  for policy in $POLICIES; do
    for vehicles in $STEPS; do
      n=$((n + 1))
      dir="$work/step-$n"
      name="$format-$policy-$vehicles"
      echo "== step $n: $vehicles vehicles, $format, policy $policy, $DURATION"
      if [ -n "$DEVICES" ]; then
        # One socket per truck in the silo and in the generator, besides their other files.
        need=$((vehicles + 8192))
        if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
          ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
          [ "$(ulimit -n)" -lt "$need" ] && echo "   open-file limit $(ulimit -n) is below $need: the silo takes $(( $(ulimit -n) - 1024 )) connections (raise the hard limit, e.g. as root)"
        fi
      fi
      start_stack "$dir" "$policy" "$vehicles" "L$n"
      status=0
      if [ -n "$DEVICES" ]; then
        connect=(--device-secrets "$dir/secrets.csv")
      else
        connect=(--connections "$CONNECTIONS" --watch-pid "broker=$broker_pid")
      fi
      timeout --kill-after=10 "$STEP_TIMEOUT" dotnet "$sim_dll" load --vehicles "$vehicles" --duration "$DURATION" \
        --broker 127.0.0.1:$mqtt_port --format "$format" "${connect[@]}" --qos "$QOS" \
        --tsdb "http://127.0.0.1:$vm_port/" --api "http://127.0.0.1:$api_port/" --api-key "@$dir/data/keys/admin.key" --silo-pid "$silo_pid" \
        --watch-pid tsdb=$vm_pid --fault-share "$FAULT_SHARE" \
        --history-minutes "$HISTORY_MINUTES" --max-lag "$MAX_LAG" --drain-timeout "$DRAIN" \
        --vin-prefix "L$n" --label "$commit $name" --report "$OUT_DIR/$(printf %02d $n)-$name.json" || status=$?
      du -sb "$dir/vm" | cut -f1 > "$OUT_DIR/$(printf %02d $n)-$name.vm-bytes" || true
      # The silo's own counters and warnings at the end (journal bytes, which cursor held a full journal...).
      curl -s "http://127.0.0.1:$api_port/metrics" | grep -E '^telemetry_(samples|storage|ingest)' > "$OUT_DIR/$(printf %02d $n)-$name.silo-metrics.txt" || true
      # Per warning event: how often, its first two and its last occurrence.
      awk '/^(warn|fail|crit):/ { head = $0; getline body; k = $2; n[k]++; last[k] = head "\n" body; if (n[k] <= 2) first[k] = first[k] head "\n" body "\n" }
        END { for (k in n) { print "== " k " x" n[k]; printf "%s", first[k]; if (n[k] > 2) print last[k] } }' \
        "$dir/silo.log" > "$OUT_DIR/$(printf %02d $n)-$name.silo-warnings.log" || true
      [ -n "${KEEP_LOGS:-}" ] && cp "$dir/silo.log" "$OUT_DIR/$(printf %02d $n)-$name.silo.log"
      echo "   exit code $status"
      cleanup
    done
  done
done

ceiling=""
if [ "$CEILING_SECONDS" -gt 0 ]; then
  echo "== TSDB ceiling, $CEILING_SECONDS s"
  dir="$work/ceiling"; mkdir -p "$dir"; vm_port=$(free_port)
  victoria-metrics -storageDataPath="$dir/vm" -httpListenAddr=127.0.0.1:$vm_port -search.latencyOffset=0s > "$dir/vm.log" 2>&1 & vm_pid=$!; pids+=("$vm_pid")
  wait_for "victoria-metrics" 30 curl -sf "http://127.0.0.1:$vm_port/health"
  timeout 300 dotnet "$sim_dll" tsdb-ceiling --tsdb "http://127.0.0.1:$vm_port/" --duration "$(date -u -d @"$CEILING_SECONDS" +%T)" \
    --concurrency 4 --lines-per-request 5000 --report "$OUT_DIR/tsdb-ceiling.json" || true
  cleanup
fi

python3 bench/load/table.py --title "$TITLE" --commit "$commit" --reports "$OUT_DIR" ${DEVICES:+--devices} \
  --machine "$(nproc) cores, $(describe_cpu), $(free -g | awk '/Mem:/{print $2}') GiB" > "$OUT"
echo "Wrote $OUT"

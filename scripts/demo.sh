#!/usr/bin/env bash
# The main job: starts the embedded CloudStack simulator and shows its world through an
# independent client (python `cs`). Later stages run Packer and Terraform here.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[1;31m!!! %s\033[0m\n' "$*" >&2; exit 1; }

workdir=.work/demo
mkdir -p "$workdir"
sim_log="$workdir/cloudstack-sim.log"

say "starting cloudstack-sim (log: $sim_log)"
target/release/cloudstack-sim --listen 127.0.0.1:0 --job-latency-ms 200 \
  >"$workdir/sim.out" 2>"$sim_log" &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q 'http://' "$workdir/sim.out" 2>/dev/null && break
  kill -0 $sim_pid 2>/dev/null || fail "cloudstack-sim exited early; see $sim_log"
  sleep 0.1
done
api_url=$(grep -o 'http://[^ ]*' "$workdir/sim.out" | head -1)
[ -n "$api_url" ] || fail "cloudstack-sim did not print its address; see $sim_log"
say "CloudStack API at $api_url"

export CLOUDSTACK_ENDPOINT=$api_url CLOUDSTACK_KEY=mesostack-api-key CLOUDSTACK_SECRET=mesostack-secret-key
cs_table() { # cs_table COMMAND KEY FIELDS... : one line per object
  local cmd=$1 key=$2; shift 2
  cs --quiet $cmd | python3 -c '
import json, sys
key, fields = sys.argv[1], sys.argv[2:]
rows = json.load(sys.stdin).get(key, [])
for r in rows:
    print("   " + "  ".join(str(r.get(f, "")).ljust(28) for f in fields))
' "$key" "$@"
}
say "zones";             cs_table listZones zone name networktype id
say "service offerings"; cs_table listServiceOfferings serviceoffering name cpunumber memory
say "templates";         cs --quiet listTemplates templatefilter=executable | python3 -c '
import json, sys
for t in json.load(sys.stdin).get("template", []):
    print("   %-28s %-28s ready=%s" % (t["name"], t.get("ostypename", ""), t.get("isready")))'
say "networks";          cs_table listNetworks network name cidr state
say "done: the simulator works; stop it with Ctrl-C or let this script exit"

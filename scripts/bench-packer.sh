#!/usr/bin/env bash
# Benchmark (not a test): the same template (tests/e2e/fixtures/packer/build.json) built
# twice against one cloudstack-sim, with a real sshd as the VMs' SSH:
#   1. our Rust plugin (packer-builder-cloudstack, release build) under Packer 1.6.6;
#   2. Packer 1.6.6's built-in Go `cloudstack` builder.
# Prints wall time, the builder process's peak RSS (VmHWM of the process whose command
# line names packer-builder-cloudstack: our binary, or `packer plugin
# packer-builder-cloudstack`, the process Packer 1.6.6 runs its built-in builder in), the
# API calls each build made (delta of /sim/stats), and the ratios.
# Note: the Go builder sleeps a fixed 30 s after createTemplate; ours polls until the
# template is ready. The wall-time ratio is dominated by that sleep.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

for tool in packer /usr/sbin/sshd ssh-keygen python3; do
  command -v "$tool" >/dev/null || { echo "bench-packer: $tool is not installed (./dev setup)" >&2; exit 1; }
done

echo "building release binaries (cloudstack-sim, packer-builder-cloudstack)..."
cargo build --release --quiet -p cloudstack-sim --bin cloudstack-sim
cargo build --release --quiet -p packer-plugin-cloudstack --bin packer-builder-cloudstack
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release

WORK=$(mktemp -d)
SIM_PID=""
SSHD_PID=""
cleanup() {
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; fi
  if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# sshd on loopback: the simulator forwards public ports here and fills its authorized keys
# with the running VMs' key pairs.
ssh-keygen -q -t ed25519 -N "" -f "$WORK/hostkey"
: > "$WORK/authorized_keys"
SSH_PORT=$(free_port)
cat > "$WORK/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $WORK/hostkey
AuthorizedKeysFile $WORK/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PidFile $WORK/sshd.pid
UsePAM no
LogLevel ERROR
EOF
mkdir -p /run/sshd 2>/dev/null || true
/usr/sbin/sshd -D -e -f "$WORK/sshd_config" 2>/dev/null &
SSHD_PID=$!

RUST_LOG=warn "$TARGET/cloudstack-sim" --listen 127.0.0.1:0 \
  --ssh-target "127.0.0.1:$SSH_PORT" --ssh-authorized-keys "$WORK/authorized_keys" \
  --public-ip-range 127.160.0.0/16 > "$WORK/sim.out" &
SIM_PID=$!
for _ in $(seq 100); do grep -q "http://" "$WORK/sim.out" 2>/dev/null && break; sleep 0.1; done
API_URL=$(grep -o 'http://[^ ]*' "$WORK/sim.out" | head -1)
[ -n "$API_URL" ] || { echo "bench-packer: the simulator did not start" >&2; exit 1; }
BASE_URL=${API_URL%/client/api}

stats() { python3 -c 'import json,sys,urllib.request; print(json.dumps(json.load(urllib.request.urlopen(sys.argv[1]+"/sim/stats"))["requests"]))' "$BASE_URL"; }

mkdir -p "$WORK/plugins" "$WORK/empty-plugins" "$WORK/cfg"
cp "$TARGET/packer-builder-cloudstack" "$WORK/plugins/"
USER_NAME=$(id -un)

# run_build LABEL PLUGIN_DIR TEMPLATE_NAME -> sets WALL, PEAK_KB, CALLS, BY_COMMAND
run_build() {
  local label=$1 plugins=$2 name=$3
  local before after
  before=$(stats)
  local start end
  start=$(date +%s.%N)
  # Own process group (set -m off: the background job shares ours, so setsid does not fork
  # and $! is packer itself, the group leader); plugin processes inherit the group.
  (cd "$WORK" && exec setsid env CHECKPOINT_DISABLE=1 PACKER_PLUGIN_PATH="$plugins" \
      PACKER_CONFIG_DIR="$WORK/cfg" CLOUDSTACK_API_URL="$API_URL" \
      CLOUDSTACK_API_KEY=mesostack-api-key CLOUDSTACK_SECRET_KEY=mesostack-secret-key \
      packer build -color=false -var "template_name=$name" -var "ssh_username=$USER_NAME" \
      -var "marker_dir=$WORK/markers-$label" -var extra_command=true \
      "$ROOT/tests/e2e/fixtures/packer/build.json") > "$WORK/$label.log" 2>&1 &
  local pid=$! peak=0
  while kill -0 "$pid" 2>/dev/null; do
    for p in $(ps -eo pid=,pgid=,args= | awk -v g="$pid" '$2==g && /packer-builder-cloudstack/ {print $1}'); do
      local hwm
      hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
      if [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ]; then peak=$hwm; fi
    done
    sleep 0.05
  done
  local rc=0
  wait "$pid" || rc=$?
  end=$(date +%s.%N)
  if [ "$rc" -ne 0 ] || ! grep -q "A template was created" "$WORK/$label.log"; then
    echo "bench-packer: the $label build failed (exit $rc):" >&2
    tail -30 "$WORK/$label.log" >&2
    exit 1
  fi
  after=$(stats)
  WALL=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b-a}')
  PEAK_KB=$peak
  read -r CALLS BY_COMMAND < <(python3 -c '
import json,sys
a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2])
d={k: b[k]-a.get(k,0) for k in b if b[k]-a.get(k,0)}
print(sum(d.values()), " ".join(f"{k}={v}" for k,v in sorted(d.items())))' "$before" "$after")
}

echo "building with our Rust plugin..."
run_build rust "$WORK/plugins" bench-rust
R_WALL=$WALL R_PEAK=$PEAK_KB R_CALLS=$CALLS R_BY=$BY_COMMAND
echo "building with Packer 1.6.6's built-in Go builder (sleeps 30 s after createTemplate)..."
run_build go "$WORK/empty-plugins" bench-go
G_WALL=$WALL G_PEAK=$PEAK_KB G_CALLS=$CALLS G_BY=$BY_COMMAND

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }
echo
printf '%-34s %14s %14s %12s\n' "" "Rust plugin" "Go built-in" "Rust / Go"
printf '%-34s %13ss %13ss %12s\n' "wall time (packer build)" "$R_WALL" "$G_WALL" "$(ratio "$R_WALL" "$G_WALL")"
printf '%-34s %11s KB %11s KB %12s\n' "builder process peak RSS (VmHWM)" "$R_PEAK" "$G_PEAK" "$(ratio "$R_PEAK" "$G_PEAK")"
printf '%-34s %14s %14s %12s\n' "CloudStack API calls" "$R_CALLS" "$G_CALLS" "$(ratio "$R_CALLS" "$G_CALLS")"
echo
echo "API calls, Rust plugin: $R_BY"
echo "API calls, Go built-in: $G_BY"
echo
echo "The Go builder sleeps a fixed 30 s after createTemplate ('prevents corrupt templates');"
echo "ours polls listTemplates until the template is ready. Without that sleep the Go wall"
echo "time would be about $(awk -v g="$G_WALL" 'BEGIN {printf "%.2f", g-30}') s."

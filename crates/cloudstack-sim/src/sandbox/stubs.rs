//! Stand-ins for the package, service and network tools a provisioning script calls.
//!
//! They are small POSIX `sh` scripts (not Rust) because they run inside the VM sandbox, in
//! the same shell world as the scripts calling them. Each one appends one line
//! `<name> <args...>` to [`COMMANDS_LOG`] (a VM path, so it lands in the VM's root) and
//! succeeds; none of them reaches a real package manager, service manager or the network.

use crate::error::Error;
use std::path::Path;

/// Where (inside the VM) every stand-in records its invocation, one line per call.
pub const COMMANDS_LOG: &str = "/var/log/mesostack-sim/commands.log";
/// Where (inside the VM) `apt-get install` records the packages it "installed", one a line.
pub const INSTALLED_LIST: &str = "/var/lib/mesostack-sim/installed";
/// Where (inside the VM) `debconf-set-selections` appends what it read.
pub const DEBCONF_SELECTIONS: &str = "/var/lib/mesostack-sim/debconf-selections";

/// Records the call; every stand-in starts with it.
const RECORD: &str = r#"mkdir -p /var/log/mesostack-sim
printf '%s\n' "$(basename "$0")${*:+ $*}" >> /var/log/mesostack-sim/commands.log
"#;

const SUDO: &str = r#"# sudo: everything already runs as root in the sandbox; drop sudo's options and
# run the rest (`VAR=val` prefixes are handed to env).
shell=0
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -u|-g|-p|-C|-U|-r|-t|-D|--user|--group|--prompt|--close-from|--other-user|--role|--type|--chdir)
      if [ $# -ge 2 ]; then shift 2; else shift; fi ;;
    --stdin) IFS= read -r _ || true; shift ;;
    --login|--shell) shell=1; shift ;;
    --*) shift ;;
    -*)
      case "$1" in *S*) IFS= read -r _ || true ;; esac
      case "$1" in *[is]*) shell=1 ;; esac
      case "$1" in -*[ugpCUrtD]) if [ $# -ge 2 ]; then shift; fi ;; esac
      shift ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  if [ "$shell" = 1 ]; then exec sh; fi
  exit 0
fi
exec env "$@"
"#;

const APT_GET: &str = r#"verb=""
pkgs=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o|-t|-c|--option|--target-release|--config-file)
      if [ $# -ge 2 ]; then shift 2; else shift; fi ;;
    -*) shift ;;
    *) if [ -z "$verb" ]; then verb="$1"; else pkgs="$pkgs $1"; fi; shift ;;
  esac
done
list=/var/lib/mesostack-sim/installed
mkdir -p /var/lib/mesostack-sim
touch "$list"
case "$verb" in
  update) echo "Reading package lists... Done (simulated)" ;;
  install)
    for p in $pkgs; do
      grep -qxF "$p" "$list" || printf '%s\n' "$p" >> "$list"
      # The configuration directories the real packages ship, so scripts can write there.
      case "${p%%=*}" in
        mesos) mkdir -p /etc/mesos /etc/mesos-master /etc/mesos-slave /etc/default ;;
        marathon) mkdir -p /etc/marathon/conf /etc/default ;;
        zookeeper|zookeeperd) mkdir -p /etc/zookeeper/conf /var/lib/zookeeper ;;
      esac
      echo "Setting up $p (simulated) ..."
    done ;;
  remove|purge)
    for p in $pkgs; do
      grep -vxF "$p" "$list" > "$list.tmp" || true
      mv "$list.tmp" "$list"
    done ;;
esac
exit 0
"#;

const APT_KEY: &str = r#"for a in "$@"; do
  if [ "$a" = "-" ]; then cat > /dev/null; fi
done
case "${1:-}" in add|adv) echo OK ;; esac
exit 0
"#;

const ADD_APT_REPOSITORY: &str = r#"repo=""
remove=0
for a in "$@"; do
  case "$a" in
    -r|--remove) remove=1 ;;
    -*) ;;
    *) repo="$a" ;;
  esac
done
if [ -z "$repo" ]; then
  echo "add-apt-repository: no repository given" >&2
  exit 1
fi
dir=/etc/apt/sources.list.d
mkdir -p "$dir"
case "$repo" in
  ppa:*)
    spec="${repo#ppa:}"
    owner="${spec%%/*}"
    name="${spec#*/}"
    if [ "$name" = "$spec" ]; then name=ppa; fi
    file="$dir/$owner-ubuntu-$name-trusty.list"
    line="deb http://ppa.launchpad.net/$owner/$name/ubuntu trusty main" ;;
  *)
    url=$(printf '%s\n' "$repo" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }')
    base=$(printf '%s\n' "${url:-$repo}" | sed 's#://#_#; s#[^A-Za-z0-9_-]#_#g; s#_*$##')
    file="$dir/archive_uri-$base-trusty.list"
    line="$repo" ;;
esac
touch "$file"
if [ "$remove" = 1 ]; then
  grep -vxF "$line" "$file" > "$file.tmp" || true
  mv "$file.tmp" "$file"
else
  grep -qxF "$line" "$file" || printf '%s\n' "$line" >> "$file"
fi
exit 0
"#;

const DEBCONF_SET_SELECTIONS: &str = r#"mkdir -p /var/lib/mesostack-sim
files=""
for a in "$@"; do
  case "$a" in -*) ;; *) files="$files $a" ;; esac
done
if [ -n "$files" ]; then
  # shellcheck disable=SC2086
  cat $files >> /var/lib/mesostack-sim/debconf-selections
else
  cat >> /var/lib/mesostack-sim/debconf-selections
fi
exit 0
"#;

const LSB_RELEASE: &str = r#"short=0
fields=""
for a in "$@"; do
  case "$a" in
    --short) short=1 ;;
    --id) fields="$fields i" ;;
    --codename) fields="$fields c" ;;
    --release) fields="$fields r" ;;
    --description) fields="$fields d" ;;
    --all) fields="$fields a" ;;
    -*)
      flags="${a#-}"
      while [ -n "$flags" ]; do
        ch="${flags%"${flags#?}"}"
        flags="${flags#?}"
        case "$ch" in
          s) short=1 ;;
          i|c|r|d|a) fields="$fields $ch" ;;
        esac
      done ;;
  esac
done
if [ -z "$fields" ]; then
  echo "No LSB modules are available." >&2
  exit 0
fi
for f in $fields; do
  if [ "$f" = a ]; then set -- i d r c; else set -- "$f"; fi
  for g in "$@"; do
    case "$g" in
      i) label="Distributor ID"; value="Ubuntu" ;;
      d) label="Description"; value="Ubuntu 14.04.6 LTS" ;;
      r) label="Release"; value="14.04" ;;
      c) label="Codename"; value="trusty" ;;
    esac
    if [ "$short" = 1 ]; then
      printf '%s\n' "$value"
    else
      printf '%s:\t%s\n' "$label" "$value"
    fi
  done
done
exit 0
"#;

const SERVICE: &str = r#"case "$(basename "$0")" in
  status) echo "${1:-service} start/running, process 4242" ;;
  service) if [ "${2:-}" = status ]; then echo "${1:-service} start/running, process 4242"; fi ;;
  systemctl) if [ "${1:-}" = is-active ]; then echo active; fi ;;
esac
exit 0
"#;

const DOWNLOAD: &str = r#"# No network in the sandbox: create the named output file (empty) and succeed.
out=""
prev=""
for a in "$@"; do
  case "$prev" in -o|-O|--output|--output-document) out="$a" ;; esac
  case "$a" in --output=*|--output-document=*) out="${a#*=}" ;; esac
  prev="$a"
done
if [ -n "$out" ] && [ "$out" != "-" ]; then : > "$out"; fi
exit 0
"#;

const RECORD_ONLY: &str = "exit 0\n";

/// Every stand-in: file name and body (after the shebang and the recording prelude).
pub const STUBS: &[(&str, &str)] = &[
    ("sudo", SUDO),
    ("apt-get", APT_GET),
    ("apt", APT_GET),
    ("apt-key", APT_KEY),
    ("add-apt-repository", ADD_APT_REPOSITORY),
    ("debconf-set-selections", DEBCONF_SET_SELECTIONS),
    ("lsb_release", LSB_RELEASE),
    ("service", SERVICE),
    ("initctl", SERVICE),
    ("start", SERVICE),
    ("stop", SERVICE),
    ("restart", SERVICE),
    ("status", SERVICE),
    ("systemctl", SERVICE),
    ("update-rc.d", SERVICE),
    ("curl", DOWNLOAD),
    ("wget", DOWNLOAD),
    ("dpkg", RECORD_ONLY),
    ("sysctl", RECORD_ONLY),
    ("reboot", RECORD_ONLY),
    ("shutdown", RECORD_ONLY),
    ("hostnamectl", RECORD_ONLY),
];

/// The full text of one stand-in.
pub fn script(body: &str) -> String {
    format!("#!/bin/sh\n# cloudstack-sim VM stand-in: records the call, touches nothing real.\n{RECORD}{body}")
}

/// Writes every stand-in into `dir` (created), executable, replacing older versions.
pub fn write_all(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    for (name, body) in STUBS {
        let path = dir.join(name);
        std::fs::write(&path, script(body))
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// Runs a stand-in outside any sandbox, with its VM paths redirected into a temp dir by
    /// rewriting them (the scripts only ever write under /var and /etc).
    fn run(dir: &Path, root: &Path, name: &str, args: &[&str], stdin: &str) -> String {
        use std::io::Write as _;
        let body = STUBS.iter().find(|(n, _)| *n == name).unwrap().1;
        let text = script(body)
            .replace("/var/", &format!("{}/var/", root.display()))
            .replace("/etc/", &format!("{}/etc/", root.display()));
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let mut child = Command::new("sh")
            .arg(&path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{name} {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn apt_get_records_calls_and_installed_packages_once() {
        let bin = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        run(bin.path(), r, "apt-get", &["update"], "");
        run(
            bin.path(),
            r,
            "apt-get",
            &["-y", "install", "mesos", "marathon"],
            "",
        );
        run(bin.path(), r, "apt-get", &["install", "-y", "mesos"], "");
        let log = std::fs::read_to_string(r.join("var/log/mesostack-sim/commands.log")).unwrap();
        assert_eq!(
            log,
            "apt-get update\napt-get -y install mesos marathon\napt-get install -y mesos\n"
        );
        let installed = std::fs::read_to_string(r.join("var/lib/mesostack-sim/installed")).unwrap();
        assert_eq!(installed, "mesos\nmarathon\n");
        assert!(r.join("etc/mesos").is_dir() && r.join("etc/marathon/conf").is_dir());
    }

    #[test]
    fn lsb_release_answers_like_trusty() {
        let bin = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        assert_eq!(run(bin.path(), r, "lsb_release", &["-cs"], ""), "trusty\n");
        assert_eq!(run(bin.path(), r, "lsb_release", &["-is"], ""), "Ubuntu\n");
        assert_eq!(run(bin.path(), r, "lsb_release", &["-rs"], ""), "14.04\n");
        assert_eq!(
            run(bin.path(), r, "lsb_release", &["-a"], ""),
            "Distributor ID:\tUbuntu\nDescription:\tUbuntu 14.04.6 LTS\nRelease:\t14.04\nCodename:\ttrusty\n"
        );
    }

    #[test]
    fn add_apt_repository_writes_a_list_file_once() {
        let bin = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let repo = "deb http://repos.mesosphere.io/ubuntu trusty main";
        run(bin.path(), r, "add-apt-repository", &["-y", repo], "");
        run(bin.path(), r, "add-apt-repository", &["-y", repo], "");
        run(
            bin.path(),
            r,
            "add-apt-repository",
            &["ppa:webupd8team/java"],
            "",
        );
        let list = r
            .join("etc/apt/sources.list.d/archive_uri-http_repos_mesosphere_io_ubuntu-trusty.list");
        assert_eq!(std::fs::read_to_string(list).unwrap(), format!("{repo}\n"));
        let ppa = r.join("etc/apt/sources.list.d/webupd8team-ubuntu-java-trusty.list");
        assert_eq!(
            std::fs::read_to_string(ppa).unwrap(),
            "deb http://ppa.launchpad.net/webupd8team/java/ubuntu trusty main\n"
        );
    }

    #[test]
    fn debconf_reads_stdin_and_sudo_runs_its_command() {
        let bin = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        run(
            bin.path(),
            r,
            "debconf-set-selections",
            &[],
            "oracle-java8-installer shared/accepted-oracle-license-v1-1 select true\n",
        );
        let sel =
            std::fs::read_to_string(r.join("var/lib/mesostack-sim/debconf-selections")).unwrap();
        assert!(sel.contains("accepted-oracle-license"));
        let out = run(
            bin.path(),
            r,
            "sudo",
            &[
                "-E",
                "-u",
                "root",
                "GREETING=hi",
                "sh",
                "-c",
                "echo $GREETING",
            ],
            "",
        );
        assert_eq!(out, "hi\n");
        let out = run(bin.path(), r, "sudo", &["-S", "cat"], "password\npayload\n");
        assert_eq!(out, "payload\n");
    }
}

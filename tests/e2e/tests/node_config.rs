//! `terraform-examples/mesostack/scripts/configure-node`, the node configuration tool the
//! Terraform module runs on every VM, run with `sh` against a temporary `--root`: every file's
//! exact content for 1, 3 and 5 masters and for slaves, idempotency (a second run leaves the
//! identical tree, a pre-existing `zoo.cfg` keeps its other lines), and each bad input's
//! message and exit status.
//!
//! The script runs with a `PATH` holding only the commands its header promises (`sh`, `cat`,
//! `mkdir`, `mv`, `rm`, `chmod`, `sed`, `printf`), so a new dependency on anything else (which
//! an Ubuntu 14.04 VM might lack) fails here.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use mesostack_e2e::{which, workspace_root};

fn script() -> PathBuf {
    workspace_root().join("terraform-examples/mesostack/scripts/configure-node")
}

/// A directory of symlinks to the only commands the script may use, plus optional fakes.
fn minimal_path(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).expect("bin dir");
    for tool in ["sh", "cat", "mkdir", "mv", "rm", "chmod", "sed", "printf"] {
        let real = which(tool).unwrap_or_else(|| panic!("{tool} is on PATH"));
        std::os::unix::fs::symlink(real, bin.join(tool)).expect("symlink");
    }
    bin
}

/// A scratch directory with an empty root tree and the minimal PATH.
struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        fs::create_dir(&root).expect("root dir");
        let bin = minimal_path(dir.path());
        Sandbox {
            _dir: dir,
            root,
            bin,
        }
    }

    /// `sh configure-node ARGS --root ROOT`.
    fn run(&self, args: &[&str]) -> Output {
        let mut full: Vec<&str> = args.to_vec();
        let root = self.root.to_str().expect("utf-8 temp path");
        full.extend(["--root", root]);
        self.run_raw(&full)
    }

    /// `sh configure-node ARGS` exactly as given.
    fn run_raw(&self, args: &[&str]) -> Output {
        Command::new(self.bin.join("sh"))
            .arg(script())
            .args(args)
            .env_clear()
            .env("PATH", &self.bin)
            .output()
            .expect("sh runs")
    }

    /// Every file under the root: path relative to it (with a leading `/`) → content.
    fn tree(&self) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        collect(&self.root, &self.root, &mut files);
        files
    }

    fn write(&self, rel: &str, content: &str) {
        let path = self.root.join(rel.trim_start_matches('/'));
        fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        fs::write(path, content).expect("write");
    }
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            let content = fs::read_to_string(&path).expect("utf-8 file");
            out.insert(format!("/{}", rel.display()), content);
        }
    }
}

fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "configure-node failed ({:?}): {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "unexpected stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn expected(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(path, content)| (path.to_string(), content.to_string()))
        .collect()
}

const DEFAULT_ZOO_HEAD: &str = "tickTime=2000\ninitLimit=10\nsyncLimit=5\n\
                                dataDir=/var/lib/zookeeper\nclientPort=2181\n";

#[test]
fn one_master_gets_every_file_with_quorum_one() {
    let sb = Sandbox::new();
    ok(&sb.run(&[
        "master",
        "--masters",
        "172.16.0.20",
        "--id",
        "1",
        "--ip",
        "172.16.0.20",
    ]));
    let zoo = format!("{DEFAULT_ZOO_HEAD}server.1=172.16.0.20:2888:3888\n");
    assert_eq!(
        sb.tree(),
        expected(&[
            ("/etc/mesos/zk", "zk://172.16.0.20:2181/mesos\n"),
            ("/etc/zookeeper/conf/myid", "1\n"),
            ("/etc/zookeeper/conf/zoo.cfg", &zoo),
            ("/etc/mesos-master/quorum", "1\n"),
            ("/etc/mesos-master/ip", "172.16.0.20\n"),
            ("/etc/mesos-master/hostname", "172.16.0.20\n"),
            ("/etc/marathon/conf/master", "zk://172.16.0.20:2181/mesos\n"),
            ("/etc/marathon/conf/zk", "zk://172.16.0.20:2181/marathon\n"),
            ("/etc/marathon/conf/hostname", "172.16.0.20\n"),
            ("/etc/init/mesos-slave.override", "manual\n"),
        ])
    );
}

#[test]
fn second_of_three_masters_gets_every_file_with_quorum_two() {
    let sb = Sandbox::new();
    ok(&sb.run(&[
        "master",
        "--masters",
        "172.16.0.20,172.16.0.21,172.16.0.22",
        "--id",
        "2",
        "--ip",
        "172.16.0.21",
    ]));
    let zk = "zk://172.16.0.20:2181,172.16.0.21:2181,172.16.0.22:2181";
    let zoo = format!(
        "{DEFAULT_ZOO_HEAD}server.1=172.16.0.20:2888:3888\nserver.2=172.16.0.21:2888:3888\n\
         server.3=172.16.0.22:2888:3888\n"
    );
    assert_eq!(
        sb.tree(),
        expected(&[
            ("/etc/mesos/zk", &format!("{zk}/mesos\n")),
            ("/etc/zookeeper/conf/myid", "2\n"),
            ("/etc/zookeeper/conf/zoo.cfg", &zoo),
            ("/etc/mesos-master/quorum", "2\n"),
            ("/etc/mesos-master/ip", "172.16.0.21\n"),
            ("/etc/mesos-master/hostname", "172.16.0.21\n"),
            ("/etc/marathon/conf/master", &format!("{zk}/mesos\n")),
            ("/etc/marathon/conf/zk", &format!("{zk}/marathon\n")),
            ("/etc/marathon/conf/hostname", "172.16.0.21\n"),
            ("/etc/init/mesos-slave.override", "manual\n"),
        ])
    );
}

#[test]
fn each_of_five_masters_gets_its_id_and_the_same_cluster_files_with_quorum_three() {
    let masters = "10.1.1.5,10.1.1.6,10.1.1.7,10.1.1.8,10.1.1.9";
    let zk = "zk://10.1.1.5:2181,10.1.1.6:2181,10.1.1.7:2181,10.1.1.8:2181,10.1.1.9:2181";
    let zoo = format!(
        "{DEFAULT_ZOO_HEAD}server.1=10.1.1.5:2888:3888\nserver.2=10.1.1.6:2888:3888\n\
         server.3=10.1.1.7:2888:3888\nserver.4=10.1.1.8:2888:3888\nserver.5=10.1.1.9:2888:3888\n"
    );
    for (id, ip) in [
        ("1", "10.1.1.5"),
        ("2", "10.1.1.6"),
        ("3", "10.1.1.7"),
        ("4", "10.1.1.8"),
        ("5", "10.1.1.9"),
    ] {
        let sb = Sandbox::new();
        ok(&sb.run(&[
            "master",
            "--masters",
            masters,
            "--id",
            id,
            "--ip",
            ip,
            "--hostname",
            "master-x.example.com",
        ]));
        assert_eq!(
            sb.tree(),
            expected(&[
                ("/etc/mesos/zk", &format!("{zk}/mesos\n")),
                ("/etc/zookeeper/conf/myid", &format!("{id}\n")),
                ("/etc/zookeeper/conf/zoo.cfg", &zoo),
                ("/etc/mesos-master/quorum", "3\n"),
                ("/etc/mesos-master/ip", &format!("{ip}\n")),
                ("/etc/mesos-master/hostname", "master-x.example.com\n"),
                ("/etc/marathon/conf/master", &format!("{zk}/mesos\n")),
                ("/etc/marathon/conf/zk", &format!("{zk}/marathon\n")),
                ("/etc/marathon/conf/hostname", "master-x.example.com\n"),
                ("/etc/init/mesos-slave.override", "manual\n"),
            ]),
            "master {id}"
        );
    }
}

#[test]
fn quorum_is_the_majority_for_two_and_four_masters() {
    for (masters, quorum) in [
        ("10.0.0.1,10.0.0.2", "2\n"),
        ("1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4", "3\n"),
    ] {
        let sb = Sandbox::new();
        let first = masters.split(',').next().unwrap();
        ok(&sb.run(&["master", "--masters", masters, "--id", "1", "--ip", first]));
        assert_eq!(sb.tree()["/etc/mesos-master/quorum"], quorum, "{masters}");
    }
}

#[test]
fn slave_gets_zk_ip_hostname_and_a_manual_master() {
    let sb = Sandbox::new();
    ok(&sb.run(&[
        "slave",
        "--masters",
        "172.16.0.20,172.16.0.21,172.16.0.22",
        "--ip",
        "172.16.0.103",
    ]));
    assert_eq!(
        sb.tree(),
        expected(&[
            (
                "/etc/mesos/zk",
                "zk://172.16.0.20:2181,172.16.0.21:2181,172.16.0.22:2181/mesos\n"
            ),
            ("/etc/mesos-slave/ip", "172.16.0.103\n"),
            ("/etc/mesos-slave/hostname", "172.16.0.103\n"),
            ("/etc/init/mesos-master.override", "manual\n"),
        ])
    );

    // With --hostname (and the --opt=value spelling), and one master.
    let sb = Sandbox::new();
    ok(&sb.run(&[
        "slave",
        "--masters=172.16.0.20",
        "--ip=172.16.0.104",
        "--hostname=slave-1",
    ]));
    assert_eq!(
        sb.tree(),
        expected(&[
            ("/etc/mesos/zk", "zk://172.16.0.20:2181/mesos\n"),
            ("/etc/mesos-slave/ip", "172.16.0.104\n"),
            ("/etc/mesos-slave/hostname", "slave-1\n"),
            ("/etc/init/mesos-master.override", "manual\n"),
        ])
    );
}

#[test]
fn running_twice_leaves_an_identical_tree_and_keeps_other_zoo_cfg_lines() {
    let sb = Sandbox::new();
    // A zoo.cfg as a package or an operator left it: comments (including a commented-out
    // server line), custom settings, stale server lines from an earlier cluster, no final
    // newline.
    sb.write(
        "/etc/zookeeper/conf/zoo.cfg",
        "# operator settings\ntickTime=3000\n#server.1=zookeeper1:2888:3888\nserver.1=10.9.9.9:2888:3888\n\
         dataDir=/data/zk\n  server.7 = 10.9.9.7:2888:3888\nmaxClientCnxns=60",
    );
    // A master.override left from when this VM was a slave.
    sb.write("/etc/init/mesos-master.override", "manual\n");
    let args = [
        "master",
        "--masters",
        "10.0.0.1,10.0.0.2,10.0.0.3",
        "--id",
        "3",
        "--ip",
        "10.0.0.3",
    ];
    ok(&sb.run(&args));
    let first = sb.tree();
    assert_eq!(
        first["/etc/zookeeper/conf/zoo.cfg"],
        "# operator settings\ntickTime=3000\n#server.1=zookeeper1:2888:3888\ndataDir=/data/zk\n\
         maxClientCnxns=60\nserver.1=10.0.0.1:2888:3888\nserver.2=10.0.0.2:2888:3888\n\
         server.3=10.0.0.3:2888:3888\n"
    );
    assert!(!first.contains_key("/etc/init/mesos-master.override"));
    assert_eq!(first["/etc/init/mesos-slave.override"], "manual\n");
    ok(&sb.run(&args));
    assert_eq!(sb.tree(), first, "the second run changed files");

    // A slave run twice is just as stable, and drops a stale slave override.
    let sb = Sandbox::new();
    sb.write("/etc/init/mesos-slave.override", "manual\n");
    let args = [
        "slave",
        "--masters",
        "10.0.0.1,10.0.0.2",
        "--ip",
        "10.0.0.50",
    ];
    ok(&sb.run(&args));
    let first = sb.tree();
    assert!(!first.contains_key("/etc/init/mesos-slave.override"));
    ok(&sb.run(&args));
    assert_eq!(sb.tree(), first);
}

#[test]
fn no_temporary_files_are_left_behind() {
    let sb = Sandbox::new();
    ok(&sb.run(&["slave", "--masters", "10.0.0.1", "--ip", "10.0.0.9"]));
    ok(&sb.run(&[
        "master",
        "--masters",
        "10.0.0.1",
        "--id",
        "1",
        "--ip",
        "10.0.0.1",
    ]));
    for path in sb.tree().keys() {
        assert!(!path.contains(".tmp."), "left behind: {path}");
    }
}

#[test]
fn bad_input_is_rejected_with_a_message_naming_the_option_and_exit_2() {
    let m3 = "10.0.0.1,10.0.0.2,10.0.0.3";
    let cases: &[(&[&str], &str)] = &[
        (
            &["master", "--id", "1", "--ip", "10.0.0.1"],
            "--masters is required",
        ),
        (
            &["slave", "--masters", "", "--ip", "10.0.0.1"],
            "--masters: no master IPs given",
        ),
        (
            &["slave", "--masters", "10.0.0.1,", "--ip", "10.0.0.9"],
            "--masters: empty entry",
        ),
        (
            &[
                "slave",
                "--masters",
                "10.0.0.1,10.0.0.256",
                "--ip",
                "10.0.0.9",
            ],
            "--masters: '10.0.0.256' is not an IPv4 address",
        ),
        (
            &["slave", "--masters", "10.0.0", "--ip", "10.0.0.9"],
            "--masters: '10.0.0' is not an IPv4 address",
        ),
        (
            &["slave", "--masters", "10.0.0.1.5", "--ip", "10.0.0.9"],
            "--masters: '10.0.0.1.5' is not an IPv4 address",
        ),
        (
            &["slave", "--masters", "master-0", "--ip", "10.0.0.9"],
            "--masters: 'master-0' is not an IPv4 address",
        ),
        (
            &["slave", "--masters", "10.0.0.01", "--ip", "10.0.0.9"],
            "--masters: '10.0.0.01' is not an IPv4 address",
        ),
        (
            &[
                "slave",
                "--masters",
                "10.0.0.1,10.0.0.2,10.0.0.1",
                "--ip",
                "10.0.0.9",
            ],
            "--masters: 10.0.0.1 is listed twice",
        ),
        (
            &["master", "--masters", m3, "--id", "0", "--ip", "10.0.0.1"],
            "--id: 0 is out of range 1..3",
        ),
        (
            &["master", "--masters", m3, "--id", "4", "--ip", "10.0.0.1"],
            "--id: 4 is out of range 1..3",
        ),
        (
            &[
                "master",
                "--masters",
                m3,
                "--id",
                "99999999999999999999",
                "--ip",
                "10.0.0.1",
            ],
            "--id: 99999999999999999999 is out of range 1..3",
        ),
        (
            &["master", "--masters", m3, "--id", "two", "--ip", "10.0.0.1"],
            "--id: 'two' is not a number",
        ),
        (
            &["master", "--masters", m3, "--ip", "10.0.0.1"],
            "--id is required in master mode",
        ),
        (
            &["master", "--masters", m3, "--id", "1", "--ip", "10.0.0.2"],
            "--id: 1 does not match --ip 10.0.0.2, which is master 2",
        ),
        (
            &["slave", "--masters", m3, "--id", "1", "--ip", "10.0.0.9"],
            "--id: only for master mode",
        ),
        (
            &["master", "--masters", m3, "--id", "1"],
            "--ip is required",
        ),
        (&["slave", "--masters", m3], "--ip is required"),
        (
            &["slave", "--masters", m3, "--ip", "300.1.1.1"],
            "--ip: '300.1.1.1' is not an IPv4 address",
        ),
        (
            &["master", "--masters", m3, "--id", "1", "--ip", "10.0.0.9"],
            "--ip: 10.0.0.9 is not in --masters",
        ),
        (
            &[
                "slave",
                "--masters",
                m3,
                "--ip",
                "10.0.0.9",
                "--hostname",
                "bad name",
            ],
            "--hostname: 'bad name' is not a valid host name",
        ),
        (
            &["slave", "--masters", m3, "--ip", "10.0.0.9", "--port", "1"],
            "unknown option '--port'",
        ),
        (
            &["worker", "--masters", m3, "--ip", "10.0.0.9"],
            "unknown mode 'worker'",
        ),
        (&["--masters", m3, "--ip", "10.0.0.9"], "missing mode"),
        (&["slave", "--masters", m3, "--ip"], "--ip needs a value"),
    ];
    for (args, message) in cases {
        let sb = Sandbox::new();
        let out = sb.run_raw_with_root(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("configure-node: {message}")),
            "{args:?}: expected {message:?}, got {stderr:?}"
        );
        assert!(sb.tree().is_empty(), "{args:?} wrote files");
    }

    // --root must exist: a typo must not scatter files elsewhere.
    let sb = Sandbox::new();
    let out = sb.run_raw(&[
        "slave",
        "--masters",
        "10.0.0.1",
        "--ip",
        "10.0.0.9",
        "--root",
        "/nonexistent/x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--root: '/nonexistent/x' is not a directory"));
}

impl Sandbox {
    /// Like `run`, but the root goes first so a case whose last option lacks its value stays
    /// that way.
    fn run_raw_with_root(&self, args: &[&str]) -> Output {
        let root = self.root.to_str().expect("utf-8 temp path");
        let mut full = vec!["--root", root];
        full.extend_from_slice(args);
        self.run_raw(&full)
    }
}

#[test]
fn help_prints_usage_and_no_arguments_is_an_error() {
    let sb = Sandbox::new();
    let out = sb.run_raw(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("configure-node master --masters IP1,IP2,... --id N --ip MYIP"));
    assert!(text.contains("configure-node slave  --masters IP1,IP2,... --ip MYIP"));
    assert!(text.contains("--restart-services"));

    let out = sb.run_raw(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage:"));
}

#[test]
fn restart_services_uses_the_init_system_found() {
    // No systemd on PATH here, so an `initctl` stand-in that records its arguments is chosen
    // (the Ubuntu 14.04 case). Its `restart` fails for a stopped job, like upstart's.
    let sb = Sandbox::new();
    let log = sb.root.parent().expect("parent").join("initctl.log");
    let fake = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n[ \"$1\" != restart ] || [ \"$2\" = zookeeper ]\n",
        log.display()
    );
    let initctl = sb.bin.join("initctl");
    fs::write(&initctl, fake).expect("write fake");
    let mut perms = fs::metadata(&initctl).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&initctl, perms).expect("chmod");

    let out = sb.run(&[
        "master",
        "--masters",
        "10.0.0.1",
        "--id",
        "1",
        "--ip",
        "10.0.0.1",
        "--restart-services",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(&log).expect("log"),
        "stop mesos-slave\nrestart zookeeper\nrestart mesos-master\nstart mesos-master\n\
         restart marathon\nstart marathon\n"
    );

    fs::remove_file(&log).expect("rm log");
    let out = sb.run(&[
        "slave",
        "--masters",
        "10.0.0.1",
        "--ip",
        "10.0.0.9",
        "--restart-services",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(&log).expect("log"),
        "stop mesos-master\nrestart mesos-slave\nstart mesos-slave\n"
    );

    // Without the flag nothing is restarted.
    fs::remove_file(&log).expect("rm log");
    ok(&sb.run(&["slave", "--masters", "10.0.0.1", "--ip", "10.0.0.9"]));
    assert!(!log.exists());
}

#[test]
fn passes_shellcheck_when_installed() {
    mesostack_e2e::assert_shellcheck_passes(&script());
}

//! The real `packer` (1.6.6) against `packer-builder-sdkfixture`.

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const FIXTURE: &str = env!("CARGO_BIN_EXE_packer-builder-sdkfixture");

/// A scratch dir with the fixture installed as a plugin and a work dir for markers.
struct Scratch {
    packer: PathBuf,
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Option<Self> {
        let packer = mesostack_e2e::require_packer()?;
        let dir = tempfile::tempdir().unwrap();
        mesostack_e2e::link_packer_plugin(
            dir.path(),
            Path::new(FIXTURE),
            "packer-builder-sdkfixture",
        );
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Some(Self { packer, dir })
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn template(&self, name: &str, json: serde_json::Value) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
        p
    }

    fn command(&self, args: &[&str], template: &Path) -> Command {
        let mut c = mesostack_e2e::packer_command(&self.packer, self.dir.path());
        c.args(args)
            .arg(template)
            .env("HOME", self.dir.path().join("home"))
            .env("PACKER_LOG", "1")
            .env("PACKER_LOG_PATH", self.dir.path().join("packer.log"))
            .env_remove("PACKER_CONFIG");
        c
    }

    fn run(&self, args: &[&str], template: &Path) -> (Output, String) {
        let out = self.command(args, template).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, text)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("packer.log")).unwrap_or_default()
    }
}

fn builder(work: &Path) -> serde_json::Value {
    serde_json::json!({"type": "sdkfixture", "name": "fx", "work_dir": work})
}

#[test]
fn validate_accepts_a_good_template() {
    let Some(s) = Scratch::new() else { return };
    let t = s.template(
        "ok.json",
        serde_json::json!({"builders": [builder(&s.work())]}),
    );
    let (out, text) = s.run(&["validate"], &t);
    assert!(out.status.success(), "{text}\n{}", s.log());
    assert!(
        s.log().contains("Discovered plugin: sdkfixture"),
        "Packer did not use the fixture plugin"
    );
}

#[test]
fn validate_names_every_bad_field() {
    let Some(s) = Scratch::new() else { return };
    let t = s.template(
        "bad.json",
        serde_json::json!({"builders": [{"type": "sdkfixture", "name": "fx", "bogus_key": 1}]}),
    );
    let (out, text) = s.run(&["validate"], &t);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Failed to prepare build: \"fx\""), "{text}");
    assert!(
        text.contains("unknown configuration key: \"bogus_key\""),
        "{text}"
    );
    assert!(text.contains("work_dir must be set"), "{text}");
}

#[test]
fn build_runs_shell_and_file_provisioners_through_our_communicator() {
    let Some(s) = Scratch::new() else { return };
    let w = s.work();
    std::fs::write(w.join("src.txt"), "uploaded-content-42\n").unwrap();
    let wd = w.display().to_string();
    let t = s.template(
        "build.json",
        serde_json::json!({
            "builders": [builder(&w)],
            "provisioners": [
                {"type": "file", "source": format!("{wd}/src.txt"),
                 "destination": format!("{wd}/uploaded.txt")},
                {"type": "shell", "remote_folder": wd, "inline": [
                    "echo provisioner-says-hello",
                    format!("echo marker > {wd}/marker.txt"),
                    format!("cat {wd}/uploaded.txt"),
                    "echo on-stderr >&2"
                ]}
            ]
        }),
    );
    let (out, text) = s.run(&["build", "-color=false"], &t);
    assert!(out.status.success(), "{text}\n{}", s.log());
    assert!(text.contains("==> fx: fixture: starting build"), "{text}");
    assert!(text.contains("fx: provisioner-says-hello"), "{text}");
    assert!(text.contains("fx: uploaded-content-42"), "{text}");
    assert!(text.contains("on-stderr"), "{text}");
    assert!(
        text.contains(&format!("--> fx: fixture artifact in {wd}")),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(w.join("marker.txt")).unwrap(),
        "marker\n"
    );
    assert_eq!(
        std::fs::read_to_string(w.join("uploaded.txt")).unwrap(),
        "uploaded-content-42\n"
    );
    assert!(w.join("cleanup-done").exists());
}

#[test]
fn failing_provisioner_fails_the_build_after_cleanup() {
    let Some(s) = Scratch::new() else { return };
    let w = s.work();
    let t = s.template(
        "fail.json",
        serde_json::json!({
            "builders": [builder(&w)],
            "provisioners": [{"type": "shell", "remote_folder": w, "inline": ["echo about-to-fail", "exit 3"]}]
        }),
    );
    let (out, text) = s.run(&["build", "-color=false"], &t);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("about-to-fail"), "{text}");
    assert!(text.contains("non-zero exit status: 3"), "{text}");
    assert!(text.contains("Build 'fx' errored"), "{text}");
    assert!(w.join("cleanup-done").exists());
}

#[test]
fn sigint_cancels_the_build_and_cleanup_runs() {
    let Some(s) = Scratch::new() else { return };
    let w = s.work();
    let t = s.template(
        "long.json",
        serde_json::json!({
            "builders": [builder(&w)],
            "provisioners": [{"type": "shell", "remote_folder": w,
                "inline": ["echo started-long", "sleep 60", "echo never-printed"]}]
        }),
    );
    let mut cmd = s.command(&["build", "-color=false"], &t);
    // Own process group, so the interrupt reaches Packer, its wrapper and the plugin like a
    // terminal's Ctrl-C would, and nothing else.
    use std::os::unix::process::CommandExt;
    cmd.process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let output = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn({
        let output = output.clone();
        move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                output
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !output.lock().unwrap().contains("started-long") {
        assert!(
            Instant::now() < deadline,
            "provisioner never started: {}",
            output.lock().unwrap()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "packer exited early: {}",
            output.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let started = Instant::now();
    let pgid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(status.success());
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!(
                "packer did not stop after SIGINT: {}",
                output.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    reader.join().unwrap();
    let text = output.lock().unwrap().clone();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("build was cancelled"), "{text}");
    assert!(
        text.contains("Cleanly cancelled builds after being interrupted"),
        "{text}"
    );
    assert!(!text.contains("never-printed"), "{text}");
    assert!(w.join("cleanup-done").exists(), "cleanup did not run");
    assert!(
        s.log().contains("Packer asked to cancel the build"),
        "Builder.Cancel did not reach the plugin"
    );
}

#[test]
fn files_and_directories_travel_both_ways_and_long_output_arrives_whole() {
    let Some(s) = Scratch::new() else { return };
    let w = s.work();
    let wd = w.display().to_string();
    // 3 MB of varied bytes: many yamux windows (256 KiB) and window updates each way.
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(w.join("big.bin"), &big).unwrap();
    std::fs::create_dir_all(w.join("srcdir/sub")).unwrap();
    std::fs::write(w.join("srcdir/a.txt"), "a\n").unwrap();
    std::fs::write(w.join("srcdir/sub/b.txt"), "b\n").unwrap();
    let t = s.template(
        "transfer.json",
        serde_json::json!({
            "builders": [builder(&w)],
            "provisioners": [
                {"type": "file", "source": format!("{wd}/big.bin"), "destination": format!("{wd}/big-up.bin")},
                {"type": "file", "source": format!("{wd}/srcdir"), "destination": format!("{wd}/dst")},
                {"type": "shell", "remote_folder": wd, "inline": ["seq 1 2000 | sed 's/^/line-/'"]},
                {"type": "file", "direction": "download", "source": format!("{wd}/big-up.bin"),
                 "destination": format!("{wd}/big-down.bin")},
                {"type": "file", "direction": "download", "source": format!("{wd}/srcdir/"),
                 "destination": format!("{wd}/dl/")}
            ]
        }),
    );
    let (out, text) = s.run(&["build", "-color=false"], &t);
    assert!(out.status.success(), "{text}\n{}", s.log());
    assert_eq!(std::fs::read(w.join("big-up.bin")).unwrap(), big);
    assert_eq!(std::fs::read(w.join("big-down.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read_to_string(w.join("dst/sub/b.txt")).unwrap(),
        "b\n"
    );
    assert_eq!(
        std::fs::read_to_string(w.join("dl/srcdir/a.txt")).unwrap(),
        "a\n"
    );
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("fx: line-"))
        .collect();
    assert_eq!(lines.len(), 2000, "{text}");
    assert_eq!(lines.first(), Some(&"1"));
    assert_eq!(lines.last(), Some(&"2000"));
}

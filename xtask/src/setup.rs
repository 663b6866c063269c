//! Installs the build and test tools, each only when it is missing or at the wrong version.

use std::{fs, process::Command};

use anyhow::{Context, Result, bail};

use crate::{Project, progress::Steps, run};

/// Trunk 0.22 needs a newer rustc than this project's toolchain.
const TRUNK_VERSION: &str = "0.21.14";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The steps [`all`] announces: without and with the test tools.
pub const STEPS: usize = 4;
pub const TEST_STEPS: usize = STEPS + 4;

/// Release-profile overrides for `cargo install` of the tools. They spend a few seconds per build
/// at most, so optimising their code is not worth what it costs on a first run: Trunk compiles in
/// 1 min 51 s instead of about 10 min, wasm-bindgen-cli in 44 s instead of about 2.5 min, and
/// the UI they build is the same.
const QUICK_INSTALL: [(&str, &str); 4] = [
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
];

pub fn all(project: &Project, for_tests: bool, steps: &mut Steps) -> Result<()> {
    wasm_target(project, steps)?;
    // `--locked`: the dependency versions Trunk was released and tested with.
    cargo_tool(
        project,
        steps,
        Tool {
            binary: "trunk",
            krate: "trunk",
            version: TRUNK_VERSION,
            locked: true,
            duration: "about 2 min",
        },
    )?;
    // wasm-bindgen-cli must match the wasm-bindgen library in Cargo.lock exactly.
    let bindgen = locked_version(project, "wasm-bindgen")?;
    cargo_tool(
        project,
        steps,
        Tool {
            binary: "wasm-bindgen",
            krate: "wasm-bindgen-cli",
            version: &bindgen,
            locked: false,
            duration: "about 1 min",
        },
    )?;
    npm_packages(project, steps)?;
    if for_tests {
        nextest(project, steps)?;
        chromium(project, steps)?;
        nginx(project, steps)?;
        python_venv(project, steps)?;
    }
    Ok(())
}

fn wasm_target(project: &Project, steps: &mut Steps) -> Result<()> {
    let installed = output(
        project
            .command("rustup")
            .args(["target", "list", "--installed"]),
    )?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        steps.next(format_args!("{WASM_TARGET} target: installed"));
        return Ok(());
    }
    steps.next(format_args!(
        "adding the {WASM_TARGET} target (a download, under a minute, once)"
    ));
    run(project
        .command("rustup")
        .args(["target", "add", WASM_TARGET]))
}

/// A program installed with `cargo install`.
struct Tool<'a> {
    binary: &'a str,
    krate: &'a str,
    version: &'a str,
    locked: bool,
    /// How long the install usually takes, for the progress line.
    duration: &'a str,
}

/// Installs `tool` at its version unless `binary --version` already reports it.
fn cargo_tool(project: &Project, steps: &mut Steps, tool: Tool<'_>) -> Result<()> {
    let Tool {
        binary,
        krate,
        version,
        locked,
        duration,
    } = tool;
    let current = output(project.command(binary).arg("--version")).unwrap_or_default();
    if current.split_whitespace().nth(1) == Some(version) {
        steps.next(format_args!("{krate} {version}: installed"));
        return Ok(());
    }
    steps.next(format_args!(
        "installing {krate} {version} ({duration}, once)"
    ));
    let mut install = project.cargo();
    install
        .args(["install", krate, "--version", version])
        .envs(QUICK_INSTALL);
    if locked {
        install.arg("--locked");
    }
    run(&mut install)
}

/// The version of `package` recorded in Cargo.lock.
fn locked_version(project: &Project, package: &str) -> Result<String> {
    let lock = fs::read_to_string(project.root.join("Cargo.lock")).context("read Cargo.lock")?;
    let name = format!("name = \"{package}\"");
    lock.lines()
        .zip(lock.lines().skip(1))
        .find(|(line, _)| *line == name)
        .and_then(|(_, next)| next.strip_prefix("version = \""))
        .map(|version| version.trim_end_matches('"').to_owned())
        .with_context(|| format!("{package} is not in Cargo.lock"))
}

/// Whether `output` exists and is at least as new as `input`.
fn up_to_date(project: &Project, output: &str, input: &str) -> bool {
    let modified = |path: &str| fs::metadata(project.root.join(path)).and_then(|m| m.modified());
    matches!((modified(output), modified(input)), (Ok(made), Ok(source)) if made >= source)
}

/// `npm ci` when node_modules is missing or older than package-lock.json.
fn npm_packages(project: &Project, steps: &mut Steps) -> Result<()> {
    if up_to_date(
        project,
        "node_modules/.package-lock.json",
        "package-lock.json",
    ) {
        steps.next("npm packages: up to date");
        return Ok(());
    }
    steps.next("installing the npm packages (npm ci, seconds)");
    run(project
        .command("npm")
        .args(["ci", "--no-audit", "--no-fund"]))
}

/// A virtualenv with the Python example client's packages, for its test.
fn python_venv(project: &Project, steps: &mut Steps) -> Result<()> {
    const STAMP: &str = "target/py/.installed";
    const REQUIREMENTS: &str = "examples/python/requirements.txt";
    if up_to_date(project, STAMP, REQUIREMENTS) {
        steps.next("Python virtualenv: up to date");
        return Ok(());
    }
    steps.next("making the Python virtualenv (target/py, seconds)");
    run(project.command("python3").args(["-m", "venv", "target/py"]))?;
    run(project.command(crate::PYTHON).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "-r",
        REQUIREMENTS,
    ]))?;
    fs::write(project.root.join(STAMP), b"").context("write the venv stamp")
}

fn nextest(project: &Project, steps: &mut Steps) -> Result<()> {
    if output(project.cargo().args(["nextest", "--version"])).is_ok() {
        steps.next("cargo-nextest: installed");
        return Ok(());
    }
    steps.next("installing cargo-nextest (a few minutes, once)");
    run(project
        .cargo()
        .args(["install", "cargo-nextest", "--locked"])
        .envs(QUICK_INSTALL))
}

/// Debian's Chromium: Playwright drives it; no browser is downloaded.
fn chromium(project: &Project, steps: &mut Steps) -> Result<()> {
    debian_package(project, steps, "Chromium", "/usr/bin/chromium", "chromium")
}

/// Debian's nginx, in front of the cluster's nodes in the cluster tests and `cargo xtask
/// cluster` (e2e/cluster.mjs runs its own, with deploy/nginx.conf).
pub fn nginx(project: &Project, steps: &mut Steps) -> Result<()> {
    debian_package(project, steps, "nginx", "/usr/sbin/nginx", "nginx")
}

/// Installs `package` with apt-get unless `binary` exists.
fn debian_package(
    project: &Project,
    steps: &mut Steps,
    name: &str,
    binary: &str,
    package: &str,
) -> Result<()> {
    if fs::metadata(binary).is_ok() {
        steps.next(format_args!("{name}: installed"));
        return Ok(());
    }
    steps.next(format_args!(
        "installing {name} (apt-get, a download, once)"
    ));
    run(project.command("apt-get").args(["update", "-qq"]))?;
    run(project
        .command("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn output(command: &mut Command) -> Result<String> {
    let out = command.output()?;
    if !out.status.success() {
        bail!("exit status {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

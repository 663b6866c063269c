//! Installs the build and test tools, each only when it is missing or at the wrong version.

use std::{fs, process::Command};

use anyhow::{Context, Result, bail};

use crate::{Project, run};

/// Trunk 0.22 needs a newer rustc than this project's toolchain.
const TRUNK_VERSION: &str = "0.21.14";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

pub fn all(project: &Project, for_tests: bool) -> Result<()> {
    wasm_target(project)?;
    cargo_tool(project, "trunk", "trunk", TRUNK_VERSION, true)?;
    // wasm-bindgen-cli must match the wasm-bindgen library in Cargo.lock exactly.
    let bindgen = locked_version(project, "wasm-bindgen")?;
    cargo_tool(project, "wasm-bindgen", "wasm-bindgen-cli", &bindgen, false)?;
    npm_packages(project)?;
    if for_tests {
        nextest(project)?;
        chromium(project)?;
        python_venv(project)?;
    }
    Ok(())
}

fn wasm_target(project: &Project) -> Result<()> {
    let installed = output(
        project
            .command("rustup")
            .args(["target", "list", "--installed"]),
    )?;
    if !installed.lines().any(|line| line.trim() == WASM_TARGET) {
        run(project
            .command("rustup")
            .args(["target", "add", WASM_TARGET]))?;
    }
    Ok(())
}

/// Installs `krate` at `version` unless `binary --version` already reports it.
fn cargo_tool(
    project: &Project,
    binary: &str,
    krate: &str,
    version: &str,
    locked: bool,
) -> Result<()> {
    let current = output(project.command(binary).arg("--version")).unwrap_or_default();
    if current.split_whitespace().nth(1) == Some(version) {
        return Ok(());
    }
    let mut install = project.cargo();
    install.args(["install", krate, "--version", version]);
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
fn npm_packages(project: &Project) -> Result<()> {
    if !up_to_date(
        project,
        "node_modules/.package-lock.json",
        "package-lock.json",
    ) {
        run(project
            .command("npm")
            .args(["ci", "--no-audit", "--no-fund"]))?;
    }
    Ok(())
}

/// A virtualenv with the Python example client's packages, for its test.
fn python_venv(project: &Project) -> Result<()> {
    const STAMP: &str = "target/py/.installed";
    const REQUIREMENTS: &str = "examples/python/requirements.txt";
    if up_to_date(project, STAMP, REQUIREMENTS) {
        return Ok(());
    }
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

fn nextest(project: &Project) -> Result<()> {
    if output(project.cargo().args(["nextest", "--version"])).is_err() {
        run(project
            .cargo()
            .args(["install", "cargo-nextest", "--locked"]))?;
    }
    Ok(())
}

/// Debian's Chromium: Playwright drives it; no browser is downloaded.
fn chromium(project: &Project) -> Result<()> {
    if fs::metadata("/usr/bin/chromium").is_ok() {
        return Ok(());
    }
    run(project.command("apt-get").args(["update", "-qq"]))?;
    run(project
        .command("apt-get")
        .args([
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn output(command: &mut Command) -> Result<String> {
    let out = command.output()?;
    if !out.status.success() {
        bail!("exit status {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

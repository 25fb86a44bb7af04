//! Running a function in a child process, so a test can read its real stdout (what
//! CloudWatch Logs would store): the child is this test binary, running one of its own
//! `#[ignore]`d tests.

use std::process::Command;

/// Runs the ignored test `name` of this test binary in a child process with `env` added, and
/// returns its stdout after checking that it succeeded.
pub fn run_ignored(name: &str, env: &[(&str, &str)]) -> String {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(env.iter().copied())
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

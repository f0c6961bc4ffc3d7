//! The whole tool in `--quick` mode against a release server (about half a
//! minute). It needs the server binary, so it only runs when asked:
//!
//! ```sh
//! cargo build --release -p server
//! LOADTEST_SERVER=target/release/server cargo test --release -p loadtest -- --ignored
//! ```

use std::process::Command;

#[test]
#[ignore = "needs a release server binary: set LOADTEST_SERVER"]
fn a_quick_run_loses_no_login() {
    let server = std::env::var("LOADTEST_SERVER")
        .expect("LOADTEST_SERVER: the path of the release server binary");
    let output = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(["--server", &server, "--quick"])
        .output()
        .expect("the tool runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("| lost or duplicated logins | every run above | 0 |"),
        "{stdout}"
    );
}

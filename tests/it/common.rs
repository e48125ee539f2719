//! Shared test support: start the real binary on a free port and talk HTTP.
// Helpers serve many test modules; not every one uses each helper.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `gpconnect-mock serve`, killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    /// Everything the server logged to stderr so far is collected here.
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
    banner: String,
    /// Every `listening on` line's URL (`http://…` or `https://…`).
    listening: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(path: &str) -> PathBuf {
    project_dir().join("tests/fixtures").join(path)
}

/// `../shared/specs/<name>`. Tests that call it are `#[ignore]`d unless
/// `cfg(has_shared_specs)` (see `src/build.rs`), so it is there.
pub fn shared_spec(name: &str) -> PathBuf {
    let path = project_dir().join("../shared/specs").join(name);
    assert!(path.is_file(), "{} is absent", path.display());
    path
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_gpconnect-mock")
}

impl Server {
    /// Starts `serve --port 0 ARGS` in the project directory and waits for its listening line.
    pub fn start(args: &[&str]) -> Server {
        Self::start_in(&project_dir(), args)
    }

    pub fn start_in(dir: &Path, args: &[&str]) -> Server {
        let mut command = Command::new(binary());
        command
            .current_dir(dir)
            .arg("serve")
            .args(["--port", "0"])
            .args(args);
        Self::spawn(command)
    }

    /// Starts `serve --port 0 ARGS` with at most `files` open descriptors.
    pub fn start_with_file_limit(files: u32, args: &[&str]) -> Server {
        let mut command = Command::new("sh");
        command
            .current_dir(project_dir())
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(binary())
            .arg("serve")
            .args(["--port", "0"])
            .args(args);
        Self::spawn(command)
    }

    fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let log_writer = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut log) = log_writer.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let (sender, receiver) = mpsc::channel();
        let listening = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let listening_writer = listening.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or("").to_string();
                    if let Ok(mut urls) = listening_writer.lock() {
                        urls.push(url.clone());
                    }
                    let _ = sender.send((url, line.clone()));
                }
            }
        });
        match receiver.recv_timeout(Duration::from_secs(20)) {
            Ok((url, banner)) => Server {
                child,
                base: url,
                stderr: log,
                banner,
                listening,
            },
            Err(_) => {
                let _ = child.kill();
                let output = log.lock().map(|l| l.clone()).unwrap_or_default();
                panic!("server did not print its listening line; stderr:\n{output}");
            }
        }
    }

    /// The URL of the `https://` listener (the second one with
    /// `--tls-port`), waiting a few seconds for its line.
    pub fn tls_base(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            let found = self
                .listening
                .lock()
                .ok()
                .and_then(|urls| urls.iter().find(|url| url.starts_with("https://")).cloned());
            if let Some(url) = found {
                return url;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "no https listener; listening lines: {:?}",
            self.listening.lock().map(|l| l.clone())
        );
    }

    /// The line the server printed when it started listening.
    pub fn banner(&self) -> &str {
        &self.banner
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn logs(&self) -> String {
        self.stderr.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Whether the server logs `needle` within a few seconds (its stderr
    /// is read by another thread, so a line may arrive after the response).
    pub fn logged(&self, needle: &str) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if self.logs().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Server {
    /// Sends `signal` (e.g. "TERM") to the server process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `timeout` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// `host:port` of the listener.
    pub fn address(&self) -> &str {
        self.base
            .trim_start_matches("http://")
            .trim_start_matches("https://")
    }
}

/// Writes `request` on a new connection and reads until the server closes
/// it or `timeout` passes: (what was read, whether the server closed it).
pub fn raw_exchange(address: &str, request: &[u8], timeout: Duration) -> (Vec<u8>, bool) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    stream.write_all(request).expect("writes");
    read_until_closed(&mut stream, timeout)
}

/// Reads from `stream` until EOF (true) or `timeout` (false); a reset
/// counts as closed.
pub fn read_until_closed(stream: &mut std::net::TcpStream, timeout: Duration) -> (Vec<u8>, bool) {
    use std::io::Read;
    let deadline = std::time::Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buffer = [0u8; 16384];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return (out, false);
        }
        stream.set_read_timeout(Some(left)).expect("sets a timeout");
        match stream.read(&mut buffer) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buffer[..n]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (out, false)
            }
            Err(_) => return (out, true),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client builds")
}

/// Runs the binary with arguments to completion: (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(binary())
        .current_dir(project_dir())
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Fills a path template's parameters with `value` (or the integer 1 for `id`).
pub fn concrete_path(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .unwrap_or(rest.len() - 1);
        out.push('1');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Copies the directory tree `from` to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The checkout's mount file, definitions and packs copied to a temporary
/// directory, to serve from there (`Server::start_in`) after an edit.
pub fn checkout_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for part in ["downloads", "scenarios", "templates"] {
        copy_tree(&project_dir().join(part), &dir.path().join(part));
    }
    dir
}

/// [`checkout_copy`] with one edit: `from` replaced by `to` in the file at
/// `path` (relative to the checkout), which must contain `from`.
pub fn checkout_with(path: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = checkout_copy();
    let file = dir.path().join(path);
    let text = std::fs::read_to_string(&file).expect("read the file to edit");
    assert!(text.contains(from), "{path} has no {from:?}:\n{text}");
    std::fs::write(&file, text.replace(from, to)).expect("write the edit");
    dir
}

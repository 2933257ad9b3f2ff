//! The remote cache tier against a real `redis-server` on loopback, with a
//! password: two work directories stand in for two machines; a tampered
//! entry planted straight into Redis is rejected; a wrong password, a
//! server that is gone and a server that hangs each cost one warning and a
//! local build. `file://` stores are checked the same way.

use crate::support::{lockstep, text, workspace_root};
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "lockstep-test-pw";

/// A test server program, and how to tell whether it is installed.
struct ServerProbe {
    program: &'static str,
    probe: &'static str,
    /// Set (in CI) to fail rather than skip when the program is missing.
    require: &'static str,
    install: &'static str,
}

/// Starts `server.program` with the arguments `args` gives for a free
/// loopback port; `None` (the test skips) if it is not installed.
fn start_server(server: ServerProbe, args: impl FnOnce(u16) -> Vec<String>) -> Option<(Child, u16)> {
    let found = Command::new(server.program).arg(server.probe).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os(server.require).is_none(),
            "{} is set, but there is no {} ({})",
            server.require,
            server.program,
            server.install
        );
        eprintln!("remote: skipped: no {} (CI installs it)", server.program);
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let child = Command::new(server.program)
        .args(args(port))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", server.program));
    Some((child, port))
}

/// Polls `ready` until it holds; fails the test (rather than hanging it)
/// after `limit`.
fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `redis-server` of our own, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Option<Redis> {
        let (child, port) = start_server(
            ServerProbe {
                program: "redis-server",
                probe: "--version",
                require: "LOCKSTEP_REQUIRE_REDIS",
                install: "apt-get install redis-server",
            },
            |port| {
                vec![
                    "--port".into(),
                    port.to_string(),
                    "--bind".into(),
                    "127.0.0.1".into(),
                    "--requirepass".into(),
                    PASSWORD.into(),
                    "--save".into(),
                    String::new(),
                    "--appendonly".into(),
                    "no".into(),
                ]
            },
        )?;
        let redis = Redis { child, port };
        wait_until(Duration::from_secs(10), "redis-server to answer", || redis.cli(&["PING"]).trim() == "PONG");
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://:{PASSWORD}@127.0.0.1:{}", self.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "-a", PASSWORD, "--no-auth-warning"])
            .args(args)
            .output()
            .expect("redis-cli");
        text(&out.stdout)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh copy of `examples/tour` named `name` under `root`: one machine.
fn machine(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for entry in std::fs::read_dir(workspace_root().join("examples/tour")).expect("examples/tour").flatten() {
        if entry.path().extension().is_some_and(|e| e == "lks") {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
        }
    }
    dir
}

/// Builds `dir` with `extra` flags: (report, stderr lines).
fn build(dir: &Path, extra: &[&str]) -> (Value, Vec<String>) {
    let report = dir.join("report.json");
    let mut args = vec!["build", dir.to_str().expect("utf-8"), "--report", report.to_str().expect("utf-8")];
    args.extend(extra);
    let out = lockstep(dir, &args);
    let stderr: Vec<String> = text(&out.stderr).lines().map(str::to_string).collect();
    assert!(out.status.success(), "lockstep {args:?} failed:\n{}", stderr.join("\n"));
    (serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("report JSON"), stderr)
}

fn executable(dir: &Path) -> Vec<u8> {
    let name = dir.file_name().expect("a name").to_str().expect("utf-8");
    std::fs::read(dir.join(".lockstep/out").join(name)).expect("the executable")
}

fn count(report: &Value, layer: &str, what: &str) -> u64 {
    report[layer][what].as_u64().unwrap_or_else(|| panic!("{layer}.{what} in {report}"))
}

#[test]
fn a_second_machine_gets_every_object_from_redis_and_the_same_bytes() {
    let Some(redis) = Redis::start() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (first, second, alone) = (machine(tmp.path(), "a"), machine(tmp.path(), "b"), machine(tmp.path(), "c"));
    let url = redis.url();
    let (one, _) = build(&first, &["--remote-cache", &url]);
    assert_eq!(count(&one, "objects", "hits"), 0);
    assert!(one["remote"]["bytes_sent"].as_u64().unwrap() > 0, "the first machine sent nothing: {one}");
    assert!(!one.to_string().contains(PASSWORD), "the password reached the report");
    let (two, stderr) = build(&second, &["--remote-cache", &url]);
    assert!(stderr.is_empty(), "{stderr:#?}");
    assert_eq!(count(&two, "objects", "misses"), 0, "every object from the remote tier: {two}");
    assert_eq!(count(&two, "ir", "misses"), 0, "every function's IR from the remote tier: {two}");
    assert!(two["remote"]["hits"].as_u64().unwrap() >= count(&two, "objects", "hits"), "{two}");
    build(&alone, &[]);
    assert!(executable(&second) == executable(&alone), "a remote hit changed the executable");
    assert!(executable(&first) == executable(&alone));
}

#[test]
fn a_tampered_redis_entry_is_rejected_and_never_used() {
    let Some(redis) = Redis::start() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (first, second, alone) = (machine(tmp.path(), "a"), machine(tmp.path(), "b"), machine(tmp.path(), "c"));
    let url = redis.url();
    build(&first, &["--remote-cache", &url]);
    // Flip the last byte of every object entry, straight in Redis.
    let keys: Vec<String> = redis.cli(&["--raw", "KEYS", "lockstep:v2:obj-*"]).lines().map(str::to_string).collect();
    assert!(!keys.is_empty(), "no object entries in redis");
    for key in &keys {
        let length: i64 = redis.cli(&["STRLEN", key]).trim().parse().expect("a length");
        let last = redis.cli(&["--raw", "GETRANGE", key, &(length - 1).to_string(), "-1"]);
        let flipped = if last.starts_with('x') { "y" } else { "x" };
        redis.cli(&["SETRANGE", key, &(length - 1).to_string(), flipped]);
    }
    let (two, stderr) = build(&second, &["--remote-cache", &url]);
    let rejected = two["remote"]["rejected"].as_u64().unwrap();
    assert_eq!(rejected, keys.len() as u64, "every tampered entry rejected: {two}");
    let problems = two["cache_problems"].as_array().expect("cache_problems");
    assert!(problems.iter().filter(|p| p.as_str().is_some_and(|p| p.contains("rejected"))).count() as u64 == rejected);
    assert!(stderr.iter().any(|l| l.contains("rejected")), "{stderr:#?}");
    build(&alone, &[]);
    assert!(executable(&second) == executable(&alone), "a tampered entry reached the executable");
    // Nothing tampered was kept: the local cache verifies clean.
    let (three, _) = build(&second, &["--verify-cache", "--cgu", "module"]);
    assert_eq!(three["status"], "ok");
}

#[test]
fn a_wrong_password_a_dead_server_and_a_hung_one_each_cost_one_warning() {
    let Some(redis) = Redis::start() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let alone = machine(tmp.path(), "alone");
    build(&alone, &[]);
    let wrong = format!("redis://:not-the-password@127.0.0.1:{}", redis.port);
    let dir = machine(tmp.path(), "wrong-password");
    let (report, stderr) = build(&dir, &["--remote-cache", &wrong]);
    assert_eq!(stderr.len(), 1, "one warning: {stderr:#?}");
    assert!(stderr[0].starts_with("warning: remote cache") && !stderr[0].contains("not-the-password"), "{stderr:#?}");
    assert!(report["remote"]["disabled"].is_string(), "{report}");
    assert!(executable(&dir) == executable(&alone));

    // A hung server (stopped, so connections open but nothing answers).
    redis.signal("-STOP");
    let dir = machine(tmp.path(), "hung");
    let started = Instant::now();
    let (_, stderr) = build(&dir, &["--remote-cache", &redis.url()]);
    assert!(started.elapsed() < Duration::from_secs(20), "a hung server held the build for {:?}", started.elapsed());
    assert_eq!(stderr.len(), 1, "one warning: {stderr:#?}");
    assert!(stderr[0].contains("timed out"), "{stderr:#?}");
    assert!(executable(&dir) == executable(&alone));
    redis.signal("-CONT");

    // A server that is gone.
    let url = redis.url();
    drop(redis);
    let dir = machine(tmp.path(), "gone");
    let (_, stderr) = build(&dir, &["--remote-cache", &url]);
    assert_eq!(stderr.len(), 1, "one warning: {stderr:#?}");
    assert!(executable(&dir) == executable(&alone));
}

#[test]
fn a_file_store_is_shared_and_checked_the_same_way() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    std::fs::create_dir_all(&store).expect("mkdir");
    let url = format!("file://{}", store.display());
    let (first, second) = (machine(tmp.path(), "a"), machine(tmp.path(), "b"));
    build(&first, &["--remote-cache", &url, "--remote-cache-mode", "write"]);
    for entry in std::fs::read_dir(&store).expect("store").flatten() {
        if entry.file_name().to_string_lossy().starts_with("obj-") {
            let mut bytes = std::fs::read(entry.path()).expect("read");
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            std::fs::write(entry.path(), bytes).expect("tamper");
        }
    }
    let (two, _) = build(&second, &["--remote-cache", &url, "--remote-cache-mode", "read"]);
    assert!(two["remote"]["rejected"].as_u64().unwrap() > 0, "{two}");
    assert_eq!(two["remote"]["bytes_sent"], 0, "read mode sent entries: {two}");
    assert!(executable(&first) == executable(&second));
}

/// A `moto_server` (an S3-compatible server from PyPI) of our own, with one bucket; killed on drop.
struct S3Server {
    child: Child,
    port: u16,
}

impl S3Server {
    fn start() -> Option<S3Server> {
        let (child, port) = start_server(
            ServerProbe {
                program: "moto_server",
                probe: "--help",
                require: "LOCKSTEP_REQUIRE_S3",
                install: "pip install 'moto[server]'",
            },
            |port| vec!["-H".into(), "127.0.0.1".into(), "-p".into(), port.to_string()],
        )?;
        let server = S3Server { child, port };
        wait_until(Duration::from_secs(30), "moto_server to create a bucket", || {
            server.request("PUT", "/lockstep-cache", b"") == Some(200)
        });
        Some(server)
    }

    /// Uploads `file` as `key` with boto3 (moto's own dependency), signed as a real client would.
    fn put_object(&self, key: &str, file: &Path) {
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{}', aws_access_key_id='k', \
             aws_secret_access_key='s', region_name='us-east-1').upload_file({:?}, 'lockstep-cache', {:?})",
            self.port,
            file.display().to_string(),
            key
        );
        let out = Command::new("python3").args(["-c", &script]).output().expect("python3");
        assert!(out.status.success(), "boto3 upload: {}", text(&out.stderr));
    }

    /// One unsigned HTTP request (moto accepts them for buckets): the status code.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> Option<u16> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        stream.write_all(head.as_bytes()).ok()?;
        stream.write_all(body).ok()?;
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds `dir` against the S3 server at `port` (credentials from the environment only).
fn build_s3(dir: &Path, port: u16) -> (Value, Vec<String>) {
    let report = dir.join("report.json");
    let out = Command::new(crate::support::lockstep_bin())
        .args(["build", ".", "--remote-cache", "s3://lockstep-cache/team", "--report"])
        .arg(&report)
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "lockstep-test-key")
        .env("AWS_SECRET_ACCESS_KEY", "lockstep-test-secret")
        .current_dir(dir)
        .output()
        .expect("run lockstep");
    let stderr: Vec<String> = text(&out.stderr).lines().map(str::to_string).collect();
    assert!(out.status.success(), "{}", stderr.join("\n"));
    (serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("report JSON"), stderr)
}

#[test]
fn machines_share_through_s3_and_a_tampered_object_is_rejected() {
    let Some(s3) = S3Server::start() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (first, second, third, alone) =
        (machine(tmp.path(), "a"), machine(tmp.path(), "b"), machine(tmp.path(), "c"), machine(tmp.path(), "d"));
    build(&alone, &[]);
    let (one, _) = build_s3(&first, s3.port);
    assert!(one["remote"]["bytes_sent"].as_u64().unwrap() > 0, "{one}");
    assert!(!one.to_string().contains("lockstep-test-secret"), "a credential reached the report");
    let (two, stderr) = build_s3(&second, s3.port);
    assert!(stderr.is_empty(), "{stderr:#?}");
    assert_eq!(count(&two, "objects", "misses"), 0, "every object from S3: {two}");
    assert!(executable(&second) == executable(&alone));

    // Overwrite the entry of one unit's object with the entry of another key.
    let entries = std::fs::read_dir(first.join(".lockstep/cache/obj")).expect("layer 2").flatten();
    let mut objects: Vec<String> = entries.map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    objects.sort();
    let (victim, impostor) = (objects[0].trim_end_matches(".bin"), &objects[1]);
    let impostor = first.join(".lockstep/cache/obj").join(impostor);
    s3.put_object(&format!("team/obj-{victim}"), &impostor);
    let (three, _) = build_s3(&third, s3.port);
    assert_eq!(three["remote"]["rejected"], 1, "the misfiled entry is rejected: {three}");
    assert!(executable(&third) == executable(&alone), "a misfiled entry reached the executable");

    drop(s3);
    let gone = machine(tmp.path(), "e");
    let (four, stderr) = build_s3(&gone, 1);
    assert_eq!(stderr.len(), 1, "one warning when S3 is gone: {stderr:#?}");
    assert!(four["remote"]["disabled"].is_string());
    assert!(executable(&gone) == executable(&alone));
}

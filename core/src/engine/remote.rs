//! The remote tier: a cache shared past one machine, behind the local one.
//!
//! A local miss asks the remote store; what comes back is an entry in the
//! local format (header with layer and key, payload, BLAKE3 checksum) and is
//! used only if it decodes for exactly the key and layer asked for. Then it
//! is written to the local cache too. Anything else is a miss, is reported
//! in the build's `cache_problems`, and is never written locally: a broken
//! or hostile store can cost time, never a wrong object. Local stores go to
//! the remote store too (`--remote-cache-mode` decides which directions).
//!
//! Stores: `redis://` (through the `redis` crate, with a connect, read and
//! write timeout per request) and `file://` (a directory, say on a shared
//! file system), and `s3://BUCKET/PREFIX` (any S3-compatible server, through
//! `rusty-s3` and `ureq`). Not yet: `rediss://` (TLS). Credentials come only
//! from the URL or the environment and never appear in reports, logs or
//! errors ([`redact`]).
//!
//! Faults: the first failed or timed-out request switches the tier off for
//! the rest of the build with one warning, and the build goes on locally;
//! so does a build whose remote requests took longer than their budget in
//! all. No build waits on the network for more than one request timeout
//! plus the budget. Two machines writing one key write the same bytes (the
//! key is a content hash), so concurrent writers are harmless.

use crate::engine::cache::{decode_entry, Layer};
use crate::engine::hash::ContentHash;
use lockstep_scheduler::clock::Stopwatch;
use lockstep_scheduler::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use lockstep_scheduler::sync::{self, Mutex};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Which directions the remote tier serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteMode {
    Read,
    Write,
    ReadWrite,
}

impl RemoteMode {
    pub fn parse(text: &str) -> Option<RemoteMode> {
        match text {
            "read" => Some(RemoteMode::Read),
            "write" => Some(RemoteMode::Write),
            "read-write" => Some(RemoteMode::ReadWrite),
            _ => None,
        }
    }

    fn reads(self) -> bool {
        self != RemoteMode::Write
    }

    fn writes(self) -> bool {
        self != RemoteMode::Read
    }
}

/// How to reach the remote store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteConfig {
    /// `redis://[:PASSWORD@]HOST[:PORT][/DB]` or `file:///PATH`.
    pub url: String,
    pub mode: RemoteMode,
    /// For each request (connect, read, write).
    pub request_timeout: Duration,
    /// For all of one build's remote requests together.
    pub build_budget: Duration,
}

impl RemoteConfig {
    pub fn new(url: impl Into<String>) -> RemoteConfig {
        RemoteConfig {
            url: url.into(),
            mode: RemoteMode::ReadWrite,
            request_timeout: Duration::from_millis(1500),
            build_budget: Duration::from_secs(30),
        }
    }
}

/// The URL without its credentials: what reports and messages show.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_string(),
    }
}

/// A key-value store of cache entries.
trait Store: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String>;
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), String>;
    /// How many entries the store holds, and their bytes.
    fn usage(&self) -> Result<(u64, u64), String>;
}

struct FileStore {
    dir: PathBuf,
}

impl Store for FileStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        match std::fs::read(self.dir.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        crate::engine::cache::write_atomic(&self.dir.join(name), bytes).map_err(|e| e.to_string())
    }

    fn usage(&self) -> Result<(u64, u64), String> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| e.to_string())?;
        let sizes: Vec<u64> = entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).collect();
        Ok((sizes.len() as u64, sizes.iter().sum()))
    }
}

/// One connection, opened on first use and shared by the workers (a
/// request on loopback takes tens of microseconds; codegen takes
/// milliseconds).
struct RedisStore {
    client: redis::Client,
    timeout: Duration,
    connection: Mutex<Option<redis::Connection>>,
    /// Set by the first failed request: workers queued behind it on the
    /// connection give up at once instead of each waiting out a timeout.
    broken: AtomicBool,
}

impl RedisStore {
    fn with_connection<T>(
        &self,
        run: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        let mut guard = sync::lock(&self.connection);
        if self.broken.load(Ordering::Relaxed) {
            return Err("an earlier request failed".to_string());
        }
        let result = self.run_connected(&mut guard, run);
        if result.is_err() {
            self.broken.store(true, Ordering::Relaxed);
        }
        result
    }

    fn run_connected<T>(
        &self,
        guard: &mut Option<redis::Connection>,
        run: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        if guard.is_none() {
            let connection = self.client.get_connection_with_timeout(self.timeout).map_err(describe_redis)?;
            connection.set_read_timeout(Some(self.timeout)).map_err(describe_redis)?;
            connection.set_write_timeout(Some(self.timeout)).map_err(describe_redis)?;
            *guard = Some(connection);
        }
        let connection = guard.as_mut().expect("connected above");
        let result = run(connection).map_err(describe_redis);
        if result.is_err() {
            // A broken connection is not reused.
            *guard = None;
        }
        result
    }
}

/// A redis error without anything from the URL (the crate's messages name
/// the kind of failure and the server's reply, never the password).
fn describe_redis(error: redis::RedisError) -> String {
    let text = error.to_string();
    if error.is_timeout() {
        format!("timed out ({text})")
    } else {
        text
    }
}

const KEY_PREFIX: &str = "lockstep:v2:";

impl Store for RedisStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        self.with_connection(|c| redis::cmd("GET").arg(format!("{KEY_PREFIX}{name}")).query(c))
    }

    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        self.with_connection(|c| redis::cmd("SET").arg(format!("{KEY_PREFIX}{name}")).arg(bytes).query(c))
    }

    fn usage(&self) -> Result<(u64, u64), String> {
        self.with_connection(|c| {
            let (mut cursor, mut entries, mut bytes) = (0u64, 0u64, 0u64);
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{KEY_PREFIX}*"))
                    .arg("COUNT")
                    .arg(1000)
                    .query(c)?;
                for key in keys {
                    entries += 1;
                    bytes += redis::cmd("STRLEN").arg(key).query::<u64>(c)?;
                }
                if next == 0 {
                    return Ok((entries, bytes));
                }
                cursor = next;
            }
        })
    }
}

/// An S3 bucket (or any S3-compatible server: MinIO, moto), through
/// `rusty-s3` (request signing) and `ureq` (HTTP, with a timeout per
/// request). `s3://BUCKET/PREFIX`; the endpoint comes from
/// `AWS_ENDPOINT_URL` (path-style requests, for local servers) or is AWS's
/// for `AWS_REGION` (default `us-east-1`); credentials from
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
struct S3Store {
    bucket: rusty_s3::Bucket,
    credentials: Option<rusty_s3::Credentials>,
    prefix: String,
    agent: ureq::Agent,
}

/// How long a signed request stays valid: it is sent at once.
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(300);
/// The largest entry fetched (an object of a huge unit stays far below).
const MAX_ENTRY_BYTES: u64 = 1 << 30;

impl S3Store {
    fn open(rest: &str, timeout: Duration) -> Result<S3Store, String> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("expected `s3://BUCKET/PREFIX`".to_string());
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".to_string());
        let (endpoint, style) = match env("AWS_ENDPOINT_URL") {
            Some(url) => (url, rusty_s3::UrlStyle::Path),
            None => (format!("https://s3.{region}.amazonaws.com"), rusty_s3::UrlStyle::VirtualHost),
        };
        let endpoint = endpoint.parse().map_err(|e| format!("AWS_ENDPOINT_URL: {e}"))?;
        let bucket = rusty_s3::Bucket::new(endpoint, style, bucket.to_string(), region)
            .map_err(|e| format!("bucket `{bucket}`: {e}"))?;
        let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")) {
            (Some(key), Some(secret), Some(token)) => Some(rusty_s3::Credentials::new_with_token(key, secret, token)),
            (Some(key), Some(secret), None) => Some(rusty_s3::Credentials::new(key, secret)),
            _ => None,
        };
        let prefix = if prefix.is_empty() || prefix.ends_with('/') { prefix.to_string() } else { format!("{prefix}/") };
        let agent = ureq::Agent::config_builder().timeout_global(Some(timeout)).build().new_agent();
        Ok(S3Store { bucket, credentials, prefix, agent })
    }
}

fn describe_http(error: ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("timed out ({error})"),
        other => other.to_string(),
    }
}

impl Store for S3Store {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        use rusty_s3::S3Action as _;
        let key = format!("{}{name}", self.prefix);
        let url =
            rusty_s3::actions::GetObject::new(&self.bucket, self.credentials.as_ref(), &key).sign(SIGNATURE_LIFETIME);
        match self.agent.get(url.as_str()).call() {
            Ok(mut response) => {
                response.body_mut().with_config().limit(MAX_ENTRY_BYTES).read_to_vec().map(Some).map_err(describe_http)
            }
            Err(ureq::Error::StatusCode(404)) => Ok(None),
            Err(e) => Err(describe_http(e)),
        }
    }

    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        use rusty_s3::S3Action as _;
        let key = format!("{}{name}", self.prefix);
        let url =
            rusty_s3::actions::PutObject::new(&self.bucket, self.credentials.as_ref(), &key).sign(SIGNATURE_LIFETIME);
        self.agent.put(url.as_str()).send(bytes).map(|_| ()).map_err(describe_http)
    }

    fn usage(&self) -> Result<(u64, u64), String> {
        use rusty_s3::S3Action as _;
        let (mut entries, mut bytes, mut token) = (0u64, 0u64, None::<String>);
        loop {
            let mut list = rusty_s3::actions::ListObjectsV2::new(&self.bucket, self.credentials.as_ref());
            list.with_prefix(self.prefix.as_str());
            if let Some(token) = &token {
                list.with_continuation_token(token.as_str());
            }
            let url = list.sign(SIGNATURE_LIFETIME);
            let mut response = self.agent.get(url.as_str()).call().map_err(describe_http)?;
            let text = response.body_mut().read_to_string().map_err(describe_http)?;
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&text).map_err(|e| e.to_string())?;
            entries += page.contents.len() as u64;
            bytes += page.contents.iter().filter_map(|c| c.size).sum::<u64>();
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => return Ok((entries, bytes)),
            }
        }
    }
}

/// What the remote tier did in one build, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RemoteReport {
    /// The store, without credentials.
    pub url: String,
    pub hits: u64,
    pub misses: u64,
    /// Entries the store had but that failed the check (counted as misses too).
    pub rejected: u64,
    pub bytes_fetched: u64,
    pub bytes_sent: u64,
    /// Time spent in remote requests, in milliseconds (all workers together).
    pub millis: u64,
    /// Why the tier was switched off during the build, if it was.
    pub disabled: Option<String>,
}

/// The remote tier of one build.
pub struct RemoteTier {
    store: Box<dyn Store>,
    config: RemoteConfig,
    url: String,
    disabled: AtomicBool,
    reason: Mutex<Option<String>>,
    problems: Mutex<Vec<String>>,
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    bytes_fetched: AtomicU64,
    bytes_sent: AtomicU64,
    micros: AtomicU64,
}

impl std::fmt::Debug for RemoteTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTier").field("url", &self.url).field("mode", &self.config.mode).finish()
    }
}

impl RemoteTier {
    /// The tier for `config`. Nothing is connected yet: a store that is down
    /// costs the first request's timeout, not a failed build.
    pub fn new(config: RemoteConfig) -> Result<RemoteTier, String> {
        let url = redact(&config.url);
        let store: Box<dyn Store> = if let Some(path) = config.url.strip_prefix("file://") {
            Box::new(FileStore { dir: PathBuf::from(path) })
        } else if let Some(rest) = config.url.strip_prefix("s3://") {
            Box::new(S3Store::open(rest, config.request_timeout).map_err(|e| format!("remote cache {url}: {e}"))?)
        } else if config.url.starts_with("rediss://") {
            return Err(format!(
                "remote cache {url}: TLS (`rediss://`) is not built into this lockstep yet; \
                 use `redis://` on a trusted network, or a tunnel"
            ));
        } else if config.url.starts_with("redis://") {
            let client = redis::Client::open(config.url.as_str())
                .map_err(|e| format!("remote cache {url}: {}", describe_redis(e)))?;
            Box::new(RedisStore {
                client,
                timeout: config.request_timeout,
                connection: Mutex::new(None),
                broken: AtomicBool::new(false),
            })
        } else {
            return Err(format!("remote cache {url}: unsupported URL (expected `redis://`, `s3://` or `file://`)"));
        };
        Ok(RemoteTier {
            store,
            config,
            url,
            disabled: AtomicBool::new(false),
            reason: Mutex::new(None),
            problems: Mutex::new(Vec::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            bytes_fetched: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            micros: AtomicU64::new(0),
        })
    }

    fn name(layer: Layer, key: &ContentHash) -> String {
        let layer = match layer {
            Layer::Ir => "ir",
            Layer::Object => "obj",
        };
        format!("{layer}-{}", key.hex())
    }

    /// Runs one request, timing it against the budget; a failure switches the tier off.
    fn request<T>(&self, run: impl FnOnce(&dyn Store) -> Result<T, String>) -> Option<T> {
        if self.disabled.load(Ordering::Relaxed) {
            return None;
        }
        let stopwatch = Stopwatch::start();
        let result = run(self.store.as_ref());
        let spent = u64::try_from(stopwatch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let total = self.micros.fetch_add(spent, Ordering::Relaxed).saturating_add(spent);
        match result {
            Ok(value) => {
                if total > u64::try_from(self.config.build_budget.as_micros()).unwrap_or(u64::MAX) {
                    self.disable(format!(
                        "its requests took more than {} s in this build",
                        self.config.build_budget.as_secs_f64()
                    ));
                }
                Some(value)
            }
            Err(e) => {
                self.disable(e);
                None
            }
        }
    }

    fn disable(&self, reason: String) {
        if !self.disabled.swap(true, Ordering::Relaxed) {
            *sync::lock(&self.reason) = Some(reason);
        }
    }

    /// The payload of the entry for (`layer`, `key`), if the store has one
    /// that checks out. The verified entry's bytes come along, for the
    /// local cache.
    pub fn fetch(&self, layer: Layer, key: &ContentHash) -> Option<(Vec<u8>, Vec<u8>)> {
        if !self.config.mode.reads() {
            return None;
        }
        let name = RemoteTier::name(layer, key);
        let found = self.request(|store| store.get(&name))?;
        let Some(bytes) = found else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.bytes_fetched.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        match decode_entry(layer, key, &bytes) {
            Ok(payload) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some((payload, bytes))
            }
            Err(bad) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                self.misses.fetch_add(1, Ordering::Relaxed);
                sync::lock(&self.problems)
                    .push(format!("remote cache {}: entry {name} rejected ({bad:?}); not used", self.url));
                None
            }
        }
    }

    /// Sends an entry (already encoded) to the store.
    pub fn store(&self, layer: Layer, key: &ContentHash, entry: &[u8]) {
        if !self.config.mode.writes() {
            return;
        }
        let name = RemoteTier::name(layer, key);
        if self.request(|store| store.put(&name, entry)).is_some() {
            self.bytes_sent.fetch_add(entry.len() as u64, Ordering::Relaxed);
        }
    }

    /// Entries and bytes in the store (`lockstep cache stats`).
    pub fn usage(&self) -> Result<(u64, u64), String> {
        self.store.usage().map_err(|e| format!("remote cache {}: {e}", self.url))
    }

    /// Entries the store offered that failed the check.
    pub fn problems(&self) -> Vec<String> {
        sync::lock(&self.problems).clone()
    }

    pub fn report(&self) -> RemoteReport {
        RemoteReport {
            url: self.url.clone(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            bytes_fetched: self.bytes_fetched.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            millis: self.micros.load(Ordering::Relaxed) / 1000,
            disabled: sync::lock(&self.reason).clone(),
        }
    }
}

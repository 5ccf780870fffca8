//! Whole-stack harness: every service as its own `kiln serve <service>` process on the
//! test's own database and subject prefix, with kill and restart for crash tests.
//!
//! Tests pass the binary Cargo built for them (`env!("CARGO_BIN_EXE_kiln")`), so a
//! whole-stack test never runs a stale binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::TestEnv;

pub const SERVICES: [&str; 8] = [
    "api", "planner", "codegen", "tester", "reviewer", "gate", "deployer", "indexer",
];

const TERMINAL: [&str; 6] = [
    "deployed",
    "merged",
    "blocked",
    "failed",
    "cancelled",
    "rolled_back",
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running Kiln: one process per service.
pub struct Stack {
    pub env: TestEnv,
    /// `http://127.0.0.1:<port>` of the API.
    pub api: String,
    /// `http://127.0.0.1:<port>` of the deployer's app proxy.
    pub apps: String,
    /// Authenticated with an admin token ([`Stack::admin`]).
    pub http: reqwest::Client,
    /// The admin token's secret.
    pub admin: String,
    /// Clients of the people [`Stack::person`] made, by name.
    people: std::sync::Mutex<BTreeMap<String, reqwest::Client>>,
    procs: BTreeMap<String, Child>,
    bin: PathBuf,
    extra_env: Vec<(String, String)>,
    api_port: u16,
    apps_port: u16,
}

impl Stack {
    /// Starts every service and waits until the API answers.
    pub async fn start(env: TestEnv, bin: &str) -> Self {
        Self::start_with(env, bin, vec![]).await
    }

    pub async fn start_with(env: TestEnv, bin: &str, extra_env: Vec<(String, String)>) -> Self {
        std::fs::create_dir_all(env.data_path().join("logs")).expect("log dir");
        let admin = env.token("admin", kiln_store::auth::Role::Admin).await;
        let mut stack = Self {
            api: String::new(),
            apps: String::new(),
            http: TestEnv::client_with_token(&admin),
            admin,
            people: Default::default(),
            env,
            procs: BTreeMap::new(),
            bin: PathBuf::from(bin),
            extra_env,
            api_port: 0,
            apps_port: 0,
        };
        // A port found free can be taken by another test's process before ours binds it; the
        // service that lost the race exits, and the one answering there is somebody else's.
        // So readiness means *our* API and deployer answer, and a lost race starts over.
        for _ in 0..3 {
            stack.api_port = free_port();
            stack.apps_port = free_port();
            stack.api = format!("http://127.0.0.1:{}", stack.api_port);
            stack.apps = format!("http://127.0.0.1:{}", stack.apps_port);
            for s in SERVICES {
                stack.spawn(s);
            }
            if stack.ours_answer().await {
                stack.indexer_answers().await;
                return stack;
            }
            for (_, mut child) in std::mem::take(&mut stack.procs) {
                let _ = child.kill().await;
            }
        }
        stack.dump_logs();
        panic!("the API and the deployer did not become healthy within 60 s (three tries)");
    }

    /// Waits (up to 60 s) until the indexer answers requests: it subscribes once its
    /// embedding model is loaded, and a task whose first step runs before that would get no
    /// retrieved context, which makes prompts depend on timing.
    async fn indexer_answers(&self) {
        let Ok(nats) = async_nats::connect(&self.env.nats_url).await else {
            return;
        };
        let subject = self.env.subjects().rag_index();
        for _ in 0..300 {
            let asked = tokio::time::timeout(
                Duration::from_secs(2),
                nats.request(subject.clone(), "{}".into()),
            )
            .await;
            if matches!(asked, Ok(Ok(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.dump_logs();
        panic!("the indexer did not answer within 60 s");
    }

    /// A client for `name`, an approver with their own token (made on first use): releases
    /// need someone other than the admin who requested the task.
    pub async fn person(&self, name: &str) -> reqwest::Client {
        if let Some(client) = self.people.lock().expect("people").get(name) {
            return client.clone();
        }
        let secret = self.env.token(name, kiln_store::auth::Role::Approver).await;
        let client = TestEnv::client_with_token(&secret);
        self.people
            .lock()
            .expect("people")
            .insert(name.to_owned(), client.clone());
        client
    }

    /// This replica's worker id: unique to the stack, so health answers prove whose they are.
    fn worker_id(&self, service: &str) -> String {
        format!("{service}-{}-{}", self.procs.len(), self.env.prefix)
    }

    /// Waits until this stack's API and deployer answer `/health` on their ports; false when
    /// one of them exited or another process answers there.
    async fn ours_answer(&mut self) -> bool {
        let expect = [
            (format!("{}/health", self.api), "api"),
            (format!("{}/health", self.apps), "deployer"),
        ];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for (url, service) in expect {
            loop {
                if let Ok(r) = self.http.get(&url).send().await
                    && r.status().is_success()
                    && let Ok(body) = r.json::<Value>().await
                {
                    let worker = body["worker"].as_str().unwrap_or_default();
                    if body["service"] == service && worker.ends_with(&self.env.prefix) {
                        break;
                    }
                    return false;
                }
                let exited = self
                    .procs
                    .get_mut(service)
                    .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
                if exited || tokio::time::Instant::now() > deadline {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        true
    }

    fn log_path(&self, service: &str) -> PathBuf {
        self.env
            .data_path()
            .join("logs")
            .join(format!("{service}.log"))
    }

    /// Starts (or restarts) one service process.
    pub fn spawn(&mut self, service: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(service))
            .expect("service log file");
        let child = Command::new(&self.bin)
            .args(["serve", service])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()),
            )
            .envs(self.env.env_vars())
            // The embedding model the setup script installed (extra_env may unset it).
            .envs(
                ["KILN_RAG__MODEL_DIR", "KILN_RAG__ORT_LIBRARY"]
                    .into_iter()
                    .filter_map(|k| Some((k, std::env::var(k).ok()?))),
            )
            .env("KILN_API__HTTP", format!("127.0.0.1:{}", self.api_port))
            .env(
                "KILN_DEPLOYER__HTTP",
                format!("127.0.0.1:{}", self.apps_port),
            )
            .env("KILN_RUNTIME__WORKER_ID", self.worker_id(service))
            .env("KILN_RUNTIME__LOG_FILTER", "info")
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn kiln serve");
        self.procs.insert(service.to_owned(), child);
    }

    /// SIGKILLs a service: no graceful shutdown, no acks, nothing flushed.
    pub async fn kill(&mut self, service: &str) {
        let mut child = self.procs.remove(service).expect("service is running");
        child.kill().await.expect("SIGKILL");
    }

    /// Prints the tail of every service's log (for a failing test's output).
    pub fn dump_logs(&self) {
        for s in SERVICES {
            let text = std::fs::read_to_string(self.log_path(s)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("----- {s} (last 40 lines) -----");
            for l in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{l}");
            }
        }
    }

    pub async fn post_task(&self, body: &Value, idempotency_key: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/api/v1/tasks", self.api))
            .json(body);
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().await.expect("POST /api/v1/tasks");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `DELETE <api><path>`; returns the status and the body as text.
    pub async fn delete(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .delete(format!("{}{path}", self.api))
            .send()
            .await
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    pub async fn task(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/api/v1/tasks/{id}", self.api))
            .send()
            .await
            .expect("GET task")
            .json()
            .await
            .expect("task json")
    }

    /// Waits for the task to finish; dumps service logs and fails the test on timeout.
    pub async fn wait_finished(&self, id: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let task = self.task(id).await;
            if TERMINAL.contains(&task["status"].as_str().unwrap_or("")) {
                return task;
            }
            if tokio::time::Instant::now() > deadline {
                self.dump_logs();
                panic!("task {id} did not finish within {timeout:?}; last seen: {task:#}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // kill_on_drop SIGKILLs the services; deployed apps die with the deployer.
        self.procs.clear();
    }
}

//! Who may publish and subscribe to what: one NATS identity per service, allowed only the
//! subjects its own work needs, so a compromised or impersonated service cannot push work
//! past the gate, consume another stage's work or broadcast control messages.
//!
//! Lives here because this crate owns every subject: the lists below are derived from the
//! same builders the services use, under the same prefix. [`authorization`] renders them as
//! a `nats-server` `authorization` block; `kiln up` and `kiln nats-config` write it.
//!
//! Streams are created by whichever service boots first: every identity may ask for the
//! four streams' info and create them, never update, purge or delete them. Creating an
//! existing stream with a different configuration fails on the server, so this right
//! cannot change a stream once it exists.

use std::time::Duration;

use crate::stage::StageName;
use crate::subjects::{ConsumerSpec, Subjects};
use crate::v1::Stage;

/// Every service that connects to NATS, in pipeline order.
pub const SERVICES: [&str; 8] = [
    "api", "planner", "codegen", "tester", "reviewer", "gate", "deployer", "indexer",
];

/// Durable consumer of the events stream that feeds outbound webhooks (run by the API).
pub const WEBHOOKS_CONSUMER: &str = "webhooks";

/// Durable consumer of the events stream that wakes the chat and tracker reporter (the API).
pub const INTAKE_CONSUMER: &str = "intake";

/// Why permissions could not be derived.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownService(pub String);

impl std::fmt::Display for UnknownService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown service {:?}: one of {}",
            self.0,
            SERVICES.join(", ")
        )
    }
}

impl std::error::Error for UnknownService {}

/// Allow lists of one identity; everything else is denied by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
    /// May answer a request it received, once, on its reply subject (pause
    /// acknowledgements, app removal, retrieval answers) without a publish right to every
    /// other service's inbox.
    pub allow_responses: bool,
}

impl Permissions {
    fn add_pub(&mut self, subject: impl Into<String>) {
        push_unique(&mut self.publish, subject.into());
    }

    fn add_sub(&mut self, subject: impl Into<String>) {
        push_unique(&mut self.subscribe, subject.into());
    }

    /// Adds `subjects` to the publish allow list.
    pub fn allow_publish(&mut self, subjects: impl IntoIterator<Item = String>) {
        for s in subjects {
            self.add_pub(s);
        }
    }

    /// Whether a message on `subject` may be published (NATS wildcard semantics).
    pub fn may_publish(&self, subject: &str) -> bool {
        self.publish.iter().any(|p| matches(p, subject))
    }

    /// Whether a subscription on `subject` would be accepted.
    pub fn may_subscribe(&self, subject: &str) -> bool {
        self.subscribe.iter().any(|p| matches(p, subject))
    }

    /// The JetStream API and ack subjects of a pull consumer this identity owns.
    fn consume(&mut self, spec: &ConsumerSpec) {
        let (s, c) = (&spec.stream, &spec.durable_name);
        self.add_pub(format!("$JS.API.CONSUMER.INFO.{s}.{c}"));
        // The filter is part of the subject, so the consumer cannot be re-pointed elsewhere.
        self.add_pub(format!(
            "$JS.API.CONSUMER.CREATE.{s}.{c}.{}",
            spec.filter_subject
        ));
        self.add_pub(format!("$JS.API.CONSUMER.MSG.NEXT.{s}.{c}"));
        // Ack, NAK, progress and TERM go to the message's reply subject; the second form is
        // the one servers use with a JetStream domain.
        self.add_pub(format!("$JS.ACK.{s}.{c}.>"));
        self.add_pub(format!("$JS.ACK.*.*.{s}.{c}.>"));
    }
}

fn push_unique(list: &mut Vec<String>, subject: String) {
    if !list.contains(&subject) {
        list.push(subject);
    }
}

/// NATS subject matching: `*` is one token, a trailing `>` one or more.
fn matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The NATS user name of `service` under this prefix, e.g. `kiln-codegen`.
pub fn user_name(subjects: &Subjects, service: &str) -> String {
    format!("{}-{service}", subjects.prefix())
}

/// The inbox prefix a client connected as `user` uses, so its replies stay out of reach of
/// every other identity. `None` when `user` is not a single subject token (then the client
/// keeps the default `_INBOX` and the operator's permissions must allow it).
pub fn inbox_prefix(user: &str) -> Option<String> {
    let token = !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    token.then(|| format!("_INBOX.{user}"))
}

/// The stage consumer a service handles, with what its handler publishes next.
fn stage_of(service: &str) -> Option<Option<Stage>> {
    Some(match service {
        "planner" => Some(Stage::Plan),
        "codegen" => Some(Stage::Codegen),
        "tester" => Some(Stage::Test),
        "reviewer" => Some(Stage::Review),
        "gate" => Some(Stage::Gate),
        "deployer" => Some(Stage::Deploy),
        // The indexer consumes `index.>` through its own consumer.
        "indexer" => None,
        _ => return None,
    })
}

/// What `service` needs, under the prefix of `subjects`.
///
/// Outbox rows are published by the relay of the service that wrote them (the relay claims
/// only rows whose `ce-source` is its own, `kiln_runtime::relay`), so each service may
/// publish exactly the subjects its own transactions write: its events, its dead letters
/// and the next step of its handler.
pub fn for_service(subjects: &Subjects, service: &str) -> Result<Permissions, UnknownService> {
    if !SERVICES.contains(&service) {
        return Err(UnknownService(service.to_owned()));
    }
    let p = subjects.prefix();
    let user = user_name(subjects, service);
    let mut perms = Permissions {
        allow_responses: true,
        ..Permissions::default()
    };

    // Every process: streams at boot, liveness, lifecycle events, the pause broadcast and
    // its own inbox (JetStream API replies, pulled messages, request replies).
    for stream in subjects.streams() {
        perms.add_pub(format!("$JS.API.STREAM.INFO.{}", stream.name));
        perms.add_pub(format!("$JS.API.STREAM.CREATE.{}", stream.name));
    }
    perms.add_pub(subjects.heartbeat(service));
    perms.add_pub(format!("{p}.events.>"));
    perms.add_sub(format!("{p}.control.>"));
    perms.add_sub(format!(
        "{}.>",
        inbox_prefix(&user).expect("prefix and service names are subject tokens")
    ));

    let any_wait = Duration::ZERO;
    if service == "api" {
        // New tasks (plan), re-plans, release approvals (deploy), and parked steps put back
        // on approval, answers or resume: the API re-sends those under its own name, so a
        // step of any stage, or any consumer's parked message (an indexing request too).
        perms.add_pub(format!("{p}.work.*"));
        perms.add_pub(format!("{p}.index.>"));
        perms.add_pub(format!("{p}.control.>"));
        perms.add_pub(subjects.app_remove());
        // Project search and `kiln rag index`, answered by the indexer.
        perms.add_pub(subjects.rag_query());
        perms.add_pub(subjects.rag_index());
        perms.add_sub(subjects.heartbeats());
        // /api/v1/system: every stage's queue figures and the dead letters.
        let work = subjects.work_stream().name;
        for stage in Stage::all() {
            let c = subjects.stage_consumer(stage, any_wait, 0);
            perms.add_pub(format!("$JS.API.CONSUMER.INFO.{work}.{}", c.durable_name));
        }
        let index = subjects.index_consumer(any_wait, 0);
        perms.add_pub(format!(
            "$JS.API.CONSUMER.INFO.{work}.{}",
            index.durable_name
        ));
        perms.add_pub(format!(
            "$JS.API.STREAM.MSG.GET.{}",
            subjects.dlq_stream().name
        ));
        // /ws/logs: one ordered (ephemeral, recreated on gaps) consumer per connection.
        let logs = subjects.logs_stream().name;
        perms.add_pub(format!("$JS.API.CONSUMER.CREATE.{logs}"));
        perms.add_pub(format!("$JS.API.CONSUMER.CREATE.{logs}.>"));
        perms.add_pub(format!("$JS.API.CONSUMER.INFO.{logs}.*"));
        perms.add_pub(format!("$JS.API.CONSUMER.MSG.NEXT.{logs}.*"));
        perms.add_pub(format!("$JS.API.CONSUMER.DELETE.{logs}.*"));
        // Outbound webhooks and the chat/tracker reporter: durable consumers over every
        // task's events.
        for durable in [WEBHOOKS_CONSUMER, INTAKE_CONSUMER] {
            perms.consume(&ConsumerSpec {
                stream: subjects.events_stream().name,
                durable_name: durable.to_owned(),
                filter_subject: subjects.events_of(None),
                ack_wait: any_wait,
                max_deliver: 0,
                max_ack_pending: 0,
            });
        }
        return Ok(perms);
    }

    // Stage services: their own consumer, task logs, their dead letters, their next steps.
    perms.add_pub(format!("{p}.logs.*"));
    match stage_of(service).expect("checked above") {
        Some(stage) => {
            perms.consume(&subjects.stage_consumer(stage, any_wait, 0));
            perms.add_pub(subjects.dlq(stage));
        }
        None => {
            perms.consume(&subjects.index_consumer(any_wait, 0));
            perms.add_pub(subjects.dlq_index());
        }
    }
    match service {
        "planner" => perms.add_pub(subjects.work(Stage::Codegen)),
        "codegen" => {
            perms.add_pub(subjects.work(Stage::Test));
            perms.add_pub(format!("{p}.index.>"));
            perms.add_pub(subjects.rag_query());
        }
        "tester" => {
            // A fix round goes back to codegen; green tests go on to review.
            perms.add_pub(subjects.work(Stage::Codegen));
            perms.add_pub(subjects.work(Stage::Review));
        }
        "reviewer" => perms.add_pub(subjects.work(Stage::Gate)),
        "gate" => perms.add_pub(subjects.work(Stage::Deploy)),
        "deployer" => perms.add_sub(subjects.app_remove()),
        "indexer" => {
            perms.add_sub(subjects.rag_query());
            perms.add_sub(subjects.rag_index());
        }
        _ => {}
    }
    Ok(perms)
}

/// One user per service under this prefix, with [`for_service`]'s allow lists.
pub fn service_users(subjects: &Subjects, mut password: impl FnMut(&str) -> Password) -> Vec<User> {
    SERVICES
        .into_iter()
        .map(|service| User {
            name: user_name(subjects, service),
            password: password(service),
            permissions: for_service(subjects, service).expect("a known service"),
        })
        .collect()
}

/// How a user's password appears in the rendered configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// Written into the file as is (keep the file private).
    Literal(String),
    /// A `nats-server` variable reference, resolved from its environment at start-up.
    Env(String),
}

/// One user of the rendered `authorization` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password: Password,
    pub permissions: Permissions,
}

/// Renders `users` as a `nats-server` `authorization { users = [...] }` block.
pub fn authorization(users: &[User]) -> String {
    let mut out = String::from("authorization {\n  users = [\n");
    for u in users {
        let password = match &u.password {
            Password::Literal(pw) => quote(pw),
            Password::Env(var) => format!("${var}"),
        };
        let list = |items: &[String]| {
            items
                .iter()
                .map(|s| format!("          {}", quote(s)))
                .collect::<Vec<_>>()
                .join(",\n")
        };
        out.push_str(&format!(
            "    {{\n      user: {}\n      password: {password}\n      permissions: {{\n        publish: {{ allow: [\n{}\n        ] }}\n        subscribe: {{ allow: [\n{}\n        ] }}\n        allow_responses: {}\n      }}\n    }}\n",
            quote(&u.name),
            list(&u.permissions.publish),
            list(&u.permissions.subscribe),
            u.permissions.allow_responses,
        ));
    }
    out.push_str("  ]\n}\n");
    out
}

fn quote(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(service: &str) -> Permissions {
        for_service(&Subjects::default(), service).unwrap()
    }

    #[test]
    fn wildcards_match_like_nats() {
        assert!(matches("kiln.work.*", "kiln.work.deploy"));
        assert!(!matches("kiln.work.*", "kiln.work.deploy.x"));
        assert!(matches("kiln.events.>", "kiln.events.t1.status"));
        assert!(!matches("kiln.events.>", "kiln.events"));
        assert!(!matches("kiln.work.test", "kiln.work.testing"));
    }

    #[test]
    fn only_the_gate_and_the_api_may_send_work_to_the_deployer() {
        let deploy = "kiln.work.deploy";
        let senders: Vec<_> = SERVICES
            .into_iter()
            .filter(|s| perms(s).may_publish(deploy))
            .collect();
        assert_eq!(senders, ["api", "gate"]);
    }

    #[test]
    fn each_stage_sends_only_its_handlers_next_steps() {
        let work = |service: &str| -> Vec<&str> {
            let p = perms(service);
            Stage::all()
                .into_iter()
                .map(|s| s.name())
                .filter(|s| p.may_publish(&format!("kiln.work.{s}")))
                .collect()
        };
        assert_eq!(work("planner"), ["codegen"]);
        assert_eq!(work("codegen"), ["test"]);
        assert_eq!(work("tester"), ["codegen", "review"]);
        assert_eq!(work("reviewer"), ["gate"]);
        assert_eq!(work("gate"), ["deploy"]);
        assert!(work("deployer").is_empty());
        assert!(work("indexer").is_empty());
        assert_eq!(work("api").len(), 6, "parked steps of any stage come back");
        assert!(perms("codegen").may_publish("kiln.index.pizzadash"));
        assert!(!perms("tester").may_publish("kiln.index.pizzadash"));
    }

    #[test]
    fn a_stage_consumes_only_its_own_consumer() {
        let p = perms("codegen");
        assert!(p.may_publish("$JS.API.CONSUMER.MSG.NEXT.KILN_WORK.codegen"));
        assert!(p.may_publish("$JS.ACK.KILN_WORK.codegen.1.2.3.4.5"));
        assert!(p.may_publish("$JS.API.CONSUMER.CREATE.KILN_WORK.codegen.kiln.work.codegen"));
        assert!(!p.may_publish("$JS.API.CONSUMER.CREATE.KILN_WORK.codegen.kiln.work.deploy"));
        assert!(!p.may_publish("$JS.API.CONSUMER.MSG.NEXT.KILN_WORK.deploy"));
        assert!(!p.may_publish("$JS.ACK.KILN_WORK.deploy.1.2.3.4.5"));
        assert!(!p.may_subscribe("kiln.work.gate"));
        assert!(!p.may_publish("$JS.API.STREAM.UPDATE.KILN_WORK"));
        assert!(!p.may_publish("$JS.API.STREAM.DELETE.KILN_WORK"));
        let indexer = perms("indexer");
        assert!(indexer.may_publish("$JS.API.CONSUMER.CREATE.KILN_WORK.indexer.kiln.index.>"));
        assert!(indexer.may_subscribe("kiln.rag.query"));
        assert!(indexer.may_subscribe("kiln.rag.index"));
        assert!(perms("api").may_publish("kiln.rag.query"));
        assert!(!perms("tester").may_publish("kiln.rag.query"));
    }

    #[test]
    fn only_the_api_broadcasts_control_and_removes_apps() {
        for service in SERVICES {
            let p = perms(service);
            assert!(p.may_subscribe("kiln.control.pause"), "{service}");
            assert!(
                p.may_publish(&format!("kiln.heartbeat.{service}")),
                "{service}"
            );
            assert!(!p.may_publish("kiln.heartbeat.other"), "{service}");
            assert_eq!(p.may_publish("kiln.control.pause"), service == "api");
            assert_eq!(p.may_publish("kiln.deploy.remove"), service == "api");
            assert_eq!(p.may_subscribe("kiln.deploy.remove"), service == "deployer");
            for stream in ["KILN_WORK", "KILN_EVENTS", "KILN_LOGS", "KILN_DLQ"] {
                assert!(p.may_publish(&format!("$JS.API.STREAM.CREATE.{stream}")));
            }
        }
    }

    #[test]
    fn inboxes_are_private_to_each_identity() {
        let p = perms("tester");
        assert!(p.may_subscribe("_INBOX.kiln-tester.abc.1"));
        assert!(!p.may_subscribe("_INBOX.kiln-api.abc.1"));
        assert!(!p.may_subscribe("_INBOX.>"));
        assert_eq!(inbox_prefix("a.b"), None);
        assert_eq!(inbox_prefix("kiln-api").as_deref(), Some("_INBOX.kiln-api"));
    }

    #[test]
    fn the_api_reads_queues_logs_dead_letters_and_events() {
        let p = perms("api");
        assert!(p.may_publish("$JS.API.CONSUMER.INFO.KILN_WORK.deploy"));
        assert!(p.may_publish("$JS.API.CONSUMER.INFO.KILN_WORK.indexer"));
        assert!(!p.may_publish("$JS.API.CONSUMER.MSG.NEXT.KILN_WORK.deploy"));
        assert!(p.may_publish("$JS.API.STREAM.MSG.GET.KILN_DLQ"));
        assert!(p.may_publish("$JS.API.CONSUMER.CREATE.KILN_LOGS.x.kiln.logs.t1"));
        assert!(p.may_publish("$JS.API.CONSUMER.MSG.NEXT.KILN_EVENTS.webhooks"));
        assert!(p.may_subscribe("kiln.heartbeat.codegen"));
        assert!(!p.may_publish("kiln.logs.t1"));
    }

    #[test]
    fn unknown_services_are_refused() {
        assert_eq!(
            for_service(&Subjects::default(), "painter"),
            Err(UnknownService("painter".into()))
        );
    }

    #[test]
    fn each_service_publishes_its_own_dead_letters_and_nobody_elses() {
        let dlq = |service: &str| -> Vec<&str> {
            let p = perms(service);
            [
                "plan", "codegen", "test", "review", "gate", "deploy", "indexer",
            ]
            .into_iter()
            .filter(|s| p.may_publish(&format!("kiln.dlq.{s}")))
            .collect()
        };
        assert_eq!(dlq("planner"), ["plan"]);
        assert_eq!(dlq("codegen"), ["codegen"]);
        assert_eq!(dlq("tester"), ["test"]);
        assert_eq!(dlq("reviewer"), ["review"]);
        assert_eq!(dlq("gate"), ["gate"]);
        assert_eq!(dlq("deployer"), ["deploy"]);
        assert_eq!(dlq("indexer"), ["indexer"]);
        assert!(dlq("api").is_empty(), "the API runs no consumer of work");
        for service in SERVICES {
            assert!(
                perms(service).may_publish("kiln.events.t1.status"),
                "{service}"
            );
        }
    }

    #[test]
    fn rendered_users_carry_only_their_own_lists() {
        let s = Subjects::default();
        let users = service_users(&s, |svc| Password::Env(svc.to_ascii_uppercase()));
        assert_eq!(users.len(), SERVICES.len());
        for u in &users {
            let service = u.name.strip_prefix("kiln-").unwrap();
            assert_eq!(u.permissions, perms(service), "{}", u.name);
            assert_eq!(u.password, Password::Env(service.to_ascii_uppercase()));
        }
        let planner = users.iter().find(|u| u.name == "kiln-planner").unwrap();
        assert!(!planner.permissions.may_publish("kiln.work.deploy"));
        assert!(!planner.permissions.may_publish("kiln.work.plan"));
    }

    #[test]
    fn renders_a_nats_server_authorization_block() {
        let users = [
            User {
                name: "kiln-gate".into(),
                password: Password::Literal("s3\"cret".into()),
                permissions: perms("gate"),
            },
            User {
                name: "kiln-api".into(),
                password: Password::Env("KILN_NATS_PASSWORD_API".into()),
                permissions: perms("api"),
            },
        ];
        let conf = authorization(&users);
        assert!(conf.starts_with("authorization {\n  users = [\n"));
        assert!(conf.contains("user: \"kiln-gate\"\n      password: \"s3\\\"cret\"\n"));
        assert!(conf.contains("password: $KILN_NATS_PASSWORD_API\n"));
        assert!(conf.contains("        \"kiln.work.deploy\""));
        assert!(conf.contains("allow_responses: true"));
    }
}

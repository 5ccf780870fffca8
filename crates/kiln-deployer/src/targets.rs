//! The deploy targets this deployer has, by name: `local` always, plus the ones configured
//! under `[deployer.targets.<name>]`. A project deploys to the target its tasks named.

use std::collections::BTreeMap;

use kiln_targets::{
    DeploySpec, Deployed, DockerConfig, DockerTarget, Error, LocalTarget, SshConfig, SshTarget,
    Target, Verification,
};
use serde::{Deserialize, Serialize};

/// Name of the always-present local target.
pub const LOCAL: &str = "local";

/// One configured target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TargetConfig {
    /// A host reached over ssh: releases uploaded, a systemd unit or PM2, an nginx site.
    Ssh(Box<SshConfig>),
    /// A Docker engine at `docker_host`.
    Docker(Box<DockerConfig>),
}

/// One target of any kind; the `Target` trait's futures are not object-safe, so an enum
/// dispatches instead of a `dyn`.
#[derive(Clone)]
pub enum AnyTarget {
    Local(LocalTarget),
    Ssh(String, SshTarget),
    Docker(String, DockerTarget),
}

macro_rules! each {
    ($self:expr, $t:ident => $body:expr) => {
        match $self {
            AnyTarget::Local($t) => $body,
            AnyTarget::Ssh(_, $t) => $body,
            AnyTarget::Docker(_, $t) => $body,
        }
    };
}

impl AnyTarget {
    /// The name projects choose it by (and deployments record).
    pub fn name(&self) -> &str {
        match self {
            AnyTarget::Local(_) => LOCAL,
            AnyTarget::Ssh(name, _) | AnyTarget::Docker(name, _) => name,
        }
    }

    /// The target's kind, as templates list them in `deploy`.
    pub fn kind(&self) -> &'static str {
        each!(self, t => t.kind())
    }

    pub async fn deploy(&self, spec: &DeploySpec) -> Result<Deployed, Error> {
        each!(self, t => t.deploy(spec).await)
    }

    pub async fn verify(&self, spec: &DeploySpec, deployed: &Deployed) -> Verification {
        each!(self, t => t.verify(spec, deployed).await)
    }

    pub async fn stop(&self, app: &str) -> Result<(), Error> {
        each!(self, t => t.stop(app).await)
    }

    pub async fn activate(&self, app: &str, commit: &str) -> Result<Deployed, Error> {
        each!(self, t => t.activate(app, commit).await)
    }

    pub async fn remove(&self, app: &str) -> Result<(), Error> {
        each!(self, t => t.remove(app).await)
    }

    pub async fn current(&self, app: &str) -> Option<(String, Deployed)> {
        each!(self, t => t.current(app).await)
    }
}

/// Every target by name.
#[derive(Clone)]
pub struct Targets {
    by_name: BTreeMap<String, AnyTarget>,
}

impl Targets {
    /// `local` plus the configured ones; a bad configuration fails here, at startup.
    pub fn new(
        local: LocalTarget,
        configured: &BTreeMap<String, TargetConfig>,
    ) -> Result<Self, Error> {
        let mut by_name = BTreeMap::from([(LOCAL.to_owned(), AnyTarget::Local(local))]);
        for (name, config) in configured {
            if name == LOCAL {
                return Err(Error::Config {
                    target: LOCAL,
                    reason: "[deployer.targets.local] is reserved for the built-in local target"
                        .into(),
                });
            }
            let target = match config {
                TargetConfig::Ssh(c) => {
                    AnyTarget::Ssh(name.clone(), SshTarget::new((**c).clone())?)
                }
                TargetConfig::Docker(c) => {
                    AnyTarget::Docker(name.clone(), DockerTarget::new((**c).clone())?)
                }
            };
            by_name.insert(name.clone(), target);
        }
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&AnyTarget> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }
}

//! The one trait the deployer programs against, so local, ssh and docker targets are interchangeable.

use std::future::Future;

use crate::{DeploySpec, Deployed, Error, Verification};

/// A place apps can be deployed to.
///
/// Futures are `Send` so a deployer can drive any target from spawned tasks. Implementations
/// must make `deploy` idempotent per `(app, commit)`: message delivery is at-least-once, so
/// the same deploy can arrive twice.
pub trait Target: Send + Sync {
    /// Short stable name for logs and records, e.g. `"local"`, `"ssh"`, `"docker"`.
    fn kind(&self) -> &'static str;

    /// Puts `spec` live at the app's URL, replacing whatever release was live before only once
    /// the new one is ready.
    fn deploy(&self, spec: &DeploySpec) -> impl Future<Output = Result<Deployed, Error>> + Send;

    /// Checks over HTTP that the live app is healthy, stamped with `spec.commit` and shows the
    /// expected text. Never fails: problems are reported as failed checks.
    fn verify(
        &self,
        spec: &DeploySpec,
        deployed: &Deployed,
    ) -> impl Future<Output = Verification> + Send;

    /// Takes the app offline; release files stay so the caller decides about deletion.
    /// Stopping an app that is not deployed succeeds.
    fn stop(&self, app: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// Makes an earlier release of `app` live again without its build directory, e.g. to roll
    /// back after a new deploy failed verification. Fails with [`Error::ReleaseMissing`] when
    /// the release is no longer on the target. Activating the live release changes nothing.
    fn activate(
        &self,
        app: &str,
        commit: &str,
    ) -> impl Future<Output = Result<Deployed, Error>> + Send;

    /// Stops `app` and deletes its releases and records, freeing whatever it held (port, proxy
    /// site). Removing an app that does not exist succeeds.
    fn remove(&self, app: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// The commit live for `app` and where it is, if any.
    fn current(&self, app: &str) -> impl Future<Output = Option<(String, Deployed)>> + Send;
}

//! The docker target without an engine: no Docker engine runs where these tests run (only the
//! client is installed), so this checks that an unreachable engine fails a deploy precisely and
//! before anything is built. Dockerfiles and command lines are unit-tested in `src/docker.rs`.

use kiln_targets::{DeploySpec, DockerConfig, DockerTarget, Error, ServeKind, Target};

#[tokio::test]
async fn deploy_without_an_engine_names_the_engine_address() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("docker.sock");
    let docker_host = format!("unix://{}", socket.display());
    let target = DockerTarget::new(DockerConfig::new(docker_host.clone())).expect("config");
    std::fs::create_dir_all(tmp.path().join("build/dist")).expect("mkdir");
    let spec = DeploySpec {
        app: "site".into(),
        commit: "c1".into(),
        source_dir: tmp.path().join("build"),
        kind: ServeKind::Static { dir: "dist".into() },
        health_path: "/".into(),
        version_path: "/__kiln/version".into(),
        expect_text: vec![],
    };
    let err = target.deploy(&spec).await.expect_err("no engine");
    assert!(matches!(err, Error::DockerUnreachable { .. }), "{err}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("no Docker engine at {docker_host}: ")),
        "{shown}"
    );
    assert!(shown.to_lowercase().contains("cannot connect"), "{shown}");
    let err = target.activate("site", "c1").await.expect_err("no engine");
    assert!(matches!(err, Error::DockerUnreachable { .. }), "{err}");
    assert!(target.current("site").await.is_none());
}

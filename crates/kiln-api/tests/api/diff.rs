//! `GET /api/v1/tasks/{id}/rounds/{round}/diff`: a round's commit against its parent.

use kiln_git::Git;
use uuid::Uuid;

use crate::common::{Api, assert_problem};

/// Records the commit of a round as codegen does (only the columns this endpoint reads).
async fn record(api: &Api, task: Uuid, round: i32, sha: &str) {
    sqlx::query(
        "INSERT INTO commits (task_id, round, sha, branch, message, files_changed, insertions, deletions) \
         VALUES ($1, $2, $3, $4, $5, 1, 1, 0)",
    )
    .bind(task)
    .bind(round)
    .bind(sha)
    .bind(format!("kiln/{task}"))
    .bind(format!("round {round}"))
    .execute(&api.env.pool)
    .await
    .expect("commit recorded");
}

#[tokio::test]
async fn each_round_diffs_against_its_parent() {
    let api = Api::start().await;
    let task = api.create("diffapp").await;
    let id: Uuid = task["id"].as_str().unwrap().parse().unwrap();
    let branch = task["branch"].as_str().unwrap().to_owned();

    let git = Git::new();
    let bare = api.env.data_path().join("git").join("diffapp.git");
    git.ensure_bare(&bare).await.expect("bare repo");
    let work = api.env.data_path().join("work-diff");
    let wd = git
        .checkout_branch(&bare, &branch, &work)
        .await
        .expect("checkout");
    wd.write_file("index.html", b"<h1>Bakery</h1>\n", false)
        .await
        .expect("write");
    let first = wd.commit_all("scaffold").await.unwrap().expect("commit");
    wd.write_file("index.html", b"<h1>Bakery</h1>\n<p>Open 7-19</p>\n", false)
        .await
        .expect("write");
    let second = wd.commit_all("fix round").await.unwrap().expect("commit");
    wd.push(&branch).await.expect("push");
    record(&api, id, 0, &first).await;
    record(&api, id, 1, &second).await;

    let resp = api.get(&format!("/api/v1/tasks/{id}/rounds/0/diff")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(text.contains("new file mode"), "{text}");
    assert!(text.contains("+<h1>Bakery</h1>"), "{text}");

    let text = api
        .get(&format!("/api/v1/tasks/{id}/rounds/1/diff"))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("+<p>Open 7-19</p>"), "{text}");
    assert!(
        !text.contains("+<h1>Bakery</h1>"),
        "only the round's own change: {text}"
    );

    assert_problem(
        api.get(&format!("/api/v1/tasks/{id}/rounds/2/diff")).await,
        404,
        &format!("task {id} has no commit for round 2"),
    )
    .await;
    assert_problem(
        api.get(&format!("/api/v1/tasks/{id}/rounds/-1/diff")).await,
        400,
        "invalid round \"-1\"",
    )
    .await;
    assert_problem(
        api.get("/api/v1/tasks/nope/rounds/0/diff").await,
        400,
        "invalid task id \"nope\"",
    )
    .await;
    let missing = Uuid::now_v7();
    assert_problem(
        api.get(&format!("/api/v1/tasks/{missing}/rounds/0/diff"))
            .await,
        404,
        &format!("no task with id {missing}"),
    )
    .await;
    api.stop().await;
}

//! Turns the contracts' stream and consumer descriptions into live JetStream objects.

use async_nats::jetstream::{self, consumer, stream};
use kiln_contracts::{ConsumerSpec, Retention, StreamSpec, Subjects};

use crate::Error;

fn stream_config(spec: &StreamSpec) -> stream::Config {
    stream::Config {
        name: spec.name.clone(),
        subjects: spec.subjects.clone(),
        retention: match spec.retention {
            Retention::WorkQueue => stream::RetentionPolicy::WorkQueue,
            Retention::Limits => stream::RetentionPolicy::Limits,
        },
        max_age: spec.max_age,
        max_bytes: if spec.max_bytes == 0 {
            -1
        } else {
            spec.max_bytes
        },
        duplicate_window: spec.duplicate_window,
        storage: stream::StorageType::File,
        discard: stream::DiscardPolicy::Old,
        ..Default::default()
    }
}

/// Creates every stream of `subjects` that does not exist yet.
///
/// Every service does this at boot, so on a first start several race: a create can fail
/// because another process created the stream between our lookup and our create (NATS then
/// answers "stream name already in use" or "subjects overlap with an existing stream"). A
/// failed create is therefore followed by one more lookup; only a stream that is still
/// missing is an error.
pub async fn ensure_streams(js: &jetstream::Context, subjects: &Subjects) -> Result<(), Error> {
    for spec in subjects.streams() {
        if let Err(first) = js.get_or_create_stream(stream_config(&spec)).await
            && js.get_stream(&spec.name).await.is_err()
        {
            return Err(Error::Nats(format!("stream {}: {first}", spec.name)));
        }
    }
    Ok(())
}

/// The durable pull consumer described by `spec`, created when missing.
pub async fn ensure_consumer(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
) -> Result<consumer::Consumer<consumer::pull::Config>, Error> {
    let stream = js
        .get_stream(&spec.stream)
        .await
        .map_err(|e| Error::Nats(format!("stream {}: {e}", spec.stream)))?;
    stream
        .get_or_create_consumer(
            &spec.durable_name,
            consumer::pull::Config {
                durable_name: Some(spec.durable_name.clone()),
                filter_subject: spec.filter_subject.clone(),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: spec.ack_wait,
                // One more than the harness allows, so a worker that died on the last
                // permitted delivery still gets its message dead-lettered.
                max_deliver: spec.max_deliver + 1,
                max_ack_pending: spec.max_ack_pending,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| Error::Nats(format!("consumer {}: {e}", spec.durable_name)))
}

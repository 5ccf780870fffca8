//! Stable names for pipeline stages, used in subjects, consumer names, the database and the API.

use crate::v1::Stage;

/// Conversions between the protobuf `Stage` enum and its stable lowercase name.
pub trait StageName: Sized {
    /// The lowercase token used in subjects and records (`plan`, `codegen`, ...).
    fn name(self) -> &'static str;
    /// Parses a token produced by [`StageName::name`].
    fn from_name(name: &str) -> Option<Self>;
    /// The stage after this one, if any.
    fn next(self) -> Option<Self>;
    /// Every real stage in pipeline order.
    fn all() -> [Self; 6];
}

impl StageName for Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Unspecified => "unspecified",
            Stage::Plan => "plan",
            Stage::Codegen => "codegen",
            Stage::Test => "test",
            Stage::Review => "review",
            Stage::Gate => "gate",
            Stage::Deploy => "deploy",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|s| s.name() == name)
    }

    fn next(self) -> Option<Self> {
        match self {
            Stage::Unspecified => None,
            Stage::Plan => Some(Stage::Codegen),
            Stage::Codegen => Some(Stage::Test),
            Stage::Test => Some(Stage::Review),
            Stage::Review => Some(Stage::Gate),
            Stage::Gate => Some(Stage::Deploy),
            Stage::Deploy => None,
        }
    }

    fn all() -> [Self; 6] {
        [
            Stage::Plan,
            Stage::Codegen,
            Stage::Test,
            Stage::Review,
            Stage::Gate,
            Stage::Deploy,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_follow_pipeline_order() {
        let mut stage = Stage::Plan;
        let mut seen = vec![stage.name()];
        while let Some(next) = stage.next() {
            assert_eq!(Stage::from_name(next.name()), Some(next));
            seen.push(next.name());
            stage = next;
        }
        assert_eq!(
            seen,
            ["plan", "codegen", "test", "review", "gate", "deploy"]
        );
        assert_eq!(Stage::from_name("unspecified"), None);
    }
}

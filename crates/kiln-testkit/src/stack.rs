//! Spawned service processes for whole-stack tests.

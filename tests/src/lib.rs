//! End-to-end tests for GridSense live in `tests/tests/`.

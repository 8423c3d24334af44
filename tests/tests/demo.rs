//! `gridsense-demo` closes the loop: it returns Ok only after the completion
//! notice of the fire's work order was published.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_closes_the_loop() {
    let dir = tempfile::tempdir().expect("tempdir");
    demo::run(Some(dir.path().to_path_buf()))
        .await
        .expect("the demo closes the loop");
    let store =
        gateway::store::Store::open_read_only(&dir.path().join("gridsense.db")).expect("db");
    let chain = store.verify_audit().expect("readable").expect("intact");
    assert!(
        chain.records >= 6,
        "alarm and order changes audited: {chain:?}"
    );
}

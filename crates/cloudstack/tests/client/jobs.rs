//! Async-job polling: fast jobs are seen fast, failures carry CloudStack's text, timeouts end.

use std::time::{Duration, Instant};

use cloudstack::{api::DeployVirtualMachine, Client, Error, Params};

use crate::support::{test_config, FakeCloud};

fn deploy(name: &str) -> DeployVirtualMachine {
    DeployVirtualMachine {
        zone_id: "zone-1".into(),
        service_offering_id: "so-1".into(),
        template_id: "tpl-1".into(),
        name: Some(name.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn job_result_is_returned_with_password() {
    let cloud = FakeCloud::new();
    cloud.set_job_polls(3);
    let vm = cloud
        .client()
        .deploy_virtual_machine(&deploy("a"))
        .await
        .unwrap();
    assert_eq!(vm.password.as_deref(), Some("s3cret-pw"));
    assert_eq!(cloud.calls("queryAsyncJobResult"), 4);
}

#[tokio::test]
async fn fast_job_is_seen_fast_with_default_polling() {
    let cloud = FakeCloud::new();
    cloud.set_job_polls(1);
    let mut cfg = test_config();
    cfg.poll_initial = cloudstack::Config::new("http://x", "k", "s").poll_initial;
    cfg.poll_cap = Duration::from_secs(5);
    let client = Client::with_transport(cfg, cloud.clone());
    let started = Instant::now();
    client
        .deploy_virtual_machine(&deploy("quick"))
        .await
        .unwrap();
    // One pending poll, one 100 ms pause, then done: far below the Go client's 1 s first sleep.
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn failed_job_carries_code_and_text() {
    let cloud = FakeCloud::new();
    let err = cloud
        .client()
        .deploy_virtual_machine(&deploy("fail-1"))
        .await
        .unwrap_err();
    match err {
        Error::JobFailed {
            job_id,
            error_code,
            text,
            command,
        } => {
            assert!(!job_id.is_empty());
            assert_eq!(error_code, 530);
            assert_eq!(text, "Unable to create a deployment for VM");
            assert_eq!(command, "deployVirtualMachine");
        }
        other => panic!("unexpected {other}"),
    }
    // A failed job is final: not re-sent.
    assert_eq!(cloud.calls("deployVirtualMachine"), 1);
}

#[tokio::test]
async fn job_timeout_ends_polling() {
    let cloud = FakeCloud::new();
    cloud.set_job_polls(u32::MAX);
    let mut cfg = test_config();
    cfg.async_timeout = Duration::from_millis(200);
    let client = Client::with_transport(cfg, cloud.clone());
    let answer = client
        .request(
            "deployVirtualMachine",
            &Params::new().with("zoneid", "z").with("name", "slow"),
        )
        .await
        .unwrap();
    let job = cloudstack::job::job_id_of(&answer).unwrap();
    let err = client
        .wait_job("deployVirtualMachine", &job)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::JobTimeout { .. }), "{err}");
    let status = client.query_async_job_result(&job).await.unwrap();
    assert_eq!(status.jobstatus, Some(0));
}

//! Retries happen only where they cannot duplicate work; creates recover by lookup.

use cloudstack::{api::DeployVirtualMachine, Error, Params};

use crate::support::{FakeCloud, Fault};

fn deploy(name: Option<&str>) -> DeployVirtualMachine {
    DeployVirtualMachine {
        zone_id: "zone-1".into(),
        service_offering_id: "so-1".into(),
        template_id: "tpl-1".into(),
        name: name.map(str::to_string),
        ..Default::default()
    }
}

#[tokio::test]
async fn lists_are_retried_through_every_transient_fault() {
    let cloud = FakeCloud::new();
    cloud.add_zones(&["zone001"]);
    cloud.inject(
        "listZones",
        &[
            Fault::Refused,
            Fault::Status503Before,
            Fault::DropAfter,
            Fault::Api530After,
            Fault::TooMany,
            Fault::TruncatedAfter,
            Fault::HtmlAfter,
        ],
    );
    let zones = cloud.client().list_zones(&Params::new()).await.unwrap();
    assert_eq!(zones.len(), 1);
    assert_eq!(zones[0].name.as_deref(), Some("zone001"));
    assert_eq!(cloud.calls("listZones"), 8);
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let cloud = FakeCloud::new();
    cloud.fail_always(
        "listZones",
        431,
        "Unable to execute API command listzones due to invalid value",
    );
    let err = cloud.client().list_zones(&Params::new()).await.unwrap_err();
    assert!(err.is_param_error(), "{err}");
    assert_eq!(cloud.calls("listZones"), 1);

    let cloud = FakeCloud::new();
    cloud.fail_always(
        "listZones",
        401,
        "unable to verify user credentials and/or request signature",
    );
    let err = cloud.client().list_zones(&Params::new()).await.unwrap_err();
    assert!(err.is_auth() && !err.is_retryable());
    assert_eq!(cloud.calls("listZones"), 1);
}

#[tokio::test]
async fn wrong_secret_is_an_auth_error() {
    let cloud = FakeCloud::new();
    let mut cfg = crate::support::test_config();
    cfg.secret_key = "wrong".into();
    let client = cloudstack::Client::with_transport(cfg, cloud.clone());
    let err = client.list_zones(&Params::new()).await.unwrap_err();
    assert!(err.is_auth(), "{err}");
    assert_eq!(cloud.calls("listZones"), 1);
}

#[tokio::test]
async fn named_deploy_never_duplicates_under_any_single_fault() {
    for fault in [
        Fault::Refused,
        Fault::Status503Before,
        Fault::TooMany,
        Fault::Status503After,
        Fault::Api530After,
        Fault::DropAfter,
        Fault::TimeoutAfter,
        Fault::TruncatedAfter,
        Fault::HtmlAfter,
    ] {
        let cloud = FakeCloud::new();
        cloud.inject("deployVirtualMachine", &[fault, fault]);
        let vm = cloud
            .client()
            .deploy_virtual_machine(&deploy(Some("web-1")))
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(cloud.vms_named("web-1"), 1, "{fault:?} duplicated the VM");
        assert_eq!(vm.name.as_deref(), Some("web-1"));
        assert_eq!(vm.state.as_deref(), Some("Running"), "{fault:?}");
        assert_eq!(vm.ip_address(), Some("10.1.1.10"));
        let applied_first = matches!(
            fault,
            Fault::Status503After
                | Fault::Api530After
                | Fault::DropAfter
                | Fault::TimeoutAfter
                | Fault::TruncatedAfter
                | Fault::HtmlAfter
        );
        let expected_sends = if applied_first { 1 } else { 3 };
        assert_eq!(
            cloud.calls("deployVirtualMachine"),
            expected_sends,
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn unnamed_deploy_is_reported_not_resent() {
    let cloud = FakeCloud::new();
    cloud.inject("deployVirtualMachine", &[Fault::DropAfter]);
    let err = cloud
        .client()
        .deploy_virtual_machine(&deploy(None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unconfirmed { .. }), "{err}");
    assert!(err.may_have_applied());
    assert!(err.to_string().contains("may have been applied"));
    assert_eq!(cloud.calls("deployVirtualMachine"), 1);
    assert_eq!(cloud.vm_count(), 1);
}

#[tokio::test]
async fn retried_delete_of_a_gone_object_succeeds() {
    let cloud = FakeCloud::new();
    let id = cloud.add_vm("old", "Running");
    cloud.inject("destroyVirtualMachine", &[Fault::DropAfter]);
    cloud
        .client()
        .destroy_virtual_machine(&id, true)
        .await
        .unwrap();
    assert_eq!(cloud.calls("destroyVirtualMachine"), 2);
    assert_eq!(cloud.vm_count(), 0);

    // Without a retry, "does not exist" is an error the caller sees.
    let err = cloud
        .client()
        .destroy_virtual_machine(&id, true)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn twenty_percent_random_faults_no_duplicates() {
    let cloud = FakeCloud::new();
    cloud.add_zones(&["zone001"]);
    cloud.random_faults(0.2, 42);
    let client = cloud.client();
    for i in 0..25 {
        let name = format!("vm-{i}");
        client
            .deploy_virtual_machine(&deploy(Some(&name)))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for i in 0..25 {
        assert_eq!(cloud.vms_named(&format!("vm-{i}")), 1);
    }
    assert_eq!(cloud.vm_count(), 25);
    assert!(client.list_zones(&Params::new()).await.unwrap().len() == 1);
    // Faults did strike, on deploys and on the polls and lookups around them.
    assert!(cloud.faults_struck() >= 10, "{}", cloud.faults_struck());
}

#[tokio::test]
async fn public_ip_is_recovered_by_diffing_the_network() {
    for faults in [
        &[Fault::DropAfter][..],
        &[Fault::Status503Before, Fault::Api530After][..],
        &[Fault::TimeoutAfter, Fault::Status503After][..],
    ] {
        let cloud = FakeCloud::new();
        let client = cloud.client();
        let p = Params::new().with("networkid", "net-1");
        // An address that already existed must not be mistaken for the new one.
        client.associate_ip_address(&p).await.unwrap();
        cloud.inject("associateIpAddress", faults);
        let ip = client.associate_ip_address(&p).await.unwrap();
        assert_eq!(cloud.ip_count(), 2, "{faults:?}");
        assert_eq!(ip.ipaddress.as_deref(), Some("127.100.0.11"), "{faults:?}");
    }
    // Without a network there is nothing to diff: the outcome is reported, not guessed.
    let cloud = FakeCloud::new();
    cloud.inject("associateIpAddress", &[Fault::DropAfter]);
    let err = cloud
        .client()
        .associate_ip_address(&Params::new().with("zoneid", "z"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unconfirmed { .. }), "{err}");
    assert_eq!(cloud.ip_count(), 1);
}

#[tokio::test]
async fn polling_outage_after_an_accepted_create_recovers_by_lookup() {
    let cloud = FakeCloud::new();
    // More failures than one request's retry budget (8 attempts).
    cloud.inject("queryAsyncJobResult", &[Fault::Refused; 9]);
    let vm = cloud
        .client()
        .deploy_virtual_machine(&deploy(Some("db-1")))
        .await
        .unwrap();
    assert_eq!(vm.state.as_deref(), Some("Running"));
    assert_eq!(cloud.calls("deployVirtualMachine"), 1);
    assert_eq!(cloud.vms_named("db-1"), 1);
}

#[tokio::test]
async fn garbled_job_polls_are_retried_like_dropped_connections() {
    let cloud = FakeCloud::new();
    cloud.inject(
        "queryAsyncJobResult",
        &[Fault::HtmlAfter, Fault::TruncatedAfter, Fault::HtmlAfter],
    );
    let vm = cloud
        .client()
        .deploy_virtual_machine(&deploy(Some("slave-1")))
        .await
        .unwrap();
    assert_eq!(vm.state.as_deref(), Some("Running"));
    assert_eq!(cloud.calls("deployVirtualMachine"), 1);
    assert_eq!(cloud.vms_named("slave-1"), 1);
}

#[tokio::test]
async fn an_accepted_create_keeps_its_id_whatever_fails_later() {
    // Polling and the recovery lookup both keep answering garbage: the deploy fails, but the
    // id CloudStack gave in its first answer is in the log.
    let cloud = FakeCloud::new();
    cloud.inject("queryAsyncJobResult", &[Fault::HtmlAfter; 40]);
    cloud.inject("listVirtualMachines", &[Fault::TruncatedAfter; 40]);
    let log = cloudstack::AcceptedLog::new();
    let client = cloud.client().recording_accepted(&log);
    let err = client
        .deploy_virtual_machine(&deploy(Some("slave-1")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unconfirmed { .. }), "{err}");
    assert_eq!(cloud.vms_named("slave-1"), 1);
    let entries = log.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].command, "deployVirtualMachine");
    assert!(entries[0].job_id.is_some());
    assert_eq!(
        log.last_id("deployvirtualmachine").as_deref(),
        Some(entries[0].id.as_str())
    );

    // A job that fails still leaves the VM (in Error state) behind: its id is known too.
    let cloud = FakeCloud::new();
    let log = cloudstack::AcceptedLog::new();
    let err = cloud
        .client()
        .recording_accepted(&log)
        .deploy_virtual_machine(&deploy(Some("fail-1")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::JobFailed { .. }), "{err}");
    assert!(log.last_id("deployVirtualMachine").is_some());

    // A client without a log records nothing and behaves as before.
    let cloud = FakeCloud::new();
    let log = cloudstack::AcceptedLog::new();
    cloud
        .client()
        .deploy_virtual_machine(&deploy(Some("web-1")))
        .await
        .unwrap();
    assert!(log.entries().is_empty());
}

#[tokio::test]
async fn a_garbled_answer_to_an_unnamed_create_is_reported_not_resent() {
    for fault in [Fault::TruncatedAfter, Fault::HtmlAfter] {
        let cloud = FakeCloud::new();
        cloud.inject("deployVirtualMachine", &[fault]);
        let log = cloudstack::AcceptedLog::new();
        let err = cloud
            .client()
            .recording_accepted(&log)
            .deploy_virtual_machine(&deploy(None))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unconfirmed { .. }), "{fault:?}: {err}");
        assert!(err.to_string().contains("cannot decode"), "{err}");
        assert_eq!(cloud.calls("deployVirtualMachine"), 1);
        assert_eq!(cloud.vm_count(), 1);
        // The answer naming the id was lost, so there is nothing to record.
        assert!(log.entries().is_empty());
    }
}

#[tokio::test]
async fn a_vm_is_found_by_name_but_never_a_destroyed_one() {
    let cloud = FakeCloud::new();
    let client = cloud.client();
    cloud.add_vm("web-1", "Destroyed");
    let none = client
        .find_virtual_machine_by_name("z", "web-1", None)
        .await
        .unwrap();
    assert!(none.is_none(), "{none:?}");
    let id = cloud.add_vm("web-1", "Running");
    cloud.add_vm("web-10", "Running");
    let vm = client
        .find_virtual_machine_by_name("z", "web-1", Some("p"))
        .await
        .unwrap()
        .expect("the live VM");
    assert_eq!(vm.id, id);
    cloud.add_vm("web-1", "Stopped");
    let err = client
        .find_virtual_machine_by_name("z", "web-1", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("web-1"), "{err}");
}

//! Paging and name resolution.

use cloudstack::{Config, Error, Params, Resource};

use crate::support::FakeCloud;

#[tokio::test]
async fn pages_until_everything_is_read() {
    let cloud = FakeCloud::new();
    let names: Vec<String> = (0..1234).map(|i| format!("z{i:04}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    cloud.add_zones(&refs);
    let zones = cloud.client().list_zones(&Params::new()).await.unwrap();
    assert_eq!(zones.len(), 1234);
    assert_eq!(zones[1233].name.as_deref(), Some("z1233"));
    // 500 + 500 + 234.
    assert_eq!(cloud.calls("listZones"), 3);
    assert_eq!(Config::new("http://x", "k", "s").page_size, 500);
}

#[tokio::test]
async fn empty_answer_is_an_empty_list() {
    let cloud = FakeCloud::new();
    let vms = cloud
        .client()
        .list_virtual_machines(&Params::new().with("listall", "true"))
        .await
        .unwrap();
    assert!(vms.is_empty());
    assert_eq!(cloud.calls("listVirtualMachines"), 1);
}

#[tokio::test]
async fn resolves_names_and_reports_candidates() {
    let cloud = FakeCloud::new();
    cloud.add_zones(&["zone001", "zone002", "dup", "dup"]);
    let client = cloud.client();
    let none = Params::new();
    let id = client
        .resolve_id(Resource::Zone, "zone002", &none)
        .await
        .unwrap();
    assert_eq!(id, "00000000-0000-4000-8000-000000000002");
    // By id.
    let again = client.resolve_id(Resource::Zone, &id, &none).await.unwrap();
    assert_eq!(again, id);

    let err = client
        .resolve_id(Resource::Zone, "zone00", &none)
        .await
        .unwrap_err();
    match &err {
        Error::NotFound { candidates, .. } => {
            assert_eq!(candidates, &["dup", "zone001", "zone002"]);
        }
        other => panic!("unexpected {other}"),
    }
    let err = client
        .resolve_id(Resource::Zone, "dup", &none)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Ambiguous { ref matches, .. } if matches.len() == 2),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("00000000-0000-4000-8000-000000000003"));
}

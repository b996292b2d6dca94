//! Objects owned by a project, as CloudStack scopes them: listed only with the project's id
//! (or -1 for every project), named within their owner, and looked up in the owner of the VM
//! that uses them.

use cloudstack_sim::Options;

use crate::support::TestSim;

const PUBLIC_KEY: &str =
    include_str!("../../../terraform-provider-cloudstack/tests/fixtures/fixture_rsa.pub");

#[tokio::test]
async fn key_pairs_belong_to_their_project() {
    let t = TestSim::start(Options::default()).await;
    let project = t
        .run_async("createProject", &[("name", "mesos"), ("displaytext", "m")])
        .await;
    let project = project["project"]["id"].as_str().unwrap().to_string();
    let registered = t
        .ok(
            "registerSSHKeyPair",
            &[
                ("name", "ops"),
                ("publickey", PUBLIC_KEY.trim()),
                ("projectid", &project),
            ],
        )
        .await;
    assert_eq!(registered["keypair"]["projectid"], project.as_str());

    // the account's lists do not show it; the project's and every project's do
    let count = |v: &serde_json::Value| v["count"].as_u64().unwrap_or(0);
    let mine = t.ok("listSSHKeyPairs", &[("listall", "true")]).await;
    assert_eq!(count(&mine), 0, "{mine}");
    let theirs = t.ok("listSSHKeyPairs", &[("projectid", &project)]).await;
    assert_eq!(count(&theirs), 1, "{theirs}");
    let all = t
        .ok(
            "listSSHKeyPairs",
            &[("projectid", "-1"), ("listall", "true")],
        )
        .await;
    assert_eq!(count(&all), 1, "{all}");

    // a VM is given the key pair of its own owner: the account's VM cannot use the project's
    let deploy = t
        .call(
            "deployVirtualMachine",
            &[
                ("zoneid", crate::support::ZONE),
                ("serviceofferingid", crate::support::SMALL),
                ("templateid", crate::support::TEMPLATE),
                ("networkids", crate::support::NETWORK),
                ("name", "account-vm"),
                ("keypair", "ops"),
            ],
        )
        .await;
    assert_eq!(deploy.status, 431, "{}", deploy.body);
    assert!(
        deploy.body.to_string().contains("key pair with name 'ops'"),
        "{}",
        deploy.body
    );

    // names are per owner: the account may have its own "ops"
    t.ok(
        "registerSSHKeyPair",
        &[("name", "ops"), ("publickey", PUBLIC_KEY.trim())],
    )
    .await;
    let again = t
        .call(
            "registerSSHKeyPair",
            &[
                ("name", "ops"),
                ("publickey", PUBLIC_KEY.trim()),
                ("projectid", &project),
            ],
        )
        .await;
    assert_eq!(again.status, 431, "{}", again.body);

    // deleting takes the owner too
    t.ok(
        "deleteSSHKeyPair",
        &[("name", "ops"), ("projectid", &project)],
    )
    .await;
    let theirs = t.ok("listSSHKeyPairs", &[("projectid", &project)]).await;
    assert_eq!(count(&theirs), 0, "{theirs}");
    let mine = t.ok("listSSHKeyPairs", &[]).await;
    assert_eq!(count(&mine), 1, "{mine}");
}

#[tokio::test]
async fn the_root_domain_is_listed_and_checked() {
    let t = TestSim::start(Options::default()).await;
    let root = t
        .ok("listDomains", &[("name", "ROOT"), ("listall", "true")])
        .await;
    assert_eq!(root["count"], 1);
    let id = root["domain"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(root["domain"][0]["level"], 0);
    assert_eq!(
        t.ok("listDomains", &[("name", "nope")]).await,
        serde_json::json!({})
    );
    let p = t
        .run_async(
            "createProject",
            &[("name", "in-root"), ("displaytext", "r"), ("domainid", &id)],
        )
        .await;
    assert_eq!(p["project"]["domainid"], id.as_str());
    let other = "8a2a2c1e-0000-4000-8000-0000000000ff";
    let a = t
        .call(
            "createProject",
            &[
                ("name", "elsewhere"),
                ("displaytext", "e"),
                ("domainid", other),
            ],
        )
        .await;
    assert_eq!(a.status, 431, "{}", a.body);
    assert_eq!(t.call("listDomains", &[("id", other)]).await.status, 431);
}

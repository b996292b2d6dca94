//! Signatures, envelopes, errors and list shapes.

use crate::support::*;
use cloudstack_sim::Options;
use serde_json::json;

#[tokio::test]
async fn signature_accepted_and_rejected() {
    let t = TestSim::start(Options::default()).await;
    let a = t.call("listZones", &[]).await;
    assert_eq!(a.status, 200);
    // zone001, and zone002 with security groups
    assert_eq!(a.body["listzonesresponse"]["count"], 2);
    assert_eq!(a.body["listzonesresponse"]["zone"][0]["name"], "zone001");

    // Wrong secret.
    let params = t.signed_params("listZones", &[], "not-the-secret");
    let a = t.get_raw(&params).await.unwrap();
    assert_eq!(a.status, 401);
    assert_eq!(
        a.body,
        json!({"listzonesresponse": {"uuidList": [], "errorcode": 401,
            "errortext": "unable to verify user credentials and/or request signature"}})
    );

    // Tampered parameter after signing.
    let mut params = t.signed_params("listZones", &[("name", "zone001")], SECRET);
    params[5].1 = "zone002".into();
    assert_eq!(t.get_raw(&params).await.unwrap().status, 401);

    // Missing signature.
    let mut params = t.signed_params("listZones", &[], SECRET);
    params.pop();
    assert_eq!(t.get_raw(&params).await.unwrap().status, 401);

    // Expired (signature version 3).
    let mut params: Vec<(String, String)> = vec![
        ("command".into(), "listZones".into()),
        ("apikey".into(), KEY.into()),
        ("response".into(), "json".into()),
        ("signatureversion".into(), "3".into()),
        ("expires".into(), "2001-01-01T00:00:00+0000".into()),
    ];
    let sig = sign(&params, SECRET);
    params.push(("signature".into(), sig));
    assert_eq!(t.get_raw(&params).await.unwrap().status, 401);

    // Without signatureversion/expires (version 1) it is fine.
    let mut params: Vec<(String, String)> = vec![
        ("command".into(), "listZones".into()),
        ("apiKey".into(), KEY.into()),
        ("response".into(), "json".into()),
    ];
    let sig = sign(&params, SECRET);
    params.push(("signature".into(), sig));
    assert_eq!(t.get_raw(&params).await.unwrap().status, 200);
}

#[tokio::test]
async fn java_encoding_of_special_characters_in_signed_values() {
    let t = TestSim::start(Options::default()).await;
    // '~', '\'', '*', space, '+', '/', non-ASCII: Java URLEncoder rules.
    let name = "a b~c'd*e+f/g\u{e9}";
    let a = t.call("listNetworks", &[("keyword", name)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = t.post("listNetworks", &[("keyword", name)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn envelopes_errors_and_lists() {
    let t = TestSim::start(Options::default()).await;
    let a = t.call("listVPCs", &[]).await;
    assert_eq!(a.body, json!({"listvpcsresponse": {}}));

    let a = t.call("fooBar", &[]).await;
    assert_eq!(a.status, 432);
    assert_eq!(
        a.body["foobarresponse"]["errortext"],
        "The given command does not exist or it is not available for user"
    );

    let a = t.call("listTemplates", &[]).await;
    assert_eq!(a.status, 431);
    assert_eq!(
        a.inner()["errortext"],
        "Unable to execute API command listtemplates due to missing parameter templatefilter"
    );

    let a = t
        .call(
            "deployVirtualMachine",
            &[("zoneid", ZONE), ("templateid", TEMPLATE)],
        )
        .await;
    assert_eq!(a.status, 431);
    assert!(a.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("missing parameter serviceofferingid"));

    let a = t.call("listVirtualMachines", &[("id", "not-an-id")]).await;
    assert_eq!(a.status, 431);
    assert!(a.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("Invalid parameter id value=not-an-id"));

    // A well-formed id that never existed: 431, as CloudStack's id translation answers.
    let a = t
        .call(
            "listVirtualMachines",
            &[("id", "0b1e0e8e-1111-4111-8111-111111111111")],
        )
        .await;
    assert_eq!(a.status, 431);
    assert!(a.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("or entity does not exist"));

    // Templates: filter, name, paging.
    let all = t
        .ok(
            "listTemplates",
            &[("templatefilter", "executable"), ("zoneid", ZONE)],
        )
        .await;
    assert_eq!(all["count"], 1);
    assert_eq!(all["template"][0]["name"], "Ubuntu 14.04");
    assert_eq!(all["template"][0]["isready"], true);
    let isos = t.ok("listIsos", &[("isofilter", "executable")]).await;
    assert_eq!(isos["iso"][0]["format"], "ISO");
    let os = t
        .ok("listOsTypes", &[("description", "Ubuntu 14.04 (64-bit)")])
        .await;
    assert_eq!(os["count"], 1);
    assert_eq!(os["ostype"][0]["id"], UBUNTU_1404);
    let so = t.ok("listServiceOfferings", &[("name", "t1.medium")]).await;
    assert_eq!(so["serviceoffering"][0]["cpunumber"], 2);
    let page = t
        .ok("listOsTypes", &[("page", "2"), ("pagesize", "2")])
        .await;
    assert_eq!(page["ostype"].as_array().unwrap().len(), 2);
    assert!(page["count"].as_u64().unwrap() > 2);
    let nets = t.ok("listNetworks", &[("keyword", "guestnet")]).await;
    assert_eq!(nets["network"][0]["id"], NETWORK);
    assert_eq!(
        t.ok("listNetworks", &[("keyword", "nomatch")]).await,
        json!({})
    );
    let no = t
        .ok(
            "listNetworkOfferings",
            &[("name", "DefaultIsolatedNetworkOfferingWithSourceNatService")],
        )
        .await;
    assert_eq!(no["count"], 1);
    let caps = t.ok("listCapabilities", &[]).await;
    assert!(caps["capability"]["cloudstackversion"].is_string());
    let ips = t
        .ok("listPublicIpAddresses", &[("associatednetworkid", NETWORK)])
        .await;
    assert_eq!(ips["publicipaddress"][0]["issourcenat"], true);

    let stats = t.stats().await;
    assert_eq!(stats["requests"]["listTemplates"], 2);
    assert!(stats["total"].as_u64().unwrap() >= 15);
}

#[tokio::test]
async fn ssh_keypairs_are_real() {
    let t = TestSim::start(Options::default()).await;
    let k = t.ok("createSSHKeyPair", &[("name", "k1")]).await;
    let pem = k["keypair"]["privatekey"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem).unwrap();
    use rsa::traits::PublicKeyParts;
    assert_eq!(key.size(), 256);
    assert_eq!(k["keypair"]["fingerprint"].as_str().unwrap().len(), 47);
    let dup = t.call("createSSHKeyPair", &[("name", "k1")]).await;
    assert_eq!(dup.status, 431);

    // An OpenSSH ed25519 public key line built by hand: string "ssh-ed25519", string(32 bytes).
    let mut blob = vec![0, 0, 0, 11];
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&[0, 0, 0, 32]);
    blob.extend_from_slice(&[7u8; 32]);
    use base64::Engine as _;
    let public = format!(
        "ssh-ed25519 {} test",
        base64::engine::general_purpose::STANDARD.encode(&blob)
    );
    let public = public.as_str();
    let r = t
        .post(
            "registerSSHKeyPair",
            &[("name", "k2"), ("publickey", public)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let bad = t
        .call(
            "registerSSHKeyPair",
            &[("name", "k3"), ("publickey", "garbage")],
        )
        .await;
    assert_eq!(bad.status, 431);
    let l = t.ok("listSSHKeyPairs", &[]).await;
    assert_eq!(l["count"], 2);
    assert!(l["sshkeypair"][0].get("privatekey").is_none());
    t.ok("deleteSSHKeyPair", &[("name", "k1")]).await;
    assert_eq!(
        t.call("deleteSSHKeyPair", &[("name", "k1")]).await.status,
        431
    );
}

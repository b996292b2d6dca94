//! The simulator checked by an independent CloudStack client: python `cs` (PyPI `cs`), which
//! signs, encodes and polls async jobs its own way. If `cs` can use the simulator, the
//! simulator speaks CloudStack, not just our client's dialect of it.

use mesostack_e2e::{python_cs, require_tool, which, SimProcess, SIM_SECRET_KEY};
use serde_json::Value;

/// Runs `cs ARGS` against the simulator with the given secret, returning (success, stdout JSON
/// or text, stderr).
fn cs(sim: &SimProcess, secret: &str, args: &[&str]) -> (bool, String, String) {
    let cs = which("cs").expect("checked by the caller");
    let out = python_cs(&cs, &sim.api_url, secret)
        .args(args)
        .output()
        .expect("cs runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("cs printed non-JSON ({e}): {text}"))
}

#[test]
fn python_cs_lists_zones_deploys_a_vm_and_is_refused_with_a_wrong_secret() {
    if require_tool("python cs", which("cs")).is_none() {
        return;
    }
    let sim = SimProcess::start(&["--job-latency-ms", "300"]);

    // listZones: the seeded zone is there.
    let (ok, out, err) = cs(&sim, SIM_SECRET_KEY, &["listZones"]);
    assert!(ok, "cs listZones failed: {err}{out}");
    let zones = json(&out);
    let zone = &zones["zone"][0];
    assert_eq!(zone["name"], "zone001", "{zones}");
    let zone_id = zone["id"].as_str().expect("zone id");

    let (ok, out, err) = cs(
        &sim,
        SIM_SECRET_KEY,
        &["listServiceOfferings", "name=t1.small"],
    );
    assert!(ok, "{err}");
    let offering_id = json(&out)["serviceoffering"][0]["id"]
        .as_str()
        .expect("t1.small id")
        .to_string();
    let (ok, out, err) = cs(
        &sim,
        SIM_SECRET_KEY,
        &[
            "listTemplates",
            "templatefilter=executable",
            "name=Ubuntu 14.04",
        ],
    );
    assert!(ok, "{err}");
    let template_id = json(&out)["template"][0]["id"]
        .as_str()
        .expect("Ubuntu 14.04 id")
        .to_string();
    let (ok, out, err) = cs(&sim, SIM_SECRET_KEY, &["listNetworks"]);
    assert!(ok, "{err}");
    let network_id = json(&out)["network"][0]["id"]
        .as_str()
        .expect("a guest network")
        .to_string();

    // deployVirtualMachine: cs polls queryAsyncJobResult until the job ends and prints its
    // result, the VM, Running.
    let (ok, out, err) = cs(
        &sim,
        SIM_SECRET_KEY,
        &[
            "deployVirtualMachine",
            &format!("zoneid={zone_id}"),
            &format!("serviceofferingid={offering_id}"),
            &format!("templateid={template_id}"),
            &format!("networkids={network_id}"),
            "name=cs-check",
            "displayname=deployed by python cs",
        ],
    );
    assert!(ok, "cs deployVirtualMachine failed: {err}{out}");
    let result = json(&out);
    let vm = result
        .get("virtualmachine")
        .or_else(|| result["jobresult"].get("virtualmachine"))
        .unwrap_or_else(|| panic!("no VM in the job result: {result}"));
    assert_eq!(vm["name"], "cs-check");
    assert_eq!(vm["state"], "Running", "{vm}");
    assert_eq!(vm["displayname"], "deployed by python cs");

    // The same VM, listed through a POST this time.
    let (ok, out, err) = cs(
        &sim,
        SIM_SECRET_KEY,
        &["--post", "listVirtualMachines", "name=cs-check"],
    );
    assert!(ok, "{err}");
    assert_eq!(json(&out)["count"], 1);

    // A wrong secret is refused with CloudStack's 401.
    let (ok, out, err) = cs(&sim, "not-the-secret", &["listZones"]);
    assert!(!ok, "a wrong secret must be refused: {out}");
    let text = format!("{out}{err}");
    assert!(text.contains("401"), "expected HTTP 401, got: {text}");
    assert!(
        text.contains("unable to verify user credentials"),
        "expected CloudStack's text: {text}"
    );

    // The simulator counted what cs asked for.
    let stats = sim.stats();
    assert!(
        stats["requests"]["queryAsyncJobResult"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "cs polled the job: {stats}"
    );
}

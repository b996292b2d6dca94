//! The VPC family with real Terraform (every release found) against a
//! simulator process: for each type, create, an empty second plan, an
//! in-place update where the Go provider updates in place, drift made
//! through the API behind Terraform's back and repaired, import then an
//! empty plan, and a destroy that leaves nothing (counted in the simulator
//! through the API, not taken from Terraform's word). One `terraform init`
//! per release: the types share one configuration.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::Path;

use cloudstack::Params;
use mesostack_e2e::{require_tool, SimProcess};
use tfplugin5::testing::{find_terraform_binaries, CommandOutput, TerraformBinary, Workspace};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-cloudstack");
const SOURCE: &str = "registry.terraform.io/cloudstack/cloudstack";

/// The simulator's API through our client, for drift and counting.
struct Api {
    rt: tokio::runtime::Runtime,
    client: cloudstack::Client,
}

impl Api {
    fn new(sim: &SimProcess) -> Api {
        let cfg = cloudstack::Config::new(
            &sim.api_url,
            cloudstack_sim::DEFAULT_API_KEY,
            cloudstack_sim::DEFAULT_SECRET_KEY,
        );
        Api {
            rt: tokio::runtime::Runtime::new().unwrap(),
            client: cloudstack::Client::new(cfg).unwrap(),
        }
    }

    /// Every object `command` lists under `key`.
    fn list(&self, command: &str, key: &str, params: &[(&str, &str)]) -> Vec<serde_json::Value> {
        let mut p = Params::new().with("listall", "true");
        for (k, v) in params {
            p.set(*k, *v);
        }
        self.rt
            .block_on(self.client.list_all_values(command, key, &p))
            .unwrap()
    }

    /// Runs `command` (waiting for its job), as an operator would behind Terraform's back.
    fn call(&self, command: &str, params: &[(&str, &str)]) {
        let mut p = Params::new();
        for (k, v) in params {
            p.set(*k, *v);
        }
        self.rt
            .block_on(self.client.request_async(command, &p))
            .unwrap();
    }
}

#[track_caller]
fn expect(out: &CommandOutput, code: i32, what: &str) {
    assert_eq!(
        out.code, code,
        "{what}: exit {}\n--- stdout\n{}\n--- stderr\n{}",
        out.code, out.stdout, out.stderr
    );
}

fn binaries() -> Vec<TerraformBinary> {
    let found = find_terraform_binaries();
    let first = found.first().map(|b| b.path.clone());
    if require_tool("terraform", first).is_none() {
        return Vec::new();
    }
    found
}

fn config(url: &str, body: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    cloudstack = {{ source = "cloudstack/cloudstack" }}
  }}
}}
provider "cloudstack" {{
  api_url    = "{url}"
  api_key    = "{key}"
  secret_key = "{secret}"
  timeout    = 120
}}
{body}
"#,
        key = cloudstack_sim::DEFAULT_API_KEY,
        secret = cloudstack_sim::DEFAULT_SECRET_KEY,
    )
}

/// The VPC family's configuration; `vpc_name` is what the in-place update changes.
fn vpc_family(vpc_name: &str) -> String {
    format!(
        r#"
resource "cloudstack_vpc" "vpc" {{
  name         = "{vpc_name}"
  cidr         = "10.20.0.0/16"
  vpc_offering = "Default VPC offering"
  zone         = "zone001"
  tags         = {{ role = "mesos" }}
}}

data "cloudstack_vpc" "found" {{
  filter {{
    name  = "name"
    value = "^${{cloudstack_vpc.vpc.name}}$"
  }}
}}

output "vpc_cidr" {{ value = data.cloudstack_vpc.found.cidr }}
"#
    )
}

/// The VPC with a tier, an ACL list and its rules, and a VPC address; `port` is what the
/// in-place update of the rules changes.
fn vpc_tier(port: u16) -> String {
    vpc_tier_lb(port, "roundrobin")
}

/// [`vpc_tier`] with the load balancer's `algorithm` (what its in-place update changes).
fn vpc_tier_lb(port: u16, algorithm: &str) -> String {
    vpc_family("mesos2")
        + &format!(
            r#"
resource "cloudstack_network_acl" "acl" {{
  name   = "mesos-acl"
  vpc_id = cloudstack_vpc.vpc.id
}}

resource "cloudstack_network_acl_rule" "rules" {{
  acl_id  = cloudstack_network_acl.acl.id
  managed = true
  rule {{
    rule_number  = 10
    cidr_list    = ["0.0.0.0/0"]
    protocol     = "tcp"
    port         = "{port}"
    traffic_type = "ingress"
  }}
  rule {{
    rule_number  = 20
    action       = "deny"
    cidr_list    = ["10.0.0.0/8"]
    protocol     = "all"
    traffic_type = "egress"
  }}
}}

resource "cloudstack_network" "tier" {{
  name             = "masters"
  cidr             = "10.20.1.0/24"
  network_offering = "DefaultIsolatedNetworkOfferingForVpcNetworks"
  vpc_id           = cloudstack_vpc.vpc.id
  acl_id           = cloudstack_network_acl.acl.id
  zone             = "zone001"
}}

resource "cloudstack_ipaddress" "vip" {{
  vpc_id     = cloudstack_vpc.vpc.id
  depends_on = [cloudstack_network.tier]
}}

resource "cloudstack_instance" "master" {{
  name             = "master-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  network_id       = cloudstack_network.tier.id
  expunge          = true
}}

resource "cloudstack_static_nat" "master" {{
  ip_address_id      = cloudstack_ipaddress.vip.id
  virtual_machine_id = cloudstack_instance.master.id
}}

data "cloudstack_network_offering" "tier" {{
  filter {{
    name  = "name"
    value = "ForVpcNetworks$"
  }}
}}

data "cloudstack_ipaddress" "vip" {{
  filter {{
    name  = "ip_address"
    value = "^${{cloudstack_ipaddress.vip.ip_address}}$"
  }}
}}

data "cloudstack_instance" "master" {{
  filter {{
    name  = "display_name"
    value = "^master-0$"
  }}
  depends_on = [cloudstack_instance.master]
}}

output "tier_offering_for_vpc" {{ value = data.cloudstack_network_offering.tier.for_vpc }}
output "vip_vpc" {{ value = data.cloudstack_ipaddress.vip.vpc_id }}
output "master_state" {{ value = data.cloudstack_instance.master.state }}

resource "cloudstack_ipaddress" "lb" {{
  vpc_id     = cloudstack_vpc.vpc.id
  depends_on = [cloudstack_network.tier]
}}

resource "cloudstack_loadbalancer_rule" "marathon" {{
  name          = "marathon"
  ip_address_id = cloudstack_ipaddress.lb.id
  network_id    = cloudstack_network.tier.id
  algorithm     = "{algorithm}"
  private_port  = 8080
  public_port   = 8080
  member_ids    = [cloudstack_instance.master.id]
}}
"#
        )
}

struct Run<'a> {
    ws: Workspace,
    api: &'a Api,
    url: String,
}

impl Run<'_> {
    fn tf(&self, args: &[&str], code: i32, what: &str) -> CommandOutput {
        let mut all = args.to_vec();
        all.push("-no-color");
        let out = self.ws.run(&all).unwrap();
        expect(&out, code, what);
        out
    }

    fn apply(&self, body: &str, what: &str) {
        self.ws.write("main.tf", &config(&self.url, body)).unwrap();
        self.tf(&["apply", "-auto-approve"], 0, what);
    }

    fn plan_clean(&self, what: &str) {
        self.tf(&["plan", "-detailed-exitcode"], 0, what);
    }

    fn plan_changes(&self, what: &str) -> String {
        self.tf(&["plan", "-detailed-exitcode"], 2, what).stdout
    }

    fn state_id(&self, addr: &str) -> String {
        let out = self.tf(&["state", "show", addr], 0, "state show");
        out.stdout
            .lines()
            .find_map(|l| {
                let rest = l
                    .trim()
                    .strip_prefix("id")?
                    .trim_start()
                    .strip_prefix('=')?;
                Some(rest.trim().trim_matches('"').to_string())
            })
            .unwrap()
    }

    /// Forgets `addr`, imports `import_id`, and checks the next plan is empty.
    fn reimport(&self, addr: &str, import_id: &str) {
        self.tf(&["state", "rm", addr], 0, "state rm");
        self.tf(&["import", addr, import_id], 0, &format!("import {addr}"));
        self.plan_clean(&format!("plan after importing {addr}"));
    }
}

#[test]
fn vpc_family_lifecycle() {
    for tf in &binaries() {
        println!("terraform {}", tf.version);
        let sim = SimProcess::start::<&str>(&[]);
        let api = Api::new(&sim);
        let ws = Workspace::new(tf, Path::new(BIN), SOURCE, env!("CARGO_PKG_VERSION")).unwrap();
        let run = Run {
            ws,
            api: &api,
            url: sim.api_url.clone(),
        };
        run.ws
            .write("main.tf", &config(&run.url, &vpc_family("mesos")))
            .unwrap();
        run.tf(&["init"], 0, "init");
        run.apply(&vpc_family("mesos"), "create");
        run.plan_clean("second plan");
        let vpcs = run.api.list("listVPCs", "vpc", &[]);
        assert_eq!(vpcs.len(), 1, "{vpcs:?}");
        assert_eq!(vpcs[0]["tags"][0]["value"], "mesos");
        let out = run.tf(&["output", "-raw", "vpc_cidr"], 0, "output");
        assert_eq!(out.stdout.trim(), "10.20.0.0/16");

        // in place: the name (the VPC keeps its id)
        let id = run.state_id("cloudstack_vpc.vpc");
        run.apply(&vpc_family("mesos2"), "rename");
        assert_eq!(run.state_id("cloudstack_vpc.vpc"), id);
        let vpcs = run.api.list("listVPCs", "vpc", &[("id", &id)]);
        assert_eq!(vpcs[0]["name"], "mesos2");

        // drift: renamed, then deleted behind Terraform's back
        run.api
            .call("updateVPC", &[("id", &id), ("name", "someone-else")]);
        assert!(run
            .plan_changes("plan after rename")
            .contains("someone-else"));
        run.apply(&vpc_family("mesos2"), "repair rename");
        assert_eq!(
            run.api.list("listVPCs", "vpc", &[("id", &id)])[0]["name"],
            "mesos2"
        );
        run.api.call("deleteVPC", &[("id", &id)]);
        run.plan_changes("plan after delete");
        run.apply(&vpc_family("mesos2"), "recreate");
        let id = run.state_id("cloudstack_vpc.vpc");
        assert_eq!(run.api.list("listVPCs", "vpc", &[]).len(), 1);

        // import by id
        run.reimport("cloudstack_vpc.vpc", &id);

        tier_acls_and_rules(&run);

        run.tf(&["destroy", "-auto-approve"], 0, "destroy");
        assert!(run.api.list("listVPCs", "vpc", &[]).is_empty());
        let lists = run.api.list("listNetworkACLLists", "networkacllist", &[]);
        assert!(
            lists.iter().all(|l| l.get("vpcid").is_none()),
            "ACL lists left: {lists:?}"
        );
        assert!(run
            .api
            .list("listNetworkACLs", "networkacl", &[])
            .is_empty());
        let nets = run.api.list("listNetworks", "network", &[]);
        assert!(
            nets.iter().all(|n| n.get("vpcid").is_none()),
            "tiers left: {nets:?}"
        );
        let left = run
            .api
            .list("listPublicIpAddresses", "publicipaddress", &[]);
        assert!(
            left.iter().all(|ip| ip.get("vpcid").is_none()),
            "VPC addresses left: {left:?}"
        );
    }
}

/// ACL list, rules and a tier inside the VPC: create, clean plan, a rule changed in place
/// (port), rules changed and deleted behind Terraform's back and repaired, imports.
fn tier_acls_and_rules(run: &Run<'_>) {
    run.apply(&vpc_tier(8080), "create tier, ACL and rules");
    run.plan_clean("plan after creating the tier");
    let acl = run.state_id("cloudstack_network_acl.acl");
    let items = |run: &Run<'_>| {
        run.api
            .list("listNetworkACLs", "networkacl", &[("aclid", &acl)])
    };
    let now = items(run);
    assert_eq!(now.len(), 2, "{now:?}");
    let tier = run.state_id("cloudstack_network.tier");
    let net = run.api.list("listNetworks", "network", &[("id", &tier)]);
    assert_eq!(net[0]["aclid"], acl.as_str());
    let vip = run.state_id("cloudstack_ipaddress.vip");
    assert_eq!(
        run.api
            .list("listPublicIpAddresses", "publicipaddress", &[("id", &vip)])[0]["vpcid"],
        run.state_id("cloudstack_vpc.vpc").as_str()
    );

    // data sources
    let out = |name: &str| run.tf(&["output", "-raw", name], 0, name).stdout;
    assert_eq!(out("tier_offering_for_vpc"), "true");
    assert_eq!(out("vip_vpc"), run.state_id("cloudstack_vpc.vpc"));
    assert_eq!(out("master_state"), "Running");

    // in place: the port of rule 10
    run.apply(&vpc_tier(8081), "change a port");
    let now = items(run);
    let web: Vec<_> = now.iter().filter(|i| i["number"] == 10).collect();
    assert_eq!(web.len(), 1, "{now:?}");
    assert_eq!(web[0]["startport"], "8081");

    // drift: an item allowed → denied, another deleted, behind Terraform's back
    let web_id = web[0]["id"].as_str().unwrap().to_string();
    run.api.call(
        "updateNetworkACLItem",
        &[("id", &web_id), ("action", "Deny")],
    );
    let deny = now.iter().find(|i| i["number"] == 20).unwrap();
    run.api
        .call("deleteNetworkACL", &[("id", deny["id"].as_str().unwrap())]);
    run.plan_changes("plan after ACL drift");
    run.apply(&vpc_tier(8081), "repair the rules");
    run.plan_clean("plan after repairing the rules");
    let now = items(run);
    assert_eq!(now.len(), 2, "{now:?}");
    let allow = now.iter().find(|i| i["number"] == 10).unwrap();
    assert_eq!(allow["action"], "Allow");

    // drift: the tier put behind CloudStack's default_allow list behind Terraform's back
    let tier = run.state_id("cloudstack_network.tier");
    let allow_all = run
        .api
        .list("listNetworkACLLists", "networkacllist", &[])
        .into_iter()
        .find(|l| l["name"] == "default_allow")
        .expect("CloudStack's default_allow list");
    run.api.call(
        "replaceNetworkACLList",
        &[
            ("networkid", &tier),
            ("aclid", allow_all["id"].as_str().unwrap()),
        ],
    );
    let tier_acl = |run: &Run<'_>| {
        run.api
            .list("listNetworks", "network", &[("id", &tier)])
            .remove(0)["aclid"]
            .clone()
    };
    assert_eq!(tier_acl(run), allow_all["id"]);
    run.plan_changes("plan after the tier's ACL was replaced");
    run.apply(&vpc_tier(8081), "put the tier back behind its ACL");
    assert_eq!(tier_acl(run), acl.as_str());
    run.plan_clean("plan after repairing the tier's ACL");

    // imports: the tier (its acl_id read back, so the plan is empty), the list by
    // id, the rules by list id
    run.reimport("cloudstack_network.tier", &tier);
    run.reimport("cloudstack_network_acl.acl", &acl);
    run.reimport("cloudstack_network_acl_rule.rules", &acl);

    // static NAT: on, turned off behind Terraform's back and back on, imported
    let ip = |run: &Run<'_>| {
        run.api
            .list("listPublicIpAddresses", "publicipaddress", &[("id", &vip)])
            .remove(0)
    };
    let vm = run.state_id("cloudstack_instance.master");
    assert_eq!(ip(run)["isstaticnat"], true);
    assert_eq!(ip(run)["virtualmachineid"], vm.as_str());
    run.api.call("disableStaticNat", &[("ipaddressid", &vip)]);
    run.plan_changes("plan after static NAT was disabled");
    run.apply(&vpc_tier(8081), "re-enable static NAT");
    assert_eq!(ip(run)["isstaticnat"], true);
    run.reimport("cloudstack_static_nat.master", &vip);

    // load balancer: algorithm in place, a member removed behind Terraform's back, import
    let lb = run.state_id("cloudstack_loadbalancer_rule.marathon");
    let rule = |run: &Run<'_>| {
        run.api
            .list("listLoadBalancerRules", "loadbalancerrule", &[("id", &lb)])
            .remove(0)
    };
    let members = |run: &Run<'_>| {
        run.api.list(
            "listLoadBalancerRuleInstances",
            "loadbalancerruleinstance",
            &[("id", &lb)],
        )
    };
    assert_eq!(rule(run)["algorithm"], "roundrobin");
    assert_eq!(members(run).len(), 1);
    run.apply(&vpc_tier_lb(8081, "leastconn"), "change the algorithm");
    assert_eq!(run.state_id("cloudstack_loadbalancer_rule.marathon"), lb);
    assert_eq!(rule(run)["algorithm"], "leastconn");
    run.api.call(
        "removeFromLoadBalancerRule",
        &[("id", &lb), ("virtualmachineids", &vm)],
    );
    run.plan_changes("plan after a member was removed");
    run.apply(&vpc_tier_lb(8081, "leastconn"), "re-assign the member");
    assert_eq!(members(run).len(), 1);
    run.reimport("cloudstack_loadbalancer_rule.marathon", &lb);
}

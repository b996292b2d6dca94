//! Real Terraform (every release found) driving the provider against one in-process
//! simulator per release, one `terraform init` shared by every scenario: affinity groups with
//! anti-affinity placement (create, empty plan, the capacity error with nothing left behind,
//! drift repaired, import, destroy counted in the simulator); data disks and volumes
//! (`cloudstack_disk`, `cloudstack_volume`, `cloudstack_attach_volume`, data source
//! `cloudstack_volume`): attach, resize in place, the shrink guard, delete protection,
//! detached behind Terraform's back and attached again, import, destroy; registered user data (resource,
//! data source, an instance's `userdata_id` read back, refused deletion while in use);
//! security groups (and the simulator's rule authorization); data source
//! `cloudstack_ssh_keypair`; projects (resource, data source, an affinity group inside one:
//! hidden from lists without its project id, imported as `<project>/<id>`).

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod support;

use support::*;
use tfplugin5::testing::Workspace;

const MASTERS: &str = r#"
resource "cloudstack_affinity_group" "masters" {
  name = "masters"
  type = "host anti-affinity"
}

resource "cloudstack_instance" "master" {
  count              = COUNT
  name               = "master-${count.index}"
  template           = "Ubuntu 14.04"
  service_offering   = "t1.small"
  zone               = "zone001"
  affinity_group_ids = [cloudstack_affinity_group.masters.id]
  expunge            = true
}
"#;

fn write(ws: &Workspace, sim: &Sim, body: &str) {
    let main = format!(
        "{}{body}",
        provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
    );
    ws.write("main.tf", &main).unwrap();
}

/// Terraform wraps diagnostics: the text with every run of whitespace as one space.
fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn apply(ws: &Workspace, what: &str) -> tfplugin5::testing::CommandOutput {
    let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, what);
    out
}

/// Host anti-affinity over the seeded zone's three hosts.
fn affinity_group(ws: &Workspace, sim: &Sim) {
    let seed = sim.sim.world();
    write(ws, sim, &MASTERS.replace("COUNT", "3"));
    apply(ws, "apply affinity group + 3 masters");
    let w = sim.sim.world();
    assert_eq!(w.affinity_groups.len(), 1);
    let group = w.affinity_groups[0].clone();
    assert_eq!(group.description.as_deref(), Some("masters"));
    let mut hosts: Vec<String> = w
        .virtual_machines
        .iter()
        .filter(|v| v.name.starts_with("master-"))
        .map(|v| {
            assert_eq!(v.affinitygroupids, vec![group.id.clone()]);
            v.hostid.clone().unwrap()
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    assert_eq!(
        hosts.len(),
        3,
        "anti-affinity puts each master on its own host"
    );
    plan_is_clean(ws, "plan after apply");

    // a fourth member has no host left: CloudStack's capacity error, no VM left behind
    write(ws, sim, &MASTERS.replace("COUNT", "4"));
    let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 1, "apply of a 4th anti-affine master");
    assert!(
        flat(&out.stderr).contains("error 533")
            && flat(&out.stderr).contains("there may not be sufficient capacity to follow them"),
        "{}",
        out.stderr
    );
    let w = sim.sim.world();
    assert_eq!(
        w.virtual_machines.len(),
        seed.virtual_machines.len() + 3,
        "the failed VM was expunged"
    );
    write(ws, sim, &MASTERS.replace("COUNT", "3"));
    plan_is_clean(ws, "plan back at 3 masters");

    // drift: the group is deleted behind Terraform's back (members lose it)
    sim.api(|c| async move { c.delete_affinity_group(&group.id, None).await })
        .unwrap();
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 2, "plan after the group was deleted");
    assert!(
        out.stdout.contains("1 to add, 3 to change, 0 to destroy"),
        "{}",
        out.stdout
    );
    apply(ws, "apply repairs the group and the memberships");
    let w = sim.sim.world();
    assert_eq!(w.affinity_groups.len(), 1);
    let group = w.affinity_groups[0].clone();
    let members = w
        .virtual_machines
        .iter()
        .filter(|v| v.affinitygroupids == vec![group.id.clone()] && v.state == "Running")
        .count();
    assert_eq!(members, 3);
    plan_is_clean(ws, "plan after repair");

    // import by id, then nothing to change
    let addr = "cloudstack_affinity_group.masters";
    reimport(ws, addr, &group.id);
    plan_is_clean(ws, "plan after import");

    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "destroy");
    let w = sim.sim.world();
    assert!(w.affinity_groups.is_empty());
    assert_eq!(w.virtual_machines.len(), seed.virtual_machines.len());
    assert_eq!(w.volumes.len(), seed.volumes.len());
}

const DISKS: &str = r#"
resource "cloudstack_instance" "agent" {
  name             = "agent-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  expunge          = true
}

resource "cloudstack_disk" "data" {
  name               = "agent-0-data"
  disk_offering      = "Custom"
  size               = SIZE
  zone               = "zone001"
  attach             = true
  virtual_machine_id = cloudstack_instance.agent.id
  tags               = { role = "data" }
}

resource "cloudstack_volume" "spare" {
  name             = "spare"
  disk_offering_id = "6c1d3b2a-8e4f-4a7c-b5d9-0e2f1a3c4b50"
  zone_id          = "5ea72245-fbe5-4646-9a88-277b81facfbe"
}

resource "cloudstack_attach_volume" "spare" {
  volume_id          = cloudstack_volume.spare.id
  virtual_machine_id = cloudstack_instance.agent.id
}

data "cloudstack_volume" "spare" {
  filter {
    name  = "name"
    value = "^spare$"
  }
  depends_on = [cloudstack_volume.spare]
}

output "spare_offering" { value = data.cloudstack_volume.spare.disk_offering_id }
"#;

const GIB: i64 = 1 << 30;

fn volume(sim: &Sim, name: &str) -> cloudstack_sim::state::Volume {
    sim.sim
        .world()
        .volumes
        .into_iter()
        .find(|v| v.name == name)
        .unwrap()
}

/// A custom-size disk and a fixed-size volume on one agent.
fn disks(ws: &Workspace, sim: &Sim) {
    let seed = sim.sim.world();
    write(ws, sim, &DISKS.replace("SIZE", "10"));
    let out = apply(ws, "apply disks");
    assert!(
        out.stdout
            .contains("spare_offering = \"6c1d3b2a-8e4f-4a7c-b5d9-0e2f1a3c4b50\""),
        "{}",
        out.stdout
    );
    let vm = sim
        .sim
        .world()
        .virtual_machines
        .into_iter()
        .find(|v| v.name == "agent-0")
        .unwrap();
    let data = volume(sim, "agent-0-data");
    let spare = volume(sim, "spare");
    assert_eq!(data.size, 10 * GIB);
    assert_eq!(spare.size, 5 * GIB);
    for v in [&data, &spare] {
        assert_eq!(v.virtualmachineid.as_deref(), Some(vm.id.as_str()));
        assert_eq!(v.kind, "DATADISK");
    }
    assert_ne!(data.deviceid, spare.deviceid);
    plan_is_clean(ws, "plan after apply");

    // CloudStack refuses to delete an attached volume
    let id = data.id.clone();
    let refused = sim
        .api(|c| async move { c.delete_volume(&id).await })
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("Please specify a volume that is not attached to any VM."),
        "{refused}"
    );

    // resize in place
    write(ws, sim, &DISKS.replace("SIZE", "20"));
    let out = apply(ws, "apply a bigger disk");
    assert!(out.stdout.contains("1 changed"), "{}", out.stdout);
    let resized = volume(sim, "agent-0-data");
    assert_eq!(
        (resized.id.as_str(), resized.size),
        (data.id.as_str(), 20 * GIB)
    );
    plan_is_clean(ws, "plan after resize");

    // shrinking needs shrink_ok: the error says so and nothing changes
    write(ws, sim, &DISKS.replace("SIZE", "15"));
    let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 1, "apply of a smaller disk");
    assert!(flat(&out.stderr).contains("shrinkok"), "{}", out.stderr);
    assert_eq!(volume(sim, "agent-0-data").size, 20 * GIB);
    write(ws, sim, &DISKS.replace("SIZE", "20"));

    // drift: both volumes detached behind Terraform's back are attached again
    for id in [data.id.clone(), spare.id.clone()] {
        sim.api(|c| async move { c.detach_volume(&id).await })
            .unwrap();
    }
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 2, "plan after the volumes were detached");
    assert!(
        out.stdout.contains("1 to add, 1 to change, 0 to destroy"),
        "{}",
        out.stdout
    );
    apply(ws, "apply attaches them again");
    for name in ["agent-0-data", "spare"] {
        assert_eq!(
            volume(sim, name).virtualmachineid.as_deref(),
            Some(vm.id.as_str())
        );
    }
    plan_is_clean(ws, "plan after repair");

    // import each, then nothing to change
    for (addr, id) in [
        ("cloudstack_disk.data", data.id.as_str()),
        ("cloudstack_volume.spare", spare.id.as_str()),
        ("cloudstack_attach_volume.spare", spare.id.as_str()),
    ] {
        reimport(ws, addr, id);
    }
    plan_is_clean(ws, "plan after import");

    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "destroy");
    let w = sim.sim.world();
    assert_eq!(w.volumes.len(), seed.volumes.len(), "{:?}", w.volumes);
    assert_eq!(w.virtual_machines.len(), seed.virtual_machines.len());
}

const PROTECTED_DISK: &str = r#"
resource "cloudstack_disk" "keep" {
  name              = "keep"
  disk_offering     = "Small"
  zone              = "zone001"
  delete_protection = PROTECT
}
"#;

/// `delete_protection` set with `updateVolume`; CloudStack refuses to delete the protected
/// disk, the error names the attribute; turned off in place, the disk can be destroyed.
fn disk_protection(ws: &Workspace, sim: &Sim) {
    let seed = sim.sim.world();
    write(ws, sim, &PROTECTED_DISK.replace("PROTECT", "true"));
    apply(ws, "apply a protected disk");
    assert!(volume(sim, "keep").deleteprotection);
    assert_eq!(sim.sim.stats()["requests"]["updateVolume"], 1);
    plan_is_clean(ws, "plan after a protected disk");

    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 1, "destroy of a protected disk");
    let err = flat(&out.stderr);
    assert!(
        err.contains("has delete protection enabled and cannot be deleted")
            && err.contains("delete_protection = false"),
        "{}",
        out.stderr
    );
    assert!(volume(sim, "keep").deleteprotection, "still there");

    write(ws, sim, &PROTECTED_DISK.replace("PROTECT", "false"));
    let out = apply(ws, "apply turns the protection off");
    assert!(out.stdout.contains("1 changed"), "{}", out.stdout);
    assert!(!volume(sim, "keep").deleteprotection);
    plan_is_clean(ws, "plan after the protection is off");
    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "destroy");
    assert_eq!(sim.sim.world().volumes.len(), seed.volumes.len());
}

const USER_DATA: &str = r##"
resource "cloudstack_user_data" "init" {
  name     = "agent-init"
  userdata = base64encode("#!/bin/sh\necho $${role}\n")
  params   = ["role"]
}

resource "cloudstack_user_data" "spare" {
  name     = "spare-init"
  userdata = base64encode("#!/bin/sh\ntrue\n")
}

resource "cloudstack_instance" "web" {
  name             = "web-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  userdata_id      = cloudstack_user_data.init.id
  expunge          = true
}

data "cloudstack_user_data" "init" {
  filter {
    name  = "name"
    value = "^agent-init$"
  }
  depends_on = [cloudstack_user_data.init]
}

output "init_content" { value = data.cloudstack_user_data.init.userdata }
output "init_params" { value = data.cloudstack_user_data.init.params }
"##;

/// Registered user data used by an instance.
fn user_data(ws: &Workspace, sim: &Sim) {
    let seed = sim.sim.world();
    write(ws, sim, USER_DATA);
    let out = apply(ws, "apply user data");
    assert!(
        out.stdout.contains("init_params = \"role\""),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("echo ${role}"), "{}", out.stdout);
    let w = sim.sim.world();
    let init = w
        .user_data
        .iter()
        .find(|u| u.name == "agent-init")
        .unwrap()
        .clone();
    let spare = w
        .user_data
        .iter()
        .find(|u| u.name == "spare-init")
        .unwrap()
        .clone();
    let vm = w
        .virtual_machines
        .iter()
        .find(|v| v.name == "web-0")
        .unwrap();
    assert_eq!(vm.userdataid.as_deref(), Some(init.id.as_str()));
    plan_is_clean(ws, "plan after apply");

    // CloudStack refuses to delete user data an instance uses
    let id = init.id.clone();
    let refused = sim
        .api(|c| async move { c.delete_user_data(&id, None).await })
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("is being used by some instances"),
        "{refused}"
    );

    // drift: unused user data deleted behind Terraform's back is registered again
    let id = spare.id.clone();
    sim.api(|c| async move { c.delete_user_data(&id, None).await })
        .unwrap();
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 2, "plan after the user data was deleted");
    assert!(
        out.stdout.contains("1 to add, 0 to change"),
        "{}",
        out.stdout
    );
    apply(ws, "apply registers it again");
    plan_is_clean(ws, "plan after repair");

    let addr = "cloudstack_user_data.init";
    reimport(ws, addr, &init.id);
    plan_is_clean(ws, "plan after import");

    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "destroy");
    let w = sim.sim.world();
    assert!(w.user_data.is_empty());
    assert_eq!(w.virtual_machines.len(), seed.virtual_machines.len());
}

const SECURITY_GROUPS: &str = r#"
resource "cloudstack_security_group" "web" {
  name        = "web"
  description = "web servers"
}

resource "cloudstack_security_group" "plain" {
  name = "plain"
}
"#;

/// Security groups; their rules through the API.
fn security_groups(ws: &Workspace, sim: &Sim) {
    let seed = sim.sim.world();
    write(ws, sim, SECURITY_GROUPS);
    apply(ws, "apply security groups");
    let w = sim.sim.world();
    let group = |name: &str| {
        w.security_groups
            .iter()
            .find(|g| g.name == name)
            .unwrap()
            .clone()
    };
    let web = group("web");
    assert_eq!(web.description.as_deref(), Some("web servers"));
    assert_eq!(group("plain").description.as_deref(), Some("plain"));
    plan_is_clean(ws, "plan after apply");

    // rules: one per CIDR; the same rule again fails the job as in CloudStack
    let rule = cloudstack::Params::new()
        .with("securitygroupid", &web.id)
        .with("protocol", "tcp")
        .with("startport", "22")
        .with("endport", "22")
        .with("cidrlist", "10.0.0.0/8,192.168.0.0/16");
    let r = rule.clone();
    let v = sim
        .api(|c| async move { c.request_async("authorizeSecurityGroupIngress", &r).await })
        .unwrap();
    assert_eq!(
        v["securitygroup"]["ingressrule"].as_array().unwrap().len(),
        2
    );
    let again = sim
        .api(|c| async move {
            c.request_async("authorizeSecurityGroupIngress", &rule)
                .await
        })
        .unwrap_err();
    assert!(
        again
            .to_string()
            .contains("Failed to authorize security group ingress rule(s)"),
        "{again}"
    );
    // the account's default group stays
    let default = cloudstack::Params::new().with("name", "default");
    let refused = sim
        .api(|c| async move { c.request("deleteSecurityGroup", &default).await })
        .unwrap_err();
    assert!(
        refused.to_string().contains("cannot be deleted"),
        "{refused}"
    );

    // drift: a group deleted behind Terraform's back is created again
    let id = web.id.clone();
    sim.api(|c| async move { c.delete_security_group(&id, None).await })
        .unwrap();
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 2, "plan after the group was deleted");
    assert!(
        out.stdout.contains("1 to add, 0 to change"),
        "{}",
        out.stdout
    );
    apply(ws, "apply creates it again");
    plan_is_clean(ws, "plan after repair");

    let addr = "cloudstack_security_group.plain";
    let plain = group("plain");
    reimport(ws, addr, &plain.id);
    plan_is_clean(ws, "plan after import");

    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "destroy");
    let names: Vec<String> = sim
        .sim
        .world()
        .security_groups
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names.len(), seed.security_groups.len(), "{names:?}");
}

const KEYPAIR_LOOKUP: &str = r#"
resource "cloudstack_ssh_keypair" "k" {
  name = "lookup-key"
}

data "cloudstack_ssh_keypair" "k" {
  filter {
    name  = "name"
    value = "^lookup-key$"
  }
  depends_on = [cloudstack_ssh_keypair.k]
}

output "same" { value = data.cloudstack_ssh_keypair.k.fingerprint == cloudstack_ssh_keypair.k.fingerprint }
output "id" { value = data.cloudstack_ssh_keypair.k.id }
"#;

/// The key pair data source finds the pair by a name filter.
fn keypair_lookup(ws: &Workspace, sim: &Sim) {
    write(ws, sim, KEYPAIR_LOOKUP);
    let out = apply(ws, "apply key pair and its lookup");
    assert!(out.stdout.contains("same = true"), "{}", out.stdout);
    assert!(out.stdout.contains("id = \"lookup-key\""), "{}", out.stdout);
    plan_is_clean(ws, "plan after apply");
    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "destroy");
    assert!(sim.sim.world().ssh_keypairs.is_empty());
}

const PROJECT: &str = r#"
resource "cloudstack_project" "p" {
  name        = "mesos"
  displaytext = "DISPLAY"
}

resource "cloudstack_affinity_group" "pg" {
  name    = "p-masters"
  type    = "host anti-affinity"
  project = cloudstack_project.p.name
}

data "cloudstack_project" "p" {
  filter {
    name  = "name"
    value = "^mesos$"
  }
  depends_on = [cloudstack_project.p]
}

output "ds_state" { value = data.cloudstack_project.p.state }
"#;

/// A project with an affinity group in it.
fn projects(ws: &Workspace, sim: &Sim) {
    write(ws, sim, &PROJECT.replace("DISPLAY", "Mesos cluster"));
    let out = apply(ws, "apply project");
    assert!(
        out.stdout.contains("ds_state = \"Active\""),
        "{}",
        out.stdout
    );
    let w = sim.sim.world();
    let project = w.projects[0].clone();
    let group = w.affinity_groups[0].clone();
    assert_eq!(group.projectid.as_deref(), Some(project.id.as_str()));
    // objects of a project are listed only with its id (a list by id finds it anyway, as
    // CloudStack's ListProjectResourcesCriteria says)
    let (gid, pid) = (group.id.clone(), project.id.clone());
    let (plain, scoped) = sim
        .api(|c| async move {
            let plain = c
                .list_affinity_groups(&cloudstack::Params::new().with("listall", "true"))
                .await?
                .into_iter()
                .filter(|g| g.id == gid)
                .collect::<Vec<_>>();
            let scoped = c
                .list_affinity_groups(
                    &cloudstack::Params::new()
                        .with("id", &gid)
                        .with("projectid", &pid),
                )
                .await?;
            Ok((plain.len(), scoped.len()))
        })
        .unwrap();
    assert_eq!((plain, scoped), (0, 1));
    plan_is_clean(ws, "plan after apply");

    // in place: displaytext; drift: a rename behind Terraform's back is undone
    write(ws, sim, &PROJECT.replace("DISPLAY", "Mesos"));
    let out = apply(ws, "apply displaytext");
    assert!(out.stdout.contains("1 changed"), "{}", out.stdout);
    assert_eq!(sim.sim.world().projects[0].displaytext, "Mesos");
    assert_eq!(sim.sim.world().projects[0].id, project.id);
    let id = project.id.clone();
    sim.api(|c| async move {
        c.update_project(&id, &cloudstack::Params::new().with("name", "renamed"))
            .await
    })
    .unwrap();
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 2, "plan after the rename");
    apply(ws, "apply undoes the rename");
    assert_eq!(sim.sim.world().projects[0].name, "mesos");
    plan_is_clean(ws, "plan after repair");

    for (addr, id) in [
        (
            "cloudstack_affinity_group.pg",
            format!("mesos/{}", group.id),
        ),
        ("cloudstack_project.p", project.id.clone()),
    ] {
        reimport(ws, addr, &id);
    }
    plan_is_clean(ws, "plan after import");

    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "destroy");
    let w = sim.sim.world();
    assert!(w.projects.is_empty() && w.affinity_groups.is_empty());
}

#[test]
fn prov_b_resources() {
    for tf in &binaries() {
        println!("terraform {}", tf.version);
        let sim = Sim::start();
        let ws = workspace(
            tf,
            &provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY),
        );
        affinity_group(&ws, &sim);
        disks(&ws, &sim);
        disk_protection(&ws, &sim);
        user_data(&ws, &sim);
        security_groups(&ws, &sim);
        keypair_lookup(&ws, &sim);
        projects(&ws, &sim);
    }
}

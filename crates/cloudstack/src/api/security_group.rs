//! Security groups: `createSecurityGroup` (sync, recovered by name), `deleteSecurityGroup`,
//! `listSecurityGroups`.

use serde::{Deserialize, Serialize};

use crate::{client::Client, error::Result, model::lenient, params::Params};

/// One ingress or egress rule of a security group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SecurityGroupRule {
    #[serde(deserialize_with = "lenient::string")]
    pub ruleid: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub protocol: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub startport: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub endport: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub icmptype: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub icmpcode: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cidr: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub securitygroupname: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub account: Option<String>,
}

/// A security group (`listSecurityGroups` → `securitygroup`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SecurityGroup {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub projectid: Option<String>,
    #[serde(default)]
    pub ingressrule: Vec<SecurityGroupRule>,
    #[serde(default)]
    pub egressrule: Vec<SecurityGroupRule>,
}

impl Client {
    /// `createSecurityGroup`; an unclear failure is recovered by finding the group of that
    /// name (in the project, if any).
    pub async fn create_security_group(
        &self,
        name: &str,
        description: Option<&str>,
        project_id: Option<&str>,
    ) -> Result<SecurityGroup> {
        const CMD: &str = "createSecurityGroup";
        let mut params = Params::new().with("name", name);
        params
            .set_opt("description", description)
            .set_opt("projectid", project_id);
        let mut scope = Params::new().with("securitygroupname", name);
        match project_id {
            Some(p) => scope.set("projectid", p),
            None => scope.set("listall", "true"),
        };
        let lookup = || async {
            let groups = self.list_security_groups(&scope).await?;
            Ok(groups
                .into_iter()
                .find(|g| g.name.as_deref() == Some(name))
                .and_then(|g| serde_json::to_value(g).ok()))
        };
        let v = self
            .create_with_recovery(CMD, &params, Some("securitygroup"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `authorizeSecurityGroupIngress` of `protocol` on ports `start`–`end` from `cidrs`,
    /// waiting for the job; answers the group with the new rules. An unclear failure is
    /// recovered by finding those rules in the group (CloudStack fails a second authorize of
    /// rules that all exist).
    pub async fn authorize_security_group_ingress(
        &self,
        group_id: &str,
        protocol: &str,
        (start, end): (u16, u16),
        cidrs: &[String],
        project_id: Option<&str>,
    ) -> Result<SecurityGroup> {
        const CMD: &str = "authorizeSecurityGroupIngress";
        let mut params = Params::new()
            .with("securitygroupid", group_id)
            .with("protocol", protocol)
            .with("startport", start.to_string())
            .with("endport", end.to_string());
        params
            .set_list("cidrlist", cidrs)
            .set_opt("projectid", project_id);
        let has_rules = |g: &SecurityGroup| {
            cidrs.iter().all(|c| {
                g.ingressrule.iter().any(|r| {
                    r.protocol
                        .as_deref()
                        .is_some_and(|p| p.eq_ignore_ascii_case(protocol))
                        && r.startport == Some(i64::from(start))
                        && r.endport == Some(i64::from(end))
                        && r.cidr.as_deref() == Some(c.as_str())
                })
            })
        };
        let lookup = || async {
            let mut scope = Params::new().with("id", group_id);
            scope.set_opt("projectid", project_id);
            let groups = self.list_security_groups(&scope).await?;
            Ok(groups
                .into_iter()
                .find(|g| g.id == group_id && has_rules(g))
                .and_then(|g| serde_json::to_value(g).ok()))
        };
        let v = self
            .create_with_recovery(CMD, &params, Some("securitygroup"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `deleteSecurityGroup` by id (sync; a missing one is a not-found error).
    pub async fn delete_security_group(&self, id: &str, project_id: Option<&str>) -> Result<()> {
        let mut p = Params::new().with("id", id);
        p.set_opt("projectid", project_id);
        self.request("deleteSecurityGroup", &p).await.map(|_| ())
    }

    /// `listSecurityGroups`, all pages.
    pub async fn list_security_groups(&self, params: &Params) -> Result<Vec<SecurityGroup>> {
        self.list_all("listSecurityGroups", "securitygroup", params)
            .await
    }

    /// One security group by id, also among every project's when `any_project`; `None` when
    /// it is gone.
    pub async fn get_security_group(
        &self,
        id: &str,
        any_project: bool,
    ) -> Result<Option<SecurityGroup>> {
        self.get_by_id(
            ("listSecurityGroups", "securitygroup"),
            id,
            any_project,
            |g: &SecurityGroup| g.id.as_str(),
        )
        .await
    }
}

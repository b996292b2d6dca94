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
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub account: Option<String>,
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

/// One rule to authorize on a security group: one source (a CIDR or another group) and one
/// port range, ICMP type/code or whole protocol, as CloudStack stores it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthorizeSecurityGroupRule {
    /// The group the rule goes on.
    pub group_id: String,
    /// Egress (`authorizeSecurityGroupEgress`) instead of ingress.
    pub egress: bool,
    /// `tcp`, `udp`, `icmp`, `all` or a protocol number.
    pub protocol: String,
    /// Source (ingress) or destination (egress) CIDR.
    pub cidr: Option<String>,
    /// Instead of a CIDR: `(account, group name)` of the group whose members are allowed.
    pub user_group: Option<(String, String)>,
    /// Start and end port (tcp/udp).
    pub ports: Option<(u16, u16)>,
    /// ICMP type and code (icmp).
    pub icmp: Option<(i64, i64)>,
}

impl AuthorizeSecurityGroupRule {
    fn command(&self) -> &'static str {
        if self.egress {
            "authorizeSecurityGroupEgress"
        } else {
            "authorizeSecurityGroupIngress"
        }
    }

    fn params(&self) -> Params {
        let mut p = Params::new()
            .with("securitygroupid", &self.group_id)
            .with("protocol", &self.protocol);
        p.set_opt("cidrlist", self.cidr.as_deref());
        if let Some((account, group)) = &self.user_group {
            p.set("usersecuritygrouplist[0].account", account)
                .set("usersecuritygrouplist[0].group", group);
        }
        if let Some((s, e)) = self.ports {
            p.set("startport", s.to_string())
                .set("endport", e.to_string());
        }
        if let Some((t, c)) = self.icmp {
            p.set("icmptype", t.to_string())
                .set("icmpcode", c.to_string());
        }
        p
    }

    /// Whether CloudStack's `rule` is this one.
    pub fn matches(&self, rule: &SecurityGroupRule) -> bool {
        let port = |v: Option<i64>| v.and_then(|x| u16::try_from(x).ok());
        let same_ports = match self.ports {
            Some((s, e)) => port(rule.startport) == Some(s) && port(rule.endport) == Some(e),
            None => true,
        };
        let same_icmp = match self.icmp {
            Some((t, c)) => rule.icmptype == Some(t) && rule.icmpcode == Some(c),
            None => true,
        };
        rule.protocol
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(&self.protocol))
            && same_ports
            && same_icmp
            && rule.cidr == self.cidr
            && rule.securitygroupname.as_deref() == self.user_group.as_ref().map(|g| g.1.as_str())
    }

    /// The rule among `group`'s rules of this direction.
    fn find_in<'g>(&self, group: &'g SecurityGroup) -> Option<&'g SecurityGroupRule> {
        let rules = if self.egress {
            &group.egressrule
        } else {
            &group.ingressrule
        };
        rules.iter().find(|r| self.matches(r))
    }
}

impl Client {
    /// Authorizes one security group rule (waiting for its job) and returns its `ruleid`;
    /// an unclear failure is recovered by finding the same rule on the group.
    pub async fn authorize_security_group_rule(
        &self,
        rule: &AuthorizeSecurityGroupRule,
    ) -> Result<String> {
        let command = rule.command();
        let lookup = || async {
            let group = self.get_security_group(&rule.group_id, true).await?;
            Ok(group
                .as_ref()
                .and_then(|g| rule.find_in(g))
                .and_then(|r| serde_json::to_value(r).ok())
                .map(|r| {
                    let key = if rule.egress {
                        "egressrule"
                    } else {
                        "ingressrule"
                    };
                    serde_json::json!({ "id": rule.group_id, key: [r] })
                }))
        };
        let v = self
            .create_with_recovery(command, &rule.params(), Some("securitygroup"), lookup)
            .await?;
        let group: SecurityGroup = Self::typed(command, v)?;
        rule.find_in(&group)
            .map(|r| r.ruleid.clone())
            .ok_or_else(|| crate::Error::Decode {
                command: command.to_string(),
                message: "the answer names no rule like the one authorized".into(),
            })
    }

    /// Revokes rule `id` (`revokeSecurityGroupIngress`/`Egress`), waiting for its job; a rule
    /// already gone is a not-found error.
    pub async fn revoke_security_group_rule(&self, id: &str, egress: bool) -> Result<()> {
        let command = if egress {
            "revokeSecurityGroupEgress"
        } else {
            "revokeSecurityGroupIngress"
        };
        self.delete_async(command, &Params::new().with("id", id))
            .await
    }
}

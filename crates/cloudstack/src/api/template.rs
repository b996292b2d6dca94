//! Templates (from a stopped VM's ROOT volume, or registered from a URL) and the volumes
//! they are made from. Both creates are recovered by name, so a lost answer never registers
//! a second template.

use serde_json::Value;

use crate::{
    client::Client,
    error::{Error, Result},
    model::{Template, Volume},
    params::Params,
};

/// Arguments of `createTemplate` (from a volume, e.g. a stopped VM's ROOT volume).
#[derive(Debug, Clone, Default)]
pub struct CreateTemplate {
    /// `name` (used to recover from unclear failures).
    pub name: String,
    /// `displaytext`.
    pub display_text: String,
    /// `ostypeid`.
    pub os_type_id: String,
    /// `volumeid`.
    pub volume_id: String,
    /// Any other parameter (`ispublic`, `isfeatured`, `passwordenabled`, ...).
    pub extra: Params,
}

/// Arguments of `registerTemplate` (a template downloaded from a URL).
#[derive(Debug, Clone, Default)]
pub struct RegisterTemplate {
    /// `name` (used to recover from unclear failures).
    pub name: String,
    /// `displaytext`.
    pub display_text: String,
    /// `format` (`QCOW2`, `VHD`, ...).
    pub format: String,
    /// `hypervisor`.
    pub hypervisor: String,
    /// `url` to download from.
    pub url: String,
    /// `ostypeid`.
    pub os_type_id: String,
    /// `zoneid`; `-1` registers it in every zone.
    pub zone_id: String,
    /// `projectid`: the project that owns it.
    pub project_id: Option<String>,
    /// Any other parameter (`ispublic`, `isfeatured`, `passwordenabled`, ...).
    pub extra: Params,
}

impl RegisterTemplate {
    /// The command's parameters.
    pub fn params(&self) -> Params {
        let mut p = self.extra.clone();
        p.set("name", &self.name)
            .set("displaytext", &self.display_text)
            .set("format", &self.format)
            .set("hypervisor", &self.hypervisor)
            .set("url", &self.url)
            .set("ostypeid", &self.os_type_id)
            .set("zoneid", &self.zone_id)
            .set_opt("projectid", self.project_id.as_deref());
        p
    }
}

/// The one template named `name` among `items` (a template in several zones is listed once
/// per zone, with one id); two different ids are ambiguous.
fn one_template_named(items: Vec<Value>, name: &str) -> Result<Option<Value>> {
    let mut found: Vec<Value> = Vec::new();
    for t in items {
        let named = t.get("name").and_then(Value::as_str) == Some(name);
        if named && !found.iter().any(|f| f.get("id") == t.get("id")) {
            found.push(t);
        }
    }
    match found.len() {
        0 | 1 => Ok(found.pop()),
        _ => Err(Error::Ambiguous {
            kind: "template",
            name: name.to_string(),
            matches: found
                .iter()
                .map(|t| {
                    let id = t.get("id").and_then(Value::as_str).unwrap_or_default();
                    (name.to_string(), id.to_string())
                })
                .collect(),
        }),
    }
}

impl Client {
    /// `registerTemplate` (a synchronous answer: the download goes on in CloudStack; wait
    /// for `isready` with [`Client::list_templates`]). An unclear failure is recovered by
    /// finding the caller's template of that name (`templatefilter=self`, in the project).
    pub async fn register_template(&self, req: &RegisterTemplate) -> Result<Template> {
        const CMD: &str = "registerTemplate";
        let mut scope = Params::new()
            .with("templatefilter", "self")
            .with("name", &req.name)
            .with("listall", "true");
        scope.set_opt("projectid", req.project_id.as_deref());
        let lookup = || async {
            let all = self
                .list_all_values("listTemplates", "template", &scope)
                .await?;
            one_template_named(all, &req.name)
        };
        let v = self
            .create_with_recovery(CMD, &req.params(), Some("template"), lookup)
            .await?;
        // the answer lists the template once per zone it was registered in
        let v = match v {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            v => v,
        };
        Self::typed(CMD, v)
    }

    /// `listTemplates` with `templatefilter` (`executable`, `self`, `featured`, ...).
    pub async fn list_templates(&self, filter: &str, params: &Params) -> Result<Vec<Template>> {
        let p = params.clone().with("templatefilter", filter);
        self.list_all("listTemplates", "template", &p).await
    }

    /// `createTemplate` from a volume, waiting for the job; recovered by name (templates the
    /// caller owns, `templatefilter=self`).
    pub async fn create_template(&self, req: &CreateTemplate) -> Result<Template> {
        const CMD: &str = "createTemplate";
        let mut params = req.extra.clone();
        params
            .set("name", &req.name)
            .set("displaytext", &req.display_text)
            .set("ostypeid", &req.os_type_id)
            .set("volumeid", &req.volume_id);
        let scope = Params::new()
            .with("templatefilter", "self")
            .with("name", &req.name);
        let lookup = || self.find_by_name("listTemplates", "template", &scope, &req.name);
        let v = self
            .create_with_recovery(CMD, &params, Some("template"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `deleteTemplate` (optionally in one zone), waiting for the job.
    pub async fn delete_template(&self, id: &str, zone_id: Option<&str>) -> Result<()> {
        let mut p = Params::new().with("id", id);
        p.set_opt("zoneid", zone_id);
        self.delete_async("deleteTemplate", &p).await
    }

    /// `listVolumes`, all pages (e.g. `virtualmachineid` + `type=ROOT`).
    pub async fn list_volumes(&self, params: &Params) -> Result<Vec<Volume>> {
        self.list_all("listVolumes", "volume", params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_template_in_many_zones_is_one_match() {
        let t = |id: &str, name: &str, zone: &str| json!({"id": id, "name": name, "zoneid": zone});
        let one = one_template_named(vec![t("a", "img", "z1"), t("a", "img", "z2")], "img");
        assert_eq!(one.unwrap().unwrap()["id"], "a");
        let none = one_template_named(vec![t("a", "img-2", "z1")], "img").unwrap();
        assert!(none.is_none());
        let two = one_template_named(vec![t("a", "img", "z1"), t("b", "img", "z1")], "img");
        assert!(matches!(two, Err(Error::Ambiguous { .. })), "{two:?}");
    }
}

//! Templates (from a stopped VM's ROOT volume) and the volumes they are made from.

use crate::{
    client::Client,
    error::Result,
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

impl Client {
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

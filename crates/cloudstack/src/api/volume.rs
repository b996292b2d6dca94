//! Data volumes: `createVolume` recovered by name in the zone, `attachVolume` /
//! `detachVolume` / `resizeVolume` / `updateVolume` jobs answering the volume, `deleteVolume` idempotent on a
//! retry.

use crate::{
    client::Client,
    error::{Error, Result},
    model::Volume,
    params::Params,
};

/// Arguments of `createVolume`.
#[derive(Debug, Clone, Default)]
pub struct CreateVolume {
    /// `name` (used to recover from unclear failures).
    pub name: String,
    /// `zoneid`.
    pub zone_id: String,
    /// `diskofferingid`.
    pub disk_offering_id: String,
    /// `size` in GB (custom offerings only).
    pub size_gb: Option<i64>,
    /// `projectid`.
    pub project_id: Option<String>,
}

/// The command attaching a volume (its acceptance is recorded; see
/// [`Client::recording_accepted`]).
const ATTACH: &str = "attachVolume";

impl Client {
    /// `createVolume`, waiting for its job; an unclear failure is recovered by finding the
    /// volume of that name in the zone.
    pub async fn create_volume(&self, req: &CreateVolume) -> Result<Volume> {
        const CMD: &str = "createVolume";
        let mut params = Params::new()
            .with("name", &req.name)
            .with("zoneid", &req.zone_id)
            .with("diskofferingid", &req.disk_offering_id);
        params
            .set_opt("size", req.size_gb.map(|s| s.to_string()))
            .set_opt("projectid", req.project_id.as_deref());
        let mut scope = Params::new()
            .with("name", &req.name)
            .with("zoneid", &req.zone_id)
            .with("type", "DATADISK");
        match &req.project_id {
            Some(p) => scope.set("projectid", p),
            None => scope.set("listall", "true"),
        };
        let lookup = || self.find_by_name("listVolumes", "volume", &scope, &req.name);
        let v = self
            .create_with_recovery(CMD, &params, Some("volume"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `attachVolume` (optionally at `device_id`), answering the attached volume. Once
    /// CloudStack accepted it (the job started), the volume's id is recorded under
    /// `attachVolume` in the client's [`crate::AcceptedLog`].
    pub async fn attach_volume(
        &self,
        id: &str,
        vm_id: &str,
        device_id: Option<i64>,
    ) -> Result<Volume> {
        let mut p = Params::new().with("id", id).with("virtualmachineid", vm_id);
        p.set_opt("deviceid", device_id.map(|d| d.to_string()));
        // once the job started, the attachment is under way: recorded for the caller
        let answer = self.request(ATTACH, &p).await?;
        self.note_accepted_on(ATTACH, id, &answer);
        let result = self.finish_job(ATTACH, answer).await?;
        Self::volume_of(ATTACH, result)
    }

    /// `detachVolume`, answering the detached volume.
    pub async fn detach_volume(&self, id: &str) -> Result<Volume> {
        self.volume_job("detachVolume", &Params::new().with("id", id))
            .await
    }

    /// `resizeVolume` to a disk offering and/or a size in GB; `shrink_ok` signs off shrinking.
    pub async fn resize_volume(
        &self,
        id: &str,
        disk_offering_id: Option<&str>,
        size_gb: Option<i64>,
        shrink_ok: bool,
    ) -> Result<Volume> {
        let mut p = Params::new()
            .with("id", id)
            .with("shrinkok", shrink_ok.to_string());
        p.set_opt("diskofferingid", disk_offering_id)
            .set_opt("size", size_gb.map(|s| s.to_string()));
        self.volume_job("resizeVolume", &p).await
    }

    /// `updateVolume` (CloudStack 4.20+ for `deleteprotection`): turns the volume's delete
    /// protection on or off, answering the volume.
    pub async fn set_volume_delete_protection(&self, id: &str, protect: bool) -> Result<Volume> {
        let p = Params::new()
            .with("id", id)
            .with("deleteprotection", protect.to_string());
        self.volume_job("updateVolume", &p).await
    }

    /// `deleteVolume` (sync). A volume already gone answers a not-found error
    /// ([`Error::is_not_found`]), which callers deleting it treat as done.
    pub async fn delete_volume(&self, id: &str) -> Result<()> {
        self.request("deleteVolume", &Params::new().with("id", id))
            .await
            .map(|_| ())
    }

    /// One volume by id, `None` when it is gone. With `any_project` a volume not found among
    /// the account's is looked for in every project (`projectid=-1`, which lists only
    /// projects' volumes).
    pub async fn get_volume(&self, id: &str, any_project: bool) -> Result<Option<Volume>> {
        self.get_by_id(("listVolumes", "volume"), id, any_project, |v: &Volume| {
            v.id.as_str()
        })
        .await
    }

    async fn volume_job(&self, command: &str, params: &Params) -> Result<Volume> {
        let v = self.request_async(command, params).await?;
        Self::volume_of(command, v)
    }

    /// The `volume` of a job result.
    fn volume_of(command: &str, v: serde_json::Value) -> Result<Volume> {
        let v = v.get("volume").cloned().ok_or_else(|| Error::Decode {
            command: command.to_string(),
            message: "the job result has no volume".into(),
        })?;
        Self::typed(command, v)
    }
}

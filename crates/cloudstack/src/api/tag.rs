//! Tags and one-off job queries.

use serde_json::Value;

use crate::{
    client::Client,
    error::Result,
    model::{AsyncJob, Tag},
    params::Params,
};

impl Client {
    /// `createTags` on `resource_ids` of `resource_type` (e.g. `UserVm`, `Template`), waiting
    /// for the job; recovered by checking that every tag is present.
    pub async fn create_tags(
        &self,
        resource_type: &str,
        resource_ids: &[String],
        tags: &[(String, String)],
    ) -> Result<()> {
        const CMD: &str = "createTags";
        let mut params = Params::new();
        params
            .set("resourcetype", resource_type)
            .set_list("resourceids", resource_ids);
        for (i, (k, v)) in tags.iter().enumerate() {
            params.set(format!("tags[{i}].key"), k);
            params.set(format!("tags[{i}].value"), v);
        }
        let lookup = || async {
            let p = Params::new()
                .with("resourcetype", resource_type)
                .with("listall", "true");
            let present: Vec<Tag> = self.list_all("listTags", "tag", &p).await?;
            let all = resource_ids.iter().all(|id| {
                tags.iter().all(|(k, v)| {
                    present.iter().any(|t| {
                        t.resourceid.as_deref() == Some(id.as_str())
                            && t.key.as_deref() == Some(k.as_str())
                            && t.value.as_deref() == Some(v.as_str())
                    })
                })
            });
            Ok(all.then(|| Value::Object(Default::default())))
        };
        self.create_with_recovery(CMD, &params, None, lookup)
            .await
            .map(|_| ())
    }

    /// `queryAsyncJobResult` once (no waiting; see [`Client::wait_job`] for that).
    pub async fn query_async_job_result(&self, job_id: &str) -> Result<AsyncJob> {
        const CMD: &str = "queryAsyncJobResult";
        let v = self
            .request(CMD, &Params::new().with("jobid", job_id))
            .await?;
        Self::typed(CMD, v)
    }
}

//! Projects: `createProject` (recovered by name), `updateProject`, `deleteProject` jobs and
//! `listProjects`.

use serde::{Deserialize, Serialize};

use crate::{client::Client, error::Result, model::lenient, params::Params};

/// A project (`listProjects` → `project`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Project {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub displaytext: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub domain: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub domainid: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub state: Option<String>,
    /// Owners: `account`, `accountid`, `userid`, ...
    #[serde(default)]
    pub owner: Vec<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl Project {
    /// The first owner's `key` (`account`, `accountid`, `userid`).
    pub fn owner_field(&self, key: &str) -> Option<String> {
        self.owner
            .iter()
            .find_map(|o| o.get(key).and_then(|v| v.as_str()).map(str::to_string))
    }
}

impl Client {
    /// `createProject` (`extra`: `domainid`, `account`, `accountid`, `userid`); an unclear
    /// failure is recovered by finding the project of that name.
    pub async fn create_project(
        &self,
        name: &str,
        display_text: &str,
        extra: &Params,
    ) -> Result<Project> {
        const CMD: &str = "createProject";
        let mut params = extra.clone();
        params.set("name", name).set("displaytext", display_text);
        let scope = Params::new().with("name", name).with("listall", "true");
        let lookup = || self.find_by_name("listProjects", "project", &scope, name);
        let v = self
            .create_with_recovery(CMD, &params, Some("project"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `updateProject` with `params` (`name`, `displaytext`, `swapowner`, `account`, ...).
    pub async fn update_project(&self, id: &str, params: &Params) -> Result<()> {
        let mut p = params.clone();
        p.set("id", id);
        self.request_async("updateProject", &p).await.map(|_| ())
    }

    /// `deleteProject`; a retry that finds it gone is done.
    pub async fn delete_project(&self, id: &str) -> Result<()> {
        self.delete_async("deleteProject", &Params::new().with("id", id))
            .await
    }

    /// One project by id, `None` when it is gone.
    pub async fn get_project(&self, id: &str) -> Result<Option<Project>> {
        self.get_by_id(("listProjects", "project"), id, false, |p: &Project| {
            p.id.as_str()
        })
        .await
    }
}

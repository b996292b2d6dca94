//! Registered user data (CloudStack 4.18+): `registerUserData` (sync, recovered by name),
//! `listUserData`, `deleteUserData`.

use serde::{Deserialize, Serialize};

use crate::{client::Client, error::Result, model::lenient, params::Params};

/// A registered user data (`listUserData` → `userdata`); `userdata` is base64.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct UserData {
    #[serde(deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub userdata: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub params: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub account: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub accountid: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub domain: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub domainid: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub project: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub projectid: Option<String>,
}

/// Arguments of `registerUserData`.
#[derive(Debug, Clone, Default)]
pub struct RegisterUserData {
    /// `name`.
    pub name: String,
    /// `userdata`, base64 (sent by POST: it may be long).
    pub userdata: String,
    /// `params`: variable names declared in the content.
    pub params: Vec<String>,
    /// `account` (with `domain_id`).
    pub account: Option<String>,
    /// `domainid`.
    pub domain_id: Option<String>,
    /// `projectid`.
    pub project_id: Option<String>,
}

impl Client {
    /// `registerUserData`; an unclear failure is recovered by finding the user data of that
    /// name (in the project, if any).
    pub async fn register_user_data(&self, req: &RegisterUserData) -> Result<UserData> {
        const CMD: &str = "registerUserData";
        let mut params = Params::new()
            .with("name", &req.name)
            .with("userdata", &req.userdata);
        params
            .set_list("params", &req.params)
            .set_opt("account", req.account.as_deref())
            .set_opt("domainid", req.domain_id.as_deref())
            .set_opt("projectid", req.project_id.as_deref());
        let mut scope = Params::new().with("name", &req.name);
        match &req.project_id {
            Some(p) => scope.set("projectid", p),
            None => scope.set("listall", "true"),
        };
        let lookup = || self.find_by_name("listUserData", "userdata", &scope, &req.name);
        let v = self
            .create_with_recovery_post(CMD, &params, Some("userdata"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `listUserData`, all pages.
    pub async fn list_user_data(&self, params: &Params) -> Result<Vec<UserData>> {
        self.list_all("listUserData", "userdata", params).await
    }

    /// `deleteUserData` by id (a missing one is a not-found error).
    pub async fn delete_user_data(&self, id: &str, project_id: Option<&str>) -> Result<()> {
        let mut p = Params::new().with("id", id);
        p.set_opt("projectid", project_id);
        self.request("deleteUserData", &p).await.map(|_| ())
    }
}

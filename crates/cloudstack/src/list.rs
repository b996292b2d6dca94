//! List calls: `page`/`pagesize` until everything is read. CloudStack answers
//! `{"count": N, "<object>": [...]}` and `{}` when nothing matches.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    client::Client,
    error::{Error, Result},
    params::Params,
    response::as_u64,
};

/// Safety stop for servers that ignore `page` (they would otherwise be read forever).
const MAX_PAGES: u32 = 10_000;

impl Client {
    /// Reads every page of `command` and returns the raw items under `key`
    /// (e.g. `listVirtualMachines` / `virtualmachine`). If `params` already has `page`, only
    /// that page is read. Stops at a short page, an empty page, or once `count` items are read.
    pub async fn list_all_values(
        &self,
        command: &str,
        key: &str,
        params: &Params,
    ) -> Result<Vec<Value>> {
        if params.get("page").is_some() {
            let answer = self.request(command, params).await?;
            return items(command, key, &answer).map(|(items, _)| items);
        }
        let page_size = self.inner.config.page_size.max(1);
        let mut params = params.clone();
        params.set("pagesize", page_size.to_string());
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            params.set("page", page.to_string());
            let answer = self.request(command, &params).await?;
            let (items, count) = items(command, key, &answer)?;
            let n = items.len();
            all.extend(items);
            let done_by_count = count.is_some_and(|c| all.len() as u64 >= c);
            if n == 0 || n < page_size as usize || done_by_count {
                break;
            }
        }
        Ok(all)
    }

    /// [`Client::list_all_values`] decoded into `T` (see [`crate::model`]).
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        command: &str,
        key: &str,
        params: &Params,
    ) -> Result<Vec<T>> {
        self.list_all_values(command, key, params)
            .await?
            .into_iter()
            .map(|v| decode(command, v))
            .collect()
    }

    /// One object by `id` (`listall=true`), `None` when it does not exist. With
    /// `any_project`, an object not among the account's is looked for in every project
    /// (`projectid=-1`, which lists only projects' objects).
    pub(crate) async fn get_by_id<T: DeserializeOwned>(
        &self,
        (command, key): (&str, &str),
        id: &str,
        any_project: bool,
        id_of: impl Fn(&T) -> &str,
    ) -> Result<Option<T>> {
        let mut p = Params::new().with("id", id).with("listall", "true");
        let scopes: &[Option<&str>] = if any_project {
            &[None, Some("-1")]
        } else {
            &[None]
        };
        for scope in scopes {
            p.set_opt("projectid", *scope);
            match self.list_all::<T>(command, key, &p).await {
                Ok(v) => {
                    if let Some(o) = v.into_iter().find(|o| id_of(o) == id) {
                        return Ok(Some(o));
                    }
                }
                Err(e) if e.is_param_error() => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

/// Decodes one object into a model, as a [`Error::Decode`] on mismatch.
pub(crate) fn decode<T: DeserializeOwned>(command: &str, v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::Decode {
        command: command.to_string(),
        message: e.to_string(),
    })
}

pub(crate) fn items(command: &str, key: &str, answer: &Value) -> Result<(Vec<Value>, Option<u64>)> {
    let count = answer.get("count").and_then(as_u64);
    let list = match answer.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        // A single object instead of a list: be lenient.
        Some(v @ Value::Object(_)) => vec![v.clone()],
        Some(other) => {
            return Err(Error::Decode {
                command: command.to_string(),
                message: format!("'{key}' is not a list: {other}"),
            })
        }
    };
    Ok((list, count))
}

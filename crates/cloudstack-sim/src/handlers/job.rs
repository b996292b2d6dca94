//! queryAsyncJobResult and listAsyncJobs.

use super::{list_answer, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render::{ACCOUNT, DOMAIN_ID};
use crate::state::AsyncJob;
use serde_json::{json, Value};

/// The account/user UUIDs jobs are reported under.
const ACCOUNT_ID: &str = "8a2a2c1e-0000-4000-8000-000000000002";
const USER_ID: &str = "8a2a2c1e-0000-4000-8000-000000000003";

/// A job in CloudStack's AsyncJobResponse shape.
pub fn job_json(j: &AsyncJob) -> Value {
    let mut v = json!({
        "jobid": j.jobid, "accountid": ACCOUNT_ID, "userid": USER_ID, "cmd": j.cmd,
        "jobstatus": j.jobstatus, "jobprocstatus": 0, "jobresultcode": j.jobresultcode,
        "jobresulttype": "object", "created": j.created, "account": ACCOUNT,
        "domainid": DOMAIN_ID,
    });
    if let Some(m) = v.as_object_mut() {
        if let Some(r) = &j.jobresult {
            m.insert("jobresult".into(), r.clone());
        }
        if let Some(t) = &j.jobinstancetype {
            m.insert("jobinstancetype".into(), json!(t));
        }
        if let Some(i) = &j.jobinstanceid {
            m.insert("jobinstanceid".into(), json!(i));
        }
        if let Some(c) = &j.completed {
            m.insert("completed".into(), json!(c));
        }
    }
    v
}

/// queryAsyncJobResult (jobid).
pub fn query_async_job_result(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = p.req("jobid")?;
    let job = ctx
        .world
        .jobs
        .iter()
        .find(|j| j.jobid == id)
        .ok_or_else(|| p.invalid_id("jobid", id))?;
    Ok(job_json(job))
}

/// listAsyncJobs (newest first).
pub fn list_async_jobs(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let items = ctx.world.jobs.iter().rev().map(job_json).collect();
    list_answer(p, "asyncjobs", items)
}

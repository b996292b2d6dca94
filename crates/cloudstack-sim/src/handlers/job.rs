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

/// A job in CloudStack's AsyncJobResponse shape, the same for queryAsyncJobResult and each
/// listAsyncJobs entry (`AsyncJobJoinDaoImpl.newAsyncJobResponse`): `jobresulttype` only
/// once there is a result.
pub fn job_json(j: &AsyncJob) -> Value {
    let mut v = json!({
        "jobid": j.jobid, "accountid": ACCOUNT_ID, "userid": USER_ID, "cmd": j.cmd,
        "jobstatus": j.jobstatus, "jobprocstatus": 0, "jobresultcode": j.jobresultcode,
        "created": j.created, "account": ACCOUNT, "domainid": DOMAIN_ID,
    });
    if let Some(m) = v.as_object_mut() {
        if let Some(r) = &j.jobresult {
            m.insert("jobresulttype".into(), json!("object"));
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

/// listAsyncJobs: the account's jobs in creation order (CloudStack sorts by id ascending),
/// `startdate` keeping jobs created on or after that day, `keyword` matching `cmd`, paged.
pub fn list_async_jobs(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let since = p.opt("startdate").map(start_day).transpose()?;
    let keyword = p.opt("keyword").map(str::to_lowercase);
    let items = ctx
        .world
        .jobs
        .iter()
        .filter(|j| {
            since
                .as_deref()
                .is_none_or(|d| j.created.get(..10).is_some_and(|c| c >= d))
        })
        .filter(|j| {
            keyword
                .as_deref()
                .is_none_or(|k| j.cmd.to_lowercase().contains(k))
        })
        .map(job_json)
        .collect();
    list_answer(p, "asyncjobs", items)
}

/// A `startdate` as CloudStack reads it for listAsyncJobs: `SimpleDateFormat("yyyy-MM-dd")`,
/// not lenient, ignoring whatever follows the date (so a full timestamp means its day).
/// Returns the day as `yyyy-MM-dd` (the simulator's clock and timestamps are UTC).
fn start_day(value: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::server_param(format!(
            "Unable to parse date {value} for command listasyncjobs, please pass dates in the format mentioned in the api documentation"
        ))
    };
    let mut parts = value.splitn(3, '-');
    let year = parts.next().ok_or_else(bad)?;
    let month = parts.next().ok_or_else(bad)?;
    let rest = parts.next().ok_or_else(bad)?;
    let day: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let number = |s: &str| -> Result<u32, ApiError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let (y, m, d) = (number(year)?, number(month)?, number(&day)?);
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(y).map_err(|_| bad())?, m, d)
        .ok_or_else(bad)?;
    Ok(date.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::start_day;

    #[test]
    fn startdate_is_read_like_cloudstack() {
        assert_eq!(start_day("2026-11-30").unwrap(), "2026-11-30");
        assert_eq!(start_day("2026-1-5").unwrap(), "2026-01-05");
        // What follows the date is ignored, as SimpleDateFormat.parse does.
        assert_eq!(start_day("2026-11-30T21:47:06+0000").unwrap(), "2026-11-30");
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "2026-11",
            "30/11/2026",
        ] {
            let e = start_day(bad).unwrap_err();
            assert_eq!(e.errorcode, 431, "{bad}");
            assert!(e.errortext.starts_with("Unable to parse date"), "{bad}");
        }
    }
}

//! listAsyncJobs as CloudStack answers it: every job of the account in creation order, each
//! entry shaped like queryAsyncJobResult's answer, narrowed by `startdate` (a day), paged.

use crate::support::*;
use cloudstack_sim::{JobLatency, Options};

#[tokio::test]
async fn list_async_jobs_has_query_shapes_creation_order_startdate_and_pages() {
    let mut latency = JobLatency::default();
    latency.apply("deployVirtualMachine=60000").unwrap();
    let t = TestSim::start(Options {
        job_latency: latency,
        ..Options::default()
    })
    .await;
    assert_eq!(t.ok("listAsyncJobs", &[]).await, serde_json::json!({}));
    let mut jobs = Vec::new();
    for name in ["a", "b", "c"] {
        let r = t
            .ok(
                "deployVirtualMachine",
                &[
                    ("zoneid", ZONE),
                    ("serviceofferingid", SMALL),
                    ("templateid", TEMPLATE),
                    ("networkids", NETWORK),
                    ("name", name),
                ],
            )
            .await;
        jobs.push(r["jobid"].as_str().unwrap().to_string());
    }
    // An ended job next to the pending deploys (createTags has no latency).
    let vm = t.world().virtual_machines[0].id.clone();
    let tags = t
        .ok(
            "createTags",
            &[
                ("resourceids", &vm),
                ("resourcetype", "UserVm"),
                ("tags[0].key", "k"),
                ("tags[0].value", "v"),
            ],
        )
        .await;
    jobs.push(tags["jobid"].as_str().unwrap().to_string());

    let all = t.ok("listAsyncJobs", &[]).await;
    assert_eq!(all["count"], 4);
    let listed: Vec<&str> = all["asyncjobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, jobs.iter().map(String::as_str).collect::<Vec<_>>());
    // Each entry is what queryAsyncJobResult answers for the same job.
    for entry in all["asyncjobs"].as_array().unwrap() {
        let id = entry["jobid"].as_str().unwrap();
        let query = t.ok("queryAsyncJobResult", &[("jobid", id)]).await;
        assert_eq!(*entry, query);
    }
    let pending = &all["asyncjobs"][0];
    assert_eq!(pending["jobstatus"], 0);
    assert!(pending.get("jobresult").is_none() && pending.get("jobresulttype").is_none());
    assert!(pending["cmd"].as_str().unwrap().ends_with("DeployVMCmd"));
    let ended = &all["asyncjobs"][3];
    assert_eq!(ended["jobstatus"], 1);
    assert_eq!(ended["jobresulttype"], "object");
    assert_eq!(ended["jobresult"]["success"], true);

    // startdate is a day: today (and a full timestamp of today) keeps everything, tomorrow
    // nothing; the simulator's clock is UTC like its `created` timestamps.
    let created = pending["created"].as_str().unwrap().to_string();
    let today = &created[..10];
    assert_eq!(
        t.ok("listAsyncJobs", &[("startdate", today)]).await["count"],
        4
    );
    assert_eq!(
        t.ok("listAsyncJobs", &[("startdate", &created)]).await["count"],
        4
    );
    assert_eq!(
        t.ok("listAsyncJobs", &[("startdate", "2999-01-01")]).await,
        serde_json::json!({})
    );
    let bad = t.call("listAsyncJobs", &[("startdate", "yesterday")]).await;
    assert_eq!(bad.status, 431);
    assert!(bad.inner()["errortext"]
        .as_str()
        .unwrap()
        .starts_with("Unable to parse date yesterday for command listasyncjobs"));

    // Pages keep the total count; keyword matches the command class.
    let page2 = t
        .ok("listAsyncJobs", &[("page", "2"), ("pagesize", "3")])
        .await;
    assert_eq!(page2["count"], 4);
    assert_eq!(page2["asyncjobs"].as_array().unwrap().len(), 1);
    assert_eq!(page2["asyncjobs"][0]["jobid"], jobs[3].as_str());
    let deploys = t.ok("listAsyncJobs", &[("keyword", "DeployVM")]).await;
    assert_eq!(deploys["count"], 3);
    t.stop().await;
}

#[tokio::test]
async fn api_rate_limit_answers_cloudstacks_429_and_stats_count_it() {
    let t = TestSim::start(Options {
        api_rate_limit: Some(5),
        ..Options::default()
    })
    .await;
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..8 {
        let a = t.call("listZones", &[]).await;
        if a.status == 429 {
            let inner = a.inner();
            assert_eq!(inner["errorcode"], 429);
            assert_eq!(inner["cserrorcode"], 9999);
            let text = inner["errortext"].as_str().unwrap();
            assert!(
                text.starts_with(
                    "The given user has reached his/her account api limit, please retry after ["
                ) && text.ends_with("] ms."),
                "{text}"
            );
        }
        statuses.push(a.status);
    }
    // Eight requests within a second: the first five pass, the rest are throttled (on a
    // machine too loaded to send eight requests in a second, a new window may begin).
    assert_eq!(&statuses[..5], &[200; 5]);
    if started.elapsed() < std::time::Duration::from_millis(900) {
        assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    }
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    // A bad signature is a 401, never a 429: throttling counts authenticated callers.
    let mut params = t.signed_params("listZones", &[], &t.secret);
    for (k, v) in &mut params {
        if k == "signature" {
            v.push('x');
        }
    }
    assert_eq!(t.get_raw(&params).await.unwrap().status, 401);
    let stats = t.stats().await;
    assert_eq!(stats["requests"]["listZones"], 9);
    assert_eq!(
        stats["statuses"]["429"].as_u64().unwrap_or(0),
        throttled as u64
    );
    // The window ends a second after it began.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(t.call("listZones", &[]).await.status, 200);
    t.stop().await;
}

#[tokio::test]
async fn stats_give_each_jobs_drawn_latency_within_the_jitter() {
    let mut latency = JobLatency::default();
    latency.apply("deployVirtualMachine=60000").unwrap();
    latency.set_jitter("0.2").unwrap();
    let t = TestSim::start(Options {
        job_latency: latency,
        ..Options::default()
    })
    .await;
    let mut jobs = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let r = t
            .ok(
                "deployVirtualMachine",
                &[
                    ("zoneid", ZONE),
                    ("serviceofferingid", SMALL),
                    ("templateid", TEMPLATE),
                    ("networkids", NETWORK),
                    ("name", name),
                ],
            )
            .await;
        jobs.push(r["jobid"].as_str().unwrap().to_string());
    }
    let stats = t.stats().await;
    let drawn = stats["job_latency_ms"].as_object().unwrap();
    assert_eq!(drawn.len(), jobs.len());
    for id in &jobs {
        let ms = drawn[id].as_u64().unwrap();
        assert!((48_000..=72_000).contains(&ms), "{id}: {ms} ms");
    }
}

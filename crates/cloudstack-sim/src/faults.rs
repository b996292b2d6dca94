//! Seeded fault injection (`--fault-rate`, `--fault-seed`, `--fault-kinds`): transient
//! failures before or after a command is executed, so clients' retry and recovery logic can
//! be tested, including what a flaky proxy in front of CloudStack does: let the command
//! through, then answer with truncated JSON or its own HTML page with status 200.
//!
//! Every request draws the same number of random values, so the same seed and the same
//! request order give the same faults. Faults never corrupt state: a "before" fault
//! answers without touching the world, an "after" fault answers once the change is
//! fully applied and saved.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// One injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// 503 from "a proxy in front", nothing applied.
    UnavailableBefore,
    /// 530 internal error, nothing applied.
    InternalBefore,
    /// Connection closed without an answer, nothing applied.
    DropBefore,
    /// Change applied, then 503.
    UnavailableAfter,
    /// Change applied, then connection closed without an answer.
    DropAfter,
    /// Command executed, then the JSON answer cut short (status 200), as a proxy that
    /// drops the end of a response leaves it. Reads too.
    TruncatedAfter,
    /// Command executed, then a proxy's HTML page (status 200) instead of the answer.
    /// Reads too.
    HtmlAfter,
}

impl Fault {
    /// Every kind, in the order `--fault-kinds all` draws them.
    pub const ALL: [Fault; 7] = [
        Fault::UnavailableBefore,
        Fault::InternalBefore,
        Fault::DropBefore,
        Fault::UnavailableAfter,
        Fault::DropAfter,
        Fault::TruncatedAfter,
        Fault::HtmlAfter,
    ];

    /// The kinds drawn when `--fault-kinds` is not given (no garbled answers).
    pub const DEFAULT: [Fault; 5] = [
        Fault::UnavailableBefore,
        Fault::InternalBefore,
        Fault::DropBefore,
        Fault::UnavailableAfter,
        Fault::DropAfter,
    ];

    /// Whether the command is executed before the failure.
    pub fn after(self) -> bool {
        matches!(
            self,
            Fault::UnavailableAfter | Fault::DropAfter | Fault::TruncatedAfter | Fault::HtmlAfter
        )
    }

    /// Whether the fault can strike a read (`list*`, `queryAsyncJobResult`): every "before"
    /// fault, and the garbled answers (a proxy does not care what it garbles).
    pub fn hits_reads(self) -> bool {
        !self.after() || matches!(self, Fault::TruncatedAfter | Fault::HtmlAfter)
    }

    /// Parses `--fault-kinds`: `all`, `default`, or names (see [`Fault::name`]) separated by
    /// commas.
    pub fn parse_list(spec: &str) -> Result<Vec<Fault>, String> {
        let mut kinds = Vec::new();
        for word in spec.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "all" => kinds.extend(Fault::ALL),
                "default" => kinds.extend(Fault::DEFAULT),
                _ => match Fault::ALL.into_iter().find(|f| f.name() == word) {
                    Some(f) => kinds.push(f),
                    None => {
                        return Err(format!(
                            "unknown fault kind {word:?}; known: all, default, {}",
                            Fault::ALL.map(Fault::name).join(", ")
                        ))
                    }
                },
            }
        }
        if kinds.is_empty() {
            return Err("--fault-kinds needs at least one kind".into());
        }
        kinds.dedup();
        Ok(kinds)
    }

    /// Short name for stats.
    pub fn name(self) -> &'static str {
        match self {
            Fault::UnavailableBefore => "unavailable_before",
            Fault::InternalBefore => "internal_error_before",
            Fault::DropBefore => "drop_before",
            Fault::UnavailableAfter => "unavailable_after",
            Fault::DropAfter => "drop_after",
            Fault::TruncatedAfter => "truncated_after",
            Fault::HtmlAfter => "html_after",
        }
    }
}

/// Decides which requests fail.
#[derive(Debug)]
pub struct FaultInjector {
    rate: f64,
    kinds: Vec<Fault>,
    rng: Mutex<ChaCha8Rng>,
}

impl FaultInjector {
    /// `rate` is clamped to 0..=1; faults are drawn from `kinds` (an empty list means
    /// [`Fault::DEFAULT`]).
    pub fn new(rate: f64, seed: u64, kinds: &[Fault]) -> Self {
        FaultInjector {
            rate: if rate.is_finite() {
                rate.clamp(0.0, 1.0)
            } else {
                0.0
            },
            kinds: if kinds.is_empty() {
                Fault::DEFAULT.to_vec()
            } else {
                kinds.to_vec()
            },
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// Draws the fault for the next request (`mutating`: "after" faults are possible).
    pub fn draw(&self, mutating: bool) -> Option<Fault> {
        if self.rate <= 0.0 {
            return None;
        }
        // The range is 5 for the default kinds, so seeds give the faults they always gave.
        let range = u32::try_from(self.kinds.len().max(5)).unwrap_or(5);
        let (hit, pick) = match self.rng.lock() {
            Ok(mut rng) => (rng.gen::<f64>(), rng.gen_range(0..range)),
            Err(_) => return None,
        };
        if hit >= self.rate {
            return None;
        }
        let kinds: Vec<Fault> = self
            .kinds
            .iter()
            .copied()
            .filter(|f| mutating || f.hits_reads())
            .collect();
        if kinds.is_empty() {
            return None;
        }
        Some(kinds[pick as usize % kinds.len()])
    }
}

/// One `--lose-answers-after COMMAND=SECONDS`: once CloudStack accepted `command` (the first
/// time only), a proxy outage garbles every read answer for `lasting`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// The command (lower-case) whose first accepted call starts the outage.
    pub command: String,
    /// How long reads are garbled from then on.
    pub lasting: Duration,
}

impl Outage {
    /// Parses `COMMAND=SECONDS[,COMMAND=SECONDS...]`.
    pub fn parse_list(spec: &str) -> Result<Vec<Outage>, String> {
        spec.split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(|w| {
                let bad = || format!("invalid outage {w:?}: expected COMMAND=SECONDS");
                let (cmd, secs) = w.split_once('=').ok_or_else(bad)?;
                let secs: f64 = secs.trim().parse().map_err(|_| bad())?;
                if cmd.trim().is_empty() || !secs.is_finite() || secs <= 0.0 {
                    return Err(bad());
                }
                Ok(Outage {
                    command: cmd.trim().to_lowercase(),
                    lasting: Duration::from_secs_f64(secs.min(86_400.0)),
                })
            })
            .collect()
    }
}

/// Deterministic lost answers (`--lose-answers-after`): what a flaky proxy does to a client
/// right after CloudStack accepted a create. The command itself goes through and is
/// answered; then, for a while, every answer about the new object is executed but answered
/// garbled, alternately truncated JSON and an HTML page with status 200: its job's
/// `queryAsyncJobResult`, every `listAsyncJobs` (the listing holds that job) and the lists a
/// client looks the object up with (`list<Object>s` for `create<Object>`/`deploy<Object>`/
/// `register<Object>`), so the job answer is lost past any timeout shorter than the outage.
/// Other commands pass, so what else runs meanwhile is untouched.
#[derive(Debug, Default)]
pub struct LostAnswers {
    outages: Vec<Outage>,
    state: Mutex<LostState>,
}

#[derive(Debug, Default)]
struct LostState {
    /// Per outage: once started, until when and the job its command started.
    active: Vec<Option<Active>>,
    /// Reads garbled so far (picks the kind: truncated, then HTML, ...).
    garbled: u64,
}

#[derive(Debug)]
struct Active {
    until: Instant,
    job: Option<String>,
}

/// The lists a client finds the object of create command `command` (lower-case) with.
fn lookups(command: &str) -> Option<[String; 2]> {
    let object = ["create", "deploy", "register", "associate"]
        .iter()
        .find_map(|verb| command.strip_prefix(verb))?;
    Some([format!("list{object}s"), format!("list{object}")])
}

impl LostAnswers {
    /// No outage until one of `outages` is triggered.
    pub fn new(outages: &[Outage]) -> Self {
        LostAnswers {
            outages: outages.to_vec(),
            state: Mutex::new(LostState {
                active: outages.iter().map(|_| None).collect(),
                garbled: 0,
            }),
        }
    }

    /// CloudStack accepted `command` (lower-case) at `now`, answering `answer`: starts its
    /// outage, the first time.
    pub fn accepted(&self, command: &str, answer: &serde_json::Value, now: Instant) {
        if self.outages.is_empty() {
            return;
        }
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        for (i, o) in self.outages.iter().enumerate() {
            if o.command == command && st.active[i].is_none() {
                st.active[i] = Some(Active {
                    until: now + o.lasting,
                    job: answer["jobid"].as_str().map(str::to_string),
                });
            }
        }
    }

    /// The garbled answer read `command` (lower-case; `job`: its `jobid`) gets at `now`,
    /// during an outage about its object.
    pub fn read_fault(&self, command: &str, job: Option<&str>, now: Instant) -> Option<Fault> {
        let mut st = self.state.lock().ok()?;
        let hit = self.outages.iter().zip(&st.active).any(|(o, a)| match a {
            Some(a) if now < a.until => {
                command == "listasyncjobs"
                    || (command == "queryasyncjobresult"
                        && job.is_some()
                        && job == a.job.as_deref())
                    || lookups(&o.command).is_some_and(|l| l.iter().any(|c| c == command))
            }
            _ => false,
        });
        if !hit {
            return None;
        }
        st.garbled += 1;
        Some(if st.garbled % 2 == 1 {
            Fault::TruncatedAfter
        } else {
            Fault::HtmlAfter
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_loses_the_answers_about_its_object_once() {
        let lost = LostAnswers::new(&Outage::parse_list("deployVirtualMachine=10").unwrap());
        let t0 = Instant::now();
        let (jobs, vms) = ("listasyncjobs", "listvirtualmachines");
        assert_eq!(
            lost.read_fault(jobs, None, t0),
            None,
            "nothing before the command"
        );
        lost.accepted("createnetwork", &serde_json::json!({"jobid": "j0"}), t0);
        assert_eq!(
            lost.read_fault(jobs, None, t0),
            None,
            "another command starts nothing"
        );
        lost.accepted(
            "deployvirtualmachine",
            &serde_json::json!({"id": "vm", "jobid": "j1"}),
            t0,
        );
        assert_eq!(lost.read_fault(jobs, None, t0), Some(Fault::TruncatedAfter));
        let later = t0 + Duration::from_secs(9);
        assert_eq!(
            lost.read_fault("queryasyncjobresult", Some("j1"), later),
            Some(Fault::HtmlAfter)
        );
        assert_eq!(
            lost.read_fault(vms, None, later),
            Some(Fault::TruncatedAfter)
        );
        // answers about anything else pass
        assert_eq!(
            lost.read_fault("queryasyncjobresult", Some("j0"), later),
            None
        );
        assert_eq!(lost.read_fault("listzones", None, later), None);
        let over = t0 + Duration::from_secs(10);
        assert_eq!(lost.read_fault(vms, None, over), None, "over");
        // the replacement deploy of the next apply gets its answers
        lost.accepted(
            "deployvirtualmachine",
            &serde_json::json!({"jobid": "j2"}),
            over,
        );
        assert_eq!(lost.read_fault(jobs, None, over), None);
    }

    #[test]
    fn outage_specs() {
        let o = Outage::parse_list("deployVirtualMachine=20, createVPC=1.5").unwrap();
        assert_eq!(o[0].command, "deployvirtualmachine");
        assert_eq!(o[1].lasting, Duration::from_millis(1500));
        for bad in ["deployVirtualMachine", "x=-1", "=3", "x=y", "x=inf"] {
            assert!(Outage::parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn same_seed_same_faults_and_rate_roughly_respected() {
        let a = FaultInjector::new(0.3, 7, &[]);
        let b = FaultInjector::new(0.3, 7, &Fault::DEFAULT);
        let da: Vec<_> = (0..1000).map(|i| a.draw(i % 2 == 0)).collect();
        let db: Vec<_> = (0..1000).map(|i| b.draw(i % 2 == 0)).collect();
        assert_eq!(da, db);
        let n = da.iter().filter(|f| f.is_some()).count();
        assert!((200..400).contains(&n), "{n}");
        // Read-only requests never get "after" faults.
        assert!(da
            .iter()
            .enumerate()
            .all(|(i, f)| i % 2 == 0 || !f.map(Fault::after).unwrap_or(false)));
        assert!(FaultInjector::new(0.0, 1, &Fault::ALL).draw(true).is_none());
    }

    #[test]
    fn garbled_answers_strike_reads_and_writes() {
        let only = Fault::parse_list("truncated_after,html_after").unwrap();
        let f = FaultInjector::new(1.0, 3, &only);
        let reads: Vec<_> = (0..50).map(|_| f.draw(false).unwrap()).collect();
        let writes: Vec<_> = (0..50).map(|_| f.draw(true).unwrap()).collect();
        for kinds in [&reads, &writes] {
            assert!(kinds.contains(&Fault::TruncatedAfter) && kinds.contains(&Fault::HtmlAfter));
            assert!(kinds.iter().all(|k| only.contains(k)));
        }
        // Reads never get faults that would pretend a change was applied.
        let drops = FaultInjector::new(1.0, 3, &[Fault::DropAfter]);
        assert!(drops.draw(false).is_none());
        assert_eq!(drops.draw(true), Some(Fault::DropAfter));
    }

    #[test]
    fn kind_lists_parse() {
        assert_eq!(Fault::parse_list("all").unwrap(), Fault::ALL.to_vec());
        assert_eq!(
            Fault::parse_list("default").unwrap(),
            Fault::DEFAULT.to_vec()
        );
        assert_eq!(
            Fault::parse_list(" html_after , drop_before").unwrap(),
            vec![Fault::HtmlAfter, Fault::DropBefore]
        );
        let e = Fault::parse_list("garble").unwrap_err();
        assert!(
            e.contains("\"garble\"") && e.contains("truncated_after"),
            "{e}"
        );
        assert!(Fault::parse_list("").is_err());
    }
}

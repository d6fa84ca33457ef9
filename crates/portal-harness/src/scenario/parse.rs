//! Reading a scenario file: the header lines, then each call's steps, into a [`Scenario`].

use super::*;

/// A call being read: (line, from, to, steps).
type CallDraft = (usize, Option<String>, Option<String>, Vec<ScenarioStep>);

/// A duration: `500ms`, `5s`, `1.5s`, or a bare number of `bare_unit`s.
pub fn parse_duration(text: &str, bare_unit: Duration) -> Option<Duration> {
    let (number, unit) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, Duration::from_millis(1))
    } else if let Some(s) = text.strip_suffix('s') {
        (s, Duration::from_secs(1))
    } else {
        (text, bare_unit)
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| unit.mul_f64(value))
}

fn parse_codecs(text: &str) -> Result<Vec<Codec>, String> {
    text.split(',')
        .map(|c| match c.trim().to_ascii_lowercase().as_str() {
            "pcmu" => Ok(Codec::Pcmu),
            "pcma" => Ok(Codec::Pcma),
            other => Err(format!("{other:?} is not pcmu or pcma")),
        })
        .collect()
}

impl Scenario {
    /// Reads a scenario; relative WAV paths are joined to `base` when given.
    pub fn parse(text: &str, base: Option<&Path>) -> Result<Scenario, ScenarioError> {
        let mut header = Header::default();
        let mut telephone_event_set = false;
        // (line, from, to, steps) of each call.
        let mut calls: Vec<CallDraft> = Vec::new();
        let mut in_header = true;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let text = raw.split("//").next().unwrap_or_default().trim();
            if text.is_empty() {
                continue;
            }
            let fail = |problem: String| ScenarioError {
                line,
                text: text.to_owned(),
                problem,
            };
            let words: Vec<&str> = text.split_whitespace().collect();
            let verb = words[0];
            if verb == "sip-header" {
                if !in_header {
                    return Err(fail(
                        "sip-header belongs in the header, before the first step".into(),
                    ));
                }
                let line = text["sip-header".len()..].trim();
                match line.split_once(':') {
                    Some((name, value))
                        if !name.is_empty()
                            && !value.trim().is_empty()
                            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
                    {
                        header.sip_headers.push(line.to_owned());
                    }
                    _ => {
                        return Err(fail(format!(
                            "{line:?} is not a header line (`Name: value`)"
                        )));
                    }
                }
                continue;
            }
            let value = || {
                if words.len() == 2 {
                    Ok(words[1])
                } else {
                    Err(fail(format!("{verb} takes one value")))
                }
            };
            let header_key = matches!(
                verb,
                "from"
                    | "to"
                    | "transport"
                    | "dtmf"
                    | "telephone-event"
                    | "codecs"
                    | "timeout"
                    | "digit-ms"
                    | "gap-ms"
            );
            if header_key {
                if !in_header {
                    return Err(fail(format!(
                        "{verb} belongs in the header, before the first step (or on a `call` line)"
                    )));
                }
                let v = value()?;
                let number = |v: &str| {
                    v.trim_end_matches("ms")
                        .parse::<u32>()
                        .map_err(|_| fail(format!("{v:?} is not a number of milliseconds")))
                };
                match verb {
                    "from" => header.from = Some(v.to_owned()),
                    "to" => header.to = v.to_owned(),
                    "transport" => {
                        header.transport = SipTransport::parse(v)
                            .ok_or_else(|| fail(format!("{v:?} is not udp or tcp")))?
                    }
                    "dtmf" => {
                        header.dtmf = match v {
                            "rfc4733" => DtmfMode::Rfc4733,
                            "info" => DtmfMode::SipInfo,
                            "inband" => DtmfMode::Inband,
                            other => {
                                return Err(fail(format!(
                                    "{other:?} is not rfc4733, info or inband"
                                )));
                            }
                        }
                    }
                    "telephone-event" => {
                        telephone_event_set = true;
                        header.telephone_event = match v {
                            "none" => None,
                            pt => Some(
                                pt.parse::<u8>()
                                    .ok()
                                    .filter(|pt| (96..=127).contains(pt))
                                    .ok_or_else(|| {
                                        fail(format!("{pt:?} is not a payload type 96-127 or none"))
                                    })?,
                            ),
                        }
                    }
                    "codecs" => header.codecs = parse_codecs(v).map_err(fail)?,
                    "timeout" => {
                        header.timeout = parse_duration(v, Duration::from_secs(1))
                            .ok_or_else(|| fail(format!("{v:?} is not a number of seconds")))?
                    }
                    "digit-ms" => header.digit_ms = number(v)?,
                    "gap-ms" => header.gap_ms = number(v)?,
                    _ => unreachable!("a header key"),
                }
                continue;
            }
            in_header = false;
            if verb == "call" {
                let mut from = None;
                let mut to = None;
                let mut rest = words[1..].iter();
                while let Some(key) = rest.next() {
                    let v = rest
                        .next()
                        .ok_or_else(|| fail(format!("{key} needs a number")))?;
                    match *key {
                        "from" => from = Some((*v).to_owned()),
                        "to" => to = Some((*v).to_owned()),
                        other => {
                            return Err(fail(format!(
                                "`call` takes `from NUMBER` and `to NUMBER`, not {other:?}"
                            )));
                        }
                    }
                }
                calls.push((line, from, to, Vec::new()));
                continue;
            }
            // A step, with its suffix.
            let mut words = words;
            let mut within = None;
            let mut after = None;
            let mut at = None;
            if words.len() >= 3 {
                let suffix = words[words.len() - 2];
                let amount = words[words.len() - 1];
                match suffix {
                    "within" | "after" | "at" => {
                        let duration = parse_duration(amount, Duration::from_millis(1))
                            .ok_or_else(|| fail(format!("{amount:?} is not a duration")))?;
                        if suffix == "within" {
                            if !matches!(verb, "expect" | "start") {
                                return Err(fail("`within` goes with expect and start".into()));
                            }
                            within = Some(duration);
                        } else {
                            if verb != "press" {
                                return Err(fail(format!("`{suffix}` goes with press")));
                            }
                            if suffix == "at" {
                                at = Some(duration);
                            } else {
                                after = Some(duration);
                            }
                        }
                        words.truncate(words.len() - 2);
                    }
                    _ => {}
                }
            }
            let step_text = words.join(" ");
            let mut steps = script::parse(&step_text).map_err(|error| fail(error.problem))?;
            let step = match (steps.pop(), steps.is_empty()) {
                (Some(step), true) => step,
                _ => return Err(fail("one step per line".into())),
            };
            let step = match (step, base) {
                (Step::SayWav(path), Some(base)) if path.is_relative() => {
                    Step::SayWav(base.join(path))
                }
                (step, _) => step,
            };
            if calls.is_empty() {
                calls.push((line, None, None, Vec::new()));
            }
            if let Some(call) = calls.last_mut() {
                call.3.push(ScenarioStep {
                    line,
                    text: text.to_owned(),
                    step,
                    within,
                    after,
                    at,
                });
            }
        }
        if header.dtmf == DtmfMode::Inband && !telephone_event_set {
            header.telephone_event = None; // the portal listens for tones only without telephone-event
        }
        if calls.is_empty() {
            return Err(ScenarioError {
                line: 0,
                text: String::new(),
                problem: "the scenario has no steps".into(),
            });
        }
        let calls = calls
            .into_iter()
            .map(|(line, from, to, steps)| {
                let from = from.or_else(|| header.from.clone()).ok_or(ScenarioError {
                    line,
                    text: String::new(),
                    problem: "no calling number: write `from NUMBER` in the header".into(),
                })?;
                if steps.is_empty() {
                    return Err(ScenarioError {
                        line,
                        text: "call".into(),
                        problem: "this call has no steps".into(),
                    });
                }
                Ok(ScenarioCall {
                    line,
                    from,
                    to: to.unwrap_or_else(|| header.to.clone()),
                    steps,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Scenario { header, calls })
    }
}

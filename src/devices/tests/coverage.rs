//! Every pattern of the table has a sample in the tests: a pattern added without one fails
//! here.

use regex::Regex;

use super::pagers::PAGER_SAMPLES;
use super::prompts::{PROMPTS, REFINED};
use super::replies::{ERRORS, INTERSTITIAL_SAMPLES};
use super::*;

#[test]
fn every_prompt_pattern_has_a_sample() {
    for f in FAMILIES {
        for (i, (_, re)) in f.prompt_res().prompts.iter().enumerate() {
            let shown = PROMPTS
                .iter()
                .filter(|(_, name, ..)| *name == f.name)
                .map(|(bytes, ..)| {
                    render(bytes)
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .chain(
                    REFINED
                        .iter()
                        .filter(|(_, _, name, _)| *name == f.name)
                        .map(|(prompt, ..)| prompt.to_string()),
                )
                .any(|line| re.is_match(&line));
            assert!(
                shown,
                "{}: no sample for {:?}",
                f.name, f.prompts[i].pattern
            );
        }
    }
}

#[test]
fn every_pager_pattern_has_a_sample() {
    for f in FAMILIES {
        for p in f.pagers {
            let re = crate::devices::re(p.pattern);
            let shown = PAGER_SAMPLES.iter().any(|s| re.is_match(s.trim()));
            assert!(shown, "{}: no sample for {:?}", f.name, p.pattern);
        }
    }
}

#[test]
fn every_error_pattern_has_a_sample() {
    for f in FAMILIES {
        for (i, re) in f.compiled().errors.iter().enumerate() {
            let shown = ERRORS
                .iter()
                .filter(|(name, ..)| *name == f.name)
                .any(|(_, bytes, _)| render(bytes).lines().any(|l| re.is_match(l.trim())));
            assert!(shown, "{}: no sample for {:?}", f.name, f.errors[i]);
        }
    }
}

#[test]
fn every_interstitial_has_a_sample() {
    for i in INTERSTITIALS {
        let re = Regex::new(i.pattern).unwrap();
        let shown = INTERSTITIAL_SAMPLES.iter().any(|(bytes, name, _)| {
            *name == i.name && re.is_match(render(bytes).lines().last().unwrap_or("").trim())
        });
        assert!(shown, "no sample for the {:?} interstitial", i.name);
    }
}

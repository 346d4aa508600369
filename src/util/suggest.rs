//! Close matches for typos: "did you mean …" for keys, ids and variable names.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let word_lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(&word_lower, &candidate.to_lowercase()), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Up to `limit` candidates close to `word`, best first.
pub(crate) fn ranked<'a, I>(word: &str, candidates: I, limit: usize) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let word_lower = word.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|candidate| {
            let lower = candidate.to_lowercase();
            let mut score = strsim::jaro_winkler(&word_lower, &lower);
            if lower.contains(&word_lower) || word_lower.contains(&lower) {
                score = score.max(0.85);
            }
            (score, candidate)
        })
        .filter(|(score, _)| *score >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(limit).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos() {
        assert_eq!(closest("contine_on_error", ["continue_on_error", "confirm"]), Some("continue_on_error"));
        assert_eq!(closest("zzz", ["continue_on_error", "confirm"]), None);
        assert_eq!(ranked("cuda304", ["cuda-304", "storage-crisis", "ollama-gpu"], 3), vec!["cuda-304"]);
    }
}

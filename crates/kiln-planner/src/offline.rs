//! Deterministic planning without a model: the brief's structure decides the stories.

use kiln_store::records::{Plan, Story};

/// Plans `brief` for `project` into at most `max_stories` stories.
pub fn plan(project: &str, brief: &str, max_stories: usize) -> Plan {
    let clauses = clauses(brief);
    let headline = clauses
        .first()
        .cloned()
        .unwrap_or_else(|| format!("Build {project}"));
    let mut wanted: Vec<String> = Vec::new();
    for (i, clause) in clauses.iter().enumerate() {
        // "A dashboard with login, orders and a map": the parts after "with" are the features.
        if let Some((_, rest)) = split_with(clause) {
            wanted.extend(enumeration(rest));
            if i == 0 {
                continue;
            }
        }
        if i > 0 || clauses.len() == 1 {
            wanted.push(clause.clone());
        }
    }
    if wanted.is_empty() {
        wanted.push(headline.clone());
    }
    let mut seen = std::collections::HashSet::new();
    wanted.retain(|w| seen.insert(w.to_lowercase()));
    wanted.truncate(max_stories.max(1));
    let epic = match split_with(&headline) {
        Some((head, _)) => capitalize(head),
        None => capitalize(&headline),
    };
    let stories = wanted.iter().map(|w| story(w, &epic)).collect();
    Plan {
        epic: truncate_words(&epic, 120),
        planner: "offline".into(),
        stories,
    }
}

fn story(want: &str, epic: &str) -> Story {
    let title = truncate_words(&capitalize(want), 80);
    Story {
        description: format!(
            "As a user of {}, I want {} so that the app does what the brief asks.",
            epic,
            lower_first(want)
        ),
        acceptance: vec![
            format!("The home page presents \"{title}\""),
            "The page loads successfully from the deployed URL".into(),
            "The app's own tests pass in the tester".into(),
        ],
        title,
    }
}

/// Bullet lines first; otherwise sentences.
fn clauses(brief: &str) -> Vec<String> {
    let bullets: Vec<String> = brief
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let stripped = l
                .strip_prefix("- ")
                .or_else(|| l.strip_prefix("* "))
                .or_else(|| l.strip_prefix("• "))
                .or_else(|| numbered(l))?;
            Some(clean(stripped))
        })
        .filter(|s| !s.is_empty())
        .collect();
    let prose: String = brief
        .lines()
        .map(str::trim)
        .filter(|l| {
            !(l.starts_with("- ")
                || l.starts_with("* ")
                || l.starts_with("• ")
                || numbered(l).is_some())
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut out: Vec<String> = prose
        .split(['.', '!', '?', ';', '\n'])
        .map(clean)
        .filter(|s| s.split_whitespace().count() >= 2)
        .collect();
    out.extend(bullets);
    out
}

fn numbered(line: &str) -> Option<&str> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    line[digits..]
        .strip_prefix(". ")
        .or_else(|| line[digits..].strip_prefix(") "))
}

fn split_with(clause: &str) -> Option<(&str, &str)> {
    let lower = clause.to_lowercase();
    let at = lower.find(" with ")?;
    Some((clause[..at].trim(), clause[at + 6..].trim()))
}

fn enumeration(list: &str) -> Vec<String> {
    list.split(',')
        .flat_map(|part| part.split(" and "))
        .map(clean)
        .filter(|s| !s.is_empty())
        .collect()
}

fn clean(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches(|c: char| c == ',' || c == ':' || c == '-')
        .trim()
        .to_owned()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first)
            if !s.starts_with(|ch: char| {
                ch.is_uppercase() && s.chars().nth(1).is_some_and(char::is_uppercase)
            }) =>
        {
            first.to_lowercase().chain(c).collect()
        }
        _ => s.to_owned(),
    }
}

fn truncate_words(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    for word in s.split_whitespace() {
        if out.chars().count() + word.chars().count() + 1 > max.saturating_sub(1) {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(p: &Plan) -> Vec<&str> {
        p.stories.iter().map(|s| s.title.as_str()).collect()
    }

    #[test]
    fn enumerated_features_become_stories() {
        let p = plan(
            "pizzadash",
            "Build a pizza ordering dashboard with auth, an order list and live delivery tracking.",
            8,
        );
        assert_eq!(p.epic, "Build a pizza ordering dashboard");
        assert_eq!(
            titles(&p),
            ["Auth", "An order list", "Live delivery tracking"]
        );
        assert!(p.stories.iter().all(|s| s.acceptance.len() == 3));
        assert_eq!(p.planner, "offline");
    }

    #[test]
    fn sentences_and_bullets_become_stories() {
        let brief = "A landing page for a bakery.\nShow the opening hours. Offer a contact form!\n- Gallery of cakes\n2. Prices table";
        let p = plan("bakery", brief, 8);
        assert_eq!(p.epic, "A landing page for a bakery");
        assert_eq!(
            titles(&p),
            [
                "Show the opening hours",
                "Offer a contact form",
                "Gallery of cakes",
                "Prices table"
            ]
        );
    }

    #[test]
    fn a_single_sentence_is_one_story_and_plans_are_deterministic() {
        let a = plan("x", "show a greeting", 8);
        assert_eq!(titles(&a), ["Show a greeting"]);
        assert_eq!(a, plan("x", "show a greeting", 8));
    }

    #[test]
    fn story_count_is_capped_and_duplicates_dropped() {
        let brief = "An app with a, b, c, d, e, f, g, h, i, j. Also A.";
        let p = plan("x", brief, 4);
        assert_eq!(p.stories.len(), 4);
        let p = plan("x", "Show news. Show news.", 8);
        assert_eq!(titles(&p), ["Show news"]);
    }

    #[test]
    fn markup_in_the_brief_stays_data() {
        let p = plan("x", "Show <script>alert(1)</script> safely", 8);
        assert_eq!(p.stories[0].title, "Show <script>alert(1)</script> safely");
    }

    #[test]
    fn long_clauses_are_truncated_on_word_boundaries() {
        let long = "show ".to_owned() + &"wonderful ".repeat(30);
        let p = plan("x", &long, 8);
        assert!(p.stories[0].title.chars().count() <= 80);
        assert!(p.stories[0].title.ends_with('…'));
    }
}

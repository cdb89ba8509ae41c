//! A small PromQL tokenizer: the metric names an expression selects, with the label names
//! each selector matches on, and the Grafana variables it uses.

/// A metric name used in an expression, with the label names its selector matches on.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    pub(crate) name: String,
    pub(crate) labels: Vec<String>,
}

pub(crate) fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Index just past the string literal that starts at `i`.
pub(crate) fn skip_string(chars: &[char], mut i: usize) -> usize {
    let quote = chars[i];
    i += 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// Label names of the matchers in `{...}` starting at `i`; returns them and the index past `}`.
pub(crate) fn matchers(chars: &[char], mut i: usize) -> (Vec<String>, usize) {
    let mut labels = Vec::new();
    i += 1;
    while i < chars.len() && chars[i] != '}' {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(chars, i);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            labels.push(chars[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
    (labels, i + 1)
}

/// Metric names (anything not followed by `(`, outside strings, label lists and durations).
/// Callers keep what they care about: `croupier_*`, recorded `level:metric:op` names and `up`.
pub(crate) fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let n = chars.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '$' {
            i += 1;
            if i < n && chars[i] == '{' {
                while i < n && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            } else {
                while i < n && is_ident(chars[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < n && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < n && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < n && chars[j].is_whitespace() {
                j += 1;
            }
            let next = chars.get(j).copied();
            let grouping = matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            );
            if grouping && next == Some('(') {
                while j < n && chars[j] != ')' {
                    j += 1;
                }
                i = j + 1;
            } else if next == Some('(') {
                // A function or aggregation.
            } else if next == Some('{') {
                let (labels, end) = matchers(&chars, j);
                out.push(Selector { name: word, labels });
                i = end;
            } else {
                out.push(Selector {
                    name: word,
                    labels: Vec::new(),
                });
            }
        } else if c == '{' {
            i = matchers(&chars, i).1;
        } else {
            i += 1;
        }
    }
    out
}

/// Grafana variables an expression uses: `$name`, `${name}`, `${name:fmt}`, `[[name]]`.
pub(crate) fn variables(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let braced = chars.get(i + 1) == Some(&'{');
            let start = if braced { i + 2 } else { i + 1 };
            let mut j = start;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            out.push(chars[start..j].iter().collect());
            i = j;
        } else if chars[i] == '[' && chars.get(i + 1) == Some(&'[') {
            let start = i + 2;
            let mut j = start;
            while j < chars.len() && chars[j] != ']' {
                j += 1;
            }
            out.push(chars[start..j].iter().collect());
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn tokenizer_finds_metric_names_and_their_labels() {
    let found = selectors(
        r#"sum by (game, le) (rate(croupier_spin_duration_seconds_bucket{instance=~"$instance", game="croupier_x"}[$__rate_interval]))
           / on (game) game:croupier_theoretical_rtp:ratio offset 5m and up{job="croupier"} > 0.5 unless croupier_ready[1h:5m]"#,
    );
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"croupier_spin_duration_seconds_bucket"),
        "{names:?}"
    );
    assert!(
        names.contains(&"game:croupier_theoretical_rtp:ratio"),
        "{names:?}"
    );
    assert!(
        names.contains(&"up") && names.contains(&"croupier_ready"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"croupier_x") && !names.contains(&"le") && !names.contains(&"rate"),
        "{names:?}"
    );
    let bucket = found
        .iter()
        .find(|s| s.name == "croupier_spin_duration_seconds_bucket")
        .unwrap();
    assert_eq!(bucket.labels, ["instance", "game"]);
    assert_eq!(
        variables("x{a=~\"$game\"}[${window}] [[old]]"),
        ["game", "window", "old"]
    );
}

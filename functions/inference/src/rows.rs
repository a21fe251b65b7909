//! Model input rows and output scores in the two formats SageMaker containers speak.
//!
//! - `text/csv`: one row per line in the spec's column order, no header (built-in XGBoost and
//!   Linear Learner); the answer is one score per line, or one line of comma-separated scores
//!   (older XGBoost containers). The first field of a line is the score.
//! - `application/json`: `{"instances":[{"features":[…]}]}` (Linear Learner's dense format);
//!   the answer is `{"predictions":[{"score":…}]}` or `{"predictions":[…numbers…]}`.

use std::fmt::Write as _;
use std::str::FromStr;

use serde_json::Value;

/// The request format sent to the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    Csv,
    Json,
}

impl RowFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            RowFormat::Csv => "text/csv",
            RowFormat::Json => "application/json",
        }
    }
}

impl FromStr for RowFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "text/csv" => Ok(RowFormat::Csv),
            "application/json" => Ok(RowFormat::Json),
            _ => Err(format!(
                "{value:?} is not a supported format: text/csv or application/json"
            )),
        }
    }
}

/// The request body carrying `rows`.
pub fn encode(format: RowFormat, rows: &[Vec<f64>]) -> String {
    match format {
        RowFormat::Csv => {
            let mut text = String::new();
            for row in rows {
                for (index, value) in row.iter().enumerate() {
                    if index > 0 {
                        text.push(',');
                    }
                    // Display is the shortest text that reads back as the same number.
                    let _ = write!(text, "{value}");
                }
                text.push('\n');
            }
            text
        }
        RowFormat::Json => {
            let instances: Vec<Value> = rows
                .iter()
                .map(|row| serde_json::json!({ "features": row }))
                .collect();
            serde_json::json!({ "instances": instances }).to_string()
        }
    }
}

/// The scores in an endpoint's answer, one per row sent. `content_type` is the answer's, if
/// it gave one; else the answer is read in the format that was sent.
pub fn decode_scores(
    body: &[u8],
    content_type: Option<&str>,
    sent: RowFormat,
    rows: usize,
) -> Result<Vec<f64>, String> {
    let format = content_type
        .and_then(|value| value.split(';').next())
        .and_then(|media| media.parse().ok())
        .unwrap_or(sent);
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())?;
    let scores = match format {
        RowFormat::Csv => csv_scores(text, rows)?,
        RowFormat::Json => json_scores(text)?,
    };
    if scores.len() != rows {
        return Err(format!(
            "the answer has {} scores for {rows} rows",
            scores.len()
        ));
    }
    if let Some(bad) = scores
        .iter()
        .find(|score| !(score.is_finite() && (0.0..=1.0).contains(*score)))
    {
        return Err(format!(
            "the answer has the score {bad}, which is not a probability in [0, 1]"
        ));
    }
    Ok(scores)
}

fn csv_scores(text: &str, rows: usize) -> Result<Vec<f64>, String> {
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let fields: Vec<&str> = if lines.len() == 1 && rows > 1 {
        lines[0].split(',').collect()
    } else {
        lines
            .iter()
            .map(|line| line.split(',').next().unwrap_or_default())
            .collect()
    };
    fields
        .iter()
        .map(|field| {
            field
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("the answer has {field:?} where a score should be"))
        })
        .collect()
}

fn json_scores(text: &str) -> Result<Vec<f64>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("the answer is not JSON: {error}"))?;
    let predictions = value
        .get("predictions")
        .and_then(Value::as_array)
        .ok_or("the answer has no \"predictions\" array")?;
    predictions
        .iter()
        .map(|prediction| {
            prediction
                .as_f64()
                .or_else(|| prediction.get("score").and_then(Value::as_f64))
                .ok_or_else(|| format!("the prediction {prediction} has no numeric score"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_lines_of_shortest_round_trip_numbers() {
        let body = encode(
            RowFormat::Csv,
            &[vec![3.0, 19.99, 0.0], vec![1.0, 0.1, 2.0]],
        );
        assert_eq!(body, "3,19.99,0\n1,0.1,2\n");
        let json = encode(RowFormat::Json, &[vec![3.0, 19.99]]);
        assert_eq!(json, r#"{"instances":[{"features":[3.0,19.99]}]}"#);
    }

    #[test]
    fn scores_are_read_from_every_answer_shape_containers_give() {
        let csv = |text: &str, rows| {
            decode_scores(text.as_bytes(), Some("text/csv"), RowFormat::Csv, rows)
        };
        assert_eq!(csv("0.25\n0.5\n", 2).unwrap(), [0.25, 0.5]);
        assert_eq!(
            csv("0.25,0.5", 2).unwrap(),
            [0.25, 0.5],
            "one line, XGBoost style"
        );
        assert_eq!(csv("0.25,1\n", 1).unwrap(), [0.25], "score, label");
        let json = |text: &str| decode_scores(text.as_bytes(), None, RowFormat::Json, 2);
        assert_eq!(
            json(r#"{"predictions":[{"score":0.1},{"score":0.9,"predicted_label":1}]}"#).unwrap(),
            [0.1, 0.9]
        );
        assert_eq!(json(r#"{"predictions":[0.1,0.9]}"#).unwrap(), [0.1, 0.9]);
        let mixed = decode_scores(
            b"0.3\n0.4\n",
            Some("text/csv; charset=utf-8"),
            RowFormat::Json,
            2,
        );
        assert_eq!(mixed.unwrap(), [0.3, 0.4], "the answer's content type wins");
    }

    #[test]
    fn answers_that_do_not_fit_the_rows_are_errors_saying_why() {
        let error = |body: &str, format, rows| {
            decode_scores(body.as_bytes(), None, format, rows).unwrap_err()
        };
        assert_eq!(
            error("0.1\n", RowFormat::Csv, 2),
            "the answer has 1 scores for 2 rows"
        );
        assert!(error("x\n", RowFormat::Csv, 1).contains("\"x\""));
        assert!(error("1.5\n", RowFormat::Csv, 1).contains("not a probability"));
        assert!(error("{}", RowFormat::Json, 1).contains("no \"predictions\""));
        assert!(
            error("{\"predictions\":[{\"p\":1}]}", RowFormat::Json, 1).contains("no numeric score")
        );
        assert!(error("[", RowFormat::Json, 1).contains("not JSON"));
        assert!(
            "text/plain"
                .parse::<RowFormat>()
                .unwrap_err()
                .contains("text/csv")
        );
    }
}

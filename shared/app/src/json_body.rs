//! Parsing request bodies without echoing their content into error messages
//! (a body may hold a secret in the wrong place).

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::ApiError;

pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let msg = e.to_string();
        let detail = match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => "not well-formed JSON".to_owned(),
            // Field names are safe to repeat; values are not.
            Category::Data
                if msg.starts_with("unknown field") || msg.starts_with("missing field") =>
            {
                msg.split(" at line").next().unwrap_or("").to_owned()
            }
            Category::Data if msg.contains("invalid type") || msg.contains("invalid value") => {
                "a field has the wrong type or value".to_owned()
            }
            Category::Data => msg.split(" at line").next().unwrap_or("").to_owned(),
        };
        ApiError::MalformedBody(format!(
            "{detail} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        secret: String,
    }

    #[test]
    fn never_echoes_values() {
        for raw in [
            r#"{"secret": 123456}"#,
            r#"{"secret": "x", "secret2": "hunter2"}"#,
            r#"{"secret": "hunter2" x}"#,
            r#""hunter2""#,
        ] {
            let Err(err) = parse::<Body>(raw.as_bytes()) else {
                panic!("accepted {raw}")
            };
            let err = err.to_string();
            assert!(!err.contains("hunter2") && !err.contains("123456"), "{err}");
        }
        let err = parse::<Body>(br#"{"nope": 1}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `nope`"), "{err}");
    }
}

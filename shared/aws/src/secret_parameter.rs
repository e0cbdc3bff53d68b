//! Keys from SSM Parameter Store: a SecureString parameter holding the base64 of
//! 32 random bytes (the AWS counterpart of the self-hosted key file). The operator
//! creates it before deploying, since CloudFormation cannot create SecureStrings:
//!
//! ```text
//! aws ssm put-parameter --name /rampart/totp-key --type SecureString \
//!     --value "$(openssl rand -base64 32)"
//! ```
//!
//! Errors name the parameter and what is wrong with it, never its value (not even
//! the base64 decoder's message, which quotes the offending byte).

use anyhow::{Context, anyhow, bail};
use aws_sdk_ssm::types::ParameterType;
use base64::Engine;

use crate::aws_error::{call_error, code_of};

pub const KEY_LEN: usize = 32;

/// Reads and decrypts the SecureString parameter `name` and decodes it into a key.
pub async fn load_key_parameter(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
) -> anyhow::Result<[u8; KEY_LEN]> {
    let out = ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            if code_of(&e) == Some("ParameterNotFound") {
                anyhow!(
                    "SSM parameter {name} does not exist: create it before deploying with \
                     `aws ssm put-parameter --name {name} --type SecureString \
                     --value \"$(openssl rand -base64 32)\"`"
                )
            } else {
                anyhow::Error::new(call_error("SSM", "GetParameter", &e))
                    .context(format!("reading the key parameter {name}"))
            }
        })?;
    let parameter = out
        .parameter()
        .with_context(|| format!("SSM parameter {name}: GetParameter returned no parameter"))?;
    if parameter.r#type() != Some(&ParameterType::SecureString) {
        bail!(
            "SSM parameter {name} is a {}, not a SecureString: a key must be stored encrypted",
            parameter
                .r#type()
                .map_or("parameter of unknown type", |t| t.as_str())
        );
    }
    decode_key(name, parameter.value().unwrap_or_default())
}

/// The 32 bytes of a base64 (standard alphabet, padded or not) key text.
fn decode_key(name: &str, text: &str) -> anyhow::Result<[u8; KEY_LEN]> {
    let text = text.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .map_err(|_| anyhow!("SSM parameter {name} is not base64 of a {KEY_LEN}-byte key"))?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
        anyhow!(
            "SSM parameter {name} decodes to {} bytes, expected {KEY_LEN} \
             (generate one with `openssl rand -base64 32`)",
            bytes.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_padded_and_unpadded_base64_with_surrounding_space() {
        let key = [7u8; 32];
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        assert_eq!(decode_key("/k", &format!(" {b64}\n")).unwrap(), key);
        assert_eq!(decode_key("/k", b64.trim_end_matches('=')).unwrap(), key);
    }

    #[test]
    fn errors_name_the_parameter_and_never_the_value() {
        for bad in ["c2VjcmV0LXNob3J0", "not*base64*secret", ""] {
            let err = decode_key("/rampart/totp-key", bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains("/rampart/totp-key"), "{err}");
            if !bad.is_empty() {
                assert!(!err.contains(bad), "{err}");
            }
            assert!(!err.contains("secret"), "{err}");
        }
        let err = decode_key("/k", "c2VjcmV0LXNob3J0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("decodes to 12 bytes, expected 32"), "{err}");
    }
}

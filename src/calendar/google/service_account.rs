//! A Workspace clinic's service account with domain-wide delegation, through
//! yup-oauth2's service-account flow: Nuru signs a JWT with the clinic's key
//! and acts as the doctor (`subject`) without each doctor's consent. The
//! token endpoint is the key file's `token_uri`.

use super::oauth::{OAuthError, SCOPES};
use yup_oauth2::ServiceAccountKey;

pub type Authenticator =
    yup_oauth2::authenticator::Authenticator<<yup_oauth2::DefaultHyperClientBuilder as yup_oauth2::HyperClientBuilder>::Connector>;

/// Reads a service account key file (JSON, as Google's console gives it)
/// and says what is wrong with it, if anything. Its `token_uri` must be
/// https, or the token endpoint this deployment is configured with.
pub fn parse_key(json: &str, configured_token_url: &str) -> Result<ServiceAccountKey, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|_| "not JSON".to_string())?;
    if value["type"] != "service_account" {
        return Err("not a service account key (\"type\" must be \"service_account\")".into());
    }
    let key: ServiceAccountKey = serde_json::from_value(value).map_err(|e| format!("incomplete key file: {e}"))?;
    if !key.private_key.contains("PRIVATE KEY") {
        return Err("the key file has no private key".into());
    }
    if !key.client_email.contains('@') {
        return Err("the key file has no client_email".into());
    }
    if !(key.token_uri.starts_with("https://") || key.token_uri == configured_token_url) {
        return Err("token_uri must be an https URL".into());
    }
    Ok(key)
}

/// An authenticator acting as `subject` (the doctor's Workspace address).
pub async fn authenticator(key: ServiceAccountKey, subject: &str) -> Result<Authenticator, OAuthError> {
    yup_oauth2::ServiceAccountAuthenticator::builder(key)
        .subject(subject)
        .build()
        .await
        .map_err(|e| OAuthError::Refused(format!("service account: {e}")))
}

/// An access token for the Calendar scopes. A delegation that is refused
/// (not granted in the Workspace admin console, or the user gone) is
/// `InvalidGrant`: the connection then needs the clinic's admin.
pub async fn token(auth: &Authenticator) -> Result<String, OAuthError> {
    use yup_oauth2::error::AuthErrorCode as C;
    match auth.token(SCOPES).await {
        Ok(t) => t.token().map(str::to_string).ok_or_else(|| OAuthError::Refused("no access token in the answer".into())),
        Err(yup_oauth2::Error::AuthError(e)) => match e.error {
            C::InvalidGrant | C::UnauthorizedClient | C::AccessDenied | C::InvalidClient => {
                Err(OAuthError::InvalidGrant(e.error_description.unwrap_or_else(|| format!("{:?}", e.error))))
            }
            other => Err(OAuthError::Refused(format!("{other:?}"))),
        },
        Err(yup_oauth2::Error::HttpError(e)) => Err(OAuthError::Unavailable(e.to_string())),
        Err(yup_oauth2::Error::HttpClientError(e)) => Err(OAuthError::Unavailable(e.to_string())),
        Err(e) => Err(OAuthError::Refused(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_files_are_checked() {
        let good = include_str!("../../../fixtures/google/test-service-account.json");
        let parse_key = |k: &str| super::parse_key(k, "https://oauth2.googleapis.com/token");
        assert_eq!(parse_key(good).unwrap().client_email, "nuru-calendar@nuru-tests.iam.gserviceaccount.com");
        assert!(parse_key("{}").unwrap_err().contains("service_account"));
        assert!(parse_key("nope").is_err());
        let mut v: serde_json::Value = serde_json::from_str(good).unwrap();
        v["private_key"] = serde_json::json!("");
        assert!(parse_key(&v.to_string()).unwrap_err().contains("private key"));
        v = serde_json::from_str(good).unwrap();
        v["token_uri"] = serde_json::json!("http://evil.example/token");
        assert!(parse_key(&v.to_string()).unwrap_err().contains("https"));
    }
}

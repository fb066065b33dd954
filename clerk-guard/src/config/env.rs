//! The configuration from environment variables (`CLERK_JWT_KEY`,
//! `CLERK_JWKS_URL`, `CLERK_PUBLISHABLE_KEY`, `CLERK_SECRET_KEY`, …).

use super::build::check_parties;
use super::{ClerkConfig, ClerkConfigBuilder, ConfigError};

impl ClerkConfig {
    /// Reads the configuration from the process environment.
    ///
    /// Key source, first match wins: `CLERK_JWT_KEY` (PEM public key,
    /// networkless), `CLERK_JWKS_URL`, `CLERK_PUBLISHABLE_KEY` (JWKS and
    /// issuer derived from the Frontend API host), `CLERK_SECRET_KEY` (Backend
    /// API `/v1/jwks`, base `CLERK_API_URL`). `CLERK_SECRET_KEY` is also read
    /// beside another key source: it authorises the Backend API lookups of
    /// opaque machine tokens. Then `CLERK_ISSUER` (exact issuer) and
    /// `CLERK_AUTHORIZED_PARTIES` (comma-separated). Empty values count as unset.
    ///
    /// ```no_run
    /// let config = clerk_guard::ClerkConfig::from_env()?;
    /// clerk_guard::init(config)?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn from_env() -> Result<ClerkConfig, ConfigError> {
        Self::builder_from_vars(|name| std::env::var(name).ok())?.build()
    }

    /// A builder preloaded from variables looked up by `lookup` (the
    /// environment, a file, a test's map), so options can still be added.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use clerk_guard::ClerkConfig;
    ///
    /// let vars = HashMap::from([
    ///     ("CLERK_JWKS_URL", "https://clerk.example.com/.well-known/jwks.json"),
    ///     ("CLERK_AUTHORIZED_PARTIES", "https://a.example.com, https://b.example.com"),
    /// ]);
    /// let config = ClerkConfig::builder_from_vars(|k| vars.get(k).map(|v| v.to_string()))?
    ///     .build()?;
    /// assert_eq!(config.authorized_parties().len(), 2);
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn builder_from_vars(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ClerkConfigBuilder, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut builder = ClerkConfig::builder();
        if let Some(pem) = var("CLERK_JWT_KEY") {
            builder = builder.pem_public_key(pem);
        } else if let Some(url) = var("CLERK_JWKS_URL") {
            builder = builder.jwks_url(url);
        }
        // Beside any key source: it names the Frontend API and the cookies
        // (and is the key source when none other is set).
        if let Some(pk) = var("CLERK_PUBLISHABLE_KEY") {
            builder = builder.publishable_key(pk);
        }
        if let Some(proxy) = var("CLERK_PROXY_URL") {
            builder = builder.proxy_url(proxy);
        }
        if let Some(sign_in) = var("CLERK_SIGN_IN_URL") {
            builder = builder.sign_in_url(sign_in);
        }
        // Also the Backend API's key when another key source is set: opaque
        // machine tokens are verified there.
        if let Some(sk) = var("CLERK_SECRET_KEY") {
            builder = builder.secret_key(sk);
        }
        if let Some(api) = var("CLERK_API_URL") {
            builder = builder.api_url(api);
        }
        if let Some(issuer) = var("CLERK_ISSUER") {
            builder = builder.issuer(issuer);
        }
        if let Some(parties) = var("CLERK_AUTHORIZED_PARTIES") {
            let parties: Vec<&str> = parties.split(',').map(str::trim).collect();
            // A blank entry (`a,,b`, a trailing comma) is a typo, not "no party".
            check_parties("CLERK_AUTHORIZED_PARTIES", &parties)?;
            builder = builder.authorized_parties(parties);
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<ClerkConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ClerkConfig::builder_from_vars(|k| map.get(k).cloned())?.build()
    }

    #[test]
    fn publishable_key_gives_jwks_url_and_issuer() {
        let pk = format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD.encode("fond-cat-12.clerk.accounts.dev$")
        );
        let config = from(&[("CLERK_PUBLISHABLE_KEY", &pk)]).unwrap();
        assert_eq!(
            config.jwks_url(),
            Some("https://fond-cat-12.clerk.accounts.dev/.well-known/jwks.json")
        );
        assert_eq!(
            config.issuer(),
            Some("https://fond-cat-12.clerk.accounts.dev")
        );
    }

    #[test]
    fn malformed_publishable_keys_name_the_variable() {
        let no_dollar = format!(
            "pk_live_{}",
            base64::engine::general_purpose::STANDARD.encode("clerk.example.com")
        );
        for bad in ["sk_test_abc", "pk_test_!!!", "pk_test_", no_dollar.as_str()] {
            let err = from(&[("CLERK_PUBLISHABLE_KEY", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        setting: "CLERK_PUBLISHABLE_KEY",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn precedence_is_jwt_key_then_jwks_url_then_publishable_then_secret() {
        let config = from(&[
            ("CLERK_JWKS_URL", "https://a.example/jwks"),
            ("CLERK_SECRET_KEY", "sk_test_x"),
        ])
        .unwrap();
        assert_eq!(config.jwks_url(), Some("https://a.example/jwks"));
        let config = from(&[
            ("CLERK_SECRET_KEY", "sk_test_x"),
            ("CLERK_API_URL", "http://127.0.0.1:1"),
        ])
        .unwrap();
        assert_eq!(config.jwks_url(), Some("http://127.0.0.1:1/v1/jwks"));
        assert!(config.issuer().is_none());
        let err = from(&[
            ("CLERK_JWT_KEY", "garbage"),
            ("CLERK_JWKS_URL", "https://a.example/j"),
        ])
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                setting: "CLERK_JWT_KEY",
                ..
            }
        ));
    }

    #[test]
    fn nothing_set_is_a_clear_error() {
        let err = from(&[("CLERK_ISSUER", "https://x")]).unwrap_err();
        assert_eq!(err, ConfigError::MissingKeySource);
        assert!(err.to_string().contains("CLERK_JWKS_URL"));
        let err = from(&[("CLERK_JWKS_URL", "   ")]).unwrap_err();
        assert_eq!(err, ConfigError::MissingKeySource);
    }

    #[test]
    fn bad_secret_key_and_urls_are_errors() {
        assert!(from(&[("CLERK_SECRET_KEY", "pk_test_x")]).is_err());
        assert!(from(&[("CLERK_JWKS_URL", "ftp://x.example/jwks")]).is_err());
        assert!(from(&[("CLERK_JWKS_URL", "/relative")]).is_err());
    }
}

//! [`ClerkConfigBuilder::build`]: every setting validated, none failing open.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};

use super::builder::SourceSetting;
use super::url::{cookie_suffix, frontend_api_host, parse_url, sign_in_url};
use super::{
    BackendApiSettings, ClaimRules, ClerkConfig, ClerkConfigBuilder, ConfigError, FrontendApi,
    JwksPolicy, KeySource, PageSettings, DEFAULT_API_URL,
};
use crate::http::FetchSettings;
use crate::keys::VerificationKey;

impl ClerkConfigBuilder {
    /// The Frontend API a publishable key names, reached at the proxy URL
    /// when one is set.
    fn frontend_api(&self, key: &str) -> Result<FrontendApi, ConfigError> {
        let host = frontend_api_host(key)?;
        let url = match &self.proxy_url {
            Some(proxy) => parse_url("CLERK_PROXY_URL", proxy.trim_end_matches('/'))?
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            None => format!("https://{host}"),
        };
        Ok(FrontendApi {
            publishable_key: key.to_owned(),
            development: key.starts_with("pk_test_"),
            cookie_suffix: cookie_suffix(key),
            host,
            url,
        })
    }

    /// Validates every setting and returns the configuration.
    ///
    /// ```
    /// let err = clerk_guard::ClerkConfig::builder().jwks_url("not a url").build().unwrap_err();
    /// assert!(err.to_string().starts_with("CLERK_JWKS_URL is invalid"));
    /// ```
    pub fn build(self) -> Result<ClerkConfig, ConfigError> {
        let mut issuer = self.issuer.clone();
        let backend_api = match &self.secret_key {
            None => None,
            Some(secret_key) => {
                if !(secret_key.starts_with("sk_test_") || secret_key.starts_with("sk_live_")) {
                    return Err(ConfigError::invalid(
                        "CLERK_SECRET_KEY",
                        "expected a key starting with sk_test_ or sk_live_",
                    ));
                }
                let base = self.api_url.as_deref().unwrap_or(DEFAULT_API_URL);
                Some((
                    parse_url("CLERK_API_URL", base.trim_end_matches('/'))?,
                    secret_key.clone(),
                ))
            }
        };
        let frontend = match &self.publishable_key {
            Some(key) => Some(self.frontend_api(key)?),
            None => None,
        };
        let key_source = match self.source.clone() {
            None if frontend.is_some() => {
                let host = frontend
                    .as_ref()
                    .map(|f| f.host.as_str())
                    .unwrap_or_default();
                issuer.get_or_insert_with(|| format!("https://{host}"));
                KeySource::Jwks {
                    url: parse_url(
                        "CLERK_PUBLISHABLE_KEY",
                        &format!("https://{host}/.well-known/jwks.json"),
                    )?,
                }
            }
            None => match &backend_api {
                None => return Err(ConfigError::MissingKeySource),
                Some((base, secret_key)) => KeySource::BackendApi {
                    url: parse_url(
                        "CLERK_API_URL",
                        &format!("{}/v1/jwks", base.as_str().trim_end_matches('/')),
                    )?,
                    secret_key: secret_key.clone(),
                },
            },
            Some(SourceSetting::JwksUrl(url)) => KeySource::Jwks {
                url: parse_url("CLERK_JWKS_URL", &url)?,
            },

            Some(SourceSetting::Pem(pem)) => KeySource::Pem(Arc::new(
                VerificationKey::from_pem(&pem)
                    .map_err(|problem| ConfigError::invalid("CLERK_JWT_KEY", problem))?,
            )),
        };
        if let Some(iss) = &issuer {
            if iss.trim().is_empty() {
                return Err(ConfigError::invalid("CLERK_ISSUER", "empty issuer"));
            }
        }
        let role_claims = self
            .role_claims
            .iter()
            .map(|path| {
                let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
                if parts.iter().any(String::is_empty) {
                    Err(ConfigError::invalid(
                        "role_claims",
                        format!("`{path}` is not a dotted claim path"),
                    ))
                } else {
                    Ok(parts)
                }
            })
            .collect::<Result<_, _>>()?;
        let jwks_headers = self
            .jwks_headers
            .iter()
            .map(|(name, value)| {
                let name = HeaderName::try_from(name.as_str()).map_err(|_| {
                    ConfigError::invalid("jwks_header", format!("bad name `{name}`"))
                })?;
                let mut value = HeaderValue::try_from(value.as_str()).map_err(|_| {
                    ConfigError::invalid("jwks_header", format!("bad value for `{name}`"))
                })?;
                // A proxy's key, say: never shown by `Debug`.
                value.set_sensitive(true);
                Ok((name, value))
            })
            .collect::<Result<_, ConfigError>>()?;
        if self.max_jwks_bytes == 0 {
            return Err(ConfigError::invalid("max_jwks_bytes", "must be above zero"));
        }
        check_nonzero("jwks_ttl", self.jwks_ttl)?;
        check_nonzero("unknown_kid_cooldown", self.unknown_kid_cooldown)?;
        check_nonzero("connect_timeout", self.connect_timeout)?;
        check_nonzero("request_timeout", self.request_timeout)?;
        for (setting, value) in [
            ("clock_skew", self.clock_skew),
            ("jwks_ttl", self.jwks_ttl),
            ("jwks_max_staleness", self.jwks_max_staleness),
            ("unknown_kid_cooldown", self.unknown_kid_cooldown),
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("machine_cache_ttl", self.machine.cache_ttl),
            ("machine_not_found_ttl", self.machine.not_found_ttl),
        ] {
            check_bounded(setting, value)?;
        }
        check_parties("authorized_parties", &self.authorized_parties)?;
        if self.machine.lookups_per_second == 0 {
            return Err(ConfigError::invalid(
                "machine_lookups_per_second",
                "must be above zero",
            ));
        }
        let fetch = FetchSettings {
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_bytes: self.max_jwks_bytes,
        };
        Ok(ClerkConfig {
            key_source,
            rules: ClaimRules {
                issuer,
                audience: self.audience,
                authorized_parties: self.authorized_parties,
                clock_skew: self.clock_skew,
                accept_pending_sessions: self.accept_pending_sessions,
            },
            role_claims,
            jwks: JwksPolicy {
                ttl: self.jwks_ttl,
                max_staleness: self.jwks_max_staleness,
                cooldown: self.unknown_kid_cooldown,
                headers: jwks_headers,
            },
            fetch,
            token_cache_bytes: self.token_cache_bytes,
            rejection: self.rejection,
            pages: PageSettings {
                sign_in_url: match &self.sign_in_url {
                    Some(url) => Some(sign_in_url(url)?),
                    None => frontend.as_ref().map(FrontendApi::account_portal_sign_in),
                },
                frontend,
            },
            backend_api: backend_api.map(|(base, secret_key)| BackendApiSettings {
                base,
                secret_key,
                fetch,
                machine: self.machine,
            }),
        })
    }
}

/// Refuses an allow-list entry that is blank or padded: it could never match
/// an `azp`, and a blank list entry must not read as "no check".
pub(super) fn check_parties(
    setting: &'static str,
    parties: &[impl AsRef<str>],
) -> Result<(), ConfigError> {
    for party in parties {
        let party = party.as_ref();
        if party.trim().is_empty() {
            return Err(ConfigError::invalid(
                setting,
                "an authorized party is blank (check for a stray comma)",
            ));
        }
        if party.trim() != party {
            return Err(ConfigError::invalid(
                setting,
                format!("authorized party `{party}` has surrounding whitespace"),
            ));
        }
    }
    Ok(())
}

/// Refuses a zero duration: it would disable a timeout or turn the cooldown
/// into a fetch per request.
/// The longest duration a setting takes: far past any sensible value, and
/// short enough that adding it to a clock reading never overflows.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Refuses a duration past [`MAX_DURATION`].
fn check_bounded(setting: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value > MAX_DURATION {
        return Err(ConfigError::invalid(setting, "must be at most a year"));
    }
    Ok(())
}

fn check_nonzero(setting: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(setting, "must be above zero"));
    }
    Ok(())
}

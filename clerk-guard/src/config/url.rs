//! The URLs a configuration names: https (http on loopback only), and the
//! Frontend API host a publishable key encodes.

use base64::Engine as _;

use super::ConfigError;

/// An `https` URL, or `http` on loopback only (keys fetched in clear text
/// could be swapped on the way), without credentials.
pub(super) fn parse_url(setting: &'static str, url: &str) -> Result<reqwest::Url, ConfigError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| ConfigError::invalid(setting, e.to_string()))?;
    let Some(host) = parsed.host() else {
        return Err(ConfigError::invalid(
            setting,
            "expected an https URL with a host",
        ));
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError::invalid(
            setting,
            "the URL carries credentials; send them with jwks_header instead",
        ));
    }
    let loopback = match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(ConfigError::invalid(
            setting,
            "http:// is allowed only on loopback (127.0.0.0/8, ::1, localhost): use https://",
        )),
        _ => Err(ConfigError::invalid(
            setting,
            "expected an https URL with a host",
        )),
    }
}

/// Decodes `pk_test_`/`pk_live_` + base64(`<frontend api host>$`) to the host.
pub(super) fn frontend_api_host(key: &str) -> Result<String, ConfigError> {
    const SETTING: &str = "CLERK_PUBLISHABLE_KEY";
    let encoded = key
        .strip_prefix("pk_test_")
        .or_else(|| key.strip_prefix("pk_live_"))
        .ok_or_else(|| ConfigError::invalid(SETTING, "expected pk_test_ or pk_live_ prefix"))?;
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| ConfigError::invalid(SETTING, "the part after the prefix is not base64"))?;
    let text = String::from_utf8(decoded)
        .map_err(|_| ConfigError::invalid(SETTING, "the decoded key is not text"))?;
    let host = text
        .strip_suffix('$')
        .ok_or_else(|| ConfigError::invalid(SETTING, "the decoded key does not end with `$`"))?;
    let valid = !host.is_empty()
        && host.contains('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !valid {
        return Err(ConfigError::invalid(
            SETTING,
            "the decoded key is not a Frontend API host name",
        ));
    }
    Ok(host.to_owned())
}

/// The suffix Clerk appends to an instance's cookie names
/// (`__session_<suffix>`): the first 8 characters of the URL-safe base64 of
/// the SHA-1 of the publishable key (`getCookieSuffix` in `@clerk/shared`).
pub(crate) fn cookie_suffix(publishable_key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        publishable_key.as_bytes(),
    );
    let mut encoded = base64::engine::general_purpose::URL_SAFE.encode(digest.as_ref());
    encoded.truncate(8);
    encoded
}

/// A sign-in URL: absolute (https, or http on loopback), or a path on the
/// app's own origin.
pub(super) fn sign_in_url(url: &str) -> Result<String, ConfigError> {
    const SETTING: &str = "CLERK_SIGN_IN_URL";
    if url.starts_with('/') && !url.starts_with("//") {
        return Ok(url.to_owned());
    }
    parse_url(SETTING, url).map(|parsed| parsed.to_string())
}

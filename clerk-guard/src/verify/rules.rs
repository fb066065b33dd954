//! The claim rules every kind of JWT shares: its time window.

use crate::config::ClaimRules;
use crate::rejection::{AuthRejection, Reason};

/// `exp` after `now - skew`; `nbf` and `iat`, when present, not after
/// `now + skew`: the window of every JWT, session or machine.
pub(super) fn check_times(
    rules: &ClaimRules,
    exp: f64,
    nbf: Option<f64>,
    iat: Option<f64>,
    now: f64,
) -> Result<(), AuthRejection> {
    check_expiry(rules, exp, now)?;
    check_not_before(rules, nbf, now)?;
    check_issued_at(rules, iat, now)
}

/// `exp` after `now - skew`.
pub(super) fn check_expiry(rules: &ClaimRules, exp: f64, now: f64) -> Result<(), AuthRejection> {
    if exp <= now - rules.clock_skew.as_secs_f64() {
        return Err(AuthRejection::new(Reason::TokenExpired));
    }
    Ok(())
}

/// `nbf`, when present, not after `now + skew`.
pub(super) fn check_not_before(
    rules: &ClaimRules,
    nbf: Option<f64>,
    now: f64,
) -> Result<(), AuthRejection> {
    if nbf.is_some_and(|nbf| nbf > now + rules.clock_skew.as_secs_f64()) {
        return Err(AuthRejection::new(Reason::TokenNotActiveYet));
    }
    Ok(())
}

/// `iat`, when present, not after `now + skew`.
pub(super) fn check_issued_at(
    rules: &ClaimRules,
    iat: Option<f64>,
    now: f64,
) -> Result<(), AuthRejection> {
    if iat.is_some_and(|iat| iat > now + rules.clock_skew.as_secs_f64()) {
        return Err(AuthRejection::new(Reason::TokenIatInTheFuture));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rules(skew: u64) -> ClaimRules {
        ClaimRules {
            issuer: None,
            audience: Vec::new(),
            authorized_parties: Vec::new(),
            clock_skew: Duration::from_secs(skew),
            accept_pending_sessions: false,
        }
    }

    #[test]
    fn the_window_is_open_by_the_skew_on_each_side() {
        let reason = |skew, exp, nbf, iat| {
            check_times(&rules(skew), exp, nbf, iat, 1000.0).map_err(|r| r.reason())
        };
        assert_eq!(reason(5, 1001.0, None, None), Ok(()));
        assert_eq!(reason(5, 996.0, None, None), Ok(()));
        assert_eq!(reason(5, 995.0, None, None), Err(Reason::TokenExpired));
        assert_eq!(reason(0, 1000.0, None, None), Err(Reason::TokenExpired));
        assert_eq!(reason(5, 2000.0, Some(1005.0), None), Ok(()));
        assert_eq!(
            reason(5, 2000.0, Some(1005.5), None),
            Err(Reason::TokenNotActiveYet)
        );
        assert_eq!(reason(5, 2000.0, None, Some(1005.0)), Ok(()));
        assert_eq!(
            reason(0, 2000.0, None, Some(1000.5)),
            Err(Reason::TokenIatInTheFuture)
        );
        // Expiry is told first.
        assert_eq!(
            reason(0, 10.0, Some(5000.0), Some(5000.0)),
            Err(Reason::TokenExpired)
        );
    }
}

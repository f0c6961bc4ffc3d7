//! Fault injection: the next `times` calls of an API answer an error code,
//! stall, or both — for tests of "WeChat is down / the quota is used up →
//! a clear message → retrying works".

use std::{collections::HashMap, time::Duration};

use serde::{Deserialize, Serialize};

/// The APIs a fault can be set on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultyApi {
    /// `cgi-bin/token` and `cgi-bin/stable_token`.
    Token,
    /// `cgi-bin/qrcode/create`.
    QrcodeCreate,
}

/// Longest stall accepted: enough to outlast any client timeout.
const MAX_DELAY_MS: u64 = 60_000;
const MAX_TIMES: u32 = 10_000;

/// `POST /phone/api/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    pub api: FaultyApi,
    #[serde(default)]
    pub errcode: Option<i64>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// How many calls it hits; 1 when absent.
    #[serde(default)]
    pub times: Option<u32>,
}

/// What one call must suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// Answer this WeChat error code instead of doing the work.
    pub errcode: Option<i64>,
    /// Wait this long first.
    pub delay_ms: u64,
}

impl Fault {
    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms)
    }
}

/// A fault and how many calls it still hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ArmedFault {
    pub api: FaultyApi,
    #[serde(flatten)]
    pub fault: Fault,
    pub remaining: u32,
}

#[derive(Debug, Default)]
pub struct Faults(HashMap<FaultyApi, ArmedFault>);

impl Faults {
    /// Arms a fault, replacing any earlier one on the same API. Returns why
    /// the request makes no sense, if it does not.
    pub fn arm(&mut self, request: FaultRequest) -> Result<ArmedFault, &'static str> {
        let times = request.times.unwrap_or(1);
        if !(1..=MAX_TIMES).contains(&times) {
            return Err("times must be 1 to 10000");
        }
        if request.errcode == Some(0) {
            return Err("errcode 0 means success: leave it out to inject only a delay");
        }
        let delay_ms = request.delay_ms.unwrap_or(0);
        if delay_ms > MAX_DELAY_MS {
            return Err("delay_ms must be at most 60000");
        }
        if request.errcode.is_none() && delay_ms == 0 {
            return Err("give an errcode, a delay_ms, or both");
        }
        let armed = ArmedFault {
            api: request.api,
            fault: Fault {
                errcode: request.errcode,
                delay_ms,
            },
            remaining: times,
        };
        self.0.insert(request.api, armed);
        Ok(armed)
    }

    /// The fault this call of `api` must suffer, counting it down.
    pub fn take(&mut self, api: FaultyApi) -> Option<Fault> {
        let armed = self.0.get_mut(&api)?;
        let fault = armed.fault;
        armed.remaining = armed.remaining.saturating_sub(1);
        if armed.remaining == 0 {
            self.0.remove(&api);
        }
        Some(fault)
    }

    pub fn list(&self) -> Vec<ArmedFault> {
        let mut all: Vec<_> = self.0.values().copied().collect();
        all.sort_by_key(|armed| armed.api == FaultyApi::QrcodeCreate);
        all
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        api: FaultyApi,
        errcode: Option<i64>,
        delay_ms: Option<u64>,
        times: Option<u32>,
    ) -> FaultRequest {
        FaultRequest {
            api,
            errcode,
            delay_ms,
            times,
        }
    }

    #[test]
    fn a_fault_counts_down_then_disappears() {
        let mut faults = Faults::default();
        faults
            .arm(request(FaultyApi::QrcodeCreate, Some(45009), None, Some(2)))
            .unwrap();
        assert_eq!(faults.take(FaultyApi::Token), None);
        let expected = Fault {
            errcode: Some(45009),
            delay_ms: 0,
        };
        assert_eq!(faults.take(FaultyApi::QrcodeCreate), Some(expected));
        assert_eq!(faults.list()[0].remaining, 1);
        assert_eq!(faults.take(FaultyApi::QrcodeCreate), Some(expected));
        assert_eq!(faults.take(FaultyApi::QrcodeCreate), None);
        assert!(faults.list().is_empty());
    }

    #[test]
    fn once_by_default_and_replaced_by_a_new_one() {
        let mut faults = Faults::default();
        faults
            .arm(request(FaultyApi::Token, Some(-1), None, Some(5)))
            .unwrap();
        faults
            .arm(request(FaultyApi::Token, None, Some(6000), None))
            .unwrap();
        let fault = faults.take(FaultyApi::Token).unwrap();
        assert_eq!(fault.errcode, None);
        assert_eq!(fault.delay(), Duration::from_secs(6));
        assert_eq!(faults.take(FaultyApi::Token), None);
    }

    #[test]
    fn nonsense_is_refused_and_clear_forgets_all() {
        let mut faults = Faults::default();
        for bad in [
            request(FaultyApi::Token, None, None, None),
            request(FaultyApi::Token, Some(0), None, None),
            request(FaultyApi::Token, Some(45009), None, Some(0)),
            request(FaultyApi::Token, None, Some(MAX_DELAY_MS + 1), None),
        ] {
            assert!(faults.arm(bad).is_err());
        }
        faults
            .arm(request(FaultyApi::Token, Some(45009), None, None))
            .unwrap();
        faults.clear();
        assert_eq!(faults.take(FaultyApi::Token), None);
    }

    #[test]
    fn requests_use_wechat_api_names() {
        let parsed: FaultRequest =
            serde_json::from_str(r#"{"api":"qrcode_create","errcode":45009,"times":1}"#).unwrap();
        assert_eq!(
            parsed,
            request(FaultyApi::QrcodeCreate, Some(45009), None, Some(1))
        );
        assert!(serde_json::from_str::<FaultRequest>(r#"{"api":"menu","errcode":1}"#).is_err());
        assert!(serde_json::from_str::<FaultRequest>(r#"{"api":"token","errcod":1}"#).is_err());
    }
}

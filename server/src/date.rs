//! The `Date` header for the wasi:http handler (the hyper server lets hyper add its own), formatted
//! at most once a second per thread: TechEmpower requires it to change each second.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::header::HeaderValue;

thread_local! {
    static CACHE: RefCell<(u64, HeaderValue)> = const { RefCell::new((u64::MAX, HeaderValue::from_static(""))) };
}

pub fn now() -> HeaderValue {
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second {
            let formatted = httpdate::fmt_http_date(now);
            cache.1 = HeaderValue::from_str(&formatted).expect("HTTP dates are ASCII");
            cache.0 = second;
        }
        cache.1.clone()
    })
}

//! The VirusTotal wire types on any bytes an API (or something pretending
//! to be one) may send: never panics; a report read from an envelope reads
//! again, equal, from the JSON it keeps; an error envelope, a collection
//! and an analysis parse or fail cleanly; the one detection rule runs on
//! whatever stats a report carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vt_model::{Collection, DataEnvelope, ErrorEnvelope, Object, Report};

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = Report::from_body(data) {
        let again = Report::from_cached(report.json())
            .expect("a report reads again from the JSON it keeps");
        assert!(again == report);
        // The bare object, as older caches kept it: read, never a panic.
        let _ = Report::from_cached(report.object_json().get());
        let _ = serde_json::to_string(&report);
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a date");
        let assessment = verdict::assess(&report, &verdict::VerdictConfig::default(), now);
        let indicator = ioc::Indicator::parse("example.com").expect("an indicator");
        let record = verdict::Record::from_report(&indicator, "example.com", &report, &assessment, false);
        let _ = serde_json::to_string(&record);
    }
    let _ = serde_json::from_slice::<ErrorEnvelope>(data);
    let _ = serde_json::from_slice::<Collection<Object>>(data);
    let _ = serde_json::from_slice::<DataEnvelope<Object<vt_model::AnalysisAttributes>>>(data);
});

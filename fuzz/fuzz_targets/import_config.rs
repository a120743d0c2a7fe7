//! `vtc collect --import-config`: any bytes as a connector.conf. Never a
//! panic; whatever is imported reads back as vtc's `[collect]` table.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = collect::parse_ini(text);
    if let Ok(imported) = collect::import_connector_config(text) {
        let table: toml::Table = toml::from_str(&imported.toml).expect("the written TOML parses");
        let collect = table.get("collect").and_then(|c| c.as_table());
        collect::CollectConfig::from_table(collect).expect("the written table is valid");
    }
});

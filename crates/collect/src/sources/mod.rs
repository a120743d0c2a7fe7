//! Where binaries come from: folders ([`folder`]), hash lists
//! ([`hash_list`]) and the Carbon Black EDR server ([`carbonblack`]). Each
//! turns what it finds into [`store::Sighting`]s and hands them to the
//! store with its checkpoint in one transaction.

pub mod carbonblack;
pub mod folder;
pub mod hash_list;

/// This machine's name, for the sightings of local files.
pub fn local_host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}
